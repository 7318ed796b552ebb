package stackonereceiver

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
	return mapPageFileWith(t, s, path, mappingSettings{maxNested: defaultMaxNestedSize})
}

func mapPageFileWith(t *testing.T, s *schema, path string, settings mappingSettings) (plog.Logs, int) {
	t.Helper()
	body, err := os.ReadFile(path)
	require.NoError(t, err)
	page, err := stackoneapi.DecodePage(body, 0)
	require.NoError(t, err)
	m := newMapperWith(createDefaultConfig().(*Config).Redaction, settings, "v1.2.3")
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
		settings    *mappingSettings
	}{
		{name: "request logs, snake_case", schema: requestLogSchema, input: "request_logs_snake.json", golden: "request_logs.yaml"},
		// The guide's camelCase entries must map to exactly the same records.
		{name: "request logs, camelCase", schema: requestLogSchema, input: "request_logs_camel.json", golden: "request_logs.yaml"},
		// status "abc", success "maybe", duration "fast", is_worker 1
		{name: "request logs, edge cases", schema: requestLogSchema, input: "request_logs_edge.json", golden: "request_logs_edge.yaml", wantInvalid: 4},
		{name: "action logs", schema: actionLogSchema, input: "action_logs.json", golden: "action_logs.yaml"},
		{name: "step logs", schema: stepLogSchema, input: "step_logs.json", golden: "step_logs.yaml"},
		{name: "platform logs", schema: platformLogSchema, input: "platform_logs.json", golden: "platform_logs.yaml"},
		// A failed request's detail: provider and mapping errors, the provider calls behind it, secrets at depth.
		{name: "nested detail, snake_case", schema: requestLogSchema, input: "request_logs_nested_snake.json", golden: "request_logs_nested.yaml"},
		{name: "nested detail, camelCase", schema: requestLogSchema, input: "request_logs_nested_camel.json", golden: "request_logs_nested.yaml"},
		{name: "nested detail, small budget", schema: requestLogSchema, input: "request_logs_nested_snake.json", golden: "request_logs_nested_truncated.yaml", settings: &mappingSettings{maxNested: 600}},
		{name: "nested detail, nested data off, original on", schema: requestLogSchema, input: "request_logs_nested_snake.json", golden: "request_logs_nested_original.yaml", settings: &mappingSettings{original: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			settings := mappingSettings{maxNested: defaultMaxNestedSize}
			if tt.settings != nil {
				settings = *tt.settings
			}
			got, invalid := mapPageFileWith(t, tt.schema, filepath.Join("testdata", "mapping", tt.input), settings)
			assert.Equal(t, tt.wantInvalid, invalid)
			requireGolden(t, filepath.Join("testdata", "mapping", tt.golden), got)
		})
	}
}

