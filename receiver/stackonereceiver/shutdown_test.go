package stackonereceiver

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
)

// countedGroups stands in for the receiver's goroutine groups: it knows how many of the receiver's goroutines
// are running, lets a test wait for all of them, and tells when the streams are being stopped (a run's group
// is waited for only by stopStreams; these tests read no backlog in slices).
type countedGroups struct {
	running  atomic.Int64
	all      sync.WaitGroup
	once     sync.Once
	stopping chan struct{}
}

func newCountedGroups() *countedGroups { return &countedGroups{stopping: make(chan struct{})} }

func (c *countedGroups) newGroup() group { return &countedGroup{c: c} }

type countedGroup struct {
	c  *countedGroups
	wg sync.WaitGroup
}

func (g *countedGroup) Go(f func()) {
	g.c.running.Add(1)
	g.c.all.Add(1)
	g.wg.Go(func() {
		defer g.c.all.Done()
		defer g.c.running.Add(-1)
		f()
	})
}

func (g *countedGroup) Wait() {
	g.c.once.Do(func() { close(g.c.stopping) })
	g.wg.Wait()
}

// watchedStorage is a file-backed test storage that records every call reaching one of its clients after that
// client's Close, and how many of the receiver's goroutines were still running at the first Close.
type watchedStorage struct {
	*storagetest.TestStorage
	groups *countedGroups
	closed chan struct{} // at the first Close

	mu             sync.Mutex
	once           sync.Once
	late           []string
	runningAtClose int64
}

type watchedClient struct {
	storage.Client
	s      *watchedStorage
	closed atomic.Bool
}

func watchStorage(w *world, groups *countedGroups) *watchedStorage {
	ws := &watchedStorage{TestStorage: storagetest.NewFileBackedStorageExtension("watched", w.t.TempDir()), groups: groups, closed: make(chan struct{})}
	w.storage = ws.ID
	w.host = &statusHost{Host: storagetest.NewStorageHost().WithExtension(ws.ID, ws)}
	return ws
}

func (s *watchedStorage) GetClient(ctx context.Context, kind component.Kind, id component.ID, name string) (storage.Client, error) {
	c, err := s.TestStorage.GetClient(ctx, kind, id, name)
	return &watchedClient{Client: c, s: s}, err
}

func (s *watchedStorage) lateCalls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.late...)
}

func (s *watchedStorage) runningWhenClosed() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runningAtClose
}

func (c *watchedClient) check(call string) {
	if c.closed.Load() {
		c.s.mu.Lock()
		c.s.late = append(c.s.late, call)
		c.s.mu.Unlock()
	}
}

func (c *watchedClient) Get(ctx context.Context, key string) ([]byte, error) {
	c.check("Get " + key)
	return c.Client.Get(ctx, key)
}

func (c *watchedClient) Set(ctx context.Context, key string, v []byte) error {
	c.check("Set " + key)
	return c.Client.Set(ctx, key, v)
}

func (c *watchedClient) Delete(ctx context.Context, key string) error {
	c.check("Delete " + key)
	return c.Client.Delete(ctx, key)
}

func (c *watchedClient) Batch(ctx context.Context, ops ...*storage.Operation) error {
	c.check("Batch")
	return c.Client.Batch(ctx, ops...)
}

func (c *watchedClient) Close(ctx context.Context) error {
	c.check("Close")
	c.s.once.Do(func() {
		c.s.mu.Lock()
		c.s.runningAtClose = c.s.groups.running.Load()
		c.s.mu.Unlock()
		close(c.s.closed)
	})
	c.closed.Store(true)
	return c.Client.Close(ctx)
}

// within fails the test when ch does not close in time: the bound only ends a test whose receiver hangs.
func within(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(electionTimeout):
		t.Fatalf("%s: not within %s", what, electionTimeout)
	}
}

