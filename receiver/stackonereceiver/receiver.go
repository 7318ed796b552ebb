package stackonereceiver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/metadata"
	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/stackoneapi"
)

// stackoneReceiver owns the collector lifecycle: it builds the client, opens the position store, and runs one
// goroutine per enabled stream until shutdown. Everything a stream needs is handed to it here.
type stackoneReceiver struct {
	cfg       *Config
	settings  receiver.Settings
	next      consumer.Logs
	obsrecv   *receiverhelper.ObsReport
	telemetry *metadata.TelemetryBuilder
	// sampled carries per-request and per-entry warnings: one line per message and minute, so a bad page
	// or an outage cannot flood the collector's log.
	sampled *zap.Logger
	mapper  *mapper
	health  *health

	// now, wait (retry back-off, Retry-After pauses, the grace past the shutdown deadline) and waitPoll (between
	// polls) are the receiver's clock.
	// Tests swap the waits to record delays and to step polls one at a time, without sleeping.
	now      func() time.Time
	wait     func(ctx context.Context, d time.Duration) error
	waitPoll func(ctx context.Context, d time.Duration) error
	// catchUpAfter is a seam too: most tests read a small backlog in one query.
	catchUpAfter time.Duration
	// budgetClock and budgetSleep measure the request budget; real time even when tests skip the other waits.
	budgetClock func() time.Time
	budgetSleep func(ctx context.Context, d time.Duration) error
	// withTimeout bounds a page's detail calls; the simulation runs it on its own clock.
	withTimeout func(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc)
	// newGroup starts and joins the receiver's goroutines, and httpClient, when set, replaces the one built
	// from the configuration: the simulation test runs every goroutine one at a time on its own transport.
	newGroup   func() group
	httpClient *http.Client

	streams []*stream
	// abandon cancels the pipeline calls in flight: only when the shutdown deadline has passed.
	abandon context.CancelFunc
	webhook *webhookServer // nil unless webhook.enabled

	// mu guards the streams' current run: nil while they are stopped (a standby), and stopping, set by
	// Shutdown, after which no run starts.
	mu       sync.Mutex
	running  *streamRun
	stopping bool
	// leading is 1 while this replica polls: always without leader_election, while it holds the lease with it.
	leading atomic.Bool

	// With leader_election: the campaign, and a seam for tests to hand in a fake Kubernetes API.
	newKubeAPI    func(cfg *LeaderElectionConfig, userAgent string) (kubeAPI, error)
	stopElection  context.CancelFunc
	electionDone  chan struct{}
	electionState *streamHealth
}

// streamRun is one start of the streams, on one position store, until stopStreams.
type streamRun struct {
	storage storage.Client
	cancel  context.CancelFunc
	group   group
}

// group runs goroutines and waits for them; *sync.WaitGroup is one.
type group interface {
	Go(f func())
	Wait()
}

func newWaitGroup() group { return new(sync.WaitGroup) }

func newReceiver(cfg *Config, set receiver.Settings, next consumer.Logs) (*stackoneReceiver, error) {
	obsrecv, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID:             set.ID,
		Transport:              "http",
		LongLivedCtx:           true,
		ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &stackoneReceiver{
		cfg:       cfg,
		settings:  set,
		next:      next,
		obsrecv:   obsrecv,
		telemetry: tb,
		sampled: set.Logger.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
			return zapcore.NewSamplerWithOptions(c, time.Minute, 1, 0)
		})),
		mapper:       newMapperWith(cfg.Redaction, mappingSettings{maxNested: cfg.MaxNestedSize, original: cfg.LogRecordOriginal}, set.BuildInfo.Version),
		now:          time.Now,
		wait:         sleepCtx,
		waitPoll:     sleepCtx,
		catchUpAfter: defaultCatchUpAfter,
		budgetClock:  time.Now,
		budgetSleep:  sleepCtx,
		withTimeout:  context.WithTimeout,
		newGroup:     newWaitGroup,
		newKubeAPI:   newKubeAPI,
	}, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Start builds the client and the streams. Without leader_election it opens the storage and starts polling;
