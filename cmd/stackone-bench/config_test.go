package main

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func receiverBlock(t *testing.T, cfg string) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(cfg), &doc); err != nil {
		t.Fatalf("rendered config is not YAML: %v\n%s", err, cfg)
	}
	return doc["receivers"].(map[string]any)["stackone"].(map[string]any)
}

func TestCollectorConfigRender(t *testing.T) {
	base := collectorConfig{APIEndpoint: "http://127.0.0.1:1", APIKey: "k", StorageDir: "/tmp/s", SinkURL: "http://127.0.0.1:2", MetricsPort: 3}
	for _, tc := range []struct {
		name string
		mod  func(*collectorConfig)
		want map[string]any
	}{
		{
			// The receiver on its defaults: only what it cannot run without, and the empty action-logs
			// stream off so it does not spend the request budget.
			name: "defaults",
			mod:  func(*collectorConfig) {},
			want: map[string]any{"endpoint": "http://127.0.0.1:1", "api_key": "k", "storage": "file_storage",
				"action_logs": map[string]any{"enabled": false}},
		},
		{
			name: "action logs asked for",
			mod:  func(c *collectorConfig) { c.ActionLogs = true },
			want: map[string]any{"endpoint": "http://127.0.0.1:1", "api_key": "k", "storage": "file_storage"},
		},
		{
			name: "overrides and extra YAML",
			mod: func(c *collectorConfig) {
				c.Overrides = map[string]string{"max_requests_per_minute": "600", "initial_lookback": "6h30m", "unknown": "x"}
				c.ExtraYAML = "catch_up:\n  concurrency: 4\n"
			},
			want: map[string]any{"endpoint": "http://127.0.0.1:1", "api_key": "k", "storage": "file_storage",
				"action_logs": map[string]any{"enabled": false}, "max_requests_per_minute": 600, "initial_lookback": "6h30m",
				"catch_up": map[string]any{"concurrency": 4}},
		},
		{
			// Extra YAML that configures action logs itself must not meet a second action_logs key.
			name: "extra YAML with its own action_logs",
			mod:  func(c *collectorConfig) { c.ExtraYAML = "action_logs:\n  enabled: true" },
			want: map[string]any{"endpoint": "http://127.0.0.1:1", "api_key": "k", "storage": "file_storage",
				"action_logs": map[string]any{"enabled": true}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.mod(&c)
			got := receiverBlock(t, c.render())
			if len(got) != len(tc.want) {
				t.Errorf("receiver keys = %v, want %v", got, tc.want)
			}
			for k, w := range tc.want {
				if g, ok := got[k]; !ok || !equalYAML(g, w) {
					t.Errorf("%s = %#v, want %#v", k, g, w)
				}
			}
		})
	}
	out := base.render()
	for _, want := range []string{"otlp_http:\n    endpoint: \"http://127.0.0.1:2\"", "port: 3", "directory: \"/tmp/s\""} {
		if !strings.Contains(out, want) {
			t.Errorf("config lacks %q:\n%s", want, out)
		}
	}
	harsh := base
	harsh.ExporterYAML = harshExporterYAML
	var doc struct {
		Exporters struct {
			OTLP map[string]any `yaml:"otlp_http"`
		} `yaml:"exporters"`
	}
	if err := yaml.Unmarshal([]byte(harsh.render()), &doc); err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"endpoint": "http://127.0.0.1:2", "compression": "none", "sending_queue": map[string]any{"enabled": false}}; !equalYAML(doc.Exporters.OTLP, want) {
		t.Errorf("harsh exporter block = %#v, want %#v", doc.Exporters.OTLP, want)
	}
	profiled := base
	profiled.CPUProfile = "/tmp/cpu.prof"
	var ext struct {
		Extensions map[string]map[string]any `yaml:"extensions"`
		Service    struct {
			Extensions []string `yaml:"extensions"`
		} `yaml:"service"`
	}
	if err := yaml.Unmarshal([]byte(profiled.render()), &ext); err != nil {
		t.Fatal(err)
	}
	if got := ext.Extensions["pprof"]["save_to_file"]; got != "/tmp/cpu.prof" || strings.Join(ext.Service.Extensions, ",") != "file_storage,pprof" {
		t.Errorf("with -cpu-profile: pprof extension %#v, service extensions %v", ext.Extensions["pprof"], ext.Service.Extensions)
	}
	if strings.Contains(out, "pprof") {
		t.Errorf("without -cpu-profile the config names pprof:\n%s", out)
	}
	shipped := base
	shipped.ExporterYAML = shippedExporterYAML
	if out := shipped.render(); !strings.Contains(out, "endpoint: \"http://127.0.0.1:2\"\n    compression_params: {level: 1}\n") {
		t.Errorf("the exporter block lacks the shipped compression:\n%s", out)
	}
}

