package stackonereceiver

import (
	"context"
	"time"

	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/stackoneapi"
)

// pager reads one query, page by page, from a start time to the end of the stream or of a range.
type pager interface {
	// next returns the next page; more is false once the query has nothing after it.
	next(ctx context.Context) (page stackoneapi.Page, more bool, err error)
	// advance is told the newest event time on the page just delivered: a keyset query continues from it, a
	// cursor query restarts from it when the server rejects the cursor.
	advance(newest time.Time)
}

// fetchFunc calls the API once with the stream's pacing and retries. call is given the page size to ask for:
// the stream's, which it lowers when the server refuses it, so a retry may ask for less than the try before.
type fetchFunc func(ctx context.Context, call func(ctx context.Context, pageSize int) (stackoneapi.Page, error)) (stackoneapi.Page, error)

// pagerFactory opens a query over [from, to); a zero to leaves it open-ended.
type pagerFactory func(from, to time.Time, fetch fetchFunc) pager

// overlap is how far before the newest time read a query restarts: whether the API's start bound is inclusive
// is undocumented, and a millisecond earlier keeps the rows that share that timestamp either way. The rows read
// again are recognised and dropped.
const overlap = time.Millisecond
