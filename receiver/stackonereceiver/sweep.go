package stackonereceiver

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// The sweeps find the entries StackOne indexes late: the live read has passed their event time by the time
// they appear. Each sweep re-reads every moment once, a fixed lag after it, in chunks of sweep_interval:
//   - the near sweep at the indexing delay (indexing_delay, raised when the far sweep finds entries later
//     still), so an entry that late is delivered within about that delay plus sweep_interval of its event time;
//   - the far sweep at late_arrival_window, the promise: whatever StackOne indexes within it is delivered, once.
//
// Reading each moment once per sweep, rather than the whole window on every sweep, is what keeps their cost
// to the volume itself: pages of 100 cost 10 calls per 1,000 entries for the live read and 10 more for each
// sweep, however long the window and however late the entries.

// read names the reads of a stream in telemetry and in what the receiver says when it falls behind.
type read int

const (
	readLive read = iota
	readNear
	readFar
	numReads
)

var readNames = [numReads]string{"live", "near", "far"}

func (r read) String() string { return readNames[r] }

const (
	// delayEaseAfter is how long a raised indexing delay holds without the far sweep finding anything before it
	// eases back, by a tenth each delayEaseStep, towards the configured one: indexing delays come in episodes,
	// and a delay kept high forever would slow every late entry after one bad hour.
	delayEaseAfter = 24 * time.Hour
	delayEaseStep  = time.Hour
	// minBehindAlert is the least a read must be behind its schedule before the receiver says it is falling
	// behind: a poll or sweep running late by a few calls' pacing is normal.
	minBehindAlert = time.Minute
)

// delay is the lag the near sweep reads at: the configured indexing delay or the one learned since, never past
// the late-arrival window; s.mu must be held.
func (s *stream) delay() time.Duration {
	return min(max(s.pos.Delay, s.cfg.indexingDelay), s.cfg.window)
}

// lag is how long after an event time a read reaches it.
func (s *stream) lag(rd read) time.Duration {
	if rd == readNear {
		return s.delay()
	}
	return s.cfg.window
}

// swept is how far a sweep has got; s.mu must be held.
func (s *stream) swept(rd read) *time.Time {
	if rd == readNear {
		return &s.pos.Near
	}
	return &s.pos.Far
}

// sweep reads the chunk a sweep owes, if one is due, and says whether it read one. One that yields (the far
// sweep in a poll whose near sweep read a chunk) waits for the next poll unless it owes two chunks: two
// chunks in one poll would spend the budget's burst and hold up the next poll's near sweep.
func (s *stream) sweep(ctx context.Context, rd read, yield bool) (bool, error) {
	if s.cfg.window <= 0 {
		return false, nil
	}
	s.mu.Lock()
	s.easeDelay()
	from, to, due := s.due(rd)
	if yield && to.Sub(from) < 2*s.cfg.sweepInterval {
		due = false
	}
	s.mu.Unlock()
	if !due {
		s.sweepBehind(rd)
		return false, nil
	}
	r := &reader{from: from, to: to, sweep: rd}
	err := s.read(ctx, r, s.pagers(from, to, s.fetchLive))
	s.mu.Lock()
	if rd == readFar && r.found > 0 {
		s.raiseDelay(r.found)
	}
	if err == nil {
		s.setSwept(rd, to)
		s.prune()
		s.save(ctx)
	}
	s.mu.Unlock()
	if err != nil {
		return true, err
	}
	s.sweepBehind(rd)
	return true, nil
}

// sweepBehind notes how far a sweep is behind its schedule: how much more than a chunk it owes now, of the time
// it may read (a sweep held up by the read before it owes nothing of its own: that read is the one behind). A
// sweep whose every read completes can still fall behind, when each starts later than the one before.
func (s *stream) sweepBehind(rd read) {
	s.mu.Lock()
	from, to, _ := s.due(rd)
	if !s.liveFrom.IsZero() && !from.Before(s.liveFrom) {
		// The live read under way reads the time before its start less the lag late enough to count as the
		// sweep's read of it (credit): only what comes after is owed.
		from = laterOf(from, s.liveStarted.Add(-s.lag(rd)))
	}
	s.mu.Unlock()
	s.noteBehind(rd, to.Sub(from)-s.cfg.sweepInterval)
}

// due says which chunk a sweep reads now, if any; s.mu must be held. A chunk ends where the live read has got
// to, so a sweep never runs ahead of it (a live read held up by the budget is not made to share it), and
// starts no earlier than the floor: older time is read by catch-up slices, a late-arrival window after it or
// more.
func (s *stream) due(rd read) (from, to time.Time, ok bool) {
	if rd == readNear && s.delay() >= s.cfg.window {
		// Both would read at the window: the far sweep does, and the near one waits where it got to.
		s.pos.Near = laterOf(s.pos.Near, s.pos.Far)
		return from, to, false
	}
	from = laterOf(*s.swept(rd), s.pos.Floor)
	to = earlierOf(s.now().Add(-s.lag(rd)), laterOf(s.pos.Frontier, s.readThrough))
	if rd == readFar && s.delay() < s.cfg.window {
		// Nor does the far sweep pass the near one (held up by the budget): what it found there would be the
		// near sweep's, taken for entries later than the indexing delay.
		to = earlierOf(to, s.pos.Near)
	}
	// The API takes the end bound in whole milliseconds and excludes it: a chunk ending inside a millisecond
	// would be read short of its end, and the next chunk, starting there, would not own that millisecond's
	// entries.
	to = to.Truncate(time.Millisecond)
	if !to.After(from) || to.Sub(from) < s.cfg.sweepInterval {
		return from, to, false
	}
	return from, to, true
}