// A Shutdown whose deadline has passed closes the storage while a stream is still inside a pipeline call that
// ignores its context. When that call returns at last, the stream's save must fail in the receiver, never
// reach the closed client (a storage extension need not survive a call after Close); the page is read again
// at the next start.
func TestShutdownPastTheDeadlineNeverWritesToClosedStorage(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	backlog := w.fake.GenerateRequestLogs(120, time.Now().Add(-30*time.Minute), 10*time.Second, 41)
	groups := newCountedGroups()
	ws := watchStorage(w, groups)
	sink := new(consumertest.LogsSink)
	inPipeline, release := make(chan struct{}), make(chan struct{})
	pages := 0
	stuck := consumerFunc(func(ctx context.Context, ld plog.Logs) error {
		if pages++; pages == 1 {
			return sink.ConsumeLogs(ctx, ld)
		}
		close(inPipeline)
		<-release // an exporter that ignores its context, and then finishes after all
		return nil
	})
	r := w.startWith(w.config(), stuck, func(rcv *stackoneReceiver) { rcv.newGroup = groups.newGroup })
	within(t, inPipeline, "the second page reaching the pipeline")
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the deadline has passed
	require.ErrorIs(t, r.rcv.Shutdown(ctx), context.Canceled)
	close(release)
	groups.all.Wait() // the stream finished its page, after Close
	assert.Empty(t, ws.lateCalls(), "nothing reached the storage after Close")

	again := new(consumertest.LogsSink)
	r2 := w.start(w.config(), again)
	r2.awaitPoll()
	r2.stop()
	requireExactlyOnce(t, idsOf(backlog, "request_id"), append(ids(sink), ids(again)...))
}

// Past the deadline the pipeline calls are cancelled, and the streams unwind as they see it: Shutdown waits for
// them (for abandonGrace at most) before it closes the storage, so a page its exporter finished as it was
// cancelled is saved and not read again.
func TestShutdownPastTheDeadlineWaitsForTheStreamsBeforeClosingStorage(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	backlog := w.fake.GenerateRequestLogs(120, time.Now().Add(-30*time.Minute), 10*time.Second, 42)
	groups := newCountedGroups()
	ws := watchStorage(w, groups)
	graceStarted, testDone := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(testDone) })
	var graceOnce sync.Once
	w.waitHook = func(ctx context.Context, d time.Duration) error {
		if d != abandonGrace {
			return ctx.Err()
		}
		graceOnce.Do(func() { close(graceStarted) })
		select {
		case <-ctx.Done(): // the streams have returned
			return ctx.Err()
		case <-testDone:
			return nil
		}
	}
	sink := new(consumertest.LogsSink)
	inPipeline := make(chan struct{})
	pages := 0
	cancelled := consumerFunc(func(ctx context.Context, ld plog.Logs) error {
		if pages++; pages == 2 {
			close(inPipeline)
			<-ctx.Done() // Shutdown's deadline passed: the pipeline call is cancelled
			// The exporter finishes the page as it stops; the stream sees the answer once Shutdown waits for it.
			select {
			case <-graceStarted:
			case <-testDone:
			}
		}
		return sink.ConsumeLogs(ctx, ld)
	})
	r := w.startWith(w.config(), cancelled, func(rcv *stackoneReceiver) { rcv.newGroup = groups.newGroup })
	within(t, inPipeline, "the second page reaching the pipeline")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, r.rcv.Shutdown(ctx), context.Canceled)
	require.Zero(t, ws.runningWhenClosed(), "the storage was closed under a running stream")
	assert.Empty(t, ws.lateCalls())

	again := new(consumertest.LogsSink)
	r2 := w.start(w.config(), again)
	r2.awaitPoll()
	r2.stop()
	requireExactlyOnce(t, idsOf(backlog, "request_id"), append(ids(sink), ids(again)...))
}

