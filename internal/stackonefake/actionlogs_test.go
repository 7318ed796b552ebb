package stackonefake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type actionsPage struct {
	Data  []map[string]any `json:"data"`
	Query struct {
		Page     int `json:"page"`
		PageSize int `json:"page_size"`
	} `json:"query"`
	Total int `json:"total"`
}

func actionPage(t *testing.T, ts *httptest.Server, body string) actionsPage {
	t.Helper()
	resp, raw := do(t, ts, http.MethodPost, "/logs/actions", nil, body)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
	var p actionsPage
	require.NoError(t, json.Unmarshal(raw, &p))
	require.NotNil(t, p.Data)
	return p
}

func TestActionLogPaging(t *testing.T) {
	tests := []struct {
		name     string
		n        int
		pageSize int
		dir      string
	}{
		{"asc by tens", 53, 10, "asc"},
		{"desc default", 53, 10, ""},
		{"exact multiple", 40, 20, "asc"},
		{"single page", 5, 25, "asc"},
		{"empty", 0, 25, "asc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, ts := newTestServer(t, Options{})
			gen := fake.GenerateActionLogs(tt.n, t0, time.Second, 11)
			want := field(gen, "log_id")
			if tt.dir != "asc" {
				slices.Reverse(want)
			}
			var got []string
			pages := max((tt.n+tt.pageSize-1)/tt.pageSize, 1)
			for page := 1; page <= pages+1; page++ {
				body := fmt.Sprintf(`{"filters":{"order_direction":%q},"page":%d,"page_size":%d}`, tt.dir, page, tt.pageSize)
				resp, raw := do(t, ts, http.MethodPost, "/logs/actions", nil, body)
				require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
				var p actionsPage
				require.NoError(t, json.Unmarshal(raw, &p))
				require.Equal(t, tt.n, p.Total)
				require.Equal(t, page, p.Query.Page)
				require.Equal(t, tt.pageSize, p.Query.PageSize)
				if page > pages {
					require.Empty(t, p.Data, "past the end")
				}
				got = append(got, field(p.Data, "log_id")...)
			}
			require.Equal(t, append([]string{}, want...), append([]string{}, got...))
		})
	}
}

func TestActionLogOffsetsShiftWhenTheSetGrows(t *testing.T) {
	// Faithful to the real API: page N+1 is an offset into the current set,
	// so a row ingested between two pages repeats the boundary row.
	fake, ts := newTestServer(t, Options{})
	fake.GenerateActionLogs(20, t0, time.Second, 2)
	p1 := actionPage(t, ts, `{"page":1,"page_size":5}`)
	fake.GenerateActionLogs(1, t0.Add(time.Hour), time.Second, 3)
	p2 := actionPage(t, ts, `{"page":2,"page_size":5}`)
	require.Equal(t, 21, p2.Total)
	require.Equal(t, p1.Data[4]["log_id"], p2.Data[0]["log_id"])
}

func TestActionLogFilters(t *testing.T) {
	fake, ts := newTestServer(t, Options{})
	gen := fake.GenerateActionLogs(400, t0, time.Second, 5)
	fake.AddActionLogs(map[string]any{"log_id": "odd", "log_type": "action", "action_run_id": "run-odd", "event_time": "garbage"})

	keep := func(pred func(map[string]any) bool) []string {
		var ids []string
		for _, e := range gen {
			if pred(e) {
				ids = append(ids, e["log_id"].(string))
			}
		}
		return ids
	}
	tests := []struct {
		name    string
		filters string
		want    []string
	}{
		{"connector", `{"connector_key":["HubSpot","lever"]}`, keep(func(e map[string]any) bool {
			return e["connector_key"] == "hubspot" || e["connector_key"] == "lever"
		})},
		{"status code strings", `{"status_code":["404","500"]}`, keep(func(e map[string]any) bool {
			return e["status_code"] == 404 || e["status_code"] == 500
		})},
		{"http method lower case", `{"http_method":["post"]}`, keep(func(e map[string]any) bool { return e["http_method"] == "POST" })},
		{"success false", `{"success":false}`, keep(func(e map[string]any) bool { return e["success"] == false })},
		{"account secure id", `{"account_secure_id":["acc_a04b7e3c58d1"]}`, keep(func(e map[string]any) bool { return e["account_id"] == "acc_a04b7e3c58d1" })},
		{"category and mode", `{"category":["crm"],"mode":["mcp"]}`, keep(func(e map[string]any) bool { return e["category"] == "crm" && e["mode"] == "mcp" })},
		{"times are inclusive", fmt.Sprintf(`{"start_time":%q,"end_time":%q}`, formatTime(t0.Add(10*time.Second)), formatTime(t0.Add(12*time.Second))),
			field(gen[10:13], "log_id")},
		{"run id", fmt.Sprintf(`{"action_run_id":[%q]}`, gen[7]["action_run_id"]), field(gen[7:8], "log_id")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NotEmpty(t, tt.want)
			body := fmt.Sprintf(`{"filters":%s,"page":1,"page_size":1000}`, strings.Replace(tt.filters, "{", `{"order_direction":"asc",`, 1))
			p := actionPage(t, ts, body)
			require.Equal(t, len(tt.want), p.Total)
			require.Equal(t, tt.want, field(p.Data, "log_id"))
		})
	}

	t.Run("order by duration", func(t *testing.T) {
		p := actionPage(t, ts, `{"filters":{"order_by":"duration_ms","order_direction":"asc"},"page_size":1000}`)
		require.Equal(t, 401, p.Total)
		require.Equal(t, "odd", p.Data[0]["log_id"], "no duration sorts first")
		for i := 2; i < len(p.Data); i++ {
			require.LessOrEqual(t, p.Data[i-1]["duration_ms"].(float64), p.Data[i]["duration_ms"].(float64))
		}
	})
	t.Run("empty body is all defaults", func(t *testing.T) {
		p := actionPage(t, ts, ``)
		require.Equal(t, 401, p.Total)
		require.Len(t, p.Data, 25)
		require.Equal(t, 1, p.Query.Page)
		require.Equal(t, 25, p.Query.PageSize)
	})
}

