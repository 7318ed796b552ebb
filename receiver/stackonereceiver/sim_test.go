package stackonereceiver

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/metadata"
)

// The deterministic simulation of the streams. Each seed draws a scenario (streams, casing, paging, backlog,
// live traffic, late arrivals, faults, crashes) and runs the real receiver (streams, pacer, client, mapper,
// position) against simAPI on simSched's clock, with a storage that can fail a write and a process that
// crashes at random points and restarts from what was stored. Checked on every run:
//   - every entry the API listed is delivered, from the lookback of the first start that stored a position;
//   - none twice, except entries of pages that were handed to the pipeline by a process that then crashed
//     before any later position write succeeded: at most one page per reader per crash, however many writes
//     failed before it (a reader whose save failed reads no further until a retried save succeeds);
//   - what one position write stores is bounded by the page, never by the volume read;
//   - in a run without faults, crashes or downtime, every entry arrives within the bound the sweeps promise
//     (simBound), whatever the lateness: short, a long tail, bursts indexed at once, or a sudden jump;
//   - a failed request log carries its detail (the provider's message) or says why not (failed,
//     skipped_budget), no record shows the credential the detail plants, and in no minute does a process send
//     more calls than the budget, or more detail calls than their share of it.
//
// `go test -run TestSimulation -sim.seeds=2000` runs more seeds; `-sim.seed=N` replays one, printing its
// scenario and every crash.
var (
	simSeeds = flag.Int("sim.seeds", 0, "how many seeds TestSimulation runs (0: the default for the build)")
	simSeed  = flag.Uint64("sim.seed", 0, "replay this seed of TestSimulation only, verbosely")
	simFirst = flag.Uint64("sim.first", 1, "the first seed TestSimulation runs")
)

func TestSimulation(t *testing.T) {
	if *simSeed != 0 {
		res := runSimulation(*simSeed, t.Logf)
		if res.err != nil {
			t.Fatalf("seed %d: %v\n%s", *simSeed, res.err, res.scenario)
		}
		t.Logf("seed %d: %s", *simSeed, res.summary)
		return
	}
	n := *simSeeds
	if n == 0 {
		n = simDefaultSeeds
	}
	var failed []uint64
	var total simTotals
	for seed := *simFirst; seed < *simFirst+uint64(n); seed++ {
		res := runSimulation(seed, nil)
		total.add(res)
		if res.err != nil {
			failed = append(failed, seed)
			t.Errorf("seed %d failed: %v\n%s\nreplay: go test ./receiver/stackonereceiver/ -run 'TestSimulation$' -sim.seed=%d -v", seed, res.err, res.scenario, seed)
			if len(failed) >= 5 {
				break
			}
		}
	}
	t.Logf("%d seeds: %s", n, total)
}

// A seed must replay its run exactly, or a failure could not be looked into.
func TestSimulationIsDeterministic(t *testing.T) {
	for seed := uint64(1); seed <= 12; seed++ {
		a, b := runSimulation(seed, nil), runSimulation(seed, nil)
		if a.summary != b.summary || fmt.Sprint(a.err) != fmt.Sprint(b.err) {
			t.Errorf("seed %d ran two ways:\n%s (%v)\n%s (%v)", seed, a.summary, a.err, b.summary, b.err)
		}
	}
}

// simScenario is what one seed draws.
type simScenario struct {
	seed        uint64
	streams     []string
	camel       bool
	concurrency int
	pageSize    int
	lookback    time.Duration
	backlog     int           // entries before the start, over the lookback
	live        int           // entries after the start
	liveSpan    time.Duration // over which the live entries happen
	lateShare   float64       // share of entries the API lists late (within the late-arrival window)
	lateness    simLateness   // how late those are
	timeless    float64       // share of entries whose time does not parse
	burst       float64       // share of entries sharing the previous entry's millisecond
	crashes     int
	downtime    time.Duration // the longest pause before a restart
	faults      simFaults
	failShare   float64 // share of entries whose request failed; failed request logs have a detail to fetch
	detailShare float64 // request_logs.detail.budget_share
}

func (sc simScenario) String() string {
	return fmt.Sprintf("streams %v, camelCase %v, catch_up.concurrency %d, page_size %d, initial_lookback %s, backlog %d, live %d over %s, late %.2f (%s), timeless %.3f, burst %.2f, crashes %d (downtime up to %s), failed %.2f (detail share %.2f), faults %+v",
		sc.streams, sc.camel, sc.concurrency, sc.pageSize, sc.lookback, sc.backlog, sc.live, sc.liveSpan, sc.lateShare, sc.lateness, sc.timeless, sc.burst, sc.crashes, sc.downtime, sc.failShare, sc.detailShare, sc.faults)
}

