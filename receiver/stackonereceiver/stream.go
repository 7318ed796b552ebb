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

// errUnsaved means a stream's position still could not be saved when its retries ran out: it reads nothing
// further, and its next poll tries the save again.
var errUnsaved = errors.New("the position could not be saved")

// streamSettings are the parts of the configuration one stream uses.
type streamSettings struct {
	pollInterval  time.Duration
	sweepInterval time.Duration
	window        time.Duration
	indexingDelay time.Duration
	// budget and pageSize are named when the stream falls behind.
	budget, pageSize int
	lookback         time.Duration
	concurrency      int
	catchUpAfter     time.Duration
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

	// pageSize is what every read of the stream asks for; fetch halves it when the server refuses it.
	pageSize *pageSizer
	// detail explains failed requests before they are sent (request logs); nil when off.
	detail *detailer

	// mu guards the position, which the catch-up slices of one stream advance concurrently, and its saves.
	mu  sync.Mutex
	pos *position
	// readThrough is when the last live read that reached the end started: it has read everything before
	// then, even where no entry moved the frontier that far (a quiet stream).
	readThrough time.Time
	// liveFrom and liveStarted are where and when the live read under way started, zero between live reads.
	liveFrom, liveStarted time.Time
	// dirty: the last save failed. Every reader of the stream holds before its next page until a retried save
	// succeeds (awaitSaved), and shutdown tries once more.
	dirty bool
	// pending holds the ids without a usable time that a read is delivering right now.
	pending map[uint64]struct{}
	// The catch-up workers: how many run, their group, how to stop them, and the first error one met.
	workers     int
	catchingUp  group
	stopWorkers context.CancelFunc
	catchUpErr  error

	behind   behind
	delayNow atomic.Int64 // the near sweep's delay in nanoseconds, for the gauge

	unsaved     atomic.Bool  // dirty, for the gauge
	lastSuccess atomic.Int64 // Unix nanoseconds of the last successful API call
	complete    atomic.Int64 // Unix nanoseconds up to which the stream has read everything, for the lag gauge
	disabled    atomic.Bool
}

func (s *stream) run(ctx context.Context) {
	if !s.load(ctx) {
		return
	}
	// With leader_election a stream runs once per term: nothing of a previous term's catch-up carries over.
	s.mu.Lock()
	s.catchUpErr, s.pending, s.readThrough = nil, map[uint64]struct{}{}, time.Time{}
	s.behind.since = [numReads]time.Time{}
	s.mu.Unlock()
	defer s.stopCatchUp()
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
		case errors.Is(err, errUnsaved):
			s.sampled.Error("The position still cannot be saved; this stream reads nothing further until it can, and tries again at the next poll",
				zap.String("stream", s.name), zap.Error(err), zap.Duration("next_poll_in", delay))
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
			if pos.Near.IsZero() {
				// Stored by a release that re-read the whole window from a window before its last sweep.
				pos.Near = laterOf(pos.Floor, pos.LastSweep.Add(-s.cfg.window))
				pos.Far, pos.LastSweep = pos.Near, time.Time{}
			}
			if n := len(pos.Slices); n > 0 && pos.Floor.Before(pos.Slices[n-1].End) {
				// Stored by a release whose live read waited for the slices: it owns the time after them.
				end := pos.Slices[n-1].End
				pos.Floor, pos.Frontier, pos.Near, pos.Far = end, end, end, end
			}
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
	s.delayNow.Store(int64(s.delay()))
	s.markComplete(p.Frontier)
}

// poll reads what the near sweep owes, everything new, then what the far sweep owes (sweep.go). The near
// sweep goes first because its entries have waited longest (about the indexing delay); new entries wait a
// few calls more. A stream far behind plans its backlog as time slices that catch_up.concurrency workers read
// in the background, while the live read carries on from where the slices end: fresh entries keep flowing
// during a catch-up of hours, and the live read goes first on the request budget. Each read goes on while
// another is held up (a sweep reads only time the live read has passed), but for a rejected key or a 404.
func (s *stream) poll(ctx context.Context) error {
	// Each poll tries a save that failed once more, even with retry_on_failure disabled: its reads wait for it.
	s.mu.Lock()
	if s.dirty {
		s.save(ctx)
	}
	s.mu.Unlock()
	s.planCatchUp(ctx)
	s.startCatchUp(ctx)
	// A position that cannot be saved holds every read (awaitSaved): the others would only wait on it too.
	stop := func(err error) bool {
		return errors.Is(err, errAuth) || errors.Is(err, errStreamNotFound) || errors.Is(err, errUnsaved)
	}
	near, err := s.sweep(ctx, readNear, false)
	if !stop(err) {
		err = errors.Join(err, s.pollLive(ctx))
	}
	if !stop(err) {
		_, ferr := s.sweep(ctx, readFar, near)
		err = errors.Join(err, ferr)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		err, s.catchUpErr = s.catchUpErr, nil
	}
	return err
}

