package stackonereceiver

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/metadatatest"
)

const (
	loadDeliveries = 1000
	loadSenders    = 20
	// Every loadRefuseEvery-th ConsumeLogs is refused as the memory_limiter refuses: retryable.
	loadRefuseEvery = 5
	// Every loadReplayEvery-th acknowledged event is delivered once more, as StackOne does when an
	// acknowledgement is lost on the way.
	loadReplayEvery = 10
)

// TestWebhookUnderLoad: 1,000 distinct events from 20 concurrent senders over loopback HTTP, a pipeline that
// refuses one call in five, senders that re-deliver on 503 at once and replay some acknowledged events.
// Every event is exported exactly once, every refusal is answered 503, every replay is acknowledged without
// being exported.
func TestWebhookUnderLoad(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	sink := new(consumertest.LogsSink)
	var calls, refused atomic.Int64
	h := w.startHook(w.webhookConfig(), consumerFunc(func(ctx context.Context, ld plog.Logs) error {
		if calls.Add(1)%loadRefuseEvery == 0 {
			refused.Add(1)
			return errRefused
		}
		return sink.ConsumeLogs(ctx, ld)
	}))

	var answers sync.Map // status -> *atomic.Int64
	countAnswer := func(status int) {
		n, _ := answers.LoadOrStore(status, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
	}
	answered := func(status int) int64 {
		if n, ok := answers.Load(status); ok {
			return n.(*atomic.Int64).Load()
		}
		return 0
	}
	transport := &http.Transport{MaxIdleConnsPerHost: loadSenders}
	defer transport.CloseIdleConnections()
	sender := &stackonefake.WebhookSender{
		URL: h.url, Secret: hookSecret, Client: &http.Client{Transport: transport, Timeout: 30 * time.Second},
		MaxAttempts: 50, OnAnswer: countAnswer,
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	jobs := make(chan int)
	var replays atomic.Int64
	var wg sync.WaitGroup
	started := time.Now()
	for range loadSenders {
		wg.Go(func() {
			for seq := range jobs {
				body := stackonefake.WebhookEvent(stackonefake.WebhookEvents[seq%len(stackonefake.WebhookEvents)], seq, started)
				_, err := sender.Deliver(ctx, body)
				if !assert.NoError(t, err, "delivery %d", seq) {
					continue
				}
				if seq%loadReplayEvery == 0 {
					replays.Add(1)
					attempts, err := sender.Deliver(ctx, body)
					assert.NoError(t, err)
					assert.Equal(t, 1, attempts, "a replay of an acknowledged event is acknowledged at once")
				}
			}
		})
	}
	for seq := range loadDeliveries {
		jobs <- seq
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(started)

	got := map[string]int{}
	for _, ld := range sink.AllLogs() {
		lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		for i := range lrs.Len() {
			id, ok := lrs.At(i).Attributes().Get("stackone.record_id")
			require.True(t, ok)
			got[id.Str()]++
		}
	}
	duplicates := sink.LogRecordCount() - len(got)
	t.Logf("%d deliveries from %d senders in %s: %d ConsumeLogs calls, %d refused and answered 503 (%d 503s), %d exported (%d distinct, %d duplicates), %d replays acknowledged as duplicates",
		loadDeliveries, loadSenders, elapsed.Round(time.Millisecond), calls.Load(), refused.Load(), answered(http.StatusServiceUnavailable),
		sink.LogRecordCount(), len(got), duplicates, replays.Load())

	assert.Len(t, got, loadDeliveries, "every event exported")
	assert.Zero(t, duplicates, "none twice")
	assert.Equal(t, refused.Load(), answered(http.StatusServiceUnavailable), "every refusal answered 503, and only those")
	assert.Positive(t, refused.Load())
	assert.Equal(t, loadDeliveries+refused.Load(), calls.Load(), "a refused event reaches the pipeline again, an accepted one never")
	assert.Equal(t, int64(loadDeliveries)+replays.Load(), answered(http.StatusOK))
	metadatatest.AssertEqualReceiverStackoneWebhookRequests(t, h.tel, []metricdata.DataPoint[int64]{
		requestsPoint("accepted", reasonEmitted, loadDeliveries),
		requestsPoint("refused", reasonPipelineRefused, refused.Load()),
		requestsPoint("duplicate", reasonDuplicate, replays.Load()),
	}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
}
