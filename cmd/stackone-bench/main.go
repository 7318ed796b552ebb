// Command stackone-bench measures the built otelcol-stackone distribution end to end, and the Python sync
// worker of StackOne's observability guide beside it, against the bundled fake StackOne API in one run.
//
// One run: start the fake (with per-call latency, random faults and a log of every call), load a backlog,
// optionally add live traffic with late arrivals, run the collector as a child process exporting OTLP/HTTP to a
// sink in this process, watch its CPU, memory and disk writes in /proc, scrape its own metrics, then (for
// backfills) run the Python worker on the same backlog. It prints a table and one `BENCH_JSON {...}` line;
// `stackone-bench summarize` turns several runs' lines into medians (scripts/bench-e2e.sh).
//
//	go run ./cmd/stackone-bench -scenario backfill -backlog 200000
//	go run ./cmd/stackone-bench -scenario busy -duration 8m -harsh-exporter
//	go run ./cmd/stackone-bench -scenario catchup-repeat
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
)

const apiKey = "bench-key"

// settings is one run's scenario after presets and flags.
type settings struct {
	Scenario      string
	Logs          string // which stream the backlog and live traffic are: requests or actions
	Bin           string
	Python        string
	Worker        string
	PythonPage    string
	Backlog       int
	BacklogSpan   time.Duration
	Rate          float64
	LateFraction  float64
	MaxLate       time.Duration
	Latency       time.Duration
	FaultRate     float64
	RepeatRate    float64
	RandomFaults  bool
	Duration      time.Duration
	StragglerWait time.Duration
	Timeout       time.Duration
	Overrides     map[string]string
	ExtraYAML     string
	ExporterYAML  string
	CPUProfile    string
	HarshExporter bool
	ActionLogs    bool
	WithPython    bool
	CompareFaults bool
	DefaultBudget int
	Seed          int64
	WorkDir       string
	Keep          bool
}

