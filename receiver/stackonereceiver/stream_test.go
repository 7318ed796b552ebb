package stackonereceiver

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/metadatatest"
	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/stackoneapi"
)

// position reads what the running receiver's stream stored.
func (r *run) position(stream string) *position {
	r.t.Helper()
	p, err := (&positionStore{client: r.rcv.running.storage, key: "position." + stream}).load(context.Background())
	require.NoError(r.t, err)
	require.NotNil(r.t, p)
	return p
}

// position reads what a stream stored, after its receiver stopped.
func (w *world) position(stream string) *position {
	w.t.Helper()
	var p *position
	w.withStorage(func(c storage.Client) {
		var err error
		p, err = (&positionStore{client: c, key: "position." + stream}).load(context.Background())
		require.NoError(w.t, err)
	})
	require.NotNil(w.t, p)
	return p
}

// rendezvous makes the first ConsumeLogs call wait until a second one is in flight: proof that two slices
// deliver at the same time. It gives up (and the test fails) if none comes.
func rendezvous(t *testing.T, sink *consumertest.LogsSink) (consumer func(context.Context, plog.Logs) error, met func() bool) {
	var once sync.Once
	second := make(chan struct{})
	var mu sync.Mutex
	calls, together := 0, false
	return func(ctx context.Context, ld plog.Logs) error {
			mu.Lock()
			calls++
			first := calls == 1
			if calls == 2 {
				once.Do(func() { close(second) })
			}
			mu.Unlock()
			if first {
				select {
				case <-second:
					mu.Lock()
					together = true
					mu.Unlock()
				case <-time.After(20 * time.Second):
					t.Error("no second slice delivered while the first was in the pipeline")
				}
			}
			return sink.ConsumeLogs(ctx, ld)
		}, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return together
		}
}

func TestCatchUpReadsTimeSlicesInParallel(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	w.catchUpAfter = defaultCatchUpAfter
	backlog := w.fake.GenerateRequestLogs(600, time.Now().Add(-59*time.Minute), 5*time.Second, 31)
	cfg := w.config()
	cfg.CatchUp.Concurrency = 3
	sink := new(consumertest.LogsSink)
	consume, together := rendezvous(t, sink)
	r := w.start(cfg, consumerFunc(consume))
	defer r.stop()
	r.awaitPoll()
	r.awaitCatchUp()

	requireExactlyOnce(t, idsOf(backlog, "request_id"), ids(sink))
	assert.True(t, together(), "slices were read one at a time")
	sliced := 0
	for _, req := range w.fake.Requests() {
		if req.Query.Get("end_date") != "" {
			sliced++
		}
	}
	assert.Greater(t, sliced, 3*slicesPerWorker-1, "every slice is a query bounded by its end")
	pos := r.position("request_logs")
	assert.Empty(t, pos.Slices)
	assert.True(t, pos.Floor.After(time.Now().Add(-cfg.LateArrivalWindow-time.Minute)), "the live read begins where the slices ended")
}

func TestRestartMidCatchUpResumesEverySlice(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	w.catchUpAfter = defaultCatchUpAfter
	backlog := w.fake.GenerateRequestLogs(900, time.Now().Add(-59*time.Minute), 3*time.Second, 32)
	want := idsOf(backlog, "request_id")
	cfg := w.config()
	cfg.PageSize = 20
	cfg.CatchUp.Concurrency = 4

	first := new(consumertest.LogsSink)
	cons, stopping := stopAfterPages(t, first, 10)
	r1 := w.start(cfg, cons)
	<-stopping
	r1.stop()
	got := ids(first)
	require.Len(t, got, len(uniq(got)), "nothing repeated within the first run")
	require.Less(t, len(got), len(want), "the first run must stop mid-catch-up")

	// The oldest slice left (what the lag is measured by) has delivered everything before its progress.
	pos := w.position("request_logs")
	require.NotEmpty(t, pos.Slices, "the catch-up was interrupted")
	delivered := map[string]bool{}
	for _, id := range got {
		delivered[id] = true
	}
	for _, e := range backlog {
		at, _ := time.Parse(time.RFC3339Nano, e["event_datetime"].(string))
		if at.Before(pos.Slices[0].Progress) {
			require.True(t, delivered[e["request_id"].(string)], "entry at %s is behind the oldest slice's progress %s but was not delivered", at, pos.Slices[0].Progress)
		}
	}

	second := new(consumertest.LogsSink)
	r2 := w.start(cfg, second)
	r2.awaitPoll()
	r2.awaitCatchUp()
	r2.stop()
	// A graceful stop saved every accepted page: together the runs delivered each entry once.
	requireExactlyOnce(t, want, append(got, ids(second)...))
}

