package stackonereceiver

import (
	"context"
	"time"

	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/stackoneapi"
)

// maxPagesPerQuery bounds one keyset query, so a server that never ends its pages cannot keep a poll running
// forever; the next poll resumes from the position.
const maxPagesPerQuery = 10000

// keysetPager reads POST /logs/actions. Its page numbers are offsets over a set that grows while it is read,
// so page N+1 can skip or repeat rows. It pages by time instead: after each page it asks for page 1 again from
// the newest event time read. Only when a page brings no progress in time (more rows share one timestamp than
// fit a page) does it turn to page N+1.
type keysetPager struct {
	client *stackoneapi.Client
	q      stackoneapi.ActionQuery
	fetch  fetchFunc
	// rows counts what the current start has returned: the query is over once it reaches the server's total.
	rows  int64
	pages int
}

func newKeysetPagers(client *stackoneapi.Client, filter stackoneapi.ActionLogFilter) pagerFactory {
	return func(from, to time.Time, fetch fetchFunc) pager {
		q := stackoneapi.ActionQuery{Start: from.Add(-overlap), End: to, Filter: filter, Page: 1}
		return &keysetPager{client: client, q: q, fetch: fetch}
	}
}

func (p *keysetPager) next(ctx context.Context) (stackoneapi.Page, bool, error) {
	page, err := p.fetch(ctx, func(ctx context.Context, pageSize int) (stackoneapi.Page, error) {
		if p.q.PageSize > 0 && pageSize != p.q.PageSize {
			// Page numbers count in units of the page size: the first page at the new size that holds the
			// row reached so far neither skips a row nor reads many again.
			p.q.Page = (p.q.Page-1)*p.q.PageSize/pageSize + 1
		}
		p.q.PageSize = pageSize
		return p.client.ListActions(ctx, p.q)
	})
	if err != nil {
		return page, false, err
	}
	p.pages++
	n := int64(len(page.Entries) + page.NotObjects)
	p.rows += n
	// A server may cap the page size below ours, so a short page is not the end: the total says where the end
	// is, and without one only an empty page does.
	more := n > 0 && (page.Total < 0 || p.rows < page.Total) && p.pages < maxPagesPerQuery
	return page, more, nil
}

func (p *keysetPager) advance(newest time.Time) {
	if next := newest.Add(-overlap); next.After(p.q.Start) {
		p.q.Start, p.q.Page, p.rows = next, 1, 0
		return
	}
	p.q.Page++
}
