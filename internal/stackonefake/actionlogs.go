package stackonefake

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

type storedAction struct {
	raw   map[string]any
	at    time.Time // event_time, else start_time, else ingestion time
	logID string
	seq   uint64
}

// actionFilters mirrors the documented body of POST /logs/actions; decoding
// with DisallowUnknownFields turns a misspelt key into a 400.
type actionFilters struct {
	StartTime        *string  `json:"start_time"`
	EndTime          *string  `json:"end_time"`
	AccountSecureID  []string `json:"account_secure_id"`
	ActionID         []string `json:"action_id"`
	ActionRunID      []string `json:"action_run_id"`
	ActionType       []string `json:"action_type"`
	Category         []string `json:"category"`
	ConnectorKey     []string `json:"connector_key"`
	ConnectorVersion []string `json:"connector_version"`
	Mode             []string `json:"mode"`
	OriginOwnerID    []string `json:"origin_owner_id"`
	OriginOwnerName  []string `json:"origin_owner_name"`
	SourceID         []string `json:"source_id"`
	SourceType       []string `json:"source_type"`
	StatusCode       []string `json:"status_code"`
	HTTPMethod       []string `json:"http_method"`
	Success          *bool    `json:"success"`
	OrderBy          *string  `json:"order_by"`
	OrderDirection   *string  `json:"order_direction"`
}

type actionListBody struct {
	Filters  *actionFilters `json:"filters"`
	Page     *int           `json:"page"`
	PageSize *int           `json:"page_size"`
}

type actionListResponse struct {
	Data  []any `json:"data"`
	Query struct {
		Page     int `json:"page"`
		PageSize int `json:"page_size"`
	} `json:"query"`
	Total int `json:"total"`
}

type actionListFilter struct {
	field   string
	values  []string
	numeric bool
}

func (f *actionFilters) lists() []actionListFilter {
	all := []actionListFilter{
		{"account_id", f.AccountSecureID, false},
		{"action_id", f.ActionID, false},
		{"action_run_id", f.ActionRunID, false},
		{"action_type", f.ActionType, false},
		{"category", f.Category, false},
		{"connector_key", f.ConnectorKey, false},
		{"connector_version", f.ConnectorVersion, false},
		{"mode", f.Mode, false},
		{"origin_owner_id", f.OriginOwnerID, false},
		{"origin_owner_name", f.OriginOwnerName, false},
		{"source_id", f.SourceID, false},
		{"source_type", f.SourceType, false},
		{"status_code", f.StatusCode, true},
		{"http_method", f.HTTPMethod, false},
	}
	out := all[:0]
	for _, l := range all {
		if len(l.values) > 0 {
			out = append(out, l)
		}
	}
	return out
}

// AddActionLogs stores raw action-log entries for /logs/actions; they are
// served as they are, never case-converted (the /logs API is snake_case).
func (s *Server) AddActionLogs(entries ...map[string]any) {
	s.addPaged(&s.actionLogs, func(raw map[string]any) string { return lookupString(raw, "log_id") }, entries)
}

// addPaged stores entries of a page-numbered endpoint, placed at their
// event_time, else start_time, else when they were added; key breaks ties.
func (s *Server) addPaged(store *[]storedAction, key func(map[string]any) string, entries []map[string]any) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range entries {
		raw := cloneMap(e)
		at, ok := lookupTime(raw, "event_time", "start_time")
		if !ok {
			at = now
		}
		s.seq++
		a := storedAction{raw: raw, at: at.Round(0).UTC(), logID: key(raw), seq: s.seq}
		// Kept in event-time order so a start_time bound is a binary search
		// and the default order needs no sort per request.
		i := sort.Search(len(*store), func(i int) bool { return compareActions((*store)[i], a, "event_time") > 0 })
		*store = slices.Insert(*store, i, a)
	}
}

func decodeActionBody(body []byte) (actionListBody, error) {
	return decodeBody[actionListBody](body)
}

