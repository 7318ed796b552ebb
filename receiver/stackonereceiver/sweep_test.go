package stackonereceiver

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.uber.org/zap"
)

// The near sweep's delay grows by half (or a sweep_interval) on each far find, never past the window, and eases
// back by a tenth an hour once a day has passed without one, never below the configured delay.
func TestIndexingDelayGrowsAndEasesBack(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := &stream{
		cfg: streamSettings{window: 5 * time.Minute, indexingDelay: time.Minute, sweepInterval: 15 * time.Second},
		pos: newPosition(now.Add(-time.Hour)),
		now: func() time.Time { return now },
	}
	s.log = zap.NewNop()
	var grown []time.Duration
	for range 5 {
		s.raiseDelay(1)
		grown = append(grown, s.delay())
	}
	assert.Equal(t, []time.Duration{90 * time.Second, 135 * time.Second, 202500 * time.Millisecond, 5 * time.Minute, 5 * time.Minute}, grown)

	var eased []time.Duration
	for _, after := range []time.Duration{23 * time.Hour, 24 * time.Hour, 24*time.Hour + 30*time.Minute, 25 * time.Hour, 40 * time.Hour} {
		now = s.pos.DelayRaised.Add(after)
		s.easeDelay()
		eased = append(eased, s.delay())
	}
	assert.Equal(t, []time.Duration{5 * time.Minute, 270 * time.Second, 270 * time.Second, 243 * time.Second, 218700 * time.Millisecond}, eased,
		"nothing for a day, then a tenth at most once an hour")
	for range 30 {
		now = now.Add(time.Hour)
		s.easeDelay()
	}
	assert.Equal(t, time.Minute, s.delay(), "never below indexing_delay")
}
