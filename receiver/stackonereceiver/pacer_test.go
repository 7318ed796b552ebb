package stackonereceiver

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPacerNeverExceedsTheBudgetInAnyMinute(t *testing.T) {
	for _, perMinute := range []int{1, 5, 60, 100} {
		t.Run(fmt.Sprintf("%d per minute", perMinute), func(t *testing.T) {
			clock := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
			p := newPacer(perMinute, time.Now, sleepCtx)
			p.clock = func() time.Time { return clock }
			p.sleep = func(_ context.Context, d time.Duration) error { clock = clock.Add(d); return nil }
			var sent []time.Time
			for range 4 * perMinute {
				require.NoError(t, p.acquire(context.Background(), false))
				sent = append(sent, clock)
				clock = clock.Add(50 * time.Millisecond) // each call takes a moment
			}
			burst := (perMinute + 5) / 6
			for i := range sent {
				inMinute, inBurst := 0, 0
				for _, at := range sent[i:] {
					if at.Sub(sent[i]) < time.Minute {
						inMinute++
					}
					if at.Sub(sent[i]) < 10*time.Second {
						inBurst++
					}
				}
				assert.LessOrEqual(t, inMinute, perMinute, "calls in the minute from %s", sent[i])
				assert.LessOrEqual(t, inBurst, burst, "calls in the 10 s from %s", sent[i])
			}
			// With work queued the whole budget is spent: four budgets take about four minutes, not more.
			assert.Less(t, sent[len(sent)-1].Sub(sent[0]), 4*budgetWindow)
			// A sweep starts at once: the first sixth of the budget goes out without waiting.
			assert.Equal(t, time.Duration(burst-1)*50*time.Millisecond, sent[burst-1].Sub(sent[0]))
		})
	}
}

func TestPacerPauseHoldsEveryCaller(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	var waits []time.Duration
	all := make(chan struct{})
	p := newPacer(1000, func() time.Time { return now }, func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		waits = append(waits, d)
		if len(waits) == 3 {
			close(all)
		}
		mu.Unlock()
		// The clock stands still here: hold every waiter until all three callers are waiting.
		select {
		case <-all:
			return nil
		case <-time.After(10 * time.Second):
			return ctx.Err()
		}
	})
	p.pause(30 * time.Second)
	p.pause(5 * time.Second) // a shorter pause never cuts a longer one
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.NoError(t, p.acquire(context.Background(), false))
		}()
	}
	wg.Wait()
	require.Len(t, waits, 3, "every caller, whichever stream, waits for the server's pause")
	for _, d := range waits {
		assert.Equal(t, 30*time.Second, d)
	}
}

func TestPacerRefusesACallOverTheBudget(t *testing.T) {
	p := newPacer(1, time.Now, sleepCtx)
	require.NoError(t, p.acquire(context.Background(), false))
	// The next token is a minute away: a call that must go out within a second is refused, never sent early.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	assert.Error(t, p.acquire(ctx, false))
}

// A catch-up spending the budget as fast as it may leaves a slot for the live read, which then never waits
// behind it, while the calls of both together stay within the budget and the catch-up still gets most of it.
func TestPacerBackgroundCallsLeaveTheLiveReadASlot(t *testing.T) {
	for _, perMinute := range []int{1, 12, 60, 600} {
		t.Run(fmt.Sprintf("%d per minute", perMinute), func(t *testing.T) {
			clock := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
			p := newPacer(perMinute, func() time.Time { return clock }, func(context.Context, time.Duration) error { return nil })
			p.clock = func() time.Time { return clock }
			p.sleep = func(_ context.Context, d time.Duration) error { clock = clock.Add(d); return nil }
			var sent []time.Time
			background := 0
			for i := range 6 * perMinute {
				live := i%5 == 4
				before := clock
				require.NoError(t, p.acquire(context.Background(), !live))
				if live && perMinute > 1 {
					assert.Equal(t, before, clock, "call %d, a live read, waited behind the catch-up", i)
				}
				if !live {
					background++
				}
				sent = append(sent, clock)
				clock = clock.Add(10 * time.Millisecond)
			}
			for i := range sent {
				inMinute := 0
				for _, at := range sent[i:] {
					if at.Sub(sent[i]) < time.Minute {
						inMinute++
					}
				}
				assert.LessOrEqual(t, inMinute, perMinute, "calls in the minute from %s", sent[i])
			}
			if perMinute >= 60 {
				elapsed := sent[len(sent)-1].Sub(sent[0])
				perMin := float64(len(sent)) / elapsed.Minutes()
				assert.Greater(t, perMin, 0.8*float64(perMinute), "both together spend most of the budget")
			}
		})
	}
}