// drawScenario covers every stream, both concurrencies and the three shapes (live only, a backlog read by
// catch-up, both) in turn, and draws the rest.
func drawScenario(seed uint64, s *simSched) simScenario {
	names := []string{"request_logs", "action_logs", "step_logs", "platform_logs"}
	sc := simScenario{seed: seed, streams: []string{names[seed%4]}}
	if s.chance(0.15) {
		other := names[(seed+1+uint64(s.intn(3)))%4]
		sc.streams = append(sc.streams, other)
	}
	sc.streams = withActionSteps(seed, sc.streams)
	sc.camel = s.chance(0.5)
	sc.concurrency = []int{1, 4}[(seed/4)%2]
	sc.pageSize = 2 + s.intn(14)
	switch (seed / 8) % 3 {
	case 0: // live: a short lookback, traffic after the start, sweeps for the late ones
		sc.lookback = time.Duration(1+s.intn(20)) * time.Minute
		sc.backlog = s.intn(30)
		sc.live = 50 + s.intn(250)
	case 1: // catch-up: hours behind
		sc.lookback = time.Duration(1+s.intn(6)) * time.Hour
		sc.backlog = 50 + s.intn(350)
		sc.live = s.intn(20)
	default:
		sc.lookback = time.Duration(30+s.intn(180)) * time.Minute
		sc.backlog = 20 + s.intn(200)
		sc.live = 20 + s.intn(200)
	}
	sc.liveSpan = time.Duration(5+s.intn(30)) * time.Minute
	sc.lateShare = []float64{0, 0.1, 0.3}[s.intn(3)]
	// From the seed rather than the scheduler's source, so every other draw of a seed stays as it was.
	sc.lateness = simLateness((seed / 24) % uint64(numSimLateness))
	sc.timeless = []float64{0, 0, 0.02}[s.intn(3)]
	sc.burst = []float64{0, 0.2, 0.5}[s.intn(3)]
	sc.crashes = s.intn(5)
	sc.downtime = []time.Duration{0, time.Minute, 30 * time.Minute}[s.intn(3)]
	level := []float64{0, 0.05, 0.15}[s.intn(3)]
	sc.faults = simFaults{
		latency:     time.Duration(20+s.intn(300)) * time.Millisecond,
		rateLimited: level, unavailable: level, cut: level, timeout: level / 3,
		expire: level, repeat: []float64{0, 0.3, 0.7}[s.intn(3)],
		cursorTTL: time.Duration(10+s.intn(300)) * time.Second,
		refuse:    level, storeFail: level / 2, crashAtWrite: []float64{0, 0.002, 0.01}[s.intn(3)],
		storeOutage: level / 5,
	}
	// From the seed too: failed requests, and a detail share that is ample or soon spent.
	sc.failShare = []float64{0, 0.1, 0.4}[(seed/120)%3]
	sc.detailShare = []float64{0.2, 0.05}[(seed/360)%2]
	return sc
}

// withActionSteps adds the action_steps stream to some seeds' streams. It is decided by a hash of the seed, not
// by the scheduler's source, so every other seed draws exactly the scenario it drew before the stream existed:
// action_steps takes the place of action_logs in a quarter of the seeds that read them (alone, or beside the other
// stream drawn), joins them in another quarter, and joins whatever was drawn in one seed in sixteen.
func withActionSteps(seed uint64, streams []string) []string {
	h := seed * 0x9e3779b97f4a7c15
	h ^= h >> 29
	switch h >> 60 {
	case 0:
		return append(streams, "action_steps")
	case 1, 2, 3:
		if i := slices.Index(streams, "action_logs"); i >= 0 {
			out := slices.Clone(streams)
			out[i] = "action_steps"
			return out
		}
	case 4, 5, 6, 7:
		if slices.Contains(streams, "action_logs") {
			return append(streams, "action_steps")
		}
	}
	return streams
}

// simResult is one run's outcome.
type simResult struct {
	err      error
	scenario string
	summary  string
	entries  int
	calls    int
	dups     int
	crashes  int
	maxWrite int
	simTime  time.Duration
	detailed int
}

type simTotals struct {
	runs, failed, entries, calls, dups, crashes, maxWrite, detailed int
	simTime                                                         time.Duration
}

func (t *simTotals) add(r simResult) {
	t.runs++
	if r.err != nil {
		t.failed++
	}
	t.entries += r.entries
	t.calls += r.calls
	t.dups += r.dups
	t.crashes += r.crashes
	t.maxWrite = max(t.maxWrite, r.maxWrite)
	t.simTime += r.simTime
	t.detailed += r.detailed
}

