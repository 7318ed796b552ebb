package stackonereceiver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/stackoneapi"
)

// authRetryInterval paces polls while the key is rejected: the fix is a config change, so polling faster
// would only burn the customer's shared rate limit.
const authRetryInterval = 5 * time.Minute

var (
	errAuth           = errors.New("API key rejected")
	errStreamNotFound = errors.New("log stream not available")
)

// stream polls one StackOne log stream. Data flows one way: page -> de-duplicate -> map -> ConsumeLogs ->
// advance the checkpoint. Only the fetch differs between streams (cursor or page-number paging).
type stream struct {
	r      *stackoneReceiver
	schema *schema
	store  *positionStore
	cp     *checkpoint
	// poll reads from the checkpoint to the end of the stream, delivering page by page.
	poll  func(ctx context.Context) error
	attrs metric.MeasurementOption

	// Read by the telemetry callbacks while the stream runs.
	lastSuccess atomic.Int64 // Unix nanoseconds of the last successful API call, 0 before the first
	disabled    atomic.Bool
}

func (r *stackoneReceiver) newStream(s *schema) *stream {
	return &stream{
		r:      r,
		schema: s,
		store:  &positionStore{client: r.storage, key: "position." + s.stream},
		attrs:  metric.WithAttributeSet(attribute.NewSet(attribute.String("stream", s.stream))),
	}
}

// newCursorStream reads a cursor-paginated endpoint in event-time order. A rejected cursor restarts the query
// from the checkpoint, which loses nothing: everything before it was delivered, and re-reads are de-duplicated.
func (r *stackoneReceiver) newCursorStream(s *schema, client *stackoneapi.Client, path string, filter stackoneapi.RequestLogFilter) *stream {
	st := r.newStream(s)
	st.poll = func(ctx context.Context) error {
		// Ascending event time is what makes a page-by-page checkpoint safe: everything before the watermark
		// has been read. Step logs have no event_datetime; the API orders them by their start time.
		q := stackoneapi.CursorQuery{Start: st.queryStart(), Filter: filter, PageSize: r.cfg.PageSize, OrderBy: "eventDatetime"}
		restarts := 0
		for ctx.Err() == nil {
			page, err := st.fetch(ctx, func(ctx context.Context) (stackoneapi.Page, error) {
				return client.ListCursor(ctx, path, q)
			})
			var ae *stackoneapi.APIError
			if errors.As(err, &ae) && ae.CursorRejected && restarts < 3 {
				restarts++
				r.sampled.Warn("StackOne rejected the paging cursor; restarting the query from the saved position", zap.String("stream", s.stream))
				q.Next, q.Start = "", st.queryStart()
				continue
			}
			if err != nil {
				return err
			}
			if _, err := st.deliver(ctx, page); err != nil {
				return err
			}
			if page.Next == "" {
				return nil
			}
			q.Next = page.Next
		}
		return ctx.Err()
	}
	return st
}

// queryStart is where a poll begins: the late-arrival window before the watermark, never older than StackOne
// keeps logs (an older start date returns nothing or an error).
func (s *stream) queryStart() time.Time {
	start := s.cp.queryStart(s.r.cfg.LateArrivalWindow)
	if oldest := s.r.now().Add(-retention + time.Hour); start.Before(oldest) {
		s.r.sampled.Warn("Saved position is older than StackOne's 90-day retention; logs before the retention limit are gone",
			zap.String("stream", s.schema.stream), zap.Time("position", start))
		return oldest
	}
	return start
}

func (s *stream) run(ctx context.Context) {
	if !s.loadCheckpoint(ctx) {
		return
	}
	for {
		err := s.poll(ctx)
		delay := s.r.cfg.PollInterval
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, errStreamNotFound):
			s.disabled.Store(true)
			s.r.settings.Logger.Error("StackOne answered 404 for this log stream: it is not enabled for this account or endpoint. The stream is disabled until restart; other streams keep flowing.",
				zap.String("stream", s.schema.stream), zap.Error(err))
			return
		case errors.Is(err, errAuth):
			delay = max(delay, authRetryInterval)
		case err != nil:
			s.r.sampled.Warn("Poll failed; the position is kept and the next poll resumes from it",
				zap.String("stream", s.schema.stream), zap.Error(err), zap.Duration("next_poll_in", delay))
		}
		if s.r.waitPoll(ctx, delay) != nil {
			return
		}
	}
}

