package main

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
)

// The attribute that identifies a record of each stream the bench loads: request logs by their request id,
// action logs by their log id (an action log has no request id).
const (
	requestIDAttr = "stackone.request_id"
	logIDAttr     = "stackone.log_id"
)

// sink is an OTLP/HTTP logs endpoint (protobuf or JSON, optionally gzip) that remembers, for every value of
// its id attribute, when it first arrived and how often.
type sink struct {
	idAttr string

	mu        sync.Mutex
	first     map[string]time.Time
	count     map[string]int
	records   int
	noID      int
	requests  int
	badBodies int

	expected        map[string]struct{}
	expectedArrived int
}

func newSink(idAttr string) *sink {
	return &sink{idAttr: idAttr, first: map[string]time.Time{}, count: map[string]int{}, expected: map[string]struct{}{}}
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	if r.URL.Path != "/v1/logs" || r.Method != http.MethodPost {
		http.Error(w, "only POST /v1/logs", http.StatusNotFound)
		return
	}
	var body io.Reader = r.Body
	switch enc := strings.ToLower(r.Header.Get("Content-Encoding")); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			s.bad(w, err)
			return
		}
		defer func() { _ = zr.Close() }()
		body = zr
	default:
		http.Error(w, "unsupported Content-Encoding "+enc, http.StatusUnsupportedMediaType)
		return
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		s.bad(w, err)
		return
	}
	isJSON := strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/json")
	req := plogotlp.NewExportRequest()
	if isJSON {
		err = req.UnmarshalJSON(raw)
	} else {
		err = req.UnmarshalProto(raw)
	}
	if err != nil {
		s.bad(w, err)
		return
	}
	s.take(req, now)

	resp := plogotlp.NewExportResponse()
	var out []byte
	if isJSON {
		out, err = resp.MarshalJSON()
		w.Header().Set("Content-Type", "application/json")
	} else {
		out, err = resp.MarshalProto()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = w.Write(out)
}

// bad answers 400, which OTLP exporters treat as permanent: a body the sink cannot read is a harness bug to
// see in the summary, not something to retry forever.
func (s *sink) bad(w http.ResponseWriter, err error) {
	s.mu.Lock()
	s.badBodies++
	s.mu.Unlock()
	http.Error(w, fmt.Sprintf("cannot decode OTLP logs: %v", err), http.StatusBadRequest)
}

func (s *sink) take(req plogotlp.ExportRequest, now time.Time) {
	logs := req.Logs()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	for i := 0; i < logs.ResourceLogs().Len(); i++ {
		sls := logs.ResourceLogs().At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				s.records++
				v, ok := lrs.At(k).Attributes().Get(s.idAttr)
				if !ok || v.AsString() == "" {
					s.noID++
					continue
				}
				id := v.AsString()
				if s.count[id] == 0 {
					s.first[id] = now
					if _, ok := s.expected[id]; ok {
						s.expectedArrived++
					}
				}
				s.count[id]++
			}
		}
	}
}

type sinkTotals struct {
	Records, Distinct, Duplicates, NoID, Requests, BadBodies int
	First                                                    map[string]time.Time
	Count                                                    map[string]int
}

func (s *sink) totals() sinkTotals {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := sinkTotals{Records: s.records, Distinct: len(s.first), NoID: s.noID, Requests: s.requests, BadBodies: s.badBodies,
		First: make(map[string]time.Time, len(s.first)), Count: make(map[string]int, len(s.count))}
	for id, at := range s.first {
		t.First[id] = at
	}
	for id, n := range s.count {
		t.Count[id] = n
		t.Duplicates += n - 1
	}
	return t
}

// expect registers ids the run waits for; missing counts those that have not arrived yet.
func (s *sink) expect(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if _, dup := s.expected[id]; dup {
			continue
		}
		s.expected[id] = struct{}{}
		if s.count[id] > 0 {
			s.expectedArrived++
		}
	}
}

func (s *sink) missing() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.expected) - s.expectedArrived
}
