package stackoneapi

// Contract tests against the official TypeScript SDK (@stackone/stackone-client-ts, pinned in contract/package.json).
// They need node and `npm ci` in contract/ (make test-contract does both) and skip otherwise.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
)

const (
	sdkContractVersion = "4.28.0"
	sdkContractKey     = "contract-key"
	sdkContractPackage = "@stackone/stackone-client-ts"
)

// sdkContractScript returns the harness path, skipping the test when node or the installed SDK is missing.
func sdkContractScript(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not found: install Node.js and run `make test-contract` (npm ci in contract/) to run the SDK contract tests")
	}
	wd, err := os.Getwd()
	require.NoError(t, err)
	contract := filepath.Join(wd, "..", "..", "..", "..", "contract")
	pkg := filepath.Join(contract, "node_modules", filepath.FromSlash(sdkContractPackage), "package.json")
	if _, err := os.Stat(pkg); err != nil {
		t.Skipf("contract/node_modules missing (%v): run `npm ci` in contract/ or `make test-contract`", err)
	}
	return filepath.Join(contract, "sdk_contract.mjs")
}

// runSDKContract runs the harness and returns its stdout and exit error. Callers decode the JSON first, so a failure
// is reported with the harness's own findings (schema errors, rejected queries) rather than just an exit status.
func runSDKContract(t *testing.T, script string, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	cmd.Dir = filepath.Dir(script)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		t.Logf("node %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes(), err
}

type sdkError struct {
	Name        string `json:"name"`
	Message     string `json:"message"`
	Status      int    `json:"status"`
	SchemaError bool   `json:"schema_error"`
	Detail      string `json:"detail"`
	Page        int    `json:"page"`
	Query       string `json:"query"`
}

type sdkCombination struct {
	Name          string          `json:"name"`
	Informational bool            `json:"informational"`
	Params        json.RawMessage `json:"params"`
	Method        string          `json:"method"`
	Path          string          `json:"path"`
	Query         string          `json:"query"`
	Authorization string          `json:"authorization"`
	Error         *sdkError       `json:"error"`
	Fake          *struct {
		Status  int       `json:"status"`
		Entries int       `json:"entries"`
		Query   string    `json:"query"`
		Error   *sdkError `json:"error"`
	} `json:"fake"`
}

type sdkQueriesResult struct {
	SDKVersion        string           `json:"sdk_version"`
	Combinations      []sdkCombination `json:"combinations"`
	ValidationControl struct {
		Rejected bool      `json:"rejected"`
		Error    *sdkError `json:"error"`
	} `json:"validation_control"`
}

// sharedDocVerbatimQuery is the TypeScript SDK request quoted verbatim in the shared API notes (stackone-api.md).
const sharedDocVerbatimQuery = "account_ids=acc1%2Cacc2&providers=ashby%2Cgreenhouse&start_date=2025-01-02T03%3A04%3A05.678Z" +
	"&status_codes=400%2C500&next=eyJjdXJzb3IiOiJhYmMvKz0ifQ%3D%3D&order_by=eventDatetime&order_direction=asc&page_size=100"

// sdkEquivalents is, for every combination sdk_contract.mjs sends, the CursorQuery the receiver would build for
// the same request. A nil entry marks an informational combination with no receiver equivalent.
func sdkEquivalents() map[string]*CursorQuery {
	f, tr := false, true
	ms := time.Date(2025, 1, 2, 3, 4, 5, 678_000_000, time.UTC)
	return map[string]*CursorQuery{
		"account_ids_single":    {Filter: RequestLogFilter{AccountIDs: []string{"acc_7f3a9c21d4e8"}}},
		"account_ids_multiple":  {Filter: RequestLogFilter{AccountIDs: []string{"acc_7f3a9c21d4e8", "acc_19c0e6b2a7f3"}}},
		"providers_single":      {Filter: RequestLogFilter{Providers: []string{"greenhouse"}}},
		"providers_multiple":    {Filter: RequestLogFilter{Providers: []string{"ashby", "greenhouse"}}},
		"status_codes_single":   {Filter: RequestLogFilter{StatusCodes: []int{500}}},
		"status_codes_multiple": {Filter: RequestLogFilter{StatusCodes: []int{400, 429, 500}}},
		"start_date_millis":     {Start: ms},
		"start_end_date_whole_seconds": {
			Start: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
			End:   time.Date(2025, 1, 3, 0, 0, 0, 1_000_000, time.UTC),
		},
		"success_false":                {Filter: RequestLogFilter{Success: &f}},
		"success_true":                 {Filter: RequestLogFilter{Success: &tr}},
		"order_by_direction_page_size": {OrderBy: "eventDatetime", PageSize: 100},
		"filter_order_by_direction":    {OrderBy: "eventDatetime", PageSize: 25},
		"next_cursor":                  {Next: "eyJrIjoicmVxdWVzdHMi+fQ/AbC/dE+f==", PageSize: 25},
		"all_list_filters": {
			Start: ms,
			End:   time.Date(2025, 1, 9, 23, 59, 59, 999_000_000, time.UTC),
			Filter: RequestLogFilter{
				AccountIDs:     []string{"acc_1", "acc_2"},
				Actions:        []string{"list", "get"},
				ChildResources: []string{"documents", "time-off"},
				HTTPMethods:    []string{"GET", "POST"},
				Providers:      []string{"ashby", "greenhouse"},
				RequestIDs:     []string{"adbf752f-6457-4ddd-89b3-98ae2252b83b", "adbf752f-6457-4ddd-89b3-98ae2252b83c"},
				Resources:      []string{"employees", "users"},
				Services:       []string{"hris", "ats"},
				SourceIDs:      []string{"key_3f9a1c7e", "usr_51c0a9f3"},
				SourceTypes:    []string{"DASHBOARD", "API_KEY"},
				SourceValues:   []string{"ACCOUNT_TESTER", "PRIMARY_API_KEY"},
				StatusCodes:    []int{200, 400},
				SubResources:   []string{"documents", "notes"},
				Success:        &tr,
			},
			OrderBy:  "eventDatetime",
			PageSize: 100,
		},
		"shared_doc_example": {
			Start: ms,
			Filter: RequestLogFilter{
				AccountIDs:  []string{"acc1", "acc2"},
				Providers:   []string{"ashby", "greenhouse"},
				StatusCodes: []int{400, 500},
			},
			Next:     "eyJjdXJzb3IiOiJhYmMvKz0ifQ==",
			OrderBy:  "eventDatetime",
			PageSize: 100,
		},
		"special_characters":               {Filter: RequestLogFilter{SourceValues: []string{"ACCOUNT TESTER", "it's(*)!~"}}},
		"order_by_in_filter_and_top_level": nil,
	}
}

// rawQuery splits a query string into key -> values exactly as they appear on the wire (still percent-encoded).
func rawQuery(q string) map[string][]string {
	out := map[string][]string{}
	for _, pair := range strings.Split(q, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		out[k] = append(out[k], v)
	}
	return out
}

// queryDiff lists every difference between the SDK's query and the receiver's, key by key, both decoded and raw.
func queryDiff(sdk, receiver string) []string {
	var diffs []string
	sRaw, rRaw := rawQuery(sdk), rawQuery(receiver)
	keys := map[string]bool{}
	for k := range sRaw {
		keys[k] = true
	}
	for k := range rRaw {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	sDec, sErr := url.ParseQuery(sdk)
	rDec, rErr := url.ParseQuery(receiver)
	if sErr != nil || rErr != nil {
		diffs = append(diffs, fmt.Sprintf("unparseable query: SDK %v, receiver %v", sErr, rErr))
	}
	for _, k := range sorted {
		sv, inS := sRaw[k]
		rv, inR := rRaw[k]
		switch {
		case !inR:
			diffs = append(diffs, fmt.Sprintf("key %q: SDK sends %q, receiver does not send it", k, sv))
		case !inS:
			diffs = append(diffs, fmt.Sprintf("key %q: receiver sends %q, SDK does not send it", k, rv))
		case !slices.Equal(sDec[k], rDec[k]):
			diffs = append(diffs, fmt.Sprintf("key %q: decoded value differs: SDK %q, receiver %q", k, sDec[k], rDec[k]))
		case !slices.Equal(sv, rv):
			diffs = append(diffs, fmt.Sprintf("key %q: same value, different percent-encoding: SDK %q, receiver %q", k, sv, rv))
		}
	}
	return diffs
}

// receiverWire sends q through the receiver's real client and returns the raw query and Authorization header.
func receiverWire(t *testing.T, q CursorQuery) (string, string) {
	t.Helper()
	var mu sync.Mutex
	var rawQ, auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		rawQ, auth = r.URL.RawQuery, r.Header.Get("Authorization")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":[],"next":null}`))
	}))
	defer srv.Close()
	c, err := NewClient(srv.Client(), srv.URL, sdkContractKey, "otelcol-stackone-receiver/contract-test")
	require.NoError(t, err)
	_, err = c.ListCursor(context.Background(), RequestLogsPath, q)
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	return rawQ, auth
}

