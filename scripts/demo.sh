#!/usr/bin/env bash
# Demo: the bundled fake StackOne API (cmd/stackone-fake) with an hour of backfill and live traffic, and the
# collector reading it with config.demo.yaml, printing every log record (debug exporter). The fake also posts
# a few signed webhook events (account.created, account.error, ...) to the collector's webhook endpoint, and
# one of them twice. Ctrl-C stops both.
#
# Env: DEMO_LISTEN (127.0.0.1:8089), DEMO_BACKFILL (500), DEMO_RATE (2 live entries/s), DEMO_FAULT_RATE (0),
#      DEMO_WEBHOOK_LISTEN (127.0.0.1:8090), DEMO_WEBHOOK_EVENTS (7; 0 = none),
#      STACKONE_FAKE_API_KEY (demo-key; config.demo.yaml sends demo-key, so change both or neither),
#      STACKONE_DEMO_WEBHOOK_SECRET (demo-webhook-secret: the fake signs with it, the collector verifies it).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

listen="${DEMO_LISTEN:-127.0.0.1:8089}"
webhook_listen="${DEMO_WEBHOOK_LISTEN:-127.0.0.1:8090}"
export STACKONE_DEMO_WEBHOOK_SECRET="${STACKONE_DEMO_WEBHOOK_SECRET:-demo-webhook-secret}"
collector="$root/_build/otelcol-stackone"
fake="$root/bin/stackone-fake"

if [[ ! -x "$collector" ]]; then
	echo "demo: $collector is missing; building it with 'make build' (a cold build takes a few minutes)" >&2
	make build
fi
echo "demo: building the fake StackOne API into bin/"
go build -o "$fake" ./cmd/stackone-fake

mkdir -p .demo-storage

fake_pid=""
col_pid=""
cleanup() {
	trap - EXIT INT TERM
	for pid in $col_pid $fake_pid; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in $col_pid $fake_pid; do
		wait "$pid" 2>/dev/null || true
	done
	echo "demo: stopped (the position is kept in .demo-storage; delete it to replay the backfill)"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The fake retries a webhook event until the collector's endpoint is up, as StackOne re-delivers.
STACKONE_FAKE_WEBHOOK_SECRET="$STACKONE_DEMO_WEBHOOK_SECRET" "$fake" -listen "$listen" -backfill "${DEMO_BACKFILL:-500}" -backfill-window 1h \
	-rate "${DEMO_RATE:-2}" -fault-rate "${DEMO_FAULT_RATE:-0}" \
	-webhook-url "http://$webhook_listen/stackone/webhooks" -webhook-events "${DEMO_WEBHOOK_EVENTS:-7}" \
	2> >(sed 's/^/[fake] /' >&2) &
fake_pid=$!

# Wait (bounded) until the fake accepts connections before starting the collector.
for _ in $(seq 1 50); do
	if (exec 3<>"/dev/tcp/${listen%:*}/${listen##*:}") 2>/dev/null; then
		break
	fi
	if ! kill -0 "$fake_pid" 2>/dev/null; then
		echo "demo: the fake API exited; is $listen already in use?" >&2
		exit 1
	fi
	sleep 0.1
done

STACKONE_DEMO_ENDPOINT="http://$listen" STACKONE_DEMO_WEBHOOK_ENDPOINT="$webhook_listen" "$collector" --config config.demo.yaml &
col_pid=$!

echo "demo: fake API on http://$listen (pid $fake_pid), collector pid $col_pid, webhooks on http://$webhook_listen/stackone/webhooks; Ctrl-C to stop"
# Return as soon as either process exits; the EXIT trap stops the other one.
wait -n "$fake_pid" "$col_pid"
