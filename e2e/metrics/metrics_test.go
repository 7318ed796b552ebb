// Package metrics runs the logs-to-metrics-to-alerts chain with real servers: the built otelcol-stackone
// distribution on the shipped config.metrics.yaml reads a known mix of logs from the in-process fake StackOne
// API, derives the guide's metrics, and a real Prometheus scrapes them (plus the collector's own telemetry),
// evaluates the shipped alert rules and sends the alerts to a real Alertmanager, which notifies a webhook in
// this test.
//
// It needs the binary (OTELCOL_STACKONE_BIN, set by `make test-metrics` / `make test`) and Prometheus and
// Alertmanager (Debian's prometheus and prometheus-alertmanager packages, which `make test-metrics` installs
// when it can, or PROMETHEUS_BIN / ALERTMANAGER_BIN). Without them it skips and says why.
package metrics

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.yaml.in/yaml/v3"

	"github.com/stackone-otel/otelcol-stackone/e2e/internal/e2etest"
	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
)

const (
	apiKey = "metrics-e2e-key"
	// ruleFor replaces every `for:` of the shipped rules in the test's copy: the rules' expressions and
	// thresholds are the shipped ones, only the time a condition must hold is shortened (promtool's unit tests
	// check the real durations).
	ruleFor = "3s"
	// scrapeEvery is Prometheus' scrape and rule evaluation interval in the test.
	scrapeEvery = "1s"

	pollEvery    = 200 * time.Millisecond
	readyTimeout = 30 * time.Second
	dataTimeout  = 60 * time.Second
	alertTimeout = 60 * time.Second
	// relTolerance bounds the guide's error ratio against the injected one. rate() extrapolates each series
	// to the window's edges by an amount that depends on the series' first value, so ratios of series that
	// started together still differ from the truth by a few percent in a run of seconds.
	relTolerance = 0.10
)

// latencyBuckets must equal the histogram buckets of stackone.request_duration in config.metrics.yaml; the
// test reads them from the file and fails if they differ.
var latencyBuckets []float64

// provider is one slice of the known mix.
type provider struct {
	name, service, account string
	requests, errors       int
}

// The mix: workday fails 20 % of its requests, the others 1 %. Overall 81 of 2400 (3.4 %), under the guide's
// 5 %: only the provider alert may fire.
var mix = []provider{
	{"workday", "hris", "acc_workday_0001", 300, 60},
	{"bamboohr", "hris", "acc_bamboohr_0001", 700, 7},
	{"greenhouse", "ats", "acc_greenhouse_0001", 700, 7},
	{"hubspot", "crm", "acc_hubspot_0001", 700, 7},
}

// errorStatuses alternate over a provider's failing requests; every request that does not fail is a 200.
var errorStatuses = []int{500, 404}

// The action logs: two actions, each run at every one of Defender's risk levels; the high and critical runs
// must fire StackOneActionRiskHigh for both actions.
var actions = []struct{ connector, action string }{
	{"workday", "workday_list_employees"},
	{"greenhouse", "greenhouse_create_candidate"},
}
var riskLevels = []struct {
	level          string
	share          int // runs per 100
	minScore, span float64
}{
	{"low", 80, 0.0, 0.3},
	{"medium", 15, 0.3, 0.4},
	{"high", 4, 0.7, 0.2},
	{"critical", 1, 0.9, 0.1},
}

const actionRunsPerAction = 100

