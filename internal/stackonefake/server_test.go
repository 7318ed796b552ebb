package stackonefake

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAuth(t *testing.T) {
	basic := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name   string
		apiKey string
		header string
		want   int
	}{
		{"no header", testKey, "", http.StatusUnauthorized},
		{"wrong key", testKey, basic("other-key:"), http.StatusUnauthorized},
		{"key without colon", testKey, basic(testKey), http.StatusUnauthorized},
		{"non-empty password", testKey, basic(testKey + ":x"), http.StatusUnauthorized},
		{"key as password", testKey, basic(":" + testKey), http.StatusUnauthorized},
		{"bearer scheme", testKey, "Bearer " + testKey, http.StatusUnauthorized},
		{"not base64", testKey, "Basic %%%", http.StatusUnauthorized},
		{"correct", testKey, basic(testKey + ":"), http.StatusOK},
		{"scheme is case-insensitive", testKey, "basic " + base64.StdEncoding.EncodeToString([]byte(testKey+":")), http.StatusOK},
		{"no key configured accepts anything", "", "", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &testClock{now: t0}
			ts := httptest.NewServer(New(Options{APIKey: tt.apiKey, Now: clock.Now}))
			defer ts.Close()
			req, err := http.NewRequest(http.MethodGet, ts.URL+"/requests/logs", nil)
			require.NoError(t, err)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := ts.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			if tt.want == http.StatusOK {
				require.Equal(t, http.StatusOK, resp.StatusCode)
				return
			}
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			e := requireErrorBody(t, http.StatusUnauthorized, resp, body)
			require.Equal(t, errorBody{StatusCode: 401, Message: "Unauthorized", Timestamp: "2025-03-04T05:06:07.890Z"}, e)
			require.Equal(t, `{"statusCode":401,"message":"Unauthorized","timestamp":"2025-03-04T05:06:07.890Z"}`, strings.TrimSpace(string(body)))
		})
	}
}

func TestRouting(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	tests := []struct {
		method, path string
		want         int
		allow        string
	}{
		{http.MethodGet, "/nope", http.StatusNotFound, ""},
		{http.MethodGet, "/requests/logs/a/b", http.StatusNotFound, ""},
		{http.MethodGet, "/requests/logs/", http.StatusNotFound, ""},
		{http.MethodGet, "/logs", http.StatusNotFound, ""},
		{http.MethodPost, "/requests/logs", http.StatusMethodNotAllowed, "GET"},
		{http.MethodDelete, "/requests/logs/steps", http.StatusMethodNotAllowed, "GET"},
		{http.MethodPut, "/requests/platform-logs", http.StatusMethodNotAllowed, "GET"},
		{http.MethodGet, "/logs/actions", http.StatusMethodNotAllowed, "POST"},
		{http.MethodPost, "/logs/actions/run-1", http.StatusMethodNotAllowed, "GET"},
		{http.MethodGet, "/requests/logs/unknown-id", http.StatusNotFound, ""},
		{http.MethodGet, "/logs/actions/unknown-run", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			resp, body := do(t, ts, tt.method, tt.path, nil, "")
			requireErrorBody(t, tt.want, resp, body)
			require.Equal(t, tt.allow, resp.Header.Get("Allow"))
		})
	}
}

func TestRequestsAreRecorded(t *testing.T) {
	clock := &testClock{now: t0}
	fake, ts := newTestServer(t, Options{Now: clock.Now})
	do(t, ts, http.MethodGet, "/requests/logs", url.Values{"providers": {"ashby,lever"}, "page_size": {"5"}}, "")
	clock.Advance(time.Second)
	do(t, ts, http.MethodPost, "/logs/actions", nil, `{"page":2}`)

	got := fake.Requests()
	require.Len(t, got, 2)
	require.Equal(t, t0, got[0].At)
	require.Equal(t, t0.Add(time.Second), got[1].At)
	require.Equal(t, http.MethodGet, got[0].Method)
	require.Equal(t, "/requests/logs", got[0].Path)
	require.Equal(t, url.Values{"providers": {"ashby,lever"}, "page_size": {"5"}}, got[0].Query)
	require.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte(testKey+":")), got[0].Header.Get("Authorization"))
	require.Empty(t, got[0].Body)
	require.Equal(t, "/logs/actions", got[1].Path)
	require.JSONEq(t, `{"page":2}`, string(got[1].Body))

	// Callers get copies: scribbling on them changes nothing recorded.
	got[1].Body[0] = 'X'
	got[0].Query.Set("providers", "x")
	again := fake.Requests()
	require.JSONEq(t, `{"page":2}`, string(again[1].Body))
	require.Equal(t, "ashby,lever", again[0].Query.Get("providers"))
}
