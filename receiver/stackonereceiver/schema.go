package stackonereceiver

import (
	"strings"

	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/stackoneapi"
)

// valueKind is the type a known field is exported with; a value that cannot be read as it is dropped and counted.
type valueKind int

const (
	kindString valueKind = iota
	kindInt
	kindNumber // int when integral, double otherwise
	kindBool
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
	idKey     string
	timeKeys  []string // first present wins; the rest are exported as stackone.* strings
	statusKey string
	// fallbacks for status and method when the top-level field is absent, as nested in request/response objects
	semconv []semconvField
	// typed are stackone.* fields with a documented type; renamed gives some a clearer attribute name.
	typed   map[string]valueKind
	renamed map[string]string
	body    func(stackoneapi.Entry) string

	// mapped are the fields exported under another name (or as the timestamp), never again as stackone.*.
	mapped map[string]bool
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
	idKey:     "request_id",
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
	body: func(e stackoneapi.Entry) string {
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
	},
})
