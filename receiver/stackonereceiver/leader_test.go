package stackonereceiver

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/stackone-otel/otelcol-stackone/internal/kubefake"
)

// client-go's election runs on real time, so these tests use short leases and wait on conditions with
// deadlines far longer than any lease; nothing asserts how long a step took.
const electionTimeout = 30 * time.Second

// events is what the contenders of a test did, in one order: who started and stopped leading.
type events struct {
	mu   sync.Mutex
	seq  []string
	note chan struct{}
}

func newEvents() *events { return &events{note: make(chan struct{}, 100)} }

func (e *events) add(s string) {
	e.mu.Lock()
	e.seq = append(e.seq, s)
	e.mu.Unlock()
	e.note <- struct{}{}
}

func (e *events) all() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.seq...)
}

// await waits until the sequence holds want.
func (e *events) await(t *testing.T, want string) {
	t.Helper()
	e.awaitFunc(t, want, func(seq []string) bool { return slices.Contains(seq, want) })
}

func (e *events) awaitFunc(t *testing.T, want string, done func([]string) bool) {
	t.Helper()
	deadline := time.After(electionTimeout)
	for {
		if done(e.all()) {
			return
		}
		select {
		case <-e.note:
		case <-deadline:
			t.Fatalf("no %q within %s; events: %v", want, electionTimeout, e.all())
		}
	}
}

// partitionedLock cuts a candidate off the API: every call fails while down is set.
type partitionedLock struct {
	resourcelock.Interface
	down atomic.Bool
}

var errPartitioned = errors.New("connection refused")

func (l *partitionedLock) Get(ctx context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	if l.down.Load() {
		return nil, nil, errPartitioned
	}
	return l.Interface.Get(ctx)
}

func (l *partitionedLock) Create(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	if l.down.Load() {
		return errPartitioned
	}
	return l.Interface.Create(ctx, r)
}

func (l *partitionedLock) Update(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	if l.down.Load() {
		return errPartitioned
	}
	return l.Interface.Update(ctx, r)
}

type contender struct {
	lock   *partitionedLock
	cancel context.CancelFunc
	done   chan struct{}
	errs   atomic.Int64 // API failures reported
}

// campaign runs one candidate for the lease "lock" until stopped; lead records start and stop.
func campaign(t *testing.T, k *fakeKube, cfg LeaderElectionConfig, name string, ev *events) *contender {
	t.Helper()
	c := &contender{done: make(chan struct{})}
	report := func(err error) {
		if err != nil {
			c.errs.Add(1)
		}
	}
	// Cut off below the observed lock, as a network partition is.
	observed := newLeaseLock(k.api(), testNamespace, "lock", name, report)
	c.lock = &partitionedLock{Interface: observed.Interface}
	observed.Interface = c.lock
	e := &election{cfg: cfg, lock: observed, identity: name, log: zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)),
		lead: func(ctx context.Context, _ func()) {
			ev.add(name + " leads")
			<-ctx.Done()
			ev.add(name + " stops")
		},
	}
	c.start(e)
	t.Cleanup(c.stop)
	return c
}

// start runs the election until stop.
func (c *contender) start(e *election) {
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() {
		defer close(c.done)
		e.run(ctx)
	}()
}

// stop leaves the election gracefully: the lease is released on the way out.
func (c *contender) stop() {
	c.cancel()
	<-c.done
}

