package stackonefake

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault is a scripted misbehaviour. Faults queue up in injection order; each
// request takes the first one that matches it.
type Fault struct {
	Path       string        // request path it applies to, e.g. "/requests/logs", or "/requests/logs/*" for one segment under it; "" = any
	OnCursor   bool          // only requests that carry a `next` cursor
	Status     int           // status to answer with the standard error body; 0 with Truncate = the real answer, cut off
	Message    string        // the error body's message; "" = the status text
	RetryAfter string        // Retry-After header value, if any
	Truncate   bool          // send only the first half of the real body, then drop the connection
	Delay      time.Duration // wait this long (or until the request context ends) before answering
	Times      int           // how many matching requests it applies to; 0 = 1
	// BodySize grows the answer (the real one, or the error of Status) to
	// exactly this many bytes with a "padding" string field at the top level,
	// so it stays valid JSON of the documented shape; an answer already that
	// large is sent as it is.
	BodySize int
	// TinyObjects answers 200 with a page of this many empty objects ({}),
	// whatever page_size asked for: a small body that decodes into a huge
	// number of entries.
	TinyObjects int
	// Chunked sends a BodySize or TinyObjects answer without Content-Length,
	// so a client learns its size only by reading it.
	Chunked bool
}

func (f Fault) message() string {
	if f.Message != "" {
		return f.Message
	}
	return http.StatusText(f.Status)
}

type pendingFault struct {
	Fault
	left int
}

// InjectFault queues f behind any faults already queued.
func (s *Server) InjectFault(f Fault) {
	left := f.Times
	if left <= 0 {
		left = 1
	}
	s.mu.Lock()
	s.faults = append(s.faults, &pendingFault{Fault: f, left: left})
	s.mu.Unlock()
}

func (s *Server) takeFault(r *http.Request) (Fault, bool) {
	hasCursor := r.URL.Query().Get("next") != ""
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if !faultPathMatches(f.Path, r.URL.Path) || f.OnCursor && !hasCursor {
			continue
		}
		f.left--
		if f.left == 0 {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		return f.Fault, true
	}
	return Fault{}, false
}

// faultPathMatches: "" matches any path, "/requests/logs/*" any one segment under it (every detail call).
func faultPathMatches(pattern, p string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(p, prefix) && singleSegment(p, prefix)
	}
	return pattern == "" || pattern == p
}

// applyFault answers r according to f and reports whether it did; false means
// normal handling should follow (a pure delay).
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f Fault) bool {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			// The client gave up; nobody is left to read an answer.
			return true
		}
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	switch {
	case f.TinyObjects > 0:
		writeTinyObjects(w, r, f.TinyObjects, f.Chunked)
		return true
	case f.BodySize > 0 && !f.Truncate:
		rec := &capture{header: http.Header{}, status: http.StatusOK}
		if f.Status != 0 {
			s.writeError(rec, f.Status, f.message())
		} else {
			s.handle(rec, r)
		}
		writePadded(w, rec, f.BodySize, f.Chunked)
		return true
	case f.Status != 0 && !(f.Truncate && f.Status == http.StatusOK):
		s.writeError(w, f.Status, f.message())
		return true
	case f.Truncate:
		s.writeTruncated(w, r)
		return true
	default:
		return false
	}
}

// writePadded sends rec's answer grown to size bytes. The padding is a string
// field when there is room for one, and JSON whitespace for the last few
// bytes, so the size is exact whatever the answer was.
func writePadded(w http.ResponseWriter, rec *capture, size int, chunked bool) {
	body := rec.body.Bytes()
	trimmed := bytes.TrimRight(body, " \n")
	if gap := size - len(body); gap > 0 && bytes.HasSuffix(trimmed, []byte("}")) {
		open := trimmed[:len(trimmed)-1]
		field := `,"padding":"`
		if bytes.HasSuffix(bytes.TrimRight(open, " "), []byte("{")) {
			field = field[1:]
		}
		var b bytes.Buffer
		b.Grow(size)
		b.Write(open)
		if n := size - len(open) - len(field) - len(`"}`); n >= 0 {
			b.WriteString(field)
			b.Write(bytes.Repeat([]byte("x"), n))
			b.WriteByte('"')
		}
		b.Write(bytes.Repeat([]byte(" "), size-b.Len()-1))
		b.WriteByte('}')
		body = b.Bytes()
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	if chunked {
		w.Header().Del("Content-Length")
	} else {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(rec.status)
	writeInPieces(w, body, chunked)
}

// writeTinyObjects streams {"data":[{},{},...]} without building it in
// memory. The page ends like the endpoint's own: a null cursor on the cursor
// streams, a total on /logs/actions and /logs/steps.
func writeTinyObjects(w http.ResponseWriter, r *http.Request, n int, chunked bool) {
	head := `{"data":[`
	tail := `],"next":null}`
	if r.URL.Path == "/logs/actions" || r.URL.Path == "/logs/steps" {
		tail = `],"total":` + strconv.Itoa(n) + `}`
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if !chunked {
		w.Header().Set("Content-Length", strconv.Itoa(len(head)+3*n-1+len(tail)))
	}
	w.WriteHeader(http.StatusOK)
	if _, err := io.WriteString(w, head); err != nil {
		return
	}
	piece := bytes.Repeat([]byte("{},"), 1<<14)
	for left := n; left > 0; {
		k := min(left, 1<<14)
		chunk := piece[:3*k]
		if left == k {
			chunk = chunk[:len(chunk)-1] // no comma after the last element
		}
		if !writeInPieces(w, chunk, chunked) {
			return
		}
		left -= k
	}
	_, _ = io.WriteString(w, tail)
}

// writeInPieces writes b, flushing after each piece when chunked so the
// client sees a stream rather than one buffered answer. It reports whether
// the client was still reading.
func writeInPieces(w http.ResponseWriter, b []byte, chunked bool) bool {
	for len(b) > 0 {
		k := min(len(b), 64<<10)
		if _, err := w.Write(b[:k]); err != nil {
			return false
		}
		if f, ok := w.(http.Flusher); ok && chunked {
			f.Flush()
		}
		b = b[k:]
	}
	return true
}

// writeTruncated sends the real answer's headers, including its full
// Content-Length, and half its body. net/http then closes the connection
// because the body came up short, so the client sees an unexpected EOF in
// the middle of the JSON, as with a proxy or network cut.
func (s *Server) writeTruncated(w http.ResponseWriter, r *http.Request) {
	rec := &capture{header: http.Header{}, status: http.StatusOK}
	s.handle(rec, r)
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(rec.body.Len()))
	w.WriteHeader(rec.status)
	_, _ = w.Write(rec.body.Bytes()[:rec.body.Len()/2])
}

type capture struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *capture) Header() http.Header         { return c.header }
func (c *capture) WriteHeader(status int)      { c.status = status }
func (c *capture) Write(b []byte) (int, error) { return c.body.Write(b) }
