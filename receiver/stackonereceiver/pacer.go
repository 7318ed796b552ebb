package stackonereceiver

import (
	"context"
	"slices"
	"sync"
	"time"
)

const (
	// budgetWindow is the span max_requests_per_minute is counted over, plus a margin: a call reaches the
	// server a moment after it leaves the pacer, and those moments vary, so calls spaced exactly a minute apart
	// here could arrive slightly closer there (the bench counted 61-64 calls in a minute at a budget of 60).
	budgetWindow = time.Minute + time.Second
	// burstWindow spreads the budget: at most a sixth of it goes out in any 10 seconds, so a sweep or a
	// catch-up starts at once but a minute's budget is not spent in its first second and then nothing.
	burstWindow = 10 * time.Second
)

// pacer spends the API key's request budget. Every call, from every stream and catch-up slice, waits here
// first: for the pause the server last asked for (the limit is per key, so a 429 on one stream holds them
// all), then for a free slot in the budget.
type pacer struct {
	now  func() time.Time
	wait func(ctx context.Context, d time.Duration) error

	mu          sync.Mutex
	pausedUntil time.Time
	// minute holds the send times of the last max_requests_per_minute calls: a call may go once the oldest is a
	// minute old, so no 60-second window ever holds more calls than the budget. burst does the same for a
	// sixth of the budget over 10 seconds.
	minute, burst sendLog
	// clock and sleep measure the budget in real time, whatever clock the rest of the receiver runs on.
	clock func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

// sendLog holds the send times of the last len(at) calls, some of them reserved ahead by calls waiting for
// their turn. A call replaces the oldest time: not simply the next in a ring, because a catch-up call taking a
// slot free now would otherwise overwrite the time a live read reserved ahead, and the window would hold one
// call more than the budget.
type sendLog struct {
	at   []time.Time
	span time.Duration
}

func newSendLog(calls int, span time.Duration) sendLog {
	return sendLog{at: make([]time.Time, max(1, calls)), span: span}
}

// oldest is the slot with the earliest time (a slot never used counts as earliest).
func (l *sendLog) oldest() int {
	i := 0
	for j, t := range l.at {
		if t.Before(l.at[i]) {
			i = j
		}
	}
	return i
}

// free is when the next call fits.
func (l *sendLog) free() time.Time {
	if oldest := l.at[l.oldest()]; !oldest.IsZero() {
		return oldest.Add(l.span)
	}
	return time.Time{}
}

// freeLeaving is when a call fits and still leaves one slot free for a live read (for budgets of more than one
// call): a catch-up that fills every slot as it frees would make each page of a sweep wait a turn.
func (l *sendLog) freeLeaving(now time.Time) time.Time {
	headroom := min(1, len(l.at)-1)
	since := now.Add(-l.span)
	var busy []time.Time
	for _, t := range l.at {
		if t.After(since) {
			busy = append(busy, t)
		}
	}
	need := headroom + 1 - (len(l.at) - len(busy)) // calls that must leave the window first
	if need <= 0 {
		return now
	}
	slices.SortFunc(busy, time.Time.Compare)
	return busy[need-1].Add(l.span)
}

// take records a call at t in place of the oldest time and returns what it replaced, to give the slot back.
func (l *sendLog) take(t time.Time) (slot int, previous time.Time) {
	slot = l.oldest()
	previous = l.at[slot]
	l.at[slot] = t
	return slot, previous
}

func (l *sendLog) giveBack(slot int, t, previous time.Time) {
	if l.at[slot].Equal(t) {
		l.at[slot] = previous
	}
}

func newPacer(perMinute int, now func() time.Time, wait func(context.Context, time.Duration) error) *pacer {
	perBurst := (perMinute + 5) / 6 // rounded up: the minute's log still caps the total
	return &pacer{
		now: now, wait: wait, clock: time.Now, sleep: sleepCtx,
		minute: newSendLog(perMinute, budgetWindow),
		burst:  newSendLog(perBurst, burstWindow),
	}
}

// acquire returns when the next call may be sent. A background call (a catch-up slice) gives way to the live
// reads: it takes only a slot that is free when it asks, never reserves one ahead, so a live read waiting for
// the next slot gets it first and a catch-up spends only what the live reads leave. A pause the server asks for
// while a call waits for its slot holds that call too: the slot goes back, and the call takes one anew once
// the pause is over, so the budget counts the call when it is really sent.
func (p *pacer) acquire(ctx context.Context, background bool) error {
	for {
		if err := p.waitPause(ctx); err != nil {
			return err
		}
		var t ticket
		var err error
		if background {
			t, err = p.takeFree(ctx)
		} else {
			t, err = p.reserve(ctx)
		}
		if err != nil {
			return err
		}
		p.mu.Lock()
		paused := p.pausedUntil.After(p.now())
		if paused {
			t.giveBack(p)
		}
		p.mu.Unlock()
		if !paused {
			return nil
		}
	}
}

// waitPause waits for the pause the server last asked for, if any.
func (p *pacer) waitPause(ctx context.Context) error {
	p.mu.Lock()
	until := p.pausedUntil
	p.mu.Unlock()
	d := until.Sub(p.now())
	if d <= 0 {
		return nil
	}
	if err := p.wait(ctx, d); err != nil {
		return err
	}
	p.mu.Lock()
	if p.pausedUntil.Equal(until) {
		p.pausedUntil = time.Time{} // served, even on a clock that does not move while a test waits
	}
	p.mu.Unlock()
	return nil
}

// ticket is the slots one call took in the minute's and the burst's logs, to give them back.
type ticket struct {
	at           time.Time
	mSlot, bSlot int
	mPrev, bPrev time.Time
}

// giveBack returns the call's slots; p.mu must be held.
func (t ticket) giveBack(p *pacer) {
	p.minute.giveBack(t.mSlot, t.at, t.mPrev)
	p.burst.giveBack(t.bSlot, t.at, t.bPrev)
}

// takeFree takes a slot that is free now and leaves one for a live read, waiting until there is one.
func (p *pacer) takeFree(ctx context.Context) (ticket, error) {
	for {
		p.mu.Lock()
		now := p.clock()
		at := p.spareAt(now)
		if !at.After(now) {
			t := ticket{at: now}
			t.mSlot, t.mPrev = p.minute.take(now)
			t.bSlot, t.bPrev = p.burst.take(now)
			p.mu.Unlock()
			return t, nil
		}
		p.mu.Unlock()
		if err := p.sleep(ctx, at.Sub(now)); err != nil {
			return ticket{}, err
		}
	}
}

// reserve takes the next slot in the budget, waiting for it when the last calls fill the window. A caller
// whose context ends first gives its slot back.
func (p *pacer) reserve(ctx context.Context) (ticket, error) {
	p.mu.Lock()
	now := p.clock()
	at := laterOf(now, p.freeAt())
	if deadline, ok := ctx.Deadline(); ok && at.After(deadline) {
		p.mu.Unlock()
		return ticket{}, context.DeadlineExceeded
	}
	t := ticket{at: at}
	t.mSlot, t.mPrev = p.minute.take(at)
	t.bSlot, t.bPrev = p.burst.take(at)
	p.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		if err := p.sleep(ctx, d); err != nil {
			p.mu.Lock()
			t.giveBack(p)
			p.mu.Unlock()
			return ticket{}, err
		}
	}
	return t, nil
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

// freeAt is when the next call fits both the minute's budget and the burst's.
func (p *pacer) freeAt() time.Time { return laterOf(p.minute.free(), p.burst.free()) }

// spareAt is when a call fits both and still leaves a slot for a live read (sendLog.freeLeaving).
func (p *pacer) spareAt(now time.Time) time.Time {
	return laterOf(p.minute.freeLeaving(now), p.burst.freeLeaving(now))
}

// takeSpare takes a slot for a call that must never wait and never hold up the reads (a detail call): only when
// the reads' budget has a slot free now beyond the one a live read may want next, as a catch-up call does, and
// the call's own share has one free now. The call goes without when it is refused.
func takeSpare(reads, share *pacer) bool {
	reads.mu.Lock()
	defer reads.mu.Unlock()
	share.mu.Lock()
	defer share.mu.Unlock()
	now := reads.clock()
	if reads.spareAt(now).After(now) || share.freeAt().After(now) {
		return false
	}
	for _, l := range []*sendLog{&reads.minute, &reads.burst, &share.minute, &share.burst} {
		l.take(now)
	}
	return true
}

// paused reports whether a pause the server asked for holds the key's calls now.
func (p *pacer) paused() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pausedUntil.After(p.now())
}