func equalYAML(a, b any) bool {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		if len(am) != len(bm) {
			return false
		}
		for k, v := range am {
			if !equalYAML(v, bm[k]) {
				return false
			}
		}
		return true
	}
	return a == b
}

func TestParseFlagsPresets(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		check func(t *testing.T, s settings)
		err   bool
	}{
		{name: "default is backfill", args: nil, check: func(t *testing.T, s settings) {
			if s.Scenario != "backfill" || !s.WithPython || s.Overrides["max_requests_per_minute"] != "1000" {
				t.Errorf("%+v", s)
			}
		}},
		{name: "busy keeps the receiver defaults", args: []string{"-scenario", "busy"}, check: func(t *testing.T, s settings) {
			if len(s.Overrides) != 0 || s.Rate != 50 || s.Latency != 200*time.Millisecond || s.WithPython {
				t.Errorf("%+v", s)
			}
		}},
		{name: "flags win over the preset", args: []string{"--scenario=catchup", "-max-rpm", "900", "-backlog", "5", "-page-size", "50"},
			check: func(t *testing.T, s settings) {
				if s.Overrides["max_requests_per_minute"] != "900" || s.Overrides["page_size"] != "50" || s.Backlog != 5 ||
					s.Overrides["initial_lookback"] != "6h30m" {
					t.Errorf("%+v", s)
				}
			}},
		{name: "an empty override restores the receiver default", args: []string{"-max-rpm="}, check: func(t *testing.T, s settings) {
			if _, ok := s.Overrides["max_requests_per_minute"]; ok {
				t.Errorf("%+v", s.Overrides)
			}
		}},
		{name: "presets are not mutated by flags", args: []string{"-scenario", "backfill"}, check: func(t *testing.T, s settings) {
			if presets["backfill"].Overrides["max_requests_per_minute"] != "1000" {
				t.Error("preset changed")
			}
		}},
		{name: "catchup-repeat: a day of request logs from 72 h back", args: []string{"-scenario", "catchup-repeat"},
			check: func(t *testing.T, s settings) {
				if s.Backlog != 22250 || s.BacklogSpan != 24*time.Hour || s.RepeatRate <= 0 || s.FaultRate <= 0 || s.Logs != "requests" ||
					s.Overrides["initial_lookback"] != "72h" || s.Overrides["page_size"] != "100" || len(s.Overrides) != 2 {
					t.Errorf("%+v", s)
				}
			}},
		{name: "catchup-actions: action logs, the stream on, live and late traffic", args: []string{"-scenario", "catchup-actions"},
			check: func(t *testing.T, s settings) {
				if s.Logs != "actions" || !s.ActionLogs || s.Backlog != 5000 || s.Rate*s.Duration.Seconds() != 300 || s.LateFraction <= 0 ||
					s.RepeatRate <= 0 || s.FaultRate <= 0 || s.Overrides["initial_lookback"] != "72h" || s.Overrides["page_size"] != "100" {
					t.Errorf("%+v", s)
				}
			}},
		{name: "cpu: pages of 100, protobuf without compression, the Python worker beside it", args: []string{"-scenario", "cpu"},
			check: func(t *testing.T, s settings) {
				if s.Backlog != 200000 || !s.WithPython || s.Overrides["page_size"] != "100" || s.ExporterYAML != "compression: none" {
					t.Errorf("%+v", s)
				}
			}},
		{name: "cpu-defaults: receiver and exporter on their defaults", args: []string{"-scenario", "cpu-defaults"},
			check: func(t *testing.T, s settings) {
				if s.Backlog != 200000 || !s.WithPython || len(s.Overrides) != 0 || s.ExporterYAML != "" {
					t.Errorf("%+v", s)
				}
			}},
		{name: "the shipped exporter unless a preset has its own", args: []string{"-scenario", "busy"}, check: func(t *testing.T, s settings) {
			if s.ExporterYAML != shippedExporterYAML || s.HarshExporter {
				t.Errorf("%+v", s)
			}
		}},
		{name: "harsh exporter replaces the shipped one", args: []string{"-scenario", "busy", "-harsh-exporter"}, check: func(t *testing.T, s settings) {
			if s.ExporterYAML != harshExporterYAML {
				t.Errorf("exporter YAML = %q", s.ExporterYAML)
			}
		}},
		{name: "harsh exporter keeps an -exporter-yaml given", args: []string{"-harsh-exporter", "-exporter-yaml", "timeout: 5s"}, check: func(t *testing.T, s settings) {
			if s.ExporterYAML != harshExporterYAML+"\ntimeout: 5s" {
				t.Errorf("exporter YAML = %q", s.ExporterYAML)
			}
		}},
		{name: "action logs as the backlog of any scenario", args: []string{"-scenario", "custom", "-logs", "actions"}, check: func(t *testing.T, s settings) {
			if !s.ActionLogs {
				t.Errorf("%+v", s)
			}
		}},
		{name: "unknown kind of logs", args: []string{"-scenario", "custom", "-logs", "steps"}, err: true},
		{name: "the Python worker reads request logs only", args: []string{"-scenario", "backfill", "-logs", "actions"}, err: true},
		{name: "unknown scenario", args: []string{"-scenario", "nope"}, err: true},
		{name: "nothing to read", args: []string{"-scenario", "busy", "-rate", "0"}, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parseFlags(tc.args, io.Discard)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v", err)
			}
			if tc.check != nil {
				tc.check(t, s)
			}
		})
	}
	// Mutating the overrides of one parse must not leak into the next.
	s, _ := parseFlags([]string{"-max-rpm", "5"}, io.Discard)
	s.Overrides["page_size"] = "1"
	if _, ok := presets["backfill"].Overrides["page_size"]; ok {
		t.Error("preset overrides shared with a run")
	}
}

