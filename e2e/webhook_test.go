package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/stackone-otel/otelcol-stackone/e2e/internal/e2etest"
	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
)

const (
	webhookSecret     = "whsec_e2e_current_5f2c9a"
	webhookNextSecret = "whsec_e2e_next_81d4b0"
	webhookMaxBody    = 4096
)

// TestWebhookDeliveries runs the distribution with the webhook enabled and posts what StackOne and others
// could send: signed with the active and with the rotated secret, unsigned, signed with a wrong secret,
// replayed, oversized, malformed, with a ?token=. It checks each answer, the records the file exporter
// wrote, the receiver's counters on the collector's own Prometheus endpoint, and that no secret, signature
// or token reached the log or the export.
func TestWebhookDeliveries(t *testing.T) {
	bin := e2etest.CollectorBinary(t, "test-e2e", "./e2e/")
	dir := t.TempDir()
	api := httptest.NewServer(stackonefake.New(stackonefake.Options{APIKey: apiKey}))
	t.Cleanup(api.Close)
	hookAddr, metricsPort := freeAddr(t), freePort(t)
	outPath := filepath.Join(dir, "export.jsonl")
	cfgPath := filepath.Join(dir, "config.yaml")
	writeFile(t, cfgPath, webhookConfig(api.URL, hookAddr, outPath, metricsPort))
	col := startCollector(t, bin, cfgPath, filepath.Join(dir, "collector.log"))
	base := "http://" + hookAddr
	col.waitHTTP(base + "/stackone/webhooks/health")

	at := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	created := stackonefake.WebhookEvent("account.created", 1, at)
	failed := stackonefake.WebhookEvent("account.error", 2, at)
	viaToken := stackonefake.WebhookEvent("account.updated", 3, at)
	unsigned := stackonefake.WebhookEvent("account.deleted", 4, at)
	wrong := stackonefake.WebhookEvent("account.expired", 5, at)
	oversized := []byte(`{"event":"hris_employees.updated","data":"` + strings.Repeat("x", webhookMaxBody) + `"}`)
	wrongSig := stackonefake.SignWebhook("whsec_not_ours", wrong)
	sentSigs := []string{stackonefake.SignWebhook(webhookSecret, created), stackonefake.SignWebhook(webhookNextSecret, failed), wrongSig}

	hook := base + "/stackone/webhooks"
	for _, d := range []struct {
		name        string
		url         string
		method      string
		contentType string
		body        []byte
		signature   string
		want        int
	}{
		{"signed with the active secret", hook, "", "", created, sentSigs[0], http.StatusOK},
		{"signed with the rotated secret", hook, "", "", failed, sentSigs[1], http.StatusOK},
		{"unsigned", hook, "", "", unsigned, "", http.StatusUnauthorized},
		{"signed with a wrong secret", hook, "", "", wrong, wrongSig, http.StatusUnauthorized},
		{"replayed", hook, "", "", created, sentSigs[0], http.StatusOK},
		{"oversized", hook, "", "", oversized, stackonefake.SignWebhook(webhookSecret, oversized), http.StatusRequestEntityTooLarge},
		{"malformed", hook, "", "", []byte(`{"event":"account.created",`), stackonefake.SignWebhook(webhookSecret, []byte(`{"event":"account.created",`)), http.StatusBadRequest},
		{"a ?token= secret", hook + "?token=" + webhookNextSecret, "", "", viaToken, "", http.StatusOK},
		{"a wrong ?token=", hook + "?token=guessed-token-value", "", "", wrong, "", http.StatusUnauthorized},
		{"GET", hook, http.MethodGet, "", nil, "", http.StatusMethodNotAllowed},
		{"text/plain", hook, "", "text/plain", created, sentSigs[0], http.StatusUnsupportedMediaType},
	} {
		if got := post(t, d.url, d.method, d.contentType, d.body, d.signature); got != d.want {
			t.Errorf("%s: answered %d, want %d", d.name, got, d.want)
		}
	}

	// The accepted events reach the file exporter, once each; nothing else does.
	out := &webhookExport{path: outPath}
	want := map[string]string{"evt_000001": "stackone.webhook.account.created", "evt_000002": "stackone.webhook.account.error", "evt_000003": "stackone.webhook.account.updated"}
	col.waitFor(30*time.Second, "the three accepted events exported", func() bool {
		out.read(t)
		return len(out.byID) >= len(want)
	})
	counts := map[string]float64{}
	col.waitFor(30*time.Second, "the counters on the collector's Prometheus endpoint", func() bool {
		counts = scrapeWebhookRequests(fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort))
		return counts["accepted/emitted"] == 3 && counts["rejected/malformed_json"] == 1
	})
	col.stop()
	out.read(t)
	t.Logf("exported %d webhook records; counters by outcome/reason: %v", out.total, counts)

	if out.total != len(want) {
		t.Errorf("%d webhook records exported, want %d (one per accepted event, the replay not again)", out.total, len(want))
	}
	for id, name := range want {
		lr, ok := out.byID[id]
		if !ok {
			t.Errorf("event %s was acknowledged but not exported", id)
			continue
		}
		if lr.EventName() != name {
			t.Errorf("%s: EventName %q, want %q", id, lr.EventName(), name)
		}
		if got := lr.Timestamp().AsTime(); !got.Equal(at) {
			t.Errorf("%s: Timestamp %s, want the event_date %s", id, got, at)
		}
		wantSev := plog.SeverityNumberInfo
		if id == "evt_000002" {
			wantSev = plog.SeverityNumberError
		}
		if lr.SeverityNumber() != wantSev {
			t.Errorf("%s: severity %s, want %s", id, lr.SeverityNumber(), wantSev)
		}
		if v, _ := lr.Attributes().Get("stackone.account_id"); v.Str() == "" {
			t.Errorf("%s: no stackone.account_id: %v", id, lr.Attributes().AsRaw())
		}
		if !strings.Contains(lr.Body().Str(), `"record_id":"`+id+`"`) {
			t.Errorf("%s: the body is not the payload: %s", id, lr.Body().Str())
		}
	}
	for key, n := range map[string]float64{
		"accepted/emitted": 3, "duplicate/duplicate": 1, "rejected/signature_missing": 1, "rejected/signature_mismatch": 1,
		"rejected/too_large": 1, "rejected/malformed_json": 1, "rejected/token_mismatch": 1, "rejected/method_not_allowed": 1,
		"rejected/unsupported_media_type": 1,
	} {
		if counts[key] != n {
			t.Errorf("otelcol_receiver_stackone_webhook_requests{%s} = %v, want %v (all: %v)", key, counts[key], n, counts)
		}
	}

	exported, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	logged := col.output()
	for _, secret := range append([]string{webhookSecret, webhookNextSecret, "guessed-token-value"}, sentSigs...) {
		if bytes.Contains(exported, []byte(secret)) {
			t.Errorf("the export holds a secret or signature (%.8s...)", secret)
		}
		if strings.Contains(logged, secret) {
			t.Errorf("the collector's log holds a secret or signature (%.8s...)", secret)
		}
	}
}

