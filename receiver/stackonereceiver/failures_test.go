package stackonereceiver

import (
	"context"
	"errors"
	"net/http"
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
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/metadatatest"
	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/stackoneapi"
)

func apiErrorPoint(class string, n int64) metricdata.DataPoint[int64] {
	return metricdata.DataPoint[int64]{
		Attributes: attribute.NewSet(attribute.String("stream", "request_logs"), attribute.String("error.class", class)),
		Value:      n,
	}
}

func TestTransientAPIFailuresAreRetriedAndLoseNothing(t *testing.T) {
	tests := []struct {
		name       string
		fault      stackonefake.Fault
		timeout    time.Duration
		class      string
		retryAfter time.Duration // the server's Retry-After: the wait is exactly that, never shorter nor stretched
		wantCount  int64
	}{
		{name: "429 with Retry-After seconds", fault: stackonefake.Fault{Status: 429, RetryAfter: "7"}, class: "rate_limited", retryAfter: 7 * time.Second, wantCount: 1},
		{name: "429 with Retry-After HTTP date", fault: stackonefake.Fault{Status: 429, RetryAfter: time.Now().Add(40 * time.Second).UTC().Format(http.TimeFormat)}, class: "rate_limited", retryAfter: 40 * time.Second, wantCount: 1},
		{name: "408 provider rate limit", fault: stackonefake.Fault{Status: 408, RetryAfter: "60"}, class: "rate_limited", retryAfter: time.Minute, wantCount: 1},
		{name: "429 without Retry-After backs off", fault: stackonefake.Fault{Status: 429, Times: 2}, class: "rate_limited", wantCount: 2},
		{name: "500", fault: stackonefake.Fault{Status: 500}, class: "5xx", wantCount: 1},
		{name: "502 twice", fault: stackonefake.Fault{Status: 502, Times: 2}, class: "5xx", wantCount: 2},
		{name: "503 on a later page", fault: stackonefake.Fault{Status: 503, OnCursor: true}, class: "5xx", wantCount: 1},
		{name: "body cut off mid-JSON", fault: stackonefake.Fault{Truncate: true, OnCursor: true}, class: "network", wantCount: 1},
		{name: "timeout", fault: stackonefake.Fault{Delay: time.Minute}, timeout: 200 * time.Millisecond, class: "network", wantCount: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, stackonefake.Options{})
			backlog := w.fake.GenerateRequestLogs(120, time.Now().Add(-30*time.Minute), 10*time.Second, 11)
			tt.fault.Path = stackoneapi.RequestLogsPath
			w.fake.InjectFault(tt.fault)
			cfg := w.config()
			if tt.timeout > 0 {
				cfg.Timeout = tt.timeout
			}
			sink := new(consumertest.LogsSink)
			r := w.start(cfg, sink)
			defer r.stop()
			r.awaitPoll()

			requireExactlyOnce(t, idsOf(backlog, "request_id"), ids(sink))
			delays := r.retryDelays()
			require.Len(t, delays, int(tt.wantCount))
			if tt.retryAfter > 0 {
				// Measured from the answer, so the wait is a hair under Retry-After (an HTTP date has whole
				// seconds); it is never the back-off.
				assert.InDelta(t, tt.retryAfter.Seconds(), delays[0].Seconds(), 1.5)
			} else {
				assert.Less(t, delays[0], 2*time.Second, "other failures retry starting near 1s")
			}
			metadatatest.AssertEqualReceiverStackoneAPIErrors(t, r.tel, []metricdata.DataPoint[int64]{apiErrorPoint(tt.class, tt.wantCount)}, metricdatatest.IgnoreTimestamp())
			metadatatest.AssertEqualReceiverStackoneRetries(t, r.tel, []metricdata.DataPoint[int64]{{Attributes: streamAttr(), Value: tt.wantCount}}, metricdatatest.IgnoreTimestamp())
			// recoverable while failing, OK once a page came back
			assert.Equal(t, []componentstatus.Status{componentstatus.StatusOK, componentstatus.StatusRecoverableError, componentstatus.StatusOK}, dedupe(w.host.statuses()))
		})
	}
}

// dedupe collapses runs of the same status, as a health check shows them.
func dedupe(in []componentstatus.Status) []componentstatus.Status {
	var out []componentstatus.Status
	for _, s := range in {
		if len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
	}
	if len(out) > 0 && out[0] != componentstatus.StatusOK {
		out = append([]componentstatus.Status{componentstatus.StatusOK}, out...)
	}
	return out
}

