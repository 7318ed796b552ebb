package stackonefake

import (
	"hash/fnv"
	"math"
)

// RepeatBoundaries makes the server answer a share rate (0 to 1) of continued
// reads with the entry it ended the previous read on, as an API whose paging
// bound is sometimes inclusive does:
//   - on the cursor streams, a page asked for with `next` starts with the entry
//     the cursor points at (the last entry of the page before) and holds
//     page_size-1 new ones, so nothing is skipped;
//   - on /logs/actions, a query with a start_time also holds the newest entry
//     before start_time, counted in its total, on every one of its pages: a
//     reader that pages by time (each page from the last event time it read)
//     meets an entry it has already had.
//
// Which reads repeat is a function of the position (the cursor's entry, the
// query's bounds), not of call order: a retried read gets the same answer and
// the pages of one action query agree on their set, so offsets never skip.
// 0 turns it off.
func (s *Server) RepeatBoundaries(rate float64) {
	s.mu.Lock()
	s.repeatRate = min(max(rate, 0), 1)
	s.mu.Unlock()
}

// BoundaryRepeats is how many answers so far carried a repeated boundary entry.
func (s *Server) BoundaryRepeats() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.boundaryRepeats
}

// repeatDueLocked decides whether the read at this position repeats its
// boundary; s.mu must be held.
func (s *Server) repeatDueLocked(position ...string) bool {
	if s.repeatRate <= 0 {
		return false
	}
	if s.repeatRate >= 1 {
		return true
	}
	h := fnv.New64a()
	for _, p := range position {
		_, _ = h.Write([]byte(p))
		_, _ = h.Write([]byte{0})
	}
	// FNV alone leaves the high bits of near-identical positions alike; the
	// murmur3 finaliser spreads them before they are compared with the rate.
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return float64(x) < s.repeatRate*math.MaxUint64
}