// TestWebhookPortInUseFailsStart: a collector that cannot listen for webhooks does not start half-way.
func TestWebhookPortInUseFailsStart(t *testing.T) {
	bin := e2etest.CollectorBinary(t, "test-e2e", "./e2e/")
	dir := t.TempDir()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = taken.Close() }()
	api := httptest.NewServer(stackonefake.New(stackonefake.Options{APIKey: apiKey}))
	t.Cleanup(api.Close)
	cfgPath := filepath.Join(dir, "config.yaml")
	writeFile(t, cfgPath, webhookConfig(api.URL, taken.Addr().String(), filepath.Join(dir, "export.jsonl"), freePort(t)))
	col := startCollector(t, bin, cfgPath, filepath.Join(dir, "collector.log"))
	select {
	case <-col.done:
	case <-time.After(startTimeout):
		t.Fatalf("the collector kept running although the webhook port %s is taken", taken.Addr())
	}
	if col.err == nil {
		t.Error("the collector exited cleanly; want a start-up failure")
	}
	if want := "stackone: webhook: cannot listen on " + taken.Addr().String(); !strings.Contains(col.output(), want) {
		t.Errorf("the collector's log does not say %q:\n%s", want, col.output())
	}
}

func webhookConfig(apiURL, hookAddr, outPath string, metricsPort int) string {
	return fmt.Sprintf(`receivers:
  stackone:
    endpoint: %q
    api_key: %q
    poll_interval: 1s
    webhook:
      enabled: true
      endpoint: %q
      secrets:
        - ${env:STACKONE_WEBHOOK_SECRET}
        - ${env:STACKONE_WEBHOOK_SECRET_NEXT}
      allow_query_token: true
      max_request_body_size: %d

exporters:
  file:
    path: %q
    format: json
    rotation:
      max_megabytes: 1024

service:
  telemetry:
    logs:
      level: debug
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: %d
  pipelines:
    logs:
      receivers: [stackone]
      exporters: [file]
`, apiURL, apiKey, hookAddr, webhookMaxBody, outPath, metricsPort)
}