// TestSDKContractQueryEncoding captures the query strings the SDK's requestLogs.listLogs sends for a set of filter
// combinations and asserts the receiver's client sends the same keys, values and percent-encodings. It also
// replays every SDK request against the bundled fake, which must accept every key the SDK sends.
func TestSDKContractQueryEncoding(t *testing.T) {
	script := sdkContractScript(t)

	fake := stackonefake.New(stackonefake.Options{APIKey: sdkContractKey})
	fake.GenerateRequestLogs(20, time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC), time.Hour, 7)
	fakeSrv := httptest.NewServer(fake)
	defer fakeSrv.Close()

	out, runErr := runSDKContract(t, script, "queries", "--fake", fakeSrv.URL, "--api-key", sdkContractKey)
	var res sdkQueriesResult
	require.NoError(t, json.Unmarshal(out, &res), "harness output:\n%s", out)
	require.Equal(t, sdkContractVersion, res.SDKVersion, "contract/node_modules holds another SDK version: run npm ci in contract/")

	// If the SDK accepted a page with a string status and a non-date event_datetime, its schemas would not be
	// validating anything and the list test would prove nothing.
	require.True(t, res.ValidationControl.Rejected, "the SDK did not reject a malformed page: %+v", res.ValidationControl.Error)

	want := sdkEquivalents()
	seen := map[string]bool{}
	for _, c := range res.Combinations {
		seen[c.Name] = true
		t.Run(c.Name, func(t *testing.T) {
			t.Logf("SDK params %s", c.Params)
			t.Logf("SDK query  %s", c.Query)
			require.Nil(t, c.Error, "SDK call failed against the capture server")
			assert.Equal(t, http.MethodGet, c.Method)
			assert.Equal(t, RequestLogsPath, c.Path)
			require.NotNil(t, c.Fake, "combination was not replayed against the fake")

			q, ok := want[c.Name]
			require.True(t, ok, "no receiver equivalent declared for SDK combination %q", c.Name)
			if q == nil {
				t.Logf("informational, no receiver equivalent; the fake answered %d %+v", c.Fake.Status, c.Fake.Error)
				return
			}

			if c.Name == "shared_doc_example" {
				assert.Equal(t, sharedDocVerbatimQuery, c.Query, "the SDK no longer sends the verbatim request quoted in stackone-api.md")
			}

			values := q.Values().Encode()
			wire, auth := receiverWire(t, *q)
			t.Logf("receiver   %s", wire)
			assert.Equal(t, values, wire, "the receiver's client does not put q.Values() on the wire unchanged")
			assert.Equal(t, c.Authorization, auth, "Authorization header differs from the SDK's")

			diffs := queryDiff(c.Query, wire)
			if c.Informational {
				// Only characters where encodeURIComponent and url.QueryEscape legitimately differ are allowed to
				// differ, and only in their bytes: the decoded values must still be identical.
				for _, d := range diffs {
					assert.Contains(t, d, "different percent-encoding", "SDK/receiver mismatch")
					t.Logf("equivalent encodings: %s", d)
				}
			} else {
				assert.Empty(t, diffs, "the receiver's query differs from the SDK's\nSDK:      %s\nreceiver: %s", c.Query, wire)
			}

			// The fake must take every key the SDK sends. Synthetic cursors are not the fake's own, so those
			// combinations must fail on the cursor, not on a query key; the SDK must parse that error body too.
			if q.Next != "" {
				require.NotNil(t, c.Fake.Error, "the fake accepted a synthetic cursor")
				assert.Equal(t, http.StatusBadRequest, c.Fake.Status)
				assert.Equal(t, "BadRequestResponse", c.Fake.Error.Name, "the SDK could not parse the fake's 400 body: %+v", c.Fake.Error)
				assert.Contains(t, c.Fake.Error.Message, "cursor", "the fake rejected the SDK's query for another reason")
			} else {
				assert.Nil(t, c.Fake.Error, "the fake rejected the SDK's query %s", c.Fake.Query)
				assert.Equal(t, http.StatusOK, c.Fake.Status)
			}
			assert.Equal(t, c.Query, c.Fake.Query, "the SDK sent a different query to the fake than to the capture server")
		})
	}
	for name := range want {
		assert.True(t, seen[name], "the harness did not run combination %q", name)
	}
	assert.NoError(t, runErr, "the harness reported a failure (SDK error against the capture server or validation control)")
}

