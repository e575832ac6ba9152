#!/usr/bin/env bash
# Run every test of sio-workers: unit and end-to-end tests of all four
# packages (tox env "py"), ruff (tox env "lint") and the Sphinx docs built
# with warnings as errors (tox env "docs"). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/services.sh
exec .venv/bin/tox run -e py,lint,docs -- "$@"