// presets are the bench scenarios. backfill, busy, catchup and faults, which `make bench-e2e` runs by default,
// are at sizes that keep it short, with flags for the full sizes; catchup-repeat, catchup-actions, cpu and
// cpu-defaults are at the sizes their figures are quoted at.
var presets = map[string]settings{
	// CPU per record against the Python worker: no latency, no live traffic, a budget that does not limit.
	"backfill": {Backlog: 50000, BacklogSpan: 30 * time.Minute, Timeout: 5 * time.Minute, WithPython: true,
		Overrides: map[string]string{"max_requests_per_minute": "1000"}},
	// A busy account on the receiver's defaults.
	"busy": {Rate: 50, LateFraction: 0.1, MaxLate: 60 * time.Second, Latency: 200 * time.Millisecond,
		Duration: time.Minute, StragglerWait: 90 * time.Second, Timeout: 5 * time.Minute},
	// Far behind: hours of backlog, slow calls, a budget of 600/min. Pages of 100 make the catch-up last about
	// a minute at the budget, long enough to measure a rate, with a backlog the in-process fake serves without
	// becoming the bottleneck itself (600 pages of 1000 a minute would be).
	"catchup": {Backlog: 36000, BacklogSpan: 6 * time.Hour, Latency: 300 * time.Millisecond, Timeout: 5 * time.Minute,
		Overrides: map[string]string{"max_requests_per_minute": "600", "initial_lookback": "6h30m", "page_size": "100"}},
	// One call in four fails; the same backlog without faults first, for the ratio. 100 pages of the default 100
	// entries, with the sweeps' calls, are more than the default budget of 100 a minute, so both runs are paced
	// as a real backfill is, rather than finishing in the first minute's allowance where any wait at all dominates.
	"faults": {Backlog: 10000, BacklogSpan: 30 * time.Minute, FaultRate: 0.25, CompareFaults: true, Timeout: 5 * time.Minute},
	// A day of request logs read from 72 hours back in parallel catch-up slices, through an API that
	// repeats the entry at a cursor boundary on one continued page in five and fails one call in ten (429 with
	// Retry-After, 5xx, a cut-off body in turn). Receiver otherwise on its defaults, budget 100/min.
	"catchup-repeat": {Backlog: 22250, BacklogSpan: 24 * time.Hour, FaultRate: 0.1, RepeatRate: 0.2, Timeout: 20 * time.Minute,
		Overrides: map[string]string{"initial_lookback": "72h", "page_size": "100"}},
	// The same for action logs (keyset paging by time): 5,000 over a day, then 5 minutes of live
	// traffic at 1/s with one in ten up to a minute late, about 5,300 in all.
	"catchup-actions": {Logs: "actions", Backlog: 5000, BacklogSpan: 24 * time.Hour, Rate: 1, LateFraction: 0.1,
		MaxLate: 60 * time.Second, Duration: 5 * time.Minute, StragglerWait: 90 * time.Second, FaultRate: 0.1, RepeatRate: 0.2,
		Timeout: 20 * time.Minute, Overrides: map[string]string{"initial_lookback": "72h", "page_size": "100"}},
	// CPU per record against the Python worker: the guide's backfill, 200k request logs in pages of 100, the collector exporting
	// OTLP/HTTP protobuf without compression (presetExporter), the Python worker beside it.
	"cpu": {Backlog: 200000, BacklogSpan: 30 * time.Minute, Timeout: 15 * time.Minute, WithPython: true,
		Overrides: map[string]string{"max_requests_per_minute": "1000", "page_size": "100"}},
	// The same backlog with the receiver and the exporter on their own defaults (page_size 100, budget 100/min,
	// gzip level 6, sending queue on); the Python worker reads pages of 100 too, as the guide's does. At 100 calls
	// a minute the 2,000 pages alone take 20 minutes, and the sweeps re-read the backlog's newest minutes.
	"cpu-defaults": {Backlog: 200000, BacklogSpan: 30 * time.Minute, Timeout: time.Hour, WithPython: true},
	// Nothing preset: every knob from flags.
	"custom": {Backlog: 10000, BacklogSpan: 30 * time.Minute, Timeout: 5 * time.Minute},
}

// presetExporter is the exporter YAML of the presets that do not export as config.example.yaml ships.
var presetExporter = map[string]string{
	"cpu":          "compression: none",
	"cpu-defaults": "",
}

// harshExporterYAML is an exporter that hands nothing off: no sending queue, so every export blocks the
// receiver until the sink answers, and no compression.
const harshExporterYAML = "compression: none\nsending_queue:\n  enabled: false"

func scenarioNames() string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "summarize" {
		if err := summarize(os.Args[2:], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "stackone-bench summarize:", err)
			os.Exit(1)
		}
		return
	}
	s, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "stackone-bench:", err)
		os.Exit(2)
	}
	rep, err := run(s)
	if rep != nil {
		rep.print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "stackone-bench:", err)
		os.Exit(1)
	}
}

