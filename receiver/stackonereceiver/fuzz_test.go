package stackonereceiver

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/stackoneapi"
)

// FuzzDecodePage checks that no body, however broken, panics the page decoder or the mapper, and that what
// they produce holds together: entries only with a page, one record per entry, a timestamp exactly when an
// event time parsed, an id for every entry, valid UTF-8 everywhere, and no credentials in url.full.
// `make fuzz` runs it for a short while; seeds are the golden inputs and a few broken bodies.
func FuzzDecodePage(f *testing.F) {
	for _, seed := range []string{
		`{"data":[{"request_id":"r1","status":200}],"next":"c"}`,
		`{"data":[{"requestId":"r1","eventDatetime":"2025-01-02T03:04:05Z","request":{"headers":{"A":"b"}}}],"next":null}`,
		`{"data":[{"request_id":"a","requestId":"b","url":"https://u:p@h/x?token=t#access_token=z","event_datetime":"soon"}]}`,
		`{"data":[{"headers":1,"request":{"url":{"hostName":"x"},"headers":{"Cookie":["a",1,null]}},"response":{"statusCode":"500"}}]}`,
		"{\"data\":[{\"k\\u00e9y\":\"v\\n\",\"\xff\":\"\xfe\"}]}",
		`{"data":[1,"x",null,{}],"total":3}`,
		`{"data":[{"action_run_id":"r","step_index":"2","step_iterations":1.5,"step_function_name":"f","skipped":"no"},{"action_run_id":{},"step_index":[]}],"total":2}`,
		`{"data":[{"request_`,
		`[]`, `null`, `{"next":{}}`,
		`{"data":[{"request_id":"n","response":{"provider_errors":[{"status":"503","raw":"{\"message\":\"x https://u:p@h/?token=t\"}","headers":{"Set-Cookie":["a"]}}]},"x":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}]}`,
		`{"data":[{"request_id":"s","step_requests":[{"url":"https://a:b@h/p?password=x","raw":"\ud800 Bearer abc"}],"o":{"apiKey":1,"h":null}}]}`,
	} {
		f.Add([]byte(seed))
	}
	inputs, _ := filepath.Glob(filepath.Join("testdata", "mapping", "*.json"))
	for _, in := range inputs {
		if b, err := os.ReadFile(in); err == nil {
			f.Add(b)
		}
	}
	m := newMapper(createDefaultConfig().(*Config).Redaction, "fuzz")
	schemas := []*schema{requestLogSchema, actionLogSchema, stepLogSchema, actionStepSchema}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := stackoneapi.DecodePage(body, 1000)
		if err != nil {
			if len(p.Entries) != 0 {
				t.Fatalf("entries returned with an error")
			}
		}
		for _, s := range schemas {
			_, lrs := m.newLogs()
			for _, raw := range p.Entries {
				checkRecord(t, s, raw, m.appendRecord(lrs, s, raw, observedAt), lrs.At(lrs.Len()-1))
			}
			if lrs.Len() != len(p.Entries) {
				t.Fatalf("%d records for %d entries", lrs.Len(), len(p.Entries))
			}
			// The mapper is also handed what DecodePage would never pass on: it must not panic either.
			checkRecord(t, s, body, m.appendRecord(lrs, s, body, observedAt), lrs.At(lrs.Len()-1))
		}
	})
}

func checkRecord(t *testing.T, s *schema, raw []byte, meta entryMeta, lr plog.LogRecord) {
	t.Helper()
	if meta.id == "" {
		t.Fatalf("%s: no id for %q", s.stream, raw)
	}
	if (lr.Timestamp() != 0) != !meta.time.IsZero() {
		t.Fatalf("%s: timestamp %v but event time %v for %q", s.stream, lr.Timestamp(), meta.time, raw)
	}
	if meta.badTime && !meta.time.IsZero() {
		t.Fatalf("%s: badTime with a time for %q", s.stream, raw)
	}
	if meta.invalid < 0 {
		t.Fatalf("%s: invalid %d", s.stream, meta.invalid)
	}
	if !utf8.ValidString(lr.Body().Str()) {
		t.Fatalf("%s: body is not UTF-8: %q", s.stream, lr.Body().Str())
	}
	for k, v := range lr.Attributes().All() {
		checkValue(t, s.stream+": "+k, k, v, 0)
	}
}

// checkValue holds at every depth of nested data: valid UTF-8 in names and strings, no value left empty, no user
// info in any URL, and no deeper nesting than the mapper follows (plus the levels of JSON held in strings).
func checkValue(t *testing.T, where, name string, v pcommon.Value, depth int) {
	t.Helper()
	if !utf8.ValidString(name) {
		t.Fatalf("%s: name is not UTF-8: %q", where, name)
	}
	if depth > maxNestedDepth*(maxEmbeddedJSON+1)+2 {
		t.Fatalf("%s: nested %d deep", where, depth)
	}
	switch v.Type() {
	case pcommon.ValueTypeStr:
		if !utf8.ValidString(v.Str()) {
			t.Fatalf("%s is not UTF-8: %q", where, v.Str())
		}
		if looksLikeURL(v.Str()) {
			if user, _, found := strings.Cut(authority(v.Str()), "@"); found && user != redacted+":"+redacted {
				t.Fatalf("%s: user info %q exported in %q", where, user, v.Str())
			}
		}
	case pcommon.ValueTypeSlice:
		for i, e := range v.Slice().All() {
			checkValue(t, where+"["+strconv.Itoa(i)+"]", "", e, depth+1)
		}
	case pcommon.ValueTypeMap:
		for k, e := range v.Map().All() {
			checkValue(t, where+"."+k, k, e, depth+1)
		}
	case pcommon.ValueTypeBytes, pcommon.ValueTypeEmpty:
		t.Fatalf("%s has type %s", where, v.Type())
	}
}

// authority is the part of an absolute URL between "scheme://" and the path.
func authority(u string) string {
	i := schemeEnd(u)
	if i < 0 || !strings.HasPrefix(u[i+1:], "//") {
		return ""
	}
	rest := u[i+3:]
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}
