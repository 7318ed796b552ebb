package stackonereceiver

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/metadata"
)

// retryAfterSeconds is what a 503 asks StackOne to wait: long enough for a memory_limiter or a full queue to
// recover, short enough that a real-time event stays real-time.
const retryAfterSeconds = "10"

// The other answers' reasons, beside the verifier's.
const (
	reasonEmitted           = "emitted"
	reasonDuplicate         = "duplicate"
	reasonNotFound          = "not_found"
	reasonMethodNotAllowed  = "method_not_allowed"
	reasonUnsupportedMedia  = "unsupported_media_type"
	reasonTooLarge          = "too_large"
	reasonReadError         = "read_error"
	reasonBadEncoding       = "bad_encoding"
	reasonAuthFailed        = "auth_failed"
	reasonMalformedJSON     = "malformed_json"
	reasonPipelinePermanent = "pipeline_permanent"
	reasonPipelineRefused   = "pipeline_refused"
	reasonInFlight          = "in_flight"
)

// answer is the status and text of every outcome but success. The text is the answer's body and the log
// line: what is wrong and how to fix it, never a secret or a part of the request.
type answer struct {
	status  int
	outcome string
	text    string
}

var answers = map[string]answer{
	reasonNotFound:          {http.StatusNotFound, "rejected", "no StackOne webhook endpoint at this path: register the URL ending in webhook.path"},
	reasonMethodNotAllowed:  {http.StatusMethodNotAllowed, "rejected", "webhook deliveries are POST requests"},
	reasonUnsupportedMedia:  {http.StatusUnsupportedMediaType, "rejected", "webhook deliveries must have Content-Type application/json"},
	reasonTooLarge:          {http.StatusRequestEntityTooLarge, "rejected", "the delivery is larger than webhook.max_request_body_size"},
	reasonReadError:         {http.StatusBadRequest, "rejected", "the delivery's body could not be read to its end"},
	reasonBadEncoding:       {http.StatusBadRequest, "rejected", "the delivery's Content-Encoding is not supported or does not decode"},
	reasonAuthFailed:        {http.StatusUnauthorized, "rejected", "the authenticator extension (webhook.auth) refused the delivery"},
	reasonSignatureMissing:  {http.StatusUnauthorized, "rejected", "the delivery has no signature header (webhook.signature_header)"},
	reasonSignatureMismatch: {http.StatusUnauthorized, "rejected", "the delivery's signature matches none of webhook.secrets: copy the webhook's signing secret from StackOne, and check webhook.signature_encoding"},
	reasonTokenMismatch:     {http.StatusUnauthorized, "rejected", "the delivery's ?token= matches none of webhook.secrets"},
	reasonTokenNotAllowed:   {http.StatusUnauthorized, "rejected", "the delivery carries ?token= but no signature, and webhook.allow_query_token is false"},
	reasonMalformedJSON:     {http.StatusBadRequest, "rejected", "the delivery's body is not one JSON object"},
	reasonPipelinePermanent: {http.StatusBadRequest, "rejected", "the pipeline permanently refused the event"},
	reasonPipelineRefused:   {http.StatusServiceUnavailable, "refused", "the pipeline refused the event for now; deliver it again later"},
	reasonInFlight:          {http.StatusServiceUnavailable, "refused", "the same delivery is still being processed; deliver it again later"},
}

// webhookServer is the `webhook:` endpoint: it verifies each delivery, maps it to one log record, and
// answers 2xx only once the pipeline accepted that record, so StackOne re-delivers whatever was not.
type webhookServer struct {
	cfg     *WebhookConfig
	next    consumer.Logs
	obsrecv *receiverhelper.ObsReport
	tb      *metadata.TelemetryBuilder
	tel     streamTelemetry
	log     *zap.Logger
	sampled *zap.Logger
	mapper  *webhookMapper
	verify  *verifier
	dedup   *dedup
	now     func() time.Time
	// consumeTimeout leaves time to answer 503 before write_timeout cuts the connection.
	consumeTimeout time.Duration

	health      *health
	healthMu    sync.Mutex
	pipelineErr error

	ln     net.Listener
	srv    *http.Server
	served chan struct{}
}

