package stackonereceiver

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"
)

// maxDedupEntries bounds the memory of the dedup window: a digest costs about 100 bytes (map entry and queue
// slot), so the window holds at most about 10 MB. Past it the oldest digests are forgotten early: a
// re-delivery of those would be emitted again (at-least-once), nothing is lost.
const maxDedupEntries = 100_000

type digest [sha256.Size]byte

// dedup remembers the digests of the bodies emitted within a window, and lets one delivery of a body at a
// time reach the pipeline. A digest is recorded only once the pipeline accepted its event, so a delivery that
// was answered 503 is emitted when StackOne sends it again.
type dedup struct {
	window time.Duration
	max    int
	now    func() time.Time

	mu       sync.Mutex
	seen     map[digest]int64 // digest -> when it was recorded (unix ns)
	queue    []seenDigest     // the same digests in the order recorded, oldest at head
	head     int
	inflight map[digest]chan struct{} // closed when the delivery holding the digest is done
	// evicted counts digests forgotten before their window ended because the window was full.
	evicted int
	// onWait, when set, runs as a claim starts waiting for a delivery in flight: tests wait on it instead of
	// guessing when a request has arrived.
	onWait func()
}

type seenDigest struct {
	key digest
	at  int64
}

func newDedup(window time.Duration, maxEntries int, now func() time.Time) *dedup {
	return &dedup{window: window, max: maxEntries, now: now, seen: map[digest]int64{}, inflight: map[digest]chan struct{}{}}
}

// claim reports whether the caller should emit the body: false when the body was emitted within the window.
// While another delivery of the same body is in flight it waits for that one's outcome: emitted, it is a
// duplicate; refused, the caller tries in its place. err is ctx's when it ends first. A claimed digest must
// be handed back with done.
func (d *dedup) claim(ctx context.Context, key digest) (bool, error) {
	if d.window <= 0 {
		return true, nil
	}
	for {
		d.mu.Lock()
		d.expire(d.now().UnixNano())
		if _, ok := d.seen[key]; ok {
			d.mu.Unlock()
			return false, nil
		}
		wait, busy := d.inflight[key]
		if !busy {
			d.inflight[key] = make(chan struct{})
			d.mu.Unlock()
			return true, nil
		}
		onWait := d.onWait
		d.mu.Unlock()
		if onWait != nil {
			onWait()
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// done releases a claimed digest and records it when the pipeline accepted the event. It returns how many
// digests it forgot before their window ended to make room.
func (d *dedup) done(key digest, accepted bool) (evicted int) {
	if d.window <= 0 {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if accepted {
		now := d.now().UnixNano()
		d.expire(now)
		for len(d.seen) >= d.max {
			d.pop()
			evicted++
		}
		d.evicted += evicted
		d.seen[key] = now
		d.queue = append(d.queue, seenDigest{key: key, at: now})
	}
	if ch, ok := d.inflight[key]; ok {
		delete(d.inflight, key)
		close(ch)
	}
	return evicted
}

// expire forgets the digests older than the window; they were recorded in time order.
func (d *dedup) expire(now int64) {
	cutoff := now - int64(d.window)
	for d.head < len(d.queue) && d.queue[d.head].at <= cutoff {
		d.pop()
	}
}

func (d *dedup) pop() {
	e := d.queue[d.head]
	d.queue[d.head] = seenDigest{}
	d.head++
	delete(d.seen, e.key)
	// Reuse the queue's memory once its dead head is as long as the rest.
	if d.head > 1024 && d.head*2 >= len(d.queue) {
		n := copy(d.queue, d.queue[d.head:])
		clear(d.queue[n:])
		d.queue = d.queue[:n]
		d.head = 0
	}
}

// setOnWait installs the onWait hook; under the lock, as deliveries may already be running.
func (d *dedup) setOnWait(f func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.onWait = f
}

// stats is what the window holds and how many digests it dropped early, for tests and telemetry.
func (d *dedup) stats() (size, evicted int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.seen), d.evicted
}
