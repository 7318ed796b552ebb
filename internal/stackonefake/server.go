// Package stackonefake imitates StackOne's public logs APIs (/requests/logs and
// its siblings, /logs/actions, /logs/steps) closely enough that a client can be tested
// against the awkward parts of the contract: Basic auth, keyset cursors that
// carry their filters and expire, offset paging over a growing set, the
// documented page_size maximum (refused with a 400 by default), both key
// casings, and injected failures (429/408 with Retry-After, 5xx, cut-off
// bodies, slow answers, a boundary entry served twice).
package stackonefake

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Options configures a Server.
type Options struct {
	// APIKey is the key expected as the HTTP Basic user name (empty password).
	// "" accepts any request without checking.
	APIKey string
	// Now is the clock used for cursor issue/expiry, error timestamps and
	// ingestion times; nil means time.Now.
	Now func() time.Time
	// CamelCase serves request, step and platform log entries with camelCase
	// keys, as StackOne's observability guide shows them.
	CamelCase bool
	// DetailInList serves the detail of failed request logs (provider and mapping errors) in the list rows
	// too, as the docs' List Logs example shows; by default only GET /requests/logs/{id} has it, as the
	// OpenAPI's list item implies.
	DetailInList bool
	// MaxPageSize is the largest page_size /requests/logs, /requests/logs/steps
	// and /requests/platform-logs accept; 0 means 100, the maximum StackOne's
	// OpenAPI documents for them.
	MaxPageSize int
	// MaxActionPageSize is the largest page_size /logs/actions and /logs/steps
	// accept; 0 means 1000. StackOne publishes no maximum there.
	MaxActionPageSize int
	// PageSizeMode is what every list endpoint does with a page_size above its
	// maximum: answer 400 (the default), serve the maximum, or serve it all.
	PageSizeMode PageSizeMode
	// NewestFirst ignores order_by and order_direction on the cursor streams
	// and /logs/actions and always answers by event time, newest first, as an
	// API that does not honour the requested order would. Paging stays
	// consistent in that order.
	NewestFirst bool
	// CursorTTL makes older `next` cursors fail with 400; 0 means never.
	CursorTTL time.Duration
	// ActionSteps makes GenerateActionLogs and StartLiveTraffic add the steps
	// of every action run they generate (StepsFor), served on /logs/steps.
	// Steps added with AddActionSteps are served either way.
	ActionSteps bool
}

// PageSizeMode is what a list endpoint does with a page_size above its maximum.
// Whether the live server refuses or clamps is not documented; a client has to
// cope with both.
type PageSizeMode int

const (
	// PageSizeStrict answers 400 with StackOne's error body, e.g.
	// "page_size must not be greater than 100".
	PageSizeStrict PageSizeMode = iota
	// PageSizeClamp serves the maximum without a word, as a server with its own
	// cap may.
	PageSizeClamp
	// PageSizeUnlimited serves whatever page_size asks for, beyond StackOne's
	// contract: for loads that want a few large pages.
	PageSizeUnlimited
)

var pageSizeModes = []string{"strict", "clamp", "unlimited"}

func (m PageSizeMode) String() string {
	if int(m) >= 0 && int(m) < len(pageSizeModes) {
		return pageSizeModes[m]
	}
	return fmt.Sprintf("PageSizeMode(%d)", int(m))
}

// ParsePageSizeMode reads "strict", "clamp" or "unlimited".
func ParsePageSizeMode(s string) (PageSizeMode, error) {
	for i, name := range pageSizeModes {
		if strings.EqualFold(s, name) {
			return PageSizeMode(i), nil
		}
	}
	return 0, fmt.Errorf("page size mode %q: use strict, clamp or unlimited", s)
}

const (
	// StackOne's OpenAPI gives page_size `maximum: 100` on the /requests/* list endpoints.
	defaultMaxPageSize       = 100
	defaultMaxActionPageSize = 1000
	// defaultPageSize is what StackOne serves when page_size is not sent.
	defaultPageSize = 25
)

// pageSize is how many entries a list answer holds for the page_size asked
// (given false: none was sent), or the 400 a strict server answers.
func (s *Server) pageSize(asked int, given bool, maximum int) (int, error) {
	switch {
	case s.opts.PageSizeMode == PageSizeUnlimited || asked <= maximum:
		return asked, nil
	case !given || s.opts.PageSizeMode == PageSizeClamp:
		// The server's own default never exceeds its own maximum.
		return maximum, nil
	}
	return 0, badRequest(fmt.Sprintf("page_size must not be greater than %d", maximum))
}

// Recorded is a copy of one request the server received.
type Recorded struct {
	// At is when it arrived, by the server's clock: which client called when (e.g. which collector replica,
	// told apart by a header) is what the high-availability tests check.
	At     time.Time
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
}

// Server is an http.Handler serving the fake API. It is safe for concurrent
// use: data and faults may be added while requests are being served.
type Server struct {
	opts              Options
	now               func() time.Time
	maxPageSize       int
	maxActionPageSize int

	mu           sync.Mutex
	seq          uint64
	genBatch     uint64
	requestLogs  logStore
	stepLogs     logStore
	platformLogs logStore
	actionLogs   []storedAction
	actionSteps  []storedAction
	faults       []*pendingFault
	recorded     []Recorded

	repeatRate      float64 // RepeatBoundaries
	boundaryRepeats int
}

