package main

import (
	"math"
	"slices"
	"sort"
	"time"
)

// maxInWindow is the largest number of events inside any window of length w, the way a per-minute limit on
// the server would see them: a window starting at each event's time and ending just before t+w.
func maxInWindow(times []time.Time, w time.Duration) int {
	ts := slices.Clone(times)
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	best, j := 0, 0
	for i := range ts {
		for j < len(ts) && ts[j].Sub(ts[i]) < w {
			j++
		}
		best = max(best, j-i)
	}
	return best
}

// callRate is calls per minute over the span of the calls: n calls spaced evenly make n-1 intervals, so a
// producer paced exactly at its budget measures 100 %, however short the run. 0 for fewer than two calls.
func callRate(times []time.Time) float64 {
	if len(times) < 2 {
		return 0
	}
	first, last := slices.MinFunc(times, time.Time.Compare), slices.MaxFunc(times, time.Time.Compare)
	span := last.Sub(first)
	if span <= 0 {
		return 0
	}
	return float64(len(times)-1) / span.Minutes()
}

// percentile is the nearest-rank percentile (p in 0..100) of xs; 0 for none.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	rank = min(max(rank, 1), len(s))
	return s[rank-1]
}

// median of the values present; ok is false when there are none.
func median(xs []float64) (float64, bool) {
	if len(xs) == 0 {
		return 0, false
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2], true
	}
	return (s[n/2-1] + s[n/2]) / 2, true
}

// delayStats summarises how long ids waited between becoming visible in the API and first reaching the sink.
// Ids that never arrived count with their age at the end: a lower bound on their delay that still grows, so a
// receiver that falls behind cannot look better by never delivering.
type delayStats struct {
	Delivered       int
	Undelivered     int
	MaxDelivered    time.Duration
	P99Delivered    time.Duration
	OldestMissing   time.Duration // age at the end of the oldest id not delivered
	MaxPerMinute    []time.Duration
	MaxPerMinuteSet []bool // false where no id became visible in that minute
}

// Max is the longest delay seen, counting undelivered ids at their age at the end.
func (d delayStats) Max() time.Duration { return max(d.MaxDelivered, d.OldestMissing) }

// computeDelays: visible and arrived map id to times; ids absent from arrived are undelivered at end.
// origin starts the per-minute buckets (by the minute an id became visible).
func computeDelays(visible, arrived map[string]time.Time, origin, end time.Time) delayStats {
	var d delayStats
	delays := make([]float64, 0, len(visible))
	for id, v := range visible {
		var delay time.Duration
		if a, ok := arrived[id]; ok {
			delay = max(a.Sub(v), 0)
			d.Delivered++
			delays = append(delays, delay.Seconds())
			d.MaxDelivered = max(d.MaxDelivered, delay)
		} else {
			delay = max(end.Sub(v), 0)
			d.Undelivered++
			d.OldestMissing = max(d.OldestMissing, delay)
		}
		m := int(v.Sub(origin) / time.Minute)
		if m < 0 {
			m = 0
		}
		for len(d.MaxPerMinute) <= m {
			d.MaxPerMinute = append(d.MaxPerMinute, 0)
			d.MaxPerMinuteSet = append(d.MaxPerMinuteSet, false)
		}
		d.MaxPerMinute[m] = max(d.MaxPerMinute[m], delay)
		d.MaxPerMinuteSet[m] = true
	}
	d.P99Delivered = time.Duration(percentile(delays, 99) * float64(time.Second))
	return d
}
