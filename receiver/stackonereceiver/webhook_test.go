package stackonereceiver

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/metadatatest"
)

const (
	hookSecret  = "whsec_current_0123456789"
	hookRotated = "whsec_next_9876543210"
)

// hook is one started receiver with its webhook endpoint on a loopback port; its streams poll the world's
// fake once and then wait for shutdown.
type hook struct {
	t    *testing.T
	rcv  *stackoneReceiver
	tel  *componenttest.Telemetry
	host *statusHost
	logs *observer.ObservedLogs
	url  string // the webhook path's URL
	base string // scheme and address
}

func (w *world) webhookConfig() *Config {
	cfg := w.config()
	cfg.Webhook.Enabled = true
	cfg.Webhook.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.Webhook.Secrets = []configopaque.String{hookSecret, hookRotated}
	return cfg
}

func (w *world) startHook(cfg *Config, next consumer.Logs) *hook {
	t := w.t
	t.Helper()
	require.NoError(t, cfg.Validate())
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	core, logs := observer.New(zapcore.DebugLevel)
	set := metadatatest.NewSettings(tel)
	set.Logger = zap.New(core)
	rcv, err := newReceiver(cfg, set, next)
	require.NoError(t, err)
	rcv.catchUpAfter = w.catchUpAfter
	rcv.wait = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	rcv.waitPoll = func(ctx context.Context, _ time.Duration) error { <-ctx.Done(); return ctx.Err() }
	require.NoError(t, rcv.Start(context.Background(), w.host))
	t.Cleanup(func() { require.NoError(t, rcv.Shutdown(context.Background())) })
	require.NotNil(t, rcv.webhook, "webhook.enabled starts the endpoint")
	base := "http://" + rcv.webhook.addr()
	return &hook{t: t, rcv: rcv, tel: tel, host: w.host, logs: logs, url: base + cfg.Webhook.Path, base: base}
}

// delivery is one request to the endpoint, built the way StackOne (or something else) would send it.
type delivery struct {
	method      string
	path        string // default: the webhook path
	query       string
	body        []byte
	contentType string // default application/json; "-" sends none
	signWith    string // secret to sign the body with; "" sends no signature
	signature   string // a literal signature header instead
	header      string // the signature's header; default x-stackone-signature
	chunked     bool   // no Content-Length
	gzip        bool
}

