package stackonefake

import (
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// stepFilters mirrors the body of POST /logs/steps as the public Ruby SDK
// documents it (StepsLogsPostDtoFilters); decoding with DisallowUnknownFields
// turns a misspelt key into a 400.
type stepFilters struct {
	StartTime       *string   `json:"start_time"`
	EndTime         *string   `json:"end_time"`
	AccountSecureID []string  `json:"account_secure_id"`
	ActionRunID     []string  `json:"action_run_id"`
	StepID          []string  `json:"step_id"`
	StepIndex       []float64 `json:"step_index"`
	Success         *bool     `json:"success"`
	OrderBy         *string   `json:"order_by"`
	OrderDirection  *string   `json:"order_direction"`
}

type stepListBody struct {
	Filters  *stepFilters `json:"filters"`
	Page     *int         `json:"page"`
	PageSize *int         `json:"page_size"`
}

func (f *stepFilters) lists() []actionListFilter {
	indexes := make([]string, len(f.StepIndex))
	for i, n := range f.StepIndex {
		indexes[i] = valueString(n)
	}
	var out []actionListFilter
	for _, l := range []actionListFilter{
		{"account_id", f.AccountSecureID, false},
		{"action_run_id", f.ActionRunID, false},
		{"step_id", f.StepID, false},
		{"step_index", indexes, true},
	} {
		if len(l.values) > 0 {
			out = append(out, l)
		}
	}
	return out
}

// AddActionSteps stores raw action-run steps for /logs/steps, served as they
// are (the /logs API is snake_case).
func (s *Server) AddActionSteps(entries ...map[string]any) {
	s.addPaged(&s.actionSteps, stepKey, entries)
}

// stepKey orders steps that share an event time: by step_id, else by their
// place in their run.
func stepKey(raw map[string]any) string {
	if id := lookupString(raw, "step_id"); id != "" {
		return id
	}
	return lookupString(raw, "action_run_id") + "#" + lookupString(raw, "step_index") + "#" + lookupString(raw, "step_iterations")
}

func (s *Server) listActionSteps(w http.ResponseWriter, r *http.Request) {
	if len(r.URL.Query()) > 0 {
		s.writeError(w, http.StatusBadRequest, "Unexpected query parameters: /logs/steps takes a JSON body")
		return
	}
	body, _ := io.ReadAll(r.Body)
	b, err := decodeBody[stepListBody](body)
	if err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	f := b.Filters
	if f == nil {
		f = &stepFilters{}
	}
	s.listPaged(w, pagedRequest{
		startTime: f.StartTime, endTime: f.EndTime, success: f.Success, orderBy: f.OrderBy, orderDirection: f.OrderDirection,
		lists: f.lists(), page: b.Page, pageSize: b.PageSize,
	}, &s.actionSteps, "steps")
}

// StepsFor returns the steps of a generated action run, as GenerateActionLogs
// and StartLiveTraffic add them when Options.ActionSteps is set. They depend
// only on the action log, so a test can tell which steps to expect.
//
// A run is a few steps (resolve the account, map the request, the provider
// call, pagination for a list, map the response) spread over the run's time.
// A failed run fails at the provider call with the run's status code, and the
// steps after it are skipped; a list that fits one page skips its pagination.
func StepsFor(action map[string]any) []map[string]any {
	run := lookupString(action, "action_run_id")
	start, ok := lookupTime(action, "start_time", "event_time")
	if run == "" || !ok {
		return nil
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(run))
	g := &generator{rng: rand.New(rand.NewPCG(h.Sum64(), 0x57e95))}

	status := 200
	if v, ok := lookup(action, "status_code"); ok {
		if n, ok := valueNumber(v); ok {
			status = int(n)
		}
	}
	total := 100.0
	if v, ok := lookup(action, "duration_ms"); ok {
		if n, ok := valueNumber(v); ok && n > 0 {
			total = n
		}
	}
	connector := lookupString(action, "connector_key")
	call := unifiedFunction(lookupString(action, "action_id"), connector, lookupString(action, "category"))
	verb := strings.Split(call, "_")[min(1, strings.Count(call, "_"))]

	type plan struct {
		name  string
		share float64 // of the run's duration
	}
	steps := []plan{{"resolve_account", 0.05}, {"map_request", 0.05}, {call, 0.7}}
	if verb == "list" {
		steps = append(steps, plan{"paginate", 0.1})
	}
	steps = append(steps, plan{"map_response", 0.1})

	failed := status >= 400
	at := start.UTC()
	out := make([]map[string]any, 0, len(steps))
	failedAt := -1
	for i, p := range steps {
		dur := int(max(1, total*p.share))
		e := map[string]any{
			"log_type":              "step",
			"step_id":               g.uuid(),
			"action_run_id":         run,
			"step_index":            i,
			"step_function_name":    p.name,
			"step_function_version": fmt.Sprintf("1.%d.%d", g.rng.IntN(3), g.rng.IntN(10)),
			"step_iterations":       1,
			"project_id":            action["project_id"],
			"account_id":            action["account_id"],
			"skipped":               false,
			"success":               true,
			"status_code":           nil,
			"message":               nil,
		}
		pages := 1 + g.rng.IntN(4)
		switch {
		case failedAt >= 0:
			e["skipped"], e["success"], e["step_iterations"], dur = true, nil, 0, 0
			e["message"] = fmt.Sprintf("skipped: step %d failed", failedAt)
		case p.name == call:
			e["status_code"] = status
			if failed {
				e["success"] = false
				e["message"] = fmt.Sprintf("%s answered %d %s", connector, status, http.StatusText(status))
				failedAt = i
			}
		case p.name == "paginate" && pages == 1:
			e["skipped"], e["success"], e["step_iterations"], dur = true, nil, 0, 0
			e["message"] = "skipped: the first page held every record"
		case p.name == "paginate":
			e["step_iterations"] = pages
			e["message"] = fmt.Sprintf("read %d more pages", pages-1)
		}
		end := at.Add(time.Duration(dur) * time.Millisecond)
		e["event_time"], e["start_time"], e["end_time"], e["duration_ms"] = formatTime(at), formatTime(at), formatTime(end), dur
		out = append(out, e)
		at = end
	}
	return out
}

// unifiedFunction names the provider call of an action: hris_list_employees
// for bamboohr_list_employees in category hris.
func unifiedFunction(actionID, connector, category string) string {
	rest := strings.TrimPrefix(actionID, connector+"_")
	if category == "" || rest == actionID {
		return actionID
	}
	return category + "_" + rest
}

// stepsOf is the steps of every action in actions, when the server generates them.
func (s *Server) stepsOf(actions []map[string]any) []map[string]any {
	if !s.opts.ActionSteps {
		return nil
	}
	var out []map[string]any
	for _, a := range actions {
		out = append(out, StepsFor(a)...)
	}
	return out
}