// with it, it joins the election and polls only while it holds the lease (see leader.go).
func (r *stackoneReceiver) Start(ctx context.Context, host component.Host) error {
	httpClient := r.httpClient
	if httpClient == nil {
		var err error
		if httpClient, err = r.clientConfig().ToClient(ctx, host.GetExtensions(), r.settings.TelemetrySettings); err != nil {
			return fmt.Errorf("stackone: building HTTP client: %w", err)
		}
	}
	// Requests are paced by the receiver (pacer.go), which sees every stream's calls.
	client, err := stackoneapi.NewClient(httpClient, r.cfg.Endpoint, string(r.cfg.APIKey), userAgent(), stackoneapi.WithMaxResponseSize(r.cfg.MaxResponseSize))
	if err != nil {
		return fmt.Errorf("stackone: %w", err)
	}
	consumeCtx, abandon := context.WithCancel(context.Background())
	r.abandon = abandon
	r.streams = r.newStreams(client, consumeCtx)
	r.health = newHealth(len(r.streams))
	r.health.host = host
	for _, s := range r.streams {
		s.health = &streamHealth{name: s.name, health: r.health}
	}
	if err := r.registerGauges(); err != nil {
		return err
	}
	// The webhook runs on every replica: each delivery reaches one pod, leader or not.
	if le := r.cfg.LeaderElection.Get(); le != nil {
		if err := r.startElection(le); err != nil {
			return err
		}
		return r.startWebhook(ctx, host)
	}
	store, err := r.openStorage(ctx, host)
	if err != nil {
		return err
	}
	r.leading.Store(true)
	if err := r.startStreams(context.Background(), store); err != nil {
		return err
	}
	return r.startWebhook(ctx, host)
}

var errStopping = errors.New("the receiver is shutting down")

func (r *stackoneReceiver) isStopping() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopping
}

// startStreams runs every stream on store until stopStreams, or until ctx ends.
func (r *stackoneReceiver) startStreams(ctx context.Context, store storage.Client) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopping {
		return errStopping
	}
	runCtx, cancel := context.WithCancel(ctx)
	guarded := &closeGuard{client: store}
	run := &streamRun{storage: guarded, cancel: cancel, group: r.newGroup()}
	for _, s := range r.streams {
		s.store.client = guarded
		s.dirty = false
		s.unsaved.Store(false)
		run.group.Go(func() { s.run(runCtx) })
	}
	r.running = run
	return nil
}

// stopStreams stops every stream between pages, saves, and closes the store. A page already handed to the
// pipeline completes and is saved, unless ctx's deadline passes first: then the pipeline call is cancelled
// and the position stays at the last accepted page. The store is closed once the streams have returned, or
// abandonGrace after the deadline; a stream still running then finds it closed (closeGuard).
func (r *stackoneReceiver) stopStreams(ctx context.Context) error {
	r.mu.Lock()
	run := r.running
	r.running = nil
	r.mu.Unlock()
	if run == nil {
		return nil
	}
	run.cancel()
	done := make(chan struct{})
	go func() {
		run.group.Wait()
		close(done)
	}()
	var errs []error
	select {
	case <-done:
		for _, s := range r.streams {
			errs = append(errs, s.saveFinal(ctx))
		}
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("stackone: a page was still in the pipeline when the shutdown deadline passed; it will be read again at the next start: %w", ctx.Err()))
		r.abandon() // past the deadline, a pipeline call still running is cancelled
		r.awaitAbandoned(done)
	}
	errs = append(errs, run.storage.Close(context.WithoutCancel(ctx)))
	return errors.Join(errs...)
}

// abandonGrace is how long past the shutdown deadline the streams get to return once their pipeline calls
// are cancelled. A pipeline that honours the cancellation returns at once, and its stream with it; waiting
// for it keeps the storage from closing under a stream that is about to save. One that ignores it is not
// waited for longer than this.
const abandonGrace = time.Second

// awaitAbandoned waits until done is closed, or for abandonGrace at most.
func (r *stackoneReceiver) awaitAbandoned(done <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-done:
			cancel()
		case <-ctx.Done():
		}
	}()
	_ = r.wait(ctx, abandonGrace)
}

