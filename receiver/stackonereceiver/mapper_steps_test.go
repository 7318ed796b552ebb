package stackonereceiver

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

func TestActionStepMappingGolden(t *testing.T) {
	got, invalid := mapPageFile(t, actionStepSchema, filepath.Join("testdata", "mapping", "action_steps.json"))
	assert.Equal(t, 1, invalid, `step_index "first" is not a number`)
	requireGolden(t, filepath.Join("testdata", "mapping", "action_steps.yaml"), got)
}

func TestActionStepMapping(t *testing.T) {
	ld, _ := mapPageFile(t, actionStepSchema, filepath.Join("testdata", "mapping", "action_steps.json"))
	lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	require.Equal(t, 5, lrs.Len())
	for i := range lrs.Len() {
		assert.Equal(t, "stackone.action_step", lrs.At(i).EventName())
		run, ok := lrs.At(i).Attributes().Get("stackone.action_run_id")
		require.True(t, ok, "every step links to its run")
		assert.Contains(t, run.Str(), "run_77a")
	}
	ok, failed, skipped, composite, bad := lrs.At(0), lrs.At(1), lrs.At(2), lrs.At(3), lrs.At(4)

	assert.Equal(t, "hris_list_employees step 2", ok.Body().Str())
	assert.Equal(t, plog.SeverityNumberInfo, ok.SeverityNumber())
	for attr, want := range map[string]any{
		"http.response.status_code": int64(200), "stackone.step_index": int64(2), "stackone.step_iterations": int64(1),
		"stackone.duration_ms": int64(532), "stackone.skipped": false, "stackone.success": true, "stackone.step_id": "step_3f1c",
		"stackone.step_function_version": "1.4.0", "stackone.log_type": "step",
	} {
		v, found := ok.Attributes().Get(attr)
		require.True(t, found, attr)
		assert.Equal(t, want, v.AsRaw(), attr)
	}

	assert.Equal(t, plog.SeverityNumberError, failed.SeverityNumber(), "status 422")
	msg, _ := failed.Attributes().Get("stackone.message")
	assert.Equal(t, "hubspot answered 422 Unprocessable Entity: Property email is invalid", msg.Str())

	// A skipped step neither succeeded nor failed: no severity to claim.
	assert.Equal(t, plog.SeverityNumberUnspecified, skipped.SeverityNumber())
	assert.Equal(t, "map_response step 3", skipped.Body().Str())

	assert.Equal(t, "paginate step 4", composite.Body().Str(), "an index sent as text reads the same")
	assert.Equal(t, "2025-06-01T09:32:00Z", composite.Timestamp().AsTime().UTC().Format("2006-01-02T15:04:05Z07:00"), "start_time without event_time")
	token, _ := composite.Attributes().Get("stackone.auth_token")
	assert.Equal(t, redacted, token.Str())

	assert.Equal(t, "resolve_account", bad.Body().Str(), "no index to name")
	assert.Zero(t, bad.Timestamp())
}

// A step is identified by step_id when StackOne sends one; without it, by its run, its index and, when sent, its
// iteration count, however the numbers are spelt; a step that lacks its run or index gets a digest of its content.
func TestActionStepIDs(t *testing.T) {
	id := func(entry string) string {
		_, meta := mapOne(t, actionStepSchema, entry)
		return meta.id
	}
	assert.Equal(t, "step_9", id(`{"step_id":"step_9","action_run_id":"run_1","step_index":2}`))
	assert.Equal(t, "action_run_id=run_1;step_index=2", id(`{"action_run_id":"run_1","step_index":2}`))
	assert.Equal(t, id(`{"action_run_id":"run_1","step_index":2}`), id(`{"action_run_id":"run_1","step_index":"2","step_id":""}`))
	assert.Equal(t, "action_run_id=run_1;step_index=2;step_iterations=3", id(`{"action_run_id":"run_1","step_index":2,"step_iterations":3}`))
	assert.NotEqual(t, id(`{"action_run_id":"run_1","step_index":2}`), id(`{"action_run_id":"run_1","step_index":3}`))
	assert.NotEqual(t, id(`{"action_run_id":"run_1","step_index":2}`), id(`{"action_run_id":"run_2","step_index":2}`))
	assert.NotEqual(t, id(`{"action_run_id":"run_1","step_index":2,"step_iterations":1}`), id(`{"action_run_id":"run_1","step_index":2,"step_iterations":2}`),
		"one row per iteration under one index stays one record each")
	for _, partial := range []string{`{"action_run_id":"run_1"}`, `{"step_index":2}`, `{"action_run_id":null,"step_index":2}`} {
		assert.Regexp(t, `^sha256:`, id(partial), partial)
	}
	// The other schemas keep their ids: an action log with a run id is its log_id.
	_, meta := mapOne(t, actionLogSchema, `{"log_id":"l1","action_run_id":"run_1","step_index":2}`)
	assert.Equal(t, "l1", meta.id)
}
