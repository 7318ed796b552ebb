package stackonereceiver

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// positionVersion is bumped when the stored shape changes. Version 1 (one JSON value holding every id inside
// the window, rewritten after each page) is read and migrated; anything else is refused, never misread.
const positionVersion = 2

// position is where a stream stands. It is saved after every accepted page, in one storage batch: a small
// header, plus one record holding just that page's ids. Its size per write depends on the page, never on
// the volume inside the late-arrival window.
type position struct {
	// Frontier: every entry with an event time before it has been delivered, apart from late arrivals,
	// which the sweeps re-read.
	Frontier time.Time `json:"frontier"`
	// Floor is where the live read begins; older time belongs to catch-up slices or to before the start.
	Floor time.Time `json:"floor"`
	// Near and Far are how far the two sweeps have got: every moment before Near has been read at least the
	// indexing delay after it, every moment before Far at least the late-arrival window after it.
	Near time.Time `json:"near"`
	Far  time.Time `json:"far"`
	// Delay is the indexing delay the near sweep reads at now, once sweeps have found entries later than the
	// configured one; DelayRaised is when it last grew, DelayEased when it last shrank back.
	Delay       time.Duration `json:"delay,omitempty"`
	DelayRaised time.Time     `json:"delay_raised,omitzero"`
	DelayEased  time.Time     `json:"delay_eased,omitzero"`
	// LastSweep is read from positions stored by releases that re-read the whole window on each sweep.
	LastSweep time.Time `json:"last_sweep,omitzero"`
	// Slices of the catch-up in progress, oldest first. The frontier moves over a slice only once it and
	// every older one are done.
	Slices []*slice `json:"slices,omitempty"`
	// SeenFirst and SeenNext bound the sequence numbers of the stored page records.
	SeenFirst uint64 `json:"seen_first"`
	SeenNext  uint64 `json:"seen_next"`

	seen seenSet
}

// slice is one range [Start, End) of a catch-up, read on its own and resumable from Progress.
type slice struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Progress is the newest event time delivered in order; Start before anything was.
	Progress time.Time `json:"progress"`
	Done     bool      `json:"done,omitempty"`
	// Tail holds the ids delivered within the millisecond before Progress: a resumed read starts there
	// again and must recognise them. It stays as small as the entries sharing one timestamp.
	Tail []uint64 `json:"tail,omitempty"`
}

func newPosition(start time.Time) *position {
	start = start.UTC()
	return &position{Frontier: start, Floor: start, Near: start, Far: start, seen: newSeenSet()}
}

// seenSet remembers the ids emitted inside the late-arrival window, grouped by the page that emitted them so a
// page's record can be written once and deleted once it ages out.
type seenSet struct {
	ids   map[uint64]struct{}
	pages map[uint64]*seenPage
	// dirty pages are written by the next save; gone ones are deleted by it.
	dirty []uint64
	gone  []uint64
}

type seenPage struct {
	newest int64 // Unix milliseconds: the page ages out once the window has passed it
	ids    []uint64
}

func newSeenSet() seenSet {
	return seenSet{ids: map[uint64]struct{}{}, pages: map[uint64]*seenPage{}}
}

func (s *seenSet) has(id uint64) bool {
	_, ok := s.ids[id]
	return ok
}

// addPage remembers one delivered page's ids under the next sequence number.
func (p *position) addPage(ids []uint64, newest time.Time) {
	if len(ids) == 0 {
		return
	}
	seq := p.SeenNext
	p.SeenNext++
	p.seen.add(seq, &seenPage{newest: newest.UnixMilli(), ids: ids})
	p.seen.dirty = append(p.seen.dirty, seq)
}

func (s *seenSet) add(seq uint64, pg *seenPage) {
	s.pages[seq] = pg
	for _, id := range pg.ids {
		s.ids[id] = struct{}{}
	}
}

// prune forgets the pages whose newest entry is older than before, but for those from keepFrom up to keepTo:
// no re-read reaches back that far.
func (p *position) prune(before, keepFrom, keepTo time.Time) {
	limit := before.UnixMilli()
	keep := func(ms int64) bool {
		return !keepFrom.IsZero() && ms >= keepFrom.UnixMilli() && ms < keepTo.UnixMilli()
	}
	for seq, pg := range p.seen.pages {
		if pg.newest >= limit || keep(pg.newest) {
			continue
		}
		for _, id := range pg.ids {
			delete(p.seen.ids, id)
		}
		delete(p.seen.pages, seq)
		p.seen.gone = append(p.seen.gone, seq)
	}
	p.SeenFirst = p.SeenNext
	for seq := range p.seen.pages {
		p.SeenFirst = min(p.SeenFirst, seq)
	}
}

