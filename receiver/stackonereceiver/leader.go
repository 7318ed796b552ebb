package stackonereceiver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
)

// kubeAPI is the part of the Kubernetes API the receiver uses: one Lease and one ConfigMap, through the two
// typed clients they need rather than a whole clientset.
type kubeAPI struct {
	leases     coordinationv1client.LeasesGetter
	configMaps corev1client.ConfigMapsGetter
	// namespace is the pod's (or the kubeconfig context's), used when lease_namespace is empty.
	namespace string
}

const serviceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// newKubeAPI connects as auth_type says: the pod's service account, or a kubeconfig (KUBECONFIG, else
// ~/.kube/config) with an optional context.
func newKubeAPI(cfg *LeaderElectionConfig, userAgent string) (kubeAPI, error) {
	var rc *rest.Config
	var namespace string
	switch cfg.AuthType {
	case authKubeConfig:
		loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{CurrentContext: cfg.Context})
		var err error
		if rc, err = loader.ClientConfig(); err != nil {
			return kubeAPI{}, fmt.Errorf("leader_election: auth_type kubeConfig: %w (set KUBECONFIG, or use auth_type serviceAccount in a pod)", err)
		}
		namespace, _, _ = loader.Namespace()
	default:
		var err error
		if rc, err = rest.InClusterConfig(); err != nil {
			return kubeAPI{}, fmt.Errorf("leader_election: auth_type serviceAccount works only in a pod with a service account token: %w (use auth_type kubeConfig outside Kubernetes)", err)
		}
		namespace = os.Getenv("POD_NAMESPACE")
		if namespace == "" {
			b, _ := os.ReadFile(serviceAccountNamespaceFile)
			namespace = strings.TrimSpace(string(b))
		}
	}
	rc.UserAgent = userAgent
	leases, err := coordinationv1client.NewForConfig(rc)
	if err != nil {
		return kubeAPI{}, fmt.Errorf("leader_election: %w", err)
	}
	configMaps, err := corev1client.NewForConfig(rc)
	if err != nil {
		return kubeAPI{}, fmt.Errorf("leader_election: %w", err)
	}
	return kubeAPI{leases: leases, configMaps: configMaps, namespace: namespace}, nil
}

// newIdentity names this replica in the Lease and the ConfigMap: the pod name (POD_NAME, else the host name)
// and a random suffix, so a restarted pod with the same name is a new candidate and never mistakes the old
// process's lease or claim for its own.
func newIdentity() string {
	name := os.Getenv("POD_NAME")
	if name == "" {
		name, _ = os.Hostname()
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	return name + "_" + hex.EncodeToString(suffix)
}

// election is one replica's candidacy for the Lease, with its names and namespace resolved.
type election struct {
	cfg      LeaderElectionConfig
	lock     resourcelock.Interface
	identity string
	log      *zap.Logger
	// lead runs for as long as this replica leads (its context ends when the lease is lost or the replica
	// stops) and returns once the streams have stopped. endTerm ends the term early: the lease is released
	// and the campaign goes on.
	lead func(ctx context.Context, endTerm func())
	// stopping, when set and true, ends the campaign after the current round. A replica that is shutting down
	// cannot lead, and client-go's first try for the lease does not wait for retry_period: campaigning on would
	// take the lease, give it back and take it again as fast as the Kubernetes API answers.
	stopping func() bool
	// now and wait are the clock the leader measures its own term by (real time unless a test sets them).
	now  func() time.Time
	wait func(ctx context.Context, d time.Duration) error
}

// run campaigns until ctx ends. Each round acquires the lease, leads, and releases the lease on the way out
// (ReleaseOnCancel), so a graceful stop hands over at once. The round's context is cancelled, and so the lease
// released, only after lead has returned: a standby can never start while this replica's streams are still
// stopping. A lost lease is not released (it is no longer held); its term ends with client-go's context.
func (e *election) run(ctx context.Context) {
	if e.now == nil {
		e.now, e.wait = time.Now, sleepCtx
	}
	// client-go logs through klog; its logger rides in the context, so nothing process-wide changes.
	ctx = klog.NewContext(ctx, logr.New(zapSink{log: e.log}))
	lock := &renewals{Interface: e.lock, now: e.now}
	for ctx.Err() == nil && (e.stopping == nil || !e.stopping()) {
		round, release := context.WithCancel(context.WithoutCancel(ctx))
		leading := make(chan context.Context, 1)
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:            lock,
			Name:            e.cfg.LeaseName,
			LeaseDuration:   e.cfg.LeaseDuration,
			RenewDeadline:   e.cfg.RenewDeadline,
			RetryPeriod:     e.cfg.RetryPeriod,
			ReleaseOnCancel: true,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(leadCtx context.Context) { leading <- leadCtx },
				OnStoppedLeading: func() {},
				OnNewLeader: func(identity string) {
					if identity != e.identity {
						e.log.Info("Standing by: another replica holds the lease and polls StackOne", zap.String("leader", identity), zap.String("identity", e.identity))
					}
				},
			},
		})
		if err != nil { // the settings were validated at start-up
			e.log.Error("Cannot run the leader election", zap.Error(err))
			release()
			return
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			le.Run(round)
		}()
		select {
		case leadCtx := <-leading:
			term, endTerm := context.WithCancel(leadCtx)
			stopping := context.AfterFunc(ctx, endTerm)
			watched := make(chan struct{})
			go func() {
				defer close(watched)
				e.watchLease(term, lock, endTerm)
			}()
			e.lead(term, endTerm)
			stopping()
			endTerm()
			<-watched
		case <-done:
		case <-ctx.Done():
		}
		release()
		<-done
	}
}