func TestRetriesGiveUpAfterMaxElapsedTimeAndKeepThePosition(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	backlog := w.fake.GenerateRequestLogs(30, time.Now().Add(-30*time.Minute), 10*time.Second, 12)
	// Retry-After beyond max_elapsed_time: the poll gives up at once, the next one succeeds.
	w.fake.InjectFault(stackonefake.Fault{Path: stackoneapi.RequestLogsPath, Status: 429, RetryAfter: "3600"})
	sink := new(consumertest.LogsSink)
	r := w.start(w.config(), sink)
	defer r.stop()
	assert.Equal(t, testPollInterval, r.awaitPoll())
	assert.Empty(t, ids(sink))
	assert.Empty(t, r.retryDelays())
	r.nextPoll()
	r.awaitPoll()
	requireExactlyOnce(t, idsOf(backlog, "request_id"), ids(sink))
}

// TestHugeRetryAfterIsCapped: a Retry-After of centuries (a server bug, a proxy's misreading) holds the key's
// calls for maxRetryAfter, not for what it says; the cut is logged and counted.
func TestHugeRetryAfterIsCapped(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	backlog := w.fake.GenerateRequestLogs(30, time.Now().Add(-30*time.Minute), 10*time.Second, 13)
	w.fake.InjectFault(stackonefake.Fault{Path: stackoneapi.RequestLogsPath, Status: 429, RetryAfter: "9000000000"})
	cfg := w.config()
	cfg.BackOff.MaxElapsedTime = 0 // retries never give up: the capped pause is waited within this poll
	sink := new(consumertest.LogsSink)
	core, logs := observer.New(zapcore.WarnLevel)
	r := w.startWith(cfg, sink, func(rcv *stackoneReceiver) { rcv.sampled = zap.New(core) })
	defer r.stop()
	r.awaitPoll()
	requireExactlyOnce(t, idsOf(backlog, "request_id"), ids(sink))
	delays := r.retryDelays()
	require.Len(t, delays, 1)
	assert.InDelta(t, maxRetryAfter.Seconds(), delays[0].Seconds(), 1.5, "the pause is cut to 5 minutes (less the moment since the answer)")
	capped := logs.FilterMessageSnippet("Retry-After").All()
	require.Len(t, capped, 1)
	assert.Equal(t, "request_logs", capped[0].ContextMap()["stream"])
	metadatatest.AssertEqualReceiverStackoneRetryAfterCapped(t, r.tel, []metricdata.DataPoint[int64]{{Attributes: streamAttr(), Value: 1}}, metricdatatest.IgnoreTimestamp())
}

func TestRejectedCursorRestartsFromThePosition(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	backlog := w.fake.GenerateRequestLogs(200, time.Now().Add(-40*time.Minute), 10*time.Second, 13)
	w.fake.InjectFault(stackonefake.Fault{Path: stackoneapi.RequestLogsPath, OnCursor: true, Status: 400, Times: 2})
	sink := new(consumertest.LogsSink)
	r := w.start(w.config(), sink)
	defer r.stop()
	r.awaitPoll()
	requireExactlyOnce(t, idsOf(backlog, "request_id"), ids(sink))
	metadatatest.AssertEqualReceiverStackoneAPIErrors(t, r.tel, []metricdata.DataPoint[int64]{apiErrorPoint("cursor_expired", 2)}, metricdatatest.IgnoreTimestamp())
}

func TestExpiredCursorFromTheServer(t *testing.T) {
	// A real TTL: the fake's clock jumps past it between the first and second page.
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	w := newWorld(t, stackonefake.Options{Now: now, CursorTTL: time.Minute})
	backlog := w.fake.GenerateRequestLogs(120, time.Now().Add(-40*time.Minute), 10*time.Second, 14)
	sink := new(consumertest.LogsSink)
	pages := 0
	cons := consumerFunc(func(ctx context.Context, ld plog.Logs) error {
		pages++
		if pages == 1 {
			mu.Lock()
			clock = clock.Add(2 * time.Minute)
			mu.Unlock()
		}
		return sink.ConsumeLogs(ctx, ld)
	})
	r := w.start(w.config(), cons)
	defer r.stop()
	r.awaitPoll()
	requireExactlyOnce(t, idsOf(backlog, "request_id"), ids(sink))
}

