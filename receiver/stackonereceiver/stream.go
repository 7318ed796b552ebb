package stackonereceiver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/stackoneapi"
)

const (
	// authRetryInterval paces polls while the key is rejected: the fix is a config change, so polling faster
	// would only burn the customer's shared rate limit.
	authRetryInterval = 5 * time.Minute
	// notFoundLimit is how many polls in a row must answer 404 before a stream is disabled: one 404 from a
	// deploy or a load balancer must not switch a stream off until restart.
	notFoundLimit = 3
	// defaultCatchUpAfter is how far behind (beyond the late-arrival window) a stream must be before it reads
	// the backlog as parallel time slices instead of one query.
	defaultCatchUpAfter = 10 * time.Minute
	// slicesPerWorker splits a backlog finer than the workers, so one dense slice does not leave the others idle.
	slicesPerWorker = 4
	minSliceSpan    = time.Minute
)

var errOutOfOrder = errors.New("event times went backwards: the API did not return entries in ascending event time")

// streamSettings are the parts of the configuration one stream uses.
type streamSettings struct {
	pollInterval  time.Duration
	sweepInterval time.Duration
	window        time.Duration
	lookback      time.Duration
	concurrency   int
	catchUpAfter  time.Duration
}

// stream polls one StackOne log stream. A page flows one way: pager -> map -> drop what was already delivered
// -> ConsumeLogs -> position. Only the pager differs between streams (cursor or keyset paging).
type stream struct {
	name    string
	schema  *schema
	pagers  pagerFactory
	mapper  *mapper
	consume func(ctx context.Context, ld plog.Logs) error
	store   *positionStore
	cfg     streamSettings
	retry   *retrier
	tel     streamTelemetry
	now     func() time.Time
	// waitPoll is the pause between polls (a seam for tests, which step polls one at a time).
	waitPoll func(ctx context.Context, d time.Duration) error
	newGroup func() group
	log      *zap.Logger
	// sampled carries per-page and per-call warnings: one line per message and minute.
	sampled *zap.Logger
	health  *streamHealth

	// mu guards the position, which the catch-up slices of one stream advance concurrently, and its saves.
	mu    sync.Mutex
	pos   *position
	dirty bool // a save failed: try again at shutdown
	// pending holds the ids without a usable time that a catch-up slice is delivering right now.
	pending map[uint64]struct{}

	lastSuccess atomic.Int64 // Unix nanoseconds of the last successful API call
	complete    atomic.Int64 // Unix nanoseconds up to which the stream has read everything, for the lag gauge
	disabled    atomic.Bool
}

func (s *stream) run(ctx context.Context) {
	if !s.load(ctx) {
		return
	}
	notFound := 0
	for {
		err := s.poll(ctx)
		delay := s.cfg.pollInterval
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, errStreamNotFound):
			if notFound++; notFound >= notFoundLimit {
				s.disabled.Store(true)
				s.setCondition(condDisabled, err)
				s.log.Error("StackOne answered 404 for this log stream several polls in a row: it is not enabled for this account or endpoint. The stream is disabled until restart; other streams keep flowing.",
					zap.String("stream", s.name), zap.Error(err))
				return
			}
			s.setCondition(condAPI, err)
			s.sampled.Warn("StackOne answered 404 for this log stream; trying again before disabling it",
				zap.String("stream", s.name), zap.Int("attempt", notFound), zap.Int("of", notFoundLimit), zap.Error(err))
		case errors.Is(err, errAuth):
			delay = max(delay, authRetryInterval)
		case errors.Is(err, errOutOfOrder):
			s.setCondition(condData, err)
			s.log.Error("StackOne returned entries out of event-time order; this poll delivered nothing past the first step back, the position is kept and the next poll tries again",
				zap.String("stream", s.name), zap.Error(err))
		case err != nil:
			s.sampled.Warn("Poll failed; the position is kept and the next poll resumes from it",
				zap.String("stream", s.name), zap.Error(err), zap.Duration("next_poll_in", delay))
		default:
			notFound = 0
			s.setCondition(condData, nil)
		}
		if s.waitPoll(ctx, delay) != nil {
			return
		}
	}
}

