package stackonereceiver

import (
	"context"
	"time"

	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/stackoneapi"
)

// maxPagesPerPoll bounds one poll of a page-numbered stream, so a server that never shortens its pages
// cannot keep a poll running forever; the next poll resumes from the checkpoint.
const maxPagesPerPoll = 10000

// newActionStream reads POST /logs/actions. Its page numbers are offsets over a set that grows while it is
// read, so page N+1 can skip or repeat rows. Instead it pages by time (keyset): after each page it asks for
// page 1 again from the newest event_time read, and the ids already emitted are dropped. Only when a full
// page brings no progress in time (more rows share one timestamp than fit a page) does it turn to page N+1.
func (r *stackoneReceiver) newActionStream(client *stackoneapi.Client, filter stackoneapi.ActionLogFilter) *stream {
	st := r.newStream(actionLogSchema)
	st.poll = func(ctx context.Context) error {
		q := stackoneapi.ActionQuery{Start: st.queryStart(), Filter: filter, Page: 1, PageSize: r.cfg.PageSize}
		for i := 0; i < maxPagesPerPoll && ctx.Err() == nil; i++ {
			page, err := st.fetch(ctx, func(ctx context.Context) (stackoneapi.Page, error) {
				return client.ListActions(ctx, q)
			})
			if err != nil {
				return err
			}
			newest, err := st.deliver(ctx, page)
			if err != nil {
				return err
			}
			if len(page.Entries)+page.NotObjects < q.PageSize ||
				(page.Total >= 0 && int64(q.Page*q.PageSize) >= page.Total) {
				return nil // the last page of this query
			}
			// Re-query from just before the newest time read: a millisecond earlier keeps the rows that share
			// that timestamp whether the API's start_time is inclusive or not; the re-read ones are dropped.
			if next := newest.Add(-time.Millisecond); next.After(q.Start) {
				q.Start, q.Page = next, 1
			} else {
				q.Page++
			}
		}
		return ctx.Err()
	}
	return st
}