func (h *hook) send(d delivery) *http.Response {
	h.t.Helper()
	u := h.url
	if d.path != "" {
		u = h.base + d.path
	}
	if d.query != "" {
		u += "?" + d.query
	}
	body := d.body
	if d.gzip {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write(body)
		require.NoError(h.t, zw.Close())
		body = b.Bytes()
	}
	var r io.Reader = bytes.NewReader(body)
	if d.chunked {
		r = io.MultiReader(r) // hides the length: the client sends it chunked
	}
	method := d.method
	if method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequest(method, u, r)
	require.NoError(h.t, err)
	switch d.contentType {
	case "":
		req.Header.Set("Content-Type", "application/json")
	case "-":
	default:
		req.Header.Set("Content-Type", d.contentType)
	}
	if d.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	header := d.header
	if header == "" {
		header = stackonefake.SignatureHeader
	}
	if d.signWith != "" {
		req.Header.Set(header, stackonefake.SignWebhook(d.signWith, d.body))
	}
	if d.signature != "" {
		req.Header.Set(header, d.signature)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(h.t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(h.t, err)
	require.NoError(h.t, resp.Body.Close())
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp
}

func requestsPoint(outcome, reason string, n int64) metricdata.DataPoint[int64] {
	return metricdata.DataPoint[int64]{Attributes: attribute.NewSet(attribute.String("outcome", outcome), attribute.String("reason", reason)), Value: n}
}

func accountEvent(event string) []byte {
	return []byte(`{"event":"` + event + `","project_id":"prj_1","account_id":"acc_1","provider":"hibob","origin_owner_id":"cus_1",` +
		`"origin_owner_name":"Acme","event_date":"2025-06-01T10:00:00.000Z","sent_at":"2025-06-01T10:00:00.250Z"}`)
}

func TestWebhookAnswers(t *testing.T) {
	event := accountEvent("account.created")
	errRetryable := errors.New("data refused due to high memory usage")
	tests := []struct {
		name      string
		mutate    func(*WebhookConfig)
		consume   func(context.Context, plog.Logs) error
		delivery  delivery
		status    int
		outcome   string
		reason    string // "" for answers that are not deliveries (the health check)
		records   int
		header    map[string]string
		bodyHas   string
		uncounted bool
	}{
		{name: "signed with the active secret", delivery: delivery{body: event, signWith: hookSecret}, status: 200, outcome: "accepted", reason: reasonEmitted, records: 1},
		{name: "signed with the rotated secret", delivery: delivery{body: event, signWith: hookRotated}, status: 200, outcome: "accepted", reason: reasonEmitted, records: 1},
		{name: "padded base64url and a sha256= prefix", delivery: delivery{body: event, signature: "sha256=" + stackonefake.SignWebhook(hookSecret, event) + "="}, status: 200, outcome: "accepted", reason: reasonEmitted, records: 1},
		{name: "unsigned", delivery: delivery{body: event}, status: 401, outcome: "rejected", reason: reasonSignatureMissing},
		{name: "wrong secret", delivery: delivery{body: event, signWith: "whsec_someone_else"}, status: 401, outcome: "rejected", reason: reasonSignatureMismatch, bodyHas: "matches none of webhook.secrets"},
		{name: "signature of another body", delivery: delivery{body: event, signature: stackonefake.SignWebhook(hookSecret, []byte(`{}`))}, status: 401, outcome: "rejected", reason: reasonSignatureMismatch},
		{name: "signature that is not base64url", delivery: delivery{body: event, signature: "not a signature!"}, status: 401, outcome: "rejected", reason: reasonSignatureMismatch},
		{name: "hex signature where base64url is configured", delivery: delivery{body: event, signature: hex.EncodeToString(macOf(hookSecret, event))}, status: 401, outcome: "rejected", reason: reasonSignatureMismatch},
		{name: "token while tokens are not allowed", delivery: delivery{body: event, query: "token=" + hookSecret}, status: 401, outcome: "rejected", reason: reasonTokenNotAllowed},
		{name: "allowed token", mutate: func(c *WebhookConfig) { c.AllowQueryToken = true }, delivery: delivery{body: event, query: "token=" + hookRotated}, status: 200, outcome: "accepted", reason: reasonEmitted, records: 1},
		{name: "allowed but wrong token", mutate: func(c *WebhookConfig) { c.AllowQueryToken = true }, delivery: delivery{body: event, query: "token=guess"}, status: 401, outcome: "rejected", reason: reasonTokenMismatch},
		{name: "hex in another header, as configured", mutate: func(c *WebhookConfig) { c.SignatureEncoding = encodingHex; c.SignatureHeader = "X-Signature" },
			delivery: delivery{body: event, header: "X-Signature", signature: hex.EncodeToString(macOf(hookRotated, event))}, status: 200, outcome: "accepted", reason: reasonEmitted, records: 1},
		{name: "the default header when another is configured", mutate: func(c *WebhookConfig) { c.SignatureHeader = "X-Signature" },
			delivery: delivery{body: event, signWith: hookSecret}, status: 401, outcome: "rejected", reason: reasonSignatureMissing},
		{name: "standard base64 as configured", mutate: func(c *WebhookConfig) { c.SignatureEncoding = encodingBase64 },
			delivery: delivery{body: event, signature: base64.StdEncoding.EncodeToString(macOf(hookSecret, event))}, status: 200, outcome: "accepted", reason: reasonEmitted, records: 1},
		{name: "malformed JSON", delivery: delivery{body: []byte(`{"event":"account.created",`), signWith: hookSecret}, status: 400, outcome: "rejected", reason: reasonMalformedJSON},
		{name: "a JSON array", delivery: delivery{body: []byte(`[{"event":"account.created"}]`), signWith: hookSecret}, status: 400, outcome: "rejected", reason: reasonMalformedJSON},
		{name: "two JSON values", delivery: delivery{body: []byte(`{"event":"a.b"} {"event":"c.d"}`), signWith: hookSecret}, status: 400, outcome: "rejected", reason: reasonMalformedJSON},
		{name: "oversize with a Content-Length", mutate: func(c *WebhookConfig) { c.MaxRequestBodySize = 1024 },
			delivery: delivery{body: bigEvent(2048), signWith: hookSecret}, status: 413, outcome: "rejected", reason: reasonTooLarge},
		{name: "oversize sent chunked", mutate: func(c *WebhookConfig) { c.MaxRequestBodySize = 1024 },
			delivery: delivery{body: bigEvent(2048), signWith: hookSecret, chunked: true}, status: 413, outcome: "rejected", reason: reasonTooLarge},
		{name: "at the size limit", mutate: func(c *WebhookConfig) { c.MaxRequestBodySize = 2048 },
			delivery: delivery{body: bigEvent(2048), signWith: hookSecret, chunked: true}, status: 200, outcome: "accepted", reason: reasonEmitted, records: 1},
		{name: "GET", delivery: delivery{method: http.MethodGet}, status: 405, outcome: "rejected", reason: reasonMethodNotAllowed, header: map[string]string{"Allow": "POST"}},
		{name: "text/plain", delivery: delivery{body: event, signWith: hookSecret, contentType: "text/plain"}, status: 415, outcome: "rejected", reason: reasonUnsupportedMedia},
		{name: "no Content-Type", delivery: delivery{body: event, signWith: hookSecret, contentType: "-"}, status: 415, outcome: "rejected", reason: reasonUnsupportedMedia},
		{name: "JSON with a charset", delivery: delivery{body: event, signWith: hookSecret, contentType: "application/json; charset=utf-8"}, status: 200, outcome: "accepted", reason: reasonEmitted, records: 1},
		{name: "another path", delivery: delivery{path: "/webhooks", body: event, signWith: hookSecret}, status: 404, outcome: "rejected", reason: reasonNotFound},
		{name: "gzip, signed over the JSON", delivery: delivery{body: event, signWith: hookSecret, gzip: true}, status: 200, outcome: "accepted", reason: reasonEmitted, records: 1},
		{name: "permanent pipeline error", consume: func(context.Context, plog.Logs) error { return permanent(errors.New("schema rejected")) },
			delivery: delivery{body: event, signWith: hookSecret}, status: 400, outcome: "rejected", reason: reasonPipelinePermanent},
		{name: "retryable pipeline refusal", consume: func(context.Context, plog.Logs) error { return errRetryable },
			delivery: delivery{body: event, signWith: hookSecret}, status: 503, outcome: "refused", reason: reasonPipelineRefused, header: map[string]string{"Retry-After": "10"}},
		{name: "health check", delivery: delivery{method: http.MethodGet, path: defaultWebhookHealthPath}, status: 200, bodyHas: `"ok"`, uncounted: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, stackonefake.Options{})
			cfg := w.webhookConfig()
			if tt.mutate != nil {
				tt.mutate(&cfg.Webhook)
			}
			sink := new(consumertest.LogsSink)
			next := consumer.Logs(sink)
			if tt.consume != nil {
				next = consumerFunc(tt.consume)
			}
			h := w.startHook(cfg, next)
			resp := h.send(tt.delivery)
			body, _ := io.ReadAll(resp.Body)
			assert.Equal(t, tt.status, resp.StatusCode, "answer: %s", body)
			for k, v := range tt.header {
				assert.Equal(t, v, resp.Header.Get(k), k)
			}
			if tt.bodyHas != "" {
				assert.Contains(t, string(body), tt.bodyHas)
			}
			assert.Equal(t, tt.records, sink.LogRecordCount())
			if tt.uncounted {
				_, err := h.tel.GetMetric("otelcol_receiver_stackone_webhook_requests")
				assert.Error(t, err, "the health check is not a delivery")
				return
			}
			metadatatest.AssertEqualReceiverStackoneWebhookRequests(t, h.tel, []metricdata.DataPoint[int64]{requestsPoint(tt.outcome, tt.reason, 1)}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
			if tt.reason == reasonPipelinePermanent {
				_, err := h.tel.GetMetric("otelcol_receiver_stackone_records_emitted")
				assert.Error(t, err, "a rejected event was not emitted")
				metadatatest.AssertEqualReceiverStackoneRecordsDropped(t, h.tel, []metricdata.DataPoint[int64]{
					{Attributes: attribute.NewSet(attribute.String("stream", webhookStream)), Value: 1},
				}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
			}
		})
	}
}

func bigEvent(size int) []byte {
	head := `{"event":"hris_employees.updated","data":{"notes":"`
	tail := `"}}`
	return []byte(head + strings.Repeat("x", size-len(head)-len(tail)) + tail)
}

func TestWebhookBadContentEncodingIsCounted(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	h := w.startHook(w.webhookConfig(), new(consumertest.LogsSink))
	req, err := http.NewRequest(http.MethodPost, h.url, strings.NewReader("not gzip"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	metadatatest.AssertEqualReceiverStackoneWebhookRequests(t, h.tel, []metricdata.DataPoint[int64]{requestsPoint("rejected", reasonBadEncoding, 1)}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
}

func TestWebhookReplayIsAcknowledgedOnce(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	sink := new(consumertest.LogsSink)
	h := w.startHook(w.webhookConfig(), sink)
	event := accountEvent("account.updated")
	for range 3 {
		resp := h.send(delivery{body: event, signWith: hookSecret})
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	// signed with the other secret, still the same body: still a duplicate
	assert.Equal(t, http.StatusOK, h.send(delivery{body: event, signWith: hookRotated}).StatusCode)
	assert.Equal(t, 1, sink.LogRecordCount())
	metadatatest.AssertEqualReceiverStackoneWebhookRequests(t, h.tel, []metricdata.DataPoint[int64]{
		requestsPoint("accepted", reasonEmitted, 1), requestsPoint("duplicate", reasonDuplicate, 3),
	}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
	metadatatest.AssertEqualReceiverStackoneDuplicatesDropped(t, h.tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("stream", webhookStream)), Value: 3},
	}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
	metadatatest.AssertEqualReceiverStackoneRecordsEmitted(t, h.tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("stream", webhookStream)), Value: 1},
	}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
	metadatatest.AssertEqualReceiverStackoneWebhookDedupEntries(t, h.tel, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())

	// A different body is a different event.
	assert.Equal(t, http.StatusOK, h.send(delivery{body: accountEvent("account.deleted"), signWith: hookSecret}).StatusCode)
	assert.Equal(t, 2, sink.LogRecordCount())
}

func TestWebhookWithoutDedupEmitsEveryDelivery(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	cfg := w.webhookConfig()
	cfg.Webhook.DedupWindow = 0
	sink := new(consumertest.LogsSink)
	h := w.startHook(cfg, sink)
	for range 2 {
		require.Equal(t, http.StatusOK, h.send(delivery{body: accountEvent("account.updated"), signWith: hookSecret}).StatusCode)
	}
	assert.Equal(t, 2, sink.LogRecordCount())
}

// A delivery answered 503 was not emitted, so its re-delivery must be, once; and the status says the
// pipeline refused until it accepts again.
func TestWebhookRefusedDeliveryIsEmittedWhenDeliveredAgain(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	sink := new(consumertest.LogsSink)
	var refuse atomic.Bool
	refuse.Store(true)
	h := w.startHook(w.webhookConfig(), consumerFunc(func(ctx context.Context, ld plog.Logs) error {
		if refuse.Load() {
			// What the consumer does with the data once it has it is its own affair (see TestConsumerRefusalIsRetriedInPlace).
			ld.ResourceLogs().RemoveIf(func(plog.ResourceLogs) bool { return true })
			return errRefused
		}
		return sink.ConsumeLogs(ctx, ld)
	}))
	event := accountEvent("account.error")
	resp := h.send(delivery{body: event, signWith: hookSecret})
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "10", resp.Header.Get("Retry-After"))
	assert.Equal(t, componentstatus.StatusRecoverableError, lastStatus(h.host))

	refuse.Store(false)
	require.Equal(t, http.StatusOK, h.send(delivery{body: event, signWith: hookSecret}).StatusCode)
	require.Equal(t, http.StatusOK, h.send(delivery{body: event, signWith: hookSecret}).StatusCode)
	assert.Equal(t, 1, sink.LogRecordCount(), "emitted once, after it was accepted")
	assert.Equal(t, componentstatus.StatusOK, lastStatus(h.host), "an accepted event clears the condition")
	metadatatest.AssertEqualReceiverStackoneWebhookRequests(t, h.tel, []metricdata.DataPoint[int64]{
		requestsPoint("refused", reasonPipelineRefused, 1), requestsPoint("accepted", reasonEmitted, 1), requestsPoint("duplicate", reasonDuplicate, 1),
	}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
	refused, err := h.tel.GetMetric("otelcol_receiver_refused_log_records")
	require.NoError(t, err)
	assert.Equal(t, int64(1), sumOf(refused), "the refused record is counted as sent, not as the consumer left it")
}

func lastStatus(h *statusHost) componentstatus.Status {
	s := h.statuses()
	if len(s) == 0 {
		return componentstatus.StatusNone
	}
	return s[len(s)-1]
}

// Two deliveries of one body at once: the second waits for the first and is then a duplicate.
func TestWebhookConcurrentIdenticalDeliveriesAreEmittedOnce(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	sink := new(consumertest.LogsSink)
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	h := w.startHook(w.webhookConfig(), consumerFunc(func(ctx context.Context, ld plog.Logs) error {
		if calls.Add(1) == 1 {
			close(entered)
			<-release
		}
		return sink.ConsumeLogs(ctx, ld)
	}))
	waiting := make(chan struct{}, 1)
	h.rcv.webhook.dedup.setOnWait(func() { waiting <- struct{}{} })
	event := accountEvent("account.created")
	statuses := make(chan int, 2)
	go func() { statuses <- h.send(delivery{body: event, signWith: hookSecret}).StatusCode }()
	<-entered
	go func() { statuses <- h.send(delivery{body: event, signWith: hookSecret}).StatusCode }()
	select {
	case <-waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("the second delivery did not wait for the first within 10s")
	}
	close(release)
	assert.Equal(t, http.StatusOK, <-statuses)
	assert.Equal(t, http.StatusOK, <-statuses)
	assert.Equal(t, int32(1), calls.Load(), "one ConsumeLogs for both")
	assert.Equal(t, 1, sink.LogRecordCount())
}

// A delivery waiting for the same body in flight gives up with its request: a sender that hangs up is not
// kept waiting, and the first delivery still completes.
func TestWebhookWaitForTheSameDeliveryEndsWithTheRequest(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	h := w.startHook(w.webhookConfig(), consumerFunc(func(context.Context, plog.Logs) error {
		if calls.Add(1) == 1 {
			close(entered)
			<-release
		}
		return nil
	}))
	ctx, hangUp := context.WithCancel(context.Background())
	h.rcv.webhook.dedup.setOnWait(hangUp)
	event := accountEvent("account.created")
	first := make(chan int, 1)
	go func() { first <- h.send(delivery{body: event, signWith: hookSecret}).StatusCode }()
	<-entered
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(event))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(stackonefake.SignatureHeader, stackonefake.SignWebhook(hookSecret, event))
	_, err = http.DefaultClient.Do(req)
	require.ErrorIs(t, err, context.Canceled)
	waitForCount(t, h, "refused", reasonInFlight)
	close(release)
	assert.Equal(t, http.StatusOK, <-first)
	assert.Equal(t, int32(1), calls.Load())
}

// waitForCount waits, up to 10 s, until the endpoint has counted an answer: the sender hung up, so only the
// counter tells when the handler finished.
func waitForCount(t *testing.T, h *hook, outcome, reason string) {
	t.Helper()
	want := attribute.NewSet(attribute.String("outcome", outcome), attribute.String("reason", reason))
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if m, err := h.tel.GetMetric("otelcol_receiver_stackone_webhook_requests"); err == nil {
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				if dp.Attributes.Equals(&want) && dp.Value > 0 {
					return
				}
			}
		}
		select {
		case <-deadline:
			t.Fatalf("no %s/%s answer counted within 10s", outcome, reason)
		case <-tick.C:
		}
	}
}