func TestSummarizeMedians(t *testing.T) {
	in := strings.Join([]string{
		"noise line",
		`BENCH_JSON {"scenario":"busy","values":{"collector.delay_max_s":30,"collector.checkpoint_bytes_per_page":null}}`,
		`BENCH_JSON {"scenario":"busy","values":{"collector.delay_max_s":10,"collector.checkpoint_bytes_per_page":null}}`,
		`BENCH_JSON {"scenario":"busy","values":{"collector.delay_max_s":20,"collector.checkpoint_bytes_per_page":null}}`,
		`BENCH_JSON {"scenario":"backfill","values":{"cpu_ratio_collector_to_python":0.5}}`,
		`BENCH_JSON {"scenario":"backfill","values":{"cpu_ratio_collector_to_python":null}}`,
	}, "\n")
	var out bytes.Buffer
	if err := summarize(nil, strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	// Compared by fields: the column padding is tabwriter's business.
	var lines []string
	for _, l := range strings.Split(got, "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	for _, want := range []string{
		"== busy: median of 3 run(s) [min .. max]",
		"collector.delay_max_s 20 [10 .. 30]",
		"collector.checkpoint_bytes_per_page n/a",
		"== backfill: median of 2 run(s) [min .. max]",
		"cpu_ratio_collector_to_python 0.5 [0.5 .. 0.5] (n/a in 1)",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	if err := summarize(nil, strings.NewReader("nothing"), io.Discard); err == nil {
		t.Error("no BENCH_JSON lines must be an error")
	}
}