// requireGolden compares logs with a golden file; -update rewrites the file first.
func requireGolden(t *testing.T, path string, got plog.Logs) {
	t.Helper()
	if *update {
		require.NoError(t, golden.WriteLogs(t, path, got))
	}
	want, err := golden.ReadLogs(path)
	require.NoError(t, err)
	require.NoError(t, plogtest.CompareLogs(want, got))
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
	nested, ok := newFields.Get("stackone.nested_new")
	require.True(t, ok, "nested objects are kept")
	assert.Equal(t, map[string]any{"a": int64(1)}, nested.Map().AsRaw())
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

func mapOne(t *testing.T, s *schema, entry string) (plog.LogRecord, entryMeta) {
	t.Helper()
	page, err := stackoneapi.DecodePage([]byte(`{"data":[`+entry+`]}`), 0)
	require.NoError(t, err)
	require.Len(t, page.Entries, 1)
	m := newMapper(createDefaultConfig().(*Config).Redaction, "v1.2.3")
	_, lrs := m.newLogs()
	meta := m.appendRecord(lrs, s, page.Entries[0], observedAt)
	require.Equal(t, 1, lrs.Len())
	return lrs.At(0), meta
}

// Each row maps one entry and checks the attributes it names (nil: must be absent) and what appendRecord reports.
func TestMapEntry(t *testing.T) {
	t0 := "2025-06-01T10:00:00Z"
	tests := []struct {
		name      string
		schema    *schema
		entry     string
		attrs     map[string]any
		body      string
		id        string
		timestamp string // RFC 3339, "" for none
		badTime   bool
		invalid   int
	}{
		{
			name: "snake_case wins over camelCase, whichever comes first", schema: requestLogSchema,
			entry: `{"requestId":"camel","request_id":"snake","status_code":1,"httpMethod":"POST","http_method":"get","eventDatetime":"2025-01-01T00:00:00Z","event_datetime":"` + t0 + `"}`,
			attrs: map[string]any{"stackone.request_id": "snake", "http.request.method": "GET"}, id: "snake", timestamp: t0, body: "GET",
		},
		{
			name: "snake_case first, camelCase ignored", schema: requestLogSchema,
			entry: `{"request_id":"snake","requestId":"camel","sourceIP":"10.0.0.1","path":"/a","Path":"/b"}`,
			attrs: map[string]any{"stackone.request_id": "snake", "client.address": "10.0.0.1", "url.path": "/a"}, id: "snake", body: "/a",
		},
		{
			name: "nested names in either casing", schema: requestLogSchema,
			entry: `{"request_id":"r","request":{"Method":"patch","url":{"hostname":"h.example","path":"/p"}},"response":{"statusCode":503,"status_code":201}}`,
			attrs: map[string]any{"http.request.method": "PATCH", "server.address": "h.example", "url.path": "/p", "http.response.status_code": int64(201)},
			id:    "r", body: "PATCH /p",
		},
		{
			name: "escaped strings are unescaped", schema: requestLogSchema,
			entry: `{"request_id":"a\"b","path":"/caf\u00e9\/x","provider":"line\nbreak"}`,
			attrs: map[string]any{"stackone.request_id": `a"b`, "url.path": "/café/x", "stackone.provider": "line\nbreak"}, id: `a"b`, body: "/café/x",
		},
		{
			name: "nulls are absent, unknown nested values kept with snake_case names", schema: requestLogSchema,
			entry: `{"request_id":"r","status":null,"success":null,"provider":null,"new_list":[1,{"a":2}],"newObject":{"deepValue":{"x":[],"n":null}},"newFlag":false}`,
			attrs: map[string]any{
				"http.response.status_code": nil, "stackone.success": nil, "stackone.provider": nil, "stackone.new_flag": false,
				"stackone.new_list": []any{int64(1), map[string]any{"a": int64(2)}}, "stackone.new_object": map[string]any{"deep_value": map[string]any{"x": []any{}}},
			},
			id: "r",
		},
		{
			name: "numbers keep their type", schema: requestLogSchema,
			entry: `{"request_id":7,"duration":1e3,"retryCount":-2,"latency":0.5,"huge":1e400,"status":"404"}`,
			attrs: map[string]any{"stackone.request_id": "7", "stackone.duration_ms": int64(1000), "stackone.retry_count": int64(-2), "stackone.latency": 0.5, "stackone.huge": "1e400", "http.response.status_code": int64(404)},
			id:    "7",
		},
		{
			name: "wrong types are left out and counted", schema: requestLogSchema,
			entry: `{"request_id":"r","status":{"code":200},"success":"maybe","is_worker":[true],"request":{"headers":"Authorization: x"}}`,
			attrs: map[string]any{"http.response.status_code": nil, "stackone.success": nil, "stackone.is_worker": nil},
			id:    "r", invalid: 4,
		},
		{
			name: "event time that does not parse: no Timestamp, the text kept", schema: requestLogSchema,
			entry: `{"request_id":"r","event_datetime":"01/06/2025 10:00"}`,
			attrs: map[string]any{"stackone.event_datetime": "01/06/2025 10:00"}, id: "r", badTime: true,
		},
		{
			name: "event time that does not parse, start time does", schema: requestLogSchema,
			entry: `{"request_id":"r","event_datetime":"soon","start_time":"` + t0 + `"}`,
			attrs: map[string]any{"stackone.event_datetime": "soon", "stackone.start_time": t0}, id: "r", timestamp: t0,
		},
		{
			name: "epoch milliseconds", schema: requestLogSchema,
			entry: `{"request_id":"r","event_datetime":1748772000000}`,
			attrs: map[string]any{"stackone.event_datetime": nil}, id: "r", timestamp: t0,
		},
		{
			name: "event time of the wrong type", schema: actionLogSchema,
			entry: `{"log_id":"l","event_time":true,"start_time":{"at":"x"}}`,
			attrs: map[string]any{"stackone.event_time": true, "stackone.start_time": map[string]any{"at": "x"}}, id: "l", badTime: true,
		},
		{
			name: "no id: a digest of the raw entry", schema: requestLogSchema,
			entry: `{"path":"/x"}`,
			id:    "sha256:3dac3d9396c816b7e4926c7c4b8f17dd", body: "/x", // sha256 of the 13 bytes, first 16 bytes in hex
		},
		{
			name: "URLs in other fields and headers lose their credentials", schema: requestLogSchema,
			entry: `{"request_id":"r","callbackUrl":"https://u:p@app.example/cb?code=abc&x=1","url":"https://api.x/employees/Jörg/文档?limit=5",` +
				`"response":{"headers":{"Location":"https://app.example/cb#access_token=t","Content-Type":"text/html"}}}`,
			attrs: map[string]any{
				"stackone.callback_url":             "https://REDACTED:REDACTED@app.example/cb?code=REDACTED&x=1",
				"url.full":                          "https://api.x/employees/Jörg/文档?limit=5",
				"server.address":                    "api.x",
				"http.response.header.location":     []any{"https://app.example/cb#access_token=REDACTED"},
				"http.response.header.content-type": []any{"text/html"},
			},
			id: "r",
		},
		{
			name: "field names: their own redaction list", schema: actionLogSchema,
			entry: `{"log_id":"l","connector_key":"hibob","auth_type":"api_key","clientSecret":"s3cr3t","session_token":"t","providerKey":"pk"}`,
			attrs: map[string]any{
				"stackone.connector_key": "hibob", "stackone.auth_type": "api_key", "stackone.client_secret": "REDACTED",
				"stackone.session_token": "REDACTED", "stackone.provider_key": "pk",
			},
			id: "l", body: "",
		},
		{
			name: "header credentials in every spelling", schema: requestLogSchema,
			entry: `{"request_id":"r","request":{"headers":{"X-Auth-Key":"k1","Ocp-Apim-Subscription-Key":["k2","k3"],"X-Functions-Key":"k4","Accept":["a",1,"b"]}}}`,
			attrs: map[string]any{
				"http.request.header.x-auth-key":                []any{"REDACTED"},
				"http.request.header.ocp-apim-subscription-key": []any{"REDACTED", "REDACTED"},
				"http.request.header.x-functions-key":           []any{"REDACTED"},
				"http.request.header.accept":                    []any{"a", "b"},
			},
			id: "r",
		},
		{
			name: "invalid UTF-8 becomes U+FFFD", schema: requestLogSchema,
			entry: "{\"request_id\":\"r\",\"provider\":\"a\xffb\"}",
			attrs: map[string]any{"stackone.provider": "a\uFFFDb"}, id: "r",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lr, meta := mapOne(t, tt.schema, tt.entry)
			for k, want := range tt.attrs {
				v, ok := lr.Attributes().Get(k)
				if want == nil {
					assert.False(t, ok, "%s should be absent", k)
					continue
				}
				require.True(t, ok, "%s missing; have %v", k, lr.Attributes().AsRaw())
				assert.Equal(t, want, v.AsRaw(), k)
			}
			if tt.body != "" {
				assert.Equal(t, tt.body, lr.Body().Str())
			}
			assert.Equal(t, tt.id, meta.id)
			assert.Equal(t, tt.badTime, meta.badTime, "badTime")
			assert.Equal(t, tt.invalid, meta.invalid, "invalid")
			if tt.timestamp == "" {
				assert.Zero(t, lr.Timestamp())
				assert.True(t, meta.time.IsZero())
			} else {
				assert.Equal(t, tt.timestamp, lr.Timestamp().AsTime().Format(time.RFC3339))
				assert.True(t, meta.time.Equal(lr.Timestamp().AsTime()))
			}
		})
	}
}

