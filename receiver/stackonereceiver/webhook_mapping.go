package stackonereceiver

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

const (
	webhookStream = "webhook"
	// maxWebhookRecordBody bounds the record body: backends cut or refuse larger log lines (Loki's default
	// line limit is 256 KB), and the typed attributes carry what a query needs.
	maxWebhookRecordBody = 64 << 10
	// Event names are data, but they become EventName: bounded, and limited to the characters StackOne uses.
	maxEventNameLen = 128
	// A string that holds JSON (a provider's raw event) is redacted inside, this many levels deep.
	maxEmbeddedJSON = 2
)

// webhookSchema maps a payload's top-level fields as a polled entry's are: typed ids, the rest as sent, the
// same redaction. Every field is optional and an unknown one becomes stackone.<name>.
var webhookSchema = newSchema(schema{
	stream:    webhookStream,
	eventName: "stackone.webhook",
	timeKeys:  []string{"event_date", "sent_at"},
	typed: map[string]valueKind{
		"project_id": kindString, "account_id": kindString, "record_id": kindString, "record_remote_id": kindString,
		"origin_owner_id": kindString,
	},
	documented: []string{
		"event", "record_type", "provider", "origin_owner_name", "origin_username", "raw_event", "event_data", "data",
	},
})

// The record data lives in the body only: as attributes it would repeat the body, unredacted inside.
var webhookBodyOnly = []string{"stackone.raw_event", "stackone.event_data", "stackone.data"}

var (
	errNotAnObject = errors.New("the body is not a JSON object")
	errTrailing    = errors.New("the body holds more than one JSON value")
	// Duplicate names and bad UTF-8 do not make a delivery unreadable; they are mapped as the mapper does.
	webhookJSONOptions = []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)}
)

// webhookMapper turns one delivery into one log record, with the polled logs' mapper and redaction.
type webhookMapper struct {
	m       *mapper
	maxBody int
}

// mapEvent returns the delivery's record, or an error when the body is not one JSON object. raw must not be
// modified while the record lives: its strings are shared with it, as the mapper does with pages.
func (wm *webhookMapper) mapEvent(raw []byte, received time.Time) (plog.Logs, entryMeta, error) {
	if !utf8.Valid(raw) {
		raw = bytes.ToValidUTF8(raw, []byte("\uFFFD")) // as the mapper does; the digest and the MAC use the original
	}
	body, err := wm.redactJSON(raw, 0, true)
	if err != nil {
		return plog.Logs{}, entryMeta{}, err
	}
	ld, lrs := wm.m.newLogs()
	meta := wm.m.appendRecord(lrs, webhookSchema, raw, pcommon.NewTimestampFromTime(received))
	lr := lrs.At(0)
	attrs := lr.Attributes()
	for _, k := range webhookBodyOnly {
		attrs.Remove(k)
	}
	event := ""
	if v, ok := attrs.Get("stackone.event"); ok {
		event = v.AsString()
	}
	lr.SetEventName(webhookEventName(event))
	if lr.Timestamp() == 0 {
		lr.SetTimestamp(pcommon.NewTimestampFromTime(received))
	}
	if errorEvent(event) {
		lr.SetSeverityNumber(plog.SeverityNumberError)
		lr.SetSeverityText("ERROR")
	} else {
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetSeverityText("INFO")
	}
	if len(body) > wm.maxBody {
		cut := wm.maxBody
		for cut > 0 && !utf8.RuneStart(body[cut]) {
			cut--
		}
		attrs.PutBool("stackone.webhook.body_truncated", true)
		attrs.PutInt("stackone.webhook.body_size", int64(len(body)))
		body = body[:cut]
	}
	lr.Body().SetStr(string(body))
	return ld, meta, nil
}

// webhookEventName is stackone.webhook.<event>, the event as sent but bounded and limited to the characters
// of StackOne's event names (letters, digits, ._:-); anything else becomes _.
func webhookEventName(event string) string {
	if event == "" {
		return "stackone.webhook.unknown"
	}
	if len(event) > maxEventNameLen {
		event = event[:maxEventNameLen]
	}
	b := []byte(event)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == ':') {
			b[i] = '_'
		}
	}
	return "stackone.webhook." + string(b)
}