func TestRejectedKeyIsPermanentAndPolledSlowly(t *testing.T) {
	for _, status := range []int{401, 403} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			w := newWorld(t, stackonefake.Options{})
			w.fake.GenerateRequestLogs(10, time.Now().Add(-30*time.Minute), 10*time.Second, 15)
			w.fake.InjectFault(stackonefake.Fault{Status: status, Times: 100})
			sink := new(consumertest.LogsSink)
			r := w.start(w.config(), sink)
			defer r.stop()
			assert.Equal(t, authRetryInterval, r.awaitPoll(), "a rejected key is retried every 5 minutes")
			r.nextPoll()
			assert.Equal(t, authRetryInterval, r.awaitPoll())
			assert.Empty(t, ids(sink))
			assert.Empty(t, r.retryDelays(), "no fast retries with a rejected key")
			assert.Contains(t, w.host.statuses(), componentstatus.StatusPermanentError)
			metadatatest.AssertEqualReceiverStackoneAPIErrors(t, r.tel, []metricdata.DataPoint[int64]{apiErrorPoint("auth", 2)}, metricdatatest.IgnoreTimestamp())
		})
	}
}

func TestWrongKeyAgainstTheFake(t *testing.T) {
	w := newWorld(t, stackonefake.Options{APIKey: "the-real-key"})
	sink := new(consumertest.LogsSink)
	r := w.start(w.config(), sink) // sends testKey
	defer r.stop()
	assert.Equal(t, authRetryInterval, r.awaitPoll())
	var last error
	w.host.mu.Lock()
	defer w.host.mu.Unlock()
	for _, ev := range w.host.events {
		if ev.Status() == componentstatus.StatusPermanentError {
			last = ev.Err()
		}
	}
	require.Error(t, last)
	assert.Contains(t, last.Error(), "API key rejected")
	assert.NotContains(t, last.Error(), testKey)
}

func TestStreamNotFoundIsDisabledUntilRestart(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	w.fake.InjectFault(stackonefake.Fault{Path: stackoneapi.RequestLogsPath, Status: 404, Times: notFoundLimit})
	r := w.start(w.config(), new(consumertest.LogsSink))
	defer r.stop()
	// A 404 may be a deploy or a load balancer: the stream tries again before giving up.
	for range notFoundLimit - 1 {
		r.awaitPoll()
		assert.Contains(t, w.host.statuses(), componentstatus.StatusRecoverableError)
		metadatatest.AssertEqualReceiverStackoneStreamDisabled(t, r.tel, []metricdata.DataPoint[int64]{{Attributes: streamAttr(), Value: 0}}, metricdatatest.IgnoreTimestamp())
		r.nextPoll()
	}
	done := make(chan struct{})
	go func() { r.rcv.running.group.Wait(); close(done) }()
	select {
	case <-done: // the stream's goroutine ended by itself: disabled
	case d := <-r.polls:
		t.Fatalf("the stream kept polling (next in %s)", d)
	case <-time.After(30 * time.Second):
		t.Fatal("the stream neither stopped nor polled")
	}
	assert.Len(t, w.fake.Requests(), notFoundLimit)
	metadatatest.AssertEqualReceiverStackoneStreamDisabled(t, r.tel, []metricdata.DataPoint[int64]{{Attributes: streamAttr(), Value: 1}}, metricdatatest.IgnoreTimestamp())
	_, err := r.tel.GetMetric("otelcol_receiver_stackone_last_successful_poll")
	assert.Error(t, err, "a stream that never read successfully has no last successful poll")
}

