#!/usr/bin/env bash
# Set everything up (Debian packages, .venv) and run the judging demo on the
# embedded default broker: no RabbitMQ or Redis needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if [ -f scripts/demo.py ]; then
  exec .venv/bin/python scripts/demo.py "$@"
fi
environ='{"job_type": "ping", "ping": "hello from sio-workers"}' exec .venv/bin/sio-batch
