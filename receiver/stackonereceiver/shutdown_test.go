package stackonereceiver

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
)

// within fails the test when ch does not close in time: the bound only ends a test whose receiver hangs.
func within(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(electionTimeout):
		t.Fatalf("%s: not within %s", what, electionTimeout)
	}
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

// A standby that is shutting down must leave the election at once. Held in Shutdown by a webhook delivery, it
// used to campaign on: when the lease came free it took it, claimed the position, could not start its streams
// (stopping), released the lease and campaigned again at once, hundreds of Kubernetes writes a second.
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
