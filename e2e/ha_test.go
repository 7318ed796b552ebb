package e2e

import (
	"bytes"
	"fmt"
	"net/http"
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
	haRenewDeadline = 4 * time.Second
	haTimeout       = 90 * time.Second
	replicaHeader   = "X-Replica"
)

// TestHAFailover runs two collectors on one Lease against a fake Kubernetes API and the fake StackOne API. The
// leader is killed mid-backfill (SIGKILL), the standby takes over from the position in the ConfigMap, the
// killed replica comes back as the standby, then the new leader is stopped gracefully (SIGTERM) and the first
// replica takes over at once. Every log is exported; the only repeats are the pages in flight at the kill;
// none after the graceful handover; and the fake StackOne API never saw the two replicas poll at once.
func TestHAFailover(t *testing.T) {
	ha := newHAWorld(t)
	a1, b, a2 := ha.replica("replica-a", "a1"), ha.replica("replica-b", "b"), ha.replica("replica-a", "a2")
	runs := []*harness{a1, b, a2}
	want, fake, kube := ha.want, ha.fake, ha.kube
	exported := func() int { return exportedIDs(t, runs) }

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

// haWorld is what the replicas of one HA test share: the built collector, the fake Kubernetes API holding
// the Lease and the position ConfigMap, and the fake StackOne API with its backfill.
type haWorld struct {
	t    *testing.T
	bin  string
	dir  string
	kube *kubefake.Server
	ksrv *httptest.Server
	fake *stackonefake.Server
	srv  *httptest.Server
	want map[string]map[string]any
}

func newHAWorld(t *testing.T) *haWorld {
	t.Helper()
	ha := &haWorld{t: t, bin: e2etest.CollectorBinary(t, "test-e2e", "./e2e/"), dir: t.TempDir(), kube: kubefake.New()}
	ha.ksrv = httptest.NewTLSServer(ha.kube)
	t.Cleanup(ha.ksrv.Close)
	ha.fake = stackonefake.New(stackonefake.Options{APIKey: apiKey})
	entries := ha.fake.GenerateRequestLogs(haBackfill, time.Now().Add(-59*time.Minute), 57*time.Minute/haBackfill, 7)
	ha.want = make(map[string]map[string]any, len(entries))
	for _, e := range entries {
		ha.want[e["request_id"].(string)] = e
	}
	ha.srv = httptest.NewServer(ha.fake)
	t.Cleanup(ha.srv.Close)
	return ha
}

// replica is one collector run (its own config with the replica header, output file and log) of the pod
// name.
func (ha *haWorld) replica(name, run string) *harness {
	t := ha.t
	t.Helper()
	kubeconfig := filepath.Join(ha.dir, name+".kubeconfig")
	if err := kubefake.WriteKubeconfig(kubeconfig, ha.ksrv, name, haNamespace); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, bin: ha.bin, dir: ha.dir, want: ha.want,
		out: &exportFile{path: filepath.Join(ha.dir, run+".jsonl"), count: map[string]int{}, records: map[string]plog.LogRecord{}},
		env: []string{"KUBECONFIG=" + kubeconfig, "POD_NAME=" + name},
	}
	h.setUp(run, haConfig(ha.srv.URL, name, h.out.path))
	return h
}

// exportedIDs re-reads every run's output and counts the distinct ids among them.
func exportedIDs(t *testing.T, runs []*harness) int {
	seen := map[string]bool{}
	for _, h := range runs {
		h.out.read(t)
		for id := range h.out.count {
			seen[id] = true
		}
	}
	return len(seen)
}

// pollingTurns lists the replicas that called the StackOne API, in turn: a name repeats only if another
// replica polled in between.
func pollingTurns(fake *stackonefake.Server) []string {
	var turns []string
	for _, c := range fake.Requests() {
		if who := c.Header.Get(replicaHeader); len(turns) == 0 || turns[len(turns)-1] != who {
			turns = append(turns, who)
		}
	}
	return turns
}

// TestHAKubernetesAPIDown cuts both replicas off the Kubernetes API mid-backfill for longer than
// renew_deadline: the leader can neither renew its lease nor save its position. It must stop reading at its
// first failed save and stop polling once renew_deadline has passed since its last renewal; when the API is
// back, whichever replica then leads resumes from the saved position. Every log is exported, and the only
// repeats are the pages each reader had delivered when its save failed: at most one page per reader.
func TestHAKubernetesAPIDown(t *testing.T) {
	ha := newHAWorld(t)
	a, b := ha.replica("replica-a", "a"), ha.replica("replica-b", "b")
	runs := []*harness{a, b}

	pa := a.start()
	a.waitFor(pa, startTimeout, fmt.Sprintf("%d ids exported by the leader", killAfter), func() bool { return len(a.out.count) >= killAfter })
	pb := b.start()
	b.waitFor(pb, startTimeout, "the second replica to stand by", func() bool { return logHas(b, "Standing by") })

	ha.kube.SetUnavailable(true)
	down := time.Now()
	// The outage lasts until the leader has stopped polling and the API has refused a call renew_deadline
	// after it began: longer than renew_deadline, so the lease can have expired by then.
	a.waitFor(pa, haTimeout, "the leader to stop polling with the Kubernetes API down", func() bool {
		if !logHas(a, "No longer leading") {
			return false
		}
		for _, c := range ha.kube.Calls() {
			if c.Status == http.StatusServiceUnavailable && c.At.Sub(down) > haRenewDeadline {
				return true
			}
		}
		return false
	})
	if n := exportedIDs(t, runs); n >= haBackfill {
		t.Fatalf("the backfill finished before the Kubernetes API came back (%d ids): nothing was left to resume", n)
	}
	ha.kube.SetUnavailable(false)
	a.waitFor(pa, haTimeout, fmt.Sprintf("all %d ids exported", haBackfill), func() bool { return exportedIDs(t, runs) == haBackfill })
	pa.stop(syscall.SIGTERM)
	pb.stop(syscall.SIGTERM)
	exportedIDs(t, runs)

	count := map[string]int{}
	for _, h := range runs {
		for id, n := range h.out.count {
			if ha.want[id] == nil {
				t.Errorf("%s exported an id the fake never served: %q", h.out.path, id)
			}
			count[id] += n
		}
	}
	repeats := 0
	for _, n := range count {
		repeats += n - 1
	}
	if inFlight := (catchUpConcurrency + 1) * pageSize; repeats > inFlight {
		t.Errorf("%d records exported twice around the outage, want at most the %d of one page per reader", repeats, inFlight)
	}
	turns := pollingTurns(ha.fake)
	if len(turns) > 2 || turns[0] != "replica-a" {
		t.Errorf("the replicas polling StackOne, in turn: %v, want replica-a, then perhaps replica-b: two replicas polled at once", turns)
	}
	t.Logf("%d logs exported (%d by replica-a, %d by replica-b), %d repeats; polling turns %v; %d Kubernetes API calls",
		len(count), len(a.out.count), len(b.out.count), repeats, turns, len(ha.kube.Calls()))
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
      renew_deadline: %s
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
`, endpoint, apiKey, replicaHeader, name, pageSize, requestsPerMinute, catchUpConcurrency, haLease, haNamespace, haLeaseDuration, haRenewDeadline, outPath)
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