// loadCheckpoint reads the stored position. A read error is retried, never taken for "no position"; a corrupt
// value is reported and replaced by a fresh start at initial_lookback.
func (s *stream) loadCheckpoint(ctx context.Context) bool {
	b := s.newBackOff()
	for {
		cp, err := s.store.load(ctx)
		switch {
		case err == nil && cp != nil:
			s.cp = cp
			s.r.settings.Logger.Info("Resuming from the stored position", zap.String("stream", s.schema.stream), zap.Time("watermark", cp.Watermark))
			return true
		case err == nil || errors.Is(err, errCorruptCheckpoint):
			if err != nil {
				s.r.telemetry.ReceiverStackoneCheckpointErrors.Add(ctx, 1, s.attrs)
				s.r.settings.Logger.Error("Ignoring the stored position and starting from initial_lookback", zap.String("stream", s.schema.stream), zap.Error(err))
			}
			s.cp = newCheckpoint(s.r.now().Add(-s.r.cfg.InitialLookback))
			// Saved at once, so a restart before the first entry keeps this start instead of sliding it.
			s.save(ctx)
			return true
		}
		s.r.telemetry.ReceiverStackoneCheckpointErrors.Add(ctx, 1, s.attrs)
		s.r.sampled.Error("Cannot read the stored position; retrying before polling", zap.String("stream", s.schema.stream), zap.Error(err))
		s.reportStatus(componentstatus.NewRecoverableErrorEvent(err))
		if s.r.wait(ctx, b.NextBackOff()) != nil {
			return false
		}
	}
}

func (s *stream) newBackOff() *backoff.ExponentialBackOff {
	cfg := s.r.cfg.BackOff
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = cfg.InitialInterval
	b.RandomizationFactor = cfg.RandomizationFactor
	b.Multiplier = cfg.Multiplier
	b.MaxInterval = cfg.MaxInterval
	b.Reset()
	return b
}

// retryWait is how long to wait before trying again, or false when the retry budget is spent.
func (s *stream) retryWait(b *backoff.ExponentialBackOff, started time.Time, serverHint time.Duration) (time.Duration, bool) {
	cfg := s.r.cfg.BackOff
	if !cfg.Enabled {
		return 0, false
	}
	d := max(b.NextBackOff(), serverHint)
	if cfg.MaxElapsedTime > 0 && s.r.now().Add(d).Sub(started) > cfg.MaxElapsedTime {
		return 0, false
	}
	return d, true
}

// fetch calls the API with retries: 429/408 wait Retry-After, 5xx, network errors and cut-off bodies back off
// exponentially. Each failure is counted by class and moves the component status; a success restores it.
func (s *stream) fetch(ctx context.Context, call func(context.Context) (stackoneapi.Page, error)) (stackoneapi.Page, error) {
	b := s.newBackOff()
	started := s.r.now()
	for {
		page, err := call(ctx)
		if err == nil {
			s.lastSuccess.Store(s.r.now().UnixNano())
			s.reportStatus(componentstatus.NewEvent(componentstatus.StatusOK))
			return page, nil
		}
		if ctx.Err() != nil {
			return page, ctx.Err()
		}
		class, retryable, hint := classify(err)
		s.r.telemetry.ReceiverStackoneAPIErrors.Add(ctx, 1, metric.WithAttributes(attribute.String("stream", s.schema.stream), attribute.String("error.class", class)))
		switch class {
		case "auth":
			s.reportStatus(componentstatus.NewPermanentErrorEvent(err))
			s.r.sampled.Error("StackOne rejected the API key; retrying every 5 minutes", zap.String("stream", s.schema.stream), zap.Error(err))
			return page, fmt.Errorf("%w: %w", errAuth, err)
		case "not_found":
			return page, fmt.Errorf("%w: %w", errStreamNotFound, err)
		case "cursor_expired":
			return page, err
		}
		s.reportStatus(componentstatus.NewRecoverableErrorEvent(err))
		d, ok := s.retryWait(b, started, hint)
		if !retryable || !ok {
			s.r.sampled.Error("StackOne API call failed; giving up this poll", zap.String("stream", s.schema.stream), zap.String("error.class", class), zap.Error(err))
			return page, err
		}
		s.r.sampled.Warn("StackOne API call failed; retrying", zap.String("stream", s.schema.stream), zap.String("error.class", class), zap.Duration("retry_in", d), zap.Error(err))
		s.r.telemetry.ReceiverStackoneRetries.Add(ctx, 1, s.attrs)
		if err := s.r.wait(ctx, d); err != nil {
			return page, err
		}
	}
}

