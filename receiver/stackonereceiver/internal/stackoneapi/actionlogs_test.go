package stackoneapi

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
)

func everyActionFilter() ActionLogFilter {
	no := false
	return ActionLogFilter{
		AccountIDs: []string{"acc"}, ActionIDs: []string{"act"}, ActionRunIDs: []string{"run"}, ActionTypes: []string{"list"},
		Categories: []string{"hris"}, ConnectorKeys: []string{"hibob"}, ConnectorVersions: []string{"1.0"}, Modes: []string{"agent"},
		OriginOwnerIDs: []string{"own"}, OriginOwnerNames: []string{"Acme"}, SourceIDs: []string{"src"}, SourceTypes: []string{"MCP"},
		HTTPMethods: []string{"GET"}, StatusCodes: []int{200, 500}, Success: &no,
	}
}

func TestActionQueryBodyUsesTheAPIKeys(t *testing.T) {
	q := ActionQuery{Start: time.Date(2025, 1, 2, 3, 4, 5, 678_000_000, time.UTC), Filter: everyActionFilter(), Page: 2, PageSize: 50}
	got, err := json.Marshal(q.Body())
	require.NoError(t, err)
	assert.JSONEq(t, `{"filters":{
		"account_secure_id":["acc"],"action_id":["act"],"action_run_id":["run"],"action_type":["list"],
		"category":["hris"],"connector_key":["hibob"],"connector_version":["1.0"],"mode":["agent"],
		"origin_owner_id":["own"],"origin_owner_name":["Acme"],"source_id":["src"],"source_type":["MCP"],
		"http_method":["get"],"status_code":["200","500"],"success":false,
		"start_time":"2025-01-02T03:04:05.678Z","order_by":"event_time","order_direction":"asc"},
		"page":2,"page_size":50}`, string(got))
}

func TestActionQueryIsAcceptedByTheFake(t *testing.T) {
	// the fake answers 400 to any body key the documented API does not have
	srv := httptest.NewServer(stackonefake.New(stackonefake.Options{APIKey: "k"}))
	defer srv.Close()
	c, err := NewClient(srv.Client(), srv.URL, "k", "ua")
	require.NoError(t, err)
	_, err = c.ListActions(context.Background(), ActionQuery{Start: time.Now().Add(-time.Hour), Filter: everyActionFilter(), Page: 1, PageSize: 10})
	require.NoError(t, err)
}
