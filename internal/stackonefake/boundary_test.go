package stackonefake

import (
	"fmt"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// pagesOf follows `next` to the end and returns every page's ids.
func pagesOf(t *testing.T, ts *httptest.Server, path string, q url.Values) [][]string {
	t.Helper()
	q = cloneValues(q)
	var pages [][]string
	for range 1000 {
		p := fetchPage(t, ts, path, q)
		pages = append(pages, field(p.Data, "request_id"))
		if p.Next == nil {
			return pages
		}
		q.Set("next", *p.Next)
	}
	t.Fatal("paging did not end")
	return nil
}

func TestRepeatBoundariesOnCursorStreams(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		n        int
		pageSize string
		dir      string
		rate     float64
		// wantRepeats: -1 = every continued page, else exactly this many.
		wantRepeats int
		someNotAll  bool
	}{
		{"off", "/requests/logs", 95, "10", "asc", 0, 0, false},
		{"every continued page, asc", "/requests/logs", 95, "10", "asc", 1, -1, false},
		{"every continued page, desc", "/requests/logs", 95, "10", "desc", 1, -1, false},
		{"steps", "/requests/logs/steps", 40, "7", "asc", 1, -1, false},
		{"platform logs", "/requests/platform-logs", 40, "7", "asc", 1, -1, false},
		{"pages of one never repeat: they could not move on", "/requests/logs", 5, "1", "asc", 1, 0, false},
		{"a share of them", "/requests/logs", 600, "10", "asc", 0.3, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, ts := newTestServer(t, Options{})
			var gen []map[string]any
			switch tt.path {
			case "/requests/logs/steps":
				gen = ascending(tt.n, "start_time")
				fake.AddStepLogs(gen...)
			case "/requests/platform-logs":
				gen = ascending(tt.n, "event_datetime")
				fake.AddPlatformLogs(gen...)
			default:
				gen = fake.GenerateRequestLogs(tt.n, t0, time.Second, 3)
			}
			fake.RepeatBoundaries(tt.rate)
			size, err := strconv.Atoi(tt.pageSize)
			require.NoError(t, err)
			pages := pagesOf(t, ts, tt.path, url.Values{"page_size": {tt.pageSize}, "order_direction": {tt.dir}})

			repeats := 0
			var got []string
			for i, p := range pages {
				require.NotEmpty(t, p)
				require.LessOrEqual(t, len(p), size, "never more than page_size")
				if i > 0 && p[0] == pages[i-1][len(pages[i-1])-1] {
					repeats++
					p = p[1:]
				}
				got = append(got, p...)
			}
			// Once the repeats are dropped, every entry is there once, in order: nothing skipped.
			want := field(gen, "request_id")
			if tt.path == "/requests/logs" {
				want = expectedOrder(gen, tt.dir == "desc")
			}
			require.Equal(t, want, got)
			require.Equal(t, repeats, fake.BoundaryRepeats())
			switch {
			case tt.wantRepeats < 0:
				require.Equal(t, len(pages)-1, repeats)
			case tt.someNotAll:
				require.Greater(t, repeats, 0)
				require.Less(t, repeats, len(pages)-1)
			default:
				require.Equal(t, tt.wantRepeats, repeats)
			}
		})
	}
}

// ascending returns n entries with ascending times under timeKey and ascending ids, so their served order is
// this order.
func ascending(n int, timeKey string) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = map[string]any{"request_id": fmt.Sprintf("req-%03d", i), timeKey: formatTime(t0.Add(time.Duration(i) * time.Second))}
	}
	return out
}

func TestRepeatBoundariesAnswerTheSamePositionAlike(t *testing.T) {
	fake, ts := newTestServer(t, Options{})
	fake.GenerateRequestLogs(600, t0, time.Second, 5)
	fake.RepeatBoundaries(0.5)
	q := url.Values{"page_size": {"10"}, "order_direction": {"asc"}}
	for range 100 {
		p := fetchPage(t, ts, "/requests/logs", q)
		// A retry of the same cursor is answered as the first try was.
		require.Equal(t, field(p.Data, "request_id"), field(fetchPage(t, ts, "/requests/logs", q).Data, "request_id"))
		if p.Next == nil {
			return
		}
		q.Set("next", *p.Next)
	}
	t.Fatal("paging did not end")
}