// classify names an API failure for telemetry and says whether the same call may succeed later.
func classify(err error) (class string, retryable bool, retryAfter time.Duration) {
	var ae *stackoneapi.APIError
	var ne *stackoneapi.NetworkError
	var de *stackoneapi.DecodeError
	switch {
	case errors.As(err, &ae):
		switch {
		case ae.CursorRejected:
			return "cursor_expired", false, 0
		case ae.StatusCode == http.StatusUnauthorized || ae.StatusCode == http.StatusForbidden:
			return "auth", false, 0
		case ae.StatusCode == http.StatusNotFound:
			return "not_found", false, 0
		case ae.StatusCode == http.StatusTooManyRequests || ae.StatusCode == http.StatusRequestTimeout:
			return "rate_limited", true, ae.RetryAfter
		case ae.StatusCode >= 500:
			return "5xx", true, ae.RetryAfter
		default:
			return "4xx", false, 0
		}
	case errors.As(err, &ne):
		return "network", true, 0
	case errors.As(err, &de):
		return "decode", true, 0
	}
	return "other", false, 0
}

func (s *stream) reportStatus(ev *componentstatus.Event) {
	s.r.reportStatus(s.schema.stream, ev)
}

// deliver sends the page's new entries downstream and, only once they are accepted, advances the position.
// It returns the newest event time on the page (zero when none parses), which keyset paging continues from.
func (s *stream) deliver(ctx context.Context, page stackoneapi.Page) (newest time.Time, err error) {
	s.r.telemetry.ReceiverStackonePagesFetched.Add(ctx, 1, s.attrs)
	if page.NotObjects > 0 {
		s.r.telemetry.ReceiverStackoneEntriesMalformed.Add(ctx, int64(page.NotObjects), metric.WithAttributes(attribute.String("stream", s.schema.stream), attribute.String("reason", "not_an_object")))
		s.r.sampled.Warn("Skipped page elements that are not JSON objects", zap.String("stream", s.schema.stream), zap.Int("count", page.NotObjects))
	}
	type emitted struct {
		id string
		t  time.Time
	}
	fresh := make([]emitted, 0, len(page.Entries))
	inPage := make(map[string]bool, len(page.Entries))
	ld, lrs := s.r.mapper.newLogs()
	observed := pcommon.NewTimestampFromTime(s.r.now())
	dups, invalid, badTime := 0, 0, 0
	// Every entry is mapped in one pass that also yields its id and time; duplicates are dropped afterwards.
	keep := make([]bool, 0, len(page.Entries))
	for _, raw := range page.Entries {
		meta := s.r.mapper.appendRecord(lrs, s.schema, raw, observed)
		if meta.time.After(newest) {
			newest = meta.time
		}
		if s.cp.seen(meta.id) || inPage[meta.id] {
			dups++
			keep = append(keep, false)
			continue
		}
		id := strings.Clone(meta.id) // it may alias the page, and the position keeps it for the whole window
		inPage[id] = true
		keep = append(keep, true)
		if meta.invalid > 0 {
			invalid++
		}
		if meta.badTime {
			badTime++
		}
		fresh = append(fresh, emitted{id, meta.time})
	}
	if dups > 0 {
		i := 0
		lrs.RemoveIf(func(plog.LogRecord) bool {
			drop := !keep[i]
			i++
			return drop
		})
	}
	if !newest.IsZero() {
		s.r.telemetry.ReceiverStackoneLag.Record(ctx, s.r.now().Sub(newest).Seconds(), s.attrs)
	}
	if dups > 0 {
		s.r.telemetry.ReceiverStackoneDuplicatesDropped.Add(ctx, int64(dups), s.attrs)
	}
	if invalid > 0 {
		s.r.telemetry.ReceiverStackoneEntriesMalformed.Add(ctx, int64(invalid), metric.WithAttributes(attribute.String("stream", s.schema.stream), attribute.String("reason", "invalid_field")))
		s.r.sampled.Warn("Emitted entries without fields whose values had an unexpected type", zap.String("stream", s.schema.stream), zap.Int("entries", invalid))
	}
	if badTime > 0 {
		s.r.telemetry.ReceiverStackoneEntriesMalformed.Add(ctx, int64(badTime), metric.WithAttributes(attribute.String("stream", s.schema.stream), attribute.String("reason", "invalid_time")))
		s.r.sampled.Warn("Emitted entries without a timestamp because their event time does not parse", zap.String("stream", s.schema.stream), zap.Int("entries", badTime))
	}
	if len(fresh) == 0 {
		return newest, nil
	}
	if err := s.consume(ctx, ld); err != nil {
		return newest, err
	}
	now := s.r.now()
	for _, f := range fresh {
		s.cp.add(f.id, f.t, now)
	}
	s.cp.prune(s.r.cfg.LateArrivalWindow)
	s.r.telemetry.ReceiverStackoneRecordsEmitted.Add(ctx, int64(len(fresh)), s.attrs)
	s.save(ctx)
	return newest, nil
}