func TestMalformedEntriesAreCountedAndTheRestFlows(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	at := time.Now().Add(-2 * time.Minute).UTC() // inside the late-arrival window: the far sweep re-reads it
	w.fake.AddRequestLogs(
		map[string]any{"request_id": "ok-1", "http_method": "GET", "path": "/a", "status": 200, "event_datetime": at.Format(time.RFC3339Nano)},
		map[string]any{"request_id": "bad-status", "http_method": "GET", "path": "/b", "status": "teapot", "event_datetime": at.Add(time.Second).Format(time.RFC3339Nano)},
		map[string]any{"request_id": "bad-success", "http_method": "GET", "path": "/c", "success": "perhaps", "event_datetime": at.Add(2 * time.Second).Format(time.RFC3339Nano)},
		map[string]any{"http_method": "GET", "path": "/no-id", "status": 200, "event_datetime": at.Add(3 * time.Second).Format(time.RFC3339Nano)},
		map[string]any{"request_id": "ok-2", "http_method": "GET", "path": "/d", "status": 500, "event_datetime": at.Add(4 * time.Second).Format(time.RFC3339Nano)},
	)
	sink := new(consumertest.LogsSink)
	r := w.start(w.config(), sink)
	defer r.stop()
	r.awaitPoll()
	w.fake.AddRequestLogs(map[string]any{"request_id": "ok-3", "http_method": "GET", "path": "/e", "status": 200, "event_datetime": at.Add(5 * time.Second).Format(time.RFC3339Nano)})
	w.clock.advance(5 * time.Minute)
	r.nextPoll()
	r.awaitPoll() // the far sweep recognises even the entry without an id
	assert.Equal(t, 6, sink.LogRecordCount())
	assert.ElementsMatch(t, []string{"ok-1", "bad-status", "bad-success", "ok-2", "ok-3"}, ids(sink))
	// Counted when emitted, not again when read again: the live read starts at the newest entry it delivered
	// (one duplicate), and the far sweep reads all six, ok-3 included, which the live read delivered.
	metadatatest.AssertEqualReceiverStackoneDuplicatesDropped(t, r.tel, []metricdata.DataPoint[int64]{{Attributes: streamAttr(), Value: 7}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualReceiverStackoneEntriesMalformed(t, r.tel, []metricdata.DataPoint[int64]{{
		Attributes: attribute.NewSet(attribute.String("stream", "request_logs"), attribute.String("reason", "invalid_field")),
		Value:      2,
	}}, metricdatatest.IgnoreTimestamp())
}

// flakyStorage wraps a file-backed test storage whose Get or Set fail a given number of times.
type flakyStorage struct {
	*storagetest.TestStorage
	mu       sync.Mutex
	getFails int
	setFails int
	saves    atomic.Int64 // batches with a write that succeeded
}

type flakyClient struct {
	storage.Client
	s *flakyStorage
}

func (s *flakyStorage) GetClient(ctx context.Context, kind component.Kind, id component.ID, name string) (storage.Client, error) {
	c, err := s.TestStorage.GetClient(ctx, kind, id, name)
	return &flakyClient{Client: c, s: s}, err
}

func (c *flakyClient) Get(ctx context.Context, key string) ([]byte, error) {
	c.s.mu.Lock()
	fail := c.s.getFails > 0
	c.s.getFails--
	c.s.mu.Unlock()
	if fail {
		return nil, errors.New("disk read error")
	}
	return c.Client.Get(ctx, key)
}

func (c *flakyClient) Set(ctx context.Context, key string, v []byte) error {
	c.s.mu.Lock()
	fail := c.s.setFails > 0
	c.s.setFails--
	c.s.mu.Unlock()
	if fail {
		return errors.New("disk full")
	}
	return c.Client.Set(ctx, key, v)
}

// Batch fails like Get and Set do: the receiver saves a page's records and its position in one batch.
func (c *flakyClient) Batch(ctx context.Context, ops ...*storage.Operation) error {
	for _, op := range ops {
		fails := &c.s.getFails
		if op.Type == storage.Set {
			fails = &c.s.setFails
		}
		c.s.mu.Lock()
		fail := *fails > 0
		if fail {
			*fails--
		}
		c.s.mu.Unlock()
		if fail {
			return errors.New("disk error")
		}
	}
	err := c.Client.Batch(ctx, ops...)
	for _, op := range ops {
		if err == nil && op.Type == storage.Set {
			c.s.saves.Add(1)
			break
		}
	}
	return err
}

func withFlakyStorage(w *world) *flakyStorage {
	fs := &flakyStorage{TestStorage: storagetest.NewFileBackedStorageExtension("flaky", w.t.TempDir())}
	w.storage = fs.ID
	w.host = &statusHost{Host: storagetest.NewStorageHost().WithExtension(fs.ID, fs)}
	return fs
}

// TestStorageSetFailureIsCountedAndRetried: the initial save and its first two retries fail; the stream reads
// once the save has gone through, and everything arrives once.
func TestStorageSetFailureIsCountedAndRetried(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	fs := withFlakyStorage(w)
	fs.setFails = 3
	backlog := w.fake.GenerateRequestLogs(150, time.Now().Add(-30*time.Minute), 10*time.Second, 16)
	sink := new(consumertest.LogsSink)
	r := w.start(w.config(), sink)
	r.awaitPoll()
	r.stop()
	requireExactlyOnce(t, idsOf(backlog, "request_id"), ids(sink))
	metadatatest.AssertEqualReceiverStackoneCheckpointErrors(t, r.tel, []metricdata.DataPoint[int64]{{Attributes: streamAttr(), Value: 3}}, metricdatatest.IgnoreTimestamp())
	// A failing save shows in the status, although every API call succeeded, and clears with the next save.
	statuses := w.host.statuses()
	assert.Contains(t, statuses, componentstatus.StatusRecoverableError)
	assert.Equal(t, componentstatus.StatusOK, statuses[len(statuses)-1])

	// the later saves stored the position: a restart reads nothing again
	again := new(consumertest.LogsSink)
	r2 := w.start(w.config(), again)
	r2.awaitPoll()
	r2.stop()
	assert.Empty(t, ids(again))
}

func TestStorageReadErrorIsNotNoPosition(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	fs := withFlakyStorage(w)
	w.fake.GenerateRequestLogs(40, time.Now().Add(-30*time.Minute), 10*time.Second, 17)
	first := new(consumertest.LogsSink)
	r1 := w.start(w.config(), first)
	r1.awaitPoll()
	r1.stop()
	require.Len(t, ids(first), 40)

	fs.getFails = 2
	again := new(consumertest.LogsSink)
	r2 := w.start(w.config(), again)
	r2.awaitPoll()
	r2.stop()
	assert.Empty(t, ids(again), "a failed read must be retried, not taken for an empty store")
	assert.Len(t, r2.retryDelays(), 2)
	assert.Contains(t, w.host.statuses(), componentstatus.StatusRecoverableError)
}

func TestCorruptOrUnknownCheckpointStartsFromLookback(t *testing.T) {
	for name, value := range map[string]string{
		"garbage":         `{"version":1,"watermark":`,
		"unknown version": `{"version":99,"watermark":"2025-01-01T00:00:00Z","seen":{}}`,
		"no watermark":    `{"version":1,"seen":{}}`,
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, stackonefake.Options{})
			backlog := w.fake.GenerateRequestLogs(20, time.Now().Add(-30*time.Minute), 10*time.Second, 18)
			w.withStorage(func(c storage.Client) {
				require.NoError(t, c.Set(context.Background(), "position.request_logs", []byte(value)))
			})

			sink := new(consumertest.LogsSink)
			r := w.start(w.config(), sink)
			r.awaitPoll()
			r.stop()
			requireExactlyOnce(t, idsOf(backlog, "request_id"), ids(sink))
			metadatatest.AssertEqualReceiverStackoneCheckpointErrors(t, r.tel, []metricdata.DataPoint[int64]{{Attributes: streamAttr(), Value: 1}}, metricdatatest.IgnoreTimestamp())
		})
	}
}

