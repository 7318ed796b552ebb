// Package e2e runs the built otelcol-stackone distribution as a process against an in-process fake of
// StackOne's API and checks, from what the contrib file exporter wrote, that a collector killed or stopped in
// the middle of a backfill loses nothing on restart and duplicates at most one page.
//
// It needs the binary: `make test-e2e` builds it and sets OTELCOL_STACKONE_BIN. Without that variable every
// test here is skipped, so `go test ./...` stays fast.
package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/stackone-otel/otelcol-stackone/e2e/internal/e2etest"
	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
)

const (
	// requestLogEvent is the EventName of the records this test follows.
	requestLogEvent = "stackone.request_log"
	apiKey          = "e2e-key"
	// backfill is how many request logs the fake holds, spread over the last hour.
	backfill = 1500
	pageSize = 50
	// requestsPerMinute lets the receiver send 20 calls at once and then 20 every 10 s (a sixth of the budget
	// per 10 s), so the backfill of about 40 calls (30 pages, split by the catch-up slices) spans two pauses and a
	// kill "mid-backfill" has seconds of room rather than milliseconds.
	requestsPerMinute = 120
	// killAfter is how many distinct ids must be exported before the first run is stopped: several pages, so a
	// restart that ignored its stored position would re-export far more than one page and fail the test.
	killAfter = 4 * pageSize
	// catchUpConcurrency slices read the hour of backfill at once (it is more than 10 minutes behind).
	catchUpConcurrency = 2

	startTimeout = 30 * time.Second // first ids exported after start
	runTimeout   = 60 * time.Second // every id exported after a restart
	stopTimeout  = 20 * time.Second // a SIGTERM'ed collector exits
	pollEvery    = 20 * time.Millisecond
)

// TestRestartMidBackfill stops the collector in the middle of a backfill, once abruptly and once gracefully,
// restarts it on the same storage directory and output file, and checks what reached the file.
func TestRestartMidBackfill(t *testing.T) {
	bin := e2etest.CollectorBinary(t, "test-e2e", "./e2e/")
	for _, tc := range []struct {
		name   string
		signal syscall.Signal
		// maxDuplicates bounds the records exported twice. After SIGKILL one page per reader (each catch-up
		// worker, and the live read beside them) may have been written by the exporter but not yet
		// checkpointed by the receiver; a graceful stop finishes and saves the pages in flight.
		maxDuplicates int
	}{
		{"SIGKILL", syscall.SIGKILL, (catchUpConcurrency + 1) * pageSize},
		{"SIGTERM", syscall.SIGTERM, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			started := time.Now()
			h := newHarness(t, bin)

			first := h.start()
			h.waitFor(first, startTimeout, fmt.Sprintf("at least %d ids exported by the first run", killAfter), func() bool {
				return len(h.out.count) >= killAfter
			})
			first.stop(tc.signal)
			h.out.read(t)
			exported := len(h.out.count)
			t.Logf("%s after %d of %d ids (%d records)", tc.name, exported, backfill, h.out.total)
			if exported >= backfill {
				t.Fatalf("the backfill finished before the collector was stopped (%d ids): nothing was left to resume; lower requestsPerMinute", exported)
			}

			second := h.start()
			h.waitFor(second, runTimeout, fmt.Sprintf("all %d ids exported after the restart", backfill), func() bool {
				return h.out.missing(h.want) == 0
			})
			// Stop before the final count: duplicates written after "all present" must be counted too.
			second.stop(syscall.SIGTERM)
			h.out.read(t)

			h.checkIDs(tc.maxDuplicates)
			h.checkRecords()
			t.Logf("%s: %d ids, %d records, %d duplicates, %s", tc.name, len(h.out.count), h.out.total, h.out.duplicates(), time.Since(started).Round(time.Millisecond))
		})
	}
}

// harness is one fake API, one storage directory and one output file, shared by successive collector runs.
type harness struct {
	t      *testing.T
	bin    string
	dir    string
	config string
	log    *os.File
	want   map[string]map[string]any // request_id -> entry as the fake serves it
	out    *exportFile
	env    []string // added to the collector's environment
}

