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
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/metadatatest"
	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/stackoneapi"
)

func actionStepsOnly(cfg *Config) *Config {
	cfg.RequestLogs.Enabled, cfg.ActionLogs.Enabled, cfg.ActionSteps.Enabled = false, false, true
	return cfg
}

// stepRecord is what a test reads back of an action-step record.
type stepRecord struct{ id, run, event string }

// stepRecords lists the action-step records a sink received, duplicates included. id is stackone.step_id, or the
// run and index of a step sent without one.
func stepRecords(sink *consumertest.LogsSink) []stepRecord {
	var out []stepRecord
	for _, ld := range sink.AllLogs() {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					out = append(out, readStep(lr))
				}
			}
		}
	}
	return out
}

func readStep(lr plog.LogRecord) stepRecord {
	str := func(k string) string {
		if v, ok := lr.Attributes().Get(k); ok {
			return v.AsString()
		}
		return ""
	}
	id := str("stackone.step_id")
	if id == "" {
		id = str("stackone.action_run_id") + "#" + str("stackone.step_index")
	}
	return stepRecord{id: id, run: str("stackone.action_run_id"), event: lr.EventName()}
}

func stepIDs(records []stepRecord) []string {
	out := make([]string, len(records))
	for i, r := range records {
		out[i] = r.id
	}
	return out
}

// The steps of generated action runs, read while StackOne keeps indexing runs ahead of the reader: every step once,
// each linked to a run the fake served, read keyset-style from POST /logs/steps, with the position under the
// stream's own key and the stream's own telemetry.
func TestActionStepsFlowOncePerStepLinkedToTheirRun(t *testing.T) {
	w := newWorld(t, stackonefake.Options{ActionSteps: true})
	t0 := time.Now().Add(-40 * time.Minute)
	runs := map[string]bool{}
	var want []string
	addRuns := func(actions []map[string]any) {
		for _, a := range actions {
			runs[a["action_run_id"].(string)] = true
			for _, s := range stackonefake.StepsFor(a) {
				want = append(want, s["step_id"].(string))
			}
		}
	}
	addRuns(w.fake.GenerateActionLogs(150, t0, 15*time.Second, 31))
	require.Greater(t, len(want), 3*150)

	sink := new(consumertest.LogsSink)
	pages := 0
	cons := consumerFunc(func(ctx context.Context, ld plog.Logs) error {
		// New runs land ahead of the reader, shifting the page offsets after them, and near the end of the set.
		if pages++; pages <= 3 {
			addRuns(w.fake.GenerateActionLogs(4, t0.Add(time.Duration(pages)*7*time.Minute), time.Second, int64(40+pages)))
			addRuns(w.fake.GenerateActionLogs(2, time.Now().Add(-time.Duration(pages)*time.Minute), time.Second, int64(50+pages)))
		}
		return sink.ConsumeLogs(ctx, ld)
	})
	r := w.start(actionStepsOnly(w.config()), cons)
	r.awaitPoll()
	r.nextPoll()
	r.awaitPoll()

	got := stepRecords(sink)
	requireExactlyOnce(t, want, stepIDs(got))
	for _, s := range got {
		require.Equal(t, "stackone.action_step", s.event)
		require.True(t, runs[s.run], "step %s names run %q, which the fake never served", s.id, s.run)
	}

	starts := []string{}
	for _, req := range w.fake.Requests() {
		require.Equal(t, stackoneapi.ActionStepsPath, req.Path, "only the enabled stream is read")
		var body struct {
			Filters map[string]any `json:"filters"`
			Page    int            `json:"page"`
		}
		require.NoError(t, json.Unmarshal(req.Body, &body))
		assert.Equal(t, 1, body.Page, "keyset paging: page 1 from a later start, never page N+1")
		assert.Equal(t, "event_time", body.Filters["order_by"])
		assert.Equal(t, "asc", body.Filters["order_direction"])
		starts = append(starts, body.Filters["start_time"].(string))
	}
	assert.Greater(t, len(starts), 4)
	assert.IsNonDecreasing(t, starts[:len(starts)/2])

	metadatatest.AssertEqualReceiverStackoneRecordsEmitted(t, r.tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("stream", "action_steps")), Value: int64(len(want))},
	}, metricdatatest.IgnoreTimestamp())

	r.stop()
	w.withStorage(func(c storage.Client) {
		for key, want := range map[string]bool{"position.action_steps": true, "position.action_logs": false} {
			v, err := c.Get(context.Background(), key)
			require.NoError(t, err)
			assert.Equal(t, want, v != nil, key)
		}
	})
	// A restart resumes from that position: nothing is read again.
	r2 := w.start(actionStepsOnly(w.config()), sink)
	defer r2.stop()
	r2.awaitPoll()
	requireExactlyOnce(t, want, stepIDs(stepRecords(sink)))
}