func TestMetricsChain(t *testing.T) {
	bin := e2etest.CollectorBinary(t, "test-metrics", "./e2e/metrics/")
	promBin := tool(t, "PROMETHEUS_BIN", "prometheus")
	amBin := tool(t, "ALERTMANAGER_BIN", "prometheus-alertmanager", "alertmanager")
	started := time.Now()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	shipped := readYAML(t, filepath.Join(root, "config.metrics.yaml"))
	latencyBuckets = shippedBuckets(t, shipped, "stackone.request_duration")

	// The fake API, with a failure of each kind the dashboard and the receiver rules watch for: a 503 and a
	// 429 (API errors, retries), a 401 on the step logs (key rejected) and 404s on the platform logs (stream
	// disabled). The test enables both of those streams; the shipped config leaves them off.
	fake := stackonefake.New(stackonefake.Options{APIKey: apiKey})
	fake.InjectFault(stackonefake.Fault{Path: "/requests/logs", Status: http.StatusServiceUnavailable})
	fake.InjectFault(stackonefake.Fault{Path: "/logs/actions", Status: http.StatusTooManyRequests, RetryAfter: "1"})
	// A key without access to step logs: every call, since the live read and the catch-up workers each stop
	// only on the answer they got themselves.
	fake.InjectFault(stackonefake.Fault{Path: "/requests/logs/steps", Status: http.StatusUnauthorized, Times: 1 << 20})
	// Every platform-logs call: the receiver disables a stream only after several polls in a row answer 404.
	fake.InjectFault(stackonefake.Fault{Path: "/requests/platform-logs", Status: http.StatusNotFound, Times: 1 << 20})
	api := httptest.NewServer(fake)
	t.Cleanup(api.Close)

	sink := newOTLPSink(t)
	hook := newWebhook(t)
	ports := freePorts(t, 5)
	promAddr, amAddr := addr(ports[0]), addr(ports[1])
	metricsAddr, telemetryPort, healthAddr := addr(ports[2]), ports[3], addr(ports[4])

	am := startAlertmanager(t, amBin, dir, amAddr, hook.URL)
	col := startCollector(t, bin, root, dir, api.URL, sink.URL, metricsAddr, telemetryPort, healthAddr)
	// Every stream starts initial_lookback (1h) behind. Prometheus starts once the healthy streams have caught
	// up, so the rules see neither a collector that is not there yet (StackOneReceiverAbsent) nor the lag of
	// a start (StackOneReceiverLagHigh): only the two streams the injected 401 and 404 stop stay behind.
	telemetryURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", telemetryPort)
	waitHTTP(t, col, telemetryURL)
	for _, stream := range []string{"request_logs", "action_logs"} {
		series := fmt.Sprintf("otelcol_receiver_stackone_lag{stream=%q}", stream)
		eventually(t, readyTimeout, series+" under a minute", []*process{col}, func() (bool, string) {
			v, err := scrapeValue(telemetryURL, series)
			if err != nil {
				return false, err.Error()
			}
			return v < 60, fmt.Sprintf("%g s", v)
		})
	}
	prom := startPrometheus(t, promBin, root, dir, promAddr, amAddr, metricsAddr, addr(telemetryPort))
	p := &promAPI{t: t, base: "http://" + promAddr, procs: []*process{col, prom, am}}

	// Wave 0: one request per provider and status (and one action per action and risk level), so every series
	// exists in Prometheus before the measured wave. rate() never counts a series' first sample.
	now := time.Now().UTC()
	var wave0 []map[string]any
	for _, pr := range mix {
		for i, status := range append([]int{200}, errorStatuses...) {
			wave0 = append(wave0, requestLog(pr, fmt.Sprintf("w0-%s-%d", pr.name, status), status, 100, now.Add(-30*time.Second+time.Duration(i)*time.Millisecond)))
		}
	}
	fake.AddRequestLogs(wave0...)
	var actions0 []map[string]any
	for _, a := range actions {
		for i, r := range riskLevels {
			actions0 = append(actions0, actionLog(fmt.Sprintf("w0-%s-%s", a.action, r.level), a.connector, a.action, r.level, r.minScore, 200, now.Add(-30*time.Second+time.Duration(i)*time.Millisecond)))
		}
	}
	fake.AddActionLogs(actions0...)
	statuses := 1 + len(errorStatuses)
	p.waitValue("count(stackone_requests_total)", float64(len(mix)*statuses))
	p.waitValue("count(stackone_request_duration_count)", float64(len(mix)*statuses))
	p.waitValue("count(stackone_account_requests_total)", float64(len(mix)*statuses))
	p.waitValue("count(stackone_action_runs_total)", float64(len(actions)*len(riskLevels)))
	p.waitValue("count(stackone_action_tier2_score_count)", float64(len(actions)))

	// The measured wave, newer than anything read so far.
	from := time.Now().UTC().Add(-20 * time.Second)
	reqs, durations := measuredRequests(from)
	fake.AddRequestLogs(reqs...)
	acts := measuredActions(from)
	fake.AddActionLogs(acts...)
	p.waitValue("sum(stackone_requests_total)", float64(len(wave0)+len(reqs)))
	p.waitValue("sum(stackone_action_runs_total)", float64(len(actions0)+len(acts)))
	t.Logf("%d request logs and %d action logs counted in Prometheus after %s", len(wave0)+len(reqs), len(actions0)+len(acts), time.Since(started).Round(time.Millisecond))

	// The logs still reach the OTLP exporter, whole, beside the metrics.
	wantLogs := len(wave0) + len(reqs) + len(actions0) + len(acts)
	eventually(t, dataTimeout, fmt.Sprintf("%d log records at the OTLP endpoint", wantLogs), []*process{col}, func() (bool, string) {
		n := sink.records()
		return n >= wantLogs, fmt.Sprintf("%d records", n)
	})

	checkGuideQueries(t, p, durations)
	checkDashboard(t, p, root)
	checkAlerts(t, p, am, hook)
	t.Logf("metrics chain checked in %s", time.Since(started).Round(time.Millisecond))
}

