#!/usr/bin/env bash
# End-to-end benchmark: the built distribution and the Python sync worker of StackOne's guide
# against the bundled fake StackOne API, every scenario RUNS times, then the median of every figure.
#
#   scripts/bench-e2e.sh                                   # backfill, busy, catchup, faults: short sizes, 3 runs each
#   RUNS=5 SCENARIOS="backfill" scripts/bench-e2e.sh -backlog 200000
#   SCENARIOS=busy scripts/bench-e2e.sh -duration 8m
#   SCENARIOS=catchup scripts/bench-e2e.sh -receiver-yaml 'catch_up: {concurrency: 4}'
#   SCENARIOS="catchup-repeat catchup-actions" scripts/bench-e2e.sh   # duplicates and gaps in catch-up
#   SCENARIOS=busy scripts/bench-e2e.sh -duration 8m -harsh-exporter
#   SCENARIOS="cpu cpu-defaults" scripts/bench-e2e.sh
#
# Env: RUNS (3), SCENARIOS ("backfill busy catchup faults"; also catchup-repeat, catchup-actions, cpu,
#      cpu-defaults, custom), OTELCOL_STACKONE_BIN (_build/otelcol-stackone),
#      PYTHON (python3), BENCH_OUT (directory for the raw results, default _build/bench-e2e).
# Arguments are passed to every run of cmd/stackone-bench (see `go run ./cmd/stackone-bench -h`).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

runs="${RUNS:-3}"
scenarios="${SCENARIOS:-backfill busy catchup faults}"
bin="${OTELCOL_STACKONE_BIN:-$root/_build/otelcol-stackone}"
python="${PYTHON:-python3}"
out_dir="${BENCH_OUT:-$root/_build/bench-e2e}"

if [[ ! -x "$bin" ]]; then
	echo "bench-e2e: $bin is missing; building it with 'make build' (a cold build takes a few minutes)" >&2
	make build
fi
if ! command -v "$python" >/dev/null 2>&1; then
	echo "bench-e2e: $python not found: the Python baseline needs Python 3 (standard library only)" >&2
	exit 2
fi
mkdir -p "$out_dir"
driver="$out_dir/stackone-bench"
go build -o "$driver" ./cmd/stackone-bench

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
results="$out_dir/results-$stamp.jsonl"
log="$out_dir/runs-$stamp.txt"
: >"$results"
failed=0
started=$SECONDS
for scenario in $scenarios; do
	for ((i = 1; i <= runs; i++)); do
		echo "bench-e2e: $scenario, run $i of $runs" >&2
		run_out="$out_dir/run-$stamp.tmp"
		if ! "$driver" -scenario "$scenario" -bin "$bin" -python "$python" -seed "$i" "$@" >"$run_out"; then
			echo "bench-e2e: $scenario run $i failed (its figures, if any, still count)" >&2
			failed=1
		fi
		grep -v '^BENCH_JSON ' "$run_out" | tee -a "$log" || true
		grep '^BENCH_JSON ' "$run_out" >>"$results" || true
		rm -f "$run_out"
	done
done
echo
echo "bench-e2e: $runs run(s) per scenario in $((SECONDS - started)) s; raw results: $results, tables: $log"
"$driver" summarize "$results" | tee "$out_dir/summary-$stamp.txt"
exit "$failed"
