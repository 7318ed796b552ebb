package stackonereceiver

import (
	"slices"
	"strings"
)

// valueKind is the type a known field is exported with; a value that cannot be read as it is dropped and counted.
type valueKind uint8

const (
	kindString valueKind = iota
	kindInt
	kindNumber // int when integral, double otherwise
	kindBool
	kindDouble
	kindAsSent // string, int, double or bool, whichever the JSON value is; null, objects and arrays are left out
)

// semconvRole marks the semantic-convention fields that need more than a typed copy.
type semconvRole uint8

const (
	roleNone   semconvRole = iota
	roleMethod             // upper-cased
	roleURL                // redacted; its host is the fallback for server.address
	roleStatus             // decides the severity
)

// semconvField maps an entry field to an OpenTelemetry semantic-convention attribute.
type semconvField struct {
	key  string
	attr string
	kind valueKind
	role semconvRole
}

// bodyStyle says how a stream's record body is rendered.
type bodyStyle uint8

const (
	// bodyMethodPath is the body StackOne's own guide shows: "GET /unified/hris/employees".
	bodyMethodPath bodyStyle = iota
	// bodyMethodURLOrAction is "<METHOD> <url>" when an action made an HTTP call, else the action it ran. The URL
	// is the redacted url.full, never the raw field.
	bodyMethodURLOrAction
	// bodyStepFunction is what a step of an action run did: "hris_list_employees step 2" (mapper_steps.go).
	bodyStepFunction
)

// schema describes one StackOne log stream: how to identify, time and map its entries. The mapping is driven by
// it, so every stream shares one mapper and one set of guarantees.
type schema struct {
	stream    string // config key and telemetry attribute, e.g. request_logs
	eventName string
	idKeys    []string // first present wins; an entry with none gets a content digest
	timeKeys  []string // first that parses wins; the rest are exported as stackone.* strings
	semconv   []semconvField
	// typed are stackone.* fields with a documented type; renamed gives some a clearer attribute name.
	typed   map[string]valueKind
	renamed map[string]string
	// documented are the other fields the API reference lists; they are exported as sent, like unknown fields,
	// but are looked up without computing their attribute name on every entry.
	documented []string
	body       bodyStyle

	// idParts identify an entry together when it has none of idKeys: all must be present, and idQualifiers are
	// added when present. An entry that lacks a part still gets a content digest.
	idParts, idQualifiers []string

	compiled
}

// compiled is the lookup table the mapper decodes against: one slot per known top-level field.
type compiled struct {
	fields []field
	// byName finds a field's slot from its snake_case name and its usual camelCase spelling; other spellings
	// are snake_cased first.
	byName nameTable
	// slots of the fields with a part in the record beyond their own attribute; -1 when the schema has none
	idSlots, timeSlots                                       []int
	idPartSlots, idQualifierSlots                            []int
	methodSlot, pathSlot, actionIDSlot, successSlot, urlSlot int
	requestSlot, responseSlot                                int
	// riskSlot is Defender's risk_level, which raises the severity; statusSlot the HTTP status; -1 when none.
	riskSlot, statusSlot int
}

// field is one known top-level field. attr is empty when the field is never exported under its own name (the
// first time key when it parses, the nested request and response objects).
type field struct {
	name string // snake_case, as the API reference spells it
	attr string
	kind valueKind
	role semconvRole
	// exportedAsSent fields are matched against redaction.fields; typed ones (ids, flags, numbers) never are.
	exportedAsSent bool
	// primaryTime is the first time key: it becomes the Timestamp, and is exported as stackone.<name> only when
	// it does not parse, so the text StackOne sent is not lost.
	primaryTime bool
	semconv     bool
}

// withName is the same mapping under another stream and event name (platform logs share request logs' shape).
func (s *schema) withName(stream, eventName string) *schema {
	c := *s
	c.stream, c.eventName = stream, eventName
	return &c
}

