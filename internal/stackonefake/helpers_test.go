package stackonefake

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const testKey = "test-key"

var t0 = time.Date(2025, 3, 4, 5, 6, 7, 890_000_000, time.UTC)

// testClock is a settable clock for cursor expiry and ingestion times.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newTestServer(t *testing.T, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	if opts.APIKey == "" {
		opts.APIKey = testKey
	}
	fake := New(opts)
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)
	return fake, ts
}

func do(t *testing.T, ts *httptest.Server, method, path string, q url.Values, body string) (*http.Response, []byte) {
	t.Helper()
	u := ts.URL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	require.NoError(t, err)
	req.SetBasicAuth(testKey, "")
	resp, err := ts.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

type logsPage struct {
	Data []map[string]any `json:"data"`
	Next *string          `json:"next"`
}

func fetchPage(t *testing.T, ts *httptest.Server, path string, q url.Values) logsPage {
	t.Helper()
	resp, body := do(t, ts, http.MethodGet, path, q, "")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &raw))
	require.Contains(t, raw, "next", "the last page must carry an explicit null")
	var p logsPage
	require.NoError(t, json.Unmarshal(body, &p))
	require.NotNil(t, p.Data, "data must be an array, never null")
	return p
}

// pageAll follows `next` to the end, repeating the filters on every page as
// the contract recommends.
func pageAll(t *testing.T, ts *httptest.Server, path string, q url.Values) []map[string]any {
	t.Helper()
	q = cloneValues(q)
	var all []map[string]any
	for range 10000 {
		p := fetchPage(t, ts, path, q)
		all = append(all, p.Data...)
		if p.Next == nil {
			return all
		}
		q.Set("next", *p.Next)
	}
	t.Fatal("paging did not end")
	return nil
}

func field(entries []map[string]any, key string) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = lookupString(e, key)
	}
	return out
}

func requireErrorBody(t *testing.T, status int, resp *http.Response, body []byte) errorBody {
	t.Helper()
	require.Equal(t, status, resp.StatusCode, string(body))
	var e errorBody
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&e), string(body))
	require.Equal(t, status, e.StatusCode)
	require.NotEmpty(t, e.Message)
	_, err := time.Parse(timestampLayout, e.Timestamp)
	require.NoError(t, err)
	return e
}
