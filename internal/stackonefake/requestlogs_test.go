package stackonefake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// expectedOrder sorts generated entries the way the server must serve them.
func expectedOrder(entries []map[string]any, desc bool) []string {
	es := slices.Clone(entries)
	slices.SortStableFunc(es, func(a, b map[string]any) int {
		if c := strings.Compare(lookupString(a, "event_datetime"), lookupString(b, "event_datetime")); c != 0 {
			return c
		}
		return strings.Compare(lookupString(a, "request_id"), lookupString(b, "request_id"))
	})
	ids := field(es, "request_id")
	if desc {
		slices.Reverse(ids)
	}
	return ids
}

func TestPagingVisitsEveryEntryOnce(t *testing.T) {
	tests := []struct {
		name     string
		n        int
		step     time.Duration
		pageSize string
		dir      string
		filter   url.Values
	}{
		{"asc pages of 10", 237, 1500 * time.Millisecond, "10", "asc", nil},
		{"desc by default", 237, 1500 * time.Millisecond, "10", "", nil},
		{"page size 1", 40, time.Second, "1", "asc", nil},
		{"one page", 40, time.Second, "100", "asc", nil},
		{"default page size", 80, time.Second, "", "desc", nil},
		{"identical timestamps tie on request id", 60, 0, "7", "asc", nil},
		{"identical timestamps desc", 60, 0, "7", "desc", nil},
		{"filtered", 300, time.Second, "9", "asc", url.Values{"providers": {"bamboohr,workday"}, "success": {"true"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, ts := newTestServer(t, Options{})
			gen := fake.GenerateRequestLogs(tt.n, t0, tt.step, 7)
			want := gen
			if tt.filter != nil {
				want = slices.DeleteFunc(slices.Clone(gen), func(e map[string]any) bool {
					p := e["provider"]
					return !(p == "bamboohr" || p == "workday") || e["success"] != true
				})
				require.NotEmpty(t, want)
			}
			q := cloneValues(tt.filter)
			if q == nil {
				q = url.Values{}
			}
			if tt.pageSize != "" {
				q.Set("page_size", tt.pageSize)
			}
			if tt.dir != "" {
				q.Set("order_direction", tt.dir)
			}
			got := field(pageAll(t, ts, "/requests/logs", q), "request_id")
			require.Equal(t, expectedOrder(want, tt.dir != "asc"), got)
		})
	}
}

func TestPagingReachesEntriesInsertedBehindTheCursor(t *testing.T) {
	at := func(sec float64) string { return formatTime(t0.Add(time.Duration(sec * float64(time.Second)))) }
	entry := func(id string, sec float64) map[string]any {
		return map[string]any{"request_id": id, "event_datetime": at(sec), "provider": "hibob"}
	}
	tests := []struct {
		name      string
		dir       string
		inserted  []map[string]any
		reachable []string // of the inserted ids
	}{
		{
			name: "asc",
			dir:  "asc",
			inserted: []map[string]any{
				entry("late-a", 29.5),       // just after the position
				entry("late-b", 500),        // far after
				entry("r029-tie-after", 29), // same time as the last served, later id
				entry("r000-tie-before", 29),
				entry("early", 10.5), // already passed: a keyset cursor cannot go back
			},
			reachable: []string{"late-a", "late-b", "r029-tie-after"},
		},
		{
			name: "desc",
			dir:  "desc",
			inserted: []map[string]any{
				entry("older-a", 69.5), // after the position in descending order
				entry("older-b", -100),
				entry("newer", 90),
				entry("r000-tie-after", 70),
			},
			reachable: []string{"older-a", "older-b", "r000-tie-after"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, ts := newTestServer(t, Options{})
			var originals []string
			for i := range 100 {
				id := fmt.Sprintf("r%03d", i)
				originals = append(originals, id)
				fake.AddRequestLogs(entry(id, float64(i)))
			}
			q := url.Values{"page_size": {"10"}, "order_direction": {tt.dir}, "start_date": {at(-1000)}}
			var seen []string
			for range 3 {
				p := fetchPage(t, ts, "/requests/logs", q)
				seen = append(seen, field(p.Data, "request_id")...)
				q.Set("next", *p.Next)
			}
			fake.AddRequestLogs(tt.inserted...)
			seen = append(seen, field(pageAll(t, ts, "/requests/logs", q), "request_id")...)

			want := append(slices.Clone(originals), tt.reachable...)
			require.ElementsMatch(t, want, seen, "each original and each entry behind the cursor exactly once")
		})
	}
}

func TestFilters(t *testing.T) {
	entries := []map[string]any{
		{"request_id": "a", "event_datetime": formatTime(t0), "provider": "bamboohr", "account_id": "acc1", "status": 200, "success": true, "http_method": "GET", "sub_resource": nil, "service": "hris"},
		{"request_id": "b", "event_datetime": formatTime(t0.Add(time.Second)), "provider": "HiBob", "account_id": "acc2", "status": 404, "success": false, "http_method": "POST", "sub_resource": "documents", "service": "hris"},
		{"request_id": "c", "event_datetime": formatTime(t0.Add(2 * time.Second)), "provider": "greenhouse", "account_id": "acc1", "status": 500.0, "success": false, "http_method": "get", "service": "ats", "source_type": "DASHBOARD"},
		// camelCase-keyed entries must filter and sort like the others.
		{"requestId": "d", "eventDatetime": formatTime(t0.Add(3 * time.Second)), "provider": "ashby", "accountId": "acc3", "status": 201, "success": true, "httpMethod": "POST", "subResource": "notes", "sourceType": "API_KEY"},
		// No usable time: filtered by its ingestion time (the clock, t0+10s).
		{"request_id": "e", "event_datetime": "not a time", "provider": "lever", "status": "502"},
	}
	tests := []struct {
		name string
		q    url.Values
		want []string
	}{
		{"no filter", nil, []string{"a", "b", "c", "d", "e"}},
		{"provider is case-insensitive", url.Values{"providers": {"BambooHR,hibob"}}, []string{"a", "b"}},
		{"repeated keys are merged", url.Values{"providers": {"ashby", "lever"}}, []string{"d", "e"}},
		{"status codes compare numerically", url.Values{"status_codes": {"404,500,502"}}, []string{"b", "c", "e"}},
		{"success false", url.Values{"success": {"false"}}, []string{"b", "c"}},
		{"success true", url.Values{"success": {"true"}}, []string{"a", "d"}},
		{"camelCase account", url.Values{"account_ids": {"acc3"}}, []string{"d"}},
		{"http method", url.Values{"http_methods": {"post"}}, []string{"b", "d"}},
		{"null field never matches", url.Values{"sub_resources": {"documents,notes"}}, []string{"b", "d"}},
		{"request ids", url.Values{"request_ids": {"c,d,zz"}}, []string{"c", "d"}},
		{"source types", url.Values{"source_types": {"api_key"}}, []string{"d"}},
		{"services", url.Values{"services": {"hris"}}, []string{"a", "b"}},
		{"combined", url.Values{"account_ids": {"acc1"}, "http_methods": {"GET"}, "success": {"false"}}, []string{"c"}},
		{"dates are inclusive", url.Values{"start_date": {formatTime(t0.Add(time.Second))}, "end_date": {formatTime(t0.Add(3 * time.Second))}}, []string{"b", "c", "d"}},
		{"date without millis", url.Values{"start_date": {t0.Add(2 * time.Second).Truncate(time.Second).Format(time.RFC3339)}}, []string{"c", "d", "e"}},
		{"ingestion time stands in for a bad one", url.Values{"start_date": {formatTime(t0.Add(10 * time.Second))}}, []string{"e"}},
		{"start after end", url.Values{"start_date": {formatTime(t0.Add(time.Hour))}, "end_date": {formatTime(t0)}}, []string{}},
	}
	clock := &testClock{now: t0.Add(10 * time.Second)}
	fake, ts := newTestServer(t, Options{Now: clock.Now})
	fake.AddRequestLogs(entries...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := cloneValues(tt.q)
			q.Set("order_direction", "asc")
			q.Set("page_size", "2")
			got := field(pageAll(t, ts, "/requests/logs", q), "request_id")
			require.Equal(t, tt.want, append([]string{}, got...))
		})
	}
}