func TestActionLogBadBodies(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	for name, body := range map[string]string{
		"invalid json":         `{"page":`,
		"unknown top key":      `{"pages":1}`,
		"unknown filter key":   `{"filters":{"start_date":"2025-01-01T00:00:00Z"}}`,
		"status code numbers":  `{"filters":{"status_code":[200]}}`,
		"status code not int":  `{"filters":{"status_code":["2xx"]}}`,
		"page zero":            `{"page":0}`,
		"page size zero":       `{"page_size":0}`,
		"bad order by":         `{"filters":{"order_by":"eventDatetime"}}`,
		"bad direction":        `{"filters":{"order_direction":"up"}}`,
		"bad start time":       `{"filters":{"start_time":"yesterday"}}`,
		"trailing data":        `{"page":1} {"page":2}`,
		"array instead of obj": `[]`,
	} {
		t.Run(name, func(t *testing.T) {
			resp, raw := do(t, ts, http.MethodPost, "/logs/actions", nil, body)
			requireErrorBody(t, http.StatusBadRequest, resp, raw)
		})
	}
}

func TestActionLogByRunID(t *testing.T) {
	fake, ts := newTestServer(t, Options{CamelCase: true}) // CamelCase leaves action logs alone
	gen := fake.GenerateActionLogs(3, t0, time.Second, 8)
	runID := gen[1]["action_run_id"].(string)

	resp, raw := do(t, ts, http.MethodGet, "/logs/actions/"+runID, nil, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var got map[string]any
	require.NoError(t, json.Unmarshal(raw, &got))
	require.Equal(t, gen[1]["log_id"], got["log_id"], "bare object, no data wrapper")
	require.Equal(t, runID, got["action_run_id"])

	resp, raw = do(t, ts, http.MethodGet, "/logs/actions/nope", nil, "")
	requireErrorBody(t, http.StatusNotFound, resp, raw)
}

func TestActionLogsNewestFirst(t *testing.T) {
	// Asked for ascending event time, answered newest first; page offsets
	// stay consistent in that order, so paging sees every row once.
	fake, ts := newTestServer(t, Options{NewestFirst: true})
	gen := fake.GenerateActionLogs(47, t0, time.Second, 3)
	want := field(gen[5:], "log_id")
	slices.Reverse(want)
	var got []string
	for page := 1; page <= 5; page++ {
		p := actionPage(t, ts, fmt.Sprintf(`{"filters":{"order_by":"duration_ms","order_direction":"asc","start_time":%q},"page":%d,"page_size":10}`,
			formatTime(t0.Add(5*time.Second)), page))
		require.Equal(t, 42, p.Total)
		got = append(got, field(p.Data, "log_id")...)
	}
	require.Equal(t, want, got)
}

func TestActionLogsPageSizeCap(t *testing.T) {
	// A server with its own cap answers fewer rows than asked for and says so
	// in query.page_size; offsets follow the capped size.
	fake, ts := newTestServer(t, Options{PageSizeMode: PageSizeClamp, MaxActionPageSize: 4})
	gen := fake.GenerateActionLogs(10, t0, time.Second, 3)
	var got []string
	for page := 1; page <= 3; page++ {
		p := actionPage(t, ts, fmt.Sprintf(`{"filters":{"order_direction":"asc"},"page":%d,"page_size":100}`, page))
		require.Equal(t, 4, p.Query.PageSize)
		require.Equal(t, 10, p.Total)
		require.LessOrEqual(t, len(p.Data), 4)
		got = append(got, field(p.Data, "log_id")...)
	}
	require.Equal(t, field(gen, "log_id"), got)
}

func TestActionLogTimeBoundsInBothDirections(t *testing.T) {
	fake, ts := newTestServer(t, Options{})
	// out of order and with ties, so storage order is not insertion order
	var entries []map[string]any
	for _, i := range []int{9, 3, 7, 0, 5, 1, 8, 2, 6, 4, 5, 3} {
		entries = append(entries, map[string]any{"log_id": fmt.Sprintf("l%d-%d", i, len(entries)), "event_time": formatTime(t0.Add(time.Duration(i) * time.Second))})
	}
	fake.AddActionLogs(entries...)
	asc := []string{"l0-3", "l1-5", "l2-7", "l3-1", "l3-11", "l4-9", "l5-10", "l5-4", "l6-8", "l7-2", "l8-6", "l9-0"}
	bounds := fmt.Sprintf(`"start_time":%q,"end_time":%q`, formatTime(t0.Add(3*time.Second)), formatTime(t0.Add(5*time.Second)))
	for _, tt := range []struct {
		name, filters string
		want          []string
	}{
		{"all asc", `"order_direction":"asc"`, asc},
		{"all desc", `"order_direction":"desc"`, reversed(asc)},
		{"bounds asc", `"order_direction":"asc",` + bounds, asc[3:8]},
		{"bounds desc", bounds, reversed(asc[3:8])},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := actionPage(t, ts, `{"filters":{`+tt.filters+`},"page_size":100}`)
			require.Equal(t, tt.want, field(p.Data, "log_id"))
		})
	}
}
