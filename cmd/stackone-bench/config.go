package main

import (
	"fmt"
	"regexp"
	"strings"
)

// receiverOverrides are the receiver keys the driver can set from flags, in the order they are written.
var receiverOverrides = []string{"page_size", "max_requests_per_minute", "initial_lookback", "poll_interval", "late_arrival_window"}

// collectorConfig is everything the generated collector configuration depends on.
type collectorConfig struct {
	APIEndpoint string
	APIKey      string
	StorageDir  string
	SinkURL     string
	MetricsPort int
	// Overrides holds receiver keys set by a preset or a flag; absent keys keep the receiver's defaults.
	Overrides map[string]string
	// ActionLogs leaves the action-logs stream on; the fake holds no action logs, so by default it is off and
	// does not spend the request budget on empty pages.
	ActionLogs bool
	// ExtraYAML is pasted into the receiver block as is (e.g. a `catch_up:` block).
	ExtraYAML string
	// ExporterYAML is pasted into the otlp_http exporter block as is.
	ExporterYAML string
	// CPUProfile, when set, adds the pprof extension writing the collector's CPU profile there at shutdown.
	CPUProfile string
}

// shippedExporterYAML is the exporter setting config.example.yaml ships beyond the defaults that bears on CPU:
// gzip at level 1, which halves the compression work of the default level 6 for about 40 % more bytes.
const shippedExporterYAML = "compression_params: {level: 1}"

func indent(yaml, prefix string) string {
	var b strings.Builder
	if y := strings.TrimRight(yaml, "\n "); y != "" {
		for _, line := range strings.Split(y, "\n") {
			b.WriteString(prefix + line + "\n")
		}
	}
	return b.String()
}

var actionLogsKey = regexp.MustCompile(`(?m)^action_logs\s*:`)

// render writes the receiver block with only endpoint, api_key and storage unless told otherwise; the
// exporter is otlp_http on its defaults (protobuf, gzip, in-memory sending queue).
func (c collectorConfig) render() string {
	var b strings.Builder
	fmt.Fprintf(&b, "receivers:\n  stackone:\n    endpoint: %q\n    api_key: %q\n    storage: file_storage\n", c.APIEndpoint, c.APIKey)
	if !c.ActionLogs && !actionLogsKey.MatchString(c.ExtraYAML) {
		b.WriteString("    action_logs:\n      enabled: false\n")
	}
	for _, k := range receiverOverrides {
		if v, ok := c.Overrides[k]; ok {
			fmt.Fprintf(&b, "    %s: %s\n", k, v)
		}
	}
	b.WriteString(indent(c.ExtraYAML, "    "))
	extensions, pprof := "[file_storage]", ""
	if c.CPUProfile != "" {
		extensions = "[file_storage, pprof]"
		pprof = fmt.Sprintf("  pprof:\n    endpoint: 127.0.0.1:0\n    save_to_file: %q\n", c.CPUProfile)
	}
	fmt.Fprintf(&b, `
extensions:
  file_storage:
    directory: %q
%s
exporters:
  otlp_http:
    endpoint: %q
%s
service:
  extensions: %s
  pipelines:
    logs:
      receivers: [stackone]
      exporters: [otlp_http]
  telemetry:
    logs:
      level: info
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: %d
`, c.StorageDir, pprof, c.SinkURL, indent(c.ExporterYAML, "    "), extensions, c.MetricsPort)
	return b.String()
}