func TestNoStorageRunsInMemory(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	backlog := w.fake.GenerateRequestLogs(20, time.Now().Add(-30*time.Minute), 10*time.Second, 19)
	cfg := w.config()
	cfg.StorageID = nil
	sink := new(consumertest.LogsSink)
	r := w.start(cfg, sink)
	r.awaitPoll()
	r.nextPoll()
	r.awaitPoll()
	r.stop()
	requireExactlyOnce(t, idsOf(backlog, "request_id"), ids(sink))
}

func TestMisconfiguredStorageFailsStart(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	for name, id := range map[string]component.ID{
		"missing":       component.MustNewID("file_storage"),
		"not a storage": storagetest.NewNonStorageID("nope"),
	} {
		t.Run(name, func(t *testing.T) {
			cfg := w.config()
			cfg.StorageID = &id
			host := storagetest.NewStorageHost().WithNonStorageExtension("nope")
			rcv, err := newReceiver(cfg, metadatatest.NewSettings(componenttestTelemetry(t)), new(consumertest.LogsSink))
			require.NoError(t, err)
			err = rcv.Start(context.Background(), host)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "storage")
			require.NoError(t, rcv.Shutdown(context.Background()))
		})
	}
}

func componenttestTelemetry(t *testing.T) *componenttest.Telemetry {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	return tel
}

