package stackonereceiver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/stackoneapi"
)

// simAPI is a scripted StackOne inside the simulation: both paging styles (cursor `next` on the request, step
// and platform streams, page numbers with a total on POST /logs/actions and /logs/steps), both key casings, entries that the
// API lists only some time after their event time, and an adversary. It answers on the simulated clock and
// draws every misbehaviour from the run's source, so a seed replays it exactly:
//   - 429 with Retry-After, 503, a body cut off mid-JSON, a call that times out; now and then a Retry-After of
//     centuries, which the receiver must cut to maxRetryAfter. A call the receiver sends while a Retry-After it
//     was given still holds is recorded as a violation;
//   - cursors that expire (after a lifetime, or at random) and are refused with 400;
//   - a cursor page that starts again a few entries back, repeating the boundary of the previous page;
//   - a start bound rounded down to the second, serving entries from before the start asked for (on every
//     call of a run, as a server does; one that did it at random would make page numbers meaningless);
//   - page numbers over a set that grows while it is read (entries listed late land before the page asked
//     for, so it repeats rows of the previous one); an inclusive or exclusive end bound.
type simAPI struct {
	s      *simSched
	logf   func(string, ...any) // every call, when a seed is replayed
	faults simFaults
	camel  bool
	// endInclusive: the end bound includes entries exactly at it; roundStart: the start bound is rounded down
	// to the second.
	endInclusive, roundStart bool
	feeds                    map[string]*simFeed
	calls                    int
	// violations are calls sent while a Retry-After given to the same process still held.
	violations []string
	// failShare is the share of entries whose request failed (status 502): the request logs among them have a
	// detail with a provider error and a planted credential. sent is every call's process and send time, for
	// the budget checks.
	failShare float64
	sent      []simSent
}

// simSent is one call as it left the receiver.
type simSent struct {
	inc    *simIncarnation
	at     time.Time
	detail bool
}

// simPlanted is the credential the detail of every failed request carries; no record may show it.
const simPlanted = "planted-secret-sim"

// simFailed says whether an entry's request failed: by its id, so it draws nothing from the run's source.
func (a *simAPI) simFailed(id string) bool {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return float64(h.Sum32()%1000) < a.failShare*1000
}

// simFaults are the chances, per call, of each misbehaviour.
type simFaults struct {
	latency                                time.Duration
	rateLimited, unavailable, cut, timeout float64
	expire, repeat                         float64
	cursorTTL                              time.Duration
	// refuse is the pipeline's chance of refusing a page (memory_limiter), storeFail a storage write's chance
	// of failing, crashAtWrite the chance that the process dies inside a storage write.
	refuse, storeFail, crashAtWrite float64
	// storeOutage is a storage write's chance of starting an outage: every call fails for up to two minutes,
	// and half the time the process dies as it ends, as a leader does whose term ends while the Kubernetes
	// API is down. Crashes drawn at random rarely meet a stretch of failed writes; this one always does.
	storeOutage float64
}

// simFeed is one stream's entries in the API's order.
type simFeed struct {
	path    string
	keyset  bool
	entries []*simEntry // by (sortAt, id)
}

type simEntry struct {
	id      string
	at      time.Time // event time; zero when the entry's time does not parse
	visible time.Time // when the API starts listing it
	sortAt  time.Time // at, or when it became visible for an entry without a usable time
	json    []byte
}

func (e *simEntry) key() simKey { return simKey{At: e.sortAt, ID: e.id} }

type simKey struct {
	At time.Time `json:"t"`
	ID string    `json:"i"`
}

func (k simKey) less(o simKey) bool {
	if c := k.At.Compare(o.At); c != 0 {
		return c < 0
	}
	return k.ID < o.ID
}

