package stackonereceiver

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/metadata"
	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/metadatatest"
)

func streamAttr() attribute.Set { return attribute.NewSet(attribute.String("stream", "request_logs")) }

func TestEveryEntryArrivesExactlyOnceOverSeveralPolls(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	now := time.Now()
	backlog := w.fake.GenerateRequestLogs(230, now.Add(-50*time.Minute), 10*time.Second, 1)
	sink := new(consumertest.LogsSink)
	r := w.start(w.config(), sink)
	defer r.stop()

	assert.Equal(t, testPollInterval, r.awaitPoll())
	requireExactlyOnce(t, idsOf(backlog, "request_id"), ids(sink))
	assert.GreaterOrEqual(t, sink.LogRecordCount(), 230)
	lastPoll, err := r.tel.GetMetric("otelcol_receiver_stackone_last_successful_poll")
	require.NoError(t, err)
	at := lastPoll.Data.(metricdata.Gauge[float64]).DataPoints[0].Value
	assert.InDelta(t, float64(now.Unix()), at, float64(time.Minute/time.Second), "the last successful poll is about now")

	// New traffic between polls; the next poll re-reads the late-arrival window and must not repeat it.
	fresh := w.fake.GenerateRequestLogs(40, time.Now().Add(-time.Second), 10*time.Millisecond, 2)
	r.nextPoll()
	r.awaitPoll()
	r.nextPoll()
	r.awaitPoll() // a third poll with nothing new
	all := append(idsOf(backlog, "request_id"), idsOf(fresh, "request_id")...)
	requireExactlyOnce(t, all, ids(sink))

	// The query the receiver sends: SDK encoding, ascending event time, the configured page size.
	reqs := w.fake.Requests()
	require.NotEmpty(t, reqs)
	q := reqs[0].Query
	assert.Equal(t, "eventDatetime", q.Get("order_by"))
	assert.Equal(t, "asc", q.Get("order_direction"))
	assert.Equal(t, "50", q.Get("page_size"))
	assert.Contains(t, reqs[0].Header.Get("User-Agent"), "otelcol-stackone-receiver/")

	metadatatest.AssertEqualReceiverStackoneRecordsEmitted(t, r.tel, []metricdata.DataPoint[int64]{
		{Attributes: streamAttr(), Value: int64(len(all))},
	}, metricdatatest.IgnoreTimestamp())
}

func TestLateArrivalInsideTheWindowIsDeliveredOnce(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	now := time.Now()
	backlog := w.fake.GenerateRequestLogs(20, now.Add(-10*time.Minute), 30*time.Second, 1)
	sink := new(consumertest.LogsSink)
	cfg := w.config()
	cfg.LateArrivalWindow = 5 * time.Minute
	r := w.start(cfg, sink)
	defer r.stop()
	r.awaitPoll()

	// StackOne indexes two entries late: one 2 minutes before the newest event (inside the window), one 20
	// minutes before (outside it: documented as not recoverable).
	newest := now.Add(-10*time.Minute + 19*30*time.Second)
	late := map[string]any{"request_id": "late-inside", "http_method": "GET", "path": "/x", "status": 200,
		"event_datetime": newest.Add(-2 * time.Minute).UTC().Format(time.RFC3339Nano)}
	tooLate := map[string]any{"request_id": "late-outside", "http_method": "GET", "path": "/x", "status": 200,
		"event_datetime": newest.Add(-20 * time.Minute).UTC().Format(time.RFC3339Nano)}
	w.fake.AddRequestLogs(late, tooLate)
	w.clock.advance(cfg.LateArrivalWindow) // the far sweep reads it the window after its event time
	r.nextPoll()
	r.awaitPoll()
	r.nextPoll()
	r.awaitPoll()

	requireExactlyOnce(t, append(idsOf(backlog, "request_id"), "late-inside"), ids(sink))
	// every re-read entry of the window was recognised and dropped
	metadatatest.AssertEqualReceiverStackoneDuplicatesDropped(t, r.tel, []metricdata.DataPoint[int64]{
		{Attributes: streamAttr(), Value: dropped(t, r)},
	}, metricdatatest.IgnoreTimestamp())
}

