#!/usr/bin/env bash
# Start RabbitMQ (127.0.0.1:5672) and Redis (127.0.0.1:6379) if they are not
# answering, and wait until both do. Used by the test command.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! port_open 6379; then
  echo "services: starting redis-server"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
fi
if ! port_open 5672; then
  echo "services: starting rabbitmq-server"
  rabbitmq-server -detached >/dev/null 2>&1 || true
fi
for _ in $(seq 1 120); do
  if port_open 6379 && port_open 5672; then exit 0; fi
  sleep 1
done
echo "services: RabbitMQ or Redis did not come up" >&2
exit 1
