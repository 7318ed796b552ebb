package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// phase is one producer reading the API once: the collector (with or without faults) or the Python worker.
type phase struct {
	Name      string
	Producer  string
	Budget    int // requests per minute the producer must stay under; 0 = none
	FaultRate float64
	Log       string
	Note      string

	TrafficStart, TrafficEnd time.Time

	CPU         time.Duration // from the first API call to the end
	CPUKnown    bool
	FileWrite   int64 // bytes written to files (the storage), from the first API call to the end
	BlockWrite  int64 // of which the block layer saw this much
	WritesKnown bool
	PeakRSS     int64
	Metrics     []promSample
	Elapsed     time.Duration // process start to the end of the phase

	Expected, Delivered, Missing, Duplicates, Unexpected, NoID, Received int
	Active                                                               time.Duration // first API call to the last expected arrival (or the end)
	Requests, Pages, MaxReq60                                            int
	// DetailCalls are the calls for failed requests' detail, MaxDetail60 the most of them in any 60 s, and
	// MaxReads60 the most of the other calls (pages) in any 60 s.
	DetailCalls, MaxDetail60, MaxReads60 int
	ReqPerMin                            float64
	Faults                               map[string]int
	HasLive                              bool
	Delays                               delayStats
}

// finish derives the figures from what the API front and the sink saw. live holds the live ids with their
// visible times (nil without live traffic); backlog the ids present from the start.
func (p *phase) finish(calls *callLog, snk *sink, live, backlog map[string]time.Time, first, end time.Time) {
	t := snk.totals()
	p.Received, p.Duplicates, p.NoID = t.Records, t.Duplicates, t.NoID
	var last time.Time
	seen := func(ids map[string]time.Time) {
		for id := range ids {
			p.Expected++
			if at, ok := t.First[id]; ok {
				p.Delivered++
				if at.After(last) {
					last = at
				}
			}
		}
	}
	seen(backlog)
	seen(live)
	p.Missing = p.Expected - p.Delivered
	for id := range t.First {
		_, inB := backlog[id]
		_, inL := live[id]
		if !inB && !inL {
			p.Unexpected++
		}
	}
	activeEnd := end
	if p.Missing == 0 && !last.IsZero() {
		activeEnd = last
	}
	if !first.IsZero() {
		p.Active = activeEnd.Sub(first)
	}

	times, pages, faults := calls.snapshot()
	p.Pages, p.Faults = pages, faults
	var inRun, active []time.Time
	for _, c := range times {
		if !c.After(end) {
			inRun = append(inRun, c)
		}
		if !c.After(activeEnd) {
			active = append(active, c)
		}
	}
	p.Requests = len(inRun)
	p.MaxReq60 = maxInWindow(inRun, time.Minute)
	before := func(ts []time.Time) []time.Time {
		var out []time.Time
		for _, c := range ts {
			if !c.After(end) {
				out = append(out, c)
			}
		}
		return out
	}
	detail, reads := calls.split()
	detail, reads = before(detail), before(reads)
	p.DetailCalls, p.MaxDetail60, p.MaxReads60 = len(detail), maxInWindow(detail, time.Minute), maxInWindow(reads, time.Minute)
	p.ReqPerMin = callRate(active)
	if live != nil {
		p.HasLive = true
		p.Delays = computeDelays(live, t.First, p.TrafficStart, end)
	}
}

func (p *phase) recordsPerSec() (float64, bool) {
	if p.Active <= 0 || p.Delivered == 0 {
		return 0, false
	}
	return float64(p.Delivered) / p.Active.Seconds(), true
}

func (p *phase) cpuPer100k() (float64, bool) {
	if !p.CPUKnown || p.Delivered == 0 {
		return 0, false
	}
	return p.CPU.Seconds() / float64(p.Delivered) * 1e5, true
}

// metric sums a receiver counter. A counter never incremented is not exported at all, so once the scrape shows
// the receiver's metrics (it fetched pages) an absent counter is 0; without them it is unknown.
func (p *phase) metric(prefix string) (float64, bool) {
	if p.Metrics == nil {
		return 0, false
	}
	if v, ok := sumMetric(p.Metrics, prefix); ok {
		return v, true
	}
	if _, ok := sumMetric(p.Metrics, "otelcol_receiver_stackone_pages_fetched"); ok {
		return 0, true
	}
	return 0, false
}

