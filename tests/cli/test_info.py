"""``aios info`` and ``aios status`` for people: every field has a readable value, never ``None``."""

from __future__ import annotations

import re

import pytest

from harness import Env

PYTHON_WORDS = re.compile(r"\b(None|True|False|null)\b")


def _check_human(text: str) -> None:
    assert text.strip()
    for line in text.splitlines():
        assert not PYTHON_WORDS.search(line), line
        if line.startswith(" "):  # a field of a section: a key, then a value
            assert len(line.split(None, 1)) == 2, f"field without a value: {line!r}"


@pytest.mark.parametrize(
    "config",
    [
        "",  # the embedded model: no base_url; a usable sandbox: no reason, no fix
        '[llm]\ndefault_provider = "remote"\n[llm.providers.remote]\nkind = "openai"\n'
        'base_url = "http://127.0.0.1:9/v1"\nmodel = "m"\n[sandbox]\nhidden_paths = []\n',
    ],
)
def test_info_and_status_never_print_none(env: Env, config: str) -> None:
    env.write_config(config)
    daemon = env.start_daemon()
    try:
        data = env.cli_json("info")
        assert any(v is None for section in ("sandbox", "provider") for v in data[section].values())  # the case at hand
        for command in ("info", "status"):
            proc = env.cli(command)
            assert proc.returncode == 0, proc.stderr
            _check_human(proc.stdout)
    finally:
        daemon.kill()
