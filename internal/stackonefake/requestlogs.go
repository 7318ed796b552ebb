package stackonefake

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// logKind describes one of the cursor-paged streams (/requests/logs,
// /requests/logs/steps, /requests/platform-logs).
type logKind struct {
	name       string
	timeFields []string // first parseable one is the sort/filter time
	idFields   []string // first non-empty one breaks ties
	// filters are the list filters the endpoint takes, as StackOne's OpenAPI
	// has them; any other is refused as an unknown query parameter.
	filters []string
}

var (
	requestKind = logKind{name: "requests", timeFields: []string{"event_datetime", "start_time"}, idFields: []string{"request_id", "id"},
		filters: []string{"account_ids", "providers", "services", "actions", "resources", "sub_resources", "child_resources",
			"http_methods", "request_ids", "source_ids", "source_types", "source_values", "status_codes"}}
	// Step logs take no source_* filters.
	stepKind = logKind{name: "steps", timeFields: []string{"start_time", "event_datetime"}, idFields: []string{"request_id", "id"},
		filters: []string{"account_ids", "providers", "services", "actions", "resources", "sub_resources", "child_resources",
			"http_methods", "request_ids", "status_codes"}}
	// Platform logs take categories, and no providers, services, sub_resources
	// or child_resources.
	platformKind = logKind{name: "platform", timeFields: []string{"event_datetime", "start_time"}, idFields: []string{"request_id", "id"},
		filters: []string{"account_ids", "categories", "actions", "resources", "http_methods", "request_ids",
			"source_ids", "source_types", "source_values", "status_codes"}}
)

// listFilterFields maps the SDK's flat comma-list query keys to the entry
// field they filter on.
var listFilterFields = map[string]string{
	"account_ids":     "account_id",
	"providers":       "provider",
	"services":        "service",
	"actions":         "action",
	"resources":       "resource",
	"sub_resources":   "sub_resource",
	"child_resources": "child_resource",
	"http_methods":    "http_method",
	"request_ids":     "request_id",
	"source_ids":      "source_id",
	"source_types":    "source_type",
	"source_values":   "source_value",
	"categories":      "category",
	"status_codes":    "status",
}

var singleValuedKeys = map[string]bool{
	"start_date": true, "end_date": true, "success": true, "order_by": true,
	"order_direction": true, "page_size": true, "next": true,
}

// orderByValues are the documented sort keys; all sort by event time here.
var orderByValues = map[string]string{
	"eventdatetime": "eventDatetime", "event_datetime": "eventDatetime",
	"provider": "provider", "service": "service", "status": "status", "duration": "duration",
}

type entryKey struct {
	at  time.Time
	id  string
	seq uint64
}