func newSchema(s schema) *schema {
	c := compiled{methodSlot: -1, pathSlot: -1, actionIDSlot: -1, successSlot: -1, urlSlot: -1, requestSlot: -1, responseSlot: -1, riskSlot: -1, statusSlot: -1}
	byName := map[string]int{}
	add := func(f field) int {
		if i, ok := byName[f.name]; ok {
			return i
		}
		c.fields = append(c.fields, f)
		i := len(c.fields) - 1
		byName[f.name] = i
		if camel := camelCase(f.name); camel != f.name {
			byName[camel] = i
		}
		return i
	}
	for _, f := range s.semconv {
		i := add(field{name: f.key, attr: f.attr, kind: f.kind, role: f.role, semconv: true})
		switch f.role {
		case roleMethod:
			c.methodSlot = i
		case roleURL:
			c.urlSlot = i
		case roleStatus:
			c.statusSlot = i
		}
		if f.attr == "url.path" {
			c.pathSlot = i
		}
	}
	stackone := func(name string, kind valueKind) field {
		attr := name
		if r, ok := s.renamed[name]; ok {
			attr = r
		}
		return field{name: name, attr: "stackone." + attr, kind: kind, exportedAsSent: kind == kindAsSent}
	}
	for i, k := range s.timeKeys {
		f := stackone(k, kindAsSent)
		f.primaryTime = i == 0
		c.timeSlots = append(c.timeSlots, add(f))
	}
	// Sorted for a stable slot order; the attribute order follows it.
	typed := make([]string, 0, len(s.typed))
	for k := range s.typed {
		typed = append(typed, k)
	}
	slices.Sort(typed)
	for _, k := range typed {
		add(stackone(k, s.typed[k]))
	}
	for _, k := range s.documented {
		add(stackone(k, kindAsSent))
	}
	for _, k := range s.idKeys {
		c.idSlots = append(c.idSlots, add(stackone(k, kindAsSent)))
	}
	for _, k := range s.idParts {
		c.idPartSlots = append(c.idPartSlots, add(stackone(k, kindAsSent)))
	}
	for _, k := range s.idQualifiers {
		c.idQualifierSlots = append(c.idQualifierSlots, add(stackone(k, kindAsSent)))
	}
	// request and response are objects (mapped to http.* attributes); a scalar under either name is exported as
	// stackone.request / stackone.response like any other field.
	c.requestSlot = add(stackone("request", kindAsSent))
	c.responseSlot = add(stackone("response", kindAsSent))
	c.successSlot = add(stackone("success", kindAsSent))
	c.actionIDSlot = add(stackone("action_id", kindAsSent))
	if c.methodSlot < 0 {
		c.methodSlot = add(stackone("http_method", kindAsSent))
	}
	if c.pathSlot < 0 {
		c.pathSlot = add(stackone("path", kindAsSent))
	}
	if i, ok := byName["risk_level"]; ok {
		c.riskSlot = i
	}
	c.byName = newNameTable(byName)
	s.compiled = c
	return &s
}

// nameTable maps the few short names of a schema to slots. It is an open-addressing table with a hash of a few
// bytes: looked up once per member of every entry, it costs less than a map and never allocates.
type nameTable struct {
	mask    uint32
	entries []nameEntry
}

type nameEntry struct {
	name string // "" marks a free entry
	slot int
}

func newNameTable(names map[string]int) nameTable {
	size := 16
	for size < 4*len(names) {
		size *= 2
	}
	t := nameTable{mask: uint32(size - 1), entries: make([]nameEntry, size)}
	for name, slot := range names {
		i := nameHash(name) & t.mask
		for t.entries[i].name != "" {
			i = (i + 1) & t.mask
		}
		t.entries[i] = nameEntry{name: name, slot: slot}
	}
	return t
}

func (t *nameTable) lookup(name []byte) (int, bool) {
	if len(name) == 0 || len(t.entries) == 0 {
		return -1, false
	}
	for i := nameHash(name) & t.mask; ; i = (i + 1) & t.mask {
		e := &t.entries[i]
		if e.name == string(name) {
			return e.slot, true
		}
		if e.name == "" {
			return -1, false
		}
	}
}

// nameHash mixes the length and three bytes: enough to spread a schema's names, cheap for every member.
func nameHash[T string | []byte](b T) uint32 {
	n := len(b)
	if n == 0 {
		return 0
	}
	h := uint32(n)*0x9e3779b1 ^ uint32(b[0])<<16 ^ uint32(b[n/2])<<8 ^ uint32(b[n-1])
	h ^= h >> 15
	h *= 0x2c1b3c6d
	h ^= h >> 12
	return h
}