// setSwept moves a sweep on; s.mu must be held.
func (s *stream) setSwept(rd read, t time.Time) {
	p := s.swept(rd)
	*p = laterOf(*p, t)
}

// credit counts a live read that started at started, from the frontier from, and reached the end, as a sweep's re-read of the
// time it read at least the sweep's lag after it (after a restart or a catch-up, the live read reads minutes
// old time), so the sweeps do not read it again; s.mu must be held. Only time adjoining what a sweep has
// already covered counts: a sweep keeps one point of progress, not a list of ranges.
func (s *stream) credit(from, started time.Time) {
	for _, rd := range []read{readNear, readFar} {
		if p := s.swept(rd); !laterOf(*p, s.pos.Floor).Before(from) {
			*p = laterOf(*p, started.Add(-s.lag(rd)))
		}
	}
}

// raiseDelay follows a far sweep that found n entries the near sweep had missed, because StackOne indexed them
// later than the near sweep's delay; s.mu must be held. The delay grows by half, or by one sweep_interval if
// that is more, so the next such entries come at the near sweep's pace; it never passes the window.
func (s *stream) raiseDelay(n int) {
	was := s.delay()
	s.pos.Delay = min(max(was*3/2, was+max(s.cfg.sweepInterval, time.Second)), s.cfg.window)
	s.pos.DelayRaised = s.now()
	s.delayNow.Store(int64(s.delay()))
	s.log.Info("The far sweep found entries StackOne indexed later than the near sweep's delay; the near sweep now reads later",
		zap.String("stream", s.name), zap.Int("entries", n), zap.Duration("indexing_delay", s.delay()), zap.Duration("was", was))
}

// easeDelay lets a raised indexing delay back down once the far sweep has found nothing for a long time;
// s.mu must be held.
func (s *stream) easeDelay() {
	if s.pos.Delay <= s.cfg.indexingDelay {
		return
	}
	now := s.now()
	if now.Sub(s.pos.DelayRaised) < delayEaseAfter || now.Sub(s.pos.DelayEased) < delayEaseStep {
		return
	}
	s.pos.Delay = max(s.cfg.indexingDelay, s.pos.Delay*9/10)
	s.pos.DelayEased = now
	s.delayNow.Store(int64(s.delay()))
}

// behind is, per read, how far it is behind its schedule in nanoseconds (for the gauge), and since when it
// has been further behind than its cadence explains (for the status; only the poll's goroutine uses it).
type behind struct {
	by    [numReads]atomic.Int64
	since [numReads]time.Time
}

// noteBehind records how far a read is behind its schedule, and says so (in the status, and in a line a
// minute at most) when it has stayed further behind than the reads' own cadence explains for as long again:
// the request budget does not carry the stream's volume. A read that catches up on a short backlog within
// that time (a restart) is not reported.
func (s *stream) noteBehind(rd read, d time.Duration) {
	d = max(d, 0)
	s.behind.by[rd].Store(int64(d))
	threshold := max(minBehindAlert, 2*s.cfg.pollInterval, 2*s.cfg.sweepInterval)
	now := s.now()
	switch {
	case d <= threshold:
		s.behind.since[rd] = time.Time{}
	case s.behind.since[rd].IsZero():
		s.behind.since[rd] = now
	}
	worst, which := time.Duration(0), readLive
	for r := range numReads {
		since := s.behind.since[r]
		if v := time.Duration(s.behind.by[r].Load()); !since.IsZero() && now.Sub(since) >= threshold && v > worst {
			worst, which = v, read(r)
		}
	}
	if worst == 0 {
		s.setCondition(condBehind, nil)
		return
	}
	err := fmt.Errorf("falling behind: the %s read is %s behind its schedule; max_requests_per_minute (%d) does not carry this stream's volume at page_size %d (the live read costs a call per page, and each sweep as much again): raise max_requests_per_minute, narrow the filters, or split the streams over receivers with their own API keys",
		which, worst.Round(time.Second), s.cfg.budget, s.cfg.pageSize)
	s.setCondition(condBehind, err)
	s.sampled.Warn("Falling behind: the request budget does not keep up with this stream",
		zap.String("stream", s.name), zap.String("read", which.String()), zap.Duration("behind", worst.Round(time.Second)),
		zap.Int("max_requests_per_minute", s.cfg.budget), zap.Int("page_size", s.cfg.pageSize))
}

// pageBehind notes, after a page, how far the reader is behind: the live read by the age of the newest entry
// it has reached (beyond one poll interval), a sweep by how far its progress trails its lag (beyond one
// sweep_interval).
func (s *stream) pageBehind(r *reader, newest time.Time) {
	if r.slice != nil || newest.IsZero() {
		return
	}
	if r.sweep == readLive {
		s.noteBehind(readLive, s.now().Sub(newest)-s.cfg.pollInterval)
		// A live read that never reaches the end (more new entries than the budget reads) holds the sweeps
		// back: what they owe keeps growing, and is said too.
		s.sweepBehind(readNear)
		s.sweepBehind(readFar)
		return
	}
	s.sweepBehind(r.sweep) // its progress moved to the page's newest entry
}