// checkGuideQueries: the guide's two queries, exactly as written, against the injected truth.
func checkGuideQueries(t *testing.T, p *promAPI, durations []float64) {
	t.Helper()
	const errorRatio = `sum(rate(stackone_requests_total{status_code=~"4..|5.."}[5m])) by (provider) / sum(rate(stackone_requests_total[5m])) by (provider)`
	const p95 = `histogram_quantile(0.95, sum(rate(stackone_request_duration_bucket[5m])) by (le))`

	want := map[string]float64{}
	for _, pr := range mix {
		want[pr.name] = float64(pr.errors) / float64(pr.requests)
	}
	var last map[string]float64
	eventually(t, dataTimeout, "the guide's error ratio per provider within 10 % of the injected mix", p.procs, func() (bool, string) {
		last = map[string]float64{}
		for _, s := range p.query(errorRatio) {
			last[s.Metric["provider"]] = s.value(t)
		}
		for name, w := range want {
			got, ok := last[name]
			if !ok || math.Abs(got-w) > relTolerance*w {
				return false, fmt.Sprintf("got %v, want %v", last, want)
			}
		}
		return len(last) == len(want), fmt.Sprintf("got %v, want %v", last, want)
	})
	for _, pr := range mix {
		t.Logf("guide query 1: provider=%s error ratio %.4f (injected %d/%d = %.4f)", pr.name, last[pr.name], pr.errors, pr.requests, want[pr.name])
	}

	sorted := slices.Clone(durations)
	sort.Float64s(sorted)
	truth := sorted[int(math.Ceil(0.95*float64(len(sorted))))-1]
	lo, hi := oneBucketAround(truth)
	res := p.query(p95)
	if len(res) != 1 {
		t.Fatalf("%s: %d series, want 1", p95, len(res))
	}
	got := res[0].value(t)
	t.Logf("guide query 2: P95 %.1f ms; truth %.0f ms (log-normal, median 300 ms, sigma 0.9, %d requests); one bucket either side: [%g, %g]", got, truth, len(sorted), lo, hi)
	if got < lo || got > hi {
		t.Errorf("P95 %.1f ms is not within one bucket of the true %.0f ms: want %g to %g", got, truth, lo, hi)
	}
}

// oneBucketAround returns the edges of the bucket holding v widened by one bucket on each side.
func oneBucketAround(v float64) (float64, float64) {
	edges := append([]float64{0}, latencyBuckets...)
	i := sort.SearchFloat64s(edges, v) // edges[i-1] < v <= edges[i]
	lo := edges[max(i-2, 0)]
	hi := math.Inf(1)
	if i+1 < len(edges) {
		hi = edges[i+1]
	}
	return lo, hi
}

