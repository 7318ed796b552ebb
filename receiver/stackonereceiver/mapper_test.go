package stackonereceiver

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/plogtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/stackoneapi"
)

// -update rewrites the golden files from the current mapping; review the diff before committing it.
var update = flag.Bool("update", false, "rewrite golden files")

var observedAt = pcommon.NewTimestampFromTime(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))

func mapPageFile(t *testing.T, s *schema, path string) (plog.Logs, int) {
	t.Helper()
	body, err := os.ReadFile(path)
	require.NoError(t, err)
	page, err := stackoneapi.DecodePage(body, 0)
	require.NoError(t, err)
	m := newMapper(createDefaultConfig().(*Config).Redaction, "v1.2.3")
	ld, lrs := m.newLogs()
	invalid := 0
	for _, e := range page.Entries {
		invalid += m.appendRecord(lrs, s, e, observedAt).invalid
	}
	return ld, invalid
}

func TestMappingGolden(t *testing.T) {
	tests := []struct {
		name        string
		schema      *schema
		input       string
		golden      string
		wantInvalid int
	}{
		{name: "request logs, snake_case", schema: requestLogSchema, input: "request_logs_snake.json", golden: "request_logs.yaml"},
		// The guide's camelCase entries must map to exactly the same records.
		{name: "request logs, camelCase", schema: requestLogSchema, input: "request_logs_camel.json", golden: "request_logs.yaml"},
		// status "abc", success "maybe", duration "fast", is_worker 1
		{name: "request logs, edge cases", schema: requestLogSchema, input: "request_logs_edge.json", golden: "request_logs_edge.yaml", wantInvalid: 4},
		{name: "action logs", schema: actionLogSchema, input: "action_logs.json", golden: "action_logs.yaml"},
		{name: "step logs", schema: stepLogSchema, input: "step_logs.json", golden: "step_logs.yaml"},
		{name: "platform logs", schema: platformLogSchema, input: "platform_logs.json", golden: "platform_logs.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, invalid := mapPageFile(t, tt.schema, filepath.Join("testdata", "mapping", tt.input))
			assert.Equal(t, tt.wantInvalid, invalid)
			goldenPath := filepath.Join("testdata", "mapping", tt.golden)
			if *update {
				require.NoError(t, golden.WriteLogs(t, goldenPath, got))
			}
			want, err := golden.ReadLogs(goldenPath)
			require.NoError(t, err)
			require.NoError(t, plogtest.CompareLogs(want, got))
		})
	}
}

func TestMappingRules(t *testing.T) {
	ld, _ := mapPageFile(t, requestLogSchema, filepath.Join("testdata", "mapping", "request_logs_edge.json"))
	records := map[string]plog.LogRecord{}
	lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for i := 0; i < lrs.Len(); i++ {
		lr := lrs.At(i)
		id, ok := lr.Attributes().Get("stackone.request_id")
		require.True(t, ok)
		records[id.AsString()] = lr
	}
	sev := func(id string) plog.SeverityNumber { return records[id].SeverityNumber() }
	assert.Equal(t, plog.SeverityNumberError, sev("status-as-string"), "404 given as a string is still an error")
	assert.Equal(t, plog.SeverityNumberInfo, sev("status-garbage"), "unreadable status falls back to success")
	assert.Equal(t, plog.SeverityNumberError, sev("no-status-failed"))
	assert.Equal(t, plog.SeverityNumberUnspecified, sev("no-outcome"))
	assert.Equal(t, "2025-06-01T11:00:04.5Z", records["start-time-only"].Timestamp().AsTime().Format(time.RFC3339Nano))
	assert.Zero(t, records["no-time-at-all"].Timestamp())
	assert.Equal(t, observedAt, records["no-time-at-all"].ObservedTimestamp())

	secrets := records["secrets-in-url"].Attributes()
	full, _ := secrets.Get("url.full")
	assert.NotContains(t, full.Str(), "sk_live_123")
	assert.NotContains(t, full.Str(), "pass")
	assert.NotContains(t, full.Str(), "=tok")
	assert.Contains(t, full.Str(), "limit=5")
	key, _ := secrets.Get("http.request.header.x-api-key")
	assert.Equal(t, []any{"REDACTED"}, key.Slice().AsRaw())
	cookie, _ := secrets.Get("http.request.header.cookie")
	assert.Equal(t, []any{"REDACTED", "REDACTED"}, cookie.Slice().AsRaw())
	host, _ := secrets.Get("server.address")
	assert.Equal(t, "provider.example.com", host.Str())

	newFields := records["new-fields"].Attributes()
	for attr, want := range map[string]any{
		"stackone.region": "eu1", "stackone.retry_count": int64(2), "stackone.cache_hit": true,
		"stackone.provider_latency_ms": 12.25, "stackone.auth_token": "REDACTED",
	} {
		v, ok := newFields.Get(attr)
		require.True(t, ok, attr)
		assert.Equal(t, want, v.AsRaw(), attr)
	}
	_, nested := newFields.Get("stackone.nested_new")
	assert.False(t, nested, "nested objects have no flat attribute")
	assert.Equal(t, "GET /w", records["new-fields"].Body().Str())
}

func TestActionLogMapping(t *testing.T) {
	ld, _ := mapPageFile(t, actionLogSchema, filepath.Join("testdata", "mapping", "action_logs.json"))
	lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	require.Equal(t, 2, lrs.Len())
	first, second := lrs.At(0), lrs.At(1)
	assert.Equal(t, "stackone.action_log", first.EventName())
	assert.Equal(t, plog.SeverityNumberInfo, first.SeverityNumber())
	assert.Equal(t, "GET https://api.hibob.com/v1/people?token=REDACTED&limit=50", first.Body().Str(), "the body never carries the raw URL")
	for attr, want := range map[string]any{
		"http.request.method": "GET", "http.response.status_code": int64(200), "user_agent.original": "stackone-mcp/2.1",
		"client.address": "198.51.100.23", "session.id": "sess_42", "stackone.log_id": "log_8c1f2a",
		"stackone.risk_level": "low", "stackone.tier2_score": 0.0, "stackone.duration_ms": int64(760), "stackone.is_background": false,
	} {
		v, ok := first.Attributes().Get(attr)
		require.True(t, ok, attr)
		assert.Equal(t, want, v.AsRaw(), attr)
	}
	// no status: success false decides; no event_time: start_time; no method: the action id
	assert.Equal(t, plog.SeverityNumberError, second.SeverityNumber())
	assert.Equal(t, "2025-06-01T09:31:00Z", second.Timestamp().AsTime().Format(time.RFC3339))
	assert.Equal(t, "crm_create_contact", second.Body().Str())
	score, _ := second.Attributes().Get("stackone.tier2_score")
	assert.Equal(t, 0.93, score.Double())
}