// TestFailedSaveHoldsReading: a stream whose position could not be saved reads no further page until a retried
// save succeeds, on file storage as on the leader election's ConfigMap: a restart, or the next leader, resumes
// from the last saved position, and every page read past it would be delivered twice. The page whose save
// failed stays delivered, and nothing is lost or repeated.
func TestFailedSaveHoldsReading(t *testing.T) {
	for _, tc := range []struct {
		name string
		// start runs a receiver on the storage; failSaves makes the next n position writes fail, and saves counts
		// the writes that succeeded.
		start func(w *world, sink consumer.Logs) (r *run, failSaves func(n int), saves func() int64)
	}{
		{"file_storage", func(w *world, sink consumer.Logs) (*run, func(int), func() int64) {
			fs := withFlakyStorage(w)
			r := w.start(w.config(), sink)
			return r, func(n int) {
				fs.mu.Lock()
				fs.setFails = n
				fs.mu.Unlock()
			}, fs.saves.Load
		}},
		{"leader_election ConfigMap", func(w *world, sink consumer.Logs) (*run, func(int), func() int64) {
			k := newFakeKube()
			var mu sync.Mutex
			fails := 0
			var saves atomic.Int64
			k.failWith(func(a k8stesting.Action) (bool, runtime.Object, error) {
				if a.GetVerb() != "update" || a.GetResource().Resource != "configmaps" {
					return false, nil, nil
				}
				mu.Lock()
				defer mu.Unlock()
				if fails > 0 {
					fails--
					return true, nil, apierrors.NewServiceUnavailable("the API server is unavailable")
				}
				saves.Add(1)
				return false, nil, nil
			})
			r := w.startHA(k, sink)
			return r, func(n int) {
				mu.Lock()
				fails = n
				mu.Unlock()
			}, saves.Load
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, stackonefake.Options{})
			backlog := w.fake.GenerateRequestLogs(150, time.Now().Add(-30*time.Minute), 10*time.Second, 21)
			sink := new(consumertest.LogsSink)
			var mu sync.Mutex
			var failSaves func(int)
			var saves func() int64
			pages, savesBefore := 0, int64(0)
			var readAhead []int
			next := consumerFunc(func(ctx context.Context, ld plog.Logs) error {
				mu.Lock()
				defer mu.Unlock()
				if pages > 0 && saves() == savesBefore {
					readAhead = append(readAhead, pages+1)
				}
				pages++
				savesBefore = saves()
				if pages == 1 {
					failSaves(3) // the first page's save and two retries
				}
				return sink.ConsumeLogs(ctx, ld)
			})
			// While the reads are held, the gauge says so; the hook runs inside the save's back-off waits.
			var running *run
			var heldShown atomic.Bool
			w.waitHook = func(ctx context.Context, _ time.Duration) error {
				mu.Lock()
				r := running
				mu.Unlock()
				if m, err := r.tel.GetMetric("otelcol_receiver_stackone_position_unsaved"); err == nil {
					if g, ok := m.Data.(metricdata.Gauge[int64]); ok && len(g.DataPoints) == 1 && g.DataPoints[0].Value == 1 {
						heldShown.Store(true)
					}
				}
				return ctx.Err()
			}
			mu.Lock()
			r, fail, count := tc.start(w, next)
			running, failSaves, saves = r, fail, count
			mu.Unlock()
			r.awaitPoll()

			mu.Lock()
			assert.Empty(t, readAhead, "pages handed to the pipeline before the previous page's position was saved")
			mu.Unlock()
			requireExactlyOnce(t, idsOf(backlog, "request_id"), ids(sink))
			metadatatest.AssertEqualReceiverStackoneCheckpointErrors(t, r.tel, []metricdata.DataPoint[int64]{{Attributes: streamAttr(), Value: 3}}, metricdatatest.IgnoreTimestamp())
			assert.True(t, heldShown.Load(), "position_unsaved was 1 while the save was retried")
			metadatatest.AssertEqualReceiverStackonePositionUnsaved(t, r.tel, []metricdata.DataPoint[int64]{{Attributes: streamAttr(), Value: 0}}, metricdatatest.IgnoreTimestamp())
			statuses := w.host.statuses()
			assert.Contains(t, statuses, componentstatus.StatusRecoverableError)
			assert.Equal(t, componentstatus.StatusOK, statuses[len(statuses)-1])
			assert.True(t, w.host.reported("reading is held until a retried save succeeds"), "the status says why the stream stopped reading")
			r.stop()
		})
	}
}
