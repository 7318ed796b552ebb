package stackonefake

import (
	"bytes"
	"net/http"
	"strconv"
	"time"
)

// Fault is a scripted misbehaviour. Faults queue up in injection order; each
// request takes the first one that matches it.
type Fault struct {
	Path       string        // request path it applies to, e.g. "/requests/logs"; "" = any
	OnCursor   bool          // only requests that carry a `next` cursor
	Status     int           // status to answer with the standard error body; 0 with Truncate = the real answer, cut off
	RetryAfter string        // Retry-After header value, if any
	Truncate   bool          // send only the first half of the real body, then drop the connection
	Delay      time.Duration // wait this long (or until the request context ends) before answering
	Times      int           // how many matching requests it applies to; 0 = 1
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
		if f.Path != "" && f.Path != r.URL.Path || f.OnCursor && !hasCursor {
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
	case f.Status != 0 && !(f.Truncate && f.Status == http.StatusOK):
		s.writeError(w, f.Status, http.StatusText(f.Status))
		return true
	case f.Truncate:
		s.writeTruncated(w, r)
		return true
	default:
		return false
	}
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
