package stackonefake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func stepPage(t *testing.T, ts *httptest.Server, body string) actionsPage {
	t.Helper()
	resp, raw := do(t, ts, http.MethodPost, "/logs/steps", nil, body)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
	var p actionsPage
	require.NoError(t, json.Unmarshal(raw, &p))
	require.NotNil(t, p.Data)
	return p
}

// plainSteps are n steps of one run, a second apart, with their step_id.
func plainSteps(n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = map[string]any{
			"log_type": "step", "step_id": fmt.Sprintf("s%02d", i), "action_run_id": fmt.Sprintf("run-%d", i/3), "step_index": i % 3,
			"account_id": []string{"acc_a", "acc_b"}[i%2], "success": i%5 != 4, "event_time": formatTime(t0.Add(time.Duration(i) * time.Second)),
		}
	}
	return out
}

func TestActionStepPaging(t *testing.T) {
	fake, ts := newTestServer(t, Options{})
	steps := plainSteps(53)
	fake.AddActionSteps(steps...)
	var got []string
	for page := 1; page <= 7; page++ {
		p := stepPage(t, ts, fmt.Sprintf(`{"filters":{"order_by":"event_time","order_direction":"asc"},"page":%d,"page_size":10}`, page))
		require.Equal(t, 53, p.Total)
		require.Equal(t, page, p.Query.Page)
		require.Equal(t, 10, p.Query.PageSize)
		got = append(got, field(p.Data, "step_id")...)
	}
	require.Equal(t, field(steps, "step_id"), got)

	// Like /logs/actions: newest first unless asked, offsets over the set as it is now.
	p := stepPage(t, ts, `{"page":1,"page_size":2}`)
	require.Equal(t, []string{"s52", "s51"}, field(p.Data, "step_id"))
	fake.AddActionSteps(map[string]any{"step_id": "new", "event_time": formatTime(t0.Add(time.Hour))})
	p = stepPage(t, ts, `{"page":2,"page_size":2}`)
	require.Equal(t, []string{"s51", "s50"}, field(p.Data, "step_id"), "a row ingested between two pages shifts the window")
}

func TestActionStepFilters(t *testing.T) {
	fake, ts := newTestServer(t, Options{})
	steps := plainSteps(30)
	fake.AddActionSteps(steps...)
	keep := func(pred func(map[string]any) bool) []string {
		var ids []string
		for _, e := range steps {
			if pred(e) {
				ids = append(ids, e["step_id"].(string))
			}
		}
		return ids
	}
	for _, tt := range []struct {
		name, filters string
		want          []string
	}{
		{"account secure id", `"account_secure_id":["acc_b"]`, keep(func(e map[string]any) bool { return e["account_id"] == "acc_b" })},
		{"action run id", `"action_run_id":["run-2","run-4"]`, keep(func(e map[string]any) bool { return e["action_run_id"] == "run-2" || e["action_run_id"] == "run-4" })},
		{"success false", `"success":false`, keep(func(e map[string]any) bool { return e["success"] == false })},
		{"step index", `"step_index":[0]`, keep(func(e map[string]any) bool { return e["step_index"] == 0 })},
		{"times are inclusive", fmt.Sprintf(`"start_time":%q,"end_time":%q`, formatTime(t0.Add(10*time.Second)), formatTime(t0.Add(12*time.Second))),
			field(steps[10:13], "step_id")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			require.NotEmpty(t, tt.want)
			p := stepPage(t, ts, `{"filters":{"order_direction":"asc",`+tt.filters+`},"page_size":1000}`)
			require.Equal(t, len(tt.want), p.Total)
			require.Equal(t, tt.want, field(p.Data, "step_id"))
		})
	}
}

