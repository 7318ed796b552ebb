package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
)

// apiFront sits in front of the bundled fake: it makes every call take a fixed latency, fails a share of calls
// the way a struggling API does, and logs the time of every call against the producer currently reading (one
// producer at a time), so requests per minute can be checked afterwards.
type apiFront struct {
	fake    *stackonefake.Server
	latency atomic.Int64 // nanoseconds

	mu          sync.Mutex
	faultRate   float64
	randomFault bool
	rng         *rand.Rand
	calls       int // since the fault rate was set
	failed      int
	phase       *callLog
}

func newAPIFront(fake *stackonefake.Server, seed int64) *apiFront {
	return &apiFront{fake: fake, rng: rand.New(rand.NewPCG(uint64(seed), 0xfa17))}
}

// nextFaultLocked decides the fate of the next call. By default exactly the given share fails, evenly spread
// (at 0.25: every fourth call), and the kinds take turns: 429, 5xx, cut-off body. A backlog of a few dozen
// pages then meets the same faults in every run, where drawing them at random would make the rate a matter of
// luck. randomFault draws both instead.
func (a *apiFront) nextFaultLocked() (faultKind, int) {
	if a.faultRate <= 0 {
		return noFault, 0
	}
	a.calls++
	statuses := []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}
	if a.randomFault {
		if a.rng.Float64() >= a.faultRate {
			return noFault, 0
		}
		return faultKind(1 + a.rng.IntN(3)), statuses[a.rng.IntN(3)]
	}
	if int(float64(a.calls)*a.faultRate) == int(float64(a.calls-1)*a.faultRate) {
		return noFault, 0
	}
	a.failed++
	return faultKind(1 + (a.failed-1)%3), statuses[((a.failed-1)/3)%3]
}

func (a *apiFront) setLatency(d time.Duration) { a.latency.Store(int64(d)) }

// setFaultRate starts a new fault sequence; random draws faults at random instead of evenly.
func (a *apiFront) setFaultRate(r float64, random bool) {
	a.mu.Lock()
	a.faultRate, a.randomFault, a.calls, a.failed = r, random, 0, 0
	a.mu.Unlock()
}

// begin routes the calls that follow to a new log; onFirst runs once, on the first call, before any latency.
func (a *apiFront) begin(onFirst func(time.Time)) *callLog {
	l := &callLog{onFirst: onFirst, faults: map[string]int{}}
	a.mu.Lock()
	a.phase = l
	a.mu.Unlock()
	return l
}

// callLog is what one producer did to the API.
type callLog struct {
	onFirst func(time.Time)
	once    sync.Once

	mu     sync.Mutex
	times  []time.Time
	detail []time.Time // the calls among times that asked for a failed request's detail
	reads  []time.Time // the others: pages
	pages  int         // 200 answers with data
	faults map[string]int
}

// isDetailCall: GET /requests/logs/{id}, the detail of one failed request.
func isDetailCall(path string) bool {
	id, ok := strings.CutPrefix(path, "/requests/logs/")
	return ok && id != "steps" && !strings.Contains(id, "/")
}

func (l *callLog) split() (detail, reads []time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Time(nil), l.detail...), append([]time.Time(nil), l.reads...)
}

func (l *callLog) snapshot() (times []time.Time, pages int, faults map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := make(map[string]int, len(l.faults))
	for k, v := range l.faults {
		f[k] = v
	}
	return append([]time.Time(nil), l.times...), l.pages, f
}

type faultKind int

const (
	noFault faultKind = iota
	fault429
	fault5xx
	faultTruncate
)