// simStreams are the API's streams as the simulation generates them.
var simStreams = map[string]struct {
	path                 string
	keyset               bool
	idKey, timeKey, kind string
}{
	"request_logs":  {stackoneapi.RequestLogsPath, false, "request_id", "event_datetime", "request"},
	"step_logs":     {stackoneapi.StepLogsPath, false, "id", "start_time", "step"},
	"platform_logs": {stackoneapi.PlatformLogsPath, false, "request_id", "event_datetime", "platform"},
	"action_logs":   {stackoneapi.ActionLogsPath, true, "log_id", "event_time", "action"},
	"action_steps":  {stackoneapi.ActionStepsPath, true, "step_id", "event_time", "action_step"},
}

func camelKey(k string) string {
	parts := strings.Split(k, "_")
	for i := 1; i < len(parts); i++ {
		parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
	}
	return strings.Join(parts, "")
}

// addEntry adds one entry to a stream's feed; at zero makes an entry whose time does not parse.
func (a *simAPI) addEntry(stream, id string, at, visible time.Time) {
	def := simStreams[stream]
	f := a.feeds[def.path]
	if f == nil {
		f = &simFeed{path: def.path, keyset: def.keyset}
		a.feeds[def.path] = f
	}
	when := "not a time"
	e := &simEntry{id: id, at: at, visible: visible, sortAt: at}
	if at.IsZero() {
		e.sortAt = visible
	} else {
		when = at.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	status := 200
	if a.simFailed(id) {
		status = 502
	}
	fields := map[string]any{def.idKey: id, def.timeKey: when, "sim_id": id, "http_method": "get", "path": "/unified/hris/employees", "status": status}
	switch def.kind {
	case "action":
		fields["log_type"], fields["action_run_id"], fields["status_code"] = "action", "run-"+id, status
		delete(fields, "status")
	case "platform":
		fields["category"] = "sim"
	case "action_step":
		// Four steps to a run. One step in three comes without a step_id: its run and index identify it.
		prefix, num, _ := strings.Cut(id, "-")
		n, _ := strconv.Atoi(num)
		fields["log_type"], fields["action_run_id"], fields["step_index"] = "step", fmt.Sprintf("run-%s-%d", prefix, n/4), n%4
		fields["step_function_name"], fields["status_code"] = "hris_list_employees", 200
		for _, k := range []string{"status", "http_method", "path"} {
			delete(fields, k)
		}
		if n%3 == 0 {
			delete(fields, "step_id")
		}
	}
	if a.camel && !def.keyset {
		for k, v := range fields {
			if c := camelKey(k); c != k {
				delete(fields, k)
				fields[c] = v
			}
		}
	}
	e.json, _ = json.Marshal(fields)
	i, _ := slices.BinarySearchFunc(f.entries, e, func(x, y *simEntry) int {
		switch {
		case x.key().less(y.key()):
			return -1
		case y.key().less(x.key()):
			return 1
		}
		return 0
	})
	f.entries = slices.Insert(f.entries, i, e)
}

func (a *simAPI) trace(format string, args ...any) {
	if a.logf != nil {
		a.logf("%s: api: "+format, append([]any{a.s.now.Format(time.TimeOnly + ".000")}, args...)...)
	}
}

func pageIDs(page []*simEntry) string {
	parts := make([]string, len(page))
	for i, e := range page {
		parts[i] = e.id + "@" + e.sortAt.Format("15:04:05.000")
	}
	return "[" + strings.Join(parts, " ") + "]"
}

var errSimCrashed = errors.New("sim: the process crashed")

// simTimeout is what a transport returns when a call times out.
type simTimeout struct{}

func (simTimeout) Error() string   { return "sim: i/o timeout" }
func (simTimeout) Timeout() bool   { return true }
func (simTimeout) Temporary() bool { return true }

func (a *simAPI) RoundTrip(req *http.Request) (*http.Response, error) {
	p := a.s.current()
	if p.inc.dead {
		return nil, errSimCrashed
	}
	if sent := a.s.clock(); sent.Before(p.inc.pausedUntil) {
		a.violations = append(a.violations, fmt.Sprintf("process #%d sent %s %s at %s, while the server's Retry-After held its calls until %s",
			p.inc.n, req.Method, req.URL.Path, sent.Format(time.TimeOnly+".000"), p.inc.pausedUntil.Format(time.TimeOnly+".000")))
	}
	detailID, isDetail := strings.CutPrefix(req.URL.Path, stackoneapi.RequestLogsPath+"/")
	isDetail = isDetail && req.URL.Path != stackoneapi.StepLogsPath
	a.sent = append(a.sent, simSent{inc: p.inc, at: a.s.clock(), detail: isDetail})
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		_ = req.Body.Close()
	}
	f := a.faults
	// A timeout takes the client's whole patience; everything else answers after the call's latency.
	timeout := a.s.chance(f.timeout)
	d := f.latency
	if timeout {
		d = 30 * time.Second
	}
	if err := a.s.wait(req.Context(), d); err != nil {
		return nil, err
	}
	if p.inc.dead {
		return nil, errSimCrashed
	}
	a.calls++
	switch {
	case timeout:
		return nil, simTimeout{}
	case a.s.chance(f.rateLimited):
		pause := time.Duration(1+a.s.intn(3)) * time.Second
		header := strconv.Itoa(int(pause / time.Second))
		if a.s.chance(0.02) {
			header, pause = "9000000000", maxRetryAfter // 285 years, as a proxy once sent
		}
		p.inc.pausedUntil = laterOf(p.inc.pausedUntil, a.s.clock().Add(pause))
		a.trace("%s %s: 429, Retry-After %s", req.Method, req.URL.Path, header)
		return a.answer(req, http.StatusTooManyRequests, errorJSON(429, "Too Many Requests"), "Retry-After", header), nil
	case a.s.chance(f.unavailable):
		return a.answer(req, http.StatusServiceUnavailable, errorJSON(503, "Service Unavailable")), nil
	}
	if isDetail {
		status, out := a.serveDetail(detailID)
		return a.answer(req, status, out), nil
	}
	feed := a.feeds[req.URL.Path]
	if feed == nil {
		feed = &simFeed{path: req.URL.Path, keyset: req.Method == http.MethodPost}
	}
	var status int
	var out []byte
	if feed.keyset {
		status, out = a.servePages(feed, body)
	} else {
		status, out = a.serveCursor(feed, req)
	}
	resp := a.answer(req, status, out)
	if status == http.StatusOK && a.s.chance(f.cut) {
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(out[:len(out)/2]), errReader{io.ErrUnexpectedEOF}))
		resp.ContentLength = -1
	}
	return resp, nil
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func errorJSON(status int, msg string) []byte {
	return fmt.Appendf(nil, `{"statusCode":%d,"message":%q,"timestamp":"2026-01-01T00:00:00.000Z"}`, status, msg)
}