// startWebhook starts the endpoint when it is enabled. Failing to listen fails Start: a collector that
// silently did not receive webhooks would lose every event StackOne gives up on.
func (r *stackoneReceiver) startWebhook(ctx context.Context, host component.Host) error {
	cfg := &r.cfg.Webhook
	if !cfg.Enabled {
		return nil
	}
	if errs := cfg.validate(); len(errs) > 0 {
		return fmt.Errorf("stackone: webhook: %w", errors.Join(errs...))
	}
	w := &webhookServer{
		cfg:     cfg,
		next:    r.next,
		obsrecv: r.obsrecv,
		tb:      r.telemetry,
		tel:     newStreamTelemetry(r.telemetry, webhookStream),
		log:     r.settings.Logger,
		sampled: r.sampled,
		mapper:  &webhookMapper{m: r.mapper, maxBody: maxWebhookRecordBody},
		verify:  newVerifier(cfg),
		dedup:   newDedup(cfg.DedupWindow, maxDedupEntries, r.now),
		now:     r.now,
		health:  r.health,
		served:  make(chan struct{}),
	}
	if cfg.WriteTimeout > 0 {
		w.consumeTimeout = cfg.WriteTimeout * 9 / 10
	}
	ln, err := cfg.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("stackone: webhook: cannot listen on %s: %w", cfg.NetAddr.Endpoint, err)
	}
	srv, err := cfg.ToServer(ctx, host.GetExtensions(), r.settings.TelemetrySettings, w, confighttp.WithErrorHandler(w.serverError))
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("stackone: webhook: %w", err)
	}
	srv.Handler = withoutQueryToken(srv.Handler)
	if err := r.telemetry.RegisterReceiverStackoneWebhookDedupEntriesCallback(func(_ context.Context, o metric.Int64Observer) error {
		size, _ := w.dedup.stats()
		o.Observe(int64(size))
		return nil
	}); err != nil {
		_ = ln.Close()
		return err
	}
	w.ln, w.srv = ln, srv
	r.webhook = w
	go func() {
		defer close(w.served)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(fmt.Errorf("stackone: webhook endpoint stopped: %w", err)))
		}
	}()
	r.settings.Logger.Info("StackOne webhook endpoint listening",
		zap.String("address", ln.Addr().String()), zap.String("path", cfg.Path), zap.Int("secrets", len(cfg.Secrets)),
		zap.Bool("auth_extension", cfg.Auth.HasValue()), zap.Duration("dedup_window", cfg.DedupWindow))
	return nil
}

// stopWebhook stops taking deliveries and lets those in flight finish until ctx ends; past it they are cut
// off, unanswered, and StackOne delivers them again.
func (r *stackoneReceiver) stopWebhook(ctx context.Context) error {
	w := r.webhook
	if w == nil {
		return nil
	}
	err := w.srv.Shutdown(ctx)
	if err != nil {
		_ = w.srv.Close()
		err = fmt.Errorf("stackone: webhook deliveries were still in flight when the shutdown deadline passed; they went unanswered and StackOne will deliver them again: %w", err)
	}
	<-w.served
	return err
}

// addr is where the endpoint listens (tests listen on port 0).
func (w *webhookServer) addr() string { return w.ln.Addr().String() }

func (w *webhookServer) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	switch {
	case req.URL.Path == w.cfg.Path:
		w.deliver(rw, req)
	case w.cfg.HealthPath != "" && req.URL.Path == w.cfg.HealthPath:
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			rw.Header().Set("Allow", "GET, HEAD")
			http.Error(rw, "health checks are GET requests", http.StatusMethodNotAllowed)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(rw, `{"status":"ok"}`)
	default:
		w.reject(rw, req, reasonNotFound, nil)
	}
}

func (w *webhookServer) deliver(rw http.ResponseWriter, req *http.Request) {
	started := w.now()
	if req.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		w.reject(rw, req, reasonMethodNotAllowed, nil)
		return
	}
	if !jsonMediaType(req.Header.Get("Content-Type")) {
		w.reject(rw, req, reasonUnsupportedMedia, nil)
		return
	}
	if req.ContentLength > w.cfg.MaxRequestBodySize {
		w.reject(rw, req, reasonTooLarge, nil)
		return
	}
	// confighttp caps the body at max_request_body_size (after decompression too).
	body, err := io.ReadAll(req.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			w.reject(rw, req, reasonTooLarge, nil)
		} else {
			w.reject(rw, req, reasonReadError, err)
		}
		return
	}
	token, hasToken := req.Context().Value(queryTokenKey{}).(string)
	if reason := w.verify.check(body, req.Header.Get(w.cfg.SignatureHeader), token, hasToken); reason != "" {
		w.reject(rw, req, reason, nil)
		return
	}

	ctx := req.Context()
	if w.consumeTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, started.Add(w.consumeTimeout))
		defer cancel()
	}
	key := digest(sha256.Sum256(body))
	emit, err := w.dedup.claim(ctx, key)
	if err != nil {
		rw.Header().Set("Retry-After", retryAfterSeconds)
		w.reject(rw, req, reasonInFlight, err)
		return
	}
	if !emit {
		w.tel.duplicates(ctx, 1)
		w.ok(rw, req, reasonDuplicate)
		return
	}
	accepted := false
	defer func() {
		if w.dedup.done(key, accepted) > 0 {
			w.sampled.Warn("The webhook's dedup window is full: the oldest digests are forgotten before dedup_window ends, so a late re-delivery of those events would be emitted again",
				zap.Int("max_entries", maxDedupEntries), zap.Duration("dedup_window", w.cfg.DedupWindow))
		}
	}()

	ld, meta, err := w.mapper.mapEvent(body, started)
	if err != nil {
		w.reject(rw, req, reasonMalformedJSON, err)
		return
	}
	records := ld.LogRecordCount() // once ConsumeLogs returns, ld is the pipeline's
	opCtx := w.obsrecv.StartLogsOp(ctx)
	err = w.next.ConsumeLogs(opCtx, ld)
	w.obsrecv.EndLogsOp(opCtx, "stackone_webhook_json", records, err)
	switch {
	case err == nil:
		accepted = true
		w.tel.emitted(ctx, 1)
		if meta.invalid > 0 {
			w.tel.malformed(ctx, "invalid_field", 1)
		}
		if meta.badTime {
			w.tel.malformed(ctx, "invalid_time", 1)
		}
		w.setPipelineError(nil)
		w.ok(rw, req, reasonEmitted)
	case consumererror.IsPermanent(err):
		w.tel.dropped(ctx, 1)
		w.reject(rw, req, reasonPipelinePermanent, err)
	default:
		if req.Context().Err() == nil { // a sender that hung up says nothing about the pipeline
			w.setPipelineError(err)
		}
		rw.Header().Set("Retry-After", retryAfterSeconds)
		w.reject(rw, req, reasonPipelineRefused, err)
	}
}