// pagesForStorage divides storage writes: pages the receiver says it fetched, else the 200 answers the API gave.
func (p *phase) pagesForStorage() float64 {
	if n, ok := p.metric("otelcol_receiver_stackone_pages_fetched"); ok && n > 0 {
		return n
	}
	return float64(p.Pages)
}

func (p *phase) checkpointBytesPerPage() (float64, bool) {
	if p.Metrics == nil {
		return 0, false
	}
	b, ok := checkpointBytes(p.Metrics)
	pages := p.pagesForStorage()
	if !ok || pages == 0 {
		return 0, false
	}
	return b / pages, true
}

func (p *phase) fileBytesPerPage() (float64, bool) {
	pages := p.pagesForStorage()
	if !p.WritesKnown || pages == 0 {
		return 0, false
	}
	return float64(p.FileWrite) / pages, true
}

func (p *phase) blockBytesPerPage() (float64, bool) {
	pages := p.pagesForStorage()
	if !p.WritesKnown || pages == 0 {
		return 0, false
	}
	return float64(p.BlockWrite) / pages, true
}

// values flattens a phase into "name.key" figures for the JSON line; nil is "n/a".
func (p *phase) values(into map[string]any) {
	put := func(k string, v float64, ok bool) {
		if ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
			into[p.Name+"."+k] = round3(v)
		} else {
			into[p.Name+"."+k] = nil
		}
	}
	put("records", float64(p.Delivered), true)
	put("expected", float64(p.Expected), true)
	put("missing", float64(p.Missing), true)
	put("duplicates", float64(p.Duplicates), true)
	put("unexpected", float64(p.Unexpected), true)
	v, ok := p.recordsPerSec()
	put("records_per_s", v, ok)
	put("cpu_s", p.CPU.Seconds(), p.CPUKnown)
	v, ok = p.cpuPer100k()
	put("cpu_s_per_100k", v, ok)
	put("peak_rss_mb", float64(p.PeakRSS)/(1<<20), p.PeakRSS > 0)
	put("requests", float64(p.Requests), true)
	// What users feel most: the key's calls are shared with their own traffic.
	put("calls_per_1000", 1000*float64(p.Requests)/float64(p.Delivered), p.Delivered > 0)
	put("max_requests_60s", float64(p.MaxReq60), true)
	put("detail_calls", float64(p.DetailCalls), true)
	put("max_detail_60s", float64(p.MaxDetail60), true)
	put("max_reads_60s", float64(p.MaxReads60), true)
	put("budget", float64(p.Budget), p.Budget > 0)
	put("requests_per_min", p.ReqPerMin, p.ReqPerMin > 0)
	put("pct_of_budget", 100*p.ReqPerMin/float64(p.Budget), p.Budget > 0 && p.ReqPerMin > 0)
	put("active_s", p.Active.Seconds(), p.Active > 0)
	put("elapsed_s", p.Elapsed.Seconds(), true)
	put("delay_max_s", p.Delays.Max().Seconds(), p.HasLive)
	put("delay_p99_s", p.Delays.P99Delivered.Seconds(), p.HasLive && p.Delays.Delivered > 0)
	put("undelivered_oldest_s", p.Delays.OldestMissing.Seconds(), p.HasLive)
	v, ok = p.checkpointBytesPerPage()
	put("checkpoint_bytes_per_page", v, ok)
	v, ok = p.fileBytesPerPage()
	put("file_write_bytes_per_page", v, ok)
	v, ok = p.blockBytesPerPage()
	put("block_write_bytes_per_page", v, ok)
	if p.Producer == "collector" {
		for _, m := range []struct{ key, prefix string }{
			{"pages_fetched", "otelcol_receiver_stackone_pages_fetched"},
			{"api_errors", "otelcol_receiver_stackone_api_errors"},
			{"retries", "otelcol_receiver_stackone_retries"},
			{"duplicates_dropped", "otelcol_receiver_stackone_duplicates_dropped"},
		} {
			v, ok := p.metric(m.prefix)
			put(m.key, v, ok)
		}
	}
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

type report struct {
	Settings settings
	Started  time.Time
	Work     string
	Phases   []*phase
}

func (r *report) add(p *phase) {
	if p != nil {
		r.Phases = append(r.Phases, p)
	}
}