// postWebhook sends one signed delivery and reports its status (0 when the request failed), without the
// test's helpers, which may not fail the test from another goroutine.
func postWebhook(url string, body []byte) int {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(stackonefake.SignatureHeader, stackonefake.SignWebhook(hookSecret, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// A webhook delivery stuck in the pipeline until the deadline must not take the streams' share of it: the
// webhook and the streams stop side by side, so a stream's page in flight completes and is saved, and only
// the webhook's delivery is cut off at the deadline.
func TestShutdownStopsTheWebhookAndTheStreamsTogether(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	backlog := w.fake.GenerateRequestLogs(120, time.Now().Add(-30*time.Minute), 10*time.Second, 43)
	groups := newCountedGroups()
	ws := watchStorage(w, groups)
	sink := new(consumertest.LogsSink)
	pageInPipeline, releasePage := make(chan struct{}), make(chan struct{})
	hookInPipeline, testDone := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(testDone) })
	pages := 0
	next := consumerFunc(func(ctx context.Context, ld plog.Logs) error {
		if len(logIDs(ld)) == 0 { // the webhook's event
			close(hookInPipeline)
			<-testDone // an exporter that ignores its context
			return nil
		}
		if pages++; pages == 2 {
			close(pageInPipeline)
			<-releasePage
		}
		return sink.ConsumeLogs(ctx, ld)
	})
	cfg := w.webhookConfig()
	r := w.startWith(cfg, next, func(rcv *stackoneReceiver) { rcv.newGroup = groups.newGroup })
	within(t, pageInPipeline, "the second page reaching the pipeline")
	go postWebhook("http://"+r.rcv.webhook.addr()+cfg.Webhook.Path, accountEvent("account.created"))
	within(t, hookInPipeline, "the webhook's delivery reaching the pipeline")

	ctx, deadline := context.WithCancel(context.Background())
	defer deadline()
	shutdown := make(chan error, 1)
	go func() { shutdown <- r.rcv.Shutdown(ctx) }()
	within(t, groups.stopping, "the streams being stopped while the webhook's delivery is still in flight")
	close(releasePage)
	within(t, ws.closed, "the streams stopping and closing the storage")
	deadline() // only now, with the streams done, does the deadline pass
	err := <-shutdown
	require.ErrorContains(t, err, "webhook deliveries were still in flight")
	assert.NotContains(t, err.Error(), "still in the pipeline", "the stream's page completed")
	assert.Zero(t, ws.runningWhenClosed())

	again := new(consumertest.LogsSink)
	r2 := w.start(w.config(), again)
	r2.awaitPoll()
	r2.stop()
	requireExactlyOnce(t, idsOf(backlog, "request_id"), append(ids(sink), ids(again)...))
}

// A standby that is shutting down must leave the election at once. Held in Shutdown by a webhook delivery, one
// that campaigned on would take the lease as soon as it came free, claim the position, fail to start its streams
// (it is stopping), release the lease and campaign again at once: hundreds of Kubernetes writes a second.
func TestHAStandbyShuttingDownLeavesTheElection(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	k := newFakeKube()
	w.fake.GenerateRequestLogs(20, time.Now().Add(-20*time.Minute), 10*time.Second, 44)
	a := w.startHA(k, new(consumertest.LogsSink))
	a.awaitPoll()

	hookInPipeline, testDone := make(chan struct{}), make(chan struct{})
	release := sync.OnceFunc(func() { close(testDone) })
	t.Cleanup(release)
	stuck := consumerFunc(func(context.Context, plog.Logs) error {
		close(hookInPipeline)
		<-testDone
		return nil
	})
	cfg := w.haConfig()
	cfg.Webhook.Enabled = true
	cfg.Webhook.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.Webhook.Secrets = w.webhookConfig().Webhook.Secrets
	b := w.startWith(cfg, stuck, func(rcv *stackoneReceiver) {
		rcv.newKubeAPI = func(*LeaderElectionConfig, string) (kubeAPI, error) { return k.api(), nil }
	})
	require.False(t, b.rcv.leading.Load(), "b stands by")
	go postWebhook("http://"+b.rcv.webhook.addr()+cfg.Webhook.Path, accountEvent("account.created"))
	within(t, hookInPipeline, "the webhook's delivery reaching b's pipeline")

	// Every write to the Kubernetes API from here on is b's: a has stopped.
	var aStopped atomic.Bool
	var writes atomic.Int64
	wrote := make(chan struct{}, 1)
	k.failWith(func(act k8stesting.Action) (bool, runtime.Object, error) {
		if aStopped.Load() && (act.GetVerb() == "create" || act.GetVerb() == "update") {
			writes.Add(1)
			select {
			case wrote <- struct{}{}:
			default:
			}
		}
		return false, nil, nil
	})
	webhookStopping := make(chan struct{})
	b.rcv.webhook.srv.RegisterOnShutdown(func() { close(webhookStopping) })
	shutdown := make(chan error, 1)
	go func() { shutdown <- b.rcv.Shutdown(context.Background()) }()
	within(t, webhookStopping, "b's Shutdown reaching its webhook")
	a.stop() // the lease is free
	aStopped.Store(true)

	select {
	case <-b.rcv.electionDone:
	case <-wrote:
		t.Errorf("b, shutting down, wrote to the Kubernetes API: it campaigned for the lease it had no use for")
	case <-time.After(electionTimeout):
		t.Fatal("b's election did not end")
	}
	release()
	require.NoError(t, <-shutdown)
	assert.Zero(t, writes.Load(), "Kubernetes writes by b after it began shutting down")
	assert.Empty(t, holder(t, k), "nobody holds the lease")
}