// The mapper is shared by every stream of a receiver, which map their pages in parallel.
func TestAppendRecordConcurrently(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "mapping", "request_logs_edge.json"))
	require.NoError(t, err)
	page, err := stackoneapi.DecodePage(body, 0)
	require.NoError(t, err)
	m := newMapper(createDefaultConfig().(*Config).Redaction, "v1.2.3")
	want, wantLrs := m.newLogs()
	for _, raw := range page.Entries {
		m.appendRecord(wantLrs, requestLogSchema, raw, observedAt)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				got, lrs := m.newLogs()
				for _, raw := range page.Entries {
					m.appendRecord(lrs, requestLogSchema, raw, observedAt)
				}
				assert.NoError(t, plogtest.CompareLogs(want, got))
			}
		})
	}
	wg.Wait()
}

// Every value planted in the nested fixtures ends in _planted: none may reach a record, at any depth, in any
// attribute or in log.record.original, whichever casing StackOne sends.
func TestNoPlantedSecretAtAnyDepth(t *testing.T) {
	for _, input := range []string{"request_logs_nested_snake.json", "request_logs_nested_camel.json"} {
		for _, settings := range []mappingSettings{{maxNested: defaultMaxNestedSize, original: true}, {maxNested: 300, original: true}} {
			ld, _ := mapPageFileWith(t, requestLogSchema, filepath.Join("testdata", "mapping", input), settings)
			lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
			all := lr.Body().AsString()
			for k, v := range lr.Attributes().All() {
				all += "\n" + k + "=" + v.AsString()
			}
			assert.NotContains(t, all, "_planted", "%s, budget %d", input, settings.maxNested)
			assert.NotContains(t, all, "c2VjcmV0Og==", input)
			assert.Contains(t, all, "Workday tenant acme is unavailable", "the provider's message is kept")
		}
	}
}