func (a *apiFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	a.mu.Lock()
	l := a.phase
	kind, status5xx := a.nextFaultLocked()
	a.mu.Unlock()
	if l != nil {
		l.mu.Lock()
		l.times = append(l.times, now)
		if isDetailCall(r.URL.Path) {
			l.detail = append(l.detail, now)
		} else {
			l.reads = append(l.reads, now)
		}
		l.mu.Unlock()
		if l.onFirst != nil {
			l.once.Do(func() { l.onFirst(now) })
		}
	}

	if d := time.Duration(a.latency.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}

	count := func(name string) {
		if l != nil {
			l.mu.Lock()
			l.faults[name]++
			l.mu.Unlock()
		}
	}
	switch kind {
	case fault429:
		count("429")
		w.Header().Set("Retry-After", "1")
		writeAPIError(w, http.StatusTooManyRequests)
	case fault5xx:
		count("5xx")
		writeAPIError(w, status5xx)
	case faultTruncate:
		count("truncated")
		// The real answer's headers, its full Content-Length and half its body: net/http then drops the
		// connection, and the client sees the JSON end in the middle.
		rec := httptest.NewRecorder()
		a.fake.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		body := rec.Body.Bytes()
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body[:len(body)/2])
	default:
		sw := &statusWriter{ResponseWriter: w}
		a.fake.ServeHTTP(sw, r)
		if l != nil && (sw.status == 0 || sw.status == http.StatusOK) {
			l.mu.Lock()
			l.pages++
			l.mu.Unlock()
		}
	}
}

// writeAPIError answers with StackOne's error body.
func writeAPIError(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"statusCode":%d,"message":%q,"timestamp":%q}`+"\n",
		status, http.StatusText(status), time.Now().UTC().Format("2006-01-02T15:04:05.000Z"))
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(status int) {
	s.status = status
	s.ResponseWriter.WriteHeader(status)
}

// visibility remembers when each id became visible in the API.
type visibility struct {
	mu sync.Mutex
	at map[string]time.Time
}

func newVisibility() *visibility { return &visibility{at: map[string]time.Time{}} }

func (v *visibility) add(id string, t time.Time) {
	v.mu.Lock()
	v.at[id] = t
	v.mu.Unlock()
}

func (v *visibility) snapshot() map[string]time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]time.Time, len(v.at))
	for k, t := range v.at {
		out[k] = t
	}
	return out
}

// liveTraffic adds logs through add at rate per second until ctx ends; a lateFraction of them carry an event
// time up to maxLate before the moment they are added (StackOne indexing them late). add stores one log with
// that event time and returns its id; onVisible gets each id with the moment it became visible.
func liveTraffic(ctx context.Context, add func(at time.Time) string, rate, lateFraction float64, maxLate time.Duration, seed int64, onVisible func(id string, at time.Time)) {
	if rate <= 0 {
		return
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x11fe))
	start := time.Now()
	produced := 0
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			due := int(now.Sub(start).Seconds()*rate) - produced
			for range due {
				at := time.Now()
				if rng.Float64() < lateFraction {
					at = at.Add(-time.Duration(rng.Float64() * float64(maxLate)))
				}
				if id := add(at); id != "" {
					onVisible(id, time.Now())
				}
				produced++
			}
		}
	}
}

// logKind is which stream the bench loads: its backlog and its live traffic.
type logKind struct {
	name   string
	idAttr string // the attribute the sink tells records apart by
	// generate stores n logs with event times from, from+step, ... and returns their ids.
	generate func(fake *stackonefake.Server, n int, from time.Time, step time.Duration, seed int64) []string
}

var logKinds = map[string]logKind{
	"requests": {name: "requests", idAttr: requestIDAttr, generate: func(f *stackonefake.Server, n int, from time.Time, step time.Duration, seed int64) []string {
		return ids(f.GenerateRequestLogs(n, from, step, seed), "request_id")
	}},
	"actions": {name: "actions", idAttr: logIDAttr, generate: func(f *stackonefake.Server, n int, from time.Time, step time.Duration, seed int64) []string {
		return ids(f.GenerateActionLogs(n, from, step, seed), "log_id")
	}},
}

func ids(entries []map[string]any, key string) []string {
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		if id, _ := e[key].(string); id != "" {
			out = append(out, id)
		}
	}
	return out
}