// watchLease ends the term once renew_deadline has passed since the last successful renewal, on this
// replica's own clock. client-go ends it only when a round of renewals gives up, and a round starts
// retry_period after the last success and lasts renew_deadline: up to retry_period + renew_deadline after the
// last renewal, which can be after a standby may take the lease. A standby may take it lease_duration after it
// saw that renewal, and it sees it no earlier than it was sent, so a leader that stops renew_deadline after
// sending it stops at least lease_duration - renew_deadline before anyone else can lead.
func (e *election) watchLease(ctx context.Context, lock *renewals, endTerm func()) {
	for {
		last := lock.last()
		left := last.Add(e.cfg.RenewDeadline).Sub(e.now())
		if left <= 0 {
			e.log.Warn("The lease was not renewed within renew_deadline: this replica stops polling before the lease can expire, and campaigns again",
				zap.Duration("renew_deadline", e.cfg.RenewDeadline), zap.Time("last_renewal", last))
			endTerm()
			return
		}
		if e.wait(ctx, left) != nil {
			return
		}
	}
}

// renewals is the lock as client-go uses it, noting when this replica last wrote the Lease as its holder.
type renewals struct {
	resourcelock.Interface
	now func() time.Time
	// sent is when the last successful write naming this replica the holder was sent: the API server wrote it
	// no earlier, so no standby counts the lease from an earlier time.
	sent atomic.Pointer[time.Time]
}

func (l *renewals) last() time.Time {
	if t := l.sent.Load(); t != nil {
		return *t
	}
	return time.Time{}
}

func (l *renewals) Create(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	sent := l.now()
	err := l.Interface.Create(ctx, ler)
	l.note(ler, sent, err)
	return err
}

func (l *renewals) Update(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	sent := l.now()
	err := l.Interface.Update(ctx, ler)
	l.note(ler, sent, err)
	return err
}

func (l *renewals) note(ler resourcelock.LeaderElectionRecord, sent time.Time, err error) {
	if err == nil && ler.HolderIdentity == l.Identity() {
		l.sent.Store(&sent)
	}
}

