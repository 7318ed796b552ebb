package stackonereceiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// checkpointVersion is bumped when the stored shape changes; an unknown version is ignored, never misread.
const checkpointVersion = 1

// checkpoint is a stream's position. Entries are read from watermark - late_arrival_window on every poll, and
// the ids already emitted inside that window are remembered so a re-read never emits them twice.
type checkpoint struct {
	Version int `json:"version"`
	// Watermark is the newest event time emitted (or the initial start before anything was).
	Watermark time.Time `json:"watermark"`
	// Seen maps each id emitted inside the window to its event time in Unix milliseconds, so it can be pruned.
	Seen map[string]int64 `json:"seen"`
}

func newCheckpoint(start time.Time) *checkpoint {
	return &checkpoint{Version: checkpointVersion, Watermark: start.UTC(), Seen: map[string]int64{}}
}

// queryStart is where the next poll reads from.
func (c *checkpoint) queryStart(window time.Duration) time.Time {
	return c.Watermark.Add(-window)
}

func (c *checkpoint) seen(id string) bool {
	_, ok := c.Seen[id]
	return ok
}

// add records an emitted entry. An entry with no event time is remembered at the watermark, so it ages out
// of the window like the others. The watermark never passes now: one entry stamped in the future must not
// make the next polls start after entries that have not happened yet.
func (c *checkpoint) add(id string, t, now time.Time) {
	if t.IsZero() {
		t = c.Watermark
	}
	c.Seen[id] = t.UnixMilli()
	if t.After(now) {
		t = now
	}
	if t.After(c.Watermark) {
		c.Watermark = t.UTC()
	}
}

// prune forgets ids older than the window: a re-read never reaches back that far.
func (c *checkpoint) prune(window time.Duration) {
	limit := c.queryStart(window).UnixMilli()
	for id, ms := range c.Seen {
		if ms < limit {
			delete(c.Seen, id)
		}
	}
}

// errCorruptCheckpoint marks a stored value that cannot be used; the stream starts afresh and says so.
var errCorruptCheckpoint = errors.New("stored position is unreadable")

// positionStore keeps one stream's checkpoint under its own key. The storage client is already scoped to this
// receiver's component ID, so two stackone receivers never share a position.
type positionStore struct {
	client storage.Client
	key    string
}

// load returns nil, nil when nothing is stored. A read error is returned as is: it must not be taken for "no
// position", which would silently re-read the whole lookback.
func (s *positionStore) load(ctx context.Context) (*checkpoint, error) {
	raw, err := s.client.Get(ctx, s.key)
	if err != nil {
		return nil, fmt.Errorf("reading position %q from storage: %w", s.key, err)
	}
	if raw == nil {
		return nil, nil
	}
	var cp checkpoint
	if err := json.Unmarshal(raw, &cp); err != nil {
		return nil, fmt.Errorf("%w: %q: %v", errCorruptCheckpoint, s.key, err)
	}
	if cp.Version != checkpointVersion {
		return nil, fmt.Errorf("%w: %q has version %d, this receiver reads version %d", errCorruptCheckpoint, s.key, cp.Version, checkpointVersion)
	}
	if cp.Watermark.IsZero() {
		return nil, fmt.Errorf("%w: %q has no watermark", errCorruptCheckpoint, s.key)
	}
	if cp.Seen == nil {
		cp.Seen = map[string]int64{}
	}
	return &cp, nil
}

// save writes the position and returns how many bytes it wrote.
func (s *positionStore) save(ctx context.Context, cp *checkpoint) (int, error) {
	raw, err := json.Marshal(cp)
	if err != nil {
		return 0, err
	}
	if err := s.client.Set(ctx, s.key, raw); err != nil {
		return 0, fmt.Errorf("saving position %q to storage: %w", s.key, err)
	}
	return len(raw), nil
}