func TestBadQueries(t *testing.T) {
	fake, ts := newTestServer(t, Options{})
	fake.GenerateRequestLogs(30, t0, time.Second, 1)
	p := fetchPage(t, ts, "/requests/logs", url.Values{"page_size": {"5"}})
	require.NotNil(t, p.Next)
	stepsCursor := *p.Next
	tests := []struct {
		name string
		path string
		q    url.Values
		msg  string
	}{
		{"unknown key", "/requests/logs", url.Values{"provider": {"ashby"}}, "Unknown query parameter: provider"},
		{"deepObject style", "/requests/logs", url.Values{"filter[providers]": {"ashby"}}, "Unknown query parameter: filter[providers]"},
		{"camelCase key", "/requests/logs", url.Values{"pageSize": {"5"}}, "Unknown query parameter: pageSize"},
		{"page size zero", "/requests/logs", url.Values{"page_size": {"0"}}, ""},
		{"page size negative", "/requests/logs/steps", url.Values{"page_size": {"-3"}}, ""},
		{"page size not a number", "/requests/platform-logs", url.Values{"page_size": {"ten"}}, ""},
		{"bad direction", "/requests/logs", url.Values{"order_direction": {"up"}}, ""},
		{"bad order by", "/requests/logs", url.Values{"order_by": {"random"}}, ""},
		{"bad success", "/requests/logs", url.Values{"success": {"yes"}}, ""},
		{"bad date", "/requests/logs", url.Values{"start_date": {"yesterday"}}, ""},
		{"bad status code", "/requests/logs", url.Values{"status_codes": {"2xx"}}, ""},
		{"duplicate single key", "/requests/logs", url.Values{"start_date": {formatTime(t0), formatTime(t0)}}, ""},
		{"bad include", "/requests/logs", url.Values{"include": {"everything"}}, ""},
		{"garbage cursor", "/requests/logs", url.Values{"next": {"not-a-cursor"}}, msgBadCursor},
		{"base64 but not a cursor", "/requests/logs", url.Values{"next": {"eyJjdXJzb3IiOiJhYmMvKz0ifQ=="}}, msgBadCursor},
		{"cursor of another stream", "/requests/logs/steps", url.Values{"next": {stepsCursor}}, msgBadCursor},
		{"detail takes only include", "/requests/logs/some-id", url.Values{"page_size": {"1"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, ts, http.MethodGet, tt.path, tt.q, "")
			e := requireErrorBody(t, http.StatusBadRequest, resp, body)
			if tt.msg != "" {
				require.Equal(t, tt.msg, e.Message)
			}
		})
	}
}