// decodeBody reads a JSON list body strictly: an unknown key or trailing data is a 400.
func decodeBody[T any](body []byte) (T, error) {
	var b T
	if len(bytes.TrimSpace(body)) == 0 {
		return b, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return b, badRequest("Invalid request body: " + err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return b, badRequest("Invalid request body: trailing data after JSON value")
	}
	return b, nil
}

var actionOrderBy = map[string]bool{"event_time": true, "start_time": true, "end_time": true, "duration_ms": true}

func (s *Server) listActions(w http.ResponseWriter, r *http.Request) {
	if len(r.URL.Query()) > 0 {
		s.writeError(w, http.StatusBadRequest, "Unexpected query parameters: /logs/actions takes a JSON body")
		return
	}
	body, _ := io.ReadAll(r.Body)
	b, err := decodeActionBody(body)
	if err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	f := b.Filters
	if f == nil {
		f = &actionFilters{}
	}
	for _, sc := range f.StatusCode {
		if _, err := strconv.Atoi(strings.TrimSpace(sc)); err != nil {
			s.writeError(w, http.StatusBadRequest, "status_code must be a list of integer strings")
			return
		}
	}
	s.listPaged(w, pagedRequest{
		startTime: f.StartTime, endTime: f.EndTime, success: f.Success, orderBy: f.OrderBy, orderDirection: f.OrderDirection,
		lists: f.lists(), page: b.Page, pageSize: b.PageSize,
	}, &s.actionLogs, "actions")
}

// pagedRequest is a decoded list body of the page-numbered /logs endpoints: the keys they share, and the list
// filters of the endpoint asked.
type pagedRequest struct {
	startTime, endTime, orderBy, orderDirection *string
	success                                     *bool
	lists                                       []actionListFilter
	page, pageSize                              *int
}

// listPaged answers one page of a page-numbered /logs endpoint over store (kept in event-time order; read
// under s.mu). position names the endpoint for RepeatBoundaries.
func (s *Server) listPaged(w http.ResponseWriter, b pagedRequest, store *[]storedAction, position string) {
	var err error
	page, size := 1, defaultPageSize
	if b.page != nil {
		page = *b.page
	}
	if b.pageSize != nil {
		size = *b.pageSize
	}
	if page < 1 {
		s.writeError(w, http.StatusBadRequest, "page must be a positive integer")
		return
	}
	if size < 1 {
		s.writeError(w, http.StatusBadRequest, "page_size must be a positive integer")
		return
	}
	if size, err = s.pageSize(size, b.pageSize != nil, s.maxActionPageSize); err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var start, end *time.Time
	for _, tf := range []struct {
		name string
		in   *string
		out  **time.Time
	}{{"start_time", b.startTime, &start}, {"end_time", b.endTime, &end}} {
		if tf.in == nil || *tf.in == "" {
			continue
		}
		t, err := parseDate(*tf.in)
		if err != nil {
			s.writeError(w, http.StatusBadRequest, tf.name+" must be an ISO-8601 date-time")
			return
		}
		*tf.out = &t
	}
	orderBy := "event_time"
	if b.orderBy != nil && *b.orderBy != "" {
		orderBy = strings.ToLower(*b.orderBy)
		if !actionOrderBy[orderBy] {
			s.writeError(w, http.StatusBadRequest, "order_by must be one of event_time, start_time, end_time, duration_ms")
			return
		}
	}
	desc := true
	if b.orderDirection != nil {
		switch strings.ToLower(*b.orderDirection) {
		case "", "desc":
		case "asc":
			desc = false
		default:
			s.writeError(w, http.StatusBadRequest, "order_direction must be asc or desc")
			return
		}
	}
	if s.opts.NewestFirst {
		orderBy, desc = "event_time", true
	}
	lists := b.lists

	keep := func(a storedAction) bool {
		if b.success != nil {
			v, ok := lookup(a.raw, "success")
			if !ok || v == nil || !strings.EqualFold(valueString(v), strconv.FormatBool(*b.success)) {
				return false
			}
		}
		for _, l := range lists {
			v, has := lookup(a.raw, l.field)
			if !has || v == nil || !matchesAny(v, trimAll(l.values), l.numeric) {
				return false
			}
		}
		return true
	}

	s.mu.Lock()
	all := *store
	var matched []storedAction
	var widened uint64 // seq of the entry the start bound took in too; 0 = none
	first := 0
	if start != nil {
		first = sort.Search(len(all), func(i int) bool { return !all[i].at.Before(*start) })
		// The start bound taken one entry too wide (RepeatBoundaries): the
		// same for every page of this query, so its offsets stay consistent.
		if s.repeatDueLocked(position, *b.startTime, valueOr(b.endTime)) {
			for i := first - 1; i >= 0; i-- {
				if keep(all[i]) {
					matched = append(matched, all[i])
					widened = all[i].seq
					break
				}
			}
		}
	}
	for _, a := range all[first:] {
		if end != nil && a.at.After(*end) {
			break
		}
		if keep(a) {
			matched = append(matched, a)
		}
	}
	s.mu.Unlock()

	if orderBy != "event_time" {
		slices.SortStableFunc(matched, func(a, b storedAction) int { return compareActions(a, b, orderBy) })
	}
	if desc {
		// The order is total (seq breaks every tie), so reversing the
		// ascending order is exactly the descending one.
		slices.Reverse(matched)
	}
	var resp actionListResponse
	resp.Query.Page, resp.Query.PageSize, resp.Total = page, size, len(matched)
	resp.Data = []any{}
	// Plain offsets over whatever the set is right now, as the real API
	// does: rows ingested between two page requests shift the window.
	if (page - 1) <= len(matched)/size {
		off := (page - 1) * size
		for _, a := range matched[min(off, len(matched)):min(off+size, len(matched))] {
			resp.Data = append(resp.Data, serveAction(a.raw))
			if widened != 0 && a.seq == widened {
				s.mu.Lock()
				s.boundaryRepeats++
				s.mu.Unlock()
			}
		}
	}
	s.writeJSON(w, http.StatusOK, resp)
}

func valueOr(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func trimAll(vs []string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = strings.TrimSpace(v)
	}
	return out
}

func serveAction(raw map[string]any) any {
	if raw == nil {
		return nil
	}
	return cloneMap(raw)
}

func compareActions(a, b storedAction, orderBy string) int {
	var c int
	switch orderBy {
	case "start_time", "end_time":
		ta, ok := lookupTime(a.raw, orderBy)
		if !ok {
			ta = a.at
		}
		tb, ok := lookupTime(b.raw, orderBy)
		if !ok {
			tb = b.at
		}
		c = ta.Compare(tb)
	case "duration_ms":
		da, oka := lookup(a.raw, "duration_ms")
		db, okb := lookup(b.raw, "duration_ms")
		na, oka2 := valueNumber(da)
		nb, okb2 := valueNumber(db)
		// Rows without a duration sort first, as nulls do in ascending SQL order.
		switch {
		case !(oka && oka2) && !(okb && okb2):
		case !(oka && oka2):
			c = -1
		case !(okb && okb2):
			c = 1
		default:
			c = cmp.Compare(na, nb)
		}
	default:
		c = a.at.Compare(b.at)
	}
	if c != 0 {
		return c
	}
	if c = strings.Compare(a.logID, b.logID); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

func (s *Server) getAction(w http.ResponseWriter, r *http.Request, id string) {
	if len(r.URL.Query()) > 0 {
		s.writeError(w, http.StatusBadRequest, "Unexpected query parameters")
		return
	}
	s.mu.Lock()
	var found map[string]any
	ok := false
	for _, a := range s.actionLogs {
		if lookupString(a.raw, "action_run_id") == id {
			found, ok = a.raw, true
			break
		}
	}
	s.mu.Unlock()
	if !ok {
		s.writeError(w, http.StatusNotFound, fmt.Sprintf("Action log %s not found", id))
		return
	}
	// Bare object, no {"data": ...} wrapper: that is how this endpoint differs.
	s.writeJSON(w, http.StatusOK, serveAction(found))
}