// checkDashboard: every query of the shipped dashboard parses and returns data.
func checkDashboard(t *testing.T, p *promAPI, root string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "deploy", "grafana", "stackone-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("stackone-dashboard.json: %v", err)
	}
	n := 0
	for _, panel := range dash.Panels {
		for _, tg := range panel.Targets {
			n++
			var series []sample
			eventually(t, dataTimeout, fmt.Sprintf("panel %q returns data: %s", panel.Title, tg.Expr), p.procs, func() (bool, string) {
				series = p.query(tg.Expr)
				return len(series) > 0, "no series"
			})
			t.Logf("panel %q: %d series, e.g. %v", panel.Title, len(series), series[0])
		}
	}
	if n == 0 {
		t.Fatal("the dashboard has no queries")
	}
}

// checkAlerts: the provider rule fires for the failing provider only and reaches Alertmanager and its
// webhook; the receiver rules fire for the streams the injected failures stopped, and only for them; the rest
// stay quiet.
func checkAlerts(t *testing.T, p *promAPI, am *process, hook *webhook) {
	t.Helper()
	wantFiring := map[string][]string{ // alertname -> the value of its distinguishing label, one per alert
		"StackOneProviderErrorRateHigh": {"workday"},
		// Both stopped streams stay at their start, initial_lookback (1h) behind.
		"StackOneReceiverLagHigh": {"platform_logs", "step_logs"},
		"StackOneAPIKeyRejected":  {"step_logs"},
		"StackOneStreamDisabled":  {"platform_logs"},
		// One alert per action and level: every action ran at high and at critical risk.
		"StackOneActionRiskHigh": {
			"greenhouse_create_candidate/critical", "greenhouse_create_candidate/high",
			"workday_list_employees/critical", "workday_list_employees/high",
		},
	}
	key := func(l map[string]string) string {
		if v, ok := l["provider"]; ok {
			return v
		}
		if v, ok := l["action_id"]; ok {
			return v + "/" + l["risk_level"]
		}
		return l["stream"]
	}
	amURL := "http://" + am.addr
	for name, want := range wantFiring {
		eventually(t, alertTimeout, fmt.Sprintf("Alertmanager holds %s for %v and the webhook got it", name, want), p.procs, func() (bool, string) {
			var alerts []struct {
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
				StartsAt    string            `json:"startsAt"`
				Status      struct {
					State string `json:"state"`
				} `json:"status"`
			}
			q := url.Values{"filter": {fmt.Sprintf("alertname=%q", name)}}
			if err := getJSON(amURL+"/api/v2/alerts?"+q.Encode(), &alerts); err != nil {
				return false, err.Error()
			}
			var got []string
			for _, a := range alerts {
				got = append(got, key(a.Labels))
			}
			sort.Strings(got)
			hooked := hook.keys(name, key)
			if !slices.Equal(got, want) || !slices.Equal(hooked, want) {
				return false, fmt.Sprintf("Alertmanager has %v, the webhook got %v", got, hooked)
			}
			for _, a := range alerts {
				t.Logf("Alertmanager: %s %v (%s since %s): %s", name, a.Labels, a.Status.State, a.StartsAt, a.Annotations["summary"])
				// A critical run pages; a high one is a warning.
				if risk, ok := a.Labels["risk_level"]; ok && (a.Labels["severity"] == "critical") != (risk == "critical") {
					t.Errorf("%s %v: severity %q for risk level %q", name, a.Labels, a.Labels["severity"], risk)
				}
			}
			return true, ""
		})
	}

	// After all of that, Prometheus' own view: the expected alerts fire, nothing else is even pending.
	var groups struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Name           string `json:"name"`
				Health         string `json:"health"`
				LastError      string `json:"lastError"`
				LastEvaluation string `json:"lastEvaluation"`
				Alerts         []struct {
					Labels map[string]string `json:"labels"`
					State  string            `json:"state"`
					Value  string            `json:"value"`
				} `json:"alerts"`
			} `json:"rules"`
		} `json:"groups"`
	}
	p.get("/api/v1/rules?type=alert", &groups)
	seen := 0
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			seen++
			if r.Health != "ok" {
				t.Errorf("rule %s: health %q: %s", r.Name, r.Health, r.LastError)
			}
			var got []string
			for _, a := range r.Alerts {
				if a.State != "firing" {
					t.Errorf("rule %s: alert %v is %s", r.Name, a.Labels, a.State)
				}
				got = append(got, key(a.Labels))
				t.Logf("Prometheus: %s %s %v value %s", r.Name, a.State, a.Labels, a.Value)
			}
			sort.Strings(got)
			if want := wantFiring[r.Name]; !slices.Equal(got, want) {
				t.Errorf("rule %s: alerts for %v, want %v", r.Name, got, want)
			}
		}
	}
	if seen != 9 {
		t.Errorf("Prometheus loaded %d alerting rules, want the 9 of stackone-alerts.yaml", seen)
	}
}

