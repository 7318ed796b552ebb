package stackoneapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
)

func newTestClient(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := NewClient(srv.Client(), srv.URL, "key-123", "otelcol-stackone-receiver/test")
	require.NoError(t, err)
	return c
}

func TestQueryEncodingMatchesSDK(t *testing.T) {
	success := false
	q := CursorQuery{
		Start: time.Date(2025, 1, 2, 3, 4, 5, 678_000_000, time.UTC),
		Filter: RequestLogFilter{
			AccountIDs:  []string{"acc1", "acc2"},
			Providers:   []string{"ashby", "greenhouse"},
			StatusCodes: []int{400, 500},
			Success:     &success,
		},
		PageSize: 100,
		OrderBy:  "eventDatetime",
		Next:     `eyJjdXJzb3IiOiJhYmMvKz0ifQ==`,
	}
	// The TypeScript SDK's verbatim request for the same query (see shared/stackone-api.md), keys sorted.
	want := "account_ids=acc1%2Cacc2&next=eyJjdXJzb3IiOiJhYmMvKz0ifQ%3D%3D&order_by=eventDatetime&order_direction=asc" +
		"&page_size=100&providers=ashby%2Cgreenhouse&start_date=2025-01-02T03%3A04%3A05.678Z&status_codes=400%2C500&success=false"
	assert.Equal(t, want, q.Values().Encode())
}

func TestFilterEncoding(t *testing.T) {
	no := false
	tests := []struct {
		name     string
		filter   RequestLogFilter
		want     string
		wantKeys []string
	}{
		{"categories as a flat comma list, like every list", RequestLogFilter{Categories: []string{"auth", "connect"}, SourceTypes: []string{"DASHBOARD"}},
			"categories=auth%2Cconnect&source_types=DASHBOARD", []string{"source_types", "categories"}},
		{"status codes and success", RequestLogFilter{Providers: []string{"hibob"}, StatusCodes: []int{500}, Success: &no},
			"providers=hibob&status_codes=500&success=false", []string{"providers", "status_codes", "success"}},
		{"nothing set", RequestLogFilter{Categories: []string{}}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, CursorQuery{Filter: tt.filter}.Values().Encode())
			assert.Equal(t, tt.wantKeys, tt.filter.Set())
		})
	}
}

// Every filter an endpoint takes is one the receiver can set, and the differences between the endpoints are the
// ones StackOne's OpenAPI has.
func TestCursorFilters(t *testing.T) {
	settable := map[string]bool{"status_codes": true, "success": true}
	for _, l := range (RequestLogFilter{}).Lists() {
		settable[l.Key] = true
	}
	tests := []struct {
		path    string
		without []string
	}{
		{RequestLogsPath, []string{"categories"}},
		{StepLogsPath, []string{"categories", "source_ids", "source_types", "source_values"}},
		{PlatformLogsPath, []string{"providers", "services", "sub_resources", "child_resources"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			accepted := CursorFilters[tt.path]
			for _, k := range accepted {
				assert.True(t, settable[k], "%s takes %s, which RequestLogFilter cannot set", tt.path, k)
			}
			var missing []string
			for k := range settable {
				if !slices.Contains(accepted, k) {
					missing = append(missing, k)
				}
			}
			assert.ElementsMatch(t, tt.without, missing)
		})
	}
}