// Steps without a step_id, more on one millisecond than fit two pages: the run and index tell them apart, and the
// pager turns to page numbers where time does not move.
func TestActionStepsWithoutStepIDsOnOneTimestamp(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	at := time.Now().Add(-10 * time.Minute).UTC().Format("2006-01-02T15:04:05.000Z")
	var want []string
	for run := range 26 {
		for index := range 5 {
			runID := fmt.Sprintf("run-%02d", run)
			w.fake.AddActionSteps(map[string]any{"log_type": "step", "action_run_id": runID, "step_index": index, "event_time": at, "success": true})
			want = append(want, fmt.Sprintf("%s#%d", runID, index))
		}
	}
	sink := new(consumertest.LogsSink)
	r := w.start(actionStepsOnly(w.config()), sink)
	defer r.stop()
	r.awaitPoll()
	r.nextPoll()
	r.awaitPoll() // the late-arrival window read again: nothing repeated
	requireExactlyOnce(t, want, stepIDs(stepRecords(sink)))
}

// The stream's filters reach POST /logs/steps under the API's keys, and the fake applies them.
func TestActionStepFiltersReachTheirEndpoint(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	at := time.Now().Add(-20 * time.Minute).UTC()
	var want []string
	for i := range 60 {
		account, run, success := []string{"acc_keep", "acc_drop"}[i%2], []string{"run_a", "run_b", "run_c"}[i%3], i%5 != 0
		w.fake.AddActionSteps(map[string]any{"log_type": "step", "step_id": fmt.Sprintf("s%02d", i), "action_run_id": run, "step_index": i,
			"account_id": account, "success": success, "event_time": at.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano)})
		if account == "acc_keep" && run != "run_c" && success {
			want = append(want, fmt.Sprintf("s%02d", i))
		}
	}
	cfg := actionStepsOnly(w.config())
	yes := true
	cfg.ActionSteps.Filter = stackoneapi.ActionStepFilter{AccountIDs: []string{"acc_keep"}, ActionRunIDs: []string{"run_a", "run_b"}, Success: &yes}
	sink := new(consumertest.LogsSink)
	r := w.start(cfg, sink)
	defer r.stop()
	r.awaitPoll()
	requireExactlyOnce(t, want, stepIDs(stepRecords(sink)))
	for _, req := range w.fake.Requests() {
		var body struct {
			Filters map[string]any `json:"filters"`
		}
		require.NoError(t, json.Unmarshal(req.Body, &body))
		assert.Equal(t, []any{"acc_keep"}, body.Filters["account_secure_id"])
		assert.Equal(t, []any{"run_a", "run_b"}, body.Filters["action_run_id"])
		assert.Equal(t, true, body.Filters["success"])
	}
}

// Beside action logs, each stream reads its own endpoint and keeps its own position: steps and runs arrive once
// each, and every step's run is among the action logs delivered.
func TestActionStepsBesideActionLogs(t *testing.T) {
	w := newWorld(t, stackonefake.Options{ActionSteps: true})
	actions := w.fake.GenerateActionLogs(80, time.Now().Add(-30*time.Minute), 20*time.Second, 33)
	var wantSteps []string
	for _, a := range actions {
		for _, s := range stackonefake.StepsFor(a) {
			wantSteps = append(wantSteps, s["step_id"].(string))
		}
	}
	cfg := w.config()
	cfg.RequestLogs.Enabled, cfg.ActionLogs.Enabled, cfg.ActionSteps.Enabled = false, true, true
	sink := new(consumertest.LogsSink)
	r := w.start(cfg, sink)
	defer r.stop()
	require.Len(t, r.rcv.streams, 2)
	read := func() (steps, delivered []string, runs map[string]bool) {
		runs = map[string]bool{}
		for _, s := range stepRecords(sink) {
			switch s.event {
			case "stackone.action_step":
				steps = append(steps, s.id)
			case "stackone.action_log":
				runs[s.run] = true
			}
		}
		for _, ld := range sink.AllLogs() {
			delivered = append(delivered, logIDs(ld)...)
		}
		return steps, delivered, runs
	}
	// The two streams end their polls on one channel in no set order, and one may poll several times while the
	// other reads its backlog: step through polls until both have delivered as much as they owe. The bound only
	// keeps a broken build from looping.
	for i := 0; ; i++ {
		require.Less(t, i, 100, "the streams never delivered everything")
		r.awaitPoll()
		if steps, delivered, _ := read(); len(steps) >= len(wantSteps) && len(delivered) >= len(actions) {
			break
		}
		r.nextPoll()
	}
	steps, delivered, runs := read()
	requireExactlyOnce(t, wantSteps, steps)
	requireExactlyOnce(t, idsOf(actions, "log_id"), delivered)
	for _, s := range stepRecords(sink) {
		if s.event == "stackone.action_step" {
			require.True(t, runs[s.run], "step %s: its run %s was delivered as an action log", s.id, s.run)
		}
	}
}
