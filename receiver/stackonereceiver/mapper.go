package stackonereceiver

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/go-json-experiment/json/jsontext"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/metadata"
)

// mapper decodes raw entries straight into log records, driven by the stream's schema. It knows pdata and the
// schemas, nothing of HTTP. Decoding walks each entry once (entryscan.go) and builds no intermediate map: names
// are looked up in the schema's table without allocating, and every unescaped string value is a substring of the
// entry, which must not be modified while the records live.
type mapper struct {
	sensitiveHeaders *nameMatcher // header names (request.headers, response.headers)
	sensitiveFields  *nameMatcher // names of stackone.* fields exported as sent
	urls             urlRedactor
	scopeVersion     string
	// redactPayloads replaces request and response bodies (StackOne's advanced logs) wherever they appear.
	redactPayloads bool
	// maxNested is each record's budget for nested data in bytes; 0 leaves nested data out.
	maxNested int
	// original adds log.record.original, the entry as sent with its secrets redacted.
	original bool

	headerNames nameCache[*headerName]
	schemas     atomic.Pointer[map[*schema]*schemaState]
	schemasMu   sync.Mutex
}

// entryMeta is what the stream needs of an entry besides its record.
type entryMeta struct {
	id      string    // the schema's id key, else a digest of the raw entry; may alias the entry's memory: clone to keep
	time    time.Time // the event time (schema's time keys in order); zero when none parses
	badTime bool      // a time key was present but did not parse: the record flows without Timestamp
	invalid int       // fields left out because their value had the wrong type
	// truncated: nested data was cut or left out for the record's budget (stackone.truncated on the record).
	truncated bool
}

// mappingSettings are the mapping's options beyond redaction.
type mappingSettings struct {
	maxNested int
	original  bool
}

func newMapper(r RedactionConfig, scopeVersion string) *mapper {
	return newMapperWith(r, mappingSettings{maxNested: defaultMaxNestedSize}, scopeVersion)
}