// dropDoneSlices forgets the catch-up slices that are done, oldest first, so the oldest left is the one the
// lag is measured by.
func (p *position) dropDoneSlices() {
	for len(p.Slices) > 0 && p.Slices[0].Done {
		p.Slices = p.Slices[1:]
	}
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func earlierOf(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// idHash turns an entry id into the fixed-size form the position keeps. 64 bits: a collision inside one
// window (tens of thousands of ids) has a chance of about 1 in 10^10.
func idHash(id string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= prime
	}
	return h
}

// errCorruptPosition marks a stored value that cannot be used; the stream starts afresh and says so.
var errCorruptPosition = errors.New("stored position is unreadable")

// positionStore keeps one stream's position: the header under key, each page record under key.seen.<seq>.
// The storage client is already scoped to this receiver's component ID, so two stackone receivers never
// share a position.
type positionStore struct {
	client storage.Client
	key    string
}

func (s *positionStore) pageKey(seq uint64) string {
	return s.key + ".seen." + strconv.FormatUint(seq, 10)
}

// storedHeader is the header as stored: version 2, or version 1's whole position.
type storedHeader struct {
	Version int `json:"version"`
	*position
	// version 1
	Watermark *time.Time       `json:"watermark,omitempty"`
	Seen      map[string]int64 `json:"seen,omitempty"`
}

// load returns nil, nil when nothing is stored. A read error is returned as is: it must not be taken for "no
// position", which would silently re-read the whole lookback.
func (s *positionStore) load(ctx context.Context) (*position, error) {
	raw, err := s.client.Get(ctx, s.key)
	if err != nil {
		return nil, fmt.Errorf("reading position %q from storage: %w", s.key, err)
	}
	if raw == nil {
		return nil, nil
	}
	h := storedHeader{position: &position{}}
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("%w: %q: %v", errCorruptPosition, s.key, err)
	}
	switch h.Version {
	case 1:
		return migrateV1(h, s.key)
	case positionVersion:
	default:
		return nil, fmt.Errorf("%w: %q has version %d, this receiver reads versions 1 and %d", errCorruptPosition, s.key, h.Version, positionVersion)
	}
	p := h.position
	if p.Frontier.IsZero() || p.SeenFirst > p.SeenNext {
		return nil, fmt.Errorf("%w: %q has no frontier or a bad page range", errCorruptPosition, s.key)
	}
	p.seen = newSeenSet()
	if p.SeenFirst == p.SeenNext {
		return p, nil
	}
	ops := make([]*storage.Operation, 0, p.SeenNext-p.SeenFirst)
	for seq := p.SeenFirst; seq < p.SeenNext; seq++ {
		ops = append(ops, storage.GetOperation(s.pageKey(seq)))
	}
	if err := s.client.Batch(ctx, ops...); err != nil {
		return nil, fmt.Errorf("reading position %q from storage: %w", s.key, err)
	}
	for i, op := range ops {
		if op.Value == nil {
			continue // pruned: pages age out in any order
		}
		pg, err := decodeSeenPage(op.Value)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v", errCorruptPosition, op.Key, err)
		}
		p.seen.add(p.SeenFirst+uint64(i), pg)
	}
	return p, nil
}

// migrateV1 keeps a version-1 position's meaning: the next read starts at watermark - window, and the ids
// it remembered are still recognised (they are written as one page record by the first save).
func migrateV1(h storedHeader, key string) (*position, error) {
	if h.Watermark == nil || h.Watermark.IsZero() {
		return nil, fmt.Errorf("%w: %q has no watermark", errCorruptPosition, key)
	}
	p := newPosition(*h.Watermark)
	p.Floor, p.Near, p.Far, p.LastSweep = time.Time{}, time.Time{}, time.Time{}, *h.Watermark
	ids := make([]uint64, 0, len(h.Seen))
	newest := int64(0)
	for id, ms := range h.Seen {
		ids = append(ids, idHash(id))
		newest = max(newest, ms)
	}
	p.addPage(ids, time.UnixMilli(newest))
	return p, nil
}

// save writes what changed since the last save in one batch and returns the bytes written.
func (s *positionStore) save(ctx context.Context, p *position) (int, error) {
	header, err := json.Marshal(storedHeader{Version: positionVersion, position: p})
	if err != nil {
		return 0, err
	}
	ops := make([]*storage.Operation, 0, 1+len(p.seen.dirty)+len(p.seen.gone))
	ops = append(ops, storage.SetOperation(s.key, header))
	n := len(header)
	for _, seq := range p.seen.dirty {
		if pg, ok := p.seen.pages[seq]; ok {
			v := encodeSeenPage(pg)
			ops = append(ops, storage.SetOperation(s.pageKey(seq), v))
			n += len(v)
		}
	}
	for _, seq := range p.seen.gone {
		ops = append(ops, storage.DeleteOperation(s.pageKey(seq)))
	}
	if err := s.client.Batch(ctx, ops...); err != nil {
		return 0, fmt.Errorf("saving position %q to storage: %w", s.key, err)
	}
	p.seen.dirty, p.seen.gone = p.seen.dirty[:0], p.seen.gone[:0]
	return n, nil
}

// A page record is the page's newest event time then its ids, 8 bytes each, little-endian.
func encodeSeenPage(pg *seenPage) []byte {
	b := make([]byte, 8+8*len(pg.ids))
	binary.LittleEndian.PutUint64(b, uint64(pg.newest))
	for i, id := range pg.ids {
		binary.LittleEndian.PutUint64(b[8+8*i:], id)
	}
	return b
}

func decodeSeenPage(b []byte) (*seenPage, error) {
	if len(b) < 8 || len(b)%8 != 0 {
		return nil, fmt.Errorf("page record of %d bytes", len(b))
	}
	pg := &seenPage{newest: int64(binary.LittleEndian.Uint64(b)), ids: make([]uint64, (len(b)-8)/8)}
	for i := range pg.ids {
		pg.ids[i] = binary.LittleEndian.Uint64(b[8+8*i:])
	}
	return pg, nil
}

// String summarises a position for log lines.
func (p *position) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "frontier %s", p.Frontier.Format(time.RFC3339))
	if n := len(p.Slices); n > 0 {
		fmt.Fprintf(&b, ", catching up in %d slices", n)
	}
	return b.String()
}
