package stackonereceiver

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/metadata"
	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/stackoneapi"
)

const redacted = "REDACTED"

// mapper turns decoded entries into log records. It knows pdata and the schemas, nothing of HTTP.
type mapper struct {
	sensitiveHeaders *nameMatcher // also applied to unknown top-level field names
	sensitiveParams  *nameMatcher
	scopeVersion     string
}

func newMapper(r RedactionConfig, scopeVersion string) *mapper {
	return &mapper{
		sensitiveHeaders: newNameMatcher(r.Headers),
		sensitiveParams:  newNameMatcher(r.QueryParams),
		scopeVersion:     scopeVersion,
	}
}

// newLogs starts one batch: one resource, one scope, records appended per entry.
func (m *mapper) newLogs() (plog.Logs, plog.LogRecordSlice) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "stackone")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(metadata.ScopeName)
	sl.Scope().SetVersion(m.scopeVersion)
	return ld, sl.LogRecords()
}

// appendRecord maps one entry. It returns how many fields had a value of the wrong type and were left out:
// the record still flows with everything that was valid.
func (m *mapper) appendRecord(lrs plog.LogRecordSlice, s *schema, e stackoneapi.Entry, observed pcommon.Timestamp) (invalid int) {
	lr := lrs.AppendEmpty()
	lr.SetObservedTimestamp(observed)
	lr.SetEventName(s.eventName)
	if t, ok := eventTime(s, e); ok {
		lr.SetTimestamp(pcommon.NewTimestampFromTime(t))
	}
	attrs := lr.Attributes()
	for _, f := range s.semconv {
		if !e.Has(f.key) {
			continue
		}
		if !putTyped(attrs, f.attr, e, f.key, f.kind) {
			invalid++
			continue
		}
		switch f.attr {
		case "http.request.method":
			v, _ := attrs.Get(f.attr)
			attrs.PutStr(f.attr, strings.ToUpper(v.Str()))
		case "url.full":
			v, _ := attrs.Get(f.attr)
			full := m.redactURL(v.Str())
			attrs.PutStr(f.attr, full)
			if _, ok := attrs.Get("server.address"); !ok {
				if u, err := url.Parse(full); err == nil && u.Hostname() != "" {
					attrs.PutStr("server.address", u.Hostname())
				}
			}
		}
	}
	invalid += m.putExchange(attrs, e)
	setSeverity(lr, s, e, attrs)
	lr.Body().SetStr(s.body(e, attrs))

	// Every other scalar becomes stackone.<name>, so fields StackOne adds later arrive without a release here.
	keys := make([]string, 0, len(e))
	for k := range e {
		if !s.mapped[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys) // attribute order is part of the golden files
	for _, k := range keys {
		name := k
		if r, ok := s.renamed[k]; ok {
			name = r
		}
		attr := "stackone." + name
		if kind, ok := s.typed[k]; ok {
			if e.Has(k) && !putTyped(attrs, attr, e, k, kind) {
				invalid++
			}
			continue
		}
		switch v := e[k].(type) {
		case string:
			if m.sensitiveHeaders.match(k) {
				v = redacted
			}
			attrs.PutStr(attr, v)
		case bool:
			attrs.PutBool(attr, v)
		case json.Number:
			putNumber(attrs, attr, v)
		}
		// null, objects and arrays are left out: nested data has no flat attribute name.
	}
	return invalid
}

// putExchange maps the nested request/response objects that the guide's entries and the detail endpoint carry.
func (m *mapper) putExchange(attrs pcommon.Map, e stackoneapi.Entry) (invalid int) {
	if req, ok := e.Object("request"); ok {
		if _, done := attrs.Get("http.request.method"); !done {
			if method, ok := req.String("method"); ok && method != "" {
				attrs.PutStr("http.request.method", strings.ToUpper(method))
			}
		}
		if u, ok := req.Object("url"); ok {
			if host, ok := u.String("hostname"); ok && host != "" {
				attrs.PutStr("server.address", host)
			}
			if _, done := attrs.Get("url.path"); !done {
				if p, ok := u.String("path"); ok && p != "" {
					attrs.PutStr("url.path", p)
				}
			}
		}
		invalid += m.putHeaders(attrs, "http.request.header.", req["headers"])
	}
	if resp, ok := e.Object("response"); ok {
		if _, done := attrs.Get("http.response.status_code"); !done && resp.Has("status_code") {
			if code, ok := resp.Int("status_code"); ok {
				attrs.PutInt("http.response.status_code", code)
			} else {
				invalid++
			}
		}
		invalid += m.putHeaders(attrs, "http.response.header.", resp["headers"])
	}
	return invalid
}

// putHeaders follows the semantic conventions: lower-case names, values as string arrays. Credentials are
// replaced, never dropped, so a reader can still see that the header was sent.
func (m *mapper) putHeaders(attrs pcommon.Map, prefix string, raw any) (invalid int) {
	if raw == nil {
		return 0
	}
	headers, ok := raw.(map[string]any)
	if !ok {
		return 1
	}
	names := make([]string, 0, len(headers))
	for name := range headers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		var values []string
		switch v := headers[name].(type) {
		case string:
			values = []string{v}
		case json.Number:
			values = []string{v.String()}
		case []any:
			for _, item := range v {
				if s, ok := item.(string); ok {
					values = append(values, s)
				}
			}
		default:
			invalid++
			continue
		}
		if m.sensitiveHeaders.match(name) {
			for i := range values {
				values[i] = redacted
			}
		}
		slice := attrs.PutEmptySlice(prefix + strings.ToLower(name))
		slice.EnsureCapacity(len(values))
		for _, v := range values {
			slice.AppendEmpty().SetStr(v)
		}
	}
	return invalid
}