func TestActionStepBadBodies(t *testing.T) {
	_, ts := newTestServer(t, Options{MaxActionPageSize: 50})
	for name, body := range map[string]string{
		"invalid json":                 `{"page":`,
		"a filter of action logs only": `{"filters":{"connector_key":["hibob"]}}`,
		"unknown top key":              `{"pages":1}`,
		"page zero":                    `{"page":0}`,
		"page size above the maximum":  `{"page_size":51}`,
		"bad order by":                 `{"filters":{"order_by":"step_index"}}`,
		"bad start time":               `{"filters":{"start_time":"yesterday"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			resp, raw := do(t, ts, http.MethodPost, "/logs/steps", nil, body)
			requireErrorBody(t, http.StatusBadRequest, resp, raw)
		})
	}
	resp, raw := do(t, ts, http.MethodGet, "/logs/steps", nil, "")
	requireErrorBody(t, http.StatusMethodNotAllowed, resp, raw)
}

// RepeatBoundaries widens a start_time bound on /logs/steps as on /logs/actions, and a reader that pages by
// time still reads every step.
func TestRepeatBoundariesOnActionSteps(t *testing.T) {
	fake, ts := newTestServer(t, Options{})
	steps := plainSteps(40)
	fake.AddActionSteps(steps...)
	fake.RepeatBoundaries(1)
	p := stepPage(t, ts, fmt.Sprintf(`{"filters":{"start_time":%q,"order_direction":"asc"},"page_size":100}`, formatTime(t0.Add(20*time.Second))))
	require.Equal(t, field(steps[19:], "step_id"), field(p.Data, "step_id"), "the newest step before start_time comes first")
	require.Equal(t, 1, fake.BoundaryRepeats())
}

func TestGeneratedActionSteps(t *testing.T) {
	fake, ts := newTestServer(t, Options{ActionSteps: true})
	actions := fake.GenerateActionLogs(200, t0, 10*time.Second, 6) // at most 5 steps each: one page of 1000
	byRun := map[string][]map[string]any{}
	p := stepPage(t, ts, `{"filters":{"order_direction":"asc"},"page_size":1000}`)
	for _, s := range p.Data {
		byRun[s["action_run_id"].(string)] = append(byRun[s["action_run_id"].(string)], s)
	}
	require.Equal(t, len(actions), len(byRun), "every run has steps, and every step a run")
	require.Less(t, len(p.Data), 1000)

	skipped, failedRuns := 0, 0
	stepIDs := map[string]bool{}
	for _, a := range actions {
		steps := byRun[a["action_run_id"].(string)]
		// Steps that take no time (skipped ones) share their event time with the next: order by index.
		slices.SortFunc(steps, func(x, y map[string]any) int { return int(x["step_index"].(float64) - y["step_index"].(float64)) })
		require.GreaterOrEqual(t, len(steps), 3)
		require.LessOrEqual(t, len(steps), 5)
		runStart, _ := time.Parse(time.RFC3339Nano, a["start_time"].(string))
		runEnd, _ := time.Parse(time.RFC3339Nano, a["end_time"].(string))
		status := float64(a["status_code"].(int))
		failedAt := -1
		for i, s := range steps {
			require.Equal(t, "step", s["log_type"])
			require.EqualValues(t, i, s["step_index"], "indexes count the steps of a run from 0")
			require.False(t, stepIDs[s["step_id"].(string)], "step ids are unique")
			stepIDs[s["step_id"].(string)] = true
			require.Equal(t, a["account_id"], s["account_id"])
			require.Equal(t, a["project_id"], s["project_id"])
			require.NotEmpty(t, s["step_function_name"])
			at, err := time.Parse(time.RFC3339Nano, s["event_time"].(string))
			require.NoError(t, err)
			require.False(t, at.Before(runStart) || at.After(runEnd.Add(time.Duration(len(steps))*time.Millisecond)), "within its run")
			if s["skipped"] == true {
				skipped++
				require.Nil(t, s["success"], "a skipped step neither succeeded nor failed")
				require.NotEmpty(t, s["message"])
				continue
			}
			if s["success"] == false {
				require.Equal(t, -1, failedAt, "one failing step per run")
				failedAt = i
				require.Equal(t, status, s["status_code"], "the failing step carries the run's status")
				require.NotEmpty(t, s["message"])
			}
		}
		if status >= 400 {
			failedRuns++
			require.GreaterOrEqual(t, failedAt, 0, "a failed run %v has a failing step", a["action_run_id"])
			for _, s := range steps[failedAt+1:] {
				require.Equal(t, true, s["skipped"], "steps after the failure are skipped")
			}
		} else {
			require.Equal(t, -1, failedAt, "a successful run has no failing step")
		}
	}
	require.Positive(t, failedRuns)
	require.Greater(t, skipped, failedRuns, "pagination is skipped now and then besides the failures")
	var held []string
	for _, s := range byRun[actions[7]["action_run_id"].(string)] {
		held = append(held, s["step_id"].(string))
	}
	require.Equal(t, field(StepsFor(actions[7]), "step_id"), held, "StepsFor says which steps the server holds")
}

func TestActionStepsAreGeneratedOnlyWhenAskedFor(t *testing.T) {
	fake, ts := newTestServer(t, Options{})
	fake.GenerateActionLogs(20, t0, time.Second, 6)
	require.Zero(t, stepPage(t, ts, `{}`).Total)
}
