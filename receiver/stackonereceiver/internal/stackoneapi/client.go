// Package stackoneapi is a small client for StackOne's logs APIs. It speaks HTTP and JSON only: it knows nothing
// of the collector or pdata, so the receiver can test its paging and recovery against any fake server.
package stackoneapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const (
	// DefaultMaxResponseSize bounds one answer's body. A page of 1000 list entries with their headers is about
	// 1 MB, so this leaves room for entries many times longer while keeping a runaway answer (and the memory
	// its decoding takes) small.
	DefaultMaxResponseSize = 16 << 20
	// maxErrorBodyBytes bounds a non-2xx body: only its message is used, shortened to one line.
	maxErrorBodyBytes = 64 << 10
	// maxRedirects is net/http's own limit, kept when the caller's client has no redirect policy.
	maxRedirects = 10
)

// Client calls the StackOne logs endpoints with one API key.
type Client struct {
	http      *http.Client
	base      *url.URL
	auth      string
	userAgent string
	maxBody   int64
}

// Option adjusts a Client.
type Option func(*Client)

// WithMaxResponseSize sets the largest answer body accepted, in bytes; a larger one is a *TooLargeError.
// n <= 0 keeps DefaultMaxResponseSize.
func WithMaxResponseSize(n int64) Option {
	return func(c *Client) {
		if n > 0 {
			c.maxBody = n
		}
	}
}

// NewClient builds a client. It sends every call at once: pacing against the key's shared rate limit is the
// caller's, which sees the calls of every stream.
//
// The client works on a copy of httpClient whose redirect policy refuses any redirect that would carry the key
// to another host or over plain http, then applies httpClient's own policy, if any.
func NewClient(httpClient *http.Client, endpoint, apiKey, userAgent string, opts ...Option) (*Client, error) {
	base, err := url.Parse(strings.TrimRight(endpoint, "/"))
	if err != nil {
		return nil, fmt.Errorf("invalid endpoint: %w", err)
	}
	if base.Scheme != "http" && base.Scheme != "https" {
		return nil, fmt.Errorf("invalid endpoint %q: scheme must be http or https", endpoint)
	}
	if base.Scheme == "http" && !IsLoopback(base.Hostname()) {
		return nil, fmt.Errorf("invalid endpoint %q: http would send the API key unencrypted; use https (plain http is accepted only for loopback addresses)", endpoint)
	}
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	hc := *httpClient
	hc.CheckRedirect = keepKeyOnRedirect(httpClient.CheckRedirect)
	c := &Client{
		http:      &hc,
		base:      base,
		auth:      "Basic " + base64.StdEncoding.EncodeToString([]byte(apiKey+":")),
		userAgent: userAgent,
		maxBody:   DefaultMaxResponseSize,
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// IsLoopback reports whether host (a URL's host name, without port) is this machine: localhost, 127.0.0.0/8 or
// ::1. Only there may the key travel over plain http.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// keepKeyOnRedirect wraps a client's redirect policy. net/http copies the Authorization header to a redirect
// on the same host even when it drops from https to http, and a host change is never one the receiver was
// configured for, so both are refused before the request is sent; everything else goes to next.
func keepKeyOnRedirect(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		from, to := via[0].URL, req.URL
		switch {
		case strings.EqualFold(from.Scheme, "https") && !strings.EqualFold(to.Scheme, "https"):
			return &RedirectError{From: origin(from), To: origin(to), Reason: "it would send the API key unencrypted over http; set endpoint to the https URL the API should be reached at"}
		case !sameHost(from, to):
			return &RedirectError{From: origin(from), To: origin(to), Reason: "it would send the API key to another host; if that host is StackOne's, set endpoint to it"}
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		return nil
	}
}

// origin is scheme://host[:port]: enough to say where a redirect pointed, without a path or query that may
// carry the cursor, filters or, behind some proxies, credentials.
func origin(u *url.URL) string { return u.Scheme + "://" + u.Host }

func sameHost(a, b *url.URL) bool {
	return strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}

// do sends one request and returns the body of a 2xx answer, or an *APIError, a *NetworkError, a *TooLargeError
// or a *RedirectError.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body []byte) ([]byte, error) {
	u := *c.base
	u.Path = c.base.Path + path
	if p, err := url.PathUnescape(path); err == nil && p != path {
		// An escaped segment (an id holding '/' or a space) stays one segment.
		u.Path, u.RawPath = c.base.Path+p, c.base.EscapedPath()+path
	}
	u.RawQuery = query.Encode()
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), reader)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var re *RedirectError
		if errors.As(err, &re) {
			return nil, re
		}
		return nil, &NetworkError{Err: redactURLError(err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Cut short rather than refused: a long error body still has its message near the start.
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
		if err != nil {
			return nil, &NetworkError{Err: redactURLError(err)}
		}
		return nil, newAPIError(resp, data, time.Now())
	}
	if resp.ContentLength > c.maxBody {
		return nil, c.tooLarge(fmt.Sprintf("body of %d bytes", resp.ContentLength))
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		// ReadFrom wants MinRead bytes free before it sees EOF; without them an exact fit would be copied again.
		buf.Grow(int(resp.ContentLength) + bytes.MinRead)
	}
	// One byte past the limit tells an over-size body from one exactly at it; nothing more is read.
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		// A reset or timeout mid-body: the page is incomplete and must be fetched again.
		return nil, &NetworkError{Err: redactURLError(err)}
	}
	if n > c.maxBody {
		return nil, c.tooLarge("body")
	}
	return buf.Bytes(), nil
}