// errStorageClosed is what a stream's save gets once its storage is closed: past the shutdown deadline, after a
// pipeline call that ignored its cancellation. That page's position is not saved; it is read again at the next start.
var errStorageClosed = errors.New("the storage is already closed: the shutdown deadline has passed")

// closeGuard keeps the streams off their storage client once it is closed: a storage extension need not
// survive a call after Close. A call already running when Close comes finishes first.
type closeGuard struct {
	client storage.Client
	mu     sync.RWMutex
	closed bool
}

// do calls the client unless it is closed.
func (g *closeGuard) do(call func() error) error {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.closed {
		return errStorageClosed
	}
	return call()
}

func (g *closeGuard) Get(ctx context.Context, key string) (value []byte, err error) {
	err = g.do(func() (err error) {
		value, err = g.client.Get(ctx, key)
		return err
	})
	return value, err
}

func (g *closeGuard) Set(ctx context.Context, key string, value []byte) error {
	return g.do(func() error { return g.client.Set(ctx, key, value) })
}

func (g *closeGuard) Delete(ctx context.Context, key string) error {
	return g.do(func() error { return g.client.Delete(ctx, key) })
}

func (g *closeGuard) Batch(ctx context.Context, ops ...*storage.Operation) error {
	return g.do(func() error { return g.client.Batch(ctx, ops...) })
}

func (g *closeGuard) Close(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil
	}
	g.closed = true
	return g.client.Close(ctx)
}

// clientConfig is the HTTP client's configuration with room for the kept-alive connections of every reader:
// net/http keeps two idle connections per host unless told otherwise, so the catch-up workers and live reads of
// every stream would close and open connections on every page. Twice the readers, because a connection goes
// back to the pool a moment after its body is read: a reader that asks again at once dials another, and with
// room for it that one is kept too, instead of closed and dialled again on a later page. A
// max_idle_conns_per_host set by the user stays.
func (r *stackoneReceiver) clientConfig() *confighttp.ClientConfig {
	cc := r.cfg.ClientConfig
	if ka := cc.Keepalive.Get(); ka != nil && ka.MaxIdleConnsPerHost == 0 {
		sized := *ka
		sized.MaxIdleConnsPerHost = 2 * r.cfg.readers()
		cc.Keepalive = configoptional.Some(sized)
	}
	return &cc
}

