package stackoneapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Page is one decoded page of any logs endpoint.
type Page struct {
	Entries []Entry
	// Next is the cursor for the following page; empty on the last page and on page-numbered endpoints.
	Next string
	// Total is the server's count of matching rows on page-numbered endpoints, -1 when not sent.
	Total int64
	// NotObjects counts elements of `data` that were not JSON objects: skipped, never fatal to the page.
	NotObjects int
}

// Entry is one log entry with its keys in snake_case whatever casing the API used. Values are as JSON decodes
// them, with numbers kept as json.Number so ids and large integers survive exactly. Unknown fields are kept.
type Entry map[string]any

type wirePage struct {
	Data  []any `json:"data"`
	Next  any   `json:"next"`
	Total any   `json:"total"`
}

// DecodePage decodes a page body in one pass. A body that is not the page shape (cut off, HTML from a proxy)
// is a *DecodeError; a single bad element is counted in NotObjects and the rest of the page still flows.
func DecodePage(body []byte) (Page, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // ids and large integers survive exactly
	var wp wirePage
	if err := dec.Decode(&wp); err != nil {
		return Page{}, &DecodeError{Err: err}
	}
	p := Page{Total: -1, Entries: make([]Entry, 0, len(wp.Data))}
	switch next := wp.Next.(type) {
	case nil:
	case string:
		p.Next = next
	default:
		return Page{}, &DecodeError{Err: fmt.Errorf("next is not a string: %T", wp.Next)}
	}
	if n, ok := wp.Total.(json.Number); ok {
		if v, err := n.Int64(); err == nil {
			p.Total = v
		}
	}
	for _, el := range wp.Data {
		m, ok := el.(map[string]any)
		if !ok {
			p.NotObjects++
			continue
		}
		p.Entries = append(p.Entries, Entry(normalizeKeys(m)))
	}
	return p, nil
}

// opaqueKeys hold maps whose keys are data (header names, query parameters), not field names.
var opaqueKeys = map[string]bool{"headers": true, "query_params": true, "body": true}

func normalizeKeys(m map[string]any) map[string]any {
	for k, v := range m {
		nk := SnakeCase(k)
		if nested, ok := v.(map[string]any); ok && !opaqueKeys[nk] {
			v = normalizeKeys(nested)
		}
		if nk != k {
			delete(m, k)
			// When both spellings are present the snake_case one, the documented form, wins.
			if _, exists := m[nk]; exists {
				continue
			}
		}
		m[nk] = v
	}
	return m
}

// SnakeCase turns camelCase (requestId, eventDatetime, sourceIP) into snake_case; snake_case passes unchanged.
func SnakeCase(s string) string {
	if strings.IndexFunc(s, unicode.IsUpper) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 4)
	rs := []rune(s)
	for i, r := range rs {
		if unicode.IsUpper(r) {
			prevLower := i > 0 && (unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1]))
			acronymEnd := i > 0 && unicode.IsUpper(rs[i-1]) && i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if (prevLower || acronymEnd) && rs[i-1] != '_' {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// String returns a string field. Numbers and booleans are rendered as text, because ids and enums sometimes
// arrive as numbers; objects and arrays are not strings.
func (e Entry) String(key string) (string, bool) {
	switch v := e[key].(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

// Int returns an integer field; a numeric string ("500") is accepted, a fraction or anything else is not.
func (e Entry) Int(key string) (int64, bool) {
	var s string
	switch v := e[key].(type) {
	case json.Number:
		s = v.String()
	case string:
		s = strings.TrimSpace(v)
	default:
		return 0, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f), true
	}
	return 0, false
}

// Float returns a numeric field; a numeric string is accepted.
func (e Entry) Float(key string) (float64, bool) {
	var s string
	switch v := e[key].(type) {
	case json.Number:
		s = v.String()
	case string:
		s = strings.TrimSpace(v)
	default:
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// Bool returns a boolean field; "true"/"false" strings are accepted.
func (e Entry) Bool(key string) (bool, bool) {
	switch v := e[key].(type) {
	case bool:
		return v, true
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		return b, err == nil
	}
	return false, false
}

// Time returns a date-time field: RFC 3339 text, or a number of epoch milliseconds.
func (e Entry) Time(key string) (time.Time, bool) {
	switch v := e[key].(type) {
	case string:
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v))
		return t, err == nil
	case json.Number:
		ms, err := v.Int64()
		if err != nil || ms <= 0 {
			return time.Time{}, false
		}
		return time.UnixMilli(ms).UTC(), true
	}
	return time.Time{}, false
}

// Object returns a nested object field.
func (e Entry) Object(key string) (Entry, bool) {
	m, ok := e[key].(map[string]any)
	return Entry(m), ok
}

// Has reports whether the field is present and not null.
func (e Entry) Has(key string) bool {
	v, ok := e[key]
	return ok && v != nil
}
