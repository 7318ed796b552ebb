package e2e

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/stackone-otel/otelcol-stackone/e2e/internal/e2etest"
	"github.com/stackone-otel/otelcol-stackone/internal/kubefake"
	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
)

const (
	haNamespace = "observability"
	haLease     = "stackone-e2e"
	// haBackfill is spread over the last hour; at requestsPerMinute the leader needs about four 10-second
	// pauses of the budget to read it, so both the kill and the graceful stop land mid-backfill.
	haBackfill = 2400
	// The lease is short so the test is: a standby takes over about haLeaseDuration after the leader died.
	haLeaseDuration = 5 * time.Second
	haTimeout       = 90 * time.Second
	replicaHeader   = "X-Replica"
)

// TestHAFailover runs two collectors on one Lease against a fake Kubernetes API and the fake StackOne API. The
// leader is killed mid-backfill (SIGKILL), the standby takes over from the position in the ConfigMap, the
// killed replica comes back as the standby, then the new leader is stopped gracefully (SIGTERM) and the first
// replica takes over at once. Every log is exported; the only repeats are the pages in flight at the kill;
// none after the graceful handover; and the fake StackOne API never saw the two replicas poll at once.
func TestHAFailover(t *testing.T) {
	bin := e2etest.CollectorBinary(t, "test-e2e", "./e2e/")
	dir := t.TempDir()
	kube := kubefake.New()
	ksrv := httptest.NewTLSServer(kube)
	t.Cleanup(ksrv.Close)
	fake := stackonefake.New(stackonefake.Options{APIKey: apiKey})
	entries := fake.GenerateRequestLogs(haBackfill, time.Now().Add(-59*time.Minute), 57*time.Minute/haBackfill, 7)
	want := make(map[string]map[string]any, len(entries))
	for _, e := range entries {
		want[e["request_id"].(string)] = e
	}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)

	// One harness per collector run: its own config (replica header, output file) and log; the fake APIs and
	// the Lease are shared.
	replica := func(name, run string) *harness {
		kubeconfig := filepath.Join(dir, name+".kubeconfig")
		if err := kubefake.WriteKubeconfig(kubeconfig, ksrv, name, haNamespace); err != nil {
			t.Fatal(err)
		}
		h := &harness{t: t, bin: bin, dir: dir, want: want,
			out: &exportFile{path: filepath.Join(dir, run+".jsonl"), count: map[string]int{}, records: map[string]plog.LogRecord{}},
			env: []string{"KUBECONFIG=" + kubeconfig, "POD_NAME=" + name},
		}
		h.setUp(run, haConfig(srv.URL, name, h.out.path))
		return h
	}
	a1, b, a2 := replica("replica-a", "a1"), replica("replica-b", "b"), replica("replica-a", "a2")
	runs := []*harness{a1, b, a2}
	exported := func() int {
		seen := map[string]bool{}
		for _, h := range runs {
			h.out.read(t)
			for id := range h.out.count {
				seen[id] = true
			}
		}
		return len(seen)
	}

	pa1 := a1.start()
	a1.waitFor(pa1, startTimeout, "the first replica to lead and export", func() bool { return len(a1.out.count) > 0 })
	pb := b.start()
	b.waitFor(pb, startTimeout, "the second replica to stand by", func() bool { return logHas(b, "Standing by") })
	a1.waitFor(pa1, runTimeout, fmt.Sprintf("%d ids exported by the leader", killAfter), func() bool { return len(a1.out.count) >= killAfter })

	pa1.stop(syscall.SIGKILL)
	killed := time.Now()
	if n := exported(); n >= haBackfill {
		t.Fatalf("the backfill finished before the kill (%d ids): nothing was left to take over", n)
	}
	b.waitFor(pb, haTimeout, fmt.Sprintf("the standby to take over and export %d ids", killAfter), func() bool { return len(b.out.count) >= killAfter })
	// The killed pod comes back once the standby leads (restarted earlier, it might win the expired lease
	// itself, which is just as right but not this scenario), and stands by.
	pa2 := a2.start()
	a2.waitFor(pa2, startTimeout, "the restarted replica to stand by", func() bool { return logHas(a2, "Standing by") })

	pb.stop(syscall.SIGTERM)
	stopped := time.Now()
	if n := exported(); n >= haBackfill {
		t.Fatalf("the backfill finished before the graceful stop (%d ids): nothing was left to hand over", n)
	}
	a2.waitFor(pa2, haTimeout, fmt.Sprintf("all %d ids exported", haBackfill), func() bool { return exported() == haBackfill })
	pa2.stop(syscall.SIGTERM)
	exported()

	// Every id, nothing else; no run repeats itself; the kill repeats at most the pages in flight (one per
	// reader: each catch-up worker and the live read beside them); the graceful handover none.
	for _, h := range runs {
		for id := range h.out.count {
			if want[id] == nil {
				t.Errorf("%s exported an id the fake never served: %q", h.out.path, id)
			}
		}
		if d := h.out.duplicates(); d > 0 {
			t.Errorf("%s exported %d records twice", filepath.Base(h.out.path), d)
		}
	}
	atKill, atHandover := overlap(a1.out, b.out)+overlap(a1.out, a2.out), overlap(b.out, a2.out)
	if inFlight := (catchUpConcurrency + 1) * pageSize; atKill > inFlight {
		t.Errorf("%d ids exported both before and after the kill, want at most the %d of the pages in flight", atKill, inFlight)
	}
	if atHandover > 0 {
		t.Errorf("%d ids exported both before and after the graceful handover, want none", atHandover)
	}

	// The StackOne API saw one replica at a time: a, then b, then a again, never interleaved.
	calls := fake.Requests()
	var turns []string
	var firstB, firstA2 time.Time
	for _, c := range calls {
		who := c.Header.Get(replicaHeader)
		if len(turns) == 0 || turns[len(turns)-1] != who {
			turns = append(turns, who)
			switch len(turns) {
			case 2:
				firstB = c.At
			case 3:
				firstA2 = c.At
			}
		}
	}
	if fmt.Sprint(turns) != "[replica-a replica-b replica-a]" {
		t.Errorf("the replicas polling StackOne, in turn: %v, want [replica-a replica-b replica-a]: two replicas polled at once", turns)
	}
	// Only the holder of the lease writes the position: the ConfigMap's successful writes come in the same turns.
	var writers []string
	for _, c := range kube.Calls() {
		if c.Resource == "configmaps" && c.Method == "PUT" && c.Status == 200 && (len(writers) == 0 || writers[len(writers)-1] != c.Token) {
			writers = append(writers, c.Token)
		}
	}
	if fmt.Sprint(writers) != "[replica-a replica-b replica-a]" {
		t.Errorf("the replicas writing the position, in turn: %v, want [replica-a replica-b replica-a]", writers)
	}
	lease := kube.Lease(haNamespace, haLease)
	t.Logf("%d logs exported (%d by the first run, %d by the second replica, %d by the restarted first); repeats: %d at the kill, %d at the graceful handover",
		exported(), len(a1.out.count), len(b.out.count), len(a2.out.count), atKill, atHandover)
	t.Logf("takeover: %s from SIGKILL to the standby's first call (lease %s), %s from SIGTERM to the next leader's first call; %d StackOne calls, %d Kubernetes API calls, lease transitions %d",
		firstB.Sub(killed).Round(time.Millisecond), haLeaseDuration, firstA2.Sub(stopped).Round(time.Millisecond), len(calls), len(kube.Calls()), *lease.Spec.LeaseTransitions)
}