func TestWebhookNeverRecordsSecrets(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	cfg := w.webhookConfig()
	cfg.Webhook.AllowQueryToken = true
	sink := new(consumertest.LogsSink)
	h := w.startHook(cfg, sink)
	event := []byte(`{"event":"account.updated","account_id":"acc_1","api_key":"sk_live_inner","raw_event":{"headers":{"Authorization":"Bearer inner-bearer"},"url":"https://x.example/cb?token=inner-url-token"}}`)
	wrongSig := stackonefake.SignWebhook("whsec_wrong", event)
	goodSig := stackonefake.SignWebhook(hookSecret, event)
	for _, d := range []delivery{
		{body: event, signature: wrongSig},
		{body: event, query: "token=" + hookSecret + "&other=1"},
		{body: event, query: "token=wrong-token-value"},
		{body: event, signature: goodSig},
		{body: []byte(`{bad`), query: "token=" + hookRotated},
	} {
		h.send(d)
	}
	require.Equal(t, 1, sink.LogRecordCount())

	var recorded []string
	for _, e := range h.logs.All() {
		b, err := json.Marshal(e.ContextMap())
		require.NoError(t, err)
		recorded = append(recorded, "log: "+e.Message+" "+string(b))
	}
	for _, s := range h.tel.SpanRecorder.Ended() {
		line := "span: " + s.Name()
		for _, a := range s.Attributes() {
			line += " " + string(a.Key) + "=" + a.Value.String()
		}
		recorded = append(recorded, line)
	}
	require.NotEmpty(t, h.tel.SpanRecorder.Ended(), "the collector's HTTP server instrumentation recorded the requests")
	var rm metricdata.ResourceMetrics
	require.NoError(t, h.tel.Reader.Collect(context.Background(), &rm))
	recorded = append(recorded, fmt.Sprintf("metrics: %+v", rm))
	exported, err := (&plog.JSONMarshaler{}).MarshalLogs(sink.AllLogs()[0])
	require.NoError(t, err)
	recorded = append(recorded, "export: "+string(exported))

	for _, line := range recorded {
		for _, secret := range []string{hookSecret, hookRotated, wrongSig, goodSig, "wrong-token-value", "sk_live_inner", "inner-bearer", "inner-url-token"} {
			assert.NotContains(t, line, secret)
		}
	}
	assert.Contains(t, string(exported), `REDACTED`)
}

