package main

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
)

func logsWithIDs(ids ...string) plogotlp.ExportRequest { return logsWith(requestIDAttr, ids...) }

func logsWith(attr string, ids ...string) plogotlp.ExportRequest {
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for _, id := range ids {
		lr := lrs.AppendEmpty()
		if id != "" {
			lr.Attributes().PutStr(attr, id)
		}
	}
	return plogotlp.NewExportRequestFromLogs(ld)
}

func post(t *testing.T, url, contentType string, gz bool, body []byte) *http.Response {
	t.Helper()
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(body)
		_ = zw.Close()
		body = buf.Bytes()
	}
	req, err := http.NewRequest(http.MethodPost, url+"/v1/logs", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestSinkCountsFirstArrivalsAndDuplicates feeds the sink the way both producers do: the collector's
// exporter (protobuf, gzip) and the Python worker (plain JSON).
func TestSinkCountsFirstArrivalsAndDuplicates(t *testing.T) {
	snk := newSink(requestIDAttr)
	srv := httptest.NewServer(snk)
	defer srv.Close()
	snk.expect("a", "b", "c", "d")

	proto, err := logsWithIDs("a", "b", "").MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	if resp := post(t, srv.URL, "application/x-protobuf", true, proto); resp.StatusCode != http.StatusOK {
		t.Fatalf("protobuf+gzip: %s", resp.Status)
	}
	firstB := snk.totals().First["b"]
	js, err := logsWithIDs("b", "c", "zz").MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if resp := post(t, srv.URL, "application/json", false, js); resp.StatusCode != http.StatusOK {
		t.Fatalf("json: %s", resp.Status)
	}
	if resp := post(t, srv.URL, "application/x-protobuf", false, []byte("\xff not protobuf")); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("garbage: %s, want 400", resp.Status)
	}

	tot := snk.totals()
	if tot.Records != 6 || tot.Distinct != 4 || tot.Duplicates != 1 || tot.NoID != 1 || tot.BadBodies != 1 {
		t.Errorf("totals = %+v", tot)
	}
	if tot.Count["b"] != 2 {
		t.Errorf("b arrived %d times, want 2", tot.Count["b"])
	}
	if got := snk.missing(); got != 1 {
		t.Errorf("missing = %d, want 1 (d)", got)
	}
	// An id registered after it arrived (live traffic: the collector can read it before the driver notes it)
	// counts as arrived.
	snk.expect("zz", "a")
	if got := snk.missing(); got != 1 {
		t.Errorf("missing after late expect = %d, want 1", got)
	}
	// The duplicate of b did not move its first arrival.
	if !tot.First["b"].Equal(firstB) {
		t.Errorf("first arrival of b moved from %s to %s", firstB, tot.First["b"])
	}
}

// TestSinkCountsByItsIDAttribute: action logs are told apart by stackone.log_id; a record without it has no id,
// whatever else it carries.
func TestSinkCountsByItsIDAttribute(t *testing.T) {
	snk := newSink(logIDAttr)
	srv := httptest.NewServer(snk)
	defer srv.Close()
	snk.expect("l1", "l2")
	for _, req := range []plogotlp.ExportRequest{logsWith(logIDAttr, "l1", "l2", "l1"), logsWith(requestIDAttr, "r1")} {
		body, err := req.MarshalProto()
		if err != nil {
			t.Fatal(err)
		}
		if resp := post(t, srv.URL, "application/x-protobuf", false, body); resp.StatusCode != http.StatusOK {
			t.Fatalf("post: %s", resp.Status)
		}
	}
	tot := snk.totals()
	if tot.Records != 4 || tot.Distinct != 2 || tot.Duplicates != 1 || tot.NoID != 1 || tot.Count["l1"] != 2 {
		t.Errorf("totals = %+v", tot)
	}
	if got := snk.missing(); got != 0 {
		t.Errorf("missing = %d, want 0", got)
	}
}
