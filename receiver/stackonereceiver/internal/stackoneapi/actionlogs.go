package stackoneapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ActionLogsPath lists action logs, the newer page-numbered logs API.
const ActionLogsPath = "/logs/actions"

// ActionLogFilter is every list filter POST /logs/actions documents. Config keys are plural (connector_keys);
// the API's body keys are singular (connector_key).
type ActionLogFilter struct {
	AccountIDs        []string `mapstructure:"account_ids"`
	ActionIDs         []string `mapstructure:"action_ids"`
	ActionRunIDs      []string `mapstructure:"action_run_ids"`
	ActionTypes       []string `mapstructure:"action_types"`
	Categories        []string `mapstructure:"categories"`
	ConnectorKeys     []string `mapstructure:"connector_keys"`
	ConnectorVersions []string `mapstructure:"connector_versions"`
	Modes             []string `mapstructure:"modes"`
	OriginOwnerIDs    []string `mapstructure:"origin_owner_ids"`
	OriginOwnerNames  []string `mapstructure:"origin_owner_names"`
	SourceIDs         []string `mapstructure:"source_ids"`
	SourceTypes       []string `mapstructure:"source_types"`
	HTTPMethods       []string `mapstructure:"http_methods"`
	StatusCodes       []int    `mapstructure:"status_codes"`
	Success           *bool    `mapstructure:"success"`
}

// Lists returns the string list filters with their config keys and the API's body keys.
func (f ActionLogFilter) Lists() []NamedList {
	return []NamedList{
		{"account_ids", f.AccountIDs, "account_secure_id"}, {"action_ids", f.ActionIDs, "action_id"},
		{"action_run_ids", f.ActionRunIDs, "action_run_id"}, {"action_types", f.ActionTypes, "action_type"},
		{"categories", f.Categories, "category"}, {"connector_keys", f.ConnectorKeys, "connector_key"},
		{"connector_versions", f.ConnectorVersions, "connector_version"}, {"modes", f.Modes, "mode"},
		{"origin_owner_ids", f.OriginOwnerIDs, "origin_owner_id"}, {"origin_owner_names", f.OriginOwnerNames, "origin_owner_name"},
		{"source_ids", f.SourceIDs, "source_id"}, {"source_types", f.SourceTypes, "source_type"},
		{"http_methods", f.HTTPMethods, "http_method"},
	}
}

// ActionQuery is one page request on POST /logs/actions, always in ascending event time.
type ActionQuery struct {
	Start    time.Time // inclusive lower bound on event_time; zero = none
	End      time.Time // upper bound on event_time; zero = open-ended
	Filter   ActionLogFilter
	Page     int
	PageSize int
}

// Body is the JSON request body, in the documented shape.
func (q ActionQuery) Body() map[string]any {
	filters := map[string]any{"order_by": "event_time", "order_direction": "asc"}
	for _, l := range q.Filter.Lists() {
		if len(l.Values) == 0 {
			continue
		}
		vals := l.Values
		if l.Key == "http_methods" {
			// the documented example sends methods lower-case
			vals = make([]string, len(l.Values))
			for i, v := range l.Values {
				vals[i] = strings.ToLower(v)
			}
		}
		filters[l.Body] = vals
	}
	if len(q.Filter.StatusCodes) > 0 {
		codes := make([]string, len(q.Filter.StatusCodes)) // the API takes status codes as strings
		for i, c := range q.Filter.StatusCodes {
			codes[i] = strconv.Itoa(c)
		}
		filters["status_code"] = codes
	}
	if q.Filter.Success != nil {
		filters["success"] = *q.Filter.Success
	}
	return pagedBody(filters, q.Start, q.End, q.Page, q.PageSize)
}

// pagedBody completes the body of a page-numbered /logs endpoint: the time bounds among the filters, the page.
func pagedBody(filters map[string]any, start, end time.Time, page, pageSize int) map[string]any {
	if !start.IsZero() {
		filters["start_time"] = wireTime(start)
	}
	if !end.IsZero() {
		filters["end_time"] = wireTime(end)
	}
	return map[string]any{"filters": filters, "page": max(page, 1), "page_size": pageSize}
}

// ListActions fetches one page of action logs. Page.Total is the server's count for the query.
func (c *Client) ListActions(ctx context.Context, q ActionQuery) (Page, error) {
	return c.listPaged(ctx, ActionLogsPath, q.Body(), q.PageSize)
}

// listPaged posts one page request to a page-numbered /logs endpoint.
func (c *Client) listPaged(ctx context.Context, path string, body map[string]any, pageSize int) (Page, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return Page{}, err
	}
	resp, err := c.do(ctx, http.MethodPost, path, nil, b)
	if err != nil {
		return Page{}, err
	}
	return DecodePage(resp, maxEntriesFor(pageSize))
}
