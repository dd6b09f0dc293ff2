#!/usr/bin/env bash
# One entry point that sets everything up (idempotent) and then runs a job:
#   bash run.sh lab    JupyterLab on notebooks/            (the main job)
#   bash run.sh demo   the terminal demo: the paper's tables on the demo study
#   bash run.sh test   the whole test suite (what CI runs)
# Needs only python3 (3.10+). Creates .venv/ beside this file on first use.
set -euo pipefail
cd "$(dirname "$0")"
job="${1:-lab}"; shift || true

PY="${PYTHON:-python3}"
VENV=.venv
# Reinstall only when the dependency list changed (cheap second runs).
stamp_src="$(cat pyproject.toml run.sh | sha256sum | cut -c1-16)"
if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating $VENV"
  "$PY" -m venv "$VENV"
fi
if [ "$(cat "$VENV/.simkit-stamp" 2>/dev/null)" != "$stamp_src" ]; then
  echo "== installing simkit and its dependencies into $VENV (first run takes a few minutes)"
  pip_install() {  # quiet, but keep real errors (drop notes about absent local mirrors)
    "$VENV/bin/python" -m pip install -q "$@" 2>&1 | { grep -v -e "^WARNING: Location" -e "^  " || true; }
  }
  pip_install --upgrade pip
  # torch + torchvision first: on CPU-only machines set PIP_INDEX_URL to PyTorch's CPU
  # index to avoid the large CUDA build.
  pip_install torch torchvision
  pip_install -e ".[dev]"
  echo "$stamp_src" > "$VENV/.simkit-stamp"
fi
export PATH="$PWD/$VENV/bin:$PATH"
# numba (umap) compiles on first use: keep its cache between runs.
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$PWD/.cache/numba}"
export SIMKIT_CACHE="${SIMKIT_CACHE:-$PWD/.cache/simkit}"
export MPLBACKEND=Agg

case "$job" in
  lab)
    root_flag=(); [ "$(id -u)" = 0 ] && root_flag=(--allow-root)  # containers often run as root
    exec jupyter lab --notebook-dir=notebooks "${root_flag[@]}" "$@" ;;
  demo)
    exec simkit demo --out demo-study "$@" ;;
  test)
    # The browser test needs Debian's chromium; install it when we can (root, apt).
    if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "== installing chromium for the browser test"
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "   (chromium could not be installed: the browser test will skip)"
    fi
    exec python -m pytest "$@" ;;
  *)
    echo "usage: bash run.sh [lab|demo|test] [args...]" >&2; exit 2 ;;
esac
