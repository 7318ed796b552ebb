package stackonefake

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFaultStatuses(t *testing.T) {
	tests := []struct {
		name       string
		fault      Fault
		retryAfter string
		message    string // "" = the status text
	}{
		{"429 with Retry-After", Fault{Status: http.StatusTooManyRequests, RetryAfter: "3"}, "3", ""},
		{"408 with Retry-After", Fault{Status: http.StatusRequestTimeout, RetryAfter: "60"}, "60", ""},
		{"500", Fault{Status: http.StatusInternalServerError}, "", ""},
		{"502", Fault{Status: http.StatusBadGateway}, "", ""},
		{"400", Fault{Status: http.StatusBadRequest}, "", ""},
		{"401", Fault{Status: http.StatusUnauthorized}, "", ""},
		{"403", Fault{Status: http.StatusForbidden}, "", ""},
		{"404", Fault{Status: http.StatusNotFound}, "", ""},
		{"422 with a message", Fault{Status: http.StatusUnprocessableEntity, Message: "pageSize must be at most 10"}, "", "pageSize must be at most 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, ts := newTestServer(t, Options{})
			fake.GenerateRequestLogs(3, t0, time.Second, 1)
			f := tt.fault
			f.Path, f.Times = "/requests/logs", 2
			fake.InjectFault(f)

			// Another path is unaffected and does not consume the fault.
			resp, body := do(t, ts, http.MethodPost, "/logs/actions", nil, "")
			require.Equal(t, http.StatusOK, resp.StatusCode, string(body))

			for range 2 {
				resp, body := do(t, ts, http.MethodGet, "/requests/logs", nil, "")
				e := requireErrorBody(t, f.Status, resp, body)
				require.Equal(t, cmp.Or(tt.message, http.StatusText(f.Status)), e.Message)
				require.Equal(t, tt.retryAfter, resp.Header.Get("Retry-After"))
			}
			p := fetchPage(t, ts, "/requests/logs", nil)
			require.Len(t, p.Data, 3)
		})
	}
}

func TestFaultTruncatedBody(t *testing.T) {
	fake, ts := newTestServer(t, Options{})
	fake.GenerateRequestLogs(20, t0, time.Second, 1)
	fake.InjectFault(Fault{Truncate: true})

	req, err := http.NewRequest(http.MethodGet, ts.URL+"/requests/logs", nil)
	require.NoError(t, err)
	req.SetBasicAuth(testKey, "")
	resp, err := ts.Client().Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	full := resp.ContentLength
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.Equal(t, int(full/2), len(body))
	require.Error(t, json.Unmarshal(body, new(logsPage)))
	require.Contains(t, string(body), `{"data":[{`)

	// One-shot: the next answer is whole.
	require.Len(t, fetchPage(t, ts, "/requests/logs", nil).Data, 20)
}

func TestFaultOnCursorOnly(t *testing.T) {
	fake, ts := newTestServer(t, Options{})
	fake.GenerateRequestLogs(10, t0, time.Second, 1)
	fake.InjectFault(Fault{Path: "/requests/logs", OnCursor: true, Status: http.StatusBadGateway})

	p := fetchPage(t, ts, "/requests/logs", url.Values{"page_size": {"4"}})
	require.NotNil(t, p.Next)
	q := url.Values{"page_size": {"4"}, "next": {*p.Next}}
	resp, body := do(t, ts, http.MethodGet, "/requests/logs", q, "")
	requireErrorBody(t, http.StatusBadGateway, resp, body)
	require.Len(t, fetchPage(t, ts, "/requests/logs", q).Data, 4)
}

func TestFaultQueueOrder(t *testing.T) {
	fake, ts := newTestServer(t, Options{})
	fake.InjectFault(Fault{Path: "/requests/logs", Status: http.StatusInternalServerError})
	fake.InjectFault(Fault{Status: http.StatusBadGateway})
	fake.InjectFault(Fault{Status: http.StatusForbidden})

	// Each request takes the first fault that matches it.
	resp, body := do(t, ts, http.MethodPost, "/logs/actions", nil, "")
	requireErrorBody(t, http.StatusBadGateway, resp, body)
	resp, body = do(t, ts, http.MethodGet, "/requests/logs", nil, "")
	requireErrorBody(t, http.StatusInternalServerError, resp, body)
	resp, body = do(t, ts, http.MethodGet, "/requests/logs", nil, "")
	requireErrorBody(t, http.StatusForbidden, resp, body)
	fetchPage(t, ts, "/requests/logs", nil)
}

func TestFaultBeforeAuth(t *testing.T) {
	fake, ts := newTestServer(t, Options{})
	fake.InjectFault(Fault{Status: http.StatusTooManyRequests, RetryAfter: "1"})
	resp, err := ts.Client().Get(ts.URL + "/requests/logs") // no credentials
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
}