func TestCursorCarriesFilters(t *testing.T) {
	fake, ts := newTestServer(t, Options{})
	fake.GenerateRequestLogs(200, t0, time.Second, 3)
	q := url.Values{"providers": {"bamboohr,hibob"}, "order_direction": {"asc"}, "page_size": {"4"}}
	first := fetchPage(t, ts, "/requests/logs", q)
	require.NotNil(t, first.Next)

	t.Run("same filters in another spelling", func(t *testing.T) {
		q2 := url.Values{"providers": {"HiBob", "BambooHR"}, "order_direction": {"ASC"}, "page_size": {"50"}, "next": {*first.Next}}
		fetchPage(t, ts, "/requests/logs", q2)
	})
	t.Run("cursor alone continues its query", func(t *testing.T) {
		p := fetchPage(t, ts, "/requests/logs", url.Values{"next": {*first.Next}, "page_size": {"50"}})
		require.NotEmpty(t, p.Data)
		prev := lookupString(first.Data[len(first.Data)-1], "event_datetime")
		for _, e := range p.Data {
			require.Contains(t, []string{"bamboohr", "hibob"}, e["provider"])
			require.Greater(t, lookupString(e, "event_datetime"), prev, "still ascending")
		}
	})
	for name, q2 := range map[string]url.Values{
		"other provider":   {"providers": {"bamboohr"}, "order_direction": {"asc"}},
		"other direction":  {"providers": {"bamboohr,hibob"}, "order_direction": {"desc"}},
		"added start date": {"providers": {"bamboohr,hibob"}, "order_direction": {"asc"}, "start_date": {formatTime(t0)}},
	} {
		t.Run(name, func(t *testing.T) {
			q2.Set("next", *first.Next)
			resp, body := do(t, ts, http.MethodGet, "/requests/logs", q2, "")
			e := requireErrorBody(t, http.StatusBadRequest, resp, body)
			require.Equal(t, "Cursor does not match the query filters", e.Message)
		})
	}
}