func (t simTotals) String() string {
	return fmt.Sprintf("%d failed; %d entries, %d API calls, %d crashes, %d duplicates (all in pages in flight at a crash), %d failed requests sent with their detail, largest position write %d B, %s of simulated time",
		t.failed, t.entries, t.calls, t.crashes, t.dups, t.detailed, t.maxWrite, t.simTime.Round(time.Minute))
}

// simWorld is one seed's world: the API, the storage, the pipeline and the log of what happened in it.
type simWorld struct {
	s     *simSched
	sc    simScenario
	api   *simAPI
	store *simStorage
	logf  func(string, ...any)

	seq        int // orders deliveries and position writes
	deliveries []*simDelivery
	// detailIssues are records of failed requests without the right detail or its mark, and records showing
	// the planted credential.
	detailIssues []string
	detailed     int // records built from a fetched detail
	incs         []*simIncarnation
	// crashes are the times the running process dies, earliest first: drawn at the start, and added when a
	// storage outage ends in one.
	crashes []time.Time
}

// simIncarnation is one process of the receiver, from start to crash.
type simIncarnation struct {
	n       int
	started time.Time
	rcv     *stackoneReceiver
	dead    bool
	// lastWrite is the seq of each stream's last successful position write; failedAt of the last failed one.
	lastWrite map[string]int
	failedAt  int
	// pausedUntil is when the last Retry-After the API gave this process ends (cut to maxRetryAfter).
	pausedUntil time.Time
}

type simDelivery struct {
	inc      *simIncarnation
	stream   string
	at       time.Time
	ids      []string
	returned int // seq when ConsumeLogs returned; 0 if the process died first
}

func runSimulation(seed uint64, logf func(string, ...any)) (res simResult) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := newSimSched(seed, start)
	sc := drawScenario(seed, s)
	res.scenario = "scenario: " + sc.String()
	w := &simWorld{s: s, sc: sc, api: &simAPI{s: s, logf: logf, faults: sc.faults, camel: sc.camel, endInclusive: s.chance(0.5), roundStart: s.chance(0.3), feeds: map[string]*simFeed{}, failShare: sc.failShare}, logf: logf}
	w.store = &simStorage{w: w, data: map[string][]byte{}, pageSize: sc.pageSize, begins: map[string]time.Time{}}
	if logf != nil {
		logf("%s", res.scenario)
	}
	last := w.generate(start)
	res.entries = w.count()

	// Crashes fall anywhere in the run; the run ends once the last entry can have been read by a sweep.
	end := last.Add(defaultWindow + 2*time.Minute)
	var crashes []time.Time
	for range sc.crashes {
		crashes = append(crashes, start.Add(time.Duration(s.rng.Int64N(int64(end.Sub(start))))))
	}
	slices.SortFunc(crashes, time.Time.Compare)
	w.crashes = crashes
	err := w.drive(end)
	res.calls, res.crashes, res.simTime = w.api.calls, len(w.incs)-1, s.clock().Sub(start)
	res.maxWrite, res.detailed = w.store.maxWrite, w.detailed
	if err == nil && len(s.panics) > 0 {
		err = fmt.Errorf("a goroutine panicked: %s", s.panics[0])
	}
	if err == nil {
		res.dups, err = w.check()
	}
	if err == nil {
		err = w.store.err
	}
	if v := w.api.violations; err == nil && len(v) > 0 {
		err = fmt.Errorf("%d calls ignored the server's Retry-After, e.g. %s", len(v), strings.Join(v[:min(3, len(v))], "; "))
	}
	res.err = err
	res.summary = fmt.Sprintf("%d entries, %d calls, %d restarts, %d duplicates, largest write %d B, %s simulated", res.entries, res.calls, res.crashes, res.dups, res.maxWrite, res.simTime)
	return res
}

const defaultWindow = 5 * time.Minute

// simLateness is how late the API lists the entries it lists late; always within the late-arrival window the
// receiver promises to cover.
type simLateness int

const (
	lateUniform simLateness = iota // anywhere in the window
	lateShort                      // within the indexing delay
	lateTail                       // mostly within the indexing delay, one in ten anywhere in the window
	lateBursts                     // indexed in batches: every entry of a 30-second stretch appears at its end plus up to 2 minutes
	lateJump                       // within seconds for the first half of the live traffic, then minutes
	numSimLateness
)

func (l simLateness) String() string {
	return [...]string{"uniform", "short", "long tail", "bursts", "sudden jump"}[l]
}

