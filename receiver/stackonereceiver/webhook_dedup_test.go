package stackonereceiver

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func key(s string) digest { return sha256.Sum256([]byte(s)) }

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestDedupWindow(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	d := newDedup(10*time.Minute, 100, clock.now)
	ctx := context.Background()
	claim := func(k string) bool {
		ok, err := d.claim(ctx, key(k))
		require.NoError(t, err)
		return ok
	}

	require.True(t, claim("a"))
	d.done(key("a"), true)
	assert.False(t, claim("a"), "recorded: a re-delivery is a duplicate")

	clock.t = clock.t.Add(time.Minute)
	require.True(t, claim("b"))
	d.done(key("b"), false)
	assert.True(t, claim("b"), "refused: not recorded, so the re-delivery is emitted")
	d.done(key("b"), true)

	clock.t = clock.t.Add(9*time.Minute - time.Nanosecond)
	assert.False(t, claim("a"), "still inside the window")
	clock.t = clock.t.Add(time.Nanosecond)
	assert.True(t, claim("a"), "the window has passed for a")
	d.done(key("a"), false)
	size, evicted := d.stats()
	assert.Equal(t, 1, size, "b is still remembered, a is not")
	assert.Zero(t, evicted)
}

func TestDedupIsBoundedByEntries(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	d := newDedup(time.Hour, 3, clock.now)
	forgot := 0
	for i := range 5 {
		k := key(fmt.Sprint(i))
		ok, err := d.claim(context.Background(), k)
		require.NoError(t, err)
		require.True(t, ok)
		forgot += d.done(k, true)
	}
	assert.Equal(t, 2, forgot, "done says when it forgot digests early")
	size, evicted := d.stats()
	assert.Equal(t, 3, size)
	assert.Equal(t, 2, evicted)
	ok, _ := d.claim(context.Background(), key("0"))
	assert.True(t, ok, "the oldest were forgotten first")
	ok, _ = d.claim(context.Background(), key("4"))
	assert.False(t, ok, "the newest are kept")
}

// A long run through a short window keeps memory at what the window holds: expired slots are reused.
func TestDedupQueueDoesNotGrowWithTraffic(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	d := newDedup(time.Second, maxDedupEntries, clock.now)
	for i := range 50_000 {
		k := key(fmt.Sprint(i))
		_, _ = d.claim(context.Background(), k)
		d.done(k, true)
		clock.t = clock.t.Add(100 * time.Millisecond)
	}
	size, _ := d.stats()
	assert.LessOrEqual(t, size, 11)
	assert.Less(t, cap(d.queue), 4096, "the queue's dead head is reclaimed")
}

func TestDedupSingleFlight(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name         string
		leaderOK     bool
		wantFollower bool
	}{
		{"the first delivery is accepted: the second is a duplicate", true, false},
		{"the first is refused: the second tries in its place", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDedup(time.Minute, 10, time.Now)
			waiting := make(chan struct{})
			d.setOnWait(func() { close(waiting) })
			ok, err := d.claim(ctx, key("x"))
			require.NoError(t, err)
			require.True(t, ok)
			result := make(chan bool)
			go func() {
				ok, err := d.claim(ctx, key("x"))
				assert.NoError(t, err)
				result <- ok
			}()
			<-waiting
			d.done(key("x"), tc.leaderOK)
			assert.Equal(t, tc.wantFollower, <-result)
		})
	}
}

func TestDedupWaitEndsWithTheContext(t *testing.T) {
	d := newDedup(time.Minute, 10, time.Now)
	ok, err := d.claim(context.Background(), key("x"))
	require.NoError(t, err)
	require.True(t, ok)
	ctx, cancel := context.WithCancel(context.Background())
	d.setOnWait(cancel)
	ok, err = d.claim(ctx, key("x"))
	assert.False(t, ok)
	assert.ErrorIs(t, err, context.Canceled)
	d.done(key("x"), true)
}

func TestDedupOff(t *testing.T) {
	d := newDedup(0, 10, time.Now)
	for range 2 {
		ok, err := d.claim(context.Background(), key("x"))
		require.NoError(t, err)
		assert.True(t, ok)
		d.done(key("x"), true)
	}
	size, _ := d.stats()
	assert.Zero(t, size)
}