// measuredRequests builds the mix: for each provider its requests, failures spread evenly among them (so no
// stretch of the wave looks worse than the whole), latencies the quantiles of a log-normal distribution
// (median 300 ms, sigma 0.9) dealt out in a fixed random order. Event times interleave the providers.
func measuredRequests(from time.Time) ([]map[string]any, []float64) {
	total := 0
	for _, pr := range mix {
		total += pr.requests
	}
	lat := make([]float64, total)
	for i := range lat {
		z := math.Sqrt2 * math.Erfinv(2*(float64(i)+0.5)/float64(total)-1)
		lat[i] = math.Round(300 * math.Exp(0.9*z))
	}
	rng := rand.New(rand.NewPCG(9, 9))
	rng.Shuffle(len(lat), func(i, j int) { lat[i], lat[j] = lat[j], lat[i] })

	type timed struct {
		at time.Time
		e  map[string]any
	}
	var all []timed
	span := 10 * time.Second
	k := 0
	for _, pr := range mix {
		every := pr.requests / pr.errors
		nerr := 0
		for i := range pr.requests {
			status := 200
			if i%every == every/2 && nerr < pr.errors {
				status = errorStatuses[nerr%len(errorStatuses)]
				nerr++
			}
			at := from.Add(time.Duration(float64(span) * (float64(i) + 0.5) / float64(pr.requests)))
			all = append(all, timed{at, requestLog(pr, fmt.Sprintf("m-%s-%04d", pr.name, i), status, lat[k], at)})
			k++
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].at.Before(all[j].at) })
	out := make([]map[string]any, len(all))
	for i, x := range all {
		out[i] = x.e
	}
	return out, lat
}

func measuredActions(from time.Time) []map[string]any {
	var out []map[string]any
	n := 0
	for _, a := range actions {
		for _, r := range riskLevels {
			for i := range r.share * actionRunsPerAction / 100 {
				score := r.minScore + r.span*(float64(i)+0.5)/float64(r.share)
				out = append(out, actionLog(fmt.Sprintf("m-%s-%s-%03d", a.action, r.level, i), a.connector, a.action, r.level, score, 200, from.Add(time.Duration(n)*time.Millisecond)))
				n++
			}
		}
	}
	return out
}

func requestLog(pr provider, id string, status int, durationMs float64, at time.Time) map[string]any {
	path := "/unified/" + pr.service + "/employees"
	return map[string]any{
		"request_id":     id,
		"account_id":     pr.account,
		"provider":       pr.name,
		"service":        pr.service,
		"resource":       "employees",
		"action":         "list",
		"http_method":    "GET",
		"path":           path,
		"url":            "https://api.stackone.com" + path,
		"status":         status,
		"success":        status < 400,
		"duration":       durationMs,
		"event_datetime": at.Format(time.RFC3339Nano),
	}
}