func (a *simAPI) answer(req *http.Request, status int, body []byte, header ...string) *http.Response {
	h := http.Header{"Content-Type": {"application/json"}}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	return &http.Response{
		Status: http.StatusText(status), StatusCode: status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: req,
	}
}

// listed is what the API lists now for [start, end]: visible entries in order.
func (a *simAPI) listed(f *simFeed, start, end time.Time) []*simEntry {
	now := a.s.clock()
	if a.roundStart {
		start = start.Truncate(time.Second)
	}
	var out []*simEntry
	for _, e := range f.entries {
		if e.visible.After(now) || !start.IsZero() && e.sortAt.Before(start) {
			continue
		}
		if !end.IsZero() && (e.sortAt.After(end) || !a.endInclusive && e.sortAt.Equal(end)) {
			continue
		}
		out = append(out, e)
	}
	return out
}

type simCursor struct {
	After  simKey    `json:"a"`
	Issued time.Time `json:"iat"`
}

func parseWire(v string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, v)
	return t
}

func (a *simAPI) serveCursor(f *simFeed, req *http.Request) (int, []byte) {
	q := req.URL.Query()
	size, _ := strconv.Atoi(q.Get("page_size"))
	size = max(1, size)
	list := a.listed(f, parseWire(q.Get("start_date")), parseWire(q.Get("end_date")))
	from := 0
	if next := q.Get("next"); next != "" {
		var c simCursor
		raw, err := base64.StdEncoding.DecodeString(next)
		if err == nil {
			err = json.Unmarshal(raw, &c)
		}
		if err != nil || a.s.clock().Sub(c.Issued) > a.faults.cursorTTL || a.s.chance(a.faults.expire) {
			return http.StatusBadRequest, errorJSON(400, "Invalid or expired cursor")
		}
		from = sortSearch(list, c.After)
		if a.s.chance(a.faults.repeat) {
			from = max(0, from-1-a.s.intn(3))
		}
	}
	to := min(len(list), from+size)
	page := list[from:to]
	a.trace("GET %s start %s end %s cursor %v: %s, %d more", f.path, q.Get("start_date"), q.Get("end_date"), q.Get("next") != "", pageIDs(page), len(list)-to)
	b := dataOpening(page)
	b.WriteString(`],"next":`)
	if to < len(list) {
		c, _ := json.Marshal(simCursor{After: page[len(page)-1].key(), Issued: a.s.clock()})
		fmt.Fprintf(b, "%q}", base64.StdEncoding.EncodeToString(c))
	} else {
		b.WriteString("null}")
	}
	return http.StatusOK, b.Bytes()
}

