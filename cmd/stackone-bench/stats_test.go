package main

import (
	"math"
	"testing"
	"time"
)

func TestMaxInWindow(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(secs ...float64) []time.Time {
		out := make([]time.Time, len(secs))
		for i, s := range secs {
			out[i] = t0.Add(time.Duration(s * float64(time.Second)))
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		times []time.Time
		want  int
	}{
		{"none", nil, 0},
		{"one", at(5), 1},
		{"all inside one minute", at(0, 10, 59.9), 3},
		// A call exactly 60 s after another falls in the next window, as in a per-minute limit.
		{"window end excluded", at(0, 60), 1},
		// Calendar minutes would see 3 and 3; the window from 50 s holds 4.
		{"sliding, not calendar minutes", at(0, 50, 55, 70, 100, 111), 4},
		{"unsorted input", at(100, 0, 55, 111, 50, 70), 4},
		{"burst later", at(0, 1, 200, 200.1, 200.2, 259), 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := maxInWindow(tc.times, time.Minute); got != tc.want {
				t.Errorf("maxInWindow = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestCallRate(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	every := func(n int, gap time.Duration) []time.Time {
		out := make([]time.Time, n)
		for i := range out {
			out[len(out)-1-i] = t0.Add(time.Duration(i) * gap) // newest first: order must not matter
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		times []time.Time
		want  float64
	}{
		{"none", nil, 0},
		{"one call has no rate", every(1, time.Second), 0},
		{"paced at 60/min for 16 s", every(17, time.Second), 60},
		{"paced at 600/min", every(300, 100*time.Millisecond), 600},
		{"all at once", []time.Time{t0, t0, t0}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := callRate(tc.times); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("callRate = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPercentileAndMedian(t *testing.T) {
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[i] = float64(100 - i) // 100..1, unsorted on purpose
	}
	for _, tc := range []struct {
		name string
		xs   []float64
		p    float64
		want float64
	}{
		{"empty", nil, 99, 0},
		{"single", []float64{7}, 99, 7},
		{"p99 of 1..100", hundred, 99, 99},
		{"p100 is the max", hundred, 100, 100},
		{"p50 nearest rank", []float64{1, 2, 3, 4}, 50, 2},
		{"p99 of few is the max", []float64{3, 1, 2}, 99, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.xs, tc.p); got != tc.want {
				t.Errorf("percentile(%v) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		xs   []float64
		want float64
		ok   bool
	}{
		{nil, 0, false},
		{[]float64{3}, 3, true},
		{[]float64{5, 1, 3}, 3, true},
		{[]float64{4, 1, 3, 2}, 2.5, true},
	} {
		got, ok := median(tc.xs)
		if got != tc.want || ok != tc.ok {
			t.Errorf("median(%v) = %v, %v; want %v, %v", tc.xs, got, ok, tc.want, tc.ok)
		}
	}
}

func TestComputeDelays(t *testing.T) {
	origin := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	sec := func(s float64) time.Time { return origin.Add(time.Duration(s * float64(time.Second))) }
	end := sec(200)
	visible := map[string]time.Time{
		"a": sec(0),   // 5 s
		"b": sec(10),  // 30 s
		"c": sec(70),  // 2 s, second minute
		"d": sec(130), // never arrives: 70 s old at the end
		"e": sec(131), // arrives "before" it was visible (clock skew): counted as 0
	}
	arrived := map[string]time.Time{
		"a":     sec(5),
		"b":     sec(40),
		"c":     sec(72),
		"e":     sec(130.5),
		"other": sec(1), // not one of ours: ignored
	}
	d := computeDelays(visible, arrived, origin, end)
	if d.Delivered != 4 || d.Undelivered != 1 {
		t.Fatalf("delivered %d undelivered %d, want 4 and 1", d.Delivered, d.Undelivered)
	}
	if d.MaxDelivered != 30*time.Second {
		t.Errorf("MaxDelivered = %s, want 30s", d.MaxDelivered)
	}
	if d.OldestMissing != 70*time.Second {
		t.Errorf("OldestMissing = %s, want 70s", d.OldestMissing)
	}
	// The undelivered id dominates: a receiver that falls behind cannot report a small delay.
	if d.Max() != 70*time.Second {
		t.Errorf("Max = %s, want 70s", d.Max())
	}
	if d.P99Delivered != 30*time.Second {
		t.Errorf("P99Delivered = %s, want 30s", d.P99Delivered)
	}
	wantMinutes := []time.Duration{30 * time.Second, 2 * time.Second, 70 * time.Second}
	if len(d.MaxPerMinute) != len(wantMinutes) {
		t.Fatalf("MaxPerMinute = %v, want %v", d.MaxPerMinute, wantMinutes)
	}
	for i, w := range wantMinutes {
		if d.MaxPerMinute[i] != w || !d.MaxPerMinuteSet[i] {
			t.Errorf("minute %d: %s (set %v), want %s", i, d.MaxPerMinute[i], d.MaxPerMinuteSet[i], w)
		}
	}

	// A minute in which nothing became visible stays marked empty.
	gap := computeDelays(map[string]time.Time{"x": sec(1), "y": sec(125)}, map[string]time.Time{"x": sec(2), "y": sec(126)}, origin, end)
	if len(gap.MaxPerMinuteSet) != 3 || gap.MaxPerMinuteSet[1] {
		t.Errorf("MaxPerMinuteSet = %v, want minute 1 empty of 3", gap.MaxPerMinuteSet)
	}
}