func actionLog(id, connector, action, risk string, score float64, status int, at time.Time) map[string]any {
	return map[string]any{
		"log_id":        id,
		"log_type":      "action",
		"action_run_id": "run-" + id,
		"event_time":    at.Format(time.RFC3339Nano),
		"duration_ms":   120,
		"status_code":   status,
		"success":       status < 400,
		"http_method":   "GET",
		"account_id":    "acc_" + connector + "_0001",
		"connector_key": connector,
		"action_id":     action,
		"mode":          "mcp",
		"risk_level":    risk,
		"tier2_score":   math.Round(score*1000) / 1000,
	}
}

// ---- processes ----

type process struct {
	name string
	addr string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func start(t *testing.T, dir, name, bin string, env []string, args ...string) *process {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s (%s): %v", name, bin, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-p.done
			}
		}
		if t.Failed() {
			p.dump(t)
		}
	})
	return p
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) dump(t *testing.T) {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return
	}
	if len(b) > 12<<10 {
		b = append([]byte("...\n"), b[len(b)-12<<10:]...)
	}
	t.Logf("%s output (%s):\n%s", p.name, p.log, b)
}

func startAlertmanager(t *testing.T, bin, dir, listen, webhookURL string) *process {
	t.Helper()
	cfg := fmt.Sprintf(`route:
  receiver: test
  group_by: [alertname, provider, stream]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: test
    webhook_configs:
      - url: %q
        send_resolved: false
`, webhookURL)
	path := filepath.Join(dir, "alertmanager.yml")
	writeFile(t, path, cfg)
	p := start(t, dir, "alertmanager", bin, nil,
		"--config.file="+path,
		"--storage.path="+filepath.Join(dir, "alertmanager-data"),
		"--web.listen-address="+listen,
		// No clustering: it would listen on :9094 and wait for peers.
		"--cluster.listen-address=",
	)
	p.addr = listen
	waitHTTP(t, p, "http://"+listen+"/-/ready")
	return p
}

// startPrometheus runs Prometheus on the shipped deploy/prometheus/prometheus.yaml, with the targets, the
// Alertmanager and the intervals of this test, and the shipped rules with `for:` shortened.
func startPrometheus(t *testing.T, bin, root, dir, listen, amAddr, metricsAddr, telemetryAddr string) *process {
	t.Helper()
	rules := readYAML(t, filepath.Join(root, "deploy", "prometheus", "stackone-alerts.yaml"))
	for _, g := range asList(rules["groups"]) {
		for _, r := range asList(g["rules"]) {
			if _, ok := r["for"]; ok {
				r["for"] = ruleFor
			}
		}
	}
	rulesPath := filepath.Join(dir, "stackone-alerts.yaml")
	writeFile(t, rulesPath, string(marshal(t, rules)))

	cfg := readYAML(t, filepath.Join(root, "deploy", "prometheus", "prometheus.yaml"))
	cfg["global"] = map[string]any{"scrape_interval": scrapeEvery, "evaluation_interval": scrapeEvery}
	cfg["rule_files"] = []any{rulesPath}
	cfg["alerting"] = map[string]any{"alertmanagers": []any{map[string]any{"static_configs": []any{map[string]any{"targets": []any{amAddr}}}}}}
	targets := map[string]string{"stackone-logs-metrics": metricsAddr, "otelcol-stackone": telemetryAddr}
	jobs := asList(cfg["scrape_configs"])
	for _, job := range jobs {
		name, _ := job["job_name"].(string)
		target, ok := targets[name]
		if !ok {
			t.Fatalf("deploy/prometheus/prometheus.yaml: unexpected job %q", name)
		}
		job["static_configs"] = []any{map[string]any{"targets": []any{target}}}
		delete(targets, name)
	}
	if len(targets) > 0 {
		t.Fatalf("deploy/prometheus/prometheus.yaml does not scrape %v", targets)
	}
	path := filepath.Join(dir, "prometheus.yml")
	writeFile(t, path, string(marshal(t, cfg)))
	p := start(t, dir, "prometheus", bin, nil,
		"--config.file="+path,
		"--storage.tsdb.path="+filepath.Join(dir, "prometheus-data"),
		"--web.listen-address="+listen,
	)
	p.addr = listen
	waitHTTP(t, p, "http://"+listen+"/-/ready")
	return p
}