func uniq(xs []string) map[string]bool {
	m := map[string]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// Each sweep re-reads every moment once, its lag after it, in chunks of sweep_interval: the near sweep finds an
// entry indexed within the indexing delay, the far sweep one indexed later (within the window), and the far
// sweep's find makes the near sweep read later from then on.
func TestSweepsReadEachMomentOnceAtTheirLag(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	start := time.Now()
	backlog := w.fake.GenerateRequestLogs(30, start.Add(-31*time.Second), time.Second, 33)
	cfg := w.config()
	cfg.InitialLookback = 4 * time.Minute
	cfg.SweepInterval = 15 * time.Second
	sink := new(consumertest.LogsSink)
	r := w.start(cfg, sink)
	defer r.stop()
	r.awaitPoll()
	requireExactlyOnce(t, idsOf(backlog, "request_id"), ids(sink))

	// StackOne indexes one entry 30 seconds late (within the indexing delay of a minute), one two minutes late
	// (beyond it, within the window), and one on time.
	entry := func(id string, at time.Time) map[string]any {
		return map[string]any{"request_id": id, "http_method": "GET", "path": "/" + id, "status": 200, "event_datetime": at.UTC().Format(time.RFC3339Nano)}
	}
	w.fake.AddRequestLogs(entry("late-near", start.Add(-30*time.Second)), entry("late-far", start.Add(-2*time.Minute)), entry("on-time", time.Now()))
	before := len(w.fake.Requests())
	r.nextPoll()
	r.awaitPoll()
	assert.Equal(t, []string{"on-time"}, ids(sink)[30:], "no sweep is due yet: the poll reads only what is after the frontier")
	for _, req := range w.fake.Requests()[before:] {
		assert.Greater(t, req.Query.Get("start_date"), start.Add(-10*time.Second).UTC().Format("2006-01-02T15:04:05.000Z"), "no read goes back yet")
	}

	// Once the indexing delay has passed the late entry's time by a sweep_interval, the near sweep reads it.
	w.clock.advance(45 * time.Second)
	r.nextPoll()
	r.awaitPoll()
	assert.Equal(t, []string{"on-time", "late-near"}, ids(sink)[30:])

	// The far sweep reads the window after the entry's time.
	w.clock.advance(5 * time.Minute)
	r.nextPoll()
	r.awaitPoll()
	requireExactlyOnce(t, append(idsOf(backlog, "request_id"), "on-time", "late-near", "late-far"), ids(sink))
	lateAttrs := func(rd string) attribute.Set {
		return attribute.NewSet(attribute.String("stream", "request_logs"), attribute.String("read", rd))
	}
	metadatatest.AssertEqualReceiverStackoneLateRecords(t, r.tel, []metricdata.DataPoint[int64]{
		{Attributes: lateAttrs("near"), Value: 1}, {Attributes: lateAttrs("far"), Value: 1},
	}, metricdatatest.IgnoreTimestamp())
	// An entry later than the indexing delay makes the near sweep read later: by half, 90 seconds.
	metadatatest.AssertEqualReceiverStackoneIndexingDelay(t, r.tel, []metricdata.DataPoint[float64]{
		{Attributes: streamAttr(), Value: 90},
	}, metricdatatest.IgnoreTimestamp())
}

func TestEntriesWithoutAUsableTimeFlowAndTheStreamAdvances(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	good := w.fake.GenerateRequestLogs(10, time.Now().Add(-20*time.Minute), time.Second, 34)
	var bad []map[string]any
	for _, id := range []string{"t1", "t2", "t3"} {
		bad = append(bad, map[string]any{"request_id": id, "http_method": "GET", "path": "/t", "status": 200, "event_datetime": "22/11/2026 08:00"})
	}
	w.fake.AddRequestLogs(bad...)
	sink := new(consumertest.LogsSink)
	r := w.start(w.config(), sink)
	defer r.stop()
	r.awaitPoll()
	want := append(idsOf(good, "request_id"), "t1", "t2", "t3")
	requireExactlyOnce(t, want, ids(sink))
	metadatatest.AssertEqualReceiverStackoneEntriesMalformed(t, r.tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("stream", "request_logs"), attribute.String("reason", "invalid_time")), Value: 3},
	}, metricdatatest.IgnoreTimestamp())
	frontier := r.position("request_logs").Frontier
	assert.True(t, frontier.After(time.Now().Add(-cfg0().LateArrivalWindow-time.Minute)), "the frontier moved on to a window before the poll, not stuck at the entries' time")

	// Re-read inside the window: recognised, not repeated. Once the window has passed, they are forgotten.
	r.nextPoll()
	r.awaitPoll()
	requireExactlyOnce(t, want, ids(sink))
	w.clock.advance(2 * cfg0().LateArrivalWindow)
	r.nextPoll()
	r.awaitPoll()
	requireExactlyOnce(t, want, ids(sink))
	assert.Empty(t, r.position("request_logs").seen.ids, "the ids aged out with the window: memory and the position stay bounded")
}