// draw returns the lateness of an entry at offset since the start (negative in the backlog).
func (l simLateness) draw(s *simSched, offset, liveSpan time.Duration) time.Duration {
	within := func(d time.Duration) time.Duration { return time.Duration(s.rng.Int64N(int64(d))) }
	switch l {
	case lateShort:
		return within(time.Minute * 9 / 10)
	case lateTail:
		if s.chance(0.1) {
			return within(defaultWindow * 9 / 10)
		}
		return within(20 * time.Second)
	case lateBursts:
		// The stretch's end, plus a delay the stretch shares.
		stretch := 30 * time.Second
		end := offset.Truncate(stretch) + stretch
		batch := time.Duration(uint64(offset.Truncate(stretch)/stretch)*2654435761%120) * time.Second
		return end - offset + batch
	case lateJump:
		if offset < liveSpan/2 {
			return within(10 * time.Second)
		}
		return 3*time.Minute + within(time.Minute)
	}
	return within(defaultWindow * 9 / 10)
}

// simBound is the latest an entry may arrive in a run without faults, crashes or downtime, as
// docs/guarantees.md states it: an on-time entry at the next poll; a late one with the near sweep, the indexing
// delay after its event time, or, if it was later than that, with the far sweep, the window after it; each plus
// a sweep_interval for the chunking, a poll interval for the polls' cadence, and the time the reads themselves
// take on the paced budget (slack).
func simBound(at, visible time.Time, lateness simLateness) time.Time {
	const slack = time.Minute
	cfg := createDefaultConfig().(*Config)
	extra := cfg.SweepInterval + cfg.PollInterval + slack
	late := visible.Sub(at)
	switch {
	case at.IsZero() || late <= 0:
		return visible.Add(cfg.PollInterval + slack)
	case lateness == lateShort:
		return at.Add(cfg.IndexingDelay + extra)
	default:
		return laterOf(visible, at.Add(cfg.LateArrivalWindow)).Add(extra)
	}
}

// generate plants the scenario's entries and returns when the last one becomes visible.
func (w *simWorld) generate(start time.Time) time.Time {
	s, sc := w.s, w.sc
	last := start
	n := 0
	plant := func(at time.Time) {
		n++
		stream := sc.streams[s.intn(len(sc.streams))]
		visible := at
		if s.chance(sc.lateShare) {
			visible = at.Add(sc.lateness.draw(s, at.Sub(start), sc.liveSpan))
		}
		if s.chance(sc.timeless) {
			at = time.Time{}
		}
		if visible.Before(start) && !at.IsZero() && visible.Before(at) {
			visible = at
		}
		w.api.addEntry(stream, fmt.Sprintf("e%d-%d", sc.seed, n), at, visible)
		last = laterOf(last, visible)
	}
	// The backlog lies inside the lookback, so the first start reads it all.
	spread := func(from time.Time, span time.Duration, count int) {
		var prev time.Time
		for range count {
			at := from.Add(time.Duration(s.rng.Int64N(int64(span)))).Truncate(time.Millisecond)
			if !prev.IsZero() && s.chance(sc.burst) {
				at = prev
			}
			prev = at
			plant(at)
		}
	}
	lookback := sc.lookback * 9 / 10
	spread(start.Add(-lookback), lookback, sc.backlog)
	spread(start, sc.liveSpan, sc.live)
	return last
}

func (w *simWorld) count() int {
	n := 0
	for _, f := range w.api.feeds {
		n += len(f.entries)
	}
	return n
}

// drive runs incarnations of the receiver: each until its crash (a drawn time, or a storage write that
// decided to crash), then the next after some downtime, until every entry is delivered or an hour past end.
func (w *simWorld) drive(end time.Time) error {
	s := w.s
	inc, err := w.startIncarnation()
	if err != nil {
		return err
	}
	for {
		// However long the last downtime, the last process gets an hour to deliver everything.
		giveUp := laterOf(end, inc.started).Add(time.Hour)
		horizon := end
		if len(w.crashes) > 0 {
			horizon = w.crashes[0]
		} else if !s.clock().Before(end) {
			if w.allDelivered() || !s.clock().Before(giveUp) {
				return w.crash(inc, "end of run")
			}
			horizon = s.clock().Add(time.Minute)
		}
		if err := s.run(horizon); err != nil {
			return err
		}
		crashNow := inc.dead
		if len(w.crashes) > 0 && !s.clock().Before(w.crashes[0]) {
			w.crashes = w.crashes[1:]
			crashNow = true
		}
		if !crashNow {
			if s.alive(inc) == 0 {
				return fmt.Errorf("every goroutine of the receiver ended at %s without a crash", s.clock())
			}
			continue
		}
		if err := w.crash(inc, "crash"); err != nil {
			return err
		}
		s.mu.Lock()
		if w.sc.downtime > 0 {
			s.now = s.now.Add(time.Duration(s.rng.Int64N(int64(w.sc.downtime))))
		}
		s.mu.Unlock()
		if inc, err = w.startIncarnation(); err != nil {
			return err
		}
	}
}

