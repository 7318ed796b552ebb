package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
)

func getLogs(t *testing.T, url string) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url+"/requests/logs?page_size=5", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(apiKey, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func TestAPIFrontFaultsAndCallLog(t *testing.T) {
	fake := stackonefake.New(stackonefake.Options{APIKey: apiKey})
	fake.GenerateRequestLogs(20, time.Now().Add(-time.Hour), time.Minute, 1)
	front := newAPIFront(fake, 7)
	srv := httptest.NewServer(front)
	defer srv.Close()

	var firstCalls int
	calls := front.begin(func(time.Time) { firstCalls++ })
	resp, body, err := getLogs(t, srv.URL)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("without faults: %v %v", resp, err)
	}
	var page struct {
		Data []map[string]any `json:"data"`
	}
	if err := json.Unmarshal(body, &page); err != nil || len(page.Data) != 5 {
		t.Fatalf("page: %v, %d entries", err, len(page.Data))
	}

	// Every call fails: each kind shows up, and each is one a client must retry.
	front.setFaultRate(1, false)
	seen := map[string]bool{}
	for i := 0; i < 60; i++ {
		resp, body, err := getLogs(t, srv.URL)
		switch {
		case err != nil:
			seen["transport"] = true
		case resp.StatusCode == http.StatusTooManyRequests:
			if resp.Header.Get("Retry-After") != "1" {
				t.Errorf("429 without Retry-After: 1: %v", resp.Header)
			}
			seen["429"] = true
		case resp.StatusCode >= 500:
			seen["5xx"] = true
		case resp.StatusCode == http.StatusOK:
			// A cut-off body may reach the client as a short read rather than a transport error.
			if json.Valid(body) {
				t.Fatalf("a faulted call answered a complete page: %s", body)
			}
			seen["transport"] = true
		default:
			t.Fatalf("unexpected answer %s", resp.Status)
		}
	}
	for _, k := range []string{"429", "5xx", "transport"} {
		if !seen[k] {
			t.Errorf("no %s fault in 60 calls at rate 1: %v", k, seen)
		}
	}

	times, pages, faults := calls.snapshot()
	if len(times) != 61 || pages != 1 || firstCalls != 1 {
		t.Errorf("calls %d pages %d onFirst %d; want 61, 1, 1", len(times), pages, firstCalls)
	}
	if faults["429"]+faults["5xx"]+faults["truncated"] != 60 {
		t.Errorf("faults = %v, want 60 in all", faults)
	}
}

func TestFaultSequence(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rate    float64
		calls   int
		wantIdx []int // 1-based calls that fail
	}{
		{"one in four", 0.25, 12, []int{4, 8, 12}},
		{"one in three", 1.0 / 3, 9, []int{3, 6, 9}},
		{"all", 1, 3, []int{1, 2, 3}},
		{"none", 0, 8, nil},
		{"two in five", 0.4, 10, []int{3, 5, 8, 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAPIFront(nil, 1)
			a.setFaultRate(tc.rate, false)
			var failed []int
			var kinds []faultKind
			for i := 1; i <= tc.calls; i++ {
				if k, _ := a.nextFaultLocked(); k != noFault {
					failed = append(failed, i)
					kinds = append(kinds, k)
				}
			}
			if !slices.Equal(failed, tc.wantIdx) {
				t.Errorf("failing calls %v, want %v", failed, tc.wantIdx)
			}
			// The kinds take turns, so three faults are one of each.
			for i, k := range kinds {
				if want := faultKind(1 + i%3); k != want {
					t.Errorf("fault %d is kind %d, want %d", i, k, want)
				}
			}
		})
	}
	// A new rate starts a new sequence.
	a := newAPIFront(nil, 1)
	a.setFaultRate(0.5, false)
	a.nextFaultLocked()
	a.setFaultRate(0.5, false)
	if k, _ := a.nextFaultLocked(); k != noFault {
		t.Error("the first call after setFaultRate(0.5) failed; the sequence did not restart")
	}
}

func TestLiveTrafficLateArrivals(t *testing.T) {
	fake := stackonefake.New(stackonefake.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	visible := map[string]time.Time{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		add := func(at time.Time) string { return logKinds["requests"].generate(fake, 1, at, 0, 3)[0] }
		liveTraffic(ctx, add, 2000, 1, 30*time.Second, 3, func(id string, at time.Time) {
			mu.Lock()
			visible[id] = at
			mu.Unlock()
		})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(visible)
		mu.Unlock()
		if n >= 50 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done

	// Every log is late (fraction 1): its event time lies before the moment it became visible, by at most
	// maxLate, and the fake serves exactly the ids that were reported.
	var page struct {
		Data []map[string]any `json:"data"`
	}
	for next := ""; ; {
		q := url.Values{"page_size": {"100"}}
		if next != "" {
			q.Set("next", next)
		}
		rec := httptest.NewRecorder()
		fake.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/requests/logs?"+q.Encode(), nil))
		var p struct {
			Data []map[string]any `json:"data"`
			Next *string          `json:"next"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Code != http.StatusOK {
			t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
		}
		page.Data = append(page.Data, p.Data...)
		if p.Next == nil {
			break
		}
		next = *p.Next
	}
	mu.Lock()
	defer mu.Unlock()
	if len(visible) < 50 || len(page.Data) != len(visible) {
		t.Fatalf("%d ids reported visible, fake holds %d", len(visible), len(page.Data))
	}
	for _, e := range page.Data {
		id, _ := e["request_id"].(string)
		vis, ok := visible[id]
		if !ok {
			t.Fatalf("fake holds %s, never reported visible", id)
		}
		at, err := time.Parse(time.RFC3339Nano, e["event_datetime"].(string))
		if err != nil {
			t.Fatal(err)
		}
		// Event times carry milliseconds only.
		if lateness := vis.Sub(at); lateness < -time.Millisecond || lateness > 30*time.Second+time.Millisecond {
			t.Errorf("%s: event time %s is %s before it became visible", id, at, lateness)
		}
	}
}

// TestLogKindsServeTheIDsTheyReport: the ids the driver expects are the ones the fake serves, by the field the
// sink tells them apart by.
func TestLogKindsServeTheIDsTheyReport(t *testing.T) {
	for _, tc := range []struct {
		kind, method, path, body, idField string
	}{
		{"requests", http.MethodGet, "/requests/logs?page_size=100", "", "request_id"},
		{"actions", http.MethodPost, "/logs/actions", `{"page_size":100}`, "log_id"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			fake := stackonefake.New(stackonefake.Options{})
			k := logKinds[tc.kind]
			want := k.generate(fake, 5, time.Now().Add(-time.Hour), time.Second, 1)
			want = append(want, k.generate(fake, 1, time.Now(), 0, 2)...)
			rec := httptest.NewRecorder()
			fake.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body)))
			var page struct {
				Data []map[string]any `json:"data"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range page.Data {
				got = append(got, e[tc.idField].(string))
			}
			slices.Sort(got)
			slices.Sort(want)
			if len(want) != 6 || !slices.Equal(got, want) {
				t.Errorf("served %v, reported %v", got, want)
			}
		})
	}
}
