package stackoneapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Paths of the cursor-paginated log streams. They share paging; each takes its own set of filters
// (CursorFilters).
const (
	RequestLogsPath  = "/requests/logs"
	StepLogsPath     = "/requests/logs/steps"
	PlatformLogsPath = "/requests/platform-logs"
)

// RequestLogFilter is every filter the cursor-paginated endpoints document, each under its query key. Not
// every endpoint takes every filter (CursorFilters). The mapstructure tags let the receiver's configuration use
// it as is, so the config keys are exactly the API's query keys.
type RequestLogFilter struct {
	AccountIDs     []string `mapstructure:"account_ids"`
	Providers      []string `mapstructure:"providers"`
	Services       []string `mapstructure:"services"`
	Actions        []string `mapstructure:"actions"`
	Resources      []string `mapstructure:"resources"`
	SubResources   []string `mapstructure:"sub_resources"`
	ChildResources []string `mapstructure:"child_resources"`
	HTTPMethods    []string `mapstructure:"http_methods"`
	RequestIDs     []string `mapstructure:"request_ids"`
	SourceIDs      []string `mapstructure:"source_ids"`
	SourceTypes    []string `mapstructure:"source_types"`
	SourceValues   []string `mapstructure:"source_values"`
	Categories     []string `mapstructure:"categories"` // platform logs only
	StatusCodes    []int    `mapstructure:"status_codes"`
	Success        *bool    `mapstructure:"success"`
}

// NamedList is one list filter: its config key (also the query key of the request-log endpoints) and, for
// action logs, the differently named key of the JSON body.
type NamedList struct {
	Key    string
	Values []string
	Body   string
}

// Lists returns the string list filters with their query keys, in the order the SDKs send them.
func (f RequestLogFilter) Lists() []NamedList {
	return []NamedList{
		{Key: "account_ids", Values: f.AccountIDs}, {Key: "providers", Values: f.Providers}, {Key: "services", Values: f.Services},
		{Key: "actions", Values: f.Actions}, {Key: "resources", Values: f.Resources}, {Key: "sub_resources", Values: f.SubResources},
		{Key: "child_resources", Values: f.ChildResources}, {Key: "http_methods", Values: f.HTTPMethods}, {Key: "request_ids", Values: f.RequestIDs},
		{Key: "source_ids", Values: f.SourceIDs}, {Key: "source_types", Values: f.SourceTypes}, {Key: "source_values", Values: f.SourceValues},
		{Key: "categories", Values: f.Categories},
	}
}

// Set returns the query keys of the filters that are set, in the order of Lists, then status_codes and success.
func (f RequestLogFilter) Set() []string {
	var keys []string
	for _, l := range f.Lists() {
		if len(l.Values) > 0 {
			keys = append(keys, l.Key)
		}
	}
	if len(f.StatusCodes) > 0 {
		keys = append(keys, "status_codes")
	}
	if f.Success != nil {
		keys = append(keys, "success")
	}
	return keys
}

// CursorFilters are the filters each cursor-paginated endpoint takes, by StackOne's OpenAPI: step logs have no
// source_* filters, platform logs take categories and none of providers, services, sub_resources and
// child_resources. start_date and end_date, which all of them take, are the receiver's own.
var CursorFilters = map[string][]string{
	RequestLogsPath: {"account_ids", "providers", "services", "actions", "resources", "sub_resources", "child_resources",
		"http_methods", "request_ids", "source_ids", "source_types", "source_values", "status_codes", "success"},
	StepLogsPath: {"account_ids", "providers", "services", "actions", "resources", "sub_resources", "child_resources",
		"http_methods", "request_ids", "status_codes", "success"},
	PlatformLogsPath: {"account_ids", "categories", "actions", "resources", "http_methods", "request_ids",
		"source_ids", "source_types", "source_values", "status_codes", "success"},
}

// CursorQuery is one page request on a cursor-paginated stream.
type CursorQuery struct {
	Start    time.Time // inclusive lower bound on the event time; zero = none
	End      time.Time // zero = open-ended
	Filter   RequestLogFilter
	PageSize int
	// OrderBy is the API's order_by value; empty leaves the server default.
	OrderBy string
	// Next is the cursor from the previous page; filters are repeated with it because the API does not say
	// whether a cursor carries them.
	Next string
}

// wireTime is the SDKs' date format: UTC with milliseconds.
func wireTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// Values encodes the query as the official SDKs do: flat keys, lists comma-joined (url encoding turns the commas
// into %2C), dates in UTC with milliseconds.
func (q CursorQuery) Values() url.Values {
	v := url.Values{}
	f := q.Filter
	for _, l := range f.Lists() {
		if len(l.Values) > 0 {
			v.Set(l.Key, strings.Join(l.Values, ","))
		}
	}
	if len(f.StatusCodes) > 0 {
		codes := make([]string, len(f.StatusCodes))
		for i, c := range f.StatusCodes {
			codes[i] = strconv.Itoa(c)
		}
		v.Set("status_codes", strings.Join(codes, ","))
	}
	if f.Success != nil {
		v.Set("success", strconv.FormatBool(*f.Success))
	}
	if !q.Start.IsZero() {
		v.Set("start_date", wireTime(q.Start))
	}
	if !q.End.IsZero() {
		v.Set("end_date", wireTime(q.End))
	}
	if q.OrderBy != "" {
		v.Set("order_by", q.OrderBy)
		v.Set("order_direction", "asc")
	}
	if q.PageSize > 0 {
		v.Set("page_size", strconv.Itoa(q.PageSize))
	}
	if q.Next != "" {
		v.Set("next", q.Next)
	}
	return v
}

// ListCursor fetches one page of a cursor-paginated stream (RequestLogsPath, StepLogsPath, PlatformLogsPath).
// Page.Next is empty on the last page.
func (c *Client) ListCursor(ctx context.Context, path string, q CursorQuery) (Page, error) {
	body, err := c.do(ctx, http.MethodGet, path, q.Values(), nil)
	if err != nil {
		// A message about the page size says what is wrong with the request, cursor or not: smaller pages fix
		// it, restarting the query would not.
		if ae, ok := err.(*APIError); ok && q.Next != "" && ae.StatusCode == http.StatusBadRequest && !ae.PageSizeRefused {
			ae.CursorRejected = true
		}
		return Page{}, err
	}
	return DecodePage(body, maxEntriesFor(q.PageSize))
}

// maxEntriesFor is how many entries a page may hold before it is refused. A server may round the page size up
// or ignore it for small values, so some excess is tolerated; but an answer with far more entries than asked
// for (a runaway query, a server that ignores page_size, a body of millions of tiny objects) would cost memory
// and export work out of all proportion to the request, and is refused instead. Without a page size there is
// no bound to derive, so only the body-size limit applies.
func maxEntriesFor(pageSize int) int {
	if pageSize <= 0 {
		return 0
	}
	return 2*pageSize + pageSlack
}

// pageSlack lets small pages exceed twice their size a little (a server minimum of 50 for a page_size of 10).
const pageSlack = 100