func newHarness(t *testing.T, bin string) *harness {
	t.Helper()
	dir := t.TempDir()
	fake := stackonefake.New(stackonefake.Options{APIKey: apiKey})
	// Inside the receiver's default 1h initial_lookback, with a minute of margin at both ends.
	from := time.Now().Add(-59 * time.Minute)
	step := 57 * time.Minute / backfill
	entries := fake.GenerateRequestLogs(backfill, from, step, 42)
	want := make(map[string]map[string]any, len(entries))
	for _, e := range entries {
		id, _ := e["request_id"].(string)
		if id == "" {
			t.Fatalf("generated entry without request_id: %v", e)
		}
		want[id] = e
	}
	if len(want) != backfill {
		t.Fatalf("fake generated %d distinct ids, want %d", len(want), backfill)
	}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)

	h := &harness{
		t:    t,
		bin:  bin,
		dir:  dir,
		want: want,
		out:  &exportFile{path: filepath.Join(dir, "export.jsonl"), count: map[string]int{}, records: map[string]plog.LogRecord{}},
	}
	h.setUp("collector", collectorConfig(srv.URL, filepath.Join(dir, "storage"), h.out.path))
	return h
}

// setUp writes the collector's config as <name>.yaml and opens <name>.log for its output, shown if the test fails.
func (h *harness) setUp(name, config string) {
	t := h.t
	t.Helper()
	h.config = filepath.Join(h.dir, name+".yaml")
	if err := os.WriteFile(h.config, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(h.dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	h.log = logFile
	t.Cleanup(func() {
		_ = logFile.Close()
		if t.Failed() {
			h.dumpLog()
		}
	})
}

// collectorConfig: the stackone receiver paced through a backfill, its position in file_storage, and the
// file exporter writing one OTLP/JSON line per ConsumeLogs.
//
// The file exporter gets a `rotation` section on purpose. Without one (the `append: true` set-up) it writes
// through a 4 KiB bufio.Writer flushed every flush_interval (default 1s): the tail of a payload and its
// newline can sit in process memory after ConsumeLogs has returned and the receiver has checkpointed, so a
// SIGKILL can cut the last line short and lose those records. That is the exporter's property, not the
// receiver's. With `rotation` it writes straight to the file (timberjack, no buffer), so a record is in the
// OS before ConsumeLogs returns, and timberjack appends to an existing file, which a restart needs.
//
// streams, when given, is YAML added under the receiver (which streams to read).
func collectorConfig(endpoint, storageDir, outPath string, streams ...string) string {
	return fmt.Sprintf(`receivers:
  stackone:
    endpoint: %q
    api_key: %q
    page_size: %d
    poll_interval: 1s
    initial_lookback: 1h
    max_requests_per_minute: %d
    catch_up:
      concurrency: %d
    storage: file_storage
%s
extensions:
  file_storage:
    directory: %q
    create_directory: true

exporters:
  file:
    path: %q
    format: json
    rotation:
      max_megabytes: 1024

service:
  extensions: [file_storage]
  telemetry:
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [stackone]
      exporters: [file]
`, endpoint, apiKey, pageSize, requestsPerMinute, catchUpConcurrency, strings.Join(streams, ""), storageDir, outPath)
}

// process is one run of the collector.
type process struct {
	h    *harness
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func (h *harness) start() *process {
	h.t.Helper()
	fmt.Fprintf(h.log, "==== start %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(h.bin, "--config", h.config)
	cmd.Env = append(os.Environ(), h.env...)
	cmd.Stdout, cmd.Stderr = h.log, h.log
	if err := cmd.Start(); err != nil {
		h.t.Fatalf("starting %s: %v", h.bin, err)
	}
	p := &process{h: h, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	h.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop signals the process and waits for it to exit. A SIGTERM'ed collector must exit cleanly.
func (p *process) stop(sig syscall.Signal) {
	t := p.h.t
	t.Helper()
	if p.exited() {
		t.Fatalf("the collector exited before it was stopped: %v", p.err)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("sending %s: %v", sig, err)
	}
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("the collector did not exit within %s of %s", stopTimeout, sig)
	}
	fmt.Fprintf(p.h.log, "==== stopped with %s: %v\n", sig, p.err)
	if sig == syscall.SIGTERM && p.err != nil {
		t.Fatalf("the collector did not exit cleanly on SIGTERM: %v", p.err)
	}
}

// waitFor re-reads the export file until cond holds, failing at the deadline or as soon as the collector
// run p has exited.
func (h *harness) waitFor(p *process, timeout time.Duration, what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		h.out.read(h.t)
		if cond() {
			return
		}
		if p.exited() {
			h.t.Fatalf("the collector exited (%v) while waiting for %s: %d of %d ids exported", p.err, what, len(h.out.count), len(h.want))
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out after %s waiting for %s: %d of %d ids exported, %d records, %d missing, %d records with an EventName other than %s",
				timeout, what, len(h.out.count), len(h.want), h.out.total, h.out.missing(h.want), h.out.other, requestLogEvent)
		}
		<-tick.C
	}
}

func (h *harness) dumpLog() {
	b, err := os.ReadFile(h.log.Name())
	if err != nil {
		return
	}
	if len(b) > 16<<10 {
		b = append([]byte("...\n"), b[len(b)-16<<10:]...)
	}
	h.t.Logf("collector output (%s):\n%s", h.log.Name(), b)
}

// checkIDs: every id the fake served was exported, nothing else was, and duplicates stay within the bound.
func (h *harness) checkIDs(maxDuplicates int) {
	t := h.t
	t.Helper()
	if n := h.out.missing(h.want); n > 0 {
		t.Errorf("%d of %d ids were never exported", n, len(h.want))
	}
	for id := range h.out.count {
		if _, ok := h.want[id]; !ok {
			t.Errorf("exported an id the fake never served: %q", id)
		}
	}
	if d := h.out.duplicates(); d > maxDuplicates {
		t.Errorf("%d records were exported twice or more, want at most %d", d, maxDuplicates)
	}
}

// checkRecords compares every exported record with the entry it came from.
func (h *harness) checkRecords() {
	t := h.t
	t.Helper()
	var infos, errs, bad, explained int
	for id, lr := range h.out.records {
		e := h.want[id]
		if e == nil {
			continue // reported by checkIDs
		}
		status := e["status"].(int)
		wantSev, wantText := plog.SeverityNumberInfo, "INFO"
		if status >= 400 {
			wantSev, wantText = plog.SeverityNumberError, "ERROR"
			errs++
		} else {
			infos++
		}
		wantTime, err := time.Parse(time.RFC3339Nano, e["event_datetime"].(string))
		if err != nil {
			t.Fatalf("entry %s: event_datetime: %v", id, err)
		}
		attrs := lr.Attributes()
		var problems []string
		check := func(what string, got, want any) {
			if got != want {
				problems = append(problems, fmt.Sprintf("%s = %v, want %v", what, got, want))
			}
		}
		check("severity number", lr.SeverityNumber(), wantSev)
		check("severity text", lr.SeverityText(), wantText)
		check("timestamp", lr.Timestamp().AsTime().UTC(), wantTime.UTC())
		check("http.request.method", attrStr(attrs, "http.request.method"), e["http_method"])
		check("http.response.status_code", attrInt(attrs, "http.response.status_code"), int64(status))
		check("url.full", attrStr(attrs, "url.full"), e["url"])
		// A failed request is explained by its detail, or says why it is not.
		switch detail := attrStr(attrs, "stackone.detail"); {
		case status < 400:
			check("stackone.detail", detail, "<absent>")
		case detail == "fetched":
			explained++
			if msg := attrStr(attrs, "stackone.provider_error.message"); msg == "<absent>" || msg == "" {
				problems = append(problems, "fetched detail without stackone.provider_error.message")
			}
		case detail != "skipped_budget" && detail != "failed":
			problems = append(problems, fmt.Sprintf("stackone.detail = %v, want fetched, failed or skipped_budget", detail))
		}
		if len(problems) > 0 {
			bad++
			if bad <= 5 {
				t.Errorf("record %s (status %d): %s", id, status, strings.Join(problems, "; "))
			}
		}
	}
	if bad > 5 {
		t.Errorf("... %d records in all did not match their entries", bad)
	}
	if infos == 0 || errs == 0 {
		t.Errorf("the sample should hold both outcomes: %d INFO, %d ERROR records", infos, errs)
	}
	if explained == 0 {
		t.Errorf("no failed request was sent with its provider's message (of %d failed)", errs)
	}
	t.Logf("%d of %d failed requests sent with their provider's message", explained, errs)
	h.checkNoSecrets()
}

// checkNoSecrets: no credential the fake plants (in the detail of failed requests, in every request's
// headers) reaches the export, at any depth.
func (h *harness) checkNoSecrets() {
	h.t.Helper()
	raw, err := os.ReadFile(h.out.path)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, secret := range []string{stackonefake.PlantedSecret, "Bearer secret-", "session="} {
		if n := bytes.Count(raw, []byte(secret)); n > 0 {
			h.t.Errorf("the export holds %q %d times", secret, n)
		}
	}
}

func attrStr(m pcommon.Map, k string) any {
	v, ok := m.Get(k)
	if !ok {
		return "<absent>"
	}
	return v.Str()
}

func attrInt(m pcommon.Map, k string) any {
	v, ok := m.Get(k)
	if !ok {
		return "<absent>"
	}
	return v.Int()
}

// exportFile reads what the file exporter appended since the last read. Only complete lines are parsed; a
// line is a stream of JSON values rather than exactly one, because a collector killed between writing a
// payload and its newline leaves two payloads on one line once the next run appends.
type exportFile struct {
	path    string
	offset  int64
	partial []byte
	total   int                       // request-log records read, duplicates included
	other   int                       // records of other event names, ignored
	count   map[string]int            // stackone.request_id -> times exported
	records map[string]plog.LogRecord // first record exported per id
	// others, when set, is handed every record of another event name (a test following other streams).
	others func(plog.LogRecord)
}

func (f *exportFile) read(t *testing.T) {
	t.Helper()
	fh, err := os.Open(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fh.Close() }()
	if _, err := fh.Seek(f.offset, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(fh)
	if err != nil {
		t.Fatal(err)
	}
	f.offset += int64(len(b))
	f.partial = append(f.partial, b...)
	end := bytes.LastIndexByte(f.partial, '\n')
	if end < 0 {
		return
	}
	complete := f.partial[:end+1]
	dec := json.NewDecoder(bytes.NewReader(complete))
	var u plog.JSONUnmarshaler
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("%s is not OTLP/JSON lines: %v", f.path, err)
		}
		ld, err := u.UnmarshalLogs(raw)
		if err != nil {
			t.Fatalf("%s: a line is not OTLP/JSON logs: %v", f.path, err)
		}
		f.add(t, ld)
	}
	f.partial = append([]byte(nil), f.partial[end+1:]...)
}

func (f *exportFile) add(t *testing.T, ld plog.Logs) {
	t.Helper()
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				// Only request logs are generated; other streams the receiver polls (action logs, ...) find
				// nothing in the fake, and anything they did emit is not what this test measures.
				if lr.EventName() != requestLogEvent {
					f.other++
					if f.others != nil {
						f.others(lr)
					}
					continue
				}
				f.total++
				v, ok := lr.Attributes().Get("stackone.request_id")
				if !ok {
					t.Fatalf("exported record without stackone.request_id: %v", lr.Attributes().AsRaw())
				}
				id := v.Str()
				if f.count[id] == 0 {
					f.records[id] = lr
				}
				f.count[id]++
			}
		}
	}
}

func (f *exportFile) missing(want map[string]map[string]any) int {
	n := 0
	for id := range want {
		if f.count[id] == 0 {
			n++
		}
	}
	return n
}

func (f *exportFile) duplicates() int {
	return f.total - len(f.count)
}