func TestCursorTTL(t *testing.T) {
	clock := &testClock{now: t0}
	fake, ts := newTestServer(t, Options{Now: clock.Now, CursorTTL: 5 * time.Minute})
	fake.GenerateRequestLogs(30, t0.Add(-time.Hour), time.Second, 1)
	q := url.Values{"page_size": {"10"}}

	p1 := fetchPage(t, ts, "/requests/logs", q)
	clock.Advance(5 * time.Minute) // exactly the TTL: still valid
	q.Set("next", *p1.Next)
	p2 := fetchPage(t, ts, "/requests/logs", q)
	require.Len(t, p2.Data, 10)

	clock.Advance(5*time.Minute + time.Millisecond)
	q.Set("next", *p2.Next)
	resp, body := do(t, ts, http.MethodGet, "/requests/logs", q, "")
	e := requireErrorBody(t, http.StatusBadRequest, resp, body)
	require.Equal(t, "Invalid or expired cursor", e.Message)
	// The first cursor is older still.
	q.Set("next", *p1.Next)
	resp, body = do(t, ts, http.MethodGet, "/requests/logs", q, "")
	requireErrorBody(t, http.StatusBadRequest, resp, body)
}

func TestPageSizeAboveTheMaximum(t *testing.T) {
	const stored = 1200
	tests := []struct {
		name     string
		opts     Options
		path     string
		pageSize string // "" sends none
		want     int    // entries on the first page; 0: refused with wantMsg
		wantMsg  string
	}{
		{"StackOne's maximum", Options{}, "/requests/logs", "100", 100, ""},
		{"above it is refused", Options{}, "/requests/logs", "101", 0, "page_size must not be greater than 100"},
		{"steps refuse it too", Options{}, "/requests/logs/steps", "1000", 0, "page_size must not be greater than 100"},
		{"platform logs refuse it too", Options{}, "/requests/platform-logs", "1000", 0, "page_size must not be greater than 100"},
		{"none sent is the server's default", Options{}, "/requests/logs", "", 25, ""},
		{"a lower maximum", Options{MaxPageSize: 50}, "/requests/logs", "100", 0, "page_size must not be greater than 50"},
		{"a maximum below the default serves the maximum when none is sent", Options{MaxPageSize: 7}, "/requests/logs", "", 7, ""},
		{"clamped", Options{PageSizeMode: PageSizeClamp, MaxPageSize: 7}, "/requests/logs", "100", 7, ""},
		{"clamped at StackOne's maximum", Options{PageSizeMode: PageSizeClamp}, "/requests/platform-logs", "1000", 100, ""},
		{"unlimited", Options{PageSizeMode: PageSizeUnlimited}, "/requests/logs", "1000", 1000, ""},
		{"actions up to 1000", Options{}, "/logs/actions", "1000", 1000, ""},
		{"actions above 1000 are refused", Options{}, "/logs/actions", "1001", 0, "page_size must not be greater than 1000"},
		{"actions with a lower maximum", Options{MaxActionPageSize: 50}, "/logs/actions", "100", 0, "page_size must not be greater than 50"},
		{"actions clamped", Options{PageSizeMode: PageSizeClamp, MaxActionPageSize: 4}, "/logs/actions", "100", 4, ""},
		{"actions unlimited", Options{PageSizeMode: PageSizeUnlimited}, "/logs/actions", "1100", 1100, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, ts := newTestServer(t, tt.opts)
			var resp *http.Response
			var body []byte
			switch tt.path {
			case "/logs/actions":
				fake.GenerateActionLogs(stored, t0, time.Second, 1)
				req := `{}`
				if tt.pageSize != "" {
					req = `{"page_size":` + tt.pageSize + `}`
				}
				resp, body = do(t, ts, http.MethodPost, tt.path, nil, req)
			default:
				gen := fake.GenerateRequestLogs(stored, t0, time.Second, 1)
				fake.AddStepLogs(gen...)
				fake.AddPlatformLogs(gen...)
				q := url.Values{}
				if tt.pageSize != "" {
					q.Set("page_size", tt.pageSize)
				}
				resp, body = do(t, ts, http.MethodGet, tt.path, q, "")
			}
			if tt.want == 0 {
				e := requireErrorBody(t, http.StatusBadRequest, resp, body)
				require.Equal(t, tt.wantMsg, e.Message)
				return
			}
			require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
			var p struct {
				Data []json.RawMessage `json:"data"`
			}
			require.NoError(t, json.Unmarshal(body, &p))
			require.Len(t, p.Data, tt.want)
		})
	}
}

