package stackonereceiver

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/metadatatest"
)

// haConfig is the world's config on leader_election instead of a storage extension. The lease is longer than
// any wait here: only a released lease is taken over in time.
func (w *world) haConfig() *Config {
	cfg := w.config()
	cfg.StorageID = nil
	le := electionConfig(2*electionTimeout, 5*time.Second, 100*time.Millisecond)
	le.PositionConfigMap = testConfigMap
	cfg.LeaderElection = configoptional.Some(le)
	return cfg
}

func (w *world) startHA(k *fakeKube, sink consumer.Logs) *run {
	w.t.Helper()
	cfg := w.haConfig()
	require.NoError(w.t, cfg.Validate())
	return w.startWith(cfg, sink, func(rcv *stackoneReceiver) {
		rcv.newKubeAPI = func(*LeaderElectionConfig, string) (kubeAPI, error) { return k.api(), nil }
	})
}

func leaderGauge(t *testing.T, r *run, want int64) {
	t.Helper()
	metadatatest.AssertEqualReceiverStackoneLeader(t, r.tel, []metricdata.DataPoint[int64]{{Value: want}}, metricdatatest.IgnoreTimestamp())
}

// TestHAHandover: of two receivers on one Lease only the leader polls; a standby reads nothing, reports OK
// and no lag; after a graceful stop of the leader the standby takes over at once from the position the
// leader saved in the ConfigMap, and every entry arrives exactly once.
func TestHAHandover(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	k := newFakeKube()
	backlog := w.fake.GenerateRequestLogs(120, time.Now().Add(-30*time.Minute), 10*time.Second, 1)
	sinkA, sinkB := new(consumertest.LogsSink), new(consumertest.LogsSink)

	a := w.startHA(k, sinkA)
	a.awaitPoll()
	requireExactlyOnce(t, idsOf(backlog, "request_id"), ids(sinkA))
	leaderGauge(t, a, 1)

	b := w.startHA(k, sinkB)
	calls := len(w.fake.Requests())
	fresh := w.fake.GenerateRequestLogs(30, time.Now().Add(-time.Second), 10*time.Millisecond, 2)
	a.nextPoll()
	a.awaitPoll()
	leaderGauge(t, b, 0)
	_, err := b.tel.GetMetric("otelcol_receiver_stackone_lag")
	assert.Error(t, err, "a standby reports no lag: it reads nothing by design")
	assert.Empty(t, ids(sinkB), "the standby polled")
	calls = len(w.fake.Requests()) - calls

	a.stop()
	b.awaitPoll()
	leaderGauge(t, b, 1)
	all := append(idsOf(backlog, "request_id"), idsOf(fresh, "request_id")...)
	requireExactlyOnce(t, all, append(ids(sinkA), ids(sinkB)...))
	assert.NotContains(t, w.host.statuses(), componentstatus.StatusRecoverableError)
	assert.Positive(t, calls)

	cm := k.configMap(t)
	assert.Equal(t, "2", cm.Annotations[epochAnnotation], "claimed by a, then by b")
	assert.NotEmpty(t, cm.BinaryData["position.request_logs"])
	b.stop()
}

// TestHAFencedLeaderStops: when another replica has claimed the position, the leader's next save fails; it
// stops polling, releases the lease and campaigns again, and reads on once it holds the position anew. Here
// the fenced save is the near sweep's, at the start of the poll, before the live read delivered the new
// entries: nothing is lost and nothing is read twice.
func TestHAFencedLeaderStops(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	k := newFakeKube()
	first := w.fake.GenerateRequestLogs(20, time.Now().Add(-20*time.Minute), 10*time.Second, 1)
	sink := new(consumertest.LogsSink)
	a := w.startHA(k, sink)
	a.awaitPoll()

	_, err := claimConfigMap(context.Background(), k.CoreV1().ConfigMaps(testNamespace), testConfigMap, "intruder", nil)
	require.NoError(t, err)
	second := w.fake.GenerateRequestLogs(10, time.Now().Add(-time.Second), 10*time.Millisecond, 2)
	a.nextPoll()
	// The fenced term ends: its streams stop. The next term claims the position again (epoch 3) and polls.
	a.awaitPoll()
	cm := k.configMap(t)
	assert.Equal(t, "3", cm.Annotations[epochAnnotation])
	assert.NotEqual(t, "intruder", cm.Annotations[holderAnnotation])
	got := ids(sink)
	want := append(idsOf(first, "request_id"), idsOf(second, "request_id")...)
	for _, id := range want {
		assert.Contains(t, got, id)
	}
	assert.Len(t, got, len(want), "the fenced save delivered nothing, so nothing repeats")
	a.stop()
}

func TestHAValidation(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	cfg := w.haConfig()
	cfg.StorageID = &w.storage
	assert.ErrorContains(t, cfg.Validate(), "and leader_election are both set: with leader_election the position lives in a ConfigMap")
}
