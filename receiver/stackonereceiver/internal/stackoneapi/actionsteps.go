package stackoneapi

import (
	"context"
	"time"
)

// ActionStepsPath lists the steps of action runs: what an AI agent's action did, step by step. Not the step
// logs of StepLogsPath, which are the provider calls behind a request.
const ActionStepsPath = "/logs/steps"

// ActionStepFilter is the list filters of POST /logs/steps that a log stream has use for. Config keys are plural
// like the other streams'; the API's body keys are singular.
type ActionStepFilter struct {
	AccountIDs   []string `mapstructure:"account_ids"`
	ActionRunIDs []string `mapstructure:"action_run_ids"`
	Success      *bool    `mapstructure:"success"`
}

// Lists returns the string list filters with their config keys and the API's body keys.
func (f ActionStepFilter) Lists() []NamedList {
	return []NamedList{
		{"account_ids", f.AccountIDs, "account_secure_id"}, {"action_run_ids", f.ActionRunIDs, "action_run_id"},
	}
}

// ActionStepQuery is one page request on POST /logs/steps, always in ascending event time.
type ActionStepQuery struct {
	Start    time.Time // inclusive lower bound on event_time; zero = none
	End      time.Time // upper bound on event_time; zero = open-ended
	Filter   ActionStepFilter
	Page     int
	PageSize int
}

// Body is the JSON request body. The public Ruby SDK (StepsLogsPostDtoFilters) documents order_by (event_time,
// start_time, end_time, duration_ms) and order_direction for this endpoint as for action logs; the receiver reads
// keyset-style and needs ascending event time.
func (q ActionStepQuery) Body() map[string]any {
	filters := map[string]any{"order_by": "event_time", "order_direction": "asc"}
	for _, l := range q.Filter.Lists() {
		if len(l.Values) > 0 {
			filters[l.Body] = l.Values
		}
	}
	if q.Filter.Success != nil {
		filters["success"] = *q.Filter.Success
	}
	return pagedBody(filters, q.Start, q.End, q.Page, q.PageSize)
}

// ListActionSteps fetches one page of action-run steps. Page.Total is the server's count for the query.
func (c *Client) ListActionSteps(ctx context.Context, q ActionStepQuery) (Page, error) {
	return c.listPaged(ctx, ActionStepsPath, q.Body(), q.PageSize)
}
