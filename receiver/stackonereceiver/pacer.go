package stackonereceiver

import (
	"context"
	"sync"
	"time"
)

// budgetWindow is the span max_requests_per_minute is counted over.
const budgetWindow = time.Minute

// pacer spends the API key's request budget. Every call, from every stream and catch-up slice, waits here
// first: for the pause the server last asked for (the limit is per key, so a 429 on one stream holds them
// all), then for a free slot among the last max_requests_per_minute calls.
type pacer struct {
	now  func() time.Time
	wait func(ctx context.Context, d time.Duration) error

	mu          sync.Mutex
	pausedUntil time.Time
	// sent holds the send times of the last max_requests_per_minute calls, a ring from next: a call may go
	// once the oldest of them is a minute old. No 60-second window ever holds more calls than the budget, yet
	// a sweep or a catch-up may spend the budget at once rather than one call every 60/budget seconds.
	sent []time.Time
	next int
	// clock and sleep measure the budget in real time, whatever clock the rest of the receiver runs on.
	clock func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

func newPacer(perMinute int, now func() time.Time, wait func(context.Context, time.Duration) error) *pacer {
	return &pacer{now: now, wait: wait, sent: make([]time.Time, perMinute), clock: time.Now, sleep: sleepCtx}
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
	return p.reserve(ctx)
}

// reserve takes the next slot in the budget, waiting for it when the last budget's worth of calls all fall
// within the past minute. A caller whose context ends first gives its slot back.
func (p *pacer) reserve(ctx context.Context) error {
	p.mu.Lock()
	now := p.clock()
	at := now
	if oldest := p.sent[p.next]; !oldest.IsZero() {
		at = laterOf(now, oldest.Add(budgetWindow))
	}
	if deadline, ok := ctx.Deadline(); ok && at.After(deadline) {
		p.mu.Unlock()
		return context.DeadlineExceeded
	}
	slot, previous := p.next, p.sent[p.next]
	p.sent[slot] = at
	p.next = (p.next + 1) % len(p.sent)
	p.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		if err := p.sleep(ctx, d); err != nil {
			p.mu.Lock()
			if p.sent[slot].Equal(at) {
				p.sent[slot] = previous
			}
			p.mu.Unlock()
			return err
		}
	}
	return nil
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
