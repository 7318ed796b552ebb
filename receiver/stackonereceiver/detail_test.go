package stackonereceiver

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/metadatatest"
)

// detailRecords is every exported record by request id, and the detail calls the fake answered.
func detailRecords(t *testing.T, sink *consumertest.LogsSink) map[string]plog.LogRecord {
	t.Helper()
	out := map[string]plog.LogRecord{}
	for _, ld := range sink.AllLogs() {
		lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		for i := 0; i < lrs.Len(); i++ {
			id, _ := lrs.At(i).Attributes().Get("stackone.request_id")
			out[id.AsString()] = lrs.At(i)
		}
	}
	return out
}

func detailCalls(w *world) int {
	n := 0
	for _, r := range w.fake.Requests() {
		if strings.HasPrefix(r.Path, "/requests/logs/") && r.Path != "/requests/logs/steps" {
			n++
		}
	}
	return n
}

func failedIDs(entries []map[string]any) map[string]bool {
	out := map[string]bool{}
	for _, e := range entries {
		if e["status"].(int) >= 400 {
			out[e["request_id"].(string)] = true
		}
	}
	return out
}

// recordText is everything a record exports, at every depth, as text: what a planted secret must not be in.
func recordText(t *testing.T, lr plog.LogRecord) string {
	b, err := json.Marshal(lr.Attributes().AsRaw())
	require.NoError(t, err)
	return lr.Body().AsString() + string(b)
}

func TestDetailExplainsFailedRequests(t *testing.T) {
	for _, opts := range []stackonefake.Options{{}, {CamelCase: true}} {
		t.Run("camelCase="+map[bool]string{false: "false", true: "true"}[opts.CamelCase], func(t *testing.T) {
			w := newWorld(t, opts)
			backlog := w.fake.GenerateRequestLogs(150, time.Now().Add(-30*time.Minute), 10*time.Second, 21)
			failed := failedIDs(backlog)
			require.NotEmpty(t, failed)
			cfg := w.config()
			cfg.RequestLogs.Detail.Enabled = true
			cfg.RequestLogs.Detail.BudgetShare = 0.2 // 200 a minute, 34 in any 10 s: every failed request here
			sink := new(consumertest.LogsSink)
			r := w.start(cfg, sink)
			defer r.stop()
			r.awaitPoll()

			requireExactlyOnce(t, idsOf(backlog, "request_id"), ids(sink))
			for id, lr := range detailRecords(t, sink) {
				attrs := lr.Attributes()
				outcome, marked := attrs.Get("stackone.detail")
				if !failed[id] {
					assert.False(t, marked, "%s succeeded: no detail wanted", id)
					continue
				}
				require.True(t, marked, id)
				assert.Equal(t, detailFetched, outcome.Str(), id)
				msg, ok := attrs.Get("stackone.provider_error.message")
				require.True(t, ok, "%s: the provider's message is a plain attribute", id)
				assert.NotEmpty(t, msg.Str())
				_, ok = attrs.Get("stackone.provider_error.status")
				assert.True(t, ok, id)
				text := recordText(t, lr)
				assert.NotContains(t, text, stackonefake.PlantedSecret, id)
				assert.NotContains(t, text, "Bearer secret-", id)
			}
			assert.Equal(t, len(failed), detailCalls(w), "one detail call per failed request")

			// The sweeps read the same entries again: what was explained is not asked about twice.
			r.nextPoll()
			r.awaitPoll()
			assert.Equal(t, len(failed), detailCalls(w), "re-reads cost no detail call")
			metadatatest.AssertEqualReceiverStackoneDetailRequests(t, r.tel, []metricdata.DataPoint[int64]{
				{Attributes: attribute.NewSet(attribute.String("stream", "request_logs"), attribute.String("outcome", detailFetched)), Value: int64(len(failed))},
			}, metricdatatest.IgnoreTimestamp())
		})
	}
}

// The detail calls use at most their share of the budget, and never wait: past it, records go without, marked.
func TestDetailStaysInsideItsShare(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	backlog := w.fake.GenerateRequestLogs(400, time.Now().Add(-50*time.Minute), 7*time.Second, 22)
	failed := failedIDs(backlog)
	cfg := w.config()
	cfg.MaxRequestsPerMinute = 60
	cfg.RequestLogs.Detail.Enabled = true
	cfg.RequestLogs.Detail.BudgetShare = 0.1 // 6 calls a minute, at most 1 in any 10 seconds
	require.Greater(t, len(failed), 6)
	sink := new(consumertest.LogsSink)
	r := w.start(cfg, sink)
	defer r.stop()
	r.awaitPoll()

	requireExactlyOnce(t, idsOf(backlog, "request_id"), ids(sink))
	calls := detailCalls(w)
	assert.LessOrEqual(t, calls, cfg.detailCalls(), "detail calls stay inside their share")
	assert.Positive(t, calls)
	outcomes := map[string]int{}
	for id, lr := range detailRecords(t, sink) {
		if v, ok := lr.Attributes().Get("stackone.detail"); ok {
			require.True(t, failed[id])
			outcomes[v.Str()]++
		}
	}
	assert.Equal(t, calls, outcomes[detailFetched])
	assert.Equal(t, len(failed)-calls, outcomes[detailSkippedBudget], "every other failed request is marked")
	assert.LessOrEqual(t, len(w.fake.Requests()), cfg.MaxRequestsPerMinute, "detail calls and reads together stay inside the budget")
}

// A detail call that fails or hangs costs the page at most the detail timeout and is never retried: the
// record goes as the list had it, marked failed, and the position moves on.
func TestDetailFailureSendsTheRecordWithoutIt(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault stackonefake.Fault
	}{
		{"500", stackonefake.Fault{Status: 500, Times: 1000}},
		{"429 with Retry-After", stackonefake.Fault{Status: 429, RetryAfter: "1", Times: 1000}},
		{"hangs", stackonefake.Fault{Delay: time.Hour, Times: 1000}},
		{"cut off", stackonefake.Fault{Truncate: true, Times: 1000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, stackonefake.Options{})
			backlog := w.fake.GenerateRequestLogs(100, time.Now().Add(-30*time.Minute), 10*time.Second, 23)
			failed := failedIDs(backlog)
			tc.fault.Path = "/requests/logs/*"
			w.fake.InjectFault(tc.fault)
			cfg := w.config()
			cfg.RequestLogs.Detail.Enabled = true
			cfg.RequestLogs.Detail.Timeout = 50 * time.Millisecond
			sink := new(consumertest.LogsSink)
			r := w.start(cfg, sink)
			defer r.stop()
			r.awaitPoll()

			requireExactlyOnce(t, idsOf(backlog, "request_id"), ids(sink))
			for id := range failed {
				lr := detailRecords(t, sink)[id]
				v, ok := lr.Attributes().Get("stackone.detail")
				require.True(t, ok, id)
				assert.Contains(t, []string{detailFailed, detailSkippedBudget}, v.Str(), id)
				_, has := lr.Attributes().Get("stackone.provider_errors")
				assert.False(t, has, id)
			}
			assert.LessOrEqual(t, detailCalls(w), len(failed), "a failed detail call is not retried")
			assert.NotEmpty(t, r.rcv.streams[0].pos.Frontier, "the position moved on")
		})
	}
}