// Defender's risk raises the severity whatever the status: a prompt injection usually comes back as a 200.
func TestRiskLevelRaisesSeverity(t *testing.T) {
	tests := []struct {
		entry string
		want  plog.SeverityNumber
	}{
		{`{"log_id":"a","status_code":200,"risk_level":"low"}`, plog.SeverityNumberInfo},
		{`{"log_id":"a","status_code":200,"risk_level":"medium"}`, plog.SeverityNumberInfo},
		{`{"log_id":"a","status_code":200,"risk_level":"high"}`, plog.SeverityNumberWarn},
		{`{"log_id":"a","status_code":200,"risk_level":"HIGH"}`, plog.SeverityNumberWarn},
		{`{"log_id":"a","status_code":200,"risk_level":"critical"}`, plog.SeverityNumberError},
		{`{"log_id":"a","success":true,"risk_level":"critical"}`, plog.SeverityNumberError},
		{`{"log_id":"a","risk_level":"high"}`, plog.SeverityNumberWarn},
		{`{"log_id":"a","status_code":500,"risk_level":"high"}`, plog.SeverityNumberError},
		{`{"log_id":"a","status_code":200,"risk_level":{"odd":1}}`, plog.SeverityNumberInfo},
	}
	for _, tt := range tests {
		t.Run(tt.entry, func(t *testing.T) {
			lr, _ := mapOne(t, actionLogSchema, tt.entry)
			assert.Equal(t, tt.want, lr.SeverityNumber())
			assert.Equal(t, strings.ToUpper(tt.want.String()), lr.SeverityText())
		})
	}
}