func TestRepeatBoundariesOnActionLogs(t *testing.T) {
	tests := []struct {
		name      string
		rate      float64
		start     int // index of the first entry at or after start_time; -1: no start_time
		filter    string
		wantExtra string // log_id of the entry the answer holds beyond the bounds; "" = none
	}{
		{"off", 0, 20, "", ""},
		{"the newest entry before start_time", 1, 20, "", "@19"},
		{"no start_time, no boundary", 1, -1, "", ""},
		{"nothing before start_time", 1, 0, "", ""},
		{"the newest before start_time that the filters keep", 1, 20, `"success":false,`, "@filtered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, ts := newTestServer(t, Options{})
			gen := fake.GenerateActionLogs(53, t0, time.Second, 11)
			fake.RepeatBoundaries(tt.rate)
			startField := ""
			inRange := gen
			if tt.start >= 0 {
				startField = fmt.Sprintf(`"start_time":%q,`, formatTime(t0.Add(time.Duration(tt.start)*time.Second)))
				inRange = gen[tt.start:]
			}
			keep := func(e map[string]any) bool { return tt.filter == "" || e["success"] == false }
			var want []string
			for _, e := range inRange {
				if keep(e) {
					want = append(want, e["log_id"].(string))
				}
			}
			switch tt.wantExtra {
			case "@19":
				want = append([]string{gen[19]["log_id"].(string)}, want...)
			case "@filtered":
				require.Equal(t, true, gen[19]["success"], "the entry just before start_time is one the filter drops")
				for i := tt.start - 1; i >= 0; i-- {
					if keep(gen[i]) {
						want = append([]string{gen[i]["log_id"].(string)}, want...)
						break
					}
				}
			}

			// Offset pages over the widened set: every page agrees on it, so nothing is skipped.
			var got []string
			for page := 1; page <= 10; page++ {
				body := fmt.Sprintf(`{"filters":{%s%s"order_direction":"asc"},"page":%d,"page_size":10}`, startField, tt.filter, page)
				p := actionPage(t, ts, body)
				require.Equal(t, len(want), p.Total)
				got = append(got, field(p.Data, "log_id")...)
			}
			require.Equal(t, want, got)
			if tt.wantExtra == "" {
				require.Zero(t, fake.BoundaryRepeats())
			} else {
				require.Equal(t, 1, fake.BoundaryRepeats(), "only the page that carries it counts")
			}
		})
	}
}

func TestRepeatBoundariesOnActionLogsReadByTime(t *testing.T) {
	// The receiver's way: page 1 again and again, each from the newest event time read less a millisecond.
	// Every read after the first also holds the entry before its start_time, and none is lost.
	fake, ts := newTestServer(t, Options{})
	gen := fake.GenerateActionLogs(95, t0, time.Second, 13)
	fake.RepeatBoundaries(1)
	start := t0.Add(-time.Hour)
	seen := map[string]bool{}
	reads := 0
	for ; ; reads++ {
		require.Less(t, reads, 100, "reading did not end")
		p := actionPage(t, ts, fmt.Sprintf(`{"filters":{"start_time":%q,"order_direction":"asc"},"page":1,"page_size":10}`, formatTime(start)))
		newest := start
		for i, e := range p.Data {
			seen[e["log_id"].(string)] = true
			at, err := time.Parse(time.RFC3339Nano, e["event_time"].(string))
			require.NoError(t, err)
			if reads > 0 && i == 0 {
				require.True(t, at.Before(start), "the boundary entry comes first")
			}
			if at.After(newest) {
				newest = at
			}
		}
		if len(p.Data) == p.Total {
			break
		}
		start = newest.Add(-time.Millisecond)
	}
	for _, e := range gen {
		require.True(t, seen[e["log_id"].(string)], "every entry read")
	}
	require.Equal(t, reads, fake.BoundaryRepeats(), "one per read after the first")
}