// errorEvent: the guide's critical events (account.error, account.expired, request.failed) and any other
// event named like them.
func errorEvent(event string) bool {
	e := strings.ToLower(event)
	return strings.HasSuffix(e, ".error") || strings.HasSuffix(e, ".expired") || strings.HasSuffix(e, ".failed")
}

// redactJSON re-encodes one JSON value with the values of sensitive names replaced: members named like
// redaction.fields (snake-cased, at any depth), members of a *headers object named like redaction.headers,
// credentials in URLs, and the same inside strings that hold JSON. Order and numbers stay as sent.
func (wm *webhookMapper) redactJSON(raw []byte, embed int, wantObject bool) ([]byte, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(raw), webhookJSONOptions...)
	if k := dec.PeekKind(); wantObject && k != '{' {
		if _, err := dec.ReadToken(); err != nil {
			return nil, err
		}
		return nil, errNotAnObject
	}
	var out bytes.Buffer
	out.Grow(len(raw) + 64)
	w := bodyWalk{wm: wm, dec: dec, enc: jsontext.NewEncoder(&out, webhookJSONOptions...), embed: embed}
	if err := w.value(false); err != nil {
		return nil, err
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		if err == nil {
			err = errTrailing
		}
		return nil, err
	}
	if embed > 0 && !w.changed {
		return raw, nil // nothing to hide: the string stays exactly as sent
	}
	return bytes.TrimRight(out.Bytes(), "\n"), nil
}

type bodyWalk struct {
	wm      *webhookMapper
	dec     *jsontext.Decoder
	enc     *jsontext.Encoder
	embed   int
	changed bool
}

// value copies the next value; headers says it is the value of a member named *headers, whose member names are
// header names.
func (w *bodyWalk) value(headers bool) error {
	switch w.dec.PeekKind() {
	case '{':
		if err := w.copyToken(); err != nil {
			return err
		}
		for w.dec.PeekKind() != '}' {
			name, err := w.dec.ReadToken()
			if err != nil {
				return err
			}
			n := name.String()
			if err := w.enc.WriteToken(name); err != nil {
				return err
			}
			var sensitive bool
			if headers {
				sensitive = w.wm.m.sensitiveHeaders.match(n)
			} else {
				sensitive = w.wm.m.sensitiveFields.match(snakeCase(n))
			}
			if k := w.dec.PeekKind(); sensitive && k != 'n' && k != 't' && k != 'f' {
				if err := w.dec.SkipValue(); err != nil {
					return err
				}
				w.changed = true
				if err := w.enc.WriteToken(jsontext.String(redacted)); err != nil {
					return err
				}
				continue
			}
			if err := w.value(!headers && strings.HasSuffix(strings.ToLower(n), "headers")); err != nil {
				return err
			}
		}
		return w.copyToken()
	case '[':
		if err := w.copyToken(); err != nil {
			return err
		}
		for w.dec.PeekKind() != ']' {
			if err := w.value(false); err != nil {
				return err
			}
		}
		return w.copyToken()
	case '"':
		v, err := w.dec.ReadValue()
		if err != nil {
			return err
		}
		s, err := jsontext.AppendUnquote(nil, v)
		if err != nil {
			return err
		}
		if r, ok := w.redactString(string(s)); ok {
			w.changed = true
			return w.enc.WriteToken(jsontext.String(r))
		}
		return w.enc.WriteValue(v)
	default:
		v, err := w.dec.ReadValue()
		if err != nil {
			return err
		}
		return w.enc.WriteValue(v)
	}
}

func (w *bodyWalk) copyToken() error {
	tok, err := w.dec.ReadToken()
	if err != nil {
		return err
	}
	return w.enc.WriteToken(tok)
}

// redactString returns the string without credentials, and whether it changed.
func (w *bodyWalk) redactString(s string) (string, bool) {
	if looksLikeURL(s) {
		r := w.wm.m.urls.redact(s)
		return r, r != s
	}
	if t := strings.TrimSpace(s); w.embed < maxEmbeddedJSON && len(t) > 1 && (t[0] == '{' || t[0] == '[') {
		if r, err := w.wm.redactJSON([]byte(t), w.embed+1, false); err == nil && string(r) != t {
			return string(r), true
		}
	}
	return s, false
}
