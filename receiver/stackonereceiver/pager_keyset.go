package stackonereceiver

import (
	"context"
	"time"

	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/stackoneapi"
)

// maxPagesPerQuery bounds one keyset query, so a server that never ends its pages cannot keep a poll running
// forever; the next poll resumes from the position.
const maxPagesPerQuery = 10000

// keysetPager reads the page-numbered /logs endpoints (POST /logs/actions, POST /logs/steps). Their page numbers
// are offsets over a set that grows while it is read, so page N+1 can skip or repeat rows. It pages by time
// instead: after each page it asks for page 1 again from the newest event time read. Only when a page brings no
// progress in time (more rows share one timestamp than fit a page) does it turn to page N+1.
type keysetPager struct {
	list  keysetList
	q     keysetWindow
	fetch fetchFunc
	// rows counts what the current start has returned: the query is over once it reaches the server's total.
	rows  int64
	pages int
}

// keysetWindow is what a keyset query moves from page to page; the endpoint's filters stay with its keysetList.
type keysetWindow struct {
	Start, End     time.Time
	Page, PageSize int
}

// keysetList calls one page-numbered endpoint for a window.
type keysetList func(ctx context.Context, w keysetWindow) (stackoneapi.Page, error)

func newKeysetPagers(client *stackoneapi.Client, filter stackoneapi.ActionLogFilter) pagerFactory {
	return keysetPagers(func(ctx context.Context, w keysetWindow) (stackoneapi.Page, error) {
		return client.ListActions(ctx, stackoneapi.ActionQuery{Start: w.Start, End: w.End, Filter: filter, Page: w.Page, PageSize: w.PageSize})
	})
}

func newActionStepPagers(client *stackoneapi.Client, filter stackoneapi.ActionStepFilter) pagerFactory {
	return keysetPagers(func(ctx context.Context, w keysetWindow) (stackoneapi.Page, error) {
		return client.ListActionSteps(ctx, stackoneapi.ActionStepQuery{Start: w.Start, End: w.End, Filter: filter, Page: w.Page, PageSize: w.PageSize})
	})
}

func keysetPagers(list keysetList) pagerFactory {
	return func(from, to time.Time, fetch fetchFunc) pager {
		return &keysetPager{list: list, q: keysetWindow{Start: from.Add(-overlap), End: to, Page: 1}, fetch: fetch}
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
		return p.list(ctx, p.q)
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