func TestListCursorPagesToTheEnd(t *testing.T) {
	pages := map[string]string{
		"":   `{"data":[{"request_id":"r1"},{"request_id":"r2"}],"next":"c1"}`,
		"c1": `{"data":[{"request_id":"r3"}],"next":"c2"}`,
		"c2": `{"data":[{"request_id":"r4"}],"next":null}`,
	}
	var seen []string
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, http.MethodGet, r.Method)
		assert.Equal(t, RequestLogsPath, r.URL.Path)
		assert.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte("key-123:")), r.Header.Get("Authorization"))
		assert.Equal(t, "otelcol-stackone-receiver/test", r.Header.Get("User-Agent"))
		// filters are repeated alongside the cursor
		assert.Equal(t, "hibob", r.URL.Query().Get("providers"))
		assert.Equal(t, "2025-01-02T03:04:05.000Z", r.URL.Query().Get("start_date"))
		seen = append(seen, r.URL.Query().Get("next"))
		fmt.Fprint(w, pages[r.URL.Query().Get("next")])
	})
	q := CursorQuery{Start: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Filter: RequestLogFilter{Providers: []string{"hibob"}}, PageSize: 2}
	var ids []string
	for {
		p, err := c.ListCursor(context.Background(), RequestLogsPath, q)
		require.NoError(t, err)
		for _, e := range p.Entries {
			var v struct {
				RequestID string `json:"request_id"`
			}
			require.NoError(t, json.Unmarshal(e, &v))
			ids = append(ids, v.RequestID)
		}
		if p.Next == "" {
			break
		}
		q.Next = p.Next
	}
	assert.Equal(t, []string{"r1", "r2", "r3", "r4"}, ids)
	assert.Equal(t, []string{"", "c1", "c2"}, seen)
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryAfter string
		body       string
		next       string
		wantRetry  bool
		wantAfter  time.Duration
		wantCursor bool
		wantSize   bool
		wantText   string
	}{
		{name: "401 says the key was rejected", status: 401, body: `{"statusCode":401,"message":"Unauthorized","timestamp":"2025-01-01T00:00:00.000Z"}`, wantText: "API key rejected"},
		{name: "403", status: 403, wantText: "API key rejected"},
		{name: "429 with seconds", status: 429, retryAfter: "7", wantRetry: true, wantAfter: 7 * time.Second, wantText: "rate limited"},
		{name: "408 provider rate limit", status: 408, retryAfter: "60", wantRetry: true, wantAfter: time.Minute},
		{name: "500", status: 500, body: `{"statusCode":500,"message":"boom"}`, wantRetry: true, wantText: "boom"},
		{name: "400 on a cursor", status: 400, next: "stale", wantCursor: true, wantText: "cursor rejected"},
		{name: "400 without a cursor", status: 400},
		{name: "400 refusing the page size", status: 400, body: `{"statusCode":400,"message":"page_size must not be greater than 100","timestamp":"2025-01-01T00:00:00.000Z"}`, wantSize: true, wantText: "page size refused"},
		{name: "400 refusing the page size on a cursor is not a cursor expiry", status: 400, next: "c1", body: `{"statusCode":400,"message":"Page Size exceeds the maximum"}`, wantSize: true},
		{name: "422 naming pageSize", status: 422, body: `{"statusCode":422,"message":["pageSize must not be greater than 100"]}`, wantSize: true},
		{name: "422 naming page-size", status: 422, body: `{"message":"invalid page-size"}`, wantSize: true},
		{name: "400 about something else on a cursor", status: 400, next: "c1", body: `{"message":"start_date must be a date"}`, wantCursor: true},
		{name: "a 500 naming the page size is not a refusal", status: 500, body: `{"message":"page_size lookup failed"}`, wantRetry: true},
		{name: "403 naming the page size is not a refusal", status: 403, body: `{"message":"page_size: forbidden"}`, wantText: "API key rejected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, func(w http.ResponseWriter, _ *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			})
			_, err := c.ListCursor(context.Background(), RequestLogsPath, CursorQuery{Next: tt.next})
			var ae *APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tt.status, ae.StatusCode)
			assert.Equal(t, tt.wantRetry, ae.Retryable())
			assert.Equal(t, tt.wantAfter, ae.RetryAfter)
			assert.Equal(t, tt.wantCursor, ae.CursorRejected)
			assert.Equal(t, tt.wantSize, ae.PageSizeRefused)
			assert.Contains(t, err.Error(), tt.wantText)
			assert.NotContains(t, err.Error(), "key-123")
		})
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	assert.Equal(t, 30*time.Second, parseRetryAfter(now.Add(30*time.Second).Format(http.TimeFormat), now))
	assert.Equal(t, time.Duration(0), parseRetryAfter(now.Add(-time.Minute).Format(http.TimeFormat), now))
	assert.Equal(t, time.Duration(0), parseRetryAfter("soon", now))
	assert.Equal(t, 1500*time.Millisecond, parseRetryAfter("1.5", now))
}

