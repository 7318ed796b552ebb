package stackonereceiver

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/stackoneapi"
)

func actionOnly(cfg *Config) *Config {
	cfg.RequestLogs.Enabled = false
	cfg.ActionLogs.Enabled = true
	return cfg
}

func actionLog(id string, at time.Time) map[string]any {
	return map[string]any{"log_id": id, "log_type": "action", "action_run_id": "run_" + id, "http_method": "get",
		"url": "https://api.example.com/x", "status_code": 200, "success": true, "event_time": at.UTC().Format("2006-01-02T15:04:05.000Z")}
}

func TestActionLogsKeysetPagingOnAGrowingSet(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	t0 := time.Now().Add(-40 * time.Minute)
	backlog := w.fake.GenerateActionLogs(200, t0, 12*time.Second, 21)
	want := idsOf(backlog, "log_id")

	// While the receiver reads, StackOne keeps indexing: after each of the first pages, rows land ahead of
	// the reader (which shift every offset after them) and near the end of the set.
	sink := new(consumertest.LogsSink)
	pages := 0
	cons := consumerFunc(func(ctx context.Context, ld plog.Logs) error {
		pages++
		if pages <= 3 {
			for i := range 8 {
				id := fmt.Sprintf("grow-%d-%d", pages, i)
				at := t0.Add(time.Duration(60*pages)*12*time.Second + time.Duration(i)*time.Second)
				if i%2 == 1 {
					at = time.Now().Add(-time.Duration(i) * time.Minute)
				}
				w.fake.AddActionLogs(actionLog(id, at))
				want = append(want, id)
			}
		}
		return sink.ConsumeLogs(ctx, ld)
	})
	r := w.start(actionOnly(w.config()), cons)
	defer r.stop()
	r.awaitPoll()
	r.nextPoll()
	r.awaitPoll()
	requireExactlyOnce(t, want, ids(sink))

	// Keyset paging: every request asks for page 1 from a later start_time, never page N+1.
	starts := []string{}
	for _, req := range w.fake.Requests() {
		require.Equal(t, stackoneapi.ActionLogsPath, req.Path)
		var body struct {
			Filters map[string]any `json:"filters"`
			Page    int            `json:"page"`
		}
		require.NoError(t, json.Unmarshal(req.Body, &body))
		assert.Equal(t, 1, body.Page)
		assert.Equal(t, "event_time", body.Filters["order_by"])
		assert.Equal(t, "asc", body.Filters["order_direction"])
		starts = append(starts, body.Filters["start_time"].(string))
	}
	assert.Greater(t, len(starts), 4)
	assert.IsNonDecreasing(t, starts[:len(starts)/2])
}

func TestActionLogsManyRowsOnOneTimestampFallBackToPageNumbers(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	at := time.Now().Add(-10 * time.Minute)
	var want []string
	for i := range 130 { // more than two pages of 50 on one millisecond
		id := fmt.Sprintf("same-%03d", i)
		w.fake.AddActionLogs(actionLog(id, at))
		want = append(want, id)
	}
	sink := new(consumertest.LogsSink)
	r := w.start(actionOnly(w.config()), sink)
	defer r.stop()
	r.awaitPoll()
	requireExactlyOnce(t, want, ids(sink))
}

func TestActionLogsRestartAndLateArrival(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	backlog := w.fake.GenerateActionLogs(300, time.Now().Add(-50*time.Minute), 10*time.Second, 22)
	want := idsOf(backlog, "log_id")

	first := new(consumertest.LogsSink)
	cons, stopping := stopAfterPages(t, first, 3)
	r1 := w.start(actionOnly(w.config()), cons)
	<-stopping
	r1.stop()
	require.Less(t, len(ids(first)), len(want))

	second := new(consumertest.LogsSink)
	r2 := w.start(actionOnly(w.config()), second)
	defer r2.stop()
	r2.awaitPoll()
	// a late row, two minutes before the newest event: inside the window
	newest := time.Now().Add(-50*time.Minute + 299*10*time.Second)
	w.fake.AddActionLogs(actionLog("late-action", newest.Add(-2*time.Minute)))
	w.clock.advance(w.config().LateArrivalWindow) // the far sweep reads it the window after its event time
	r2.nextPoll()
	r2.awaitPoll()
	requireExactlyOnce(t, append(want, "late-action"), append(ids(first), ids(second)...))
}