func cfg0() *Config { return createDefaultConfig().(*Config) }

func TestEventTimesGoingBackwardsFailThePoll(t *testing.T) {
	for _, tt := range []struct {
		stream string
		setup  func(w *world) []string
		cfg    func(*Config) *Config
	}{
		{"request_logs", func(w *world) []string {
			return idsOf(w.fake.GenerateRequestLogs(120, time.Now().Add(-30*time.Minute), 10*time.Second, 35), "request_id")
		}, func(c *Config) *Config { return c }},
		{"action_logs", func(w *world) []string {
			return idsOf(w.fake.GenerateActionLogs(120, time.Now().Add(-30*time.Minute), 10*time.Second, 36), "log_id")
		}, actionOnly},
	} {
		t.Run(tt.stream, func(t *testing.T) {
			w := newWorld(t, stackonefake.Options{NewestFirst: true})
			tt.setup(w)
			sink := new(consumertest.LogsSink)
			r := w.start(tt.cfg(w.config()), sink)
			defer r.stop()
			r.awaitPoll()
			// Newest first, the first page already steps back: nothing is delivered, nothing is skipped.
			assert.Empty(t, ids(sink))
			metadatatest.AssertEqualReceiverStackoneAPIErrors(t, r.tel, []metricdata.DataPoint[int64]{{
				Attributes: attribute.NewSet(attribute.String("stream", tt.stream), attribute.String("error.class", "out_of_order")), Value: 1,
			}}, metricdatatest.IgnoreTimestamp())
			assert.Contains(t, w.host.statuses(), componentstatus.StatusRecoverableError)
			store := &positionStore{client: r.rcv.running.storage, key: "position." + tt.stream}
			pos, err := store.load(context.Background())
			require.NoError(t, err)
			assert.True(t, pos.Frontier.Before(time.Now().Add(-59*time.Minute)), "the position is kept")
		})
	}
}

func TestShutdownHonoursItsDeadline(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	backlog := w.fake.GenerateRequestLogs(120, time.Now().Add(-30*time.Minute), 10*time.Second, 37)
	sink := new(consumertest.LogsSink)
	inPipeline := make(chan struct{})
	release := make(chan struct{})
	pages := 0
	stuck := consumerFunc(func(ctx context.Context, ld plog.Logs) error {
		if pages++; pages == 1 {
			return sink.ConsumeLogs(ctx, ld)
		}
		close(inPipeline)
		<-release // an exporter that ignores its context
		return nil
	})
	t.Cleanup(func() { close(release) })
	r := w.start(w.config(), stuck)
	<-inPipeline
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := r.rcv.Shutdown(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded, "Shutdown returns when its deadline passes")

	// The page that never came back was not checkpointed: the next start delivers it.
	again := new(consumertest.LogsSink)
	r2 := w.start(w.config(), again)
	r2.awaitPoll()
	r2.stop()
	requireExactlyOnce(t, idsOf(backlog, "request_id"), append(ids(sink), ids(again)...))
}