// observedLock is client-go's LeaseLock that also reports whether the Kubernetes API answers, since the
// elector itself only logs its failures: a standby that cannot reach the API cannot take over, and a leader
// that cannot renew stops polling.
type observedLock struct {
	resourcelock.Interface
	report func(error)
}

func newLeaseLock(api kubeAPI, namespace, name, identity string, report func(error)) *observedLock {
	return &observedLock{
		Interface: &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: namespace, Name: name},
			Client:     api.leases,
			LockConfig: resourcelock.ResourceLockConfig{Identity: identity},
			Labels:     map[string]string{"app.kubernetes.io/managed-by": "otelcol-stackone"},
		},
		report: report,
	}
}

func (l *observedLock) Get(ctx context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	rec, raw, err := l.Interface.Get(ctx)
	l.observe(err)
	return rec, raw, err
}

func (l *observedLock) Create(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	err := l.Interface.Create(ctx, ler)
	l.observe(err)
	return err
}

func (l *observedLock) Update(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	err := l.Interface.Update(ctx, ler)
	l.observe(err)
	return err
}

// observe reports API failures. A missing Lease (created next) and a conflict (another replica renewed
// first) are the election at work; a cancelled call is the replica stopping.
func (l *observedLock) observe(err error) {
	switch {
	case err == nil:
		l.report(nil)
	case isExpectedLeaseError(err):
	default:
		l.report(err)
	}
}

// zapSink hands client-go's log lines to the receiver's logger at debug level: the receiver logs the
// events that matter (leading, standing by, API failures) itself, rate-limited.
type zapSink struct {
	log  *zap.Logger
	name string
}

func (s zapSink) Init(logr.RuntimeInfo)  {}
func (s zapSink) Enabled(level int) bool { return level == 0 && s.log.Core().Enabled(zap.DebugLevel) }
func (s zapSink) Info(_ int, msg string, kv ...any) {
	s.log.Debug(s.name+msg, zap.Any("details", kv))
}

func (s zapSink) Error(err error, msg string, kv ...any) {
	s.log.Debug(s.name+msg, zap.Error(err), zap.Any("details", kv))
}

func (s zapSink) WithValues(kv ...any) logr.LogSink {
	return zapSink{log: s.log.With(zap.Any("details", kv)), name: s.name}
}

func (s zapSink) WithName(name string) logr.LogSink {
	return zapSink{log: s.log, name: s.name + name + ": "}
}

// isExpectedLeaseError: a missing Lease is created next, a conflict means another replica wrote first, and a
// cancelled call is this replica stopping. A timeout is not expected: it is an API server that does not answer.
func isExpectedLeaseError(err error) bool {
	return errors.Is(err, context.Canceled) || apierrors.IsNotFound(err) || apierrors.IsConflict(err)
}

// startElection joins the election. The receiver reports StatusOK while it stands by: nothing is wrong with
// a standby, and health_check must keep it ready so a rollout or a PodDisruptionBudget can count on it.
func (r *stackoneReceiver) startElection(cfg *LeaderElectionConfig) error {
	api, err := r.newKubeAPI(cfg, userAgent())
	if err != nil {
		return fmt.Errorf("stackone: %w", err)
	}
	le := *cfg
	if le.LeaseNamespace == "" {
		le.LeaseNamespace = api.namespace
	}
	if le.LeaseNamespace == "" {
		return errors.New("stackone: leader_election.lease_namespace is empty and the pod's namespace is unknown: set lease_namespace, or POD_NAMESPACE from the downward API (metadata.namespace)")
	}
	if le.LeaseName == "" {
		le.LeaseName = defaultLeaseName(r.settings.ID)
	}
	if le.PositionConfigMap == "" {
		le.PositionConfigMap = le.LeaseName + "-position"
	}
	identity := newIdentity()
	r.electionState = &streamHealth{name: "leader_election", health: r.health}
	report := func(err error) {
		if err != nil {
			r.telemetry.ReceiverStackoneLeaderElectionErrors.Add(context.Background(), 1)
			r.sampled.Warn("The Kubernetes API does not answer the leader election: a standby cannot take over, and a leader that cannot renew its lease stops polling",
				zap.String("lease", le.LeaseNamespace+"/"+le.LeaseName), zap.Error(err))
			err = fmt.Errorf("kubernetes API for Lease %s/%s: %w", le.LeaseNamespace, le.LeaseName, err)
		}
		r.electionState.set(condAPI, err)
	}
	e := &election{
		cfg:      le,
		lock:     newLeaseLock(api, le.LeaseNamespace, le.LeaseName, identity, report),
		identity: identity,
		log:      r.settings.Logger,
		lead: func(ctx context.Context, endTerm func()) {
			r.lead(ctx, endTerm, api.configMaps.ConfigMaps(le.LeaseNamespace), le, identity)
		},
		stopping: r.isStopping,
	}
	r.settings.Logger.Info("Joining the leader election: this replica polls StackOne only while it holds the lease",
		zap.String("lease", le.LeaseNamespace+"/"+le.LeaseName), zap.String("position_configmap", le.PositionConfigMap), zap.String("identity", identity))
	ctx, cancel := context.WithCancel(context.Background())
	r.stopElection, r.electionDone = cancel, make(chan struct{})
	go func() {
		defer close(r.electionDone)
		e.run(ctx)
	}()
	return nil
}