func TestFaultDelayEndsWithTheClient(t *testing.T) {
	fake := New(Options{APIKey: testKey})
	arrived := make(chan struct{}, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		fake.ServeHTTP(w, r)
	}))
	defer ts.Close()
	fake.GenerateRequestLogs(2, t0, time.Second, 1)
	// Far longer than any test: only the client giving up can end it.
	fake.InjectFault(Fault{Delay: time.Hour})

	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/requests/logs", nil)
	require.NoError(t, err)
	req.SetBasicAuth(testKey, "")
	errc := make(chan error, 1)
	go func() {
		resp, err := ts.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-arrived
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)

	// A delay with no status answers normally once it has waited.
	fake.InjectFault(Fault{Delay: time.Millisecond})
	req2, err := http.NewRequest(http.MethodGet, ts.URL+"/requests/logs", nil)
	require.NoError(t, err)
	req2.SetBasicAuth(testKey, "")
	resp, err := ts.Client().Do(req2)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestFaultBodySize(t *testing.T) {
	fake, ts := newTestServer(t, Options{})
	fake.GenerateRequestLogs(5, t0, time.Second, 1)
	fake.GenerateActionLogs(5, t0, time.Second, 1)
	_, plain := do(t, ts, http.MethodGet, "/requests/logs", nil, "")
	realSize := len(plain)
	tests := []struct {
		name     string
		method   string
		path     string
		status   int
		size     int
		chunked  bool
		wantSize int
	}{
		{"cursor page, 1 MiB", http.MethodGet, "/requests/logs", 0, 1 << 20, false, 1 << 20},
		{"cursor page streamed", http.MethodGet, "/requests/logs", 0, 1 << 20, true, 1 << 20},
		{"action page", http.MethodPost, "/logs/actions", 0, 300_000, false, 300_000},
		{"error body", http.MethodGet, "/requests/logs", http.StatusInternalServerError, 200_000, false, 200_000},
		{"a few bytes over: whitespace", http.MethodGet, "/requests/logs", 0, realSize + 3, false, realSize + 3},
		{"smaller than the answer: unchanged", http.MethodGet, "/requests/logs", 0, 10, false, realSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake.InjectFault(Fault{Path: tt.path, Status: tt.status, BodySize: tt.size, Chunked: tt.chunked})
			resp, body := do(t, ts, tt.method, tt.path, nil, "")
			wantStatus := cmp.Or(tt.status, http.StatusOK)
			require.Equal(t, wantStatus, resp.StatusCode)
			require.Len(t, body, tt.wantSize)
			if tt.chunked {
				require.EqualValues(t, -1, resp.ContentLength, "no Content-Length: the size is only known by reading")
			} else {
				require.EqualValues(t, tt.wantSize, resp.ContentLength)
			}
			// Still the documented shape, with the real entries.
			var p struct {
				Data       []map[string]any `json:"data"`
				StatusCode int              `json:"statusCode"`
			}
			require.NoError(t, json.Unmarshal(body, &p))
			if tt.status == 0 {
				require.Len(t, p.Data, 5)
			} else {
				require.Equal(t, tt.status, p.StatusCode)
			}
		})
	}
	_, after := do(t, ts, http.MethodGet, "/requests/logs", nil, "")
	require.Equal(t, plain, after, "one-shot: the next answer is the real one")
}

func TestFaultTinyObjects(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		path    string
		n       int
		chunked bool
		tail    string
	}{
		{"three million where 100 were asked for", http.MethodGet, "/requests/logs?page_size=100", 3_000_000, false, `],"next":null}`},
		{"streamed", http.MethodGet, "/requests/logs/steps", 40_000, true, `],"next":null}`},
		{"action logs", http.MethodPost, "/logs/actions", 1, false, `],"total":1}`},
		{"action steps", http.MethodPost, "/logs/steps", 2, false, `],"total":2}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, ts := newTestServer(t, Options{})
			fake.InjectFault(Fault{TinyObjects: tt.n, Chunked: tt.chunked})
			resp, body := do(t, ts, tt.method, tt.path, nil, "")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.True(t, json.Valid(body))
			require.Equal(t, tt.n, bytes.Count(body, []byte("{}")))
			require.True(t, bytes.HasPrefix(body, []byte(`{"data":[{}`)))
			require.True(t, bytes.HasSuffix(body, []byte(tt.tail)))
			if tt.chunked {
				require.EqualValues(t, -1, resp.ContentLength)
			} else {
				require.EqualValues(t, len(body), resp.ContentLength)
			}
		})
	}
}