func TestRateLimitPausesEveryStreamOnTheKey(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	w.fake.GenerateRequestLogs(120, time.Now().Add(-30*time.Minute), 10*time.Second, 38)
	w.fake.GenerateActionLogs(20, time.Now().Add(-30*time.Minute), 10*time.Second, 39)
	w.fake.InjectFault(stackonefake.Fault{Path: stackoneapi.ActionLogsPath, Status: 429, RetryAfter: "30"})
	// Request logs are answered only once the action stream waits out its 429, so the request stream's next
	// call comes while the pause holds. Each wait is held until the other stream waits too.
	pausing := make(chan struct{})
	both := make(chan struct{})
	var mu sync.Mutex
	waits := 0
	w.waitHook = func(ctx context.Context, _ time.Duration) error {
		mu.Lock()
		waits++
		switch waits {
		case 1:
			close(pausing)
		case 2:
			close(both)
		}
		mu.Unlock()
		select {
		case <-both:
			return nil
		case <-time.After(20 * time.Second):
			t.Error("only one stream waited for the server's pause")
			return ctx.Err()
		}
	}
	w.srv.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		if req.URL.Path == stackoneapi.RequestLogsPath {
			<-pausing
		}
		w.fake.ServeHTTP(rw, req)
	})
	cfg := w.config()
	cfg.ActionLogs.Enabled = true
	r := w.start(cfg, new(consumertest.LogsSink))
	defer r.stop()
	r.awaitPoll()
	r.awaitPoll()
	delays := r.retryDelays()
	require.Len(t, delays, 2, "a 429 on one stream holds the other stream's calls too")
	for _, d := range delays {
		assert.InDelta(t, 30, d.Seconds(), 1.5, "exactly the server's Retry-After")
	}
}

func TestShortPagesAreNotTheEnd(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  func(*Config) *Config
		gen  func(w *world) []string
	}{
		{"cursor pages shorter than page_size", func(c *Config) *Config { return c }, func(w *world) []string {
			return idsOf(w.fake.GenerateRequestLogs(130, time.Now().Add(-30*time.Minute), 10*time.Second, 40), "request_id")
		}},
		{"action logs server capping page_size", actionOnly, func(w *world) []string {
			return idsOf(w.fake.GenerateActionLogs(130, time.Now().Add(-30*time.Minute), 10*time.Second, 41), "log_id")
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, stackonefake.Options{PageSizeMode: stackonefake.PageSizeClamp, MaxPageSize: 20, MaxActionPageSize: 20})
			want := tt.gen(w)
			sink := new(consumertest.LogsSink)
			r := w.start(tt.cfg(w.config()), sink) // page_size 50, the server answers 20
			defer r.stop()
			r.awaitPoll()
			requireExactlyOnce(t, want, ids(sink))
		})
	}
}

func TestLagKeepsGrowingWhileAStreamCannotRead(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	w.fake.GenerateRequestLogs(20, time.Now().Add(-10*time.Minute), 10*time.Second, 42)
	cfg := w.config()
	cfg.BackOff.Enabled = false // one failed call ends the poll
	r := w.start(cfg, new(consumertest.LogsSink))
	defer r.stop()
	r.awaitPoll()
	lag := func() float64 {
		m, err := r.tel.GetMetric("otelcol_receiver_stackone_lag")
		require.NoError(t, err)
		return m.Data.(metricdata.Gauge[float64]).DataPoints[0].Value
	}
	healthy := lag()
	assert.Less(t, healthy, 60.0, "caught up")

	w.fake.InjectFault(stackonefake.Fault{Status: 503, Times: 1000})
	w.clock.advance(10 * time.Minute)
	r.nextPoll()
	r.awaitPoll()
	assert.GreaterOrEqual(t, lag(), 600.0, "an outage shows as growing lag, not as the last good value")
}

