package stackonereceiver

import (
	"maps"
	"slices"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
)

// condition is one thing that can be wrong with a stream. Each is set by the step that sees it and cleared by
// the same step's next success, so a good API call does not hide a failing storage write.
type condition int

const (
	condAPI      condition = iota // API calls failing (after retries, or while retrying)
	condAuth                      // the key is rejected for this stream
	condDisabled                  // 404 repeatedly: off until restart
	condStorage                   // the position cannot be read or written
	condPipeline                  // the pipeline refuses pages
	condData                      // the API's answers break an assumption (order)
	condBehind                    // the request budget does not keep up with the stream's volume
	numConditions
)

// streamHealth is one stream's conditions, reported to the receiver's health on every change.
type streamHealth struct {
	name   string
	health *health
	mu     sync.Mutex
	errs   [numConditions]error
}

func (s *stream) setCondition(c condition, err error) {
	h := s.health
	h.mu.Lock()
	if err == nil && h.errs[c] == nil && (c != condAPI || h.errs[condAuth] == nil) {
		h.mu.Unlock()
		return
	}
	h.errs[c] = err
	if c == condAPI && err == nil {
		h.errs[condAuth] = nil // an accepted call proves the key
	}
	errs := h.errs
	h.mu.Unlock()
	h.health.update(h.name, errs)
}

// set records a condition that is not a stream's own (the leader election's), under the name it was given.
func (h *streamHealth) set(c condition, err error) {
	h.mu.Lock()
	if h.errs[c] == nil && err == nil {
		h.mu.Unlock()
		return
	}
	h.errs[c] = err
	errs := h.errs
	h.mu.Unlock()
	h.health.update(h.name, errs)
}

// clear forgets every condition: a stream that stopped polling (a replica standing by) has none.
func (h *streamHealth) clear() {
	h.mu.Lock()
	h.errs = [numConditions]error{}
	h.mu.Unlock()
	h.health.update(h.name, [numConditions]error{})
}

// health turns the streams' conditions into the component status:
//   - OK: every stream reads and saves.
//   - RecoverableError: at least one stream has a problem, including a key rejected for one stream while
//     another still delivers, or a stream disabled after repeated 404s. The error names the stream.
//   - PermanentError: no stream can deliver because the key is rejected (or the streams are disabled) on every
//     one of them. The collector keeps this status until restart, even if the key starts working again.
type health struct {
	mu       sync.Mutex
	host     component.Host
	streams  map[string][numConditions]error
	total    int
	reported *componentstatus.Event
}

func newHealth(total int) *health {
	return &health{streams: map[string][numConditions]error{}, total: total}
}

func (h *health) update(stream string, errs [numConditions]error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.streams[stream] = errs
	ev := h.status()
	if h.reported != nil && h.reported.Status() == ev.Status() && sameError(h.reported.Err(), ev.Err()) {
		return
	}
	if h.reported != nil && h.reported.Status() == componentstatus.StatusPermanentError {
		return // final until restart
	}
	if h.reported == nil && ev.Status() == componentstatus.StatusOK {
		h.reported = ev
		return // Start already reported OK
	}
	h.reported = ev
	if h.host != nil {
		componentstatus.ReportStatus(h.host, ev)
	}
}

// severity orders the conditions for the one error the status can carry.
var severity = [...]condition{condAuth, condDisabled, condStorage, condData, condPipeline, condAPI, condBehind}

func (h *health) status() *componentstatus.Event {
	var worst error
	dead := 0
	names := slices.Sorted(maps.Keys(h.streams))
	for _, c := range severity {
		for _, name := range names {
			if err := h.streams[name][c]; err != nil && worst == nil {
				worst = streamError{stream: name, err: err}
			}
		}
	}
	for _, errs := range h.streams {
		if errs[condAuth] != nil || errs[condDisabled] != nil {
			dead++
		}
	}
	switch {
	case dead == h.total && dead > 0:
		return componentstatus.NewPermanentErrorEvent(worst)
	case worst != nil:
		return componentstatus.NewRecoverableErrorEvent(worst)
	}
	return componentstatus.NewEvent(componentstatus.StatusOK)
}

// streamError names the stream an error belongs to, for the status page and health_check.
type streamError struct {
	stream string
	err    error
}

func (e streamError) Error() string { return e.stream + ": " + e.err.Error() }
func (e streamError) Unwrap() error { return e.err }

func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Error() == b.Error()
}