func TestNotFoundOnOneStreamLeavesTheOthersRunning(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	backlog := w.fake.GenerateRequestLogs(60, time.Now().Add(-30*time.Minute), 10*time.Second, 23)
	w.fake.InjectFault(stackonefake.Fault{Path: stackoneapi.ActionLogsPath, Status: 404, Times: notFoundLimit})
	cfg := w.config()
	cfg.ActionLogs.Enabled = true
	sink := new(consumertest.LogsSink)
	r := w.start(cfg, sink)
	defer r.stop()
	action := r.rcv.streams[1]
	require.Equal(t, "action_logs", action.name)
	// Both streams end their polls on one channel, in no set order: the request stream may take many turns
	// before the action stream's three. The bound only keeps a broken build from looping; the exact count of
	// action calls is checked below.
	for i := 0; !action.disabled.Load(); i++ {
		require.Less(t, i, 1000, "the action stream was never disabled")
		r.awaitPoll()
		r.nextPoll()
	}
	// only the request-log stream keeps polling
	fresh := w.fake.GenerateRequestLogs(5, time.Now().Add(-time.Second), time.Millisecond, 24)
	r.awaitPoll()
	r.nextPoll()
	r.awaitPoll()
	requireExactlyOnce(t, append(idsOf(backlog, "request_id"), idsOf(fresh, "request_id")...), ids(sink))
	actionCalls := 0
	for _, req := range w.fake.Requests() {
		if req.Path == stackoneapi.ActionLogsPath {
			actionCalls++
		}
	}
	assert.Equal(t, notFoundLimit, actionCalls)
}

func TestStepAndPlatformLogsFlow(t *testing.T) {
	at := time.Now().Add(-20 * time.Minute).UTC()
	for _, tc := range []struct {
		name   string
		enable func(*Config)
		add    func(*stackonefake.Server, ...map[string]any)
		key    string
		event  string
	}{
		{"step logs", func(c *Config) { c.StepLogs.Enabled = true }, (*stackonefake.Server).AddStepLogs, "id", "stackone.step_log"},
		{"platform logs", func(c *Config) { c.PlatformLogs.Enabled = true }, (*stackonefake.Server).AddPlatformLogs, "request_id", "stackone.platform_log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, stackonefake.Options{})
			var want []string
			for i := range 75 {
				id := fmt.Sprintf("%s-%d", tc.key, i)
				e := map[string]any{tc.key: id, "request_id": id, "http_method": "GET", "path": "/p", "status": 200,
					"start_time": at.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano)}
				if tc.key == "request_id" {
					e["event_datetime"] = e["start_time"]
					e["category"] = "connect_session"
				}
				tc.add(w.fake, e)
				want = append(want, id)
			}
			cfg := w.config()
			cfg.RequestLogs.Enabled = false
			tc.enable(cfg)
			sink := new(consumertest.LogsSink)
			r := w.start(cfg, sink)
			defer r.stop()
			r.awaitPoll()
			requireExactlyOnce(t, want, uniqueRequestIDs(sink))
			lr := sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
			assert.Equal(t, tc.event, lr.EventName())
		})
	}
}

// uniqueRequestIDs reads stackone.request_id, which step and platform fixtures set to the entry's id.
func uniqueRequestIDs(sink *consumertest.LogsSink) []string {
	var out []string
	for _, ld := range sink.AllLogs() {
		lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		for i := 0; i < lrs.Len(); i++ {
			if v, ok := lrs.At(i).Attributes().Get("stackone.request_id"); ok {
				out = append(out, v.Str())
			}
		}
	}
	return out
}

// Each stream sends the filters its endpoint takes, as flat comma lists, and the fake applies them.
func TestStreamFiltersReachTheirEndpoint(t *testing.T) {
	at := time.Now().Add(-20 * time.Minute).UTC()
	for _, tc := range []struct {
		name   string
		path   string
		enable func(*Config)
		add    func(*stackonefake.Server, ...map[string]any)
		field  string // what the filter matches, set to "keep" or "drop" in turn
		query  string // the query key it is sent as
	}{
		{"platform logs by category", stackoneapi.PlatformLogsPath, func(c *Config) {
			c.PlatformLogs.Enabled = true
			c.PlatformLogs.Filter.Categories = []string{"keep", "also"}
		}, (*stackonefake.Server).AddPlatformLogs, "category", "categories"},
		{"step logs by provider", stackoneapi.StepLogsPath, func(c *Config) {
			c.StepLogs.Enabled = true
			c.StepLogs.Filter.Providers = []string{"keep", "also"}
		}, (*stackonefake.Server).AddStepLogs, "provider", "providers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, stackonefake.Options{})
			var want []string
			for i := range 60 {
				id := fmt.Sprintf("e-%d", i)
				e := map[string]any{"id": id, "request_id": id, "http_method": "GET", "path": "/p", "status": 200,
					"start_time": at.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano), tc.field: "drop"}
				e["event_datetime"] = e["start_time"]
				if i%2 == 0 {
					e[tc.field] = "keep"
					want = append(want, id)
				}
				tc.add(w.fake, e)
			}
			cfg := w.config()
			cfg.RequestLogs.Enabled = false
			tc.enable(cfg)
			sink := new(consumertest.LogsSink)
			r := w.start(cfg, sink)
			defer r.stop()
			r.awaitPoll()
			requireExactlyOnce(t, want, uniqueRequestIDs(sink))
			reqs := w.fake.Requests()
			require.NotEmpty(t, reqs)
			for _, req := range reqs {
				assert.Equal(t, tc.path, req.Path)
				assert.Equal(t, []string{"keep,also"}, req.Query[tc.query])
			}
		})
	}
}