func (w *simWorld) startIncarnation() (*simIncarnation, error) {
	s := w.s
	inc := &simIncarnation{n: len(w.incs) + 1, started: s.clock(), lastWrite: map[string]int{}}
	w.incs = append(w.incs, inc)
	cfg := w.config()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	set := receivertest.NewNopSettings(metadata.Type)

	if w.logf != nil {
		set.Logger = zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.AddSync(simLogWriter{w}), zap.DebugLevel))
	}
	rcv, err := newReceiver(cfg, set, &simSink{w: w})
	if err != nil {
		return nil, err
	}
	rcv.now, rcv.wait, rcv.waitPoll = s.clock, s.wait, s.wait
	rcv.budgetClock, rcv.budgetSleep = s.clock, s.wait
	rcv.withTimeout = func(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
		ctx, cancel := context.WithCancel(ctx)
		(&simGroup{s: s, inc: inc}).Go(func() {
			if s.wait(ctx, d) == nil {
				cancel()
			}
		})
		return ctx, cancel
	}
	rcv.newGroup = func() group { return &simGroup{s: s, inc: inc} }
	rcv.httpClient = &http.Client{Transport: w.api}
	inc.rcv = rcv
	if w.logf != nil {
		w.logf("%s: start #%d", s.clock().Format(time.TimeOnly), inc.n)
	}
	return inc, rcv.Start(context.Background(), simHost{ext: simStorageExt{client: w.store}})
}

// config is the receiver's configuration in every process of the run.
func (w *simWorld) config() *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Endpoint = "http://127.0.0.1:9"
	cfg.APIKey = "sim-key"
	cfg.PageSize = w.sc.pageSize
	cfg.InitialLookback = w.sc.lookback
	cfg.CatchUp.Concurrency = w.sc.concurrency
	cfg.RequestLogs.Detail.BudgetShare = w.sc.detailShare
	// The back-off's jitter comes from math/rand's global source, which a seed cannot replay.
	cfg.BackOff.RandomizationFactor = 0
	id := simStorageID
	cfg.StorageID = &id
	cfg.RequestLogs.Enabled, cfg.ActionLogs.Enabled = false, false
	for _, name := range w.sc.streams {
		switch name {
		case "request_logs":
			cfg.RequestLogs.Enabled = true
		case "action_logs":
			cfg.ActionLogs.Enabled = true
		case "step_logs":
			cfg.StepLogs.Enabled = true
		case "platform_logs":
			cfg.PlatformLogs.Enabled = true
		case "action_steps":
			cfg.ActionSteps.Enabled = true
		}
	}
	return cfg
}

// crash drops the process: nothing it does from now on reaches the API, the pipeline or the storage, and
// its goroutines unwind as their calls fail.
func (w *simWorld) crash(inc *simIncarnation, why string) error {
	if w.logf != nil {
		w.logf("%s: %s of #%d", w.s.clock().Format(time.TimeOnly), why, inc.n)
	}
	inc.dead = true
	inc.rcv.running.cancel()
	inc.rcv.abandon()
	for range 1000 {
		if w.s.alive(inc) == 0 {
			return nil
		}
		if err := w.s.run(w.s.clock()); err != nil {
			return err
		}
	}
	return fmt.Errorf("the crashed process #%d did not unwind: %d goroutines left", inc.n, w.s.alive(inc))
}

// checkFreshness holds a run to simBound for the entries that appear after the start, where the bound is
// promised: no faults, crashes or downtime, and a budget that keeps up (one stream, and no catch-up of hours
// sharing the budget with it).
func (w *simWorld) checkFreshness(first map[string]time.Time) error {
	f := w.sc.faults
	if len(w.incs) > 1 || f.rateLimited+f.unavailable+f.cut+f.timeout+f.expire+f.refuse+f.storeFail+f.crashAtWrite+f.storeOutage > 0 ||
		len(w.sc.streams) > 1 || w.sc.lookback > defaultCatchUpAfter+defaultWindow {
		return nil
	}
	start := w.incs[0].started
	var late []string
	for _, feed := range w.api.feeds {
		for _, e := range feed.entries {
			got, ok := first[e.id]
			if !ok || e.visible.Before(start) {
				continue
			}
			if bound := simBound(e.at, e.visible, w.sc.lateness); got.After(bound) {
				late = append(late, fmt.Sprintf("%s (event %s, listed from %s, arrived %s, bound %s)", e.id, e.at.Format(time.TimeOnly+".000"),
					e.visible.Format(time.TimeOnly+".000"), got.Format(time.TimeOnly+".000"), bound.Format(time.TimeOnly+".000")))
			}
		}
	}
	if len(late) > 0 {
		return fmt.Errorf("%d entries arrived after the bound, e.g. %s", len(late), strings.Join(late[:min(3, len(late))], "; "))
	}
	return nil
}

