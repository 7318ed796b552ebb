package stackonereceiver

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/metadata"
	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/metadatatest"
)

const (
	testKey          = "test-key"
	testPollInterval = 17 * time.Second // distinct from every back-off delay, so the waits can be told apart
)

// statusHost is a storage host that records component status events.
type statusHost struct {
	component.Host
	mu     sync.Mutex
	events []*componentstatus.Event
}

func (h *statusHost) Report(ev *componentstatus.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, ev)
}

func (h *statusHost) statuses() []componentstatus.Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]componentstatus.Status, len(h.events))
	for i, ev := range h.events {
		out[i] = ev.Status()
	}
	return out
}

// reported says whether a status event's error contained text.
func (h *statusHost) reported(text string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ev := range h.events {
		if ev.Err() != nil && strings.Contains(ev.Err().Error(), text) {
			return true
		}
	}
	return false
}

// world is one fake StackOne API and one storage extension, which several receivers can share over restarts.
type world struct {
	t       *testing.T
	fake    *stackonefake.Server
	srv     *httptest.Server
	host    *statusHost
	storage component.ID
	// catchUpAfter is handed to every receiver started in this world; by default no backlog is sliced.
	catchUpAfter time.Duration
	// clock is the receivers' clock: real time moved forward by what the test skips.
	clock *testClock
	// waitHook, when set, runs inside every back-off and pause wait (after it is recorded).
	waitHook func(ctx context.Context, d time.Duration) error
	// log, when set, is the receivers' logger (e.g. an observer), sampled as the collector's is.
	log *zap.Logger
}

// testClock is real time plus an offset the test moves forward, so sweeps and ageing can be reached without
// waiting. The fake API keeps real time: what the receiver sees as "late" is arranged by the test's entries.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

func newWorld(t *testing.T, opts stackonefake.Options) *world {
	t.Helper()
	if opts.APIKey == "" {
		opts.APIKey = testKey
	}
	fake := stackonefake.New(opts)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	return &world{
		t:            t,
		fake:         fake,
		srv:          srv,
		host:         &statusHost{Host: storagetest.NewStorageHost().WithFileBackedStorageExtension("pos", dir)},
		storage:      storagetest.NewStorageID("pos"),
		catchUpAfter: 1000 * time.Hour,
		clock:        &testClock{},
	}
}

func (w *world) config() *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Endpoint = w.srv.URL
	cfg.APIKey = testKey
	cfg.PageSize = 50
	cfg.PollInterval = testPollInterval
	// Each poll's sweeps read whatever their lag has passed, however little, as the tests step polls with
	// little time passing; the tests of the sweeps' own cadence set it.
	cfg.SweepInterval = 0
	cfg.MaxRequestsPerMinute = 1000
	cfg.StorageID = &w.storage
	// One stream per test unless a test enables more: the harness steps one stream's polls at a time.
	cfg.ActionLogs.Enabled = false
	// Every call is a page read in these tests, which count them; the detail fetch has tests of its own.
	cfg.RequestLogs.Detail.Enabled = false
	cfg.BackOff.InitialInterval = time.Millisecond
	cfg.BackOff.MaxInterval = 5 * time.Millisecond
	return cfg
}

// run is one started receiver whose polls the test steps through: each poll ends in a call to waitPoll,
// which hands the delay to the test and blocks until the test asks for the next poll.
type run struct {
	t      *testing.T
	rcv    *stackoneReceiver
	tel    *componenttest.Telemetry
	polls  chan time.Duration
	resume chan struct{}

	mu      sync.Mutex
	retries []time.Duration
}

func (w *world) start(cfg *Config, next consumer.Logs) *run {
	return w.startWithID(component.NewID(metadata.Type), cfg, next)
}

// startWith starts a receiver with the default id after setup has adjusted it (a seam swapped for a fake).
func (w *world) startWith(cfg *Config, next consumer.Logs, setup func(*stackoneReceiver)) *run {
	return w.startWithID(component.NewID(metadata.Type), cfg, next, setup)
}