func (r *report) find(name string) *phase {
	for _, p := range r.Phases {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// ratios are the scenario-level figures the targets are stated in.
func (r *report) ratios(into map[string]any) {
	ratio := func(key string, a, b float64, ok bool) {
		if ok && b != 0 {
			into[key] = round3(a / b)
		} else {
			into[key] = nil
		}
	}
	if c, py := r.find("collector"), r.find("python"); c != nil && py != nil {
		a, okA := c.cpuPer100k()
		b, okB := py.cpuPer100k()
		ratio("cpu_ratio_collector_to_python", a, b, okA && okB)
		// The CPU target is stated the other way round: the Python worker's CPU per record over the collector's.
		ratio("cpu_ratio_python_to_collector", b, a, okA && okB)
	}
	if nf, f := r.find("collector_nofaults"), r.find("collector_faults"); nf != nil && f != nil {
		a, okA := f.recordsPerSec()
		b, okB := nf.recordsPerSec()
		ratio("rate_ratio_faults_to_nofaults", a, b, okA && okB)
	}
}

func (r *report) json() map[string]any {
	vals := map[string]any{}
	for _, p := range r.Phases {
		p.values(vals)
	}
	r.ratios(vals)
	s := r.Settings
	return map[string]any{
		"scenario": r.label(),
		"started":  r.Started.UTC().Format(time.RFC3339),
		"settings": map[string]any{
			"backlog": s.Backlog, "backlog_span": s.BacklogSpan.String(), "rate": s.Rate, "late_fraction": s.LateFraction,
			"max_late": s.MaxLate.String(), "latency": s.Latency.String(), "fault_rate": s.FaultRate,
			"repeat_rate": s.RepeatRate, "logs": s.Logs, "harsh_exporter": s.HarshExporter,
			"duration": s.Duration.String(), "receiver_overrides": s.Overrides, "receiver_yaml": s.ExtraYAML, "exporter_yaml": s.ExporterYAML,
		},
		"values": vals,
	}
}

// label names the run's scenario for the summary: a harsh exporter is a different workload, so its runs get
// their own medians.
func (r *report) label() string {
	if r.Settings.HarshExporter {
		return r.Settings.Scenario + "+harsh-exporter"
	}
	return r.Settings.Scenario
}

func fmtOr(v float64, ok bool, format string) string {
	if !ok {
		return "n/a"
	}
	return fmt.Sprintf(format, v)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

func (r *report) print(w io.Writer) {
	s := r.Settings
	fmt.Fprintf(w, "\n== stackone-bench %s: %s\n", r.label(), r.describe())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	_, _ = fmt.Fprintln(tw, "phase\trecords\trec/s\tCPU s\tCPU s/100k\tpeak RSS MB\trequests\tmax req/60s\tbudget\tdelay max\tdelay p99\tmissing\tdup\tckpt B/page\tfile B/page\telapsed\t")
	for _, p := range r.Phases {
		rps, rpsOK := p.recordsPerSec()
		c100, cOK := p.cpuPer100k()
		ck, ckOK := p.checkpointBytesPerPage()
		db, dbOK := p.fileBytesPerPage()
		budget, dmax, dp99 := "-", "-", "-"
		if p.Budget > 0 {
			budget = fmt.Sprint(p.Budget)
		}
		if p.HasLive {
			dmax = secs(p.Delays.Max())
			if p.Delays.OldestMissing > p.Delays.MaxDelivered {
				dmax = ">=" + dmax
			}
			dp99 = secs(p.Delays.P99Delivered)
		}
		fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t\n",
			p.Name, p.Delivered, p.Expected, fmtOr(rps, rpsOK, "%.0f"), fmtOr(p.CPU.Seconds(), p.CPUKnown, "%.2f"),
			fmtOr(c100, cOK, "%.2f"), fmtOr(float64(p.PeakRSS)/(1<<20), p.PeakRSS > 0, "%.0f"), p.Requests, p.MaxReq60,
			budget, dmax, dp99, p.Missing, p.Duplicates, fmtOr(ck, ckOK, "%.0f"), fmtOr(db, dbOK, "%.0f"), secs(p.Elapsed))
	}
	_ = tw.Flush()

	vals := map[string]any{}
	r.ratios(vals)
	if v, ok := vals["cpu_ratio_collector_to_python"]; ok {
		fmt.Fprintf(w, "CPU per record, collector / python: %s (target: at most 0.25)\n", anyOr(v))
	}
	if v, ok := vals["cpu_ratio_python_to_collector"]; ok {
		fmt.Fprintf(w, "CPU per record, python / collector: %s (target: at least 3)\n", anyOr(v))
	}
	if v, ok := vals["rate_ratio_faults_to_nofaults"]; ok {
		fmt.Fprintf(w, "records/s with %.0f%% faults / without: %s (target: at least 0.5)\n", 100*s.FaultRate, anyOr(v))
	}
	for _, p := range r.Phases {
		r.printPhaseDetail(w, p)
	}
	b, _ := json.Marshal(r.json())
	fmt.Fprintf(w, "BENCH_JSON %s\n", b)
}

func anyOr(v any) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprint(v)
}

func (r *report) describe() string {
	s := r.Settings
	var parts []string
	kind := "request logs"
	if s.Logs == "actions" {
		kind = "action logs"
	}
	if s.Backlog > 0 {
		parts = append(parts, fmt.Sprintf("backlog %d %s over %s", s.Backlog, kind, s.BacklogSpan))
	}
	if s.Rate > 0 {
		parts = append(parts, fmt.Sprintf("live %g %s/s for %s (%.0f%% up to %s late, stragglers waited for up to %s)",
			s.Rate, kind, s.Duration, 100*s.LateFraction, s.MaxLate, s.StragglerWait))
	}
	parts = append(parts, fmt.Sprintf("latency %s/call", s.Latency))
	if s.FaultRate > 0 {
		parts = append(parts, fmt.Sprintf("%.0f%% faults", 100*s.FaultRate))
	}
	if s.RepeatRate > 0 {
		parts = append(parts, fmt.Sprintf("%.0f%% of continued reads repeat the boundary entry", 100*s.RepeatRate))
	}
	recv := "receiver: endpoint, api_key, storage"
	var keys []string
	for k := range s.Overrides {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		recv += fmt.Sprintf(", %s=%s", k, s.Overrides[k])
	}
	if strings.TrimSpace(s.ExtraYAML) != "" {
		recv += ", + " + strings.Join(strings.Fields(s.ExtraYAML), " ")
	}
	if !s.ActionLogs {
		recv += " (action logs off)"
	}
	parts = append(parts, recv)
	switch exp := strings.TrimSpace(s.ExporterYAML); {
	case s.HarshExporter:
		parts = append(parts, "exporter: no sending queue, no compression")
	case exp == "":
		parts = append(parts, "exporter: its defaults")
	default:
		parts = append(parts, "exporter: "+strings.Join(strings.Fields(exp), " "))
	}
	if s.WithPython {
		parts = append(parts, "python: page_size "+orDefault(s.PythonPage, orDefault(s.Overrides["page_size"], "100"))+", OTLP/JSON without compression")
	}
	return strings.Join(parts, " · ")
}

func (r *report) printPhaseDetail(w io.Writer, p *phase) {
	var lines []string
	if p.Producer == "collector" {
		m := func(prefix string) string {
			v, ok := p.metric(prefix)
			return fmtOr(v, ok, "%.0f")
		}
		ck := "n/a"
		if v, ok := checkpointBytesIfAny(p.Metrics); ok {
			ck = fmt.Sprintf("%.0f", v)
		}
		line := fmt.Sprintf("receiver metrics: pages %s, records %s, api errors %s, retries %s, duplicates dropped %s, checkpoint bytes %s",
			m("otelcol_receiver_stackone_pages_fetched"), m("otelcol_receiver_stackone_records_emitted"),
			m("otelcol_receiver_stackone_api_errors"), m("otelcol_receiver_stackone_retries"),
			m("otelcol_receiver_stackone_duplicates_dropped"), ck)
		if p.Metrics != nil {
			if by := byLabel(p.Metrics, "otelcol_receiver_stackone_api_errors", "error_class"); len(by) > 0 {
				line += " (errors: " + formatCounts(by) + ")"
			}
		}
		lines = append(lines, line)
	}
	if len(p.Faults) > 0 {
		fc := map[string]float64{}
		for k, v := range p.Faults {
			fc[k] = float64(v)
		}
		lines = append(lines, "faults injected: "+formatCounts(fc))
	}
	if p.Budget > 0 && p.ReqPerMin > 0 {
		lines = append(lines, fmt.Sprintf("requests/min while reading (%s): %.0f = %.0f%% of the budget %d; most in any 60 s: %d",
			secs(p.Active), p.ReqPerMin, 100*p.ReqPerMin/float64(p.Budget), p.Budget, p.MaxReq60))
	}
	if p.DetailCalls > 0 {
		lines = append(lines, fmt.Sprintf("detail calls of failed requests: %d, most in any 60 s: %d; pages, most in any 60 s: %d",
			p.DetailCalls, p.MaxDetail60, p.MaxReads60))
	}
	if p.HasLive {
		var mins []string
		for i, d := range p.Delays.MaxPerMinute {
			if p.Delays.MaxPerMinuteSet[i] {
				mins = append(mins, fmt.Sprintf("%.0f", d.Seconds()))
			} else {
				mins = append(mins, "-")
			}
		}
		lines = append(lines, fmt.Sprintf("longest delay (s) by minute of traffic: %s; undelivered at the end: %d (oldest %s)",
			strings.Join(mins, " "), p.Delays.Undelivered, secs(p.Delays.OldestMissing)))
	}
	if p.Unexpected > 0 || p.NoID > 0 {
		lines = append(lines, fmt.Sprintf("records with an unknown id: %d, without an id: %d", p.Unexpected, p.NoID))
	}
	if p.Note != "" {
		lines = append(lines, "note: "+p.Note)
	}
	for _, l := range lines {
		fmt.Fprintf(w, "  %s: %s\n", p.Name, l)
	}
}

func checkpointBytesIfAny(samples []promSample) (float64, bool) {
	if samples == nil {
		return 0, false
	}
	return checkpointBytes(samples)
}

func formatCounts(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %.0f", orDefault(k, "?"), m[k])
	}
	return strings.Join(parts, ", ")
}