// consume hands a page to the pipeline. A refusal (memory_limiter, a full queue) is retried with back-off and
// never skipped; only a permanent error, which no retry can fix, lets the position move past the page.
// The call itself is not cancelled by shutdown, so a page in flight completes and is checkpointed.
func (s *stream) consume(ctx context.Context, ld plog.Logs) error {
	b := s.newBackOff()
	started := s.r.now()
	n := ld.LogRecordCount()
	for {
		opCtx := s.r.obsrecv.StartLogsOp(context.WithoutCancel(ctx))
		err := s.r.next.ConsumeLogs(opCtx, ld)
		s.r.obsrecv.EndLogsOp(opCtx, "stackone_json", n, err)
		if err == nil {
			return nil
		}
		if consumererror.IsPermanent(err) {
			s.r.settings.Logger.Error("The pipeline permanently rejected a page of StackOne logs; they are dropped and the position moves on",
				zap.String("stream", s.schema.stream), zap.Int("records", n), zap.Error(err))
			return nil
		}
		d, ok := s.retryWait(b, started, 0)
		if !ok {
			s.r.sampled.Error("The pipeline keeps refusing StackOne logs; the position is kept and the next poll retries", zap.String("stream", s.schema.stream), zap.Error(err))
			return err
		}
		s.r.sampled.Warn("The pipeline refused StackOne logs; retrying the same page", zap.String("stream", s.schema.stream), zap.Duration("retry_in", d), zap.Error(err))
		s.r.telemetry.ReceiverStackoneRetries.Add(ctx, 1, s.attrs)
		if err := s.r.wait(ctx, d); err != nil {
			return err
		}
	}
}

// save writes the position. A failure is logged and counted but does not stop polling: the in-memory position
// is still right, and the next page's save writes it again.
func (s *stream) save(ctx context.Context) {
	n, err := s.store.save(ctx, s.cp)
	s.r.telemetry.ReceiverStackoneCheckpointBytes.Add(ctx, int64(n), s.attrs)
	if err != nil {
		s.r.telemetry.ReceiverStackoneCheckpointErrors.Add(ctx, 1, s.attrs)
		s.r.sampled.Error("Could not save the position; polling continues and the next page retries the save", zap.String("stream", s.schema.stream), zap.Error(err))
	}
}

func (s *stream) saveFinal(ctx context.Context) error {
	if s.cp == nil {
		return nil
	}
	_, err := s.store.save(ctx, s.cp)
	return err
}
