package stackonefake

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var requestLogFields = []string{
	"request_id", "account_id", "project_id", "provider", "service", "resource", "sub_resource", "child_resource",
	"action", "http_method", "path", "url", "status", "success", "duration", "event_datetime", "start_time",
	"end_time", "source_id", "source_type", "source_value", "source_ip", "is_worker", "request", "response",
}

var actionLogFields = []string{
	"log_id", "log_type", "action_run_id", "event_time", "start_time", "end_time", "duration_ms", "status_code",
	"tier2_score", "success", "is_background", "project_id", "account_id", "connector_key", "connector_version",
	"connector_owner", "mode", "http_method", "url", "source_type", "source_id", "source_value", "auth_type",
	"auth_id", "user_agent", "ip_address", "session_id", "agent_id", "transport_type", "stream_type",
	"origin_owner_id", "origin_owner_name", "action_id", "connector_profile_id", "action_type", "category", "risk_level",
}

func TestGenerateIsDeterministic(t *testing.T) {
	a := New(Options{}).GenerateRequestLogs(50, t0, time.Second, 42)
	b := New(Options{}).GenerateRequestLogs(50, t0, time.Second, 42)
	require.Equal(t, a, b)
	c := New(Options{}).GenerateRequestLogs(50, t0, time.Second, 43)
	require.NotEqual(t, a, c)

	s := New(Options{})
	first := s.GenerateActionLogs(10, t0, time.Second, 1)
	second := s.GenerateActionLogs(10, t0, time.Second, 1)
	require.NotEqual(t, first[0]["log_id"], second[0]["log_id"], "a repeated seed on one server still yields fresh ids")
}

func TestGeneratedRequestLogs(t *testing.T) {
	gen := New(Options{}).GenerateRequestLogs(2000, t0, 1500*time.Millisecond, 3)
	ids := map[string]bool{}
	statuses := map[int]int{}
	for i, e := range gen {
		for _, f := range requestLogFields {
			require.Contains(t, e, f)
		}
		id := e["request_id"].(string)
		require.False(t, ids[id], "duplicate request_id")
		ids[id] = true
		status := e["status"].(int)
		statuses[status]++
		require.Equal(t, status < 400, e["success"])
		require.Contains(t, []string{"bamboohr", "workday", "hibob", "greenhouse", "ashby", "lever", "hubspot", "salesforce"}, e["provider"])
		require.Equal(t, serviceOf[e["provider"].(string)], e["service"])
		require.Contains(t, []string{"list", "get", "create"}, e["action"])
		path := e["path"].(string)
		require.True(t, strings.HasPrefix(path, "/unified/"+e["service"].(string)+"/"+e["resource"].(string)), path)
		require.Equal(t, "https://api.stackone.com"+path, e["url"])
		require.Equal(t, formatTime(t0.Add(time.Duration(i)*1500*time.Millisecond)), e["event_datetime"])
		for _, f := range []string{"event_datetime", "start_time", "end_time"} {
			ts, err := time.Parse(timestampLayout, e[f].(string))
			require.NoError(t, err)
			require.Equal(t, time.UTC, ts.Location())
		}
		req := e["request"].(map[string]any)
		headers := req["headers"].(map[string]any)
		require.True(t, strings.HasPrefix(headers["Authorization"].(string), "Bearer secret-"))
		require.Equal(t, "application/json", headers["Content-Type"])
		require.NotEmpty(t, headers["User-Agent"])
		require.Equal(t, path, req["url"].(map[string]any)["path"])
		resp := e["response"].(map[string]any)
		require.Equal(t, status, resp["status_code"])
		require.True(t, strings.HasPrefix(resp["headers"].(map[string]any)["Set-Cookie"].(string), "session="))
	}
	for _, st := range []int{200, 201, 400, 401, 404, 429, 500, 502} {
		require.Positive(t, statuses[st], "status %d never generated", st)
	}
	require.Greater(t, statuses[200], len(gen)/2, "mostly 200")
}

func TestGeneratedActionLogs(t *testing.T) {
	gen := New(Options{}).GenerateActionLogs(1000, t0, time.Second, 4)
	levels := map[string]int{}
	for _, e := range gen {
		for _, f := range actionLogFields {
			require.Contains(t, e, f)
		}
		require.Equal(t, "action", e["log_type"])
		require.Equal(t, e["status_code"].(int) < 400, e["success"])
		score := e["tier2_score"].(float64)
		require.GreaterOrEqual(t, score, 0.0)
		require.LessOrEqual(t, score, 1.0)
		levels[e["risk_level"].(string)]++
	}
	// Defender's four levels, critical the rarest.
	require.Len(t, levels, 4)
	for _, l := range []string{"low", "medium", "high", "critical"} {
		require.Positive(t, levels[l], l)
	}
	require.Less(t, levels["critical"], levels["high"])
}

func TestStartLiveTraffic(t *testing.T) {
	clock := &testClock{now: t0}
	fake, ts := newTestServer(t, Options{Now: clock.Now})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A tiny rate: only the synchronous first pair lands during the test.
	fake.StartLiveTraffic(ctx, 0.0001, 1)

	logs := pageAll(t, ts, "/requests/logs", url.Values{"start_date": {formatTime(t0)}})
	require.NotEmpty(t, logs)
	require.Equal(t, formatTime(t0), logs[0]["event_datetime"])

	resp, body := do(t, ts, http.MethodPost, "/logs/actions", nil, `{"filters":{"start_time":"`+formatTime(t0)+`"}}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), `"event_time":"`+formatTime(t0)+`"`)
}