// startCollector runs the distribution on the shipped config.metrics.yaml, with a second --config that only
// points it at this test's fake, sink and ports (the collector merges the two).
func startCollector(t *testing.T, bin, root, dir, apiURL, sinkURL, metricsAddr string, telemetryPort int, healthAddr string) *process {
	t.Helper()
	overlay := fmt.Sprintf(`receivers:
  stackone:
    endpoint: %q
    poll_interval: 1s
    max_requests_per_minute: 1000
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 1s
    step_logs:
      enabled: true
    platform_logs:
      enabled: true
extensions:
  health_check:
    endpoint: %q
exporters:
  prometheus:
    endpoint: %q
service:
  telemetry:
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: %d
`, apiURL, healthAddr, metricsAddr, telemetryPort)
	path := filepath.Join(dir, "overlay.yaml")
	writeFile(t, path, overlay)
	return start(t, dir, "otelcol-stackone", bin, []string{
		"STACKONE_API_KEY=" + apiKey,
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + sinkURL,
		"STACKONE_STORAGE_DIR=" + filepath.Join(dir, "storage"),
		"STACKONE_METRICS_BY_ACCOUNT=true",
	}, "--config", filepath.Join(root, "config.metrics.yaml"), "--config", path)
}

// tool finds a server binary: the environment variable, else the first name on PATH.
func tool(t *testing.T, env string, names ...string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	t.Skipf("%s not found on PATH and %s is not set: this test runs real Prometheus and Alertmanager servers. Install Debian's prometheus and prometheus-alertmanager packages (`make test-metrics` does so when it runs as root with apt-get), or point PROMETHEUS_BIN and ALERTMANAGER_BIN at the binaries", strings.Join(names, " / "), env)
	return ""
}

// ---- Prometheus API ----

type promAPI struct {
	t     *testing.T
	base  string
	procs []*process
}

type sample struct {
	Metric map[string]string `json:"metric"`
	Value  []any             `json:"value"`
}

func (s sample) value(t *testing.T) float64 {
	t.Helper()
	if len(s.Value) != 2 {
		t.Fatalf("sample %v has no value", s)
	}
	str, _ := s.Value[1].(string)
	v, err := strconv.ParseFloat(str, 64)
	if err != nil {
		t.Fatalf("sample %v: %v", s, err)
	}
	return v
}

// query runs an instant query; a query Prometheus cannot parse or evaluate fails the test at once.
func (p *promAPI) query(q string) []sample {
	p.t.Helper()
	var resp struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string   `json:"resultType"`
			Result     []sample `json:"result"`
		} `json:"data"`
	}
	r, err := http.PostForm(p.base+"/api/v1/query", url.Values{"query": {q}})
	if err != nil {
		p.t.Fatalf("query %s: %v", q, err)
	}
	defer func() { _ = r.Body.Close() }()
	if err := json.NewDecoder(r.Body).Decode(&resp); err != nil {
		p.t.Fatalf("query %s: HTTP %d: %v", q, r.StatusCode, err)
	}
	if resp.Status != "success" {
		p.t.Fatalf("query %s: %s: %s", q, resp.ErrorType, resp.Error)
	}
	if resp.Data.ResultType != "vector" {
		p.t.Fatalf("query %s: result type %s, want vector", q, resp.Data.ResultType)
	}
	return resp.Data.Result
}

// waitValue polls a single-value query until it returns want.
func (p *promAPI) waitValue(q string, want float64) {
	p.t.Helper()
	eventually(p.t, dataTimeout, fmt.Sprintf("%s == %g", q, want), p.procs, func() (bool, string) {
		res := p.query(q)
		if len(res) != 1 {
			return false, fmt.Sprintf("%d series", len(res))
		}
		got := res[0].value(p.t)
		return got == want, fmt.Sprintf("got %g", got)
	})
}