func TestOversizedAnswersAreRefusedAndCounted(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fault stackonefake.Fault
	}{
		{"body over max_response_size", stackonefake.Fault{BodySize: 200 << 10}},
		{"far more entries than page_size", stackonefake.Fault{TinyObjects: 100000}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, stackonefake.Options{})
			backlog := w.fake.GenerateRequestLogs(40, time.Now().Add(-20*time.Minute), 10*time.Second, 45)
			tt.fault.Path = stackoneapi.RequestLogsPath
			w.fake.InjectFault(tt.fault)
			cfg := w.config()
			cfg.MaxResponseSize = 100 << 10
			sink := new(consumertest.LogsSink)
			r := w.start(cfg, sink)
			defer r.stop()
			r.awaitPoll()
			// Refused, not decoded, not retried: the same request would get the same answer.
			assert.Empty(t, ids(sink))
			assert.Empty(t, r.retryDelays())
			metadatatest.AssertEqualReceiverStackoneAPIErrors(t, r.tel, []metricdata.DataPoint[int64]{apiErrorPoint("too_large", 1)}, metricdatatest.IgnoreTimestamp())
			assert.Contains(t, w.host.statuses(), componentstatus.StatusRecoverableError)
			r.nextPoll()
			r.awaitPoll()
			requireExactlyOnce(t, idsOf(backlog, "request_id"), ids(sink))
		})
	}
}

func TestSlicesStopAtTheirEndWhenTheServerIgnoresIt(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	w.catchUpAfter = defaultCatchUpAfter
	backlog := w.fake.GenerateRequestLogs(800, time.Now().Add(-59*time.Minute), 4*time.Second, 46)
	w.srv.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		q := req.URL.Query()
		q.Del("end_date") // a server that ignores the bound: every slice would read to the end of the stream
		req.URL.RawQuery = q.Encode()
		w.fake.ServeHTTP(rw, req)
	})
	cfg := w.config()
	cfg.CatchUp.Concurrency = 2
	sink := new(consumertest.LogsSink)
	r := w.start(cfg, sink)
	defer r.stop()
	r.awaitPoll()
	r.awaitCatchUp()
	requireExactlyOnce(t, idsOf(backlog, "request_id"), ids(sink))
	// 800 entries in pages of 50 are 16 pages; each of the 8 slices may read one page past its end.
	assert.LessOrEqual(t, len(w.fake.Requests()), 16+8+2*slicesPerWorker+2)
}

// Every reader keeps its connection: net/http's default of two idle connections per host would make the
// catch-up workers and the live read open a new one for most pages.
func TestCatchUpReusesConnections(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	w.catchUpAfter = defaultCatchUpAfter
	backlog := w.fake.GenerateRequestLogs(1200, time.Now().Add(-59*time.Minute), 2*time.Second, 47)
	var mu sync.Mutex
	opened := 0
	srv := httptest.NewUnstartedServer(w.fake)
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			mu.Lock()
			opened++
			mu.Unlock()
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	cfg := w.config()
	cfg.Endpoint = srv.URL
	cfg.PageSize = 20
	cfg.CatchUp.Concurrency = 4
	sink := new(consumertest.LogsSink)
	r := w.start(cfg, sink)
	r.awaitPoll()
	r.awaitCatchUp()
	r.stop()
	requireExactlyOnce(t, idsOf(backlog, "request_id"), ids(sink))
	require.Greater(t, len(w.fake.Requests()), 60, "enough calls to tell reuse from churn")
	mu.Lock()
	defer mu.Unlock()
	// At most one in use and one on its way back to the pool per reader (see clientConfig); churn would open
	// one for most of the calls.
	assert.LessOrEqual(t, opened, 2*cfg.readers(), "connections opened for %d calls", len(w.fake.Requests()))
}

