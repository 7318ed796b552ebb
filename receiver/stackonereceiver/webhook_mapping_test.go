package stackonereceiver

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

var receivedAt = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func newTestWebhookMapper() *webhookMapper {
	return &webhookMapper{m: newMapper(createDefaultConfig().(*Config).Redaction, "v1.2.3"), maxBody: maxWebhookRecordBody}
}

func mapDelivery(t testing.TB, raw []byte) (plog.Logs, plog.LogRecord, entryMeta) {
	t.Helper()
	ld, meta, err := newTestWebhookMapper().mapEvent(raw, receivedAt)
	require.NoError(t, err)
	require.Equal(t, 1, ld.LogRecordCount())
	return ld, ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0), meta
}

func TestWebhookMappingGolden(t *testing.T) {
	tests := []struct {
		input       string
		wantInvalid int
		wantBadTime bool
	}{
		{input: "account_created"},
		{input: "account_error"},
		{input: "hris_employees_updated"},
		{input: "secrets"},
		{input: "edge_cases", wantInvalid: 1},  // account_id is an object
		{input: "no_event", wantBadTime: true}, // event_date does not parse and nothing else does
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "webhook", tt.input+".json"))
			require.NoError(t, err)
			ld, _, meta := mapDelivery(t, bytes.TrimSpace(raw))
			assert.Equal(t, tt.wantInvalid, meta.invalid)
			assert.Equal(t, tt.wantBadTime, meta.badTime)
			requireGolden(t, filepath.Join("testdata", "webhook", tt.input+".yaml"), ld)
		})
	}
}