// pollLive reads from the frontier to the end of the stream; the sweeps (sweep.go) find what StackOne indexes
// behind it.
func (s *stream) pollLive(ctx context.Context) error {
	started := s.now()
	s.mu.Lock()
	from := s.pos.Frontier
	// Entries older than the query asked for are not its own (a start bound rounded down serves some): the
	// sweeps are what read late arrivals. Ids that old may have been pruned from the position.
	r := &reader{from: laterOf(s.pos.Floor, from)}
	s.liveFrom, s.liveStarted = from, started
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.liveFrom, s.liveStarted = time.Time{}, time.Time{}
		s.mu.Unlock()
	}()

	if err := s.read(ctx, r, s.pagers(from, time.Time{}, s.fetchLive)); err != nil {
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
	s.credit(from, started)
	s.readThrough = started
	s.prune()
	s.markComplete(laterOf(s.pos.Frontier, started))
	s.save(ctx)
	// Everything before the start is read: a read that took longer than a poll interval is that far behind.
	s.noteBehind(readLive, s.now().Sub(started)-s.cfg.pollInterval)
	return nil
}

// markComplete sets the point up to which everything has been read, for the lag gauge: how far the live read
// got (live), or the progress of the oldest catch-up slice not done; s.mu must be held.
func (s *stream) markComplete(live time.Time) {
	if len(s.pos.Slices) > 0 {
		live = earlierOf(live, s.pos.Slices[0].Progress)
	}
	s.complete.Store(live.UnixNano())
}

// prune forgets the ids no read can meet again; s.mu must be held. The live read reaches back to the
// frontier, each sweep to where it has got, an overlap earlier. The ids a catch-up slice may meet again are
// kept too: those older than the live read's floor and not older than the oldest slice not done. From its
// start, not its progress: an entry without a usable time has no place in the slice's order, so the slice may
// be served it again (a repeated page boundary, a resumed slice) after its progress has passed its neighbours,
// and only its id recognises it. Its page is remembered by when the live read read it, no earlier than where
// the API lists it, or inside the range of the slice that read it.
func (s *stream) prune() {
	oldest := earlierOf(s.pos.Frontier, earlierOf(s.pos.Near, s.pos.Far))
	var keepFrom time.Time
	if len(s.pos.Slices) > 0 {
		keepFrom = s.pos.Slices[0].Start.Add(-2 * overlap)
	}
	s.pos.prune(oldest.Add(-2*overlap), keepFrom, s.pos.Floor)
}

// planCatchUp turns a backlog into time slices when the live read is more than catchUpAfter behind. The
// slices end a late-arrival window before now, so nothing inside them can still arrive late; the live read
// moves on to their end at once. They take over what the far sweep has not read yet too: entries StackOne
// indexed late while the receiver was down lie there, and what was delivered there already is in the
// position's ids.
func (s *stream) planCatchUp(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// On a whole millisecond, as the API's end bound is: the live read owns what follows.
	to := s.now().Add(-s.cfg.window).Truncate(time.Millisecond)
	if to.Sub(laterOf(s.pos.Frontier, s.readThrough)) <= s.cfg.catchUpAfter {
		return // a quiet stream is not behind: the live read has read through its last start
	}
	from := laterOf(s.pos.Floor, earlierOf(s.pos.Frontier, earlierOf(s.pos.Near, s.pos.Far)))
	planned := planSlices(from, to, s.cfg.concurrency*slicesPerWorker)
	s.pos.Slices = append(s.pos.Slices, planned...)
	s.pos.Floor, s.pos.Frontier, s.pos.Near, s.pos.Far = to, to, to, to
	s.log.Info("Reading the backlog in parallel time slices; live entries keep flowing meanwhile", zap.String("stream", s.name),
		zap.Time("from", from), zap.Time("to", to), zap.Int("slices", len(planned)), zap.Int("concurrency", s.cfg.concurrency))
	s.markComplete(to)
	s.save(ctx)
}