func newMapperWith(r RedactionConfig, ms mappingSettings, scopeVersion string) *mapper {
	return &mapper{
		sensitiveHeaders: newNameMatcher(r.Headers),
		sensitiveFields:  newNameMatcher(r.Fields),
		urls:             urlRedactor{params: newNameMatcher(r.QueryParams)},
		scopeVersion:     scopeVersion,
		redactPayloads:   r.Payloads,
		maxNested:        max(ms.maxNested, 0),
		original:         ms.original,
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

// schemaState is what the mapper learns per schema: redaction decisions for its fields and the spellings of
// field names it has met.
type schemaState struct {
	sensitive []bool // per slot: exported as sent and matching redaction.fields
	names     nameCache[*keyInfo]
}

// keyInfo is what a top-level name that is not the exact spelling in the schema's table stands for.
type keyInfo struct {
	slot      int    // the known field it spells, -1 for a field the schema does not know
	snake     string // snake_case name of an unknown field
	attr      string // stackone.<snake>
	sensitive bool
}

type headerName struct {
	request, response string // attribute names: http.request.header.<lower-case name>, http.response.header.<...>
	sensitive         bool
}

func (m *mapper) stateFor(s *schema) *schemaState {
	if p := m.schemas.Load(); p != nil {
		if st, ok := (*p)[s]; ok {
			return st
		}
	}
	m.schemasMu.Lock()
	defer m.schemasMu.Unlock()
	next := map[*schema]*schemaState{}
	if p := m.schemas.Load(); p != nil {
		if st, ok := (*p)[s]; ok {
			return st
		}
		for k, v := range *p {
			next[k] = v
		}
	}
	st := &schemaState{sensitive: make([]bool, len(s.fields))}
	for i, f := range s.fields {
		st.sensitive[i] = f.exportedAsSent && m.sensitiveFields.match(f.name)
	}
	next[s] = st
	m.schemas.Store(&next)
	return st
}

func (m *mapper) header(name string) *headerName {
	if h, ok := m.headerNames.get(name); ok {
		return h
	}
	lower := strings.ToLower(name)
	h := &headerName{
		request:   "http.request.header." + lower,
		response:  "http.response.header." + lower,
		sensitive: m.sensitiveHeaders.match(name),
	}
	m.headerNames.put(name, h)
	return h
}

// span is where a value sits in the entry text, text[start:end] with the quotes of a string, packed into one word
// because the walk passes spans around for every member: start and end (29 bits each; an entry is far smaller
// than the largest answer accepted), the kind (as jsontext.Kind: '"', '0', 't', 'f', 'n', '{', '['; 0 when
// absent), whether a string has backslash escapes (unquoted on use), and whether the name it was read under is a
// spelling other than the snake_case one.
type span uint64

const (
	spanBits    = 29
	maxSpanText = 1<<spanBits - 1
	spanMask    = maxSpanText
	kindShift   = 2 * spanBits
	escapedBit  = span(1) << 61
	camelBit    = span(1) << 62
)

// spanKinds maps a 3-bit kind code to its jsontext.Kind byte, and kindCodes back.
var (
	spanKinds = [8]byte{0, '"', '0', 't', 'f', 'n', '{', '['}
	kindCodes = [256]uint8{'"': 1, '0': 2, 't': 3, 'f': 4, 'n': 5, '{': 6, '[': 7}
)

func mkSpan(start, end int, kind byte, escaped bool) span {
	sp := span(start)&spanMask | (span(end)&spanMask)<<spanBits | span(kindCodes[kind])<<kindShift
	if escaped {
		sp |= escapedBit
	}
	return sp
}

func (sp span) start() int    { return int(sp & spanMask) }
func (sp span) end() int      { return int(sp >> spanBits & spanMask) }
func (sp span) kind() byte    { return spanKinds[sp>>kindShift&7] }
func (sp span) escaped() bool { return sp&escapedBit != 0 }
func (sp span) camel() bool   { return sp&camelBit != 0 }
func (sp span) withCamel(c bool) span {
	if c {
		return sp | camelBit
	}
	return sp &^ camelBit
}

func (sp span) present() bool { k := sp >> kindShift & 7; return k != 0 && k != 5 }

// set records a value under the precedence rule: the snake_case spelling, the documented form, wins over any
// other; between two of the same rank the later wins, as it did when entries were decoded into maps.
func (sp *span) set(v span) {
	if *sp != 0 && !sp.camel() && v.camel() {
		return
	}
	*sp = v
}

// exchange is the nested request or response object of the guide's entries and of the detail endpoint.
type exchange struct {
	method, hostname, path, statusCode span
	headers                            []header
	badHeaders                         int // headers that is not an object, and header values of the wrong type
	// others and urlOthers are the members with no http.* attribute (an id, a body, the URL's query
	// parameters, what StackOne adds later): exported as nested data.
	others, urlOthers []nestedMember
	// providerErrors and mappingErrors are the response's diagnostics, exported first-class.
	providerErrors, mappingErrors span
}

func (ex *exchange) reset() {
	*ex = exchange{headers: ex.headers[:0], others: ex.others[:0], urlOthers: ex.urlOthers[:0]}
}

type header struct {
	name          span
	first, values int // sc.hvalues[first : first+values]
}

type unknownValue struct {
	info *keyInfo
	v    span
}

// scratch is one call's working memory, pooled so decoding allocates nothing of its own.
type scratch struct {
	text     string
	b        []byte // text as bytes, for unquoting; never written
	pos      int    // the scanner's position in text
	failed   bool   // the scanner met a byte that does not fit: the walk ends
	slots    []span
	unknown  []unknownValue
	req      exchange
	resp     exchange
	hvalues  []span
	nameBuf  []byte // unescaped member names
	snakeBuf []byte // snake_cased nested names
	unquoted []byte
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func (sc *scratch) reset(n int) {
	if cap(sc.slots) < n {
		sc.slots = make([]span, n)
	}
	sc.slots = sc.slots[:n]
	clear(sc.slots)
	sc.unknown = sc.unknown[:0]
	sc.req.reset()
	sc.resp.reset()
	sc.hvalues = sc.hvalues[:0]
	sc.pos, sc.failed = 0, false
}

func (sc *scratch) release() {
	sc.text, sc.b = "", nil
	clear(sc.unknown[:cap(sc.unknown)])
	// One entry with a huge escaped string or thousands of headers must not keep its buffers pooled for good.
	const keep = 64 << 10
	if cap(sc.unquoted) > keep || cap(sc.nameBuf) > keep || cap(sc.hvalues) > keep/8 || cap(sc.unknown) > keep/16 {
		return
	}
	scratchPool.Put(sc)
}

// decoded is one entry read but not yet turned into a record: its fields' places, and what the stream needs to
// decide whether it becomes one (its id and event time). Deciding before mapping is what keeps a sweep cheap:
// most of what it reads again was delivered already, and building records is most of the work.
type decoded struct {
	sc   *scratch
	st   *schemaState
	meta entryMeta
	// primaryParsed: the schema's first time key gave the Timestamp, so it is not repeated as an attribute.
	primaryParsed bool
}

// decode reads one raw entry; release must follow. Safe for concurrent use. raw is one JSON
// object as DecodePage hands it over; anything else yields what could be read.
func (m *mapper) decode(s *schema, raw jsontext.Value) decoded {
	st := m.stateFor(s)
	sc := scratchPool.Get().(*scratch)
	sc.reset(len(s.fields))

	// String values are substrings of the entry itself: no copy, no allocation per value. The page body is owned by
	// the page and never written after it was read, and the records of a page are exported together, so sharing it
	// keeps nothing alive longer than the copies would. (A copy of each entry cost 7 % of the mapping time, most of
	// it in the garbage collection it caused.)
	text := unsafe.String(unsafe.SliceData(raw), len(raw))
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD") // as encoding/json did, bad bytes become U+FFFD
	}
	sc.text, sc.b = text, unsafe.Slice(unsafe.StringData(text), len(text))
	sc.decodeEntry(m, s, st)

	d := decoded{sc: sc, st: st}
	// Timestamp: the first time key that parses.
	anyTime := false
	for n, i := range s.timeSlots {
		sp := sc.slots[i]
		if !sp.present() {
			continue
		}
		anyTime = true
		if t, ok := sc.timeOf(sp); ok && !t.IsZero() {
			d.meta.time = t
			d.primaryParsed = n == 0
			break
		}
	}
	d.meta.badTime = d.meta.time.IsZero() && anyTime
	d.meta.id = sc.entryID(s, raw)
	return d
}

// release gives back what decode took, once the entry is skipped or its page is done with.
func (d decoded) release() { d.sc.release() }

// appendDecoded turns a decoded entry into a new record appended to lrs. It leaves d as it was, so the record
// can be built again (a page the pipeline refused); release d once it is no longer needed.
func (m *mapper) appendDecoded(lrs plog.LogRecordSlice, s *schema, d decoded, observed pcommon.Timestamp) entryMeta {
	lr := lrs.AppendEmpty()
	lr.SetObservedTimestamp(observed)
	lr.SetEventName(s.eventName)
	meta := d.meta
	meta.invalid, meta.truncated = m.mapEntry(lr, s, d.st, d.sc, meta.time, d.primaryParsed)
	return meta
}

// appendRecord decodes one raw entry straight into a new record appended to lrs.
func (m *mapper) appendRecord(lrs plog.LogRecordSlice, s *schema, raw jsontext.Value, observed pcommon.Timestamp) entryMeta {
	d := m.decode(s, raw)
	defer d.release()
	return m.appendDecoded(lrs, s, d, observed)
}

// decodeEntry is the one pass over the entry: it records where each field's value is, descending only into the
// request and response objects. A syntax error ends the pass; what was read still maps.
func (sc *scratch) decodeEntry(m *mapper, s *schema, st *schemaState) {
	if !sc.enterEntry() {
		return
	}
	for first := true; ; first = false {
		name, v, ok := sc.member(first)
		if !ok {
			return
		}
		slot, camel, info := sc.lookup(m, s, st, sc.unquoteName(name))
		if v.kind() == '{' || v.kind() == '[' {
			if v.kind() == '{' && slot >= 0 && (slot == s.requestSlot || slot == s.responseSlot) {
				ex := &sc.req
				if slot == s.responseSlot {
					ex = &sc.resp
				}
				sc.enter()
				sc.decodeExchange(ex)
				continue
			}
			if v = sc.skip(v); sc.failed {
				return
			}
		}
		v = v.withCamel(camel)
		if slot >= 0 {
			sc.slots[slot].set(v)
			continue
		}
		sc.addUnknown(info, v)
	}
}

// unquoteName returns a member name without quotes, unescaped when it has escapes.
func (sc *scratch) unquoteName(name span) []byte {
	if !name.escaped() {
		return sc.b[name.start()+1 : name.end()-1]
	}
	sc.nameBuf, _ = jsontext.AppendUnquote(sc.nameBuf[:0], sc.b[name.start():name.end()])
	return sc.nameBuf
}

// lookup finds the slot of a top-level name. The table holds each field's snake_case and camelCase spelling;
// any other spelling is snake_cased once and remembered.
func (sc *scratch) lookup(m *mapper, s *schema, st *schemaState, key []byte) (slot int, camel bool, info *keyInfo) {
	if i, ok := s.byName.lookup(key); ok {
		return i, string(key) != s.fields[i].name, nil
	}
	info, ok := st.names.getBytes(key)
	if !ok {
		name := string(key)
		snake := snakeCase(name)
		if i, ok := s.byName.lookup([]byte(snake)); ok {
			info = &keyInfo{slot: i}
		} else {
			info = &keyInfo{slot: -1, snake: snake, attr: "stackone." + snake, sensitive: m.sensitiveFields.match(snake)}
		}
		st.names.put(name, info)
	}
	if info.slot >= 0 {
		return info.slot, true, nil
	}
	return -1, string(key) != info.snake, info
}

func (sc *scratch) addUnknown(info *keyInfo, v span) {
	for i := range sc.unknown {
		if sc.unknown[i].info.snake == info.snake {
			sc.unknown[i].v.set(v)
			return
		}
	}
	sc.unknown = append(sc.unknown, unknownValue{info: info, v: v})
}

// decodeExchange reads a request or response object: method, url.hostname, url.path, status_code and headers
// for the http.* attributes, the response's provider and mapping errors, and where every other member lies.
// Its names are snake_cased like the entry's (statusCode is status_code); header names are data and kept.
func (sc *scratch) decodeExchange(ex *exchange) {
	for first := true; ; first = false {
		name, v, ok := sc.member(first)
		if !ok {
			return
		}
		key, camel := sc.snakeName(sc.unquoteName(name))
		var target *span
		switch string(key) {
		case "method":
			target = &ex.method
		case "status_code":
			target = &ex.statusCode
		case "provider_errors":
			target = &ex.providerErrors
		case "custom_mapping_errors":
			target = &ex.mappingErrors
		case "url":
			if v.kind() == '{' {
				sc.enter()
				sc.decodeURL(ex)
				continue
			}
		case "headers":
			switch v.kind() {
			case '{':
				sc.enter()
				sc.decodeHeaders(ex)
				continue
			case 'n':
			default:
				ex.badHeaders++
			}
		}
		if v.kind() == '{' || v.kind() == '[' {
			v = sc.skip(v)
		}
		if sc.failed {
			return
		}
		switch {
		case target != nil:
			v = v.withCamel(camel)
			target.set(v)
		case string(key) != "headers":
			ex.others = append(ex.others, nestedMember{name: name, value: v})
		}
	}
}

func (sc *scratch) decodeURL(ex *exchange) {
	for first := true; ; first = false {
		name, v, ok := sc.member(first)
		if !ok {
			return
		}
		key, camel := sc.snakeName(sc.unquoteName(name))
		if v.kind() == '{' || v.kind() == '[' {
			if v = sc.skip(v); sc.failed {
				return
			}
		}
		v = v.withCamel(camel)
		switch string(key) {
		case "hostname":
			ex.hostname.set(v)
		case "path":
			ex.path.set(v)
		default:
			ex.urlOthers = append(ex.urlOthers, nestedMember{name: name, value: v})
		}
	}
}

// decodeHeaders records each header's name and string values: a string or number, or the strings of an array.
func (sc *scratch) decodeHeaders(ex *exchange) {
	for first := true; ; first = false {
		name, v, ok := sc.member(first)
		if !ok {
			return
		}
		h := header{name: name, first: len(sc.hvalues)}
		switch v.kind() {
		case '"', '0':
			sc.hvalues = append(sc.hvalues, v)
		case '[':
			sc.enter()
			for firstValue := true; ; firstValue = false {
				e, ok := sc.element(firstValue)
				if !ok {
					break
				}
				switch e.kind() {
				case '"':
					sc.hvalues = append(sc.hvalues, e)
				case '{', '[':
					sc.skip(e)
				}
			}
		case '{':
			sc.skip(v)
			ex.badHeaders++
			continue
		default:
			ex.badHeaders++
			continue
		}
		if sc.failed {
			return
		}
		h.values = len(sc.hvalues) - h.first
		ex.headers = append(ex.headers, h)
	}
}

// snakeName snake_cases a nested name into scratch memory; camel reports whether it changed.
func (sc *scratch) snakeName(key []byte) ([]byte, bool) {
	ascii := true
	upper := false
	for _, c := range key {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
		if c >= 'A' && c <= 'Z' {
			upper = true
		}
	}
	switch {
	case ascii && !upper:
		return key, false
	case ascii:
		sc.snakeBuf = appendSnakeASCII(sc.snakeBuf[:0], key)
		return sc.snakeBuf, true
	default:
		s := snakeCase(string(key))
		return []byte(s), s != string(key)
	}
}

// snakeCase turns camelCase (requestId, eventDatetime, sourceIP) into snake_case; snake_case passes unchanged.
func snakeCase(s string) string {
	if strings.IndexFunc(s, unicode.IsUpper) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 4)
	rs := []rune(s)
	for i, r := range rs {
		if unicode.IsUpper(r) {
			prevLower := i > 0 && (unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1]))
			acronymEnd := i > 0 && unicode.IsUpper(rs[i-1]) && i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if (prevLower || acronymEnd) && rs[i-1] != '_' {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// appendSnakeASCII is snakeCase for ASCII names, without allocating.
func appendSnakeASCII(dst, s []byte) []byte {
	isUpper := func(c byte) bool { return c >= 'A' && c <= 'Z' }
	isLower := func(c byte) bool { return c >= 'a' && c <= 'z' }
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	for i, c := range s {
		if isUpper(c) {
			prevLower := i > 0 && (isLower(s[i-1]) || isDigit(s[i-1]))
			acronymEnd := i > 0 && isUpper(s[i-1]) && i+1 < len(s) && isLower(s[i+1])
			if (prevLower || acronymEnd) && s[i-1] != '_' {
				dst = append(dst, '_')
			}
			dst = append(dst, c-'A'+'a')
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// str reads a value as text. Numbers and booleans are rendered as text, because ids and enums sometimes arrive as
// numbers; objects, arrays and null are not text.
func (sc *scratch) str(sp span) (string, bool) {
	switch sp.kind() {
	case '"':
		if !sp.escaped() {
			return sc.text[sp.start()+1 : sp.end()-1], true
		}
		sc.unquoted, _ = jsontext.AppendUnquote(sc.unquoted[:0], sc.b[sp.start():sp.end()])
		return string(sc.unquoted), true
	case '0':
		return sc.text[sp.start():sp.end()], true
	case 't':
		return "true", true
	case 'f':
		return "false", true
	}
	return "", false
}

// numeric is the text of a number, or of a string that may hold one ("500").
func (sc *scratch) numeric(sp span) (string, bool) {
	switch sp.kind() {
	case '0':
		return sc.text[sp.start():sp.end()], true
	case '"':
		s, _ := sc.str(sp)
		return strings.TrimSpace(s), true
	}
	return "", false
}

// intOf accepts an integer, an integral number below 2^53, or a string holding one; a fraction is not an int.
func (sc *scratch) intOf(sp span) (int64, bool) {
	s, ok := sc.numeric(sp)
	if !ok {
		return 0, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f), true
	}
	return 0, false
}

func (sc *scratch) floatOf(sp span) (float64, bool) {
	s, ok := sc.numeric(sp)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// boolOf accepts a boolean, or a string strconv.ParseBool reads ("true", "false", "1", ...).
func (sc *scratch) boolOf(sp span) (bool, bool) {
	switch sp.kind() {
	case 't':
		return true, true
	case 'f':
		return false, true
	case '"':
		s, _ := sc.str(sp)
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		return b, err == nil
	}
	return false, false
}

// timeOf reads a date-time: RFC 3339 text, or a number of epoch milliseconds.
func (sc *scratch) timeOf(sp span) (time.Time, bool) {
	switch sp.kind() {
	case '"':
		s, _ := sc.str(sp)
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
		return t, err == nil
	case '0':
		ms, err := strconv.ParseInt(sc.text[sp.start():sp.end()], 10, 64)
		if err != nil || ms <= 0 {
			return time.Time{}, false
		}
		return time.UnixMilli(ms).UTC(), true
	}
	return time.Time{}, false
}

// digestPrefix starts the id of an entry that has none of its own.
const digestPrefix = "sha256:"

// entryID identifies an entry for de-duplication. An entry without an id gets a digest of its raw JSON, so the
// same entry read twice in the overlap window is still recognised.
func (sc *scratch) entryID(s *schema, raw jsontext.Value) string {
	for _, i := range s.idSlots {
		if id, ok := sc.str(sc.slots[i]); ok && id != "" {
			return id
		}
	}
	if id, ok := sc.partsID(s); ok {
		return id
	}
	sum := sha256.Sum256(raw)
	return digestPrefix + hex.EncodeToString(sum[:16])
}

// mapEntry writes the record from the decoded spans and returns how many fields it left out for their type, and
// whether nested data was cut for the record's budget.
func (m *mapper) mapEntry(lr plog.LogRecord, s *schema, st *schemaState, sc *scratch, at time.Time, primaryParsed bool) (invalid int, truncated bool) {
	var meta entryMeta
	slots := sc.slots
	if !at.IsZero() {
		lr.SetTimestamp(pcommon.NewTimestampFromTime(at))
	}

	attrs := lr.Attributes()
	n := len(sc.unknown) + len(sc.req.headers) + len(sc.resp.headers) + 1
	for i := range slots {
		if slots[i].present() {
			n++
		}
	}
	attrs.EnsureCapacity(n)

	// Semantic-convention fields come first in the table.
	var method, fullURL string
	methodSet, pathSet, urlSet, hasStatus := false, false, false, false
	var status int64
	for i := range s.semconv {
		sp := slots[i]
		if !sp.present() {
			continue
		}
		f := &s.fields[i]
		if f.kind == kindInt {
			v, ok := sc.intOf(sp)
			if !ok {
				meta.invalid++
				continue
			}
			attrs.PutInt(f.attr, v)
			if f.role == roleStatus {
				status, hasStatus = v, true
			}
			continue
		}
		v, ok := sc.str(sp)
		if !ok {
			meta.invalid++
			continue
		}
		switch f.role {
		case roleMethod:
			method, methodSet = strings.ToUpper(v), true
			v = method
		case roleURL:
			v = m.urls.redact(v)
			fullURL, urlSet = v, true
		}
		if i == s.pathSlot {
			pathSet = true
		}
		attrs.PutStr(f.attr, v)
	}

	// The nested request and response objects fill what the top level did not say.
	req, resp := &sc.req, &sc.resp
	if !methodSet {
		if v, ok := sc.str(req.method); ok && v != "" {
			attrs.PutStr("http.request.method", strings.ToUpper(v))
		}
	}
	host, _ := sc.str(req.hostname)
	if !pathSet {
		if v, ok := sc.str(req.path); ok && v != "" {
			attrs.PutStr("url.path", v)
		}
	}
	if !hasStatus && resp.statusCode.present() {
		if v, ok := sc.intOf(resp.statusCode); ok {
			attrs.PutInt("http.response.status_code", v)
			status, hasStatus = v, true
		} else {
			meta.invalid++
		}
	}
	if host == "" && urlSet {
		host = urlHost(fullURL)
	}
	if host != "" {
		attrs.PutStr("server.address", host)
	}
	meta.invalid += req.badHeaders + resp.badHeaders
	m.putHeaders(attrs, sc, req.headers, false)
	m.putHeaders(attrs, sc, resp.headers, true)

	// Severity: status >= 400 is an error; without a status, success decides; with neither it is unknown.
	success, hasSuccess := false, false
	if s.successSlot >= 0 && slots[s.successSlot].present() {
		success, hasSuccess = sc.boolOf(slots[s.successSlot])
	}
	switch {
	case hasStatus && status >= 400, !hasStatus && hasSuccess && !success:
		lr.SetSeverityNumber(plog.SeverityNumberError)
		lr.SetSeverityText("ERROR")
	case hasStatus, hasSuccess:
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetSeverityText("INFO")
	}
	if s.riskSlot >= 0 {
		raiseForRisk(lr, sc, slots[s.riskSlot])
	}

	lr.Body().SetStr(sc.body(s, method, fullURL))

	// Nested data, the diagnostics first: when the budget runs out, what is left out is the least useful.
	budget := nestedBudget{left: m.maxNested}
	w := nestedWriter{m: m, budget: &budget}
	if m.maxNested > 0 {
		for _, d := range []struct {
			attr string
			sp   span
		}{{"stackone.provider_errors", resp.providerErrors}, {"stackone.custom_mapping_errors", resp.mappingErrors}} {
			if d.sp.present() {
				v := attrs.PutEmpty(d.attr)
				w.scalar(v, sc, d.sp)
				if v.Type() == pcommon.ValueTypeEmpty {
					attrs.Remove(d.attr)
					continue
				}
				if d.attr == "stackone.provider_errors" {
					putProviderSummary(attrs, v)
				}
			}
		}
		w.putMembers(attrs, "stackone.request", sc, req.others, req.urlOthers)
		w.putMembers(attrs, "stackone.response", sc, resp.others, resp.urlOthers)
	}

	// Every other field becomes stackone.<name>, so fields StackOne adds later arrive without a release here.
	for i := len(s.semconv); i < len(slots); i++ {
		sp := slots[i]
		if !sp.present() {
			continue
		}
		f := &s.fields[i]
		if f.primaryTime && primaryParsed {
			continue
		}
		if f.kind == kindAsSent {
			m.putAsSent(attrs, sc, w, f.attr, sp, st.sensitive[i])
		} else if !m.putTyped(attrs, sc, f.attr, sp, f.kind) {
			meta.invalid++
		}
	}
	for _, u := range sc.unknown {
		if u.v.present() {
			m.putAsSent(attrs, sc, w, u.info.attr, u.v, u.info.sensitive)
		}
	}
	if budget.truncated {
		attrs.PutBool("stackone.truncated", true)
	}
	if m.original {
		if o := m.redactedOriginal(sc.text); o != "" {
			attrs.PutStr("log.record.original", o)
		}
	}
	return meta.invalid, budget.truncated
}

// raiseForRisk: Defender's risk level raises the severity whatever the status, since a prompt injection it
// flags usually comes back as a successful call. high is at least WARN, critical at least ERROR.
func raiseForRisk(lr plog.LogRecord, sc *scratch, sp span) {
	risk, _ := sc.str(sp)
	var floor plog.SeverityNumber
	var text string
	switch {
	case strings.EqualFold(risk, "critical"):
		floor, text = plog.SeverityNumberError, "ERROR"
	case strings.EqualFold(risk, "high"):
		floor, text = plog.SeverityNumberWarn, "WARN"
	default:
		return
	}
	if lr.SeverityNumber() < floor {
		lr.SetSeverityNumber(floor)
		lr.SetSeverityText(text)
	}
}

// body renders the record body from the fields already read; method is the upper-cased top-level method.
func (sc *scratch) body(s *schema, method, fullURL string) string {
	switch s.body {
	case bodyStepFunction:
		return sc.stepBody(s)
	case bodyMethodURLOrAction:
		if method == "" {
			if v, ok := sc.str(sc.slots[s.methodSlot]); ok {
				method = strings.ToUpper(v)
			}
		}
		if method != "" {
			return joinWords(method, fullURL)
		}
		id, _ := sc.str(sc.slots[s.actionIDSlot])
		return id
	default:
		if method == "" {
			if v, ok := sc.str(sc.slots[s.methodSlot]); ok {
				method = strings.ToUpper(v)
			}
		}
		if method == "" {
			v, _ := sc.str(sc.req.method)
			method = strings.ToUpper(v)
		}
		p, _ := sc.str(sc.slots[s.pathSlot])
		if p == "" {
			p, _ = sc.str(sc.req.path)
		}
		return joinWords(method, p)
	}
}

// joinWords is strings.TrimSpace(a + " " + b), allocating only when both are set.
func joinWords(a, b string) string {
	switch {
	case a == "":
		return strings.TrimSpace(b)
	case b == "":
		return strings.TrimSpace(a)
	}
	return strings.TrimSpace(a + " " + b)
}

// putHeaders follows the semantic conventions: lower-case names, values as string arrays. Credentials are
// replaced, never dropped, so a reader can still see that the header was sent; URLs in values (Referer,
// Location) lose their credentials like url.full.
func (m *mapper) putHeaders(attrs pcommon.Map, sc *scratch, headers []header, response bool) {
	for _, h := range headers {
		name, _ := sc.str(h.name)
		hn := m.header(name)
		attr := hn.request
		if response {
			attr = hn.response
		}
		slice := attrs.PutEmptySlice(attr)
		slice.EnsureCapacity(h.values)
		for _, sp := range sc.hvalues[h.first : h.first+h.values] {
			v := redacted
			if !hn.sensitive {
				v, _ = sc.str(sp)
				if looksLikeURL(v) {
					v = m.urls.redact(v)
				}
			}
			slice.AppendEmpty().SetStr(v)
		}
	}
}

// putTyped exports a field with a documented type; false when the value cannot be read as that type.
func (m *mapper) putTyped(attrs pcommon.Map, sc *scratch, attr string, sp span, kind valueKind) bool {
	switch kind {
	case kindInt:
		v, ok := sc.intOf(sp)
		if ok {
			attrs.PutInt(attr, v)
		}
		return ok
	case kindNumber:
		if v, ok := sc.intOf(sp); ok {
			attrs.PutInt(attr, v)
			return true
		}
		v, ok := sc.floatOf(sp)
		if ok {
			attrs.PutDouble(attr, v)
		}
		return ok
	case kindDouble:
		v, ok := sc.floatOf(sp)
		if ok {
			attrs.PutDouble(attr, v)
		}
		return ok
	case kindBool:
		v, ok := sc.boolOf(sp)
		if ok {
			attrs.PutBool(attr, v)
		}
		return ok
	default:
		v, ok := sc.str(sp)
		if ok {
			if looksLikeURL(v) {
				v = m.urls.redact(v)
			}
			attrs.PutStr(attr, v)
		}
		return ok
	}
}

// putAsSent exports a field with the JSON type it came with: objects and arrays as maps and slices, within the
// record's budget for nested data. Null is left out. A sensitive field is replaced whatever its type.
func (m *mapper) putAsSent(attrs pcommon.Map, sc *scratch, w nestedWriter, attr string, sp span, sensitive bool) {
	if k := sp.kind(); sensitive && k != 't' && k != 'f' {
		attrs.PutStr(attr, redacted)
		return
	}
	switch sp.kind() {
	case '{', '[':
		if m.maxNested == 0 {
			return
		}
		if w.budget.left == 0 {
			w.budget.truncated = true
			return
		}
		n := m.nestedMember(namesFields, strings.TrimPrefix(attr, "stackone."))
		v := attrs.PutEmpty(attr)
		w.put(v, sc.text[sp.start():sp.end()], n.members)
		if v.Type() == pcommon.ValueTypeEmpty || (v.Type() == pcommon.ValueTypeMap && v.Map().Len() == 0 || v.Type() == pcommon.ValueTypeSlice && v.Slice().Len() == 0) && w.budget.truncated {
			attrs.Remove(attr)
		}
	case '"':
		v, _ := sc.str(sp)
		attrs.PutStr(attr, m.redactText(v))
	case 't', 'f':
		attrs.PutBool(attr, sp.kind() == 't')
	case '0':
		text := sc.text[sp.start():sp.end()]
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			attrs.PutInt(attr, i)
		} else if f, err := strconv.ParseFloat(text, 64); err == nil {
			attrs.PutDouble(attr, f)
		} else {
			attrs.PutStr(attr, text)
		}
	}
}
