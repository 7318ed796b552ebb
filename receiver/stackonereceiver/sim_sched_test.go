package stackonereceiver

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"time"
)

// simSched runs the simulated world deterministically, in the manner of FoundationDB's and TigerBeetle's
// simulators: one goroutine at a time, on a fake clock, the next one to run drawn from a seeded source. Every
// place the receiver blocks goes through it (waits of every kind, HTTP calls, pipeline calls, goroutine
// groups), so a seed fixes the whole run: the interleaving of catch-up workers, which call fails, where the
// process crashes. Storage calls do not switch goroutines: the receiver makes them holding its stream lock.
type simSched struct {
	rng *rand.Rand

	mu      sync.Mutex
	now     time.Time
	parked  []*simProc
	running *simProc
	procs   int
	// horizon is how far the clock may go before control returns to the driver; stop asks for control at
	// the next switch (a crash decided inside a storage call).
	horizon time.Time
	stop    bool
	driver  chan struct{}
	steps   uint64
	panics  []string
}

// simProc is one goroutine of the simulated receiver.
type simProc struct {
	wake  chan struct{}
	inc   *simIncarnation
	group *simGroup
	// What it waits for: the clock to reach until (timed), its context to end, or a group to empty.
	timed bool
	until time.Time
	ctx   context.Context
	join  *simGroup
}

func newSimSched(seed uint64, start time.Time) *simSched {
	return &simSched{rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), now: start, driver: make(chan struct{}, 1)}
}

func (p *simProc) ready(now time.Time) bool {
	switch {
	case p.join != nil:
		return p.join.n == 0
	case p.ctx != nil && p.ctx.Err() != nil:
		return true
	case p.timed:
		return !now.Before(p.until)
	}
	return true
}

// current is the goroutine running now; simulated calls come only from it.
func (s *simSched) current() *simProc {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running == nil {
		panic("sim: a simulated call from outside the simulation (the driver, or a goroutine it does not know)")
	}
	return s.running
}

func (s *simSched) clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// intn and float draw from the run's source; only the running goroutine or the driver call them.
func (s *simSched) intn(n int) int { return s.rng.IntN(n) }
func (s *simSched) chance(p float64) bool {
	return p > 0 && s.rng.Float64() < p
}

// park hands control to the next goroutine and returns when p is chosen again.
func (s *simSched) park(p *simProc) {
	s.mu.Lock()
	s.parked = append(s.parked, p)
	s.running = nil
	s.switchLocked()
	s.mu.Unlock()
	<-p.wake
}

// switchLocked chooses who runs next: a ready goroutine at random, else the clock moves to the earliest timed
// wait; control goes back to the driver at the horizon, when asked to stop, or when nothing can run.
func (s *simSched) switchLocked() {
	s.steps++
	for {
		if s.stop {
			s.stop = false
			s.driver <- struct{}{}
			return
		}
		var ready []int
		for i, p := range s.parked {
			if p.ready(s.now) {
				ready = append(ready, i)
			}
		}
		if len(ready) > 0 {
			i := ready[s.rng.IntN(len(ready))]
			p := s.parked[i]
			s.parked = slices.Delete(s.parked, i, i+1)
			s.running = p
			p.wake <- struct{}{}
			return
		}
		var next time.Time
		for _, p := range s.parked {
			if p.timed && p.join == nil && (next.IsZero() || p.until.Before(next)) {
				next = p.until
			}
		}
		if next.IsZero() || next.After(s.horizon) {
			s.now = laterOf(s.now, s.horizon)
			s.driver <- struct{}{}
			return
		}
		s.now = next
	}
}

// wait is the simulated clock's sleep: every back-off, Retry-After pause, poll interval and budget wait.
func (s *simSched) wait(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := s.current()
	p.timed, p.until, p.ctx = true, s.clock().Add(max(d, 0)), ctx
	s.park(p)
	p.timed, p.ctx = false, nil
	return ctx.Err()
}

// run gives control to the simulation until the clock reaches horizon or it stops by itself. A goroutine that
// blocks on something the simulation does not know would hang it: the watchdog fails the run instead.
func (s *simSched) run(horizon time.Time) error {
	s.mu.Lock()
	s.horizon = horizon
	if s.running != nil {
		s.mu.Unlock()
		return fmt.Errorf("sim: run while a goroutine is running")
	}
	s.switchLocked()
	s.mu.Unlock()
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	last := uint64(0)
	for {
		select {
		case <-s.driver:
			return nil
		case <-tick.C:
			s.mu.Lock()
			steps := s.steps
			s.mu.Unlock()
			if steps == last {
				buf := make([]byte, 1<<20)
				return fmt.Errorf("sim: no goroutine reached a simulated call for 10s of real time: one is blocked outside the simulation\n%s", buf[:runtime.Stack(buf, true)])
			}
			last = steps
		}
	}
}

// alive counts the goroutines of inc that have not ended.
func (s *simSched) alive(inc *simIncarnation) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	if s.running != nil && s.running.inc == inc {
		n++
	}
	for _, p := range s.parked {
		if p.inc == inc {
			n++
		}
	}
	return n
}

// simGroup is the receiver's goroutine group inside the simulation: Go starts a goroutine that waits for its
// turn, Wait parks the caller until every goroutine of the group has ended.
type simGroup struct {
	s   *simSched
	inc *simIncarnation
	n   int
}

func (g *simGroup) Go(f func()) {
	p := &simProc{wake: make(chan struct{}, 1), inc: g.inc, group: g}
	g.s.mu.Lock()
	g.n++
	g.s.procs++
	g.s.parked = append(g.s.parked, p)
	g.s.mu.Unlock()
	go func() {
		<-p.wake
		defer g.s.exit(p)
		defer func() {
			if v := recover(); v != nil {
				buf := make([]byte, 64<<10)
				g.s.mu.Lock()
				g.s.panics = append(g.s.panics, fmt.Sprintf("%v\n%s", v, buf[:runtime.Stack(buf, false)]))
				g.s.mu.Unlock()
			}
		}()
		f()
	}()
}

func (g *simGroup) Wait() {
	p := g.s.current()
	p.join = g
	g.s.park(p)
	p.join = nil
}

func (s *simSched) exit(p *simProc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p.group.n--
	s.procs--
	s.running = nil
	s.switchLocked()
}
