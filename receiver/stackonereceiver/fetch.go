package stackonereceiver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"go.opentelemetry.io/collector/config/configretry"
	"go.uber.org/zap"

	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/stackoneapi"
)

// maxRetryAfter is the longest a server's Retry-After holds the key's calls. StackOne's limits reset within a
// minute; a longer answer is a fault somewhere (a proxy's date, a misread header), and waiting it out as sent
// could stop polling for years. Five minutes still backs off far more than any real limit asks.
const maxRetryAfter = 5 * time.Minute

var (
	errAuth           = errors.New("API key rejected")
	errStreamNotFound = errors.New("log stream not available")
)

// retrier paces the retries of one stream: API calls and pages the pipeline refused.
type retrier struct {
	cfg   configretry.BackOffConfig
	now   func() time.Time
	wait  func(ctx context.Context, d time.Duration) error
	pacer *pacer
}

// attempt tracks one operation's retries against max_elapsed_time.
type attempt struct {
	r       *retrier
	b       *backoff.ExponentialBackOff
	started time.Time
}

func (r *retrier) start() *attempt {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = r.cfg.InitialInterval
	b.RandomizationFactor = r.cfg.RandomizationFactor
	b.Multiplier = r.cfg.Multiplier
	b.MaxInterval = r.cfg.MaxInterval
	b.Reset()
	return &attempt{r: r, b: b, started: r.now()}
}

// next waits before the next try and reports false when the retry budget is spent. A server's Retry-After is
// honoured as sent, up to maxRetryAfter (fetch cuts it): the key's pacer holds every call, from every stream,
// until then, and no back-off is added on top. It is kept even when it reaches past max_elapsed_time and this
// operation gives up.
func (a *attempt) next(ctx context.Context, retryAfter time.Duration) (time.Duration, bool, error) {
	cfg := a.r.cfg
	if !cfg.Enabled {
		if retryAfter > 0 {
			a.r.pacer.pause(retryAfter)
		}
		return 0, false, nil
	}
	d := retryAfter
	if d <= 0 {
		d = a.b.NextBackOff()
	}
	if cfg.MaxElapsedTime > 0 && a.r.now().Add(d).Sub(a.started) > cfg.MaxElapsedTime {
		if retryAfter > 0 {
			a.r.pacer.pause(retryAfter)
		}
		return d, false, nil
	}
	if retryAfter > 0 {
		a.r.pacer.pause(retryAfter) // acquire waits it out before the retry
		return d, true, nil
	}
	return d, true, a.r.wait(ctx, d)
}

// pageSizer is one stream's page size. It starts at page_size and only ever halves, each time the server
// refuses the size a read asked for, and stays lowered while the receiver runs: a server that refused a size
// once will refuse it again.
type pageSizer struct{ n atomic.Int64 }

func newPageSizer(n int) *pageSizer {
	p := &pageSizer{}
	p.n.Store(int64(max(n, 1)))
	return p
}

func (p *pageSizer) get() int { return int(p.n.Load()) }

// refused is told that the server refused the size asked. It returns the size to ask for now and whether this
// call lowered it: the live read and the catch-up slices may all be refused the same size at once, and the
// size then halves once, not once per reader. ok is false when there is nothing smaller to ask for.
func (p *pageSizer) refused(asked int) (now int, lowered, ok bool) {
	for {
		cur := p.n.Load()
		if cur < int64(asked) {
			return int(cur), false, true
		}
		if asked <= 1 {
			return 1, false, false
		}
		if p.n.CompareAndSwap(cur, int64(asked/2)) {
			return asked / 2, true, true
		}
	}
}