// redactURL removes credentials: user info and the values of sensitive query parameters.
func (m *mapper) redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		// Unparsable: keep what cannot hold a secret.
		if i := strings.IndexAny(raw, "?#"); i >= 0 {
			return raw[:i]
		}
		return raw
	}
	if u.User != nil {
		u.User = url.UserPassword(redacted, redacted)
	}
	if u.RawQuery != "" {
		q := u.Query()
		changed := false
		for k, vs := range q {
			if m.sensitiveParams.match(k) {
				for i := range vs {
					vs[i] = redacted
				}
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	return u.String()
}

func setSeverity(lr plog.LogRecord, s *schema, e stackoneapi.Entry, attrs pcommon.Map) {
	status, hasStatus := int64(0), false
	if v, ok := attrs.Get("http.response.status_code"); ok {
		status, hasStatus = v.Int(), true
	} else if s.statusKey != "" {
		status, hasStatus = e.Int(s.statusKey)
	}
	success, hasSuccess := e.Bool("success")
	switch {
	case hasStatus && status >= 400, !hasStatus && hasSuccess && !success:
		lr.SetSeverityNumber(plog.SeverityNumberError)
		lr.SetSeverityText("ERROR")
	case hasStatus, hasSuccess:
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetSeverityText("INFO")
	}
	// Neither status nor success: the outcome is unknown and the severity stays unspecified.
}

func putTyped(attrs pcommon.Map, attr string, e stackoneapi.Entry, key string, kind valueKind) bool {
	switch kind {
	case kindInt:
		v, ok := e.Int(key)
		if ok {
			attrs.PutInt(attr, v)
		}
		return ok
	case kindNumber:
		if v, ok := e.Int(key); ok {
			attrs.PutInt(attr, v)
			return true
		}
		v, ok := e.Float(key)
		if ok {
			attrs.PutDouble(attr, v)
		}
		return ok
	case kindDouble:
		v, ok := e.Float(key)
		if ok {
			attrs.PutDouble(attr, v)
		}
		return ok
	case kindBool:
		v, ok := e.Bool(key)
		if ok {
			attrs.PutBool(attr, v)
		}
		return ok
	default:
		v, ok := e.String(key)
		if ok {
			attrs.PutStr(attr, v)
		}
		return ok
	}
}

func putNumber(attrs pcommon.Map, attr string, n json.Number) {
	if i, err := n.Int64(); err == nil {
		attrs.PutInt(attr, i)
		return
	}
	if f, err := n.Float64(); err == nil {
		attrs.PutDouble(attr, f)
		return
	}
	attrs.PutStr(attr, n.String())
}

// eventTime is when the logged request happened: the stream's first time field that parses.
func eventTime(s *schema, e stackoneapi.Entry) (time.Time, bool) {
	for _, k := range s.timeKeys {
		if t, ok := e.Time(k); ok {
			return t, true
		}
	}
	return time.Time{}, false
}

// entryID identifies an entry for de-duplication. An entry without an id gets a digest of its content, so the
// same entry read twice in the overlap window is still recognised.
func entryID(s *schema, e stackoneapi.Entry) string {
	for _, k := range s.idKeys {
		if id, ok := e.String(k); ok && id != "" {
			return id
		}
	}
	b, _ := json.Marshal(e) // map keys marshal sorted: the digest is stable
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:16])
}