func (p *promAPI) get(path string, v any) {
	p.t.Helper()
	if err := getJSON(p.base+path, &struct {
		Data any `json:"data"`
	}{v}); err != nil {
		p.t.Fatalf("GET %s: %v", path, err)
	}
}

func getJSON(u string, v any) error {
	r, err := http.Get(u)
	if err != nil {
		return err
	}
	defer func() { _ = r.Body.Close() }()
	if r.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(r.Body)
		return fmt.Errorf("HTTP %d: %s", r.StatusCode, b)
	}
	return json.NewDecoder(r.Body).Decode(v)
}

// eventually polls cond until it holds, failing at the deadline or as soon as one of procs has exited.
func eventually(t *testing.T, timeout time.Duration, what string, procs []*process, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		ok, state := cond()
		if ok {
			return
		}
		for _, p := range procs {
			if p.exited() {
				t.Fatalf("%s exited (%v) while waiting for %s (%s)", p.name, p.err, what, state)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %s", timeout, what, state)
		}
		<-tick.C
	}
}

func waitHTTP(t *testing.T, p *process, u string) {
	t.Helper()
	eventually(t, readyTimeout, p.name+" answers "+u, []*process{p}, func() (bool, string) {
		r, err := http.Get(u)
		if err != nil {
			return false, err.Error()
		}
		_ = r.Body.Close()
		return r.StatusCode == http.StatusOK, r.Status
	})
}

// scrapeValue reads one sample from a Prometheus text exposition, by its exact series name and labels.
func scrapeValue(u, series string) (float64, error) {
	r, err := http.Get(u)
	if err != nil {
		return 0, err
	}
	defer func() { _ = r.Body.Close() }()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("%s not exposed yet", series)
}

// ---- the test's own endpoints ----

// otlpSink accepts the collector's OTLP/HTTP logs and counts the records.
type otlpSink struct {
	*httptest.Server
	mu sync.Mutex
	n  int
}

func newOTLPSink(t *testing.T) *otlpSink {
	s := &otlpSink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req := plogotlp.NewExportRequest()
		if err := req.UnmarshalProto(b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.n += req.Logs().LogRecordCount()
		s.mu.Unlock()
		out, _ := plogotlp.NewExportResponse().MarshalProto()
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *otlpSink) records() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// webhook records what Alertmanager notifies.
type webhook struct {
	*httptest.Server
	mu     sync.Mutex
	alerts []map[string]string // labels of each alert notified as firing
}

func newWebhook(t *testing.T) *webhook {
	h := &webhook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msg struct {
			Alerts []struct {
				Status string            `json:"status"`
				Labels map[string]string `json:"labels"`
			} `json:"alerts"`
		}
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		for _, a := range msg.Alerts {
			if a.Status == "firing" {
				h.alerts = append(h.alerts, a.Labels)
			}
		}
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

// keys returns, sorted and without repeats, the key of every alert named name the webhook was notified of.
func (h *webhook) keys(name string, key func(map[string]string) string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, l := range h.alerts {
		if l["alertname"] == name && !slices.Contains(out, key(l)) {
			out = append(out, key(l))
		}
	}
	sort.Strings(out)
	return out
}

// ---- small helpers ----

// shippedBuckets reads the histogram buckets of one signal_to_metrics metric from the shipped config.
func shippedBuckets(t *testing.T, cfg map[string]any, metric string) []float64 {
	t.Helper()
	conn, _ := cfg["connectors"].(map[string]any)
	stm, _ := conn["signal_to_metrics"].(map[string]any)
	for _, m := range asList(stm["logs"]) {
		if m["name"] != metric {
			continue
		}
		h, _ := m["histogram"].(map[string]any)
		var out []float64
		for _, b := range h["buckets"].([]any) {
			switch v := b.(type) {
			case int:
				out = append(out, float64(v))
			case float64:
				out = append(out, v)
			}
		}
		return out
	}
	t.Fatalf("config.metrics.yaml has no signal_to_metrics histogram %s", metric)
	return nil
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		_ = l.Close()
	}
	return ports
}

func addr(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }

func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func asList(v any) []map[string]any {
	items, _ := v.([]any)
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}