// A clamping server is paged through like any other: short pages are not the end.
func TestClampedPagesReachTheEnd(t *testing.T) {
	fake, ts := newTestServer(t, Options{PageSizeMode: PageSizeClamp, MaxPageSize: 7})
	fake.GenerateRequestLogs(20, t0, time.Second, 1)
	require.Len(t, pageAll(t, ts, "/requests/logs", url.Values{"page_size": {"100"}}), 20)
}

func TestParsePageSizeMode(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want PageSizeMode
		err  bool
	}{{"strict", PageSizeStrict, false}, {"Clamp", PageSizeClamp, false}, {"unlimited", PageSizeUnlimited, false}, {"lax", 0, true}, {"", 0, true}} {
		got, err := ParsePageSizeMode(tt.in)
		if tt.err {
			require.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, got)
		require.Equal(t, strings.ToLower(tt.in), got.String())
	}
}

func TestCursorSurvivesQueryEncoding(t *testing.T) {
	// Standard base64 cursors contain '+', '/' or '='; a client that forgets
	// to percent-encode them must fail, one that does must not.
	fake, ts := newTestServer(t, Options{})
	fake.GenerateRequestLogs(300, t0, time.Second, 5)
	q := url.Values{"page_size": {"3"}}
	sawSpecial := false
	for range 100 {
		p := fetchPage(t, ts, "/requests/logs", q)
		if p.Next == nil {
			break
		}
		if strings.ContainsAny(*p.Next, "+/=") {
			sawSpecial = true
			if strings.Contains(*p.Next, "+") {
				resp, err := ts.Client().Get(ts.URL + "/requests/logs?next=" + *p.Next)
				require.NoError(t, err)
				resp.Body.Close()
				require.NotEqual(t, http.StatusOK, resp.StatusCode)
			}
		}
		q.Set("next", *p.Next)
	}
	require.True(t, sawSpecial)
}