func TestWebhookMappingRules(t *testing.T) {
	t.Run("event name, time and severity", func(t *testing.T) {
		for _, tc := range []struct {
			event, wantName string
			wantSev         plog.SeverityNumber
		}{
			{"account.created", "stackone.webhook.account.created", plog.SeverityNumberInfo},
			{"account.error", "stackone.webhook.account.error", plog.SeverityNumberError},
			{"account.expired", "stackone.webhook.account.expired", plog.SeverityNumberError},
			{"request.failed", "stackone.webhook.request.failed", plog.SeverityNumberError},
			{"Connector.Sync.FAILED", "stackone.webhook.Connector.Sync.FAILED", plog.SeverityNumberError},
			{"hris_employees.created", "stackone.webhook.hris_employees.created", plog.SeverityNumberInfo},
			{"account.errors", "stackone.webhook.account.errors", plog.SeverityNumberInfo},
			{"a b/c\u00e9", "stackone.webhook.a_b_c__", plog.SeverityNumberInfo},
			{strings.Repeat("x", 300), "stackone.webhook." + strings.Repeat("x", maxEventNameLen), plog.SeverityNumberInfo},
		} {
			_, lr, _ := mapDelivery(t, []byte(`{"event":`+string(mustQuote(t, tc.event))+`}`))
			assert.Equal(t, tc.wantName, lr.EventName(), tc.event)
			assert.Equal(t, tc.wantSev, lr.SeverityNumber(), tc.event)
			assert.Equal(t, receivedAt, lr.Timestamp().AsTime(), "no event_date or sent_at: the time it was received")
			assert.Equal(t, receivedAt, lr.ObservedTimestamp().AsTime())
		}
	})
	t.Run("event_date wins over sent_at", func(t *testing.T) {
		_, lr, _ := mapDelivery(t, []byte(`{"event":"a.b","sent_at":"2025-06-01T10:00:01Z","event_date":"2025-06-01T10:00:00Z"}`))
		assert.Equal(t, "2025-06-01T10:00:00Z", lr.Timestamp().AsTime().Format(time.RFC3339))
		sent, ok := lr.Attributes().Get("stackone.sent_at")
		require.True(t, ok)
		assert.Equal(t, "2025-06-01T10:00:01Z", sent.Str())
		_, ok = lr.Attributes().Get("stackone.event_date")
		assert.False(t, ok, "the parsed event_date is the Timestamp")
	})
	t.Run("the body is the payload in its order, compact, redacted", func(t *testing.T) {
		raw := `{"event":"a.b", "n": 1.50, "s":"caf\u00e9", "token":"t", "nested":{"password":"p"}}`
		_, lr, _ := mapDelivery(t, []byte(raw))
		assert.Equal(t, `{"event":"a.b","n":1.50,"s":"café","token":"REDACTED","nested":{"password":"REDACTED"}}`, lr.Body().Str())
	})
	t.Run("record data is in the body only", func(t *testing.T) {
		_, lr, _ := mapDelivery(t, []byte(`{"event":"a.b","raw_event":"{\"x\":1}","data":"flat","event_data":7}`))
		for _, k := range webhookBodyOnly {
			_, ok := lr.Attributes().Get(k)
			assert.False(t, ok, k)
		}
		assert.Contains(t, lr.Body().Str(), `"data":"flat"`)
	})
	t.Run("a large body is cut at the bound, on a character boundary", func(t *testing.T) {
		raw := []byte(`{"event":"hris_employees.updated","data":{"notes":"` + strings.Repeat("é", maxWebhookRecordBody) + `"}}`)
		_, lr, _ := mapDelivery(t, raw)
		body := lr.Body().Str()
		assert.LessOrEqual(t, len(body), maxWebhookRecordBody)
		assert.Greater(t, len(body), maxWebhookRecordBody-4)
		assert.True(t, utf8.ValidString(body))
		truncated, _ := lr.Attributes().Get("stackone.webhook.body_truncated")
		assert.True(t, truncated.Bool())
		size, _ := lr.Attributes().Get("stackone.webhook.body_size")
		assert.Equal(t, int64(len(raw)), size.Int())
		assert.Equal(t, "stackone.webhook.hris_employees.updated", lr.EventName(), "the attributes are complete")
	})
	t.Run("invalid UTF-8 is replaced", func(t *testing.T) {
		_, lr, _ := mapDelivery(t, []byte("{\"event\":\"a.b\",\"name\":\"bad \xff byte\"}"))
		assert.True(t, utf8.ValidString(lr.Body().Str()))
		name, _ := lr.Attributes().Get("stackone.name")
		assert.Equal(t, "bad \uFFFD byte", name.Str())
	})
	t.Run("not one object", func(t *testing.T) {
		wm := newTestWebhookMapper()
		for _, raw := range []string{``, `[]`, `"x"`, `null`, `{"a":1} {"b":2}`, `{"a":`, `{"a":1}x`, `{a:1}`} {
			_, _, err := wm.mapEvent([]byte(raw), receivedAt)
			assert.Error(t, err, raw)
		}
	})
}

func mustQuote(t *testing.T, s string) []byte {
	b, err := jsontext.AppendQuote(nil, s)
	require.NoError(t, err)
	return b
}

// FuzzWebhookDelivery: any body either maps to exactly one record with a bounded, valid body, or is refused
// as not one JSON object; it never panics.
func FuzzWebhookDelivery(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "webhook", "*.json"))
	require.NoError(f, err)
	for _, path := range files {
		b, err := os.ReadFile(path)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(`{"event":"x","headers":{"authorization":["a","b"]},"s":"{\"token\":\"[\\\"x\\\"]\"}"}`))
	f.Add([]byte(`{"raw_event":"[{\"password\":1},\"https://u:p@h/?key=1\"]"}`))
	wm := newTestWebhookMapper()
	f.Fuzz(func(t *testing.T, raw []byte) {
		ld, _, err := wm.mapEvent(raw, receivedAt)
		if err != nil {
			return
		}
		require.Equal(t, 1, ld.LogRecordCount())
		lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
		body := lr.Body().Str()
		require.True(t, utf8.ValidString(body))
		require.LessOrEqual(t, len(body), maxWebhookRecordBody)
		require.True(t, strings.HasPrefix(lr.EventName(), "stackone.webhook."))
		require.NotZero(t, lr.Timestamp())
		if _, cut := lr.Attributes().Get("stackone.webhook.body_truncated"); !cut {
			require.True(t, jsontext.Value(body).IsValid(jsontext.AllowDuplicateNames(true)), "a whole body is JSON: %s", body)
		}
	})
}
