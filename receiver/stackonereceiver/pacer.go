package stackonereceiver

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// pacer spends the API key's request budget. Every call, from every stream and catch-up slice, waits here
// first: for the pause the server last asked for (the limit is per key, so a 429 on one stream holds them
// all), then for the next token of max_requests_per_minute.
type pacer struct {
	limiter *rate.Limiter
	now     func() time.Time
	wait    func(ctx context.Context, d time.Duration) error

	mu          sync.Mutex
	pausedUntil time.Time
}

// newPacer spaces calls evenly at max_requests_per_minute with no burst, so no 60-second window ever holds
// more calls than the budget, however the calls of several streams interleave.
func newPacer(perMinute int, now func() time.Time, wait func(context.Context, time.Duration) error) *pacer {
	return &pacer{limiter: rate.NewLimiter(rate.Limit(float64(perMinute)/60), 1), now: now, wait: wait}
}

// acquire returns when the next call may be sent.
func (p *pacer) acquire(ctx context.Context) error {
	p.mu.Lock()
	until := p.pausedUntil
	p.mu.Unlock()
	if d := until.Sub(p.now()); d > 0 {
		if err := p.wait(ctx, d); err != nil {
			return err
		}
		p.mu.Lock()
		if p.pausedUntil.Equal(until) {
			p.pausedUntil = time.Time{} // served
		}
		p.mu.Unlock()
	}
	return p.limiter.Wait(ctx)
}

// pause holds every call until the server's Retry-After has passed. A shorter pause never cuts a longer one.
func (p *pacer) pause(d time.Duration) {
	until := p.now().Add(d)
	p.mu.Lock()
	defer p.mu.Unlock()
	if until.After(p.pausedUntil) {
		p.pausedUntil = until
	}
}
