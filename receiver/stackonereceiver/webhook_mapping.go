package stackonereceiver

import (
	"bytes"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

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
	body, err := wm.m.redactJSONWith(raw, 0, true, false)
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
