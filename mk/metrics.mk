# The metrics chain of config.metrics.yaml: the alert rules' promtool checks and unit tests, then the
# end-to-end test logs -> signal_to_metrics -> Prometheus -> the guide's queries -> Alertmanager (e2e/metrics).
# Included by the root Makefile, which defines ROOT; DIST_BIN comes from mk/dist.mk.
# Prometheus, promtool and Alertmanager are Debian's prometheus and prometheus-alertmanager packages, installed
# here when missing and possible (root with apt-get); otherwise the checks and the test skip with a message.

ALERT_RULES := deploy/prometheus/stackone-alerts.yaml

.PHONY: test-metrics metrics-tools metrics-rules

## metrics-tools: install Prometheus and Alertmanager (Debian packages) when they are missing and apt-get can
metrics-tools:
	@if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 && \
	   { command -v prometheus-alertmanager >/dev/null 2>&1 || command -v alertmanager >/dev/null 2>&1; }; then \
		echo "metrics: $$(prometheus --version 2>&1 | head -1)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "metrics: installing Debian's prometheus and prometheus-alertmanager"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager; } \
			|| echo "metrics: the install failed: the promtool checks and the metrics test will skip"; \
	else \
		echo "metrics: prometheus/alertmanager are missing and cannot be installed here (needs root and apt-get):"; \
		echo "metrics: the promtool checks and the metrics test will skip"; \
	fi

## metrics-rules: promtool check and unit tests of the alert rules, and a check of the Prometheus config
metrics-rules: metrics-tools
	@if command -v promtool >/dev/null 2>&1; then \
		set -e; \
		promtool check rules $(ALERT_RULES); \
		promtool test rules deploy/prometheus/stackone-alerts.test.yaml; \
		promtool check config deploy/prometheus/prometheus.yaml; \
	else \
		echo "metrics: promtool not found, skipping the rule checks"; \
	fi

## test-metrics: metrics-rules, then the metrics chain against real servers (`make test` runs both, the chain in
##   test-e2e-all)
test-metrics: $(DIST_BIN) metrics-rules
	OTELCOL_STACKONE_BIN=$(DIST_BIN) go test -count=1 -v -timeout 5m ./e2e/metrics/