type sdkListResult struct {
	SDKVersion string `json:"sdk_version"`
	Pages      []struct {
		Index   int     `json:"index"`
		Query   string  `json:"query"`
		Entries int     `json:"entries"`
		Next    *string `json:"next"`
	} `json:"pages"`
	IDs          []string   `json:"ids"`
	MissingIDs   int        `json:"missing_ids"`
	SchemaErrors []sdkError `json:"schema_errors"`
	Errors       []sdkError `json:"errors"`
	DroppedKeys  []string   `json:"dropped_keys"`
}

// TestSDKContractListRequestLogs lists the fake's request logs through the SDK, page by page: every page must
// pass the SDK's own zod response schemas and every entry must come back exactly once.
func TestSDKContractListRequestLogs(t *testing.T) {
	script := sdkContractScript(t)

	const n, pageSize = 120, 25
	from := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)
	cases := []struct {
		name   string
		params string
	}{
		{"defaults", ""},
		{"filtered_ascending", fmt.Sprintf(`{"filter":{"startDate":%q},"orderBy":"eventDatetime","orderDirection":"asc"}`,
			from.Format(time.RFC3339Nano))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := stackonefake.New(stackonefake.Options{APIKey: sdkContractKey})
			generated := fake.GenerateRequestLogs(n, from, time.Minute, 42)
			srv := httptest.NewServer(fake)
			defer srv.Close()

			args := []string{"list", "--base-url", srv.URL, "--api-key", sdkContractKey, "--page-size", fmt.Sprint(pageSize)}
			if tc.params != "" {
				args = append(args, "--params", tc.params)
			}
			out, runErr := runSDKContract(t, script, args...)
			var res sdkListResult
			require.NoError(t, json.Unmarshal(out, &res), "harness output:\n%s", out)
			require.Equal(t, sdkContractVersion, res.SDKVersion)
			for _, e := range res.SchemaErrors {
				t.Errorf("page %d (query %s) fails the SDK's response schema:\n%s", e.Page, e.Query, e.Detail)
			}
			for _, e := range res.Errors {
				t.Errorf("page %d (query %s): SDK call failed: %s %d %s", e.Page, e.Query, e.Name, e.Status, e.Message)
			}
			require.NoError(t, runErr, "the SDK listing failed")
			assert.Zero(t, res.MissingIDs, "entries without request_id after SDK parsing")
			if len(res.DroppedKeys) > 0 {
				t.Logf("fields the SDK's list schema does not model (stripped by zod): %v", res.DroppedKeys)
			}

			want := make([]string, 0, n)
			for _, e := range generated {
				want = append(want, e["request_id"].(string))
			}
			counts := map[string]int{}
			for _, id := range res.IDs {
				counts[id]++
			}
			for id, c := range counts {
				assert.Equal(t, 1, c, "request %s listed %d times", id, c)
			}
			assert.ElementsMatch(t, want, res.IDs, "the SDK did not list every generated entry exactly once")

			require.Len(t, res.Pages, (n+pageSize-1)/pageSize)
			for i, p := range res.Pages {
				v, err := url.ParseQuery(p.Query)
				require.NoError(t, err)
				assert.Equal(t, fmt.Sprint(pageSize), v.Get("page_size"), "page %d", i)
				assert.Equal(t, i > 0, v.Has("next"), "page %d: next sent only after the first page", i)
				assert.Equal(t, i < len(res.Pages)-1, p.Next != nil, "page %d: next cursor only before the last page", i)
			}

			// What the fake saw must be what the harness reports the SDK sent.
			reqs := fake.Requests()
			require.Len(t, reqs, len(res.Pages))
			for i, r := range reqs {
				assert.Equal(t, RequestLogsPath, r.Path)
				sent, err := url.ParseQuery(res.Pages[i].Query)
				require.NoError(t, err)
				assert.Equal(t, sent, r.Query, "request %d", i)
			}
		})
	}
}