func TestStepAndPlatformLogs(t *testing.T) {
	fake, ts := newTestServer(t, Options{})
	fake.AddRequestLogs(
		map[string]any{"request_id": "req-1", "event_datetime": formatTime(t0)},
		map[string]any{"request_id": "req-2", "event_datetime": formatTime(t0.Add(time.Second))},
	)
	// Step logs have no event_datetime: ordered and filtered by start_time.
	fake.AddStepLogs(
		map[string]any{"request_id": "req-1", "start_time": formatTime(t0.Add(300 * time.Millisecond)), "provider": "workday", "url": "https://wd.example/2"},
		map[string]any{"request_id": "req-1", "start_time": formatTime(t0.Add(100 * time.Millisecond)), "provider": "workday", "url": "https://wd.example/1"},
		map[string]any{"request_id": "req-9", "start_time": formatTime(t0.Add(time.Hour)), "provider": "lever"},
	)
	fake.AddPlatformLogs(map[string]any{"request_id": "p-1", "event_datetime": formatTime(t0), "category": "auth"})

	steps := pageAll(t, ts, "/requests/logs/steps", url.Values{"order_direction": {"asc"}, "page_size": {"1"}, "end_date": {formatTime(t0.Add(time.Minute))}})
	require.Equal(t, []string{"https://wd.example/1", "https://wd.example/2"}, field(steps, "url"))

	platform := pageAll(t, ts, "/requests/platform-logs", nil)
	require.Equal(t, []string{"auth"}, field(platform, "category"))

	withSteps := pageAll(t, ts, "/requests/logs", url.Values{"include": {"step_logs"}, "order_direction": {"asc"}})
	require.Len(t, withSteps[0]["step_requests"], 2)
	require.Equal(t, []any{}, withSteps[1]["step_requests"])
	without := pageAll(t, ts, "/requests/logs", nil)
	require.NotContains(t, without[0], "step_requests")
}

// Each endpoint takes the filters StackOne's OpenAPI gives it: platform logs are filtered by category and not
// by provider, service, sub-resource or child resource; step logs not by source.
func TestFiltersPerEndpoint(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		q       url.Values
		wantIDs []string // nil: refused
	}{
		{"platform logs by category", "/requests/platform-logs", url.Values{"categories": {"auth,Connect"}}, []string{"p-1", "p-3"}},
		{"platform logs by source type", "/requests/platform-logs", url.Values{"source_types": {"DASHBOARD"}}, []string{"p-2"}},
		{"platform logs not by provider", "/requests/platform-logs", url.Values{"providers": {"hibob"}}, nil},
		{"platform logs not by service", "/requests/platform-logs", url.Values{"services": {"hris"}}, nil},
		{"platform logs not by sub-resource", "/requests/platform-logs", url.Values{"sub_resources": {"x"}}, nil},
		{"platform logs not by child resource", "/requests/platform-logs", url.Values{"child_resources": {"x"}}, nil},
		{"step logs by provider", "/requests/logs/steps", url.Values{"providers": {"workday"}}, []string{"s-1"}},
		{"step logs not by source id", "/requests/logs/steps", url.Values{"source_ids": {"x"}}, nil},
		{"step logs not by source type", "/requests/logs/steps", url.Values{"source_types": {"x"}}, nil},
		{"step logs not by source value", "/requests/logs/steps", url.Values{"source_values": {"x"}}, nil},
		{"request logs not by category", "/requests/logs", url.Values{"categories": {"auth"}}, nil},
		{"request logs by source type", "/requests/logs", url.Values{"source_types": {"API_KEY"}}, []string{"r-1"}},
	}
	fake, ts := newTestServer(t, Options{})
	fake.AddRequestLogs(map[string]any{"request_id": "r-1", "event_datetime": formatTime(t0), "source_type": "API_KEY", "provider": "hibob"})
	fake.AddStepLogs(
		map[string]any{"request_id": "s-1", "start_time": formatTime(t0), "provider": "workday"},
		map[string]any{"request_id": "s-2", "start_time": formatTime(t0), "provider": "lever"},
	)
	fake.AddPlatformLogs(
		map[string]any{"request_id": "p-1", "event_datetime": formatTime(t0), "category": "auth", "source_type": "API_KEY"},
		map[string]any{"request_id": "p-2", "event_datetime": formatTime(t0.Add(time.Second)), "category": "webhooks", "source_type": "DASHBOARD"},
		map[string]any{"request_id": "p-3", "event_datetime": formatTime(t0.Add(2 * time.Second)), "category": "connect"},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := cloneValues(tt.q)
			q.Set("order_direction", "asc")
			if tt.wantIDs == nil {
				resp, body := do(t, ts, http.MethodGet, tt.path, q, "")
				for k := range tt.q {
					require.Equal(t, "Unknown query parameter: "+k, requireErrorBody(t, http.StatusBadRequest, resp, body).Message)
				}
				return
			}
			require.Equal(t, tt.wantIDs, field(pageAll(t, ts, tt.path, q), "request_id"))
		})
	}
}

