package stackonereceiver

import (
	"encoding/json"
	"runtime"
	"testing"
	"time"

	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/stackoneapi"
)

// BenchmarkDecodeAndMapPage decodes and maps one 100-entry page of realistic request logs, the unit of work
// of every poll. Run: go test -run '^$' -bench DecodeAndMap -benchmem ./receiver/stackonereceiver/
func BenchmarkDecodeAndMapPage(b *testing.B) {
	fake := stackonefake.New(stackonefake.Options{})
	entries := fake.GenerateRequestLogs(100, time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), time.Second, 1)
	body, err := json.Marshal(map[string]any{"data": entries, "next": nil})
	if err != nil {
		b.Fatal(err)
	}
	m := newMapper(createDefaultConfig().(*Config).Redaction, "bench")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		page, err := stackoneapi.DecodePage(body)
		if err != nil {
			b.Fatal(err)
		}
		_, lrs := m.newLogs()
		for _, e := range page.Entries {
			m.appendRecord(lrs, requestLogSchema, e, observedAt)
		}
		if lrs.Len() != 100 {
			b.Fatalf("mapped %d records", lrs.Len())
		}
	}
	runtime.ReadMemStats(&after)
	records := float64(b.N) * 100
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/records, "ns/record")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/records, "allocs/record")
}