// haConfig is collectorConfig's receiver on leader_election instead of file_storage, marking its calls with
// the replica's name.
func haConfig(endpoint, name, outPath string) string {
	return fmt.Sprintf(`receivers:
  stackone:
    endpoint: %q
    api_key: %q
    headers:
      %s: %s
    page_size: %d
    poll_interval: 1s
    initial_lookback: 1h
    max_requests_per_minute: %d
    catch_up:
      concurrency: %d
    leader_election:
      auth_type: kubeConfig
      lease_name: %s
      lease_namespace: %s
      lease_duration: %s
      renew_deadline: 4s
      retry_period: 500ms

exporters:
  file:
    path: %q
    format: json
    rotation:
      max_megabytes: 1024

service:
  telemetry:
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [stackone]
      exporters: [file]
`, endpoint, apiKey, replicaHeader, name, pageSize, requestsPerMinute, catchUpConcurrency, haLease, haNamespace, haLeaseDuration, outPath)
}

// overlap counts the ids two runs both exported.
func overlap(a, b *exportFile) int {
	n := 0
	for id := range a.count {
		if b.count[id] > 0 {
			n++
		}
	}
	return n
}

func logHas(h *harness, s string) bool {
	b, err := os.ReadFile(h.log.Name())
	return err == nil && bytes.Contains(b, []byte(s))
}