func (w *world) startWithID(id component.ID, cfg *Config, next consumer.Logs, setup ...func(*stackoneReceiver)) *run {
	t := w.t
	t.Helper()
	require.NoError(t, cfg.Validate())
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := metadatatest.NewSettings(tel)
	set.ID = id
	if w.log != nil {
		set.Logger = w.log
	}
	rcv, err := newReceiver(cfg, set, next)
	require.NoError(t, err)
	// Most tests read their backlog in one query; the catch-up tests ask for slices.
	rcv.catchUpAfter = w.catchUpAfter
	rcv.now = w.clock.now
	r := &run{t: t, rcv: rcv, tel: tel, polls: make(chan time.Duration), resume: make(chan struct{})}
	rcv.wait = func(ctx context.Context, d time.Duration) error {
		r.mu.Lock()
		r.retries = append(r.retries, d)
		r.mu.Unlock()
		if w.waitHook != nil {
			return w.waitHook(ctx, d)
		}
		return ctx.Err()
	}
	rcv.waitPoll = func(ctx context.Context, d time.Duration) error {
		select {
		case r.polls <- d:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case <-r.resume:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for _, f := range setup {
		f(rcv)
	}
	require.NoError(t, rcv.Start(context.Background(), w.host))
	return r
}

// awaitPoll blocks until the current poll has finished and returns the delay before the next one.
func (r *run) awaitPoll() time.Duration {
	r.t.Helper()
	select {
	case d := <-r.polls:
		return d
	case <-time.After(30 * time.Second):
		r.t.Fatal("the poll did not finish within 30s")
		return 0
	}
}

// awaitCatchUp blocks until the catch-up workers the last poll started have returned.
func (r *run) awaitCatchUp() {
	for _, s := range r.rcv.streams {
		s.mu.Lock()
		g := s.catchingUp
		s.mu.Unlock()
		if g != nil {
			g.Wait()
		}
	}
}

// nextPoll lets the receiver start its next poll.
func (r *run) nextPoll() { r.resume <- struct{}{} }

func (r *run) stop() {
	r.t.Helper()
	require.NoError(r.t, r.rcv.Shutdown(context.Background()))
}

func (r *run) retryDelays() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.retries...)
}

// ids lists the stackone.request_id of every record a sink received, in order, duplicates included.
func ids(sink *consumertest.LogsSink) []string {
	var out []string
	for _, ld := range sink.AllLogs() {
		out = append(out, logIDs(ld)...)
	}
	return out
}

func logIDs(ld plog.Logs) []string {
	var out []string
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		sls := ld.ResourceLogs().At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				for _, key := range []string{"stackone.request_id", "stackone.log_id"} {
					if v, ok := lrs.At(k).Attributes().Get(key); ok {
						out = append(out, v.AsString())
					}
				}
			}
		}
	}
	return out
}

func idsOf(entries []map[string]any, key string) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i], _ = e[key].(string)
	}
	return out
}

// requireExactlyOnce checks every wanted id arrived once and nothing else did.
func requireExactlyOnce(t *testing.T, want, got []string) {
	t.Helper()
	count := map[string]int{}
	for _, id := range got {
		count[id]++
	}
	for _, id := range want {
		require.Equalf(t, 1, count[id], "id %s delivered %d times", id, count[id])
	}
	require.Len(t, got, len(want), "unexpected extra records")
}

// errRefused is what the memory_limiter answers: a retryable refusal.
var errRefused = errors.New("data refused due to high memory usage")

func permanent(err error) error { return consumererror.NewPermanent(err) }

func consumerFunc(f func(context.Context, plog.Logs) error) consumer.Logs {
	c, err := consumer.NewLogs(f)
	if err != nil {
		panic(err)
	}
	return c
}

// stopAfterPages forwards the first n pages to sink and then closes the returned channel; every later page
// is refused (and retried by the receiver) until the test shuts the receiver down, so exactly n pages are
// accepted and the next one is in flight at shutdown, as in a collector restart.
func stopAfterPages(t *testing.T, sink *consumertest.LogsSink, n int) (consumer.Logs, <-chan struct{}) {
	stopping := make(chan struct{})
	var mu sync.Mutex
	pages := 0
	return consumerFunc(func(ctx context.Context, ld plog.Logs) error {
		mu.Lock()
		defer mu.Unlock()
		if pages == n {
			return errRefused
		}
		assert.NoError(t, sink.ConsumeLogs(ctx, ld))
		if pages++; pages == n {
			close(stopping)
		}
		return nil
	}), stopping
}

// withStorage runs f with a client of the world's storage, the one a receiver with the default id gets; it is
// closed afterwards, so a receiver started later can open the same store.
func (w *world) withStorage(f func(c storage.Client)) {
	w.t.Helper()
	ext := w.host.GetExtensions()[w.storage].(storage.Extension)
	c, err := ext.GetClient(context.Background(), component.KindReceiver, component.NewID(metadata.Type), "")
	require.NoError(w.t, err)
	defer func() { require.NoError(w.t, c.Close(context.Background())) }()
	f(c)
}