func holder(t *testing.T, k *fakeKube) string {
	t.Helper()
	l, err := k.CoordinationV1().Leases(testNamespace).Get(context.Background(), "lock", metav1.GetOptions{})
	require.NoError(t, err)
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

func electionConfig(lease, renew, retry time.Duration) LeaderElectionConfig {
	return LeaderElectionConfig{AuthType: authServiceAccount, LeaseName: "lock", LeaseNamespace: testNamespace,
		LeaseDuration: lease, RenewDeadline: renew, RetryPeriod: retry}
}

// TestElectionGracefulHandover: of two candidates one leads; the other takes over once the first leaves. The
// lease is longer than the test waits: only a released lease can be taken in time.
func TestElectionGracefulHandover(t *testing.T) {
	k := newFakeKube()
	ev := newEvents()
	cfg := electionConfig(2*electionTimeout, 5*time.Second, 100*time.Millisecond)
	a := campaign(t, k, cfg, "a", ev)
	ev.await(t, "a leads")
	b := campaign(t, k, cfg, "b", ev)
	require.Equal(t, "a", holder(t, k))

	a.stop()
	ev.await(t, "b leads")
	require.Equal(t, []string{"a leads", "a stops", "b leads"}, ev.all(), "b never led while a did")
	require.Equal(t, "b", holder(t, k))
	b.stop()
	require.Zero(t, a.errs.Load()+b.errs.Load(), "no API failure was reported")
}

// TestElectionTakeoverAfterLeaderStopsRenewing: a leader cut off from the API cannot renew; it stops leading
// within renew_deadline, and the standby takes over only after the lease has expired, so the two never lead
// at once. The cut-off candidate reports the failures.
func TestElectionTakeoverAfterLeaderStopsRenewing(t *testing.T) {
	k := newFakeKube()
	ev := newEvents()
	cfg := electionConfig(2*time.Second, time.Second, 200*time.Millisecond)
	a := campaign(t, k, cfg, "a", ev)
	ev.await(t, "a leads")
	campaign(t, k, cfg, "b", ev)

	a.lock.down.Store(true)
	ev.await(t, "b leads")
	require.Equal(t, []string{"a leads", "a stops", "b leads"}, ev.all(), "a stopped before b took over")
	require.Positive(t, a.errs.Load(), "the failed renewals were reported")
	require.Equal(t, "b", holder(t, k))

	// Back on the network, a stands by: it never leads while b renews.
	a.lock.down.Store(false)
	a.stop()
	require.Equal(t, []string{"a leads", "a stops", "b leads"}, ev.all())
}

// TestElectionEndTerm: a leader that ends its term (its position was claimed by another replica) releases the lease
// and campaigns again: the other candidate leads, and this one stands by.
func TestElectionEndTerm(t *testing.T) {
	k := newFakeKube()
	ev := newEvents()
	cfg := electionConfig(2*electionTimeout, 5*time.Second, 100*time.Millisecond)
	var endTerm atomic.Pointer[func()]
	c := &contender{done: make(chan struct{})}
	c.lock = &partitionedLock{Interface: newLeaseLock(k.api(), testNamespace, "lock", "a", func(error) {})}
	e := &election{cfg: cfg, lock: c.lock, identity: "a", log: zaptest.NewLogger(t),
		lead: func(ctx context.Context, g func()) {
			endTerm.Store(&g)
			ev.add("a leads")
			<-ctx.Done()
			ev.add("a stops")
		},
	}
	c.start(e)
	defer c.stop()
	ev.await(t, "a leads")
	campaign(t, k, cfg, "b", ev)
	(*endTerm.Load())()
	// a may win the released lease again before b's next try; either way one leads at a time.
	ev.awaitFunc(t, "a new leader", func(seq []string) bool { return len(seq) >= 3 })
	seq := ev.all()
	require.Equal(t, []string{"a leads", "a stops"}, seq[:2])
	require.Contains(t, []string{"a leads", "b leads"}, seq[2])
	require.Equal(t, strings.TrimSuffix(seq[2], " leads"), holder(t, k))
}

// TestElectionEndsOnceStopping: a replica that is shutting down cannot lead; its lead returns at once. The
// campaign must end there, not take the released lease again and again (client-go's first try does not wait
// for retry_period), even though nothing has cancelled the election yet.
func TestElectionEndsOnceStopping(t *testing.T) {
	k := newFakeKube()
	var stopping atomic.Bool
	terms := atomic.Int64{}
	e := &election{cfg: electionConfig(2*electionTimeout, 5*time.Second, 100*time.Millisecond),
		lock: newLeaseLock(k.api(), testNamespace, "lock", "a", func(error) {}), identity: "a", log: zaptest.NewLogger(t),
		lead: func(context.Context, func()) {
			terms.Add(1)
			stopping.Store(true) // Shutdown began while the lease was being taken
		},
		stopping: stopping.Load,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.run(context.Background())
	}()
	select {
	case <-done:
	case <-time.After(electionTimeout):
		t.Fatalf("the campaign went on after %d terms", terms.Load())
	}
	assert.Equal(t, int64(1), terms.Load())
	assert.Empty(t, holder(t, k), "the lease was released")
}

func TestDefaultLeaseName(t *testing.T) {
	for id, want := range map[string]string{
		"stackone":         "otelcol-stackone-stackone",
		"stackone/eu":      "otelcol-stackone-stackone-eu",
		"stackone/EU_prod": "otelcol-stackone-stackone-eu-prod",
	} {
		var cid component.ID
		require.NoError(t, cid.UnmarshalText([]byte(id)))
		got := defaultLeaseName(cid)
		assert.Equal(t, want, got, id)
		assert.Regexp(t, dnsSubdomain, got)
	}
}

// TestNewKubeAPI: auth_type kubeConfig reads KUBECONFIG and the context's namespace, and talks to the API
// server it names; serviceAccount outside a pod says what to use instead.
func TestNewKubeAPI(t *testing.T) {
	fake := kubefake.New()
	srv := httptest.NewTLSServer(fake)
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, kubefake.WriteKubeconfig(path, srv, "unit-test", "team-logs"))
	t.Setenv("KUBECONFIG", path)
	api, err := newKubeAPI(&LeaderElectionConfig{AuthType: authKubeConfig}, "test-agent")
	require.NoError(t, err)
	require.Equal(t, "team-logs", api.namespace)
	_, err = claimConfigMap(context.Background(), api.configMaps.ConfigMaps(api.namespace), "p", "me", nil)
	require.NoError(t, err)
	require.Equal(t, "me", fake.ConfigMap("team-logs", "p").Annotations[holderAnnotation])
	require.Equal(t, "unit-test", fake.Calls()[0].Token)

	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	_, err = newKubeAPI(&LeaderElectionConfig{AuthType: authServiceAccount}, "test-agent")
	require.ErrorContains(t, err, "use auth_type kubeConfig outside Kubernetes")
}