// startCatchUp starts the workers for the slices not done yet, unless they are running. Each slice resumes from
// its own progress; after a failure the workers finish their page and stop, and the next poll starts them again.
func (s *stream) startCatchUp(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.workers > 0 {
		return
	}
	var todo []*slice
	for _, sl := range s.pos.Slices {
		if !sl.Done {
			todo = append(todo, sl)
		}
	}
	if len(todo) == 0 {
		return
	}
	if s.stopWorkers != nil {
		s.stopWorkers() // the previous workers have all returned
	}
	workCtx, stop := context.WithCancel(ctx)
	s.stopWorkers = stop
	take := func() *slice {
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(todo) == 0 || workCtx.Err() != nil {
			return nil
		}
		sl := todo[0]
		todo = todo[1:]
		return sl
	}
	s.catchingUp = s.newGroup()
	s.workers = min(s.cfg.concurrency, len(todo))
	for range s.workers {
		s.catchingUp.Go(func() {
			defer func() {
				s.mu.Lock()
				s.workers--
				s.mu.Unlock()
			}()
			for sl := take(); sl != nil; sl = take() {
				if err := s.readSlice(workCtx, sl); err != nil {
					s.mu.Lock()
					if s.catchUpErr == nil && workCtx.Err() == nil {
						s.catchUpErr = err
					}
					s.mu.Unlock()
					stop()
					return
				}
			}
		})
	}
}

// stopCatchUp stops the workers and waits for them; each keeps its slice's progress.
func (s *stream) stopCatchUp() {
	s.mu.Lock()
	workers, stop := s.catchingUp, s.stopWorkers
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
	if workers != nil {
		workers.Wait()
	}
}

func (s *stream) readSlice(ctx context.Context, sl *slice) error {
	s.mu.Lock()
	from := sl.Progress
	s.mu.Unlock()
	r := &reader{from: sl.Start, to: sl.End, slice: sl}
	if err := s.read(ctx, r, s.pagers(from, sl.End, s.fetchBackground)); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sl.Done, sl.Tail = true, nil
	s.pos.dropDoneSlices()
	s.markComplete(s.pos.Frontier)
	s.save(ctx)
	return nil
}

// planSlices splits [from, to) into up to n slices of at least minSliceSpan. The slices meet on whole
// milliseconds: the API takes its end bound in milliseconds, so a slice ending inside one would leave the
// entries of that millisecond to neither slice.
func planSlices(from, to time.Time, n int) []*slice {
	span := to.Sub(from)
	n = max(1, min(n, int(span/minSliceSpan)))
	step := span / time.Duration(n)
	out := make([]*slice, n)
	start := from
	for i := range out {
		end := to
		if i < n-1 {
			end = from.Add(time.Duration(i+1) * step).Truncate(time.Millisecond)
		}
		out[i] = &slice{Start: start, End: end, Progress: start}
		start = end
	}
	return out
}

// reader is the state of one query: which event times it owns and, for the order check, the newest event time
// it has seen.
type reader struct {
	from, to time.Time // entries before from or from to on belong to another reader; a zero to is open
	slice    *slice    // nil for the live read and the sweeps
	sweep    read      // which read: live (also for slices) or a sweep
	newest   time.Time
	timeless bool // some entry had no usable event time
	found    int  // entries with a usable time a sweep delivered: indexed after the live read passed them
}

func (r *reader) owns(t time.Time) bool {
	return t.IsZero() || !t.Before(r.from) && (r.to.IsZero() || t.Before(r.to))
}

