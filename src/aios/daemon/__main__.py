"""``python -m aios.daemon``: the same as ``aios-runtime``."""

import sys

from aios.daemon import main

sys.exit(main())