func (w *simWorld) allDelivered() bool {
	got := map[string]bool{}
	for _, d := range w.deliveries {
		for _, id := range d.ids {
			got[id] = true
		}
	}
	for path, f := range w.api.feeds {
		for _, e := range f.entries {
			if !got[e.id] && w.owed(path, e) {
				return false
			}
		}
	}
	return true
}

// owed says whether the receiver must deliver e of the feed at path. initial_lookback counts from the start
// whose position was first stored: a process that crashed before any save leaves nothing to resume, and the
// next one looks back from its own start.
func (w *simWorld) owed(path string, e *simEntry) bool {
	return !e.sortAt.Before(w.store.begins[path])
}

// check verifies the invariants over the whole run.
func (w *simWorld) check() (dups int, err error) {
	times := map[string]int{}
	first := map[string]time.Time{}
	inFlight := map[string]int{}
	unsaved := map[*simIncarnation]int{}
	for _, d := range w.deliveries {
		saved := d.returned != 0 && d.inc.lastWrite[d.stream] > d.returned
		for _, id := range d.ids {
			if times[id] == 0 {
				first[id] = d.at
			}
			times[id]++
			if !saved {
				inFlight[id]++
			}
		}
		if !saved {
			unsaved[d.inc]++
		}
	}
	var missing []string
	for path, f := range w.api.feeds {
		for _, e := range f.entries {
			if times[e.id] == 0 && w.owed(path, e) {
				missing = append(missing, fmt.Sprintf("%s (event %s, listed from %s)", e.id, e.at.Format(time.TimeOnly+".000"), e.visible.Format(time.TimeOnly+".000")))
			}
		}
	}
	var errs []error
	if err := w.checkFreshness(first); err != nil {
		errs = append(errs, err)
	}
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("%d entries never delivered, e.g. %s", len(missing), strings.Join(missing[:min(5, len(missing))], "; ")))
	}
	var twice []string
	for id, n := range times {
		if n > 1 {
			dups += n - 1
			if n-1 > inFlight[id] {
				var by []string
				for _, d := range w.deliveries {
					if slices.Contains(d.ids, id) {
						by = append(by, fmt.Sprintf("#%d (page %v, returned at %d, last write %d)", d.inc.n, d.ids, d.returned, d.inc.lastWrite[d.stream]))
					}
				}
				twice = append(twice, fmt.Sprintf("%s %d times (%d in pages in flight at a crash): by %s", id, n, inFlight[id], strings.Join(by, ", ")))
			}
		}
	}
	slices.Sort(twice)
	if len(twice) > 0 {
		errs = append(errs, fmt.Errorf("%d entries delivered twice outside a crash, e.g. %s", len(twice), strings.Join(twice[:min(5, len(twice))], "; ")))
	}
	if len(w.detailIssues) > 0 {
		errs = append(errs, fmt.Errorf("%d records with a wrong detail, e.g. %s", len(w.detailIssues), strings.Join(w.detailIssues[:min(5, len(w.detailIssues))], "; ")))
	}
	if err := w.checkBudget(); err != nil {
		errs = append(errs, err)
	}
	readers := len(w.sc.streams) * (w.sc.concurrency + 1) // the live read runs beside the catch-up
	for inc, n := range unsaved {
		if n > readers && inc != w.incs[len(w.incs)-1] {
			errs = append(errs, fmt.Errorf("process #%d crashed with %d pages in flight, more than its %d readers", inc.n, n, readers))
		}
	}
	return dups, errors.Join(errs...)
}

// simLogWriter prints the receiver's log lines, stamped with the simulated time, when a seed is replayed.
type simLogWriter struct{ w *simWorld }

func (l simLogWriter) Write(b []byte) (int, error) {
	l.w.logf("%s: log: %s", l.w.s.now.Format(time.TimeOnly+".000"), strings.TrimSpace(string(b)))
	return len(b), nil
}

// simSink is the pipeline: it may refuse a page (memory_limiter), takes the exporter's time to accept one,
// and records what it accepted and when the call returned.
type simSink struct{ w *simWorld }