// load reads the stored position. A read error is retried, never taken for "no position"; a corrupt value is
// reported and replaced by a fresh start at initial_lookback.
func (s *stream) load(ctx context.Context) bool {
	a := s.retry.start()
	for {
		pos, err := s.store.load(ctx)
		switch {
		case err == nil && pos != nil:
			s.log.Info("Resuming from the stored position", zap.String("stream", s.name), zap.Stringer("position", pos))
			s.setPosition(pos)
			return true
		case err == nil || errors.Is(err, errCorruptPosition):
			if err != nil {
				s.tel.checkpointError(ctx)
				s.log.Error("Ignoring the stored position and starting from initial_lookback", zap.String("stream", s.name), zap.Error(err))
			}
			s.setPosition(newPosition(s.now().Add(-s.cfg.lookback)))
			// Saved at once, so a restart before the first entry keeps this start instead of sliding it.
			s.mu.Lock()
			s.save(ctx)
			s.mu.Unlock()
			return true
		}
		s.tel.checkpointError(ctx)
		s.sampled.Error("Cannot read the stored position; retrying before polling", zap.String("stream", s.name), zap.Error(err))
		s.setCondition(condStorage, err)
		if _, _, err := a.next(ctx, 0); err != nil {
			return false
		}
	}
}

func (s *stream) setPosition(p *position) {
	s.pos = p
	s.complete.Store(p.Frontier.UnixNano())
}

// poll reads everything new: first any backlog too far behind, as parallel time slices, then the live range,
// re-reading the late-arrival window when a sweep is due.
func (s *stream) poll(ctx context.Context) error {
	for {
		// A long catch-up can leave the stream far behind again: plan anew until it is not.
		behind, err := s.catchUp(ctx)
		if err != nil {
			return err
		}
		if !behind {
			return s.pollLive(ctx)
		}
	}
}

// pollLive reads from the frontier to the end of the stream. A sweep starts earlier, a late-arrival window before
// the last sweep, so an entry StackOne indexed late is still delivered, once; sweeps come every sweep_interval
// rather than every poll, because at volume the window holds many pages that rarely change.
func (s *stream) pollLive(ctx context.Context) error {
	started := s.now()
	s.mu.Lock()
	sweep := started.Sub(s.pos.LastSweep) >= s.cfg.sweepInterval
	from := s.pos.Frontier
	if sweep {
		from = laterOf(s.pos.Floor, s.pos.LastSweep.Add(-s.cfg.window))
	}
	// Entries older than the query asked for are not its own (a start bound rounded down serves some): the
	// sweeps are what read late arrivals, and each sweep reaches back to the start of the one before less
	// the window, so nothing older can be new to it. Ids that old may have been pruned from the position.
	r := &reader{from: laterOf(s.pos.Floor, from)}
	s.mu.Unlock()

	if err := s.read(ctx, r, s.pagers(from, time.Time{}, s.fetch)); err != nil {
		return err
	}
	// Reaching the end means every entry visible when the poll started has been read.
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.timeless {
		// Entries without a usable event time cannot move the frontier, and a frontier that never moves
		// would make every poll re-read more. They are re-read for one window, then left behind.
		s.pos.Frontier = laterOf(s.pos.Frontier, started.Add(-s.cfg.window))
	}
	if sweep {
		s.pos.LastSweep = started
	}
	s.pos.prune(s.pruneBefore())
	s.complete.Store(laterOf(s.pos.Frontier, started).UnixNano())
	s.save(ctx)
	return nil
}

// pruneBefore is the oldest event time a live read can meet again: the next sweep starts a window before the
// last one, a tail read at the frontier, both an overlap earlier.
func (s *stream) pruneBefore() time.Time {
	oldest := s.pos.LastSweep.Add(-s.cfg.window)
	if s.pos.Frontier.Before(oldest) {
		oldest = s.pos.Frontier
	}
	return oldest.Add(-2 * overlap)
}

