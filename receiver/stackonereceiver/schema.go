package stackonereceiver

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/stackoneapi"
)

// valueKind is the type a known field is exported with; a value that cannot be read as it is dropped and counted.
type valueKind int

const (
	kindString valueKind = iota
	kindInt
	kindNumber // int when integral, double otherwise
	kindBool
	kindDouble
)

// semconvField maps an entry field to an OpenTelemetry semantic-convention attribute.
type semconvField struct {
	key  string
	attr string
	kind valueKind
}

// schema describes one StackOne log stream: how to identify, time and map its entries. The mapping is
// driven by it, so every stream shares one mapper and one set of guarantees.
type schema struct {
	stream    string // config key and telemetry attribute, e.g. request_logs
	eventName string
	idKeys    []string // first present wins; an entry with none gets a content digest
	timeKeys  []string // first present wins; the rest are exported as stackone.* strings
	statusKey string
	// fallbacks for status and method when the top-level field is absent, as nested in request/response objects
	semconv []semconvField
	// typed are stackone.* fields with a documented type; renamed gives some a clearer attribute name.
	typed   map[string]valueKind
	renamed map[string]string
	// body renders the record body; it gets the attributes already mapped, so it can use redacted values.
	body func(e stackoneapi.Entry, attrs pcommon.Map) string

	// mapped are the fields exported under another name (or as the timestamp), never again as stackone.*.
	mapped map[string]bool
}

// withName is the same mapping under another stream and event name (platform logs share request logs' shape).
func (s *schema) withName(stream, eventName string) *schema {
	c := *s
	c.stream, c.eventName = stream, eventName
	return &c
}

func newSchema(s schema) *schema {
	s.mapped = map[string]bool{s.timeKeys[0]: true}
	for _, f := range s.semconv {
		s.mapped[f.key] = true
	}
	return &s
}

var requestLogSchema = newSchema(schema{
	stream:    "request_logs",
	eventName: "stackone.request_log",
	idKeys:    []string{"request_id"},
	timeKeys:  []string{"event_datetime", "start_time"},
	statusKey: "status",
	semconv: []semconvField{
		{key: "http_method", attr: "http.request.method", kind: kindString},
		{key: "status", attr: "http.response.status_code", kind: kindInt},
		{key: "url", attr: "url.full", kind: kindString},
		{key: "path", attr: "url.path", kind: kindString},
		{key: "source_ip", attr: "client.address", kind: kindString},
	},
	typed: map[string]valueKind{
		"success": kindBool, "is_worker": kindBool, "duration": kindNumber,
		// ids stay strings even when a producer sends them as numbers, so they join across records
		"request_id": kindString, "account_id": kindString, "project_id": kindString, "source_id": kindString,
	},
	renamed: map[string]string{"duration": "duration_ms"},
	body:    methodAndPath,
})

// methodAndPath is the body StackOne's own guide shows: "GET /unified/hris/employees".
func methodAndPath(e stackoneapi.Entry, _ pcommon.Map) string {
	method, _ := e.String("http_method")
	if method == "" {
		if req, ok := e.Object("request"); ok {
			method, _ = req.String("method")
		}
	}
	p, _ := e.String("path")
	if p == "" {
		if req, ok := e.Object("request"); ok {
			if u, ok := req.Object("url"); ok {
				p, _ = u.String("path")
			}
		}
	}
	return strings.TrimSpace(strings.ToUpper(method) + " " + p)
}

// platformLogSchema: GET /requests/platform-logs entries are request logs plus a category.
var platformLogSchema = requestLogSchema.withName("platform_logs", "stackone.platform_log")

// stepLogSchema: GET /requests/logs/steps entries are the provider calls a request made. They have no
// event_datetime, and share their request_id with their siblings, so the step's own id identifies them.
var stepLogSchema = newSchema(schema{
	stream:    "step_logs",
	eventName: "stackone.step_log",
	idKeys:    []string{"id", "step_id", "log_id"},
	timeKeys:  []string{"start_time", "event_datetime"},
	statusKey: "status",
	semconv:   requestLogSchema.semconv,
	typed:     requestLogSchema.typed,
	renamed:   requestLogSchema.renamed,
	body:      methodAndPath,
})

var actionLogSchema = newSchema(schema{
	stream:    "action_logs",
	eventName: "stackone.action_log",
	idKeys:    []string{"log_id"},
	timeKeys:  []string{"event_time", "start_time"},
	statusKey: "status_code",
	semconv: []semconvField{
		{key: "http_method", attr: "http.request.method", kind: kindString},
		{key: "status_code", attr: "http.response.status_code", kind: kindInt},
		{key: "url", attr: "url.full", kind: kindString},
		{key: "user_agent", attr: "user_agent.original", kind: kindString},
		{key: "ip_address", attr: "client.address", kind: kindString},
		{key: "session_id", attr: "session.id", kind: kindString},
	},
	typed: map[string]valueKind{
		"success": kindBool, "is_background": kindBool,
		"duration_ms": kindNumber, "tier2_score": kindDouble,
		"log_id": kindString, "action_run_id": kindString, "account_id": kindString, "project_id": kindString,
		"action_id": kindString, "source_id": kindString, "auth_id": kindString, "agent_id": kindString,
		"origin_owner_id": kindString, "connector_profile_id": kindString,
	},
	// "<METHOD> <url>" when the action made an HTTP call, else the action it ran. The URL is the redacted
	// url.full, never the raw field.
	body: func(e stackoneapi.Entry, attrs pcommon.Map) string {
		if method, ok := e.String("http_method"); ok && method != "" {
			u := ""
			if v, ok := attrs.Get("url.full"); ok {
				u = v.Str()
			}
			return strings.TrimSpace(strings.ToUpper(method) + " " + u)
		}
		id, _ := e.String("action_id")
		return id
	},
})
