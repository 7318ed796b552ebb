package e2e

import (
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/stackone-otel/otelcol-stackone/e2e/internal/e2etest"
	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
)

const (
	actionLogEvent  = "stackone.action_log"
	actionStepEvent = "stackone.action_step"
	// actionRuns is how many action runs the fake holds, each with three to five steps.
	actionRuns = 400
	// actionStreams turns request logs off and both action streams on.
	actionStreams = `    request_logs:
      enabled: false
    action_logs:
      enabled: true
    action_steps:
      enabled: true
`
)

// TestActionStepsArriveOnceWithTheirRun runs the distribution with action_logs and action_steps on, stops it
// gracefully in the middle of the backfill and starts it again: every step the fake served is exported exactly
// once, and the run each names (stackone.action_run_id) is the run of an exported action log.
func TestActionStepsArriveOnceWithTheirRun(t *testing.T) {
	bin := e2etest.CollectorBinary(t, "test-e2e", "./e2e/")
	started := time.Now()
	dir := t.TempDir()
	fake := stackonefake.New(stackonefake.Options{APIKey: apiKey, ActionSteps: true})
	actions := fake.GenerateActionLogs(actionRuns, time.Now().Add(-59*time.Minute), 57*time.Minute/actionRuns, 43)
	wantRuns := map[string]bool{}
	wantSteps := map[string]string{} // step_id -> action_run_id
	for _, a := range actions {
		run := a["action_run_id"].(string)
		wantRuns[run] = true
		for _, s := range stackonefake.StepsFor(a) {
			wantSteps[s["step_id"].(string)] = run
		}
	}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)

	steps := map[string]int{}      // step_id -> times exported
	stepRun := map[string]string{} // step_id -> the run its first record named
	runs := map[string]int{}       // action_run_id of action-log records -> times exported
	var unexpected []string
	out := &exportFile{path: filepath.Join(dir, "export.jsonl"), count: map[string]int{}, records: map[string]plog.LogRecord{},
		others: func(lr plog.LogRecord) {
			attr := func(k string) string {
				if v, ok := lr.Attributes().Get(k); ok {
					return v.AsString()
				}
				return ""
			}
			switch lr.EventName() {
			case actionStepEvent:
				id := attr("stackone.step_id")
				if steps[id] == 0 {
					stepRun[id] = attr("stackone.action_run_id")
				}
				steps[id]++
			case actionLogEvent:
				runs[attr("stackone.action_run_id")]++
			default:
				unexpected = append(unexpected, lr.EventName())
			}
		}}
	h := &harness{t: t, bin: bin, dir: dir, want: map[string]map[string]any{}, out: out}
	h.setUp("collector", collectorConfig(srv.URL, filepath.Join(dir, "storage"), out.path, actionStreams))

	first := h.start()
	h.waitFor(first, startTimeout, fmt.Sprintf("at least %d steps exported by the first run", killAfter), func() bool {
		return len(steps) >= killAfter
	})
	first.stop(syscall.SIGTERM)
	h.out.read(t)
	t.Logf("stopped after %d of %d steps and %d of %d action logs", len(steps), len(wantSteps), len(runs), len(wantRuns))
	if len(steps) >= len(wantSteps) {
		t.Fatalf("the steps were all read before the collector was stopped (%d): nothing was left to resume; lower requestsPerMinute", len(steps))
	}

	second := h.start()
	h.waitFor(second, runTimeout, fmt.Sprintf("all %d steps and %d action logs exported after the restart", len(wantSteps), len(wantRuns)), func() bool {
		return len(steps) >= len(wantSteps) && len(runs) >= len(wantRuns)
	})
	second.stop(syscall.SIGTERM)
	h.out.read(t)

	if len(unexpected) > 0 {
		t.Errorf("records of other streams were exported: %v", unexpected[:min(5, len(unexpected))])
	}
	var missing, twice, strangers, unlinked int
	for id, run := range wantSteps {
		switch n := steps[id]; {
		case n == 0:
			missing++
		case n > 1:
			twice++
		case stepRun[id] != run || runs[run] == 0:
			unlinked++
			if unlinked <= 5 {
				t.Errorf("step %s names run %q; it belongs to %q, exported %d times as an action log", id, stepRun[id], run, runs[run])
			}
		}
	}
	for id := range steps {
		if _, ok := wantSteps[id]; !ok {
			strangers++
		}
	}
	for run, n := range runs {
		if !wantRuns[run] || n != 1 {
			t.Errorf("action log of run %q exported %d times", run, n)
		}
	}
	if missing+twice+strangers+unlinked > 0 {
		t.Errorf("of %d steps: %d never exported, %d exported more than once, %d not served by the fake, %d not linked to their run's action log",
			len(wantSteps), missing, twice, strangers, unlinked)
	}
	t.Logf("%d steps of %d runs exported once each, each linked to its run's action log, in %s", len(wantSteps), len(wantRuns), time.Since(started).Round(time.Millisecond))
}
