package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	for _, tc := range []struct {
		name    string
		stat    string
		want    time.Duration
		wantErr bool
	}{
		{
			name: "plain",
			stat: "1234 (otelcol-stackone) S 1 1234 1234 0 -1 4194560 5000 0 0 0 250 75 0 0 20 0 12 0 100 1000000 2000 18446744073709551615",
			want: 3250 * time.Millisecond,
		},
		{
			// A command name with spaces and a ')' must not shift the fields.
			name: "name with spaces and parens",
			stat: "42 (my (odd) name) R 1 42 42 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 5 0 0 0",
			want: 100 * time.Millisecond,
		},
		{name: "truncated", stat: "42 (x) R 1 2 3", wantErr: true},
		{name: "garbage", stat: "no parens here", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatCPU(tc.stat)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestProcOfSelf reads this test process's own /proc files, so the parsers meet the real format.
func TestProcOfSelf(t *testing.T) {
	pid := os.Getpid()
	if _, err := procCPU(pid); err != nil {
		t.Errorf("procCPU: %v", err)
	}
	if rss, err := peakRSS(pid); err != nil || rss <= 0 {
		t.Errorf("peakRSS = %d, %v", rss, err)
	}
	before, err := procIO(pid)
	if err != nil {
		t.Fatalf("procIO: %v", err)
	}
	f, err := os.CreateTemp(t.TempDir(), "w")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if _, err := f.Write(make([]byte, 10000)); err != nil {
		t.Fatal(err)
	}
	after, err := procIO(pid)
	if err != nil {
		t.Fatal(err)
	}
	// Other goroutines may write too; this write alone must show.
	if after.Chars-before.Chars < 10000 {
		t.Errorf("wchar grew by %d after a 10000-byte write", after.Chars-before.Chars)
	}
}

func TestFileWrites(t *testing.T) {
	a := ioSample{proc: ioCounters{Chars: 1000}, apiIn: 100, sinkIn: 200, logOut: 50}
	for _, tc := range []struct {
		name string
		b    ioSample
		want int64
	}{
		{"only sockets and log", ioSample{proc: ioCounters{Chars: 1600}, apiIn: 300, sinkIn: 500, logOut: 50}, 100},
		{"nothing", a, 0},
		// Bytes read by the driver a moment after the sample can make the difference negative: never below 0.
		{"clamped", ioSample{proc: ioCounters{Chars: 1000}, apiIn: 150, sinkIn: 200, logOut: 50}, 0},
		{"storage writes", ioSample{proc: ioCounters{Chars: 9000}, apiIn: 100, sinkIn: 200, logOut: 50}, 8000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fileWrites(a, tc.b); got != tc.want {
				t.Errorf("fileWrites = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestParseProcField(t *testing.T) {
	status := "Name:\totelcol\nVmPeak:\t  900 kB\nVmHWM:\t   51234 kB\nVmRSS:\t 40000 kB\n"
	if v, err := parseProcField(strings.NewReader(status), "VmHWM"); err != nil || v != 51234 {
		t.Errorf("VmHWM = %d, %v; want 51234", v, err)
	}
	io := "rchar: 10\nwchar: 20\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n"
	if v, err := parseProcField(strings.NewReader(io), "write_bytes"); err != nil || v != 8192 {
		t.Errorf("write_bytes = %d, %v; want 8192", v, err)
	}
	if _, err := parseProcField(strings.NewReader(io), "VmHWM"); err == nil {
		t.Error("a missing field must be an error, not 0")
	}
}

const promText = `# HELP otelcol_receiver_stackone_pages_fetched_total Pages of log entries read.
# TYPE otelcol_receiver_stackone_pages_fetched_total counter
otelcol_receiver_stackone_pages_fetched_total{otel_scope_name="x",receiver="stackone",stream="request_logs"} 120
otelcol_receiver_stackone_pages_fetched_total{otel_scope_name="x",receiver="stackone",stream="action_logs"} 3
otelcol_receiver_stackone_api_errors_total{error_class="rate_limited",stream="request_logs"} 4
otelcol_receiver_stackone_api_errors_total{error_class="5xx",stream="request_logs"} 6
otelcol_receiver_stackone_lag{stream="request_logs",note="a \"quoted\", comma"} 1.5e+00
otelcol_process_uptime 12.5 1700000000000
`

func TestParseProm(t *testing.T) {
	samples, err := parseProm(strings.NewReader(promText))
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 6 {
		t.Fatalf("%d samples, want 6", len(samples))
	}
	if v, ok := sumMetric(samples, "otelcol_receiver_stackone_pages_fetched"); !ok || v != 123 {
		t.Errorf("pages = %v, %v; want 123 summed over streams", v, ok)
	}
	if _, ok := sumMetric(samples, "otelcol_receiver_stackone_retries"); ok {
		t.Error("an absent metric must be reported absent, not 0")
	}
	by := byLabel(samples, "otelcol_receiver_stackone_api_errors", "error_class")
	if by["rate_limited"] != 4 || by["5xx"] != 6 {
		t.Errorf("errors by class = %v", by)
	}
	lag := samples[4]
	if lag.Value != 1.5 || lag.Labels["note"] != `a "quoted", comma` || lag.Labels["stream"] != "request_logs" {
		t.Errorf("lag sample = %+v", lag)
	}
	if samples[5].Name != "otelcol_process_uptime" || samples[5].Value != 12.5 {
		t.Errorf("sample with timestamp = %+v", samples[5])
	}
	if _, err := parseProm(strings.NewReader("metric{a=\"b\"} notanumber\n")); err == nil {
		t.Error("a bad value must be an error")
	}
}

func TestCheckpointBytes(t *testing.T) {
	for _, tc := range []struct {
		name string
		text string
		want float64
		ok   bool
	}{
		{"absent", promText, 0, false},
		{"counter", "otelcol_receiver_stackone_checkpoint_bytes_total{stream=\"request_logs\"} 4096\n" +
			"otelcol_receiver_stackone_checkpoint_bytes_total{stream=\"action_logs\"} 1024\n", 5120, true},
		{"histogram counts through its sum", "otelcol_receiver_stackone_checkpoint_bytes_bucket{le=\"1024\"} 3\n" +
			"otelcol_receiver_stackone_checkpoint_bytes_sum 2500\n" +
			"otelcol_receiver_stackone_checkpoint_bytes_count 3\n", 2500, true},
		{"other components' bytes ignored", "otelcol_exporter_sent_bytes_total 99\n", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parseProm(strings.NewReader(tc.text))
			if err != nil {
				t.Fatal(err)
			}
			got, ok := checkpointBytes(s)
			if got != tc.want || ok != tc.ok {
				t.Errorf("checkpointBytes = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