// defaultLeaseName derives a Lease name from the receiver's id, so two stackone receivers never share one:
// stackone/eu becomes otelcol-stackone-stackone-eu.
func defaultLeaseName(id component.ID) string {
	name := invalidNameChars.ReplaceAllString(strings.ToLower("otelcol-stackone-"+id.String()), "-")
	return strings.Trim(name, "-.")
}

var invalidNameChars = regexp.MustCompile(`[^a-z0-9.-]+`)

// lead is one term as leader: claim the position, poll, and when the term ends stop at once. The pages in
// flight finish; if another replica has claimed the position meanwhile, their saves are fenced and those
// pages are read again by the new leader.
func (r *stackoneReceiver) lead(ctx context.Context, endTerm func(), api corev1client.ConfigMapInterface, le LeaderElectionConfig, identity string) {
	log := r.settings.Logger.With(zap.String("identity", identity), zap.String("position_configmap", le.LeaseNamespace+"/"+le.PositionConfigMap))
	onFenced := func(err error) {
		log.Error("Another replica has claimed the position: this one stops polling at once and releases the lease", zap.Error(err))
		endTerm()
	}
	if r.isStopping() {
		return // claiming the position would only move its epoch on for nothing
	}
	var store *configMapStore
	for {
		var err error
		if store, err = claimConfigMap(ctx, api, le.PositionConfigMap, identity, onFenced); err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		r.telemetry.ReceiverStackoneLeaderElectionErrors.Add(ctx, 1)
		r.sampled.Error("Holding the lease but cannot claim the position ConfigMap; nothing is polled until it can be (check the RBAC: get, create and update on configmaps)", zap.Error(err))
		r.electionState.set(condStorage, err)
		if r.wait(ctx, le.RetryPeriod) != nil || r.isStopping() {
			return
		}
	}
	r.electionState.set(condStorage, nil)
	// Leading before the streams start: their first pages and saves can come before startStreams returns, and the
	// gauges (position_unsaved among them) report only while leading.
	r.leading.Store(true)
	if err := r.startStreams(ctx, store); err != nil {
		r.leading.Store(false)
		return // shutting down
	}
	log.Info("Leading: holding the lease and polling StackOne from the position in the ConfigMap", zap.String("epoch", store.epoch))
	<-ctx.Done()
	r.leading.Store(false)
	log.Info("No longer leading: polling stopped, standing by")
	if err := r.stopStreams(context.Background()); err != nil {
		log.Warn("The last saves of this term failed; the new leader reads those pages again", zap.Error(err))
	}
	for _, s := range r.streams {
		s.health.clear() // a standby's stream conditions would be stale: the leader reports its own
	}
}
