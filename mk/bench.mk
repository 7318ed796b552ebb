# The end-to-end benchmark: the distribution against StackOne's Python sync worker (scripts/bench-e2e.sh,
# cmd/stackone-bench, scripts/bench/sync_worker.py).
# Included by the root Makefile; `build` (the distribution, rebuilt when stale) is defined in mk/dist.mk.

.PHONY: bench-e2e

## bench-e2e: the distribution and the Python sync worker against the bundled fake API, scenarios backfill, busy,
##   catchup and faults, RUNS times each (default 3), then medians; about 10 minutes. The presets
##   (catchup-repeat, catchup-actions, cpu, cpu-defaults) by SCENARIOS. Sizes: see docs/performance.md.
##   e.g. make bench-e2e RUNS=5 SCENARIOS=busy BENCH_ARGS="-duration 8m -harsh-exporter"
bench-e2e: build
	RUNS="$(RUNS)" SCENARIOS="$(SCENARIOS)" OTELCOL_STACKONE_BIN="$(DIST_BIN)" scripts/bench-e2e.sh $(BENCH_ARGS)