// camelCase is the guide's spelling of a snake_case name: request_id -> requestId.
func camelCase(s string) string {
	if !strings.Contains(s, "_") {
		return s
	}
	var b strings.Builder
	up := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_':
			up = true
		case up && c >= 'a' && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
			up = false
		default:
			b.WriteByte(c)
			up = false
		}
	}
	return b.String()
}

var requestLogSchema = newSchema(schema{
	stream:    "request_logs",
	eventName: "stackone.request_log",
	idKeys:    []string{"request_id"},
	timeKeys:  []string{"event_datetime", "start_time"},
	semconv: []semconvField{
		{key: "http_method", attr: "http.request.method", kind: kindString, role: roleMethod},
		{key: "status", attr: "http.response.status_code", kind: kindInt, role: roleStatus},
		{key: "url", attr: "url.full", kind: kindString, role: roleURL},
		{key: "path", attr: "url.path", kind: kindString},
		{key: "source_ip", attr: "client.address", kind: kindString},
	},
	typed: map[string]valueKind{
		"success": kindBool, "is_worker": kindBool, "duration": kindNumber,
		// ids stay strings even when a producer sends them as numbers, so they join across records
		"request_id": kindString, "account_id": kindString, "project_id": kindString, "source_id": kindString,
	},
	renamed: map[string]string{"duration": "duration_ms"},
	documented: []string{
		"provider", "service", "resource", "sub_resource", "child_resource", "action", "end_time",
		"source_type", "source_value", "category", "step_requests",
	},
	body: bodyMethodPath,
})

// platformLogSchema: GET /requests/platform-logs entries are request logs plus a category.
var platformLogSchema = requestLogSchema.withName("platform_logs", "stackone.platform_log")

// stepLogSchema: GET /requests/logs/steps entries are the provider calls a request made. They have no
// event_datetime, and share their request_id with their siblings, so the step's own id identifies them.
var stepLogSchema = newSchema(schema{
	stream:     "step_logs",
	eventName:  "stackone.step_log",
	idKeys:     []string{"id", "step_id", "log_id"},
	timeKeys:   []string{"start_time", "event_datetime"},
	semconv:    requestLogSchema.semconv,
	typed:      requestLogSchema.typed,
	renamed:    requestLogSchema.renamed,
	documented: requestLogSchema.documented,
	body:       bodyMethodPath,
})

var actionLogSchema = newSchema(schema{
	stream:    "action_logs",
	eventName: "stackone.action_log",
	idKeys:    []string{"log_id"},
	timeKeys:  []string{"event_time", "start_time"},
	semconv: []semconvField{
		{key: "http_method", attr: "http.request.method", kind: kindString, role: roleMethod},
		{key: "status_code", attr: "http.response.status_code", kind: kindInt, role: roleStatus},
		{key: "url", attr: "url.full", kind: kindString, role: roleURL},
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
	documented: []string{
		"log_type", "end_time", "connector_key", "connector_version", "connector_owner", "mode", "source_type",
		"source_value", "auth_type", "transport_type", "stream_type", "origin_owner_name", "action_type",
		"category", "risk_level",
	},
	body: bodyMethodURLOrAction,
})

// actionStepSchema: POST /logs/steps entries are the steps of action runs, what an AI agent's action did step by
// step. A step names its run in action_run_id, exported as stackone.action_run_id like the run's own action log,
// so a backend joins the two. step_id identifies a step when StackOne sends it; without it a step is its run and
// its index, and its iteration count too: should StackOne list a step once per iteration, under one index, those
// rows are different records and must not be dropped as repeats of each other.
var actionStepSchema = newSchema(schema{
	stream:       "action_steps",
	eventName:    "stackone.action_step",
	idKeys:       []string{"step_id"},
	idParts:      []string{"action_run_id", "step_index"},
	idQualifiers: []string{"step_iterations"},
	timeKeys:     []string{"event_time", "start_time"},
	semconv: []semconvField{
		{key: "status_code", attr: "http.response.status_code", kind: kindInt, role: roleStatus},
	},
	typed: map[string]valueKind{
		"step_index": kindInt, "step_iterations": kindInt, "duration_ms": kindNumber,
		"skipped": kindBool, "success": kindBool,
		"step_id": kindString, "action_run_id": kindString, "account_id": kindString, "project_id": kindString,
	},
	documented: []string{"log_type", "step_function_name", "step_function_version", "end_time", "message"},
	body:       bodyStepFunction,
})
