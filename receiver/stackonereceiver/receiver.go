package stackonereceiver

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/time/rate"

	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/metadata"
	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/stackoneapi"
)

// stackoneReceiver owns the collector lifecycle: it builds the client, opens the position store, and runs one
// goroutine per enabled stream until shutdown.
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

	// now, wait (retry back-off) and waitPoll (between polls) are the receiver's clock. Tests swap the waits
	// to record delays and to step polls one at a time, without sleeping.
	now      func() time.Time
	wait     func(ctx context.Context, d time.Duration) error
	waitPoll func(ctx context.Context, d time.Duration) error

	host    component.Host
	storage storage.Client

	statusMu     sync.Mutex
	streamStatus map[string]*componentstatus.Event
	reported     componentstatus.Status
	streams      []*stream
	cancel       context.CancelFunc
	wg           sync.WaitGroup
}

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
		mapper:       newMapper(cfg.Redaction, set.BuildInfo.Version),
		streamStatus: map[string]*componentstatus.Event{},
		now:          time.Now,
		wait:         sleepCtx,
		waitPoll:     sleepCtx,
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

func (r *stackoneReceiver) Start(ctx context.Context, host component.Host) error {
	r.host = host
	httpClient, err := r.cfg.ToClient(ctx, host.GetExtensions(), r.settings.TelemetrySettings)
	if err != nil {
		return fmt.Errorf("stackone: building HTTP client: %w", err)
	}
	client, err := stackoneapi.NewClient(httpClient, r.cfg.Endpoint, string(r.cfg.APIKey), userAgent(), newLimiter(r.cfg.MaxRequestsPerMinute), stackoneapi.WithMaxResponseSize(r.cfg.MaxResponseSize))
	if err != nil {
		return fmt.Errorf("stackone: %w", err)
	}
	r.storage, err = r.openStorage(ctx, host)
	if err != nil {
		return err
	}

	runCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.streams = r.enabledStreams(client)
	if err := r.registerGauges(); err != nil {
		return err
	}
	for _, s := range r.streams {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			s.run(runCtx)
		}()
	}
	return nil
}

func (r *stackoneReceiver) enabledStreams(client *stackoneapi.Client) []*stream {
	var out []*stream
	if r.cfg.RequestLogs.Enabled {
		out = append(out, r.newCursorStream(requestLogSchema, client, stackoneapi.RequestLogsPath, r.cfg.RequestLogs.Filter))
	}
	if r.cfg.ActionLogs.Enabled {
		out = append(out, r.newActionStream(client, r.cfg.ActionLogs.Filter))
	}
	if r.cfg.StepLogs.Enabled {
		out = append(out, r.newCursorStream(stepLogSchema, client, stackoneapi.StepLogsPath, r.cfg.StepLogs.Filter))
	}
	if r.cfg.PlatformLogs.Enabled {
		out = append(out, r.newCursorStream(platformLogSchema, client, stackoneapi.PlatformLogsPath, r.cfg.PlatformLogs.Filter))
	}
	return out
}

// registerGauges observes each stream's state at collection time, so a stream that cannot read shows it at once.
func (r *stackoneReceiver) registerGauges() error {
	return errors.Join(
		r.telemetry.RegisterReceiverStackoneLastSuccessfulPollCallback(func(_ context.Context, o metric.Float64Observer) error {
			for _, s := range r.streams {
				if ns := s.lastSuccess.Load(); ns > 0 {
					o.Observe(float64(ns)/1e9, s.attrs)
				}
			}
			return nil
		}),
		r.telemetry.RegisterReceiverStackoneStreamDisabledCallback(func(_ context.Context, o metric.Int64Observer) error {
			for _, s := range r.streams {
				disabled := int64(0)
				if s.disabled.Load() {
					disabled = 1
				}
				o.Observe(disabled, s.attrs)
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

// newLimiter spreads the per-minute budget evenly, with a burst of one second's share, so a backlog is read
// at a steady pace instead of spending the whole minute's budget at once.
func newLimiter(perMinute int) *rate.Limiter {
	return rate.NewLimiter(rate.Limit(float64(perMinute)/60), max(1, perMinute/60))
}

// Shutdown stops every stream between pages, saves each position once more and closes the store.
func (r *stackoneReceiver) Shutdown(ctx context.Context) error {
	if r.cancel != nil {
		r.cancel()
	}
	r.wg.Wait()
	var errs []error
	for _, s := range r.streams {
		if err := s.saveFinal(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if r.storage != nil {
		errs = append(errs, r.storage.Close(ctx))
	}
	r.telemetry.Shutdown()
	return errors.Join(errs...)
}

// statusRank orders statuses by severity; the component shows its worst stream.
var statusRank = map[componentstatus.Status]int{
	componentstatus.StatusOK: 0, componentstatus.StatusRecoverableError: 1, componentstatus.StatusPermanentError: 2,
}

// reportStatus records one stream's status and reports the worst across streams, so a healthy stream's OK
// never hides a failing one. Repeated OKs are not re-sent.
func (r *stackoneReceiver) reportStatus(stream string, ev *componentstatus.Event) {
	r.statusMu.Lock()
	defer r.statusMu.Unlock()
	r.streamStatus[stream] = ev
	worst := ev
	for _, e := range r.streamStatus {
		if statusRank[e.Status()] > statusRank[worst.Status()] {
			worst = e
		}
	}
	if worst.Status() == componentstatus.StatusOK && r.reported == componentstatus.StatusOK {
		return
	}
	r.reported = worst.Status()
	if r.host != nil {
		componentstatus.ReportStatus(r.host, worst)
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