// A delay too long for a time.Duration is the longest one, never a wrapped-around negative that would read as
// "no Retry-After": the receiver cuts it to its own maximum.
func TestRetryAfterBeyondADurationSaturates(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, v := range []string{"1e12", "99999999999999999999", "1e400"} {
		assert.Equal(t, time.Duration(math.MaxInt64), parseRetryAfter(v, now), v)
	}
	assert.Equal(t, time.Duration(0), parseRetryAfter("NaN", now))
}

func TestNetworkErrorHidesURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Close() // nothing listens any more: connection refused
	c, err := NewClient(http.DefaultClient, srv.URL, "key", "ua")
	require.NoError(t, err)
	_, err = c.ListCursor(context.Background(), RequestLogsPath, CursorQuery{Next: "secret-cursor"})
	var ne *NetworkError
	require.ErrorAs(t, err, &ne)
	assert.NotContains(t, err.Error(), "secret-cursor")
}

func TestTruncatedBodyIsADecodeError(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"data":[{"request_id":"r1"},{"req`)
	})
	_, err := c.ListCursor(context.Background(), RequestLogsPath, CursorQuery{})
	var de *DecodeError
	require.True(t, errors.As(err, &de), "got %v", err)
}

// countingTransport records how many body bytes the client read, so a test can tell a body that was refused
// from one that was read in full and then thrown away.
type countingTransport struct {
	base http.RoundTripper
	read atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(r)
	if resp != nil {
		resp.Body = &countingBody{ReadCloser: resp.Body, n: &c.read}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// fakeClient is a client of the bundled fake that counts what it reads.
func fakeClient(t *testing.T, opts ...Option) (*stackonefake.Server, *Client, *countingTransport) {
	t.Helper()
	fake := stackonefake.New(stackonefake.Options{APIKey: "k"})
	fake.GenerateRequestLogs(20, time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), time.Second, 1)
	fake.GenerateActionLogs(20, time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), time.Second, 1)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	ct := &countingTransport{base: srv.Client().Transport}
	c, err := NewClient(&http.Client{Transport: ct}, srv.URL, "k", "ua", opts...)
	require.NoError(t, err)
	return fake, c, ct
}

func TestAnswerOverTheSizeLimitIsRefused(t *testing.T) {
	const limit = 64 << 10
	cursor := func(c *Client) error {
		_, err := c.ListCursor(context.Background(), RequestLogsPath, CursorQuery{PageSize: 100})
		return err
	}
	actions := func(c *Client) error {
		_, err := c.ListActions(context.Background(), ActionQuery{PageSize: 100})
		return err
	}
	tests := []struct {
		name    string
		path    string
		call    func(*Client) error
		size    int
		chunked bool
		// wantRead bounds the body bytes read: nothing when Content-Length announces too much, at most one
		// byte past the limit when only reading can tell.
		wantRead int64
		wantErr  bool
	}{
		{name: "announced by Content-Length", path: RequestLogsPath, call: cursor, size: 4 << 20, wantErr: true},
		{name: "streamed without Content-Length", path: RequestLogsPath, call: cursor, size: 4 << 20, chunked: true, wantRead: limit + 1, wantErr: true},
		{name: "action logs", path: ActionLogsPath, call: actions, size: 4 << 20, wantErr: true},
		{name: "action logs streamed", path: ActionLogsPath, call: actions, size: 4 << 20, chunked: true, wantRead: limit + 1, wantErr: true},
		{name: "one byte over", path: RequestLogsPath, call: cursor, size: limit + 1, chunked: true, wantRead: limit + 1, wantErr: true},
		{name: "exactly the limit is accepted", path: RequestLogsPath, call: cursor, size: limit, wantRead: limit},
		{name: "exactly the limit streamed", path: RequestLogsPath, call: cursor, size: limit, chunked: true, wantRead: limit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c, ct := fakeClient(t, WithMaxResponseSize(limit))
			fake.InjectFault(stackonefake.Fault{Path: tt.path, BodySize: tt.size, Chunked: tt.chunked})
			err := tt.call(c)
			assert.LessOrEqual(t, ct.read.Load(), tt.wantRead, "a refused body is never read past the limit")
			if !tt.wantErr {
				require.NoError(t, err)
				return
			}
			var tl *TooLargeError
			require.ErrorAs(t, err, &tl)
			assert.Contains(t, err.Error(), "max_response_size")
			assert.Contains(t, err.Error(), "65536")
		})
	}
}