// Retention is a setting of each StackOne project, so initial_lookback may reach back further than any entry:
// the slices over time with nothing in it read an empty page and are done, and every entry arrives once.
func TestLookbackBeforeAnyEntryReadsEmptySlices(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	w.catchUpAfter = defaultCatchUpAfter
	backlog := w.fake.GenerateRequestLogs(300, time.Now().Add(-50*time.Minute), 10*time.Second, 64)
	cfg := w.config()
	cfg.InitialLookback = 400 * 24 * time.Hour
	sink := new(consumertest.LogsSink)
	r := w.start(cfg, sink)
	defer r.stop()
	r.awaitPoll()
	r.awaitCatchUp()

	requireExactlyOnce(t, idsOf(backlog, "request_id"), ids(sink))
	assert.Empty(t, r.position("request_logs").Slices, "every slice, the empty ones too, is done")
	var earliest time.Time
	for _, req := range w.fake.Requests() {
		at, err := time.Parse(time.RFC3339Nano, req.Query.Get("start_date"))
		require.NoError(t, err)
		if earliest.IsZero() || at.Before(earliest) {
			earliest = at
		}
	}
	assert.WithinDuration(t, time.Now().Add(-cfg.InitialLookback), earliest, time.Hour, "the first start reaches back the whole lookback")
}

// A read that stays more than a minute behind its schedule for a minute says so, in the status, in a sampled
// warning and in the behind gauge, and the status clears once it is back on schedule. Here the live read starts
// eight minutes back and each page takes half a minute, as a budget too small for the volume would have it.
func TestFallingBehindIsReported(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	now := time.Now()
	backlog := w.fake.GenerateRequestLogs(200, now.Add(-8*time.Minute), 100*time.Millisecond, 35)
	core, logs := observer.New(zapcore.WarnLevel)
	w.log = zap.New(core)
	cfg := w.config()
	cfg.InitialLookback = 9 * time.Minute // not far enough behind for a catch-up
	sink := new(consumertest.LogsSink)
	slow, err := consumer.NewLogs(func(ctx context.Context, ld plog.Logs) error {
		w.clock.advance(30 * time.Second)
		return sink.ConsumeLogs(ctx, ld)
	})
	require.NoError(t, err)
	r := w.start(cfg, slow)
	defer r.stop()
	r.awaitPoll()
	requireExactlyOnce(t, idsOf(backlog, "request_id"), ids(sink))

	var behind []string
	w.host.mu.Lock()
	events := slices.Clone(w.host.events)
	w.host.mu.Unlock()
	for _, ev := range events {
		if ev.Err() != nil && strings.Contains(ev.Err().Error(), "falling behind") {
			behind = append(behind, ev.Err().Error())
		}
	}
	require.NotEmpty(t, behind, "the status says the stream is falling behind")
	for range 2 { // nothing new: quick polls, and the near sweep catches up with the last one's live read
		r.nextPoll()
		r.awaitPoll()
	}
	assert.Contains(t, behind[0], "request_logs: falling behind: the live read is 8m")
	assert.Contains(t, behind[0], "raise max_requests_per_minute")
	assert.Equal(t, componentstatus.StatusOK, w.host.statuses()[len(w.host.statuses())-1], "back on schedule once a poll is quick again")
	warned := logs.FilterMessage("Falling behind: the request budget does not keep up with this stream").All()
	require.Len(t, warned, 1, "one warning, however many pages were behind")
	assert.Equal(t, int64(cfg.MaxRequestsPerMinute), warned[0].ContextMap()["max_requests_per_minute"], "it names the budget to raise")
	// Back on schedule, no read is behind by more than the milliseconds a sweep's chunk takes to end.
	m, err := r.tel.GetMetric("otelcol_receiver_stackone_behind")
	require.NoError(t, err)
	reads := map[string]float64{}
	for _, dp := range m.Data.(metricdata.Gauge[float64]).DataPoints {
		rd, _ := dp.Attributes.Value("read")
		reads[rd.AsString()] = dp.Value
	}
	require.Len(t, reads, 3)
	for rd, v := range reads {
		assert.Less(t, v, 1.0, "the %s read", rd)
	}
}