// manualClock is a clock that moves only when the test says: the leader's own measure of its term, while
// client-go's renewals run on real time.
type manualClock struct {
	mu    sync.Mutex
	at    time.Time
	moved chan struct{} // closed and replaced on every move
}

func newManualClock() *manualClock {
	return &manualClock{at: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), moved: make(chan struct{})}
}

func (c *manualClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = c.at.Add(d)
	close(c.moved)
	c.moved = make(chan struct{})
}

// wait returns once the clock has moved d on, or ctx ends.
func (c *manualClock) wait(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	until := c.at.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		at, moved := c.at, c.moved
		c.mu.Unlock()
		if !at.Before(until) {
			return nil
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// TestElectionLeaderStopsOnItsOwnClock: a leader cut off from the API stops leading once renew_deadline has
// passed on its own clock since its last renewal, however long client-go's renewals would go on trying. Here
// client-go's renewals (on real time) would go on for far longer than the test waits, so only the leader's own
// clock can end the term.
func TestElectionLeaderStopsOnItsOwnClock(t *testing.T) {
	k := newFakeKube()
	ev := newEvents()
	clock := newManualClock()
	renew := 2 * electionTimeout
	cfg := electionConfig(2*renew, renew, 100*time.Millisecond)
	c := &contender{done: make(chan struct{})}
	c.lock = &partitionedLock{Interface: newLeaseLock(k.api(), testNamespace, "lock", "a", func(error) {})}
	e := &election{cfg: cfg, lock: c.lock, identity: "a", log: zaptest.NewLogger(t), now: clock.now, wait: clock.wait,
		lead: func(ctx context.Context, _ func()) {
			ev.add("a leads")
			<-ctx.Done()
			ev.add("a stops")
		},
	}
	c.start(e)
	defer c.stop()
	ev.await(t, "a leads")

	c.lock.down.Store(true)
	// A renewal sent before the cut may still land: it was sent no later than now, so the deadline counts from
	// no later than now.
	clock.advance(renew)
	ev.await(t, "a stops")
	require.Equal(t, []string{"a leads", "a stops"}, ev.all()[:2])
}