// catchUp reads the backlog as time slices, catch_up.concurrency at a time, each resumable from its own
// progress. The slices end a late-arrival window before now, so nothing inside them can still arrive late. It
// reports false, reading nothing, when the stream is not behind.
func (s *stream) catchUp(ctx context.Context) (bool, error) {
	s.mu.Lock()
	if len(s.pos.Slices) == 0 {
		to := s.now().Add(-s.cfg.window)
		if to.Sub(s.pos.Frontier) <= s.cfg.catchUpAfter {
			s.mu.Unlock()
			return false, nil
		}
		// The slices take over the next sweep too: entries StackOne indexed late, before the frontier, while
		// the receiver was down are in the window before the last sweep. What was delivered there already is
		// in the position's ids.
		from := laterOf(s.pos.Floor, earlierOf(s.pos.Frontier, s.pos.LastSweep.Add(-s.cfg.window)))
		s.pos.Slices = planSlices(from, to, s.cfg.concurrency*slicesPerWorker)
		s.log.Info("Reading the backlog in parallel time slices", zap.String("stream", s.name),
			zap.Time("from", from), zap.Time("to", to), zap.Int("slices", len(s.pos.Slices)), zap.Int("concurrency", s.cfg.concurrency))
		s.save(ctx)
	}
	var todo []*slice
	for _, sl := range s.pos.Slices {
		if !sl.Done {
			todo = append(todo, sl)
		}
	}
	s.mu.Unlock()

	// Workers take the next slice from the queue; after a failure the others finish their page and stop, each
	// slice keeping its progress.
	workCtx, stop := context.WithCancel(ctx)
	defer stop()
	var qmu sync.Mutex
	var firstErr error
	take := func() *slice {
		qmu.Lock()
		defer qmu.Unlock()
		if len(todo) == 0 || workCtx.Err() != nil {
			return nil
		}
		sl := todo[0]
		todo = todo[1:]
		return sl
	}
	workers := s.newGroup()
	for range min(s.cfg.concurrency, len(todo)) {
		workers.Go(func() {
			for sl := take(); sl != nil; sl = take() {
				if err := s.readSlice(workCtx, sl); err != nil {
					qmu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					qmu.Unlock()
					stop()
					return
				}
			}
		})
	}
	workers.Wait()
	if firstErr != nil {
		return true, firstErr
	}
	return true, ctx.Err()
}

func (s *stream) readSlice(ctx context.Context, sl *slice) error {
	s.mu.Lock()
	from := sl.Progress
	s.mu.Unlock()
	r := &reader{from: sl.Start, to: sl.End, slice: sl}
	if err := s.read(ctx, r, s.pagers(from, sl.End, s.fetch)); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sl.Done, sl.Tail = true, nil
	s.pos.advanceFrontier()
	if len(s.pos.Slices) == 0 {
		// The backlog is in: the live read owns the time from here, and its first sweep re-reads the window
		// before the end of the slices.
		s.pos.Floor = s.pos.Frontier
		s.pos.LastSweep = s.pos.Frontier.Add(s.cfg.window)
	}
	s.complete.Store(s.pos.Frontier.UnixNano())
	s.save(ctx)
	return nil
}

// planSlices splits [from, to) into up to n slices of at least minSliceSpan.
func planSlices(from, to time.Time, n int) []*slice {
	span := to.Sub(from)
	n = max(1, min(n, int(span/minSliceSpan)))
	step := span / time.Duration(n)
	out := make([]*slice, n)
	for i := range out {
		start := from.Add(time.Duration(i) * step)
		end := start.Add(step)
		if i == n-1 {
			end = to
		}
		out[i] = &slice{Start: start, End: end, Progress: start}
	}
	return out
}

// reader is the state of one query: which event times it owns and, for the order check, the newest event time
// it has seen.
type reader struct {
	from, to time.Time // entries before from or from to on belong to another reader; a zero to is open
	slice    *slice    // nil for the live read
	newest   time.Time
	timeless bool // some entry had no usable event time
}

func (r *reader) owns(t time.Time) bool {
	return t.IsZero() || !t.Before(r.from) && (r.to.IsZero() || t.Before(r.to))
}

// read delivers one query page by page.
func (s *stream) read(ctx context.Context, r *reader, p pager) error {
	for ctx.Err() == nil {
		page, more, err := p.next(ctx)
		if err != nil {
			return err
		}
		newest, err := s.deliver(ctx, r, page)
		if err != nil {
			return err
		}
		// A slice is done once its entries reach its end, even from a server that ignores end_date.
		if !more || !r.to.IsZero() && !newest.Before(r.to) {
			return nil
		}
		p.advance(newest)
	}
	return ctx.Err()
}

// candidate is an entry of a page that its reader owns, before the position says whether it was delivered.
type candidate struct {
	index            int    // on the page
	id               uint64 // idHash of its id
	at               time.Time
	invalid, badTime bool
	back             bool // its event time is more than the overlap before an earlier entry of the query
}

