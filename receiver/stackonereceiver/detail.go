package stackonereceiver

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/stackoneapi"
)

// Outcomes of a failed request's detail, in stackone.detail and the detail_requests metric.
const (
	detailFetched       = "fetched"
	detailFailed        = "failed"
	detailSkippedBudget = "skipped_budget"
)

// detailWorkers is how many detail calls of one page run at once: the share's burst rarely allows more.
const detailWorkers = 4

// detailer fetches what the list leaves out of a failed request (provider errors, mapping errors, the provider
// calls behind it) with what the reads leave of the request budget, up to its share of it. It never retries and
// never waits for the budget: a record whose detail cannot be had at once goes without it, marked, so the
// detail costs a page at most one timeout and the position never waits on it.
type detailer struct {
	wanted  statusSet
	timeout time.Duration
	share   *pacer // the most of max_requests_per_minute the detail calls may use
	key     *pacer // the key's pacer: detail calls take only its spare slots, and its pauses hold them too
	call    func(ctx context.Context, id string) (jsontext.Value, error)
	// withTimeout is context.WithTimeout, on the simulation's clock in the simulation.
	withTimeout func(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc)
}

// detailResult is what became of one candidate's detail: no outcome when its status is not wanted.
type detailResult struct {
	outcome string
	entry   decoded // the detail entry, decoded, when fetched
}

// fetchDetails gets the detail of the candidates whose status is wanted, together, within one timeout. Only new
// entries are asked about: what a sweep reads again was explained the first time.
func (s *stream) fetchDetails(ctx context.Context, entries []decoded, cands []candidate) []detailResult {
	d := s.detail
	if d == nil {
		return nil
	}
	var results []detailResult
	var want []int
	for i, c := range cands {
		e := entries[c.index]
		status, ok := e.status(s.schema)
		if !ok || !d.wanted.has(status) || strings.HasPrefix(e.meta.id, digestPrefix) {
			continue
		}
		if results == nil {
			results = make([]detailResult, len(cands))
		}
		want = append(want, i)
	}
	if len(want) == 0 {
		return nil
	}
	ctx, cancel := d.withTimeout(ctx, d.timeout)
	defer cancel()
	// A few workers take the wanted entries in turn; each decides at its turn whether the share allows a call.
	// They run in the stream's group, so the simulation schedules them like every other reader.
	var mu sync.Mutex
	next := 0
	var failures []error
	g := s.newGroup()
	for range min(detailWorkers, len(want)) {
		g.Go(func() {
			for {
				mu.Lock()
				if next == len(want) {
					mu.Unlock()
					return
				}
				i := want[next]
				next++
				mu.Unlock()
				if ctx.Err() != nil || d.key.paused() || !takeSpare(d.key, d.share) {
					results[i].outcome = detailSkippedBudget
					continue
				}
				raw, err := d.call(ctx, strings.Clone(entries[cands[i].index].meta.id))
				if err != nil {
					// The limit is the key's: a Retry-After on a detail call holds the reads at once too.
					if _, _, retryAfter := classify(err); retryAfter > 0 {
						d.key.pause(min(retryAfter, maxRetryAfter))
					}
					results[i].outcome = detailFailed
					mu.Lock()
					failures = append(failures, err)
					mu.Unlock()
					continue
				}
				results[i] = detailResult{outcome: detailFetched, entry: s.mapper.decode(s.schema, raw)}
			}
		})
	}
	g.Wait()
	counts := map[string]int{}
	for _, i := range want {
		counts[results[i].outcome]++
	}
	for outcome, n := range counts {
		s.tel.detail(ctx, outcome, n)
	}
	if counts[detailSkippedBudget] > 0 {
		s.sampled.Info("Sent failed requests without their detail: the reads left no request to spare, or the detail share is spent; raise request_logs.detail.budget_share or max_requests_per_minute to explain more of them",
			zap.String("stream", s.name), zap.Int("records", counts[detailSkippedBudget]))
	}
	if len(failures) > 0 {
		err := failures[0]
		class, _, _ := classify(err)
		s.sampled.Warn("Could not fetch failed requests' detail; they are sent without it, marked stackone.detail: failed",
			zap.String("stream", s.name), zap.Int("records", len(failures)), zap.String("error.class", class), zap.Error(err))
	}
	return results
}

// status is the entry's HTTP status: the schema's status field, else the nested response's.
func (d decoded) status(s *schema) (int64, bool) {
	if s.statusSlot >= 0 {
		if v, ok := d.sc.intOf(d.sc.slots[s.statusSlot]); ok {
			return v, true
		}
	}
	return d.sc.intOf(d.sc.resp.statusCode)
}

// appendWithDetail appends the candidate's record: from its detail when fetched (keeping the list's event time
// when the detail has none), marked with the detail's outcome when one was wanted.
func (s *stream) appendWithDetail(lrs plog.LogRecordSlice, d decoded, r detailResult, observed pcommon.Timestamp) entryMeta {
	if r.outcome == detailFetched {
		meta := s.mapper.appendDecoded(lrs, s.schema, r.entry, observed)
		lr := lrs.At(lrs.Len() - 1)
		if lr.Timestamp() == 0 && !d.meta.time.IsZero() {
			lr.SetTimestamp(pcommon.NewTimestampFromTime(d.meta.time))
		}
		lr.Attributes().PutStr("stackone.detail", r.outcome)
		return meta
	}
	meta := s.mapper.appendDecoded(lrs, s.schema, d, observed)
	if r.outcome != "" {
		lrs.At(lrs.Len()-1).Attributes().PutStr("stackone.detail", r.outcome)
	}
	return meta
}

func releaseDetails(results []detailResult) {
	for _, r := range results {
		if r.entry.sc != nil {
			r.entry.release()
		}
	}
}

// newDetailer is the detail fetch of request logs, nil when it is off.
func newDetailer(cfg *Config, client *stackoneapi.Client, key, share *pacer) *detailer {
	if cfg.detailCalls() == 0 || client == nil {
		return nil
	}
	wanted, err := parseStatusSet(cfg.RequestLogs.Detail.StatusCodes)
	if err != nil {
		return nil // Validate refused it already
	}
	return &detailer{wanted: wanted, timeout: min(cfg.RequestLogs.Detail.Timeout, cfg.Timeout), share: share, key: key, call: client.RequestLogDetail, withTimeout: context.WithTimeout}
}