func (k *simSink) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (k *simSink) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	w := k.w
	p := w.s.current()
	if p.inc.dead {
		return errSimCrashed
	}
	if w.s.chance(w.sc.faults.refuse) {
		return errors.New("data refused due to high memory usage")
	}
	d := &simDelivery{inc: p.inc, at: w.s.clock(), stream: strings.TrimPrefix(ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).EventName(), "stackone.") + "s"}
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		sls := ld.ResourceLogs().At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				v, ok := lrs.At(k).Attributes().Get("stackone.sim_id")
				if !ok {
					return consumererror.NewPermanent(errors.New("sim: a record without stackone.sim_id"))
				}
				d.ids = append(d.ids, v.Str())
				w.checkDetail(d.stream, v.Str(), lrs.At(k))
			}
		}
	}
	w.deliveries = append(w.deliveries, d)
	if w.logf != nil {
		w.logf("%s: #%d delivers %s %v", w.s.clock().Format(time.TimeOnly+".000"), p.inc.n, d.stream, d.ids)
	}
	// The exporter's time: the process may crash while the page is in the pipeline.
	if err := w.s.wait(ctx, time.Duration(1+w.s.intn(50))*time.Millisecond); err != nil && p.inc.dead {
		return nil // delivered; the process is gone
	}
	w.seq++
	d.returned = w.seq
	return nil
}

// checkDetail: a failed request log carries its detail (the provider's message) or says why not; nothing else
// is marked; and no record shows the credential the detail plants.
func (w *simWorld) checkDetail(stream, id string, lr plog.LogRecord) {
	attrs := lr.Attributes()
	raw, _ := json.Marshal(attrs.AsRaw())
	if strings.Contains(string(raw), simPlanted) {
		w.detailIssues = append(w.detailIssues, id+" shows the planted credential")
	}
	outcome, marked := attrs.Get("stackone.detail")
	if stream != "request_logs" || !w.api.simFailed(id) {
		if marked {
			w.detailIssues = append(w.detailIssues, id+" is marked stackone.detail but its request did not fail")
		}
		return
	}
	switch {
	case !marked:
		w.detailIssues = append(w.detailIssues, id+" failed but has no stackone.detail")
	case outcome.Str() == detailFetched:
		w.detailed++
		if msg, _ := attrs.Get("stackone.provider_error.message"); msg.Str() != "sim provider down" {
			w.detailIssues = append(w.detailIssues, fmt.Sprintf("%s was fetched but its provider message is %q", id, msg.AsString()))
		}
	case outcome.Str() != detailFailed && outcome.Str() != detailSkippedBudget:
		w.detailIssues = append(w.detailIssues, fmt.Sprintf("%s has stackone.detail %q", id, outcome.Str()))
	}
}

// checkBudget: in no window of the budget's span did one process send more calls than max_requests_per_minute,
// nor more detail calls than their share of it.
func (w *simWorld) checkBudget() error {
	cfg := w.config()
	for _, c := range []struct {
		what   string
		counts func(simSent) bool
		limit  int
	}{
		{"detail", func(c simSent) bool { return c.detail }, cfg.detailCalls()},
		{"API", func(simSent) bool { return true }, cfg.MaxRequestsPerMinute},
	} {
		var window []simSent
		for _, sent := range w.api.sent {
			if !c.counts(sent) {
				continue
			}
			for len(window) > 0 && (window[0].inc != sent.inc || !sent.at.Before(window[0].at.Add(budgetWindow))) {
				window = window[1:]
			}
			window = append(window, sent)
			if len(window) > c.limit {
				return fmt.Errorf("process #%d sent %d %s calls between %s and %s, more than the %d its budget allows",
					sent.inc.n, len(window), c.what, window[0].at.Format(time.TimeOnly+".000"), sent.at.Format(time.TimeOnly+".000"), c.limit)
			}
		}
	}
	return nil
}

var simStorageID = component.MustNewID("sim_storage")

// simStorage keeps the position across crashes. A write may fail, or the process may crash inside it (the
// write lost, or done and then the crash); each write's size is checked against the page bound.
type simStorage struct {
	w        *simWorld
	data     map[string][]byte
	pageSize int
	maxWrite int
	err      error
	// downUntil ends the current outage.
	downUntil time.Time
	// begins is, per stream's path, the earliest time the first stored position covers.
	begins map[string]time.Time
}

func (st *simStorage) Get(ctx context.Context, key string) ([]byte, error) {
	op := storage.GetOperation(key)
	err := st.Batch(ctx, op)
	return op.Value, err
}

func (st *simStorage) Set(ctx context.Context, key string, value []byte) error {
	return st.Batch(ctx, storage.SetOperation(key, value))
}

func (st *simStorage) Delete(ctx context.Context, key string) error {
	return st.Batch(ctx, storage.DeleteOperation(key))
}

func (st *simStorage) Close(context.Context) error { return nil }