// summarize reads BENCH_JSON lines (from files, or in if none) and prints, per scenario, the median of every
// figure over the runs, with its range.
func summarize(files []string, in io.Reader, out io.Writer) error {
	type group struct {
		runs int
		vals map[string][]float64
		na   map[string]bool
	}
	groups := map[string]*group{}
	var order []string
	read := func(r io.Reader) error {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
		for sc.Scan() {
			line, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "BENCH_JSON ")
			if !ok {
				continue
			}
			var rec struct {
				Scenario string         `json:"scenario"`
				Values   map[string]any `json:"values"`
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				return fmt.Errorf("bad BENCH_JSON line: %w", err)
			}
			g := groups[rec.Scenario]
			if g == nil {
				g = &group{vals: map[string][]float64{}, na: map[string]bool{}}
				groups[rec.Scenario] = g
				order = append(order, rec.Scenario)
			}
			g.runs++
			for k, v := range rec.Values {
				if f, ok := v.(float64); ok {
					g.vals[k] = append(g.vals[k], f)
				} else {
					g.na[k] = true
				}
			}
		}
		return sc.Err()
	}
	if len(files) == 0 {
		if err := read(in); err != nil {
			return err
		}
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return err
		}
		err = read(fh)
		_ = fh.Close()
		if err != nil {
			return err
		}
	}
	if len(order) == 0 {
		return fmt.Errorf("no BENCH_JSON lines found")
	}
	for _, sc := range order {
		g := groups[sc]
		fmt.Fprintf(out, "== %s: median of %d run(s) [min .. max]\n", sc, g.runs)
		keys := make([]string, 0, len(g.vals)+len(g.na))
		for k := range g.vals {
			keys = append(keys, k)
		}
		for k := range g.na {
			if _, ok := g.vals[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		for _, k := range keys {
			xs := g.vals[k]
			m, ok := median(xs)
			if !ok {
				fmt.Fprintf(tw, "  %s\tn/a\t\n", k)
				continue
			}
			extra := ""
			if len(xs) < g.runs {
				extra = fmt.Sprintf(" (n/a in %d)", g.runs-len(xs))
			}
			fmt.Fprintf(tw, "  %s\t%s\t[%s .. %s]%s\n", k, num(m), num(slices.Min(xs)), num(slices.Max(xs)), extra)
		}
		_ = tw.Flush()
	}
	return nil
}

func num(v float64) string {
	switch a := math.Abs(v); {
	case v == math.Trunc(v) || a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}