// dropped reads the duplicates counter; the exact value depends on how many entries sit in the window.
func dropped(t *testing.T, r *run) int64 {
	m, err := r.tel.GetMetric("otelcol_receiver_stackone_duplicates_dropped")
	require.NoError(t, err)
	sum := m.Data.(metricdata.Sum[int64])
	require.Len(t, sum.DataPoints, 1)
	require.Positive(t, sum.DataPoints[0].Value)
	return sum.DataPoints[0].Value
}

func TestRestartMidBackfillResumesWithoutLossOrRepeat(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	backlog := w.fake.GenerateRequestLogs(300, time.Now().Add(-55*time.Minute), 10*time.Second, 3)
	want := idsOf(backlog, "request_id")

	// The first receiver stops after its third page, while the fourth is in flight.
	first := new(consumertest.LogsSink)
	cons, stopping := stopAfterPages(t, first, 3)
	r1 := w.start(w.config(), cons)
	<-stopping
	r1.stop()
	got1 := ids(first)
	require.Len(t, got1, 150, "the first receiver stops mid-backfill, after three pages")

	// A new receiver on the same storage resumes where the first stopped.
	second := new(consumertest.LogsSink)
	r2 := w.start(w.config(), second)
	defer r2.stop()
	r2.awaitPoll()
	requireExactlyOnce(t, want, append(got1, ids(second)...))
}

func TestStoredPositionWinsOverInitialLookback(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	old := w.fake.GenerateRequestLogs(10, time.Now().Add(-50*time.Minute), time.Second, 4)
	sink := new(consumertest.LogsSink)
	r1 := w.start(w.config(), sink)
	r1.awaitPoll()
	r1.stop()
	require.Len(t, ids(sink), 10)

	// Restarted with a shorter lookback that would skip nothing and a longer one that would re-read: both
	// resume from the stored position.
	for _, lookback := range []time.Duration{time.Minute, 24 * time.Hour} {
		cfg := w.config()
		cfg.InitialLookback = lookback
		again := new(consumertest.LogsSink)
		r := w.start(cfg, again)
		r.awaitPoll()
		r.stop()
		assert.Empty(t, ids(again), "lookback %s", lookback)
	}
	_ = old
}

func TestConsumerErrorKeepsThePosition(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	backlog := w.fake.GenerateRequestLogs(120, time.Now().Add(-30*time.Minute), 10*time.Second, 5)
	sink := new(consumertest.LogsSink)
	refuse := true
	cons := consumerFunc(func(ctx context.Context, ld plog.Logs) error {
		if refuse {
			return errRefused
		}
		return sink.ConsumeLogs(ctx, ld)
	})
	cfg := w.config()
	cfg.BackOff.MaxElapsedTime = 0
	cfg.BackOff.Enabled = false // the refused page is retried by the next poll, not in place
	r := w.start(cfg, cons)
	defer r.stop()
	r.awaitPoll()
	assert.Empty(t, ids(sink))
	store := &positionStore{client: r.rcv.running.storage, key: "position.request_logs"}
	cp, err := store.load(context.Background())
	require.NoError(t, err)
	require.NotNil(t, cp)
	assert.Empty(t, cp.seen.ids, "nothing was accepted, so nothing is remembered as emitted")
	assert.True(t, cp.Frontier.Before(time.Now().Add(-59*time.Minute)), "the frontier did not move")

	refuse = false
	r.nextPoll()
	r.awaitPoll()
	requireExactlyOnce(t, idsOf(backlog, "request_id"), ids(sink))
}

