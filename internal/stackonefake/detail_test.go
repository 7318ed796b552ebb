package stackonefake

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDetailOfFailedRequests(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    Options
		inList  bool
		errsKey string
	}{
		{name: "detail endpoint only", opts: Options{}, errsKey: "provider_errors"},
		{name: "list rows too", opts: Options{DetailInList: true}, inList: true, errsKey: "provider_errors"},
		{name: "camelCase", opts: Options{CamelCase: true}, errsKey: "providerErrors"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ts := newTestServer(t, tc.opts)
			entries := s.GenerateRequestLogs(200, time.Now().Add(-time.Hour), 10*time.Second, 5)
			var failed, ok string
			for _, e := range entries {
				if e["status"].(int) >= 400 && failed == "" {
					failed = e["request_id"].(string)
				}
				if e["status"].(int) < 400 && ok == "" {
					ok = e["request_id"].(string)
				}
			}
			require.NotEmpty(t, failed)

			detail := func(id string) map[string]any {
				resp, raw := do(t, ts, http.MethodGet, "/requests/logs/"+id, nil, "")
				require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
				var body struct{ Data map[string]any }
				require.NoError(t, json.Unmarshal(raw, &body))
				return body.Data
			}
			d := detail(failed)
			errs, _ := d["response"].(map[string]any)[tc.errsKey].([]any)
			require.Len(t, errs, 1, "a failed request's detail names the provider's error")
			raw, _ := json.Marshal(d)
			assert.Contains(t, string(raw), PlantedSecret, "credentials are planted for the receiver to redact")
			again, _ := json.Marshal(detail(failed))
			assert.JSONEq(t, string(raw), string(again), "every read sees the same detail")
			okRaw, _ := json.Marshal(detail(ok))
			assert.NotContains(t, string(okRaw), tc.errsKey, "a successful request has no provider errors")

			_, list := do(t, ts, http.MethodGet, "/requests/logs", map[string][]string{"page_size": {"100"}}, "")
			assert.Equal(t, tc.inList, strings.Contains(string(list), PlantedSecret), "provider errors in list rows only when asked")
		})
	}
}
