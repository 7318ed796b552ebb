package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestReportCPURatiosBothWays(t *testing.T) {
	r := &report{Settings: settings{Scenario: "cpu", Logs: "requests", WithPython: true}}
	r.add(&phase{Name: "collector", Producer: "collector", CPU: 2 * time.Second, CPUKnown: true, Delivered: 100000})
	r.add(&phase{Name: "python", Producer: "python", CPU: 14 * time.Second, CPUKnown: true, Delivered: 100000})
	vals := map[string]any{}
	r.ratios(vals)
	if vals["cpu_ratio_collector_to_python"] != 0.143 || vals["cpu_ratio_python_to_collector"] != 7.0 {
		t.Errorf("ratios = %v", vals)
	}
	var out bytes.Buffer
	r.print(&out)
	if !strings.Contains(out.String(), "CPU per record, python / collector: 7 (target: at least 3)") {
		t.Errorf("the python / collector ratio is not printed with its target:\n%s", out.String())
	}
}

func TestReportLabelsAHarshExporterApart(t *testing.T) {
	r := &report{Settings: settings{Scenario: "busy", HarshExporter: true}}
	if got := r.json()["scenario"]; got != "busy+harsh-exporter" {
		t.Errorf("scenario = %v", got)
	}
	r.Settings.HarshExporter = false
	if got := r.json()["scenario"]; got != "busy" {
		t.Errorf("scenario = %v", got)
	}
}

func TestPhaseReportsBoundaryRepeats(t *testing.T) {
	r := &report{Settings: settings{Scenario: "catchup-repeat", RepeatRate: 0.2}}
	r.add(&phase{Name: "collector", Producer: "collector", Faults: map[string]int{"429": 3, "repeat": 7}})
	var out bytes.Buffer
	r.print(&out)
	for _, want := range []string{"faults injected: 429 3, repeat 7", "20% of continued reads repeat the boundary entry"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