// newStreams builds the enabled streams. They share the client, the key's pacer, the mapper and the
// telemetry; each has its own position.
func (r *stackoneReceiver) newStreams(client *stackoneapi.Client, consumeCtx context.Context) []*stream {
	cfg := r.cfg
	// The detail calls of failed requests take only slots the reads leave spare, up to their share of the
	// budget, so they never hold up a read.
	detailCalls := cfg.detailCalls()
	pacer := newPacer(cfg.MaxRequestsPerMinute, r.now, r.wait)
	pacer.clock, pacer.sleep = r.budgetClock, r.budgetSleep
	var detail *detailer
	if detailCalls > 0 {
		share := newPacer(detailCalls, r.now, r.wait)
		share.clock, share.sleep = r.budgetClock, r.budgetSleep
		detail = newDetailer(cfg, client, pacer, share)
		if detail != nil {
			detail.withTimeout = r.withTimeout
		}
	}
	retry := &retrier{cfg: cfg.BackOff, now: r.now, wait: r.wait, pacer: pacer}
	settings := streamSettings{
		pollInterval:  cfg.PollInterval,
		sweepInterval: cfg.SweepInterval,
		window:        cfg.LateArrivalWindow,
		indexingDelay: cfg.IndexingDelay,
		budget:        cfg.MaxRequestsPerMinute,
		pageSize:      cfg.PageSize,
		lookback:      cfg.InitialLookback,
		concurrency:   cfg.CatchUp.Concurrency,
		catchUpAfter:  r.catchUpAfter,
	}
	consume := func(_ context.Context, ld plog.Logs) error {
		records := ld.LogRecordCount() // once ConsumeLogs returns, ld is the pipeline's
		opCtx := r.obsrecv.StartLogsOp(consumeCtx)
		err := r.next.ConsumeLogs(opCtx, ld)
		r.obsrecv.EndLogsOp(opCtx, "stackone_json", records, err)
		return err
	}
	newStream := func(s *schema, pagers pagerFactory) *stream {
		return &stream{
			name:     s.stream,
			schema:   s,
			pagers:   pagers,
			mapper:   r.mapper,
			consume:  consume,
			store:    &positionStore{key: "position." + s.stream}, // on each run's storage (startStreams)
			pending:  map[uint64]struct{}{},
			cfg:      settings,
			retry:    retry,
			pageSize: newPageSizer(cfg.PageSize),
			tel:      newStreamTelemetry(r.telemetry, s.stream),
			now:      r.now,
			waitPoll: r.waitPoll,
			newGroup: r.newGroup,
			log:      r.settings.Logger,
			sampled:  r.sampled,
		}
	}
	var out []*stream
	if cfg.RequestLogs.Enabled {
		s := newStream(requestLogSchema, newCursorPagers(client, stackoneapi.RequestLogsPath, cfg.RequestLogs.Filter))
		s.detail = detail
		out = append(out, s)
	}
	if cfg.ActionLogs.Enabled {
		out = append(out, newStream(actionLogSchema, newKeysetPagers(client, cfg.ActionLogs.Filter)))
	}
	if cfg.StepLogs.Enabled {
		out = append(out, newStream(stepLogSchema, newCursorPagers(client, stackoneapi.StepLogsPath, cfg.StepLogs.Filter)))
	}
	if cfg.PlatformLogs.Enabled {
		out = append(out, newStream(platformLogSchema, newCursorPagers(client, stackoneapi.PlatformLogsPath, cfg.PlatformLogs.Filter)))
	}
	if cfg.ActionSteps.Enabled {
		out = append(out, newStream(actionStepSchema, newActionStepPagers(client, cfg.ActionSteps.Filter)))
	}
	return out
}

// registerGauges observes each stream's state at collection time, so a stream that cannot read shows it at
// once: its lag keeps growing and its last successful poll stays behind. A standby reports neither: it reads
// nothing by design, and its stale figures would fire the lag alerts while the leader is fine.
func (r *stackoneReceiver) registerGauges() error {
	return errors.Join(
		r.telemetry.RegisterReceiverStackoneLeaderCallback(func(_ context.Context, o metric.Int64Observer) error {
			leading := int64(0)
			if r.leading.Load() {
				leading = 1
			}
			o.Observe(leading)
			return nil
		}),
		r.telemetry.RegisterReceiverStackoneLagCallback(func(_ context.Context, o metric.Float64Observer) error {
			if !r.leading.Load() {
				return nil
			}
			now := r.now()
			for _, s := range r.streams {
				if ns := s.complete.Load(); ns != 0 {
					o.Observe(max(0, now.Sub(time.Unix(0, ns)).Seconds()), s.tel.attrs)
				}
			}
			return nil
		}),
		r.telemetry.RegisterReceiverStackoneIndexingDelayCallback(func(_ context.Context, o metric.Float64Observer) error {
			if !r.leading.Load() {
				return nil
			}
			for _, s := range r.streams {
				if d := s.delayNow.Load(); d > 0 {
					o.Observe(time.Duration(d).Seconds(), s.tel.attrs)
				}
			}
			return nil
		}),
		r.telemetry.RegisterReceiverStackoneBehindCallback(func(_ context.Context, o metric.Float64Observer) error {
			if !r.leading.Load() {
				return nil
			}
			for _, s := range r.streams {
				for rd := range numReads {
					o.Observe(time.Duration(s.behind.by[rd].Load()).Seconds(), s.tel.readAttrs(read(rd)))
				}
			}
			return nil
		}),
		r.telemetry.RegisterReceiverStackoneLastSuccessfulPollCallback(func(_ context.Context, o metric.Float64Observer) error {
			if !r.leading.Load() {
				return nil
			}
			for _, s := range r.streams {
				if ns := s.lastSuccess.Load(); ns > 0 {
					o.Observe(float64(ns)/1e9, s.tel.attrs)
				}
			}
			return nil
		}),
		r.telemetry.RegisterReceiverStackonePositionUnsavedCallback(func(_ context.Context, o metric.Int64Observer) error {
			if !r.leading.Load() {
				return nil
			}
			for _, s := range r.streams {
				unsaved := int64(0)
				if s.unsaved.Load() {
					unsaved = 1
				}
				o.Observe(unsaved, s.tel.attrs)
			}
			return nil
		}),
		r.telemetry.RegisterReceiverStackoneStreamDisabledCallback(func(_ context.Context, o metric.Int64Observer) error {
			for _, s := range r.streams {
				disabled := int64(0)
				if s.disabled.Load() {
					disabled = 1
				}
				o.Observe(disabled, s.tel.attrs)
			}
			return nil
		}),
	)
}

