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

func everyActionStepFilter() ActionStepFilter {
	yes := true
	return ActionStepFilter{AccountIDs: []string{"acc1", "acc2"}, ActionRunIDs: []string{"run"}, Success: &yes}
}

func TestActionStepQueryBodyUsesTheAPIKeys(t *testing.T) {
	q := ActionStepQuery{
		Start: time.Date(2025, 1, 2, 3, 4, 5, 678_000_000, time.UTC), End: time.Date(2025, 1, 2, 4, 0, 0, 0, time.UTC),
		Filter: everyActionStepFilter(), Page: 3, PageSize: 40,
	}
	got, err := json.Marshal(q.Body())
	require.NoError(t, err)
	assert.JSONEq(t, `{"filters":{
		"account_secure_id":["acc1","acc2"],"action_run_id":["run"],"success":true,
		"start_time":"2025-01-02T03:04:05.678Z","end_time":"2025-01-02T04:00:00.000Z",
		"order_by":"event_time","order_direction":"asc"},
		"page":3,"page_size":40}`, string(got))

	// Unset filters are left out rather than sent empty.
	got, err = json.Marshal(ActionStepQuery{PageSize: 10}.Body())
	require.NoError(t, err)
	assert.JSONEq(t, `{"filters":{"order_by":"event_time","order_direction":"asc"},"page":1,"page_size":10}`, string(got))
}

func TestActionStepQueryIsAcceptedByTheFake(t *testing.T) {
	// the fake answers 400 to any body key the documented API does not have, and 404 to a path it does not serve
	fake := stackonefake.New(stackonefake.Options{APIKey: "k"})
	at := time.Now().Add(-30 * time.Minute).UTC()
	fake.AddActionSteps(
		map[string]any{"log_type": "step", "action_run_id": "run", "step_index": 0, "account_id": "acc1", "success": true, "event_time": at.Format(time.RFC3339Nano)},
		map[string]any{"log_type": "step", "action_run_id": "other", "step_index": 0, "account_id": "acc1", "success": true, "event_time": at.Format(time.RFC3339Nano)},
	)
	srv := httptest.NewServer(fake)
	defer srv.Close()
	c, err := NewClient(srv.Client(), srv.URL, "k", "ua")
	require.NoError(t, err)
	page, err := c.ListActionSteps(context.Background(), ActionStepQuery{Start: time.Now().Add(-time.Hour), Filter: everyActionStepFilter(), Page: 1, PageSize: 10})
	require.NoError(t, err)
	require.Len(t, page.Entries, 1)
	assert.Equal(t, int64(1), page.Total)
	assert.Contains(t, string(page.Entries[0]), `"action_run_id":"run"`)
}
