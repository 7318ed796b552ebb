package stackonereceiver

import (
	"context"
	"errors"
	"time"

	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/stackoneapi"
)

// maxCursorRestarts bounds the restarts of one query after rejected cursors, so a server that rejects every
// cursor ends the poll with an error instead of looping.
const maxCursorRestarts = 3

// cursorPager reads a cursor-paginated endpoint (request, step and platform logs) in ascending event time. The
// end is the page without a `next`, however short the pages are.
type cursorPager struct {
	client   *stackoneapi.Client
	path     string
	q        stackoneapi.CursorQuery
	fetch    fetchFunc
	newest   time.Time
	restarts int
}

func newCursorPagers(client *stackoneapi.Client, path string, filter stackoneapi.RequestLogFilter) pagerFactory {
	return func(from, to time.Time, fetch fetchFunc) pager {
		// Ascending event time is what makes a page-by-page position safe: everything before the newest time
		// delivered has been read. Step logs have no event_datetime; the API orders them by their start time.
		q := stackoneapi.CursorQuery{Start: from.Add(-overlap), End: to, Filter: filter, OrderBy: "eventDatetime"}
		return &cursorPager{client: client, path: path, q: q, fetch: fetch}
	}
}

func (p *cursorPager) next(ctx context.Context) (stackoneapi.Page, bool, error) {
	for {
		page, err := p.fetch(ctx, func(ctx context.Context, pageSize int) (stackoneapi.Page, error) {
			p.q.PageSize = pageSize
			return p.client.ListCursor(ctx, p.path, p.q)
		})
		var ae *stackoneapi.APIError
		if errors.As(err, &ae) && ae.CursorRejected && p.restarts < maxCursorRestarts {
			// Everything before the newest time delivered is in; the rows read again are dropped.
			p.restarts++
			p.q.Next = ""
			if !p.newest.IsZero() {
				p.q.Start = p.newest.Add(-overlap)
			}
			continue
		}
		if err != nil {
			return page, false, err
		}
		p.q.Next = page.Next
		return page, page.Next != "", nil
	}
}

func (p *cursorPager) advance(newest time.Time) { p.newest = laterOf(p.newest, newest) }