func (c *Client) tooLarge(body string) *TooLargeError {
	return &TooLargeError{Reason: fmt.Sprintf("%s over max_response_size (%d bytes): raise max_response_size or lower page_size", body, c.maxBody)}
}

// redactURLError drops the request URL from transport errors: it carries the cursor and filters, which are noise
// in a log line and, behind some proxies, may echo credentials.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// APIError is a non-2xx answer from StackOne.
type APIError struct {
	StatusCode int
	Message    string
	// RetryAfter is the server's Retry-After, zero when absent or unparsable.
	RetryAfter time.Duration
	// CursorRejected marks a 400 on a request that carried a `next` cursor: the cursor expired or no longer
	// matches, and the query must restart from the last saved position.
	CursorRejected bool
	// PageSizeRefused marks a 400 or 422 whose message names the page size (StackOne documents a maximum of
	// 100 and answers e.g. "page_size must not be greater than 100"): the same query with smaller pages can
	// succeed, where restarting it or waiting would get the same answer.
	PageSizeRefused bool
}

func (e *APIError) Error() string {
	hint := ""
	switch e.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		hint = ": API key rejected, check api_key (STACKONE_API_KEY) and the key's scopes"
	case http.StatusNotFound:
		hint = ": endpoint not found, check endpoint and that this log stream is enabled for the account"
	case http.StatusTooManyRequests:
		hint = ": rate limited, lower max_requests_per_minute if this persists"
	}
	switch {
	case e.CursorRejected:
		hint = ": cursor rejected (expired or stale)"
	case e.PageSizeRefused:
		hint = ": page size refused"
	}
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("StackOne API answered %d %s%s", e.StatusCode, msg, hint)
}

// Retryable reports whether the same request may succeed later without any change on our side.
func (e *APIError) Retryable() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode == http.StatusRequestTimeout || e.StatusCode >= 500
}

func newAPIError(resp *http.Response, body []byte, now time.Time) *APIError {
	e := &APIError{StatusCode: resp.StatusCode, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), now)}
	var eb struct {
		Message json.RawMessage `json:"message"`
	}
	if json.Unmarshal(body, &eb) == nil && len(eb.Message) > 0 {
		var s string
		if json.Unmarshal(eb.Message, &s) == nil {
			e.Message = s
		} else {
			e.Message = string(eb.Message)
		}
	}
	// Error messages are shown in logs; keep them to one short line.
	if len(e.Message) > 200 {
		e.Message = e.Message[:200] + "..."
	}
	e.PageSizeRefused = (e.StatusCode == http.StatusBadRequest || e.StatusCode == http.StatusUnprocessableEntity) &&
		namesPageSize.MatchString(e.Message)
	return e
}

// namesPageSize finds the page size in an error message however the server spells the parameter: the query
// key (page_size), the SDKs' field (pageSize) or prose (page size).
var namesPageSize = regexp.MustCompile(`(?i)page[ _-]?size`)

// parseRetryAfter accepts both forms of RFC 9110: delay-seconds and an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		switch {
		case !(secs > 0): // NaN too
			return 0
		case secs >= float64(math.MaxInt64)/float64(time.Second):
			// Converted as is it would wrap around to a negative, read as no Retry-After at all.
			return math.MaxInt64
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// NetworkError is a failure to get a complete answer: connection refused or reset, timeout, body cut off.
type NetworkError struct{ Err error }

func (e *NetworkError) Error() string { return "StackOne API unreachable: " + e.Err.Error() }
func (e *NetworkError) Unwrap() error { return e.Err }

// DecodeError is a 2xx answer whose body is not the documented page shape (often a body cut off mid-JSON).
type DecodeError struct{ Err error }

func (e *DecodeError) Error() string {
	return "StackOne API page could not be decoded: " + e.Err.Error()
}
func (e *DecodeError) Unwrap() error { return e.Err }

// TooLargeError is an answer bigger than the receiver accepts: a body over the configured size limit, or a page
// with far more entries than were asked for. The same request would get the same answer, so it is not retried.
type TooLargeError struct{ Reason string }

func (e *TooLargeError) Error() string { return "StackOne API answer refused: " + e.Reason }

// RedirectError is a redirect the client refused to follow because it would carry the API key off the
// configured endpoint's host or over plain http.
type RedirectError struct{ From, To, Reason string }

func (e *RedirectError) Error() string {
	return fmt.Sprintf("StackOne API redirect from %s to %s refused: %s", e.From, e.To, e.Reason)
}
