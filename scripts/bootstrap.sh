#!/usr/bin/env bash
# Set up a development/test machine for sio-workers, idempotently:
#   - the Debian packages in scripts/apt-packages.txt (when running as root),
#   - a virtual environment in .venv with all four packages installed editable
#     and the tools from requirements-dev.txt.
# Usage: bash scripts/bootstrap.sh   (prints the venv path at the end)
set -euo pipefail
cd "$(dirname "$0")/.."

want=$(grep -v '^\s*#' scripts/apt-packages.txt | awk 'NF{print $1}')
missing=()
for pkg in $want; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: missing Debian packages (install them as root): ${missing[*]}" >&2
    exit 1
  fi
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi
stamp=.venv/.sio-installed
inputs=$(cat requirements-dev.txt packages/*/pyproject.toml packages/sio-workers-core/setup.py 2>/dev/null | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$inputs" ]; then
  echo "bootstrap: installing Python packages into .venv"
  .venv/bin/python -m pip install -q -r requirements-dev.txt \
    -e packages/sio-workers-core -e packages/sio-exec \
    -e packages/sio-compile -e packages/sio-celery
  echo "$inputs" > "$stamp"
fi
echo "bootstrap: ready ($(pwd)/.venv)"