// The largest page the receiver asks for on each endpoint (StackOne's maximum of 100 request logs, each with
// request and response headers; 1000 action logs, where no maximum is published) fits the default with room
// to spare.
func TestDefaultSizeLimitTakesAFullPage(t *testing.T) {
	from := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		size int
		list func(c *Client, fake *stackonefake.Server) error
	}{
		{"request logs", 100, func(c *Client, fake *stackonefake.Server) error {
			fake.GenerateRequestLogs(100, from, time.Millisecond, 1)
			_, err := c.ListCursor(context.Background(), RequestLogsPath, CursorQuery{PageSize: 100})
			return err
		}},
		{"action logs", 1000, func(c *Client, fake *stackonefake.Server) error {
			fake.GenerateActionLogs(1000, from, time.Millisecond, 1)
			_, err := c.ListActions(context.Background(), ActionQuery{Page: 1, PageSize: 1000})
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fake := stackonefake.New(stackonefake.Options{})
			srv := httptest.NewServer(fake)
			t.Cleanup(srv.Close)
			ct := &countingTransport{base: srv.Client().Transport}
			c, err := NewClient(&http.Client{Transport: ct}, srv.URL, "k", "ua")
			require.NoError(t, err)
			require.NoError(t, tt.list(c, fake))
			t.Logf("a page of %d generated %s is %d bytes", tt.size, tt.name, ct.read.Load())
			assert.Less(t, ct.read.Load()*4, int64(DefaultMaxResponseSize), "a full page is under a quarter of the default")
		})
	}
}

func TestErrorBodyIsReadToAtMost64KB(t *testing.T) {
	fake, c, ct := fakeClient(t)
	fake.InjectFault(stackonefake.Fault{Status: http.StatusBadGateway, BodySize: 8 << 20})
	_, err := c.ListCursor(context.Background(), RequestLogsPath, CursorQuery{})
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusBadGateway, ae.StatusCode)
	assert.True(t, ae.Retryable())
	assert.LessOrEqual(t, ct.read.Load(), int64(64<<10))

	// An ordinary error body is still read for its message.
	fake.InjectFault(stackonefake.Fault{Status: http.StatusInternalServerError, BodySize: 60 << 10})
	_, err = c.ListCursor(context.Background(), RequestLogsPath, CursorQuery{})
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "Internal Server Error", ae.Message)
}

// redirectTo answers every request with a 302 to target (plus the request's path and query), counting them.
func redirectTo(target func() string, hits *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, target()+r.URL.RequestURI(), http.StatusFound)
	})
}

