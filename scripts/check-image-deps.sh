#!/usr/bin/env bash
# The Dockerfile's builder stage without Docker: installs requirements.lock (hash-checked, no
# other dependency) and the project into a throwaway virtualenv, then imports the images'
# entry points. A runtime dependency missing from pyproject.toml (and so from the lock) fails
# here, as it would fail the image build. Needs the package index; about ten seconds.
#
# Usage: scripts/check-image-deps.sh [UV]   (UV defaults to .venv/bin/uv)
set -euo pipefail
cd "$(dirname "$0")/.."

uv="${1:-.venv/bin/uv}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never

"$uv" venv --quiet "$work/venv" --python python3.11
"$uv" pip install --quiet --python "$work/venv/bin/python" --require-hashes --no-deps \
  -r requirements.lock
"$uv" pip install --quiet --python "$work/venv/bin/python" --no-deps .
"$work/venv/bin/python" -c "import greenlight.main, greenlight_api.main, greenlight_sample.main"
"$work/venv/bin/kopf" --version
"$work/venv/bin/uvicorn" --version
echo "check-image-deps: the locked dependencies run the images' entry points"