// openStorage returns the configured storage extension's client, or an in-memory stand-in that forgets the
// position at restart. A misnamed extension fails start-up: silently running without a position would
// re-read or lose logs at the next restart.
func (r *stackoneReceiver) openStorage(ctx context.Context, host component.Host) (storage.Client, error) {
	if r.cfg.StorageID == nil {
		r.settings.Logger.Warn("No storage extension configured: the position is kept in memory only, so a restart re-reads from initial_lookback. Set `storage: file_storage` to keep it.",
			zap.Duration("initial_lookback", r.cfg.InitialLookback))
		return storage.NewNopClient(), nil
	}
	ext, ok := host.GetExtensions()[*r.cfg.StorageID]
	if !ok {
		return nil, fmt.Errorf("stackone: storage extension %q not found: declare it under `extensions:` and list it in `service.extensions`", r.cfg.StorageID)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return nil, fmt.Errorf("stackone: extension %q is not a storage extension: use file_storage or another storage extension", r.cfg.StorageID)
	}
	client, err := se.GetClient(ctx, component.KindReceiver, r.settings.ID, "")
	if err != nil {
		return nil, fmt.Errorf("stackone: opening storage %q: %w", r.cfg.StorageID, err)
	}
	return client, nil
}

// Shutdown stops the webhook and polling together, saves (stopStreams), and only then leaves the election,
// releasing the lease, so a standby takes over at once from the position just saved. A replica that does not
// poll has nothing to hand over: it leaves the election first, so that a lease coming free while its webhook
// finishes is not taken by a replica that can no longer lead.
func (r *stackoneReceiver) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	r.stopping = true
	standby := r.running == nil
	r.mu.Unlock()
	var electionErr error
	if standby {
		electionErr = r.leaveElection(ctx)
	}
	// The webhook's deliveries and the streams' pages in flight finish side by side: a delivery stuck until the
	// deadline must not leave the streams no time, so that their pages are saved rather than read again.
	webhookErr := make(chan error, 1)
	go func() { webhookErr <- r.stopWebhook(ctx) }()
	errs := []error{r.stopStreams(ctx), <-webhookErr}
	if !standby {
		electionErr = r.leaveElection(ctx)
	}
	errs = append(errs, electionErr)
	if r.abandon != nil {
		r.abandon()
	}
	r.telemetry.Shutdown()
	return errors.Join(errs...)
}

// leaveElection ends this replica's part in the election (without leader_election, there is none) and waits until
// it is over: a leader's lease is released as it ends, and a campaign round still under way, which could take a
// lease coming free, has ended.
func (r *stackoneReceiver) leaveElection(ctx context.Context) error {
	if r.stopElection == nil {
		return nil
	}
	r.stopElection()
	select {
	case <-r.electionDone:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stackone: the lease was not released before the shutdown deadline; a standby takes over once it expires: %w", ctx.Err())
	}
}

// userAgent names the receiver and the version of the module it was built from (the receiver's own version
// when imported into another distribution, not that distribution's).
func userAgent() string {
	version := "dev"
	if bi, ok := debug.ReadBuildInfo(); ok {
		const mod = "github.com/stackone-otel/otelcol-stackone"
		if bi.Main.Path == mod && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			version = bi.Main.Version
		}
		for _, d := range bi.Deps {
			if d.Path == mod {
				version = d.Version
			}
		}
	}
	return "otelcol-stackone-receiver/" + version
}
