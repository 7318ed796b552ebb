package stackoneapi

import (
	"context"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
)

func TestDecodePageShape(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		entries    []string
		next       string
		total      int64
		notObjects int
	}{
		{name: "cursor page", body: `{"data":[{"request_id":"r1"}, {"a":[1,{"b":2}]}],"next":"c\u00e9"}`, entries: []string{`{"request_id":"r1"}`, `{"a":[1,{"b":2}]}`}, next: "cé", total: -1},
		{name: "last page", body: `{"data":[{}],"next":null}`, entries: []string{`{}`}, total: -1},
		{name: "action page with total", body: `{"data":[{"log_id":"l"}],"query":{"page":1},"total":1234}`, entries: []string{`{"log_id":"l"}`}, total: 1234},
		{name: "total that is not an integer", body: `{"data":[],"total":"many"}`, total: -1},
		// encoding/json matched member names case-insensitively; StackOne never sends these, but nothing is lost.
		{name: "member names in another case", body: `{"Data":[{}],"NEXT":"n"}`, entries: []string{`{}`}, next: "n", total: -1},
		// Repeated names and invalid UTF-8 inside one entry are the mapper's business, not a reason to drop the page.
		{name: "entry with a repeated name", body: `{"data":[{"a":1,"a":2}]}`, entries: []string{`{"a":1,"a":2}`}, total: -1},
		{name: "entry with invalid UTF-8", body: "{\"data\":[{\"a\":\"\xff\"}]}", entries: []string{"{\"a\":\"\xff\"}"}, total: -1},
		{name: "not objects counted", body: `{"data":[1,"x",null,[],{"ok":true},true]}`, entries: []string{`{"ok":true}`}, notObjects: 5, total: -1},
		{name: "null data", body: `{"data":null}`, total: -1},
		{name: "null body", body: `null`, total: -1},
		{name: "trailing bytes after the page are not read", body: `{"data":[{}]} <!-- proxy -->`, entries: []string{`{}`}, total: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := DecodePage([]byte(tt.body), 0)
			require.NoError(t, err)
			got := make([]string, len(p.Entries))
			for i, e := range p.Entries {
				got[i] = string(e)
			}
			assert.Equal(t, len(tt.entries), len(got))
			for i := range tt.entries {
				assert.Equal(t, tt.entries[i], got[i])
			}
			assert.Equal(t, tt.next, p.Next)
			assert.Equal(t, tt.total, p.Total)
			assert.Equal(t, tt.notObjects, p.NotObjects)
		})
	}
}

func TestDecodePageRefusesMalformedBodies(t *testing.T) {
	for _, body := range []string{
		``, `[]`, `"data"`, `{"data":{}}`, `{"data":"x"}`, `{"data":[{}`, `{"data":[{"a":}]}`, `{"next":{}}`, `{"next":1}`, `<html>`,
	} {
		p, err := DecodePage([]byte(body), 0)
		var de *DecodeError
		require.ErrorAs(t, err, &de, "body %q", body)
		assert.Empty(t, p.Entries, "body %q", body)
	}
}

// The entries are handed over as parts of the body, not copies: a page is held in memory once.
func TestDecodePageEntriesAliasTheBody(t *testing.T) {
	body := []byte(`{"data":[{"request_id":"r1"},{"request_id":"r2"}],"next":null}`)
	p, err := DecodePage(body, 0)
	require.NoError(t, err)
	require.Len(t, p.Entries, 2)
	start := uintptr(unsafe.Pointer(unsafe.SliceData(body)))
	for _, e := range p.Entries {
		at := uintptr(unsafe.Pointer(unsafe.SliceData(e)))
		assert.True(t, at >= start && at+uintptr(len(e)) <= start+uintptr(len(body)), "entry %s is a copy", e)
	}
}

func TestDecodePageEntryLimit(t *testing.T) {
	tests := []struct {
		name     string
		elements int
		limit    int
		tooLarge bool
	}{
		{name: "no limit", elements: 500, limit: 0},
		{name: "at the limit", elements: 300, limit: 300},
		{name: "one past the limit", elements: 301, limit: 300, tooLarge: true},
		{name: "elements that are not objects count too", elements: 301, limit: 300, tooLarge: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			el := "{}"
			if strings.Contains(tt.name, "not objects") {
				el = "0"
			}
			body := `{"data":[` + strings.TrimSuffix(strings.Repeat(el+",", tt.elements), ",") + `]}`
			p, err := DecodePage([]byte(body), tt.limit)
			if tt.tooLarge {
				var tl *TooLargeError
				require.ErrorAs(t, err, &tl)
				assert.Empty(t, p.Entries)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.elements, len(p.Entries)+p.NotObjects)
		})
	}
}

// A small body of millions of tiny objects is refused as soon as the count passes the limit: decoding it costs
// no memory beyond the body (the earlier decoder built every element first: 1.8 GB for 24 MB).
func TestDecodePageManyTinyObjectsCostNoMemory(t *testing.T) {
	body := []byte(`{"data":[` + strings.TrimSuffix(strings.Repeat("{},", 3_000_000), ",") + `],"next":null}`)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := DecodePage(body, 300)
	runtime.ReadMemStats(&after)
	var tl *TooLargeError
	require.ErrorAs(t, err, &tl)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(len(body)/10), "bytes allocated while refusing a %d-byte page", len(body))
}

// ListCursor and ListActions refuse a page far larger than the page_size they asked for; the fake sends
// 3,000,000 empty objects whatever page_size said.
func TestListRefusesFarMoreEntriesThanAskedFor(t *testing.T) {
	fake := stackonefake.New(stackonefake.Options{APIKey: "k"})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	c, err := NewClient(srv.Client(), srv.URL, "k", "ua")
	require.NoError(t, err)
	calls := []struct {
		name string
		list func() (Page, error)
	}{
		{name: "request logs", list: func() (Page, error) {
			return c.ListCursor(context.Background(), RequestLogsPath, CursorQuery{PageSize: 100})
		}},
		{name: "action logs", list: func() (Page, error) {
			return c.ListActions(context.Background(), ActionQuery{Page: 1, PageSize: 100})
		}},
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			fake.InjectFault(stackonefake.Fault{TinyObjects: 3_000_000})
			_, err := tt.list()
			var tl *TooLargeError
			require.ErrorAs(t, err, &tl)
			assert.Contains(t, err.Error(), "more than 300 entries")

			// a server that rounds the page size up a little is still read
			fake.InjectFault(stackonefake.Fault{TinyObjects: 250})
			p, err := tt.list()
			require.NoError(t, err)
			assert.Len(t, p.Entries, 250)
		})
	}
}

func TestMaxEntriesFor(t *testing.T) {
	for pageSize, want := range map[int]int{0: 0, -1: 0, 1: 102, 100: 300, 1000: 2100} {
		assert.Equal(t, want, maxEntriesFor(pageSize), "page_size %d", pageSize)
	}
}