// deliver maps the page, drops what was delivered before, hands the rest to the pipeline and, only once the
// pipeline accepted it, advances the position. It returns the newest event time on the page.
func (s *stream) deliver(ctx context.Context, r *reader, page stackoneapi.Page) (newest time.Time, err error) {
	s.tel.page(ctx)
	if page.NotObjects > 0 {
		s.tel.malformed(ctx, "not_an_object", page.NotObjects)
		s.sampled.Warn("Skipped page elements that are not JSON objects", zap.String("stream", s.name), zap.Int("count", page.NotObjects))
	}
	observedAt := s.now()
	observed := pcommon.NewTimestampFromTime(observedAt)
	ld, lrs := s.mapper.newLogs()
	lrs.EnsureCapacity(len(page.Entries))
	cands := make([]candidate, 0, len(page.Entries))
	for i, raw := range page.Entries {
		m := s.mapper.appendRecord(lrs, s.schema, raw, observed)
		c := candidate{index: i, id: idHash(m.id), at: m.time, invalid: m.invalid > 0, badTime: m.badTime}
		if m.time.IsZero() {
			r.timeless = true
		} else {
			c.back = m.time.Before(r.newest.Add(-overlap))
			r.newest = laterOf(r.newest, m.time)
			newest = laterOf(newest, m.time)
		}
		if r.owns(m.time) {
			cands = append(cands, c)
		}
	}
	s.mu.Lock()
	cands, dups := s.unseen(r, cands)
	s.mu.Unlock()
	// Ascending order is what lets the position advance page by page. A new entry a step back by more than
	// the overlap means the API ignored order_by, and reading on would skip rows silently; entries served
	// again (a repeated page boundary) may step back harmlessly.
	for _, c := range cands {
		if c.back {
			s.tel.apiError(ctx, "out_of_order")
			s.mu.Lock()
			s.release(cands)
			s.mu.Unlock()
			return newest, fmt.Errorf("%w (%s after %s)", errOutOfOrder, c.at.Format(time.RFC3339Nano), r.newest.Format(time.RFC3339Nano))
		}
	}
	if dups > 0 {
		s.tel.duplicates(ctx, dups)
	}
	if len(cands) == 0 {
		return newest, nil
	}
	if len(cands) < len(page.Entries) {
		keep := make([]bool, len(page.Entries))
		for _, c := range cands {
			keep[c.index] = true
		}
		i := 0
		lrs.RemoveIf(func(plog.LogRecord) bool {
			drop := !keep[i]
			i++
			return drop
		})
	}
	if err := s.consumeWithRetry(ctx, ld); err != nil {
		s.mu.Lock()
		s.release(cands)
		s.mu.Unlock()
		return newest, err
	}
	s.tel.emitted(ctx, len(cands))
	// Counted once emitted, so a page the pipeline refused and a re-read do not count twice.
	invalid, badTime := 0, 0
	for _, c := range cands {
		if c.invalid {
			invalid++
		}
		if c.badTime {
			badTime++
		}
	}
	if invalid > 0 {
		s.tel.malformed(ctx, "invalid_field", invalid)
		s.sampled.Warn("Emitted entries without fields whose values had an unexpected type", zap.String("stream", s.name), zap.Int("entries", invalid))
	}
	if badTime > 0 {
		s.tel.malformed(ctx, "invalid_time", badTime)
		s.sampled.Warn("Emitted entries whose event time does not parse, without a timestamp", zap.String("stream", s.name), zap.Int("entries", badTime))
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(r, cands, newest, observedAt)
	s.save(ctx)
	return newest, nil
}

// unseen keeps the candidates not delivered before, and counts the others; s.mu must be held. Everything a
// reader has delivered is recognised however the server repeats it (a page boundary served again, a start
// bound rounded down, a query restarted after a rejected cursor or a crash):
//   - by the position's ids: what the live read delivered inside the late-arrival window, and every entry
//     without a usable time;
//   - in a catch-up slice, by its event time: a slice reads in event-time order and nothing in it can still
//     arrive late, so every entry older than its progress has been delivered; those within the overlap of the
//     progress are in the slice's tail.
func (s *stream) unseen(r *reader, cands []candidate) (kept []candidate, dups int) {
	sl := r.slice
	var tail map[uint64]struct{}
	if sl != nil && len(sl.Tail) > 0 {
		tail = make(map[uint64]struct{}, len(sl.Tail))
		for _, id := range sl.Tail {
			tail[id] = struct{}{}
		}
	}
	inPage := make(map[uint64]struct{}, len(cands))
	kept = cands[:0]
	for _, c := range cands {
		_, again := inPage[c.id]
		_, pending := s.pending[c.id]
		_, inTail := tail[c.id]
		if again || pending || inTail || s.pos.seen.has(c.id) || sl != nil && !c.at.IsZero() && c.at.Before(sl.Progress.Add(-overlap)) {
			dups++
			continue
		}
		inPage[c.id] = struct{}{}
		if sl != nil && c.at.IsZero() {
			// Concurrent slices may both be served an entry without a usable time: the first to take it
			// holds it until its page is accepted or refused.
			s.pending[c.id] = struct{}{}
		}
		kept = append(kept, c)
	}
	return kept, dups
}

// release gives up what unseen reserved for a page that was not delivered; s.mu must be held.
func (s *stream) release(cands []candidate) {
	for _, c := range cands {
		delete(s.pending, c.id)
	}
}

// advance records a delivered page in the position: the ids it emitted and how far its reader got; s.mu must
// be held. Event times ahead of now count as now, so one entry stamped in the future cannot make the next polls
// start after entries that have not happened yet.
func (s *stream) advance(r *reader, cands []candidate, newest, now time.Time) {
	if newest.After(now) {
		newest = now
	}
	if sl := r.slice; sl != nil {
		// A resumed slice starts an overlap before its progress: only the ids that close to it matter.
		if newest.After(sl.Progress.Add(overlap)) {
			sl.Tail = sl.Tail[:0]
		}
		sl.Progress = laterOf(sl.Progress, newest)
		var timeless []uint64
		for _, c := range cands {
			switch {
			case c.at.IsZero():
				// No place in the slice's order: the position's ids recognise it wherever it is served again.
				timeless = append(timeless, c.id)
				delete(s.pending, c.id)
			case !c.at.Before(sl.Progress.Add(-overlap)):
				sl.Tail = append(sl.Tail, c.id)
			}
		}
		s.pos.addPage(timeless, now)
		return
	}
	ids := make([]uint64, len(cands))
	pageNewest := time.Time{}
	for i, c := range cands {
		ids[i] = c.id
		at := c.at
		if at.IsZero() {
			at = now // re-read at most until then: an upper bound of its time
		}
		pageNewest = laterOf(pageNewest, at)
	}
	s.pos.addPage(ids, pageNewest)
	s.pos.Frontier = laterOf(s.pos.Frontier, newest)
	s.pos.prune(s.pruneBefore())
	s.complete.Store(s.pos.Frontier.UnixNano())
}

// consumeWithRetry hands a page to the pipeline. A refusal (memory_limiter, a full queue) is retried with
// back-off and never skipped; only a permanent error, which no retry can fix, lets the position move past the
// page. The call is not cancelled when polling stops, so a page in flight at shutdown completes and is saved,
// unless the shutdown deadline passes first.
func (s *stream) consumeWithRetry(ctx context.Context, ld plog.Logs) error {
	a := s.retry.start()
	n := ld.LogRecordCount()
	for {
		err := s.consume(ctx, ld)
		if err == nil {
			s.setCondition(condPipeline, nil)
			return nil
		}
		if consumererror.IsPermanent(err) {
			s.log.Error("The pipeline permanently rejected a page of StackOne logs; they are dropped and the position moves on",
				zap.String("stream", s.name), zap.Int("records", n), zap.Error(err))
			return nil
		}
		s.setCondition(condPipeline, err)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d, ok, werr := a.next(ctx, 0)
		if !ok {
			s.sampled.Error("The pipeline keeps refusing StackOne logs; the position is kept and the next poll retries", zap.String("stream", s.name), zap.Error(err))
			return err
		}
		s.sampled.Warn("The pipeline refused StackOne logs; retrying the same page", zap.String("stream", s.name), zap.Duration("retry_in", d), zap.Error(err))
		s.tel.retry(ctx)
		if werr != nil {
			return werr
		}
	}
}

// save writes the position; s.mu must be held. A failure is counted and shows in the component status, but does
// not stop polling: the position in memory is still right, and the next page's save writes it again.
func (s *stream) save(ctx context.Context) {
	n, err := s.store.save(ctx, s.pos)
	s.tel.checkpointBytes(ctx, n)
	s.dirty = err != nil
	if err != nil {
		s.tel.checkpointError(ctx)
		s.sampled.Error("Could not save the position; polling continues and the next page retries the save", zap.String("stream", s.name), zap.Error(err))
	}
	s.setCondition(condStorage, err)
}

// saveFinal retries a failed save once more at shutdown; after a successful one there is nothing to write.
func (s *stream) saveFinal(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pos == nil || !s.dirty {
		return nil
	}
	_, err := s.store.save(ctx, s.pos)
	return err
}