func TestCamelCase(t *testing.T) {
	fake, ts := newTestServer(t, Options{CamelCase: true})
	fake.AddRequestLogs(map[string]any{
		"request_id": "r1", "event_datetime": formatTime(t0), "http_method": "GET", "provider": "ashby", "Odd-Key": 1,
		"response": map[string]any{"status_code": 200, "headers": map[string]any{"x_api_key": "secret", "Set-Cookie": "s=1"}},
		"request":  map[string]any{"url": map[string]any{"query_params": map[string]any{"page_size": "5"}}},
	})
	fake.AddRequestLogs(map[string]any{"requestId": "r2", "eventDatetime": formatTime(t0.Add(time.Second)), "provider": "ashby"})
	got := pageAll(t, ts, "/requests/logs", url.Values{"providers": {"ashby"}, "order_direction": {"asc"}})
	require.Len(t, got, 2)
	require.Equal(t, map[string]any{
		"requestId": "r1", "eventDatetime": formatTime(t0), "httpMethod": "GET", "provider": "ashby", "Odd-Key": 1.0,
		"response": map[string]any{"statusCode": 200.0, "headers": map[string]any{"x_api_key": "secret", "Set-Cookie": "s=1"}},
		"request":  map[string]any{"url": map[string]any{"queryParams": map[string]any{"page_size": "5"}}},
	}, got[0])
	require.Equal(t, "r2", got[1]["requestId"])

	resp, body := do(t, ts, http.MethodGet, "/requests/logs/r2", nil, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.JSONEq(t, `{"data":{"requestId":"r2","eventDatetime":"`+formatTime(t0.Add(time.Second))+`","provider":"ashby"}}`, string(body))
}

func TestRequestLogDetail(t *testing.T) {
	fake, ts := newTestServer(t, Options{})
	gen := fake.GenerateRequestLogs(5, t0, time.Second, 9)
	id := gen[2]["request_id"].(string)
	resp, body := do(t, ts, http.MethodGet, "/requests/logs/"+id, url.Values{"include": {"step_logs,advanced_logs"}}, "")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Contains(t, string(body), `"data":{`)
	require.Contains(t, string(body), id)
}

func TestConcurrentAddAndPage(t *testing.T) {
	fake, ts := newTestServer(t, Options{})
	fake.GenerateRequestLogs(100, t0, time.Second, 1)
	// Writers run beside the reader; only the test goroutine may use require.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 50 {
			fake.AddRequestLogs(map[string]any{"request_id": fmt.Sprintf("c%d", i), "event_datetime": formatTime(t0.Add(time.Duration(i) * time.Second))})
			fake.InjectFault(Fault{Path: "/nowhere"})
			_ = fake.Requests()
		}
	}()
	for range 5 {
		got := pageAll(t, ts, "/requests/logs", url.Values{"page_size": {"17"}})
		require.GreaterOrEqual(t, len(got), 100)
	}
	wg.Wait()
	require.Len(t, pageAll(t, ts, "/requests/logs", url.Values{"page_size": {"100"}}), 150)
}

