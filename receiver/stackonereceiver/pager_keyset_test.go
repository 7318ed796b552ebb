package stackonereceiver

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/stackoneapi"
)

func logIDsOf(t *testing.T, page stackoneapi.Page) []string {
	t.Helper()
	out := make([]string, len(page.Entries))
	for i, e := range page.Entries {
		var v struct {
			LogID string `json:"log_id"`
		}
		require.NoError(t, json.Unmarshal(e, &v))
		out[i] = v.LogID
	}
	return out
}

// When the page size drops in the middle of a query that pages by number (a whole page shares one timestamp),
// the page number is recomputed so the next page starts at the row reached: nothing is skipped, and at most
// the rows of one smaller page are read again.
func TestKeysetPagerKeepsItsOffsetWhenThePageSizeDrops(t *testing.T) {
	const entries = 120
	tests := []struct {
		name     string
		before   int // the page size of the first three reads
		after    int // the page size of the fourth
		wantPage int
		wantFrom int // the row the fourth page starts at: at or before the 2 x before rows reached
	}{
		{"halved", 50, 25, 5, 100},
		{"halved from an odd size", 45, 22, 5, 88},
		{"to one", 40, 1, 81, 80},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := stackonefake.New(stackonefake.Options{})
			at := time.Now().Add(-time.Hour).Truncate(time.Second)
			fake.GenerateActionLogs(entries, at, 0, 63) // one timestamp: the pager must turn to page numbers
			srv := httptest.NewServer(fake)
			t.Cleanup(srv.Close)
			client, err := stackoneapi.NewClient(srv.Client(), srv.URL, "", "test")
			require.NoError(t, err)
			from := at.Add(-time.Minute)
			all, err := client.ListActions(context.Background(), stackoneapi.ActionQuery{Start: from.Add(-overlap), Page: 1, PageSize: 1000})
			require.NoError(t, err)
			order := logIDsOf(t, all) // the server's order of the rows that share the timestamp
			require.Len(t, order, entries)

			sizes := []int{tt.before, tt.before, tt.before, tt.after}
			calls := 0
			fetch := func(ctx context.Context, call func(context.Context, int) (stackoneapi.Page, error)) (stackoneapi.Page, error) {
				n := sizes[min(calls, len(sizes)-1)]
				calls++
				return call(ctx, n)
			}
			p := newKeysetPagers(client, stackoneapi.ActionLogFilter{})(from, time.Time{}, fetch).(*keysetPager)
			var read []string
			for range 3 {
				page, more, err := p.next(context.Background())
				require.NoError(t, err)
				require.True(t, more)
				read = append(read, logIDsOf(t, page)...)
				p.advance(at)
			}
			// Page 1 from the start asked, page 1 again from the timestamp reached, then page 2.
			require.Equal(t, append(append(order[:tt.before:tt.before], order[:tt.before]...), order[tt.before:2*tt.before]...), read)

			page, _, err := p.next(context.Background())
			require.NoError(t, err)
			assert.Equal(t, tt.wantPage, p.q.Page)
			assert.Equal(t, order[tt.wantFrom:min(tt.wantFrom+tt.after, entries)], logIDsOf(t, page))
		})
	}
}