// read delivers one query page by page, never ahead of a position that could not be saved.
func (s *stream) read(ctx context.Context, r *reader, p pager) error {
	for ctx.Err() == nil {
		if err := s.awaitSaved(ctx); err != nil {
			return err
		}
		page, more, err := p.next(ctx)
		if err != nil {
			return err
		}
		newest, err := s.deliver(ctx, r, page)
		if err != nil {
			return err
		}
		if r.sweep != readLive && !newest.IsZero() {
			// Every moment before the newest entry read has been read at the sweep's lag.
			s.mu.Lock()
			s.setSwept(r.sweep, earlierOf(newest, r.to))
			s.mu.Unlock()
		}
		s.pageBehind(r, newest)
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
	truncated        bool // its nested data did not all fit max_nested_size
	back             bool // its event time is more than the overlap before an earlier entry of the query
}

// deliver maps the page, drops what was delivered before, hands the rest to the pipeline and, only once the
// pipeline accepted it, advances the position. It returns the newest event time on the page.
func (s *stream) deliver(ctx context.Context, r *reader, page stackoneapi.Page) (newest time.Time, err error) {
	s.tel.page(ctx, r.sweep)
	if page.NotObjects > 0 {
		s.tel.malformed(ctx, "not_an_object", page.NotObjects)
		s.sampled.Warn("Skipped page elements that are not JSON objects", zap.String("stream", s.name), zap.Int("count", page.NotObjects))
	}
	observedAt := s.now()
	entries := make([]decoded, len(page.Entries))
	cands := make([]candidate, 0, len(page.Entries))
	for i, raw := range page.Entries {
		d := s.mapper.decode(s.schema, raw)
		entries[i] = d
		m := d.meta
		c := candidate{index: i, id: idHash(m.id), at: m.time, badTime: m.badTime}
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
			releaseAll(entries)
			return newest, fmt.Errorf("%w (%s after %s)", errOutOfOrder, c.at.Format(time.RFC3339Nano), r.newest.Format(time.RFC3339Nano))
		}
	}
	if dups > 0 {
		s.tel.duplicates(ctx, dups)
	}
	if len(cands) == 0 {
		releaseAll(entries)
		if sl := r.slice; sl != nil {
			// A page of entries delivered before (by the live read, before a catch-up was planned over them)
			// still moves the slice on, or a slice over such time would restart from its beginning on every
			// failure. Entries that share the newest time are in the position's ids, so the tail can go.
			s.mu.Lock()
			if newest.After(sl.Progress.Add(overlap)) {
				sl.Progress, sl.Tail = earlierOf(newest, sl.End), nil
			}
			s.mu.Unlock()
		}
		return newest, nil
	}
	// Only what is new becomes a record. The records are built afresh for every attempt: once ConsumeLogs has
	// returned they are no longer ours (a processor may have changed them, pdata's pooling may have reused them),
	// so a refused page is never sent again from what the pipeline handed back.
	observed := pcommon.NewTimestampFromTime(observedAt)
	details := s.fetchDetails(ctx, entries, cands)
	build := func() plog.Logs {
		ld, lrs := s.mapper.newLogs()
		lrs.EnsureCapacity(len(cands))
		for i := range cands {
			c := &cands[i]
			var meta entryMeta
			if details != nil {
				meta = s.appendWithDetail(lrs, entries[c.index], details[i], observed)
			} else {
				meta = s.mapper.appendDecoded(lrs, s.schema, entries[c.index], observed)
			}
			c.invalid, c.truncated = meta.invalid > 0, meta.truncated
		}
		return ld
	}
	accepted, err := s.consumeWithRetry(ctx, build, len(cands))
	releaseAll(entries)
	releaseDetails(details)
	if err != nil {
		s.mu.Lock()
		s.release(cands)
		s.mu.Unlock()
		return newest, err
	}
	if !accepted {
		// Not emitted, and no retry can change that: counted apart, and the position moves past them.
		s.tel.dropped(ctx, len(cands))
		s.mu.Lock()
		defer s.mu.Unlock()
		s.advance(r, cands, newest, observedAt)
		s.save(ctx)
		return newest, nil
	}
	s.tel.emitted(ctx, len(cands))
	if r.sweep != readLive {
		late := 0
		for _, c := range cands {
			if !c.at.IsZero() {
				late++
			}
		}
		r.found += late
		s.tel.late(ctx, r.sweep, late)
	}
	// Counted once emitted, so a page the pipeline refused and a re-read do not count twice.
	invalid, badTime, truncated := 0, 0, 0
	for _, c := range cands {
		if c.invalid {
			invalid++
		}
		if c.badTime {
			badTime++
		}
		if c.truncated {
			truncated++
		}
	}
	if truncated > 0 {
		s.tel.truncated(ctx, truncated)
		s.sampled.Warn("Emitted entries whose nested data did not fit max_nested_size; the rest was left out and the records carry stackone.truncated",
			zap.String("stream", s.name), zap.Int("entries", truncated))
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

// releaseAll gives back the entries that did not become records.
func releaseAll(entries []decoded) {
	for _, d := range entries {
		if d.sc != nil {
			d.release()
		}
	}
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
		if c.at.IsZero() {
			// The live read and the catch-up slices, which run at once, may all be served an entry without a
			// usable time: the first to take it holds it until its page is accepted or refused.
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
		// Remembered inside the slice's range rather than by when they were read, so prune keeps them for as long
		// as a slice not done may be served them again.
		s.pos.addPage(timeless, earlierOf(sl.Progress, sl.End.Add(-overlap)))
		return
	}
	ids := make([]uint64, len(cands))
	pageNewest := time.Time{}
	for i, c := range cands {
		ids[i] = c.id
		at := c.at
		if at.IsZero() {
			at = now // re-read at most until then: an upper bound of its time
			delete(s.pending, c.id)
		}
		pageNewest = laterOf(pageNewest, at)
	}
	s.pos.addPage(ids, pageNewest)
	if r.sweep == readLive {
		// A sweep's page may hold entries past its range: they are the live read's to deliver.
		s.pos.Frontier = laterOf(s.pos.Frontier, newest)
	}
	s.prune()
	s.markComplete(s.pos.Frontier)
}

// consumeWithRetry hands a page to the pipeline. A refusal (memory_limiter, a full queue) is retried with
// back-off and never skipped; only a permanent error, which no retry can fix, lets the position move past the
// page, and accepted is false then: the records reached no one. The call is not cancelled when polling stops, so
// a page in flight at shutdown completes and is saved, unless the shutdown deadline passes first.
func (s *stream) consumeWithRetry(ctx context.Context, build func() plog.Logs, n int) (accepted bool, err error) {
	a := s.retry.start()
	for {
		err := s.consume(ctx, build())
		if err == nil {
			s.setCondition(condPipeline, nil)
			return true, nil
		}
		if consumererror.IsPermanent(err) {
			s.log.Error("The pipeline permanently rejected a page of StackOne logs; they are dropped and the position moves on",
				zap.String("stream", s.name), zap.Int("records", n), zap.Error(err))
			return false, nil
		}
		s.setCondition(condPipeline, err)
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		d, ok, werr := a.next(ctx, 0)
		if !ok {
			s.sampled.Error("The pipeline keeps refusing StackOne logs; the position is kept and the next poll retries", zap.String("stream", s.name), zap.Error(err))
			return false, err
		}
		s.sampled.Warn("The pipeline refused StackOne logs; retrying the same page", zap.String("stream", s.name), zap.Duration("retry_in", d), zap.Error(err))
		s.tel.retry(ctx)
		if werr != nil {
			return false, werr
		}
	}
}

// save writes the position; s.mu must be held. A failure is counted, shows in the component status and the
// position_unsaved gauge, and holds the stream's readers before their next page (awaitSaved): a restart, or the
// next leader, resumes from the last position saved, and every page read past it would be delivered twice.
func (s *stream) save(ctx context.Context) {
	n, err := s.store.save(ctx, s.pos)
	s.tel.checkpointBytes(ctx, n)
	s.dirty = err != nil
	s.unsaved.Store(s.dirty)
	if err != nil {
		s.tel.checkpointError(ctx)
		s.sampled.Error("Could not save the position; this stream reads nothing further until a retried save succeeds (the pages already delivered stay delivered)",
			zap.String("stream", s.name), zap.Error(err))
		err = fmt.Errorf("%w; reading is held until a retried save succeeds: %w", errUnsaved, err)
	}
	s.setCondition(condStorage, err)
}

// awaitSaved returns at once while the position is saved. After a failed save it retries the save with
// retry_on_failure's back-off until one succeeds, and fails with errUnsaved once the retries are spent: a
// reader reads no page past a position that is not stored, so a crash or a lost lease repeats at most the page
// each reader had delivered. The waits run without s.mu, so the other readers finish the pages they have in
// hand, and their saves may be the one that succeeds.
func (s *stream) awaitSaved(ctx context.Context) error {
	s.mu.Lock()
	dirty := s.dirty
	s.mu.Unlock()
	if !dirty {
		return nil
	}
	a := s.retry.start()
	for {
		_, ok, err := a.next(ctx, 0)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w, and the retries (retry_on_failure) are spent", errUnsaved)
		}
		s.mu.Lock()
		if s.dirty {
			s.save(ctx)
		}
		dirty = s.dirty
		s.mu.Unlock()
		if !dirty {
			return nil
		}
	}
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