// collector is one run of the distribution whose output goes to a file.
type collector struct {
	t    *testing.T
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func startCollector(t *testing.T, bin, cfgPath, logPath string) *collector {
	t.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", cfgPath)
	cmd.Env = append(os.Environ(), "STACKONE_WEBHOOK_SECRET="+webhookSecret, "STACKONE_WEBHOOK_SECRET_NEXT="+webhookNextSecret)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	c := &collector{t: t, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		_ = logFile.Close()
		close(c.done)
	}()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			_ = cmd.Process.Kill()
			<-c.done
		}
		if t.Failed() {
			t.Logf("collector output:\n%s", c.output())
		}
	})
	return c
}

func (c *collector) output() string {
	b, _ := os.ReadFile(c.log)
	return string(b)
}

// waitFor checks cond every pollEvery until it holds, failing at the deadline or when the collector exits.
func (c *collector) waitFor(timeout time.Duration, what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for !cond() {
		select {
		case <-c.done:
			c.t.Fatalf("the collector exited (%v) while waiting for %s", c.err, what)
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
	}
}

func (c *collector) waitHTTP(u string) {
	c.t.Helper()
	c.waitFor(startTimeout, u+" to answer 200", func() bool {
		resp, err := http.Get(u)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func (c *collector) stop() {
	c.t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		c.t.Fatal(err)
	}
	select {
	case <-c.done:
	case <-time.After(stopTimeout):
		c.t.Fatalf("the collector did not exit within %s of SIGTERM", stopTimeout)
	}
	if c.err != nil {
		c.t.Fatalf("the collector did not exit cleanly on SIGTERM: %v", c.err)
	}
}

// post sends one delivery as curl would and returns the status code.
func post(t *testing.T, u, method, contentType string, body []byte, signature string) int {
	t.Helper()
	if method == "" {
		method = http.MethodPost
	}
	if contentType == "" {
		contentType = "application/json"
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if signature != "" {
		req.Header.Set(stackonefake.SignatureHeader, signature)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// webhookExport reads the webhook records the file exporter wrote, by stackone.record_id.
type webhookExport struct {
	path  string
	total int
	byID  map[string]plog.LogRecord
}

func (e *webhookExport) read(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(e.path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	e.total, e.byID = 0, map[string]plog.LogRecord{}
	var u plog.JSONUnmarshaler
	for line := range bytes.Lines(b) {
		if !bytes.HasSuffix(line, []byte("\n")) {
			break // still being written
		}
		ld, err := u.UnmarshalLogs(line)
		if err != nil {
			t.Fatalf("%s: a line is not OTLP/JSON logs: %v", e.path, err)
		}
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					if !strings.HasPrefix(lr.EventName(), "stackone.webhook.") {
						continue
					}
					e.total++
					id, _ := lr.Attributes().Get("stackone.record_id")
					e.byID[id.Str()] = lr
				}
			}
		}
	}
}

// scrapeWebhookRequests reads otelcol_receiver_stackone_webhook_requests from the Prometheus text format,
// keyed "outcome/reason".
func scrapeWebhookRequests(u string) map[string]float64 {
	out := map[string]float64{}
	resp, err := http.Get(u)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "otelcol_receiver_stackone_webhook_requests") || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[label(line, "outcome")+"/"+label(line, "reason")] += v
	}
	return out
}

func label(line, name string) string {
	_, rest, ok := strings.Cut(line, name+`="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

func freeAddr(t *testing.T) string {
	return fmt.Sprintf("127.0.0.1:%d", freePort(t))
}

// freePort is a port the kernel just handed out and took back: free unless something grabs it meanwhile.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