// compare gives the total order the streams are served in; seq (ingestion
// order) makes it total so a keyset position is unambiguous.
func (a entryKey) compare(b entryKey) int {
	if c := a.at.Compare(b.at); c != 0 {
		return c
	}
	if c := strings.Compare(a.id, b.id); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

type storedEntry struct {
	raw map[string]any
	key entryKey
}

// logStore keeps entries sorted ascending by entryKey so a cursor resumes with
// a binary search.
type logStore struct {
	kind    *logKind
	entries []storedEntry
}

func (st *logStore) insert(raw map[string]any, ingested time.Time, seq uint64) {
	at, ok := lookupTime(raw, st.kind.timeFields...)
	if !ok {
		// A real entry always has a server-side time; for planted entries
		// with a missing or malformed one, ingestion time keeps them visible
		// to date-bounded queries instead of silently filtering them out.
		at = ingested
	}
	var id string
	for _, f := range st.kind.idFields {
		if id = lookupString(raw, f); id != "" {
			break
		}
	}
	k := entryKey{at: at.Round(0).UTC(), id: id, seq: seq}
	i := sort.Search(len(st.entries), func(i int) bool { return st.entries[i].key.compare(k) > 0 })
	st.entries = slices.Insert(st.entries, i, storedEntry{raw: raw, key: k})
}

// at finds the entry stored under exactly this key.
func (st *logStore) at(k entryKey) (storedEntry, bool) {
	i := sort.Search(len(st.entries), func(i int) bool { return st.entries[i].key.compare(k) >= 0 })
	if i < len(st.entries) && st.entries[i].key.compare(k) == 0 {
		return st.entries[i], true
	}
	return storedEntry{}, false
}

// logQuery is the canonical form of a request's filters; it travels inside
// the cursor so a page request with different filters can be refused.
type logQuery struct {
	Start   *time.Time          `json:"s,omitempty"`
	End     *time.Time          `json:"e,omitempty"`
	Lists   map[string][]string `json:"l,omitempty"`
	Success *bool               `json:"ok,omitempty"`
	OrderBy string              `json:"ob"`
	Desc    bool                `json:"d"`
}

func (q logQuery) equal(o logQuery) bool {
	a, _ := json.Marshal(q)
	b, _ := json.Marshal(o)
	return bytes.Equal(a, b)
}

func (q logQuery) match(e storedEntry) bool {
	if q.Start != nil && e.key.at.Before(*q.Start) {
		return false
	}
	if q.End != nil && e.key.at.After(*q.End) {
		return false
	}
	if q.Success != nil {
		v, ok := lookup(e.raw, "success")
		if !ok || v == nil || !strings.EqualFold(valueString(v), strconv.FormatBool(*q.Success)) {
			return false
		}
	}
	for key, want := range q.Lists {
		field := listFilterFields[key]
		v, ok := lookup(e.raw, field)
		if !ok || v == nil {
			return false
		}
		if !matchesAny(v, want, key == "status_codes") {
			return false
		}
	}
	return true
}

func matchesAny(v any, want []string, numeric bool) bool {
	if numeric {
		n, ok := valueNumber(v)
		if !ok {
			return false
		}
		for _, w := range want {
			if f, err := strconv.ParseFloat(w, 64); err == nil && f == n {
				return true
			}
		}
		return false
	}
	s := valueString(v)
	for _, w := range want {
		if strings.EqualFold(s, w) {
			return true
		}
	}
	return false
}

type parsedLogQuery struct {
	q            logQuery
	filtersGiven bool
	pageSize     int
	pageSizeSet  bool
	next         string
	include      []string
}

type badRequest string

func (e badRequest) Error() string { return string(e) }

func parseLogQuery(v url.Values, kind *logKind) (parsedLogQuery, error) {
	p := parsedLogQuery{pageSize: defaultPageSize, q: logQuery{OrderBy: "eventDatetime", Desc: true}}
	for key, vals := range v {
		isList := slices.Contains(kind.filters, key)
		if !isList && !singleValuedKeys[key] && key != "include" {
			return p, badRequest("Unknown query parameter: " + key)
		}
		if singleValuedKeys[key] && len(vals) > 1 {
			return p, badRequest("Duplicate query parameter: " + key)
		}
		if key != "page_size" && key != "next" && key != "include" {
			p.filtersGiven = true
		}
	}
	for _, key := range kind.filters {
		vals := splitList(v[key])
		if len(vals) == 0 {
			continue
		}
		if key == "status_codes" {
			for _, s := range vals {
				if _, err := strconv.Atoi(s); err != nil {
					return p, badRequest("status_codes must be a list of integers")
				}
			}
		}
		if p.q.Lists == nil {
			p.q.Lists = map[string][]string{}
		}
		p.q.Lists[key] = vals
	}
	for _, k := range []string{"start_date", "end_date"} {
		s := v.Get(k)
		if s == "" {
			continue
		}
		t, err := parseDate(s)
		if err != nil {
			return p, badRequest(k + " must be an ISO-8601 date-time")
		}
		if k == "start_date" {
			p.q.Start = &t
		} else {
			p.q.End = &t
		}
	}
	if s := strings.ToLower(v.Get("success")); s != "" {
		if s != "true" && s != "false" {
			return p, badRequest("success must be true or false")
		}
		b := s == "true"
		p.q.Success = &b
	}
	if s := v.Get("order_by"); s != "" {
		ob, ok := orderByValues[strings.ToLower(s)]
		if !ok {
			return p, badRequest("order_by must be one of eventDatetime, provider, service, status, duration")
		}
		p.q.OrderBy = ob
	}
	switch strings.ToLower(v.Get("order_direction")) {
	case "", "desc":
	case "asc":
		p.q.Desc = false
	default:
		return p, badRequest("order_direction must be asc or desc")
	}
	if s, ok := v["page_size"]; ok {
		n, err := strconv.Atoi(s[0])
		if err != nil || n <= 0 {
			return p, badRequest("page_size must be a positive integer")
		}
		p.pageSize, p.pageSizeSet = n, true
	}
	p.next = v.Get("next")
	inc, err := parseInclude(v["include"])
	if err != nil {
		return p, err
	}
	p.include = inc
	return p, nil
}

func parseInclude(vals []string) ([]string, error) {
	inc := splitList(vals)
	for _, s := range inc {
		if s != "step_logs" && s != "advanced_logs" {
			return nil, badRequest("include must be step_logs or advanced_logs")
		}
	}
	return inc, nil
}

// splitList accepts comma lists and repeated keys alike, normalised for
// case-insensitive comparison and for comparing filters with a cursor's.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
				out = append(out, s)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

var dateLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"}

func parseDate(s string) (time.Time, error) {
	var err error
	for _, l := range dateLayouts {
		var t time.Time
		if t, err = time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, err
}

// page returns up to size matching entries strictly after the position, and
// whether more remain.
func (st *logStore) page(q logQuery, after *entryKey, size int) ([]storedEntry, bool) {
	es := st.entries
	out := make([]storedEntry, 0, min(size, 128))
	if !q.Desc {
		i := 0
		// Entries are sorted by time, so the date bound is a binary search,
		// not a scan: large loaded stores stay cheap to page.
		if q.Start != nil {
			i = sort.Search(len(es), func(i int) bool { return !es[i].key.at.Before(*q.Start) })
		}
		if after != nil {
			i = max(i, sort.Search(len(es), func(i int) bool { return es[i].key.compare(*after) > 0 }))
		}
		for ; i < len(es); i++ {
			if q.End != nil && es[i].key.at.After(*q.End) {
				break
			}
			if !q.match(es[i]) {
				continue
			}
			if len(out) == size {
				return out, true
			}
			out = append(out, es[i])
		}
		return out, false
	}
	i := len(es) - 1
	if q.End != nil {
		i = sort.Search(len(es), func(i int) bool { return es[i].key.at.After(*q.End) }) - 1
	}
	if after != nil {
		i = min(i, sort.Search(len(es), func(i int) bool { return es[i].key.compare(*after) >= 0 })-1)
	}
	for ; i >= 0; i-- {
		if q.Start != nil && es[i].key.at.Before(*q.Start) {
			break
		}
		if !q.match(es[i]) {
			continue
		}
		if len(out) == size {
			return out, true
		}
		out = append(out, es[i])
	}
	return out, false
}

type listResponse struct {
	Data []any   `json:"data"`
	Next *string `json:"next"`
}

const msgBadCursor = "Invalid or expired cursor"

func (s *Server) listLogs(w http.ResponseWriter, r *http.Request, st *logStore) {
	p, err := parseLogQuery(r.URL.Query(), st.kind)
	if err == nil {
		p.pageSize, err = s.pageSize(p.pageSize, p.pageSizeSet, s.maxPageSize)
	}
	if err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if s.opts.NewestFirst {
		// Overridden before the cursor comparison, so the cursor carries the
		// order actually served and pages continue in it.
		p.q.OrderBy, p.q.Desc = "eventDatetime", true
	}
	now := s.now()
	var after *entryKey
	if p.next != "" {
		c, err := decodeCursor(p.next)
		if err != nil || c.Kind != st.kind.name {
			s.writeError(w, http.StatusBadRequest, msgBadCursor)
			return
		}
		if s.opts.CursorTTL > 0 && now.Sub(c.Issued) > s.opts.CursorTTL {
			s.writeError(w, http.StatusBadRequest, msgBadCursor)
			return
		}
		// Whether the real API wants the filters repeated is undocumented:
		// a cursor alone continues its own query, but filters that are sent
		// must be the cursor's, since changing them mid-stream is a bug.
		if !p.filtersGiven {
			p.q = c.Query
		} else if !p.q.equal(c.Query) {
			s.writeError(w, http.StatusBadRequest, "Cursor does not match the query filters")
			return
		}
		after = &entryKey{at: c.At, id: c.ID, seq: c.Seq}
	}
	withSteps := st.kind == &requestKind && slices.Contains(p.include, "step_logs")

	s.mu.Lock()
	size := p.pageSize
	var repeat []storedEntry
	if after != nil && size > 1 && s.repeatDueLocked(st.kind.name, after.at.String(), after.id, strconv.FormatUint(after.seq, 10)) {
		if e, ok := st.at(*after); ok && p.q.match(e) {
			// An inclusive cursor: the entry it points at, then one fewer new
			// ones, so the next cursor still continues without a gap.
			repeat, size = []storedEntry{e}, size-1
			s.boundaryRepeats++
		}
	}
	page, more := st.page(p.q, after, size)
	page = append(repeat, page...)
	data := make([]any, len(page))
	for i, e := range page {
		data[i] = s.serveLogLocked(e.raw, withSteps, st.kind == &requestKind && s.opts.DetailInList)
	}
	s.mu.Unlock()

	resp := listResponse{Data: data}
	if more {
		last := page[len(page)-1].key
		next := encodeCursor(cursorState{Kind: st.kind.name, At: last.at, ID: last.id, Seq: last.seq, Issued: now.Round(0), Query: p.q})
		resp.Next = &next
	}
	s.writeJSON(w, http.StatusOK, resp)
}

func (s *Server) getRequestLog(w http.ResponseWriter, r *http.Request, id string) {
	v := r.URL.Query()
	for k := range v {
		if k != "include" {
			s.writeError(w, http.StatusBadRequest, "Unknown query parameter: "+k)
			return
		}
	}
	inc, err := parseInclude(v["include"])
	if err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	var found any
	ok := false
	for i := len(s.requestLogs.entries) - 1; i >= 0; i-- {
		if e := s.requestLogs.entries[i]; e.key.id == id {
			found, ok = s.serveLogLocked(e.raw, slices.Contains(inc, "step_logs"), true), true
			break
		}
	}
	s.mu.Unlock()
	if !ok {
		s.writeError(w, http.StatusNotFound, fmt.Sprintf("Request log %s not found", id))
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"data": found})
}

// serveLogLocked builds the wire form of a stored entry, with the detail of a failed request when detail is
// set (the detail endpoint, or list rows under DetailInList); s.mu must be held.
func (s *Server) serveLogLocked(raw map[string]any, withSteps, detail bool) any {
	if raw == nil {
		return nil
	}
	out := cloneMap(raw)
	if detail {
		out = withDetail(out)
	}
	if withSteps {
		if _, has := lookup(out, "step_requests"); !has {
			id := lookupString(out, "request_id")
			steps := []any{}
			for _, e := range s.stepLogs.entries {
				if id != "" && lookupString(e.raw, "request_id") == id {
					steps = append(steps, cloneMap(e.raw))
				}
			}
			out["step_requests"] = steps
		}
	}
	if s.opts.CamelCase {
		return camelize(out)
	}
	return out
}

// AddRequestLogs stores raw request-log entries, served as they are (apart
// from the CamelCase key conversion); malformed entries are welcome.
func (s *Server) AddRequestLogs(entries ...map[string]any) { s.addLogs(&s.requestLogs, entries) }

// AddStepLogs stores raw step-log entries for /requests/logs/steps (and for
// include=step_logs, matched on request_id).
func (s *Server) AddStepLogs(entries ...map[string]any) { s.addLogs(&s.stepLogs, entries) }

// AddPlatformLogs stores raw platform-log entries for /requests/platform-logs.
func (s *Server) AddPlatformLogs(entries ...map[string]any) { s.addLogs(&s.platformLogs, entries) }

func (s *Server) addLogs(st *logStore, entries []map[string]any) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range entries {
		s.seq++
		st.insert(cloneMap(e), now, s.seq)
	}
}