func (st *simStorage) Batch(_ context.Context, ops ...*storage.Operation) error {
	w := st.w
	p := w.s.current()
	if p.inc.dead {
		return errSimCrashed
	}
	writes := 0
	for _, op := range ops {
		if op.Type != storage.Get {
			writes++
		}
	}
	f := w.sc.faults
	if now := w.s.clock(); now.Before(st.downUntil) || writes > 0 && w.s.chance(f.storeOutage) {
		if !now.Before(st.downUntil) {
			st.downUntil = now.Add(time.Duration(5+w.s.intn(115)) * time.Second)
			if w.s.chance(0.5) {
				w.crashes = append(w.crashes, st.downUntil)
				slices.SortFunc(w.crashes, time.Time.Compare)
				w.s.mu.Lock()
				w.s.stop = true // the driver's horizon may lie past the new crash
				w.s.mu.Unlock()
			}
			if w.logf != nil {
				w.logf("%s: storage down until %s", now.Format(time.TimeOnly+".000"), st.downUntil.Format(time.TimeOnly+".000"))
			}
		}
		if writes > 0 {
			w.seq++
			p.inc.failedAt = w.seq
		}
		return errors.New("sim: storage unavailable")
	}
	if w.s.chance(f.storeFail) {
		if writes > 0 {
			w.seq++
			p.inc.failedAt = w.seq
		}
		return errors.New("sim: storage write failed")
	}
	crash := writes > 0 && w.s.chance(f.crashAtWrite)
	if crash && w.s.chance(0.5) {
		// The process dies before the write reaches the disk.
		p.inc.dead = true
		w.s.mu.Lock()
		w.s.stop = true
		w.s.mu.Unlock()
		return errSimCrashed
	}
	size, pageRecords := 0, 0
	for _, op := range ops {
		switch op.Type {
		case storage.Get:
			op.Value = slices.Clone(st.data[op.Key])
		case storage.Set:
			st.data[op.Key] = slices.Clone(op.Value)
			size += len(op.Value)
			if strings.Contains(op.Key, ".seen.") {
				pageRecords++
				// A page record holds at most the ids of one page (the API may repeat a few entries).
				if limit := 8 + 8*(st.pageSize+3); len(op.Value) > limit && st.err == nil {
					st.err = fmt.Errorf("a page record of %d bytes, over the %d of one page", len(op.Value), limit)
				}
			} else {
				if len(op.Value) > 16<<10 && st.err == nil {
					st.err = fmt.Errorf("a position header of %d bytes: it must not grow with the volume read", len(op.Value))
				}
				st.noteBegin(op.Key, op.Value)
			}
		case storage.Delete:
			delete(st.data, op.Key)
		}
	}
	st.maxWrite = max(st.maxWrite, size)
	if writes > 0 {
		w.seq++
		stream, _, _ := strings.Cut(strings.TrimPrefix(ops[0].Key, "position."), ".")
		p.inc.lastWrite[stream] = w.seq
		// Records of pages whose earlier write failed go out with this one; more than that is a leak.
		if p.inc.failedAt == 0 && pageRecords > len(w.sc.streams) && st.err == nil {
			st.err = fmt.Errorf("one write carried %d page records without any failed write before it", pageRecords)
		}
	}
	if crash {
		p.inc.dead = true
		w.s.mu.Lock()
		w.s.stop = true
		w.s.mu.Unlock()
	}
	return nil
}

// noteBegin remembers where the first position stored for a stream begins.
func (st *simStorage) noteBegin(key string, header []byte) {
	path := simStreams[strings.TrimPrefix(key, "position.")].path
	if _, ok := st.begins[path]; ok {
		return
	}
	var h storedHeader
	h.position = &position{}
	if err := json.Unmarshal(header, &h); err != nil {
		if st.err == nil {
			st.err = fmt.Errorf("an unreadable position header: %v", err)
		}
		return
	}
	begin := earlierOf(h.Floor, h.Frontier)
	for _, sl := range h.Slices {
		begin = earlierOf(begin, sl.Start)
	}
	st.begins[path] = begin
}

// simHost is the collector host of the simulation: its only extension is the storage.
type simHost struct{ ext simStorageExt }

func (h simHost) GetExtensions() map[component.ID]component.Component {
	return map[component.ID]component.Component{simStorageID: h.ext}
}

type simStorageExt struct{ client *simStorage }

func (simStorageExt) Start(context.Context, component.Host) error { return nil }
func (simStorageExt) Shutdown(context.Context) error              { return nil }
func (e simStorageExt) GetClient(context.Context, component.Kind, component.ID, string) (storage.Client, error) {
	return e.client, nil
}