func TestRedirectsThatWouldLeakTheKeyAreRefused(t *testing.T) {
	var finalHits atomic.Int32
	final := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		finalHits.Add(1)
		fmt.Fprint(w, `{"data":[],"next":null}`)
	}))
	t.Cleanup(final.Close)
	finalURL := func() string { return final.URL }
	// the same server under another name: a host change even though it is the same machine
	finalByName := func() string { return strings.Replace(final.URL, "127.0.0.1", "localhost", 1) }

	tests := []struct {
		name     string
		tls      bool
		target   func() string
		wantText string
	}{
		{name: "to another host", target: finalByName, wantText: "to another host"},
		{name: "to another port", target: finalURL, wantText: "to another host"},
		{name: "https to http", tls: true, target: finalURL, wantText: "unencrypted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			finalHits.Store(0)
			var hits atomic.Int32
			var srv *httptest.Server
			if tt.tls {
				srv = httptest.NewTLSServer(redirectTo(tt.target, &hits))
			} else {
				srv = httptest.NewServer(redirectTo(tt.target, &hits))
			}
			t.Cleanup(srv.Close)
			c, err := NewClient(srv.Client(), srv.URL, "key-123", "ua")
			require.NoError(t, err)
			_, err = c.ListCursor(context.Background(), RequestLogsPath, CursorQuery{Next: "secret-cursor"})
			var re *RedirectError
			require.ErrorAs(t, err, &re)
			assert.Contains(t, err.Error(), tt.wantText)
			assert.NotContains(t, err.Error(), "secret-cursor", "the URL's query stays out of the message")
			assert.EqualValues(t, 1, hits.Load())
			assert.Zero(t, finalHits.Load(), "the key never reached the redirect's target")
		})
	}
}

func TestRedirectWithinTheHostIsFollowed(t *testing.T) {
	var mux http.ServeMux
	mux.HandleFunc("/old/requests/logs", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/new"+strings.TrimPrefix(r.URL.RequestURI(), "/old"), http.StatusMovedPermanently)
	})
	var auth string
	mux.HandleFunc("/new/requests/logs", func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		fmt.Fprint(w, `{"data":[],"next":null}`)
	})
	srv := httptest.NewTLSServer(&mux)
	t.Cleanup(srv.Close)

	// A policy the caller set on its client still applies, after ours.
	var policyCalls int
	hc := srv.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error {
		policyCalls++
		return nil
	}
	c, err := NewClient(hc, srv.URL+"/old", "key-123", "ua")
	require.NoError(t, err)
	_, err = c.ListCursor(context.Background(), RequestLogsPath, CursorQuery{})
	require.NoError(t, err)
	assert.Equal(t, 1, policyCalls)
	assert.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte("key-123:")), auth)

	// and a policy that stops redirects still stops them
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c, err = NewClient(hc, srv.URL+"/old", "key-123", "ua")
	require.NoError(t, err)
	_, err = c.ListCursor(context.Background(), RequestLogsPath, CursorQuery{})
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusMovedPermanently, ae.StatusCode)
}

func TestRedirectLoopStops(t *testing.T) {
	var hits atomic.Int32
	var srv *httptest.Server
	srv = httptest.NewServer(redirectTo(func() string { return srv.URL }, &hits))
	t.Cleanup(srv.Close)
	c, err := NewClient(srv.Client(), srv.URL, "k", "ua")
	require.NoError(t, err)
	_, err = c.ListCursor(context.Background(), RequestLogsPath, CursorQuery{})
	require.Error(t, err)
	assert.EqualValues(t, 10, hits.Load())
}

func TestPlainHTTPOnlyToLoopback(t *testing.T) {
	tests := []struct {
		endpoint string
		ok       bool
	}{
		{"https://api.stackone.com", true},
		{"http://127.0.0.1:8089", true},
		{"http://127.1.2.3", true},
		{"http://[::1]:8089", true},
		{"http://localhost:8089", true},
		{"http://LOCALHOST", true},
		{"http://api.stackone.com", false},
		{"http://10.0.0.1:8089", false},
		{"http://localhost.evil.example", false},
		{"http://[::ffff:10.0.0.1]", false},
		{"ftp://api.stackone.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.endpoint, func(t *testing.T) {
			_, err := NewClient(http.DefaultClient, tt.endpoint, "k", "ua")
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
		})
	}
	_, err := NewClient(http.DefaultClient, "http://api.stackone.com", "k", "ua")
	assert.ErrorContains(t, err, "unencrypted")
}

func TestGivenHTTPClientIsNotModified(t *testing.T) {
	// The redirect policy goes on a copy: a shared client (http.DefaultClient) keeps its own.
	hc := &http.Client{}
	_, err := NewClient(hc, "https://api.stackone.com", "k", "ua")
	require.NoError(t, err)
	assert.Nil(t, hc.CheckRedirect)
}