// scenarioArg finds -scenario before the flags are defined, so its preset can supply their defaults.
func scenarioArg(args []string) string {
	for i, a := range args {
		a = strings.TrimPrefix(a, "-")
		a = strings.TrimPrefix(a, "-")
		if v, ok := strings.CutPrefix(a, "scenario="); ok {
			return v
		}
		if a == "scenario" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return "backfill"
}

func parseFlags(args []string, out io.Writer) (settings, error) {
	name := scenarioArg(args)
	p, ok := presets[name]
	if !ok {
		return settings{}, fmt.Errorf("unknown scenario %q: use one of %s", name, scenarioNames())
	}
	s := p
	s.Overrides = map[string]string{}
	for k, v := range p.Overrides {
		s.Overrides[k] = v
	}
	exporter := shippedExporterYAML
	if e, ok := presetExporter[name]; ok {
		exporter = e
	}

	fs := flag.NewFlagSet("stackone-bench", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&s.Scenario, "scenario", name, scenarioNames()+": the preset for every other flag's default")
	fs.StringVar(&s.Logs, "logs", orDefault(s.Logs, "requests"), "what the backlog and live traffic are: requests (request logs, told apart by stackone.request_id) or actions (action logs, by stackone.log_id; turns the action-logs stream on)")
	fs.StringVar(&s.Bin, "bin", "_build/otelcol-stackone", "the built distribution")
	fs.StringVar(&s.Python, "python", "python3", "Python interpreter for the baseline")
	fs.StringVar(&s.Worker, "worker", "scripts/bench/sync_worker.py", "the Python sync worker")
	fs.StringVar(&s.PythonPage, "python-page-size", "", "the Python worker's page_size (default: the receiver's page_size when set, else 100 as in StackOne's guide)")
	fs.IntVar(&s.Backlog, "backlog", s.Backlog, "request logs in the API before the collector starts")
	fs.DurationVar(&s.BacklogSpan, "backlog-span", s.BacklogSpan, "the backlog's event times span this much time up to a minute ago")
	fs.Float64Var(&s.Rate, "rate", s.Rate, "live request logs added per second")
	fs.Float64Var(&s.LateFraction, "late-fraction", s.LateFraction, "share of live logs indexed late")
	fs.DurationVar(&s.MaxLate, "max-late", s.MaxLate, "a late log's event time is up to this much before it becomes visible")
	fs.DurationVar(&s.Latency, "latency", s.Latency, "added to every API call")
	fs.Float64Var(&s.FaultRate, "fault-rate", s.FaultRate, "share of API calls that fail, evenly spread (0.25: every 4th): 429 with Retry-After: 1, 5xx and a cut-off body in turn")
	fs.Float64Var(&s.RepeatRate, "repeat-rate", s.RepeatRate, "share of continued reads (a `next` cursor; an action-log query with a start_time) that the API answers with the entry the read before ended on, as well as the new ones")
	fs.BoolVar(&s.RandomFaults, "random-faults", false, "draw which calls fail, and how, at random (seeded) instead of evenly")
	fs.BoolVar(&s.CompareFaults, "compare-faults", s.CompareFaults, "first read the same backlog without faults, and report the ratio of the rates")
	fs.DurationVar(&s.Duration, "duration", s.Duration, "how long live traffic runs")
	fs.DurationVar(&s.StragglerWait, "straggler-wait", s.StragglerWait, "after live traffic stops, wait at most this long for the rest")
	fs.DurationVar(&s.Timeout, "timeout", s.Timeout, "give up on a backlog this long after the first API call")
	for _, k := range []struct{ flag, key string }{
		{"page-size", "page_size"},
		{"max-rpm", "max_requests_per_minute"},
		{"initial-lookback", "initial_lookback"},
		{"poll-interval", "poll_interval"},
		{"late-window", "late_arrival_window"},
	} {
		fs.Func(k.flag, fmt.Sprintf("receiver %s (default: %s)", k.key, orDefault(s.Overrides[k.key], "the receiver's own")), func(v string) error {
			if v == "" {
				delete(s.Overrides, k.key)
			} else {
				s.Overrides[k.key] = v
			}
			return nil
		})
	}
	fs.StringVar(&s.ExtraYAML, "receiver-yaml", "", "more YAML for the receiver block, e.g. 'catch_up: {concurrency: 4}'")
	yamlFile := fs.String("receiver-yaml-file", "", "a file of YAML for the receiver block")
	fs.StringVar(&s.ExporterYAML, "exporter-yaml", exporter, "more YAML for the otlp_http exporter block; the default is what config.example.yaml ships (the cpu presets: their own), '' leaves the exporter on its own defaults (gzip level 6)")
	fs.StringVar(&s.CPUProfile, "cpu-profile", "", "write the collector's CPU profile to this file at its shutdown (pprof extension, save_to_file); every collector phase and run overwrites it, so use it with RUNS=1 and one scenario; read it with go tool pprof")
	fs.BoolVar(&s.HarshExporter, "harsh-exporter", false, "export without a sending queue and without compression ("+strings.ReplaceAll(harshExporterYAML, "\n", " ")+"), plus any -exporter-yaml given")
	fs.BoolVar(&s.ActionLogs, "action-logs", false, "leave the action-logs stream on (with -logs requests the fake holds none)")
	fs.BoolVar(&s.WithPython, "with-python", s.WithPython, "run the Python sync worker on the same backlog after the collector")
	fs.IntVar(&s.DefaultBudget, "default-budget", 100, "the receiver's default max_requests_per_minute, to check against when not overridden")
	fs.Int64Var(&s.Seed, "seed", 1, "seed for generated logs and faults")
	fs.StringVar(&s.WorkDir, "workdir", "", "directory for configs, storage and logs (default: a new temporary one)")
	fs.BoolVar(&s.Keep, "keep", false, "keep the work directory")
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if fs.NArg() > 0 {
		return s, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if _, ok := logKinds[s.Logs]; !ok {
		return s, fmt.Errorf("-logs %q: use requests or actions", s.Logs)
	}
	if s.Logs == "actions" {
		s.ActionLogs = true
	}
	if s.HarshExporter {
		given := false
		fs.Visit(func(f *flag.Flag) { given = given || f.Name == "exporter-yaml" })
		extra := ""
		if given {
			extra = s.ExporterYAML
		}
		s.ExporterYAML = strings.TrimRight(harshExporterYAML+"\n"+extra, "\n")
	}
	if *yamlFile != "" {
		b, err := os.ReadFile(*yamlFile)
		if err != nil {
			return s, err
		}
		s.ExtraYAML = strings.TrimRight(s.ExtraYAML+"\n"+string(b), "\n")
	}
	if s.Backlog == 0 && s.Rate <= 0 {
		return s, errors.New("nothing to read: set -backlog or -rate")
	}
	if s.WithPython && s.Backlog == 0 {
		return s, errors.New("-with-python needs a backlog (the worker syncs once, to the end)")
	}
	if s.WithPython && s.Logs != "requests" {
		return s, errors.New("-with-python needs -logs requests (the guide's worker reads request logs only)")
	}
	return s, nil
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// bench is the state shared by the phases of one run.
type bench struct {
	s          settings
	kind       logKind
	work       string
	fake       *stackonefake.Server
	api        *apiFront
	apiURL     string
	apiIn      atomic.Int64 // bytes producers wrote to the API
	backlog    map[string]time.Time
	backlogIDs []string
	since      time.Time // the backlog's first event time
}

func run(s settings) (*report, error) {
	bin, err := filepath.Abs(s.Bin)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s: %w (build it with `make build`)", s.Bin, err)
	}
	s.Bin = bin
	work := s.WorkDir
	if work == "" {
		if work, err = os.MkdirTemp("", "stackone-bench-"); err != nil {
			return nil, err
		}
		if !s.Keep {
			defer func() { _ = os.RemoveAll(work) }()
		}
	}
	b := &bench{s: s, kind: logKinds[s.Logs], work: work, backlog: map[string]time.Time{}}
	b.fake = stackonefake.New(stackonefake.Options{APIKey: apiKey})
	b.api = newAPIFront(b.fake, s.Seed)
	b.api.setLatency(s.Latency)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: b.api, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(countingListener{Listener: ln, n: &b.apiIn}) }()
	defer func() { _ = srv.Close() }()
	b.apiURL = "http://" + ln.Addr().String()

	b.loadBacklog()
	rep := &report{Settings: s, Started: time.Now(), Work: work}
	if s.Keep || s.WorkDir != "" {
		fmt.Fprintf(os.Stderr, "work directory: %s\n", work)
	}

	if s.CompareFaults {
		ph, err := b.runCollector("collector_nofaults", 0)
		rep.add(ph)
		if err != nil {
			return rep, err
		}
	}
	name := "collector"
	if s.CompareFaults {
		name = "collector_faults"
	}
	ph, err := b.runCollector(name, s.FaultRate)
	rep.add(ph)
	if err != nil {
		return rep, err
	}
	if s.WithPython {
		ph, err := b.runPython()
		rep.add(ph)
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// loadBacklog fills the fake with logs of the bench's kind in chunks (the driver keeps only ids), event times
// spread over the span ending a minute ago.
func (b *bench) loadBacklog() {
	n := b.s.Backlog
	if n <= 0 {
		return
	}
	now := time.Now()
	b.since = now.Add(-b.s.BacklogSpan)
	step := (b.s.BacklogSpan - time.Minute) / time.Duration(n)
	const chunk = 10000
	b.backlogIDs = make([]string, 0, n)
	for i := 0; i < n; i += chunk {
		m := min(chunk, n-i)
		for _, id := range b.kind.generate(b.fake, m, b.since.Add(time.Duration(i)*step), step, b.s.Seed) {
			b.backlogIDs = append(b.backlogIDs, id)
			b.backlog[id] = now
		}
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startSink serves a new sink that tells records apart by idAttr; in counts the bytes producers sent it.
func startSink(in *atomic.Int64, idAttr string) (*sink, *http.Server, string, error) {
	snk := newSink(idAttr)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, "", err
	}
	srv := &http.Server{Handler: snk, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(countingListener{Listener: ln, n: in}) }()
	return snk, srv, "http://" + ln.Addr().String(), nil
}

// procStart is what is sampled from a producer when it makes its first API call: from then on its CPU and disk
// writes count, so neither the collector's start-up nor the interpreter's is charged to the records.
type procStart struct {
	at  time.Time
	cpu time.Duration
	ok  bool
	io  ioSample
}

// ioSample is the collector's write counters beside the bytes the driver saw it write to sockets and its log:
// the difference is what it wrote to files, i.e. the storage extension.
type ioSample struct {
	proc                  ioCounters
	apiIn, sinkIn, logOut int64
	ok                    bool
}

// fileWrites is what went to files between two samples.
func fileWrites(a, b ioSample) int64 {
	sockets := (b.apiIn - a.apiIn) + (b.sinkIn - a.sinkIn) + (b.logOut - a.logOut)
	return max(b.proc.Chars-a.proc.Chars-sockets, 0)
}

func (b *bench) pythonPageSize() string {
	return orDefault(b.s.PythonPage, orDefault(b.s.Overrides["page_size"], "100"))
}

func (b *bench) budget() int {
	var n int
	if _, err := fmt.Sscan(b.s.Overrides["max_requests_per_minute"], &n); err == nil && n > 0 {
		return n
	}
	return b.s.DefaultBudget
}

const pollEvery = 20 * time.Millisecond

func (b *bench) runCollector(name string, faultRate float64) (*phase, error) {
	dir := filepath.Join(b.work, name)
	storage := filepath.Join(dir, "storage")
	// Every phase starts from an empty position, also in a -workdir used before: a stored one would resume
	// where that run stopped and measure a different workload.
	if err := os.RemoveAll(storage); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(storage, 0o755); err != nil {
		return nil, err
	}
	var sinkIn, logOut atomic.Int64
	snk, srv, sinkURL, err := startSink(&sinkIn, b.kind.idAttr)
	if err != nil {
		return nil, err
	}
	defer func() { _ = srv.Close() }()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg := collectorConfig{
		APIEndpoint: b.apiURL, APIKey: apiKey, StorageDir: storage, SinkURL: sinkURL, MetricsPort: port,
		Overrides: b.s.Overrides, ActionLogs: b.s.ActionLogs, ExtraYAML: b.s.ExtraYAML, ExporterYAML: b.s.ExporterYAML,
		CPUProfile: b.s.CPUProfile,
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg.render()), 0o600); err != nil {
		return nil, err
	}
	snk.expect(b.backlogIDs...)
	b.api.setFaultRate(faultRate, b.s.RandomFaults)
	defer b.api.setFaultRate(0, false)
	repeatRate := 0.0
	if faultRate > 0 || !b.s.CompareFaults {
		repeatRate = b.s.RepeatRate
	}
	b.fake.RepeatBoundaries(repeatRate)
	defer b.fake.RepeatBoundaries(0)
	repeatsBefore := b.fake.BoundaryRepeats()

	var pid atomic.Int64
	sampleIO := func(p int) ioSample {
		pc, err := procIO(p)
		return ioSample{proc: pc, apiIn: b.apiIn.Load(), sinkIn: sinkIn.Load(), logOut: logOut.Load(), ok: err == nil}
	}
	started := make(chan procStart, 1)
	calls := b.api.begin(func(t time.Time) {
		ps := procStart{at: t}
		if p := int(pid.Load()); p != 0 {
			c, err := procCPU(p)
			ps.cpu, ps.ok = c, err == nil
			ps.io = sampleIO(p)
		}
		started <- ps
	})
	logPath := filepath.Join(dir, "collector.log")
	begin := time.Now()
	c, err := startChild(logPath, &logOut, b.s.Bin, "--config", cfgPath)
	if err != nil {
		return nil, err
	}
	pid.Store(int64(c.pid()))
	defer c.stop(20 * time.Second)

	ph := &phase{Name: name, Producer: "collector", Budget: b.budget(), FaultRate: faultRate, Log: logPath}
	var ps procStart
	select {
	case ps = <-started:
	case <-c.done:
		return ph, fmt.Errorf("%s exited before calling the API: %v\n%s", name, c.err, tail(logPath, 30))
	case <-time.After(time.Minute):
		return ph, fmt.Errorf("%s made no API call within a minute\n%s", name, tail(logPath, 30))
	}

	stopProgress := progress(name, ps.at, snk, calls)
	defer stopProgress()
	vis := newVisibility()
	deadline := ps.at.Add(b.s.Timeout)
	if b.s.Rate > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			add := func(at time.Time) string { return b.kind.generate(b.fake, 1, at, 0, b.s.Seed+1)[0] }
			liveTraffic(ctx, add, b.s.Rate, b.s.LateFraction, b.s.MaxLate, b.s.Seed+1, func(id string, t time.Time) {
				vis.add(id, t)
				snk.expect(id)
			})
		}()
		trafficEnd := time.Now().Add(b.s.Duration)
		ph.TrafficStart = time.Now()
		for time.Now().Before(trafficEnd) && !c.exited() {
			time.Sleep(pollEvery)
		}
		cancel()
		<-done
		ph.TrafficEnd = time.Now()
		deadline = ph.TrafficEnd.Add(b.s.StragglerWait)
	}
	for snk.missing() > 0 && time.Now().Before(deadline) && !c.exited() {
		time.Sleep(pollEvery)
	}
	end := time.Now()
	stopProgress()
	if c.exited() {
		ph.Note = fmt.Sprintf("collector exited early: %v", c.err)
	}

	// Sampled before the stop: the figures are those of the work, not of the shutdown.
	if ps.ok && !c.exited() {
		if cpu, err := procCPU(c.pid()); err == nil {
			ph.CPU = cpu - ps.cpu
			ph.CPUKnown = true
		}
		if end := sampleIO(c.pid()); end.ok && ps.io.ok {
			ph.FileWrite = fileWrites(ps.io, end)
			ph.BlockWrite = end.proc.Block - ps.io.proc.Block
			ph.WritesKnown = true
		}
		if rss, err := peakRSS(c.pid()); err == nil {
			ph.PeakRSS = rss
		}
	}
	if samples, err := scrapeMetrics(fmt.Sprintf("http://127.0.0.1:%d/metrics", port)); err == nil {
		ph.Metrics = samples
	} else {
		ph.Note = strings.TrimPrefix(ph.Note+"; metrics: "+err.Error(), "; ")
	}
	c.stop(20 * time.Second)
	ph.Elapsed = time.Since(begin)
	var live map[string]time.Time
	if b.s.Rate > 0 {
		live = vis.snapshot()
	}
	ph.finish(calls, snk, live, b.backlog, ps.at, end)
	if n := b.fake.BoundaryRepeats() - repeatsBefore; n > 0 || repeatRate > 0 {
		ph.Faults["repeat"] = n
	}
	return ph, nil
}

func (b *bench) runPython() (*phase, error) {
	dir := filepath.Join(b.work, "python")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var sinkIn, logOut atomic.Int64
	snk, srv, sinkURL, err := startSink(&sinkIn, b.kind.idAttr)
	if err != nil {
		return nil, err
	}
	defer func() { _ = srv.Close() }()
	snk.expect(b.backlogIDs...)

	var pid atomic.Int64
	started := make(chan procStart, 1)
	calls := b.api.begin(func(t time.Time) {
		ps := procStart{at: t}
		if p := int(pid.Load()); p != 0 {
			c, err := procCPU(p)
			ps.cpu, ps.ok = c, err == nil
		}
		started <- ps
	})
	pageSize := b.pythonPageSize()
	logPath := filepath.Join(dir, "python.log")
	begin := time.Now()
	c, err := startChild(logPath, &logOut, b.s.Python, b.s.Worker,
		"--endpoint", b.apiURL, "--api-key", apiKey, "--otlp-endpoint", sinkURL,
		"--since", b.since.Add(-time.Second).UTC().Format("2006-01-02T15:04:05.000Z"),
		"--page-size", pageSize, "--once")
	if err != nil {
		return nil, err
	}
	pid.Store(int64(c.pid()))
	ph := &phase{Name: "python", Producer: "python", Log: logPath}
	stopProgress := progress("python", begin, snk, calls)
	defer stopProgress()
	// VmHWM, sampled while it runs: the exit rusage's maxrss would include the driver's own memory, which the
	// child shared between fork and exec.
	giveUp := time.Now().Add(b.s.Timeout + time.Minute)
	for !c.exited() {
		if rss, err := peakRSS(c.pid()); err == nil {
			ph.PeakRSS = max(ph.PeakRSS, rss)
		}
		if time.Now().After(giveUp) {
			c.stop(5 * time.Second)
			ph.Note = "python worker timed out"
			break
		}
		time.Sleep(pollEvery)
	}
	end := time.Now()
	ph.Elapsed = time.Since(begin)
	var ps procStart
	select {
	case ps = <-started:
	default:
		return ph, fmt.Errorf("the python worker made no API call: %v\n%s", c.err, tail(logPath, 30))
	}
	if c.err != nil && ph.Note == "" {
		ph.Note = fmt.Sprintf("python worker: %v: %s", c.err, tail(logPath, 1))
	}
	if ps.ok {
		ph.CPU = c.cpuAtExit() - ps.cpu
		ph.CPUKnown = true
	}
	ph.finish(calls, snk, nil, b.backlog, ps.at, end)
	return ph, nil
}

// progress reports on stderr every 15 s how far a phase got, so a long run is visibly alive.
func progress(name string, since time.Time, snk *sink, calls *callLog) (stop func()) {
	done := make(chan struct{})
	var once sync.Once
	go func() {
		t := time.NewTicker(15 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				tot := snk.totals()
				times, _, _ := calls.snapshot()
				fmt.Fprintf(os.Stderr, "  %s: %s, %d records (%d ids, %d still expected), %d API calls\n",
					name, time.Since(since).Round(time.Second), tot.Records, tot.Distinct, snk.missing(), len(times))
			}
		}
	}()
	return func() { once.Do(func() { close(done) }) }
}