// serverError answers what confighttp refuses before the handler runs: an authenticator extension's 401 and
// a body that does not decompress.
func (w *webhookServer) serverError(rw http.ResponseWriter, req *http.Request, msg string, status int) {
	reason := reasonBadEncoding
	if status == http.StatusUnauthorized {
		reason = reasonAuthFailed
	}
	w.reject(rw, req, reason, errors.New(msg))
}

func (w *webhookServer) ok(rw http.ResponseWriter, req *http.Request, reason string) {
	outcome := "accepted"
	if reason == reasonDuplicate {
		outcome = "duplicate"
	}
	w.count(req.Context(), outcome, reason)
	rw.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(rw, `{"status":"`+outcome+`"}`)
}

// reject answers and counts a delivery that was not accepted, with a rate-limited log line. Nothing of the
// request goes into it but its path, the sender's address and its size: never a header, the query or the body.
func (w *webhookServer) reject(rw http.ResponseWriter, req *http.Request, reason string, cause error) {
	a := answers[reason]
	w.count(req.Context(), a.outcome, reason)
	fields := []zap.Field{zap.String("reason", reason), zap.Int("status", a.status), zap.String("path", req.URL.Path),
		zap.String("client.address", clientHost(req.RemoteAddr)), zap.Int64("content_length", req.ContentLength)}
	if cause != nil {
		fields = append(fields, zap.Error(cause))
	}
	msg := "Webhook delivery not accepted: " + a.text
	switch reason {
	case reasonNotFound, reasonMethodNotAllowed:
		w.log.Debug(msg, fields...) // scanners and probes: not worth a warning
	case reasonPipelinePermanent:
		w.sampled.Error(msg, fields...)
	default:
		w.sampled.Warn(msg, fields...)
	}
	http.Error(rw, a.text, a.status)
}

func (w *webhookServer) count(ctx context.Context, outcome, reason string) {
	w.tb.ReceiverStackoneWebhookRequests.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(
		attribute.String("outcome", outcome), attribute.String("reason", reason))))
}

// setPipelineError reports the webhook's pipeline condition into the receiver's component status, beside the
// streams': RecoverableError while the pipeline refuses events, cleared by the next accepted one.
func (w *webhookServer) setPipelineError(err error) {
	w.healthMu.Lock()
	defer w.healthMu.Unlock()
	if sameError(w.pipelineErr, err) {
		return
	}
	w.pipelineErr = err
	var errs [numConditions]error
	if err != nil {
		errs[condPipeline] = fmt.Errorf("the pipeline refuses webhook events, answered 503 so StackOne delivers them again: %w", err)
	}
	if w.health != nil {
		w.health.update(webhookStream, errs)
	}
}

func jsonMediaType(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || len(mt) > 5 && mt[len(mt)-5:] == "+json"
}

func clientHost(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}

type queryTokenKey struct{}

// withoutQueryToken takes ?token= off the request before anything else sees it: the collector's HTTP
// instrumentation (spans and metrics), middlewares, authenticators and the error log all get the request
// without it; the handler finds it in the context. A query that does not parse is dropped whole, since
// where a token is in it cannot be told.
func withoutQueryToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		if req.URL.RawQuery == "" {
			next.ServeHTTP(rw, req)
			return
		}
		q, err := url.ParseQuery(req.URL.RawQuery)
		token, hasToken := "", false
		if vs, ok := q["token"]; ok && len(vs) > 0 {
			token, hasToken = vs[0], true
			q.Del("token")
		}
		if err != nil {
			q = nil
		}
		ctx := req.Context()
		if hasToken {
			ctx = context.WithValue(ctx, queryTokenKey{}, token)
		}
		req = req.WithContext(ctx)
		u := *req.URL
		u.RawQuery = q.Encode()
		req.URL = &u
		req.RequestURI = u.RequestURI()
		next.ServeHTTP(rw, req)
	})
}
