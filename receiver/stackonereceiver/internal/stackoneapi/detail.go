package stackoneapi

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/go-json-experiment/json/jsontext"
)

// RequestLogDetail fetches one request log with what the list leaves out: the request and response with their
// headers, provider_errors and custom_mapping_errors, and with include=step_logs the provider calls behind it
// (GET /requests/logs/{id}). It returns the entry, the object under `data`; an answer that holds none (or that
// is the entry itself, unwrapped) is taken as it comes.
func (c *Client) RequestLogDetail(ctx context.Context, id string) (jsontext.Value, error) {
	body, err := c.do(ctx, http.MethodGet, RequestLogsPath+"/"+url.PathEscape(id), url.Values{"include": {"step_logs"}}, nil)
	if err != nil {
		return nil, err
	}
	entry, err := detailEntry(body)
	if err != nil {
		return nil, &DecodeError{Err: err}
	}
	return entry, nil
}

var errNoEntry = errors.New("the detail answer holds no log entry")

// detailEntry finds the entry in a detail answer: {"data": {...}} as documented, or the bare object.
func detailEntry(body []byte) (jsontext.Value, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(body), pageOptions...)
	v, err := dec.ReadValue()
	if err != nil {
		return nil, err
	}
	if v.Kind() != '{' {
		return nil, errNoEntry
	}
	inner := jsontext.NewDecoder(bytes.NewReader(v), pageOptions...)
	if _, err := inner.ReadToken(); err != nil {
		return nil, err
	}
	for inner.PeekKind() == '"' {
		name, err := inner.ReadToken()
		if err != nil {
			return nil, err
		}
		if name.String() != "data" {
			if err := inner.SkipValue(); err != nil {
				return nil, err
			}
			continue
		}
		data, err := inner.ReadValue()
		if err != nil {
			return nil, err
		}
		if data.Kind() != '{' {
			return nil, errNoEntry
		}
		return bytes.Clone(data), nil
	}
	return bytes.Clone(v), nil
}