// dataOpening is a page body up to the end of its data array.
func dataOpening(page []*simEntry) *bytes.Buffer {
	var b bytes.Buffer
	b.WriteString(`{"data":[`)
	for i, e := range page {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(e.json)
	}
	return &b
}

// sortSearch is the index of the first entry after k.
func sortSearch(list []*simEntry, k simKey) int {
	i, _ := slices.BinarySearchFunc(list, k, func(e *simEntry, k simKey) int {
		if k.less(e.key()) {
			return 1
		}
		return -1
	})
	return i
}

func (a *simAPI) servePages(f *simFeed, body []byte) (int, []byte) {
	var req struct {
		Filters struct {
			StartTime string `json:"start_time"`
			EndTime   string `json:"end_time"`
		} `json:"filters"`
		Page     int `json:"page"`
		PageSize int `json:"page_size"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return http.StatusBadRequest, errorJSON(400, "Bad body")
	}
	size := max(1, req.PageSize)
	list := a.listed(f, parseWire(req.Filters.StartTime), parseWire(req.Filters.EndTime))
	from := min(len(list), (max(1, req.Page)-1)*size)
	total := len(list)
	page := list[from:min(len(list), from+size)]
	a.trace("POST %s start %s end %s page %d: %s of %d", f.path, req.Filters.StartTime, req.Filters.EndTime, req.Page, pageIDs(page), total)
	b := dataOpening(page)
	fmt.Fprintf(b, `],"query":{"page":%d,"page_size":%d},"total":%d}`, max(1, req.Page), size, total)
	return http.StatusOK, b.Bytes()
}

// serveDetail answers GET /requests/logs/{id}: the entry as listed, with the provider's error of a failed
// request, whose URL and raw body carry a credential.
func (a *simAPI) serveDetail(id string) (int, []byte) {
	f := a.feeds[stackoneapi.RequestLogsPath]
	if f != nil {
		now := a.s.clock()
		for _, e := range f.entries {
			if e.id != id || e.visible.After(now) {
				continue
			}
			var entry map[string]any
			_ = json.Unmarshal(e.json, &entry)
			if a.simFailed(id) {
				entry["response"] = map[string]any{"status_code": 502, "provider_errors": []any{map[string]any{
					"status": 503,
					"url":    "https://provider.example/api?client_secret=" + simPlanted,
					"raw":    `{"message":"sim provider down","token":"` + simPlanted + `"}`,
				}}}
			}
			a.trace("GET detail %s", id)
			b, _ := json.Marshal(map[string]any{"data": entry})
			return http.StatusOK, b
		}
	}
	return http.StatusNotFound, errorJSON(404, "Request log not found")
}