// fetch calls the API through the pacer, with retries: 429/408 and 5xx wait Retry-After when sent, 5xx,
// network errors and cut-off bodies back off exponentially, and a refused page size is halved and asked again
// at once. Each failure is counted by class and sets the stream's API condition; a success clears it.
func (s *stream) fetch(ctx context.Context, background bool, call func(ctx context.Context, pageSize int) (stackoneapi.Page, error)) (stackoneapi.Page, error) {
	a := s.retry.start()
	for {
		if err := s.retry.pacer.acquire(ctx, background); err != nil {
			return stackoneapi.Page{}, err
		}
		asked := s.pageSize.get()
		page, err := call(ctx, asked)
		if err == nil {
			s.lastSuccess.Store(s.now().UnixNano())
			s.setCondition(condAPI, nil)
			return page, nil
		}
		if ctx.Err() != nil {
			return page, ctx.Err()
		}
		class, retryable, hint := classify(err)
		s.tel.apiError(ctx, class)
		if hint > maxRetryAfter {
			s.tel.retryAfterCapped(ctx)
			s.sampled.Warn("StackOne's Retry-After asks for a longer wait than the receiver takes; waiting the maximum instead",
				zap.String("stream", s.name), zap.Duration("retry_after", hint), zap.Duration("max", maxRetryAfter))
			hint = maxRetryAfter
		}
		switch class {
		case "auth":
			err = fmt.Errorf("%w: %w", errAuth, err)
			s.setCondition(condAuth, err)
			s.sampled.Error("StackOne rejected the API key; retrying every 5 minutes", zap.String("stream", s.name), zap.Error(err))
			return page, err
		case "not_found":
			return page, fmt.Errorf("%w: %w", errStreamNotFound, err)
		case "cursor_expired":
			s.sampled.Warn("StackOne rejected the paging cursor; restarting the query from the last delivered page", zap.String("stream", s.name))
			return page, err
		case "page_size":
			// Waiting would get the same answer: smaller pages are the fix, and they cost only more calls.
			if now, lowered, ok := s.pageSize.refused(asked); ok {
				if lowered {
					s.tel.pageSizeHalved(ctx)
					s.sampled.Warn("StackOne refused the page size; this stream asks for smaller pages from now on",
						zap.String("stream", s.name), zap.Int("refused_page_size", asked), zap.Int("page_size", now), zap.Error(err))
				}
				continue
			}
		}
		s.setCondition(condAPI, err)
		if !retryable {
			s.sampled.Error("StackOne API call failed; giving up this poll", zap.String("stream", s.name), zap.String("error.class", class), zap.Error(err))
			return page, err
		}
		d, ok, werr := a.next(ctx, hint)
		if !ok {
			s.sampled.Error("StackOne API call keeps failing; giving up this poll, the next one resumes from the position",
				zap.String("stream", s.name), zap.String("error.class", class), zap.Error(err))
			return page, err
		}
		s.sampled.Warn("StackOne API call failed; retrying", zap.String("stream", s.name), zap.String("error.class", class), zap.Duration("retry_in", d), zap.Error(err))
		s.tel.retry(ctx)
		if werr != nil {
			return page, werr
		}
	}
}

// fetchLive and fetchBackground are fetch for the live read and for the catch-up slices, which give way to it.
func (s *stream) fetchLive(ctx context.Context, call func(context.Context, int) (stackoneapi.Page, error)) (stackoneapi.Page, error) {
	return s.fetch(ctx, false, call)
}

func (s *stream) fetchBackground(ctx context.Context, call func(context.Context, int) (stackoneapi.Page, error)) (stackoneapi.Page, error) {
	return s.fetch(ctx, true, call)
}

// classify names an API failure for telemetry and says whether the same call may succeed later.
func classify(err error) (class string, retryable bool, retryAfter time.Duration) {
	var ae *stackoneapi.APIError
	var ne *stackoneapi.NetworkError
	var de *stackoneapi.DecodeError
	var te *stackoneapi.TooLargeError
	var re *stackoneapi.RedirectError
	switch {
	case errors.As(err, &ae):
		switch {
		case ae.CursorRejected:
			return "cursor_expired", false, 0
		case ae.PageSizeRefused:
			return "page_size", false, 0
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
	case errors.As(err, &te):
		return "too_large", false, 0
	case errors.As(err, &re):
		return "redirect", false, 0
	case errors.As(err, &ne):
		return "network", true, 0
	case errors.As(err, &de):
		return "decode", true, 0
	}
	return "other", false, 0
}