// maxBodyBytes bounds what a single request may upload; the real API takes
// small JSON filter bodies only.
const maxBodyBytes = 1 << 20

// New returns an empty Server.
func New(opts Options) *Server {
	s := &Server{opts: opts, now: opts.Now, maxPageSize: opts.MaxPageSize, maxActionPageSize: opts.MaxActionPageSize}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxPageSize <= 0 {
		s.maxPageSize = defaultMaxPageSize
	}
	if s.maxActionPageSize <= 0 {
		s.maxActionPageSize = defaultMaxActionPageSize
	}
	s.requestLogs = logStore{kind: &requestKind}
	s.stepLogs = logStore{kind: &stepKind}
	s.platformLogs = logStore{kind: &platformKind}
	return s
}

// ServeHTTP records the request, applies the first matching injected fault,
// then authenticates and routes it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
		if err != nil {
			s.writeError(w, http.StatusBadRequest, "Could not read request body")
			return
		}
		body = b
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	s.record(r, body)

	if len(body) > maxBodyBytes {
		s.writeError(w, http.StatusRequestEntityTooLarge, "Payload Too Large")
		return
	}
	if f, ok := s.takeFault(r); ok && s.applyFault(w, r, f) {
		return
	}
	s.handle(w, r)
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		s.writeError(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	p := r.URL.Path
	switch {
	case p == "/requests/logs":
		s.onlyMethod(w, r, http.MethodGet, func() { s.listLogs(w, r, &s.requestLogs) })
	case p == "/requests/logs/steps":
		s.onlyMethod(w, r, http.MethodGet, func() { s.listLogs(w, r, &s.stepLogs) })
	case p == "/requests/platform-logs":
		s.onlyMethod(w, r, http.MethodGet, func() { s.listLogs(w, r, &s.platformLogs) })
	case strings.HasPrefix(p, "/requests/logs/") && singleSegment(p, "/requests/logs/"):
		id := strings.TrimPrefix(p, "/requests/logs/")
		s.onlyMethod(w, r, http.MethodGet, func() { s.getRequestLog(w, r, id) })
	case p == "/logs/actions":
		s.onlyMethod(w, r, http.MethodPost, func() { s.listActions(w, r) })
	case strings.HasPrefix(p, "/logs/actions/") && singleSegment(p, "/logs/actions/"):
		id := strings.TrimPrefix(p, "/logs/actions/")
		s.onlyMethod(w, r, http.MethodGet, func() { s.getAction(w, r, id) })
	case p == "/logs/steps":
		s.onlyMethod(w, r, http.MethodPost, func() { s.listActionSteps(w, r) })
	default:
		s.writeError(w, http.StatusNotFound, fmt.Sprintf("Cannot %s %s", r.Method, p))
	}
}

func singleSegment(p, prefix string) bool {
	rest := strings.TrimPrefix(p, prefix)
	return rest != "" && !strings.Contains(rest, "/")
}

func (s *Server) onlyMethod(w http.ResponseWriter, r *http.Request, method string, h func()) {
	if r.Method != method {
		w.Header().Set("Allow", method)
		s.writeError(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	h()
}

func (s *Server) authorized(r *http.Request) bool {
	if s.opts.APIKey == "" {
		return true
	}
	h := r.Header.Get("Authorization")
	scheme, enc, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil {
		return false
	}
	// The contract says key as user and an empty password; a client sending
	// anything else has a bug worth surfacing.
	want := s.opts.APIKey + ":"
	return subtle.ConstantTimeCompare(raw, []byte(want)) == 1
}

func (s *Server) record(r *http.Request, body []byte) {
	rec := Recorded{
		At:     s.now(),
		Method: r.Method,
		Path:   r.URL.Path,
		Query:  cloneValues(r.URL.Query()),
		Header: r.Header.Clone(),
		Body:   bytes.Clone(body),
	}
	s.mu.Lock()
	s.recorded = append(s.recorded, rec)
	s.mu.Unlock()
}

// Requests returns copies of every request received so far, oldest first.
func (s *Server) Requests() []Recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Recorded, len(s.recorded))
	for i, r := range s.recorded {
		out[i] = Recorded{
			At:     r.At,
			Method: r.Method,
			Path:   r.Path,
			Query:  cloneValues(r.Query),
			Header: r.Header.Clone(),
			Body:   bytes.Clone(r.Body),
		}
	}
	return out
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

const timestampLayout = "2006-01-02T15:04:05.000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timestampLayout) }

type errorBody struct {
	StatusCode int    `json:"statusCode"`
	Message    string `json:"message"`
	Timestamp  string `json:"timestamp"`
}

func (s *Server) writeError(w http.ResponseWriter, status int, msg string) {
	s.writeJSON(w, status, errorBody{StatusCode: status, Message: msg, Timestamp: formatTime(s.now())})
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// URLs with query strings should read as they do on the wire, not as \u0026.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		msg := "Internal Server Error: " + err.Error()
		_ = json.NewEncoder(&buf).Encode(errorBody{StatusCode: status, Message: msg, Timestamp: formatTime(s.now())})
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", fmt.Sprint(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