func TestWebhookStartFailsClearlyWhenThePortIsTaken(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = ln.Close() }()
	cfg := w.webhookConfig()
	cfg.Webhook.NetAddr.Endpoint = ln.Addr().String()
	rcv, err := newReceiver(cfg, metadatatest.NewSettings(componenttestTelemetry(t)), new(consumertest.LogsSink))
	require.NoError(t, err)
	err = rcv.Start(context.Background(), w.host)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "stackone: webhook: cannot listen on "+ln.Addr().String())
	require.NoError(t, rcv.Shutdown(context.Background()))
}

func TestWebhookWithoutSecretOrAuthDoesNotStart(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	cfg := w.webhookConfig()
	cfg.Webhook.Secrets = nil
	require.ErrorContains(t, cfg.Validate(), "webhook.secrets is empty")
	rcv, err := newReceiver(cfg, metadatatest.NewSettings(componenttestTelemetry(t)), new(consumertest.LogsSink))
	require.NoError(t, err)
	require.ErrorContains(t, rcv.Start(context.Background(), w.host), "webhook.secrets is empty")
	require.NoError(t, rcv.Shutdown(context.Background()))
}

func TestWebhookAuthExtensionThatIsMissingFailsStart(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	cfg := w.webhookConfig()
	cfg.Webhook.Secrets = nil
	require.NoError(t, confmap.NewFromStringMap(map[string]any{"auth": map[string]any{"authenticator": "basicauth"}}).Unmarshal(&cfg.Webhook))
	require.NoError(t, cfg.Validate(), "an authenticator replaces the secrets")
	rcv, err := newReceiver(cfg, metadatatest.NewSettings(componenttestTelemetry(t)), new(consumertest.LogsSink))
	require.NoError(t, err)
	err = rcv.Start(context.Background(), w.host)
	require.ErrorContains(t, err, "stackone: webhook:")
	require.ErrorContains(t, err, "basicauth")
	require.NoError(t, rcv.Shutdown(context.Background()))
}

// Shutdown waits for a delivery in the pipeline, which is then answered.
func TestWebhookShutdownLetsADeliveryInFlightFinish(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	entered, release := make(chan struct{}), make(chan struct{})
	sink := new(consumertest.LogsSink)
	cfg := w.webhookConfig()
	h := w.startHook(cfg, consumerFunc(func(ctx context.Context, ld plog.Logs) error {
		close(entered)
		<-release
		return sink.ConsumeLogs(ctx, ld)
	}))
	status := make(chan int, 1)
	go func() {
		status <- h.send(delivery{body: accountEvent("account.created"), signWith: hookSecret}).StatusCode
	}()
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- h.rcv.stopWebhook(context.Background()) }()
	close(release)
	assert.Equal(t, http.StatusOK, <-status)
	require.NoError(t, <-stopped)
	assert.Equal(t, 1, sink.LogRecordCount())
}
