package stackonereceiver

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPacerSpacesCallsWithoutBurst(t *testing.T) {
	for perMinute, perSecond := range map[int]float64{60: 1, 1: 1.0 / 60, 600: 10, 1000: 1000.0 / 60} {
		p := newPacer(perMinute, time.Now, sleepCtx)
		assert.InDelta(t, perSecond, float64(p.limiter.Limit()), 1e-9, "%d/min", perMinute)
		// No burst: calls are spaced 60/perMinute seconds apart, so no 60-second window holds more than the budget.
		assert.Equal(t, 1, p.limiter.Burst(), "%d/min", perMinute)
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
			assert.NoError(t, p.acquire(context.Background()))
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
	require.NoError(t, p.acquire(context.Background()))
	// The next token is a minute away: a call that must go out within a second is refused, never sent early.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	assert.Error(t, p.acquire(ctx))
}
