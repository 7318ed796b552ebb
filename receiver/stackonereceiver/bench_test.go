package stackonereceiver

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/stackoneapi"
)

// The three benchmarks below work on the same bytes, one 100-entry page of realistic request logs, so their
// ns/record compare within one run: `make bench` prints the median of each and the ratio of decode+map to the
// tokenize floor. Run alone: go test -run '^$' -bench 'Page|Floor|Baseline' -benchmem ./receiver/stackonereceiver/

const benchPageEntries = 100

func benchPage(b *testing.B) []byte {
	b.Helper()
	fake := stackonefake.New(stackonefake.Options{})
	entries := fake.GenerateRequestLogs(benchPageEntries, time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), time.Second, 1)
	body, err := json.Marshal(map[string]any{"data": entries, "next": "eyJjdXJzb3IiOiJhYmMifQ=="})
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// decodeBenchPage splits the page with the limit the client passes for a page_size of 100.
func decodeBenchPage(b *testing.B, body []byte) stackoneapi.Page {
	page, err := stackoneapi.DecodePage(body, 2*benchPageEntries+100)
	if err != nil {
		b.Fatal(err)
	}
	return page
}

// perRecord runs fn once per iteration and reports time and heap allocations per entry of the page.
func perRecord(b *testing.B, body []byte, fn func()) {
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu := processCPU()
	for b.Loop() {
		fn()
	}
	cpu = processCPU() - cpu
	runtime.ReadMemStats(&after)
	records := float64(b.N) * benchPageEntries
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/records, "ns/record")
	b.ReportMetric(float64(cpu.Nanoseconds())/records, "cpu-ns/record")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/records, "allocs/record")
}

// BenchmarkDecodeAndMapPage is the unit of work of every poll: split the page, then decode and map each entry
// into plog.Logs, with the limit the client passes for a page_size of 100.
func BenchmarkDecodeAndMapPage(b *testing.B) {
	body := benchPage(b)
	m := newMapper(createDefaultConfig().(*Config).Redaction, "bench")
	perRecord(b, body, func() {
		page := decodeBenchPage(b, body)
		_, lrs := m.newLogs()
		lrs.EnsureCapacity(len(page.Entries))
		for _, raw := range page.Entries {
			m.appendRecord(lrs, requestLogSchema, raw, observedAt)
		}
		if lrs.Len() != benchPageEntries {
			b.Fatalf("mapped %d records", lrs.Len())
		}
	})
}

// BenchmarkDecodeOnlyPage is what an entry read again costs (a sweep's usual case): it is decoded for its id
// and time, found delivered, and never becomes a record.
func BenchmarkDecodeOnlyPage(b *testing.B) {
	body := benchPage(b)
	m := newMapper(createDefaultConfig().(*Config).Redaction, "bench")
	perRecord(b, body, func() {
		page := decodeBenchPage(b, body)
		for _, raw := range page.Entries {
			d := m.decode(requestLogSchema, raw)
			if d.meta.id == "" {
				b.Fatal("no id")
			}
			d.release()
		}
	})
}

// BenchmarkTokenizeFloor only tokenizes the same bytes (ReadToken to the end): no decoder can do less.
func BenchmarkTokenizeFloor(b *testing.B) {
	body := benchPage(b)
	var rd bytes.Buffer
	dec := jsontext.NewDecoder(&rd)
	perRecord(b, body, func() {
		rd = *bytes.NewBuffer(body) // read in place, as DecodePage reads
		dec.Reset(&rd)
		for {
			_, err := dec.ReadToken()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEncodingJSONBaseline decodes the same bytes the generic way, into map[string]any with
// encoding/json, as the receiver did before it decoded entries straight into records.
func BenchmarkEncodingJSONBaseline(b *testing.B) {
	body := benchPage(b)
	perRecord(b, body, func() {
		var page map[string]any
		if err := json.Unmarshal(body, &page); err != nil {
			b.Fatal(err)
		}
		if n := len(page["data"].([]any)); n != benchPageEntries {
			b.Fatalf("decoded %d entries", n)
		}
	})
}

// BenchmarkMapFailedRequestDetail maps a page of 100 failed requests as their detail has them (provider errors
// with a raw body, headers, a mapping error, query parameters), with nested data kept (the default budget) and
// left out (max_nested_size 0, the flat mapping): time, allocations and OTLP bytes per record.
func BenchmarkMapFailedRequestDetail(b *testing.B) {
	fake := stackonefake.New(stackonefake.Options{})
	entries := fake.GenerateRequestLogs(benchPageEntries, time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), time.Second, 1)
	for i, e := range entries {
		e["status"], e["success"] = 502, false
		entries[i] = stackonefake.WithDetail(e)
	}
	body, err := json.Marshal(map[string]any{"data": entries})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		maxNested int
	}{{"nested kept", defaultMaxNestedSize}, {"nested left out", 0}} {
		b.Run(tc.name, func(b *testing.B) {
			m := newMapperWith(createDefaultConfig().(*Config).Redaction, mappingSettings{maxNested: tc.maxNested}, "bench")
			var size int
			perRecord(b, body, func() {
				page := decodeBenchPage(b, body)
				ld, lrs := m.newLogs()
				for _, raw := range page.Entries {
					m.appendRecord(lrs, requestLogSchema, raw, observedAt)
				}
				size = (&plog.ProtoMarshaler{}).LogsSize(ld)
			})
			b.ReportMetric(float64(size)/benchPageEntries, "otlp-bytes/record")
		})
	}
}