func TestNewestFirstIgnoresTheRequestedOrder(t *testing.T) {
	// Every cursor stream answers newest first whatever was asked, and the
	// cursor keeps paging in that order: each entry exactly once.
	for _, tt := range []struct {
		path string
		add  func(*Server, []map[string]any)
	}{
		{"/requests/logs", func(s *Server, e []map[string]any) { s.AddRequestLogs(e...) }},
		{"/requests/logs/steps", func(s *Server, e []map[string]any) { s.AddStepLogs(e...) }},
		{"/requests/platform-logs", func(s *Server, e []map[string]any) { s.AddPlatformLogs(e...) }},
	} {
		t.Run(tt.path, func(t *testing.T) {
			fake, ts := newTestServer(t, Options{NewestFirst: true})
			var entries []map[string]any
			for i := range 23 {
				at := formatTime(t0.Add(time.Duration(i) * time.Second))
				entries = append(entries, map[string]any{"request_id": fmt.Sprintf("r%02d", i), "event_datetime": at, "start_time": at})
			}
			tt.add(fake, entries)
			for _, q := range []url.Values{
				{"order_by": {"eventDatetime"}, "order_direction": {"asc"}, "page_size": {"5"}},
				{"order_by": {"provider"}, "page_size": {"5"}, "start_date": {formatTime(t0.Add(3 * time.Second))}},
			} {
				want := field(entries, "request_id")
				if q.Has("start_date") {
					want = want[3:]
				}
				slices.Reverse(want)
				require.Equal(t, want, field(pageAll(t, ts, tt.path, q), "request_id"), "%v", q)
			}
		})
	}
}

func TestDateBoundsFindTheirStartInBothDirections(t *testing.T) {
	// The first page of a dated query starts from a binary search; entries on
	// the bound itself are included, in either order and across pages.
	fake, ts := newTestServer(t, Options{})
	var entries []map[string]any
	for i := range 200 {
		// two entries per instant, so a bound falls between equal times
		at := formatTime(t0.Add(time.Duration(i/2) * time.Second))
		entries = append(entries, map[string]any{"request_id": fmt.Sprintf("r%03d", i), "event_datetime": at})
	}
	fake.AddRequestLogs(entries...)
	ids := field(entries, "request_id")
	tests := []struct {
		name string
		q    url.Values
		want []string
	}{
		{"start asc", url.Values{"start_date": {formatTime(t0.Add(40 * time.Second))}, "order_direction": {"asc"}}, ids[80:]},
		{"end desc", url.Values{"end_date": {formatTime(t0.Add(40 * time.Second))}}, reversed(ids[:82])},
		{"both asc", url.Values{"start_date": {formatTime(t0.Add(10 * time.Second))}, "end_date": {formatTime(t0.Add(20 * time.Second))}, "order_direction": {"asc"}}, ids[20:42]},
		{"both desc", url.Values{"start_date": {formatTime(t0.Add(10 * time.Second))}, "end_date": {formatTime(t0.Add(20 * time.Second))}}, reversed(ids[20:42])},
		{"start before all", url.Values{"start_date": {formatTime(t0.Add(-time.Hour))}, "order_direction": {"asc"}}, ids},
		{"start after all", url.Values{"start_date": {formatTime(t0.Add(time.Hour))}, "order_direction": {"asc"}}, []string{}},
		{"end before all", url.Values{"end_date": {formatTime(t0.Add(-time.Hour))}}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := cloneValues(tt.q)
			q.Set("page_size", "7")
			require.Equal(t, tt.want, append([]string{}, field(pageAll(t, ts, "/requests/logs", q), "request_id")...))
		})
	}
}

// BenchmarkFirstPageWithStartDate is the bench harness's access pattern: a
// large store, and polls whose start_date lies near its end.
func BenchmarkFirstPageWithStartDate(b *testing.B) {
	fake := New(Options{})
	fake.GenerateRequestLogs(200_000, t0, 10*time.Millisecond, 1)
	q := url.Values{"start_date": {formatTime(t0.Add(1990 * time.Second))}, "order_direction": {"asc"}, "page_size": {"1"}}
	req := httptest.NewRequest(http.MethodGet, "/requests/logs?"+q.Encode(), nil)
	b.ResetTimer()
	for range b.N {
		w := httptest.NewRecorder()
		fake.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}

func reversed(ids []string) []string {
	out := slices.Clone(ids)
	slices.Reverse(out)
	return out
}