// TestConsumerRefusalIsRetriedInPlace also checks what is retried. Once ConsumeLogs returns, the records are the
// pipeline's: a processor may have changed them before a later component refused them, and with
// pdata.useProtoPooling they are reset for reuse. So the refusing consumer here empties what it was given, and
// the retry must still send the page as StackOne served it.
func TestConsumerRefusalIsRetriedInPlace(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	backlog := w.fake.GenerateRequestLogs(60, time.Now().Add(-30*time.Minute), 10*time.Second, 6)
	sink := new(consumertest.LogsSink)
	refusals := 3
	cons := consumerFunc(func(ctx context.Context, ld plog.Logs) error {
		if refusals > 0 {
			refusals--
			ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().RemoveIf(func(plog.LogRecord) bool { return true })
			return errRefused
		}
		return sink.ConsumeLogs(ctx, ld)
	})
	r := w.start(w.config(), cons)
	defer r.stop()
	r.awaitPoll()
	requireExactlyOnce(t, idsOf(backlog, "request_id"), ids(sink))
	assert.Len(t, r.retryDelays(), 3)
	metadatatest.AssertEqualReceiverStackoneRetries(t, r.tel, []metricdata.DataPoint[int64]{
		{Attributes: streamAttr(), Value: 3},
	}, metricdatatest.IgnoreTimestamp())

	// The collector's own accounting counts the page as it was sent, not as the refusing consumer left it.
	accepted, err := r.tel.GetMetric("otelcol_receiver_accepted_log_records")
	require.NoError(t, err)
	refused, err := r.tel.GetMetric("otelcol_receiver_refused_log_records")
	require.NoError(t, err)
	assert.Equal(t, int64(60), sumOf(accepted))
	assert.Positive(t, sumOf(refused))
}

func sumOf(m metricdata.Metrics) int64 {
	var n int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		n += dp.Value
	}
	return n
}

func TestPermanentConsumerErrorMovesOn(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	w.fake.GenerateRequestLogs(10, time.Now().Add(-30*time.Minute), 10*time.Second, 7)
	calls := 0
	cons := consumerFunc(func(context.Context, plog.Logs) error {
		calls++
		return permanent(errRefused)
	})
	r := w.start(w.config(), cons)
	defer r.stop()
	r.awaitPoll()
	r.nextPoll()
	r.awaitPoll()
	assert.Equal(t, 1, calls, "a permanently rejected page is not sent again")
	// The records reached nobody: they are counted as dropped, never as emitted.
	_, err := r.tel.GetMetric("otelcol_receiver_stackone_records_emitted")
	assert.Error(t, err, "nothing was emitted")
	metadatatest.AssertEqualReceiverStackoneRecordsDropped(t, r.tel, []metricdata.DataPoint[int64]{{Attributes: streamAttr(), Value: 10}}, metricdatatest.IgnoreTimestamp())
}

func TestTwoReceiversKeepSeparatePositions(t *testing.T) {
	a := newWorld(t, stackonefake.Options{})
	b := newWorld(t, stackonefake.Options{})
	b.host = a.host // one storage extension for both, as in one collector
	a.fake.GenerateRequestLogs(30, time.Now().Add(-40*time.Minute), 10*time.Second, 8)
	b.fake.GenerateRequestLogs(30, time.Now().Add(-20*time.Minute), 10*time.Second, 9)

	sinkA, sinkB := new(consumertest.LogsSink), new(consumertest.LogsSink)
	ra := a.startWithID(component.MustNewIDWithName("stackone", "a"), a.config(), sinkA)
	rb := b.startWithID(component.MustNewIDWithName("stackone", "b"), b.config(), sinkB)
	ra.awaitPoll()
	rb.awaitPoll()
	ra.stop()
	rb.stop()
	require.Len(t, ids(sinkA), 30)
	require.Len(t, ids(sinkB), 30)

	// Restart both: each resumes from its own position, so neither re-reads nor skips.
	a.fake.GenerateRequestLogs(5, time.Now().Add(-time.Second), time.Millisecond, 10)
	againA, againB := new(consumertest.LogsSink), new(consumertest.LogsSink)
	ra = a.startWithID(component.MustNewIDWithName("stackone", "a"), a.config(), againA)
	rb = b.startWithID(component.MustNewIDWithName("stackone", "b"), b.config(), againB)
	ra.awaitPoll()
	rb.awaitPoll()
	ra.stop()
	rb.stop()
	assert.Len(t, ids(againA), 5)
	assert.Empty(t, ids(againB))
	_ = metadata.Type
}