// A 429 that arrives while a call waits for a budget slot holds that call too: it waits the pause out after its
// slot, and the slot it gave up is not counted as a send.
func TestPacerPauseSetDuringTheBudgetWaitHoldsTheCall(t *testing.T) {
	for _, background := range []bool{false, true} {
		t.Run(fmt.Sprintf("background %v", background), func(t *testing.T) {
			clock := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
			var pauses []time.Duration
			p := newPacer(1, func() time.Time { return clock }, func(_ context.Context, d time.Duration) error {
				pauses = append(pauses, d)
				clock = clock.Add(d)
				return nil
			})
			p.clock = func() time.Time { return clock }
			budgetWaits := 0
			p.sleep = func(_ context.Context, d time.Duration) error {
				if budgetWaits++; budgetWaits == 1 {
					// Another stream's call is answered 429 while this one waits for its slot.
					p.pause(5 * time.Minute)
				}
				clock = clock.Add(d)
				return nil
			}
			require.NoError(t, p.acquire(context.Background(), false))
			first := clock
			require.NoError(t, p.acquire(context.Background(), background))
			require.Equal(t, []time.Duration{5*time.Minute - budgetWindow}, pauses, "the call waited out what was left of the pause after its slot")
			assert.Equal(t, first.Add(5*time.Minute), clock, "sent when the pause ended, not when its slot came")
			// Its slot is taken at the send: the next call waits a whole window from there.
			require.NoError(t, p.acquire(context.Background(), false))
			assert.Equal(t, first.Add(5*time.Minute+budgetWindow), clock)
		})
	}
}

// However live reads (reserving the next slot, maybe ahead of now), catch-up calls (taking a slot free now) and
// calls that give their slot back (a pause came while they waited) interleave, no span of the log holds more
// calls than it has slots. A ring that took its next slot, and got a slot back out of order, could.
func TestSendLogNeverHoldsMoreThanItsSize(t *testing.T) {
	type held struct {
		slot     int
		at, prev time.Time
	}
	for seed := range uint64(500) {
		rng := rand.New(rand.NewPCG(seed, 7))
		size := 1 + rng.IntN(6)
		l := newSendLog(size, time.Minute)
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		sent := map[int]time.Time{} // by the order taken
		var waiting []int           // reservations that may still be given back
		holds := map[int]held{}
		for n := range 300 {
			now = now.Add(time.Duration(rng.IntN(20)) * time.Second)
			switch rng.IntN(3) {
			case 0:
				at := laterOf(now, l.free())
				slot, prev := l.take(at)
				sent[n], holds[n] = at, held{slot, at, prev}
				waiting = append(waiting, n)
			case 1:
				if !l.freeLeaving(now).After(now) {
					l.take(now)
					sent[n] = now
				}
			default:
				if len(waiting) > 0 {
					k := rng.IntN(len(waiting))
					h := holds[waiting[k]]
					// Not sent: a pause came while it waited for its turn, and the slot goes back.
					l.giveBack(h.slot, h.at, h.prev)
					delete(sent, waiting[k])
					waiting = slices.Delete(waiting, k, k+1)
				}
			}
		}
		var times []time.Time
		for _, at := range sent {
			times = append(times, at)
		}
		slices.SortFunc(times, time.Time.Compare)
		for i := range times {
			j := i
			for j < len(times) && times[j].Before(times[i].Add(time.Minute)) {
				j++
			}
			require.LessOrEqual(t, j-i, size, "seed %d: %d calls within a minute from %s, budget %d", seed, j-i, times[i], size)
		}
	}
}
