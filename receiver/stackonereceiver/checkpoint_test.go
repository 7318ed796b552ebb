package stackonereceiver

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/xextension/storage"

	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/metadata"
)

func memoryStore(t testing.TB) *positionStore {
	ext := storagetest.NewInMemoryStorageExtension("mem")
	c, err := ext.GetClient(context.Background(), component.KindReceiver, component.NewID(metadata.Type), "")
	require.NoError(t, err)
	return &positionStore{client: c, key: "position.request_logs"}
}

// window fills a position as a busy account would: pages of ids spread over a late-arrival window.
func window(p *position, pages, perPage int, newest time.Time) {
	for i := range pages {
		ids := make([]uint64, perPage)
		for j := range ids {
			ids[j] = idHash(fmt.Sprintf("req-%d-%d", i, j))
		}
		p.addPage(ids, newest.Add(-time.Duration(pages-i)*time.Second))
	}
}

func TestPositionWritesGrowWithThePageNotTheWindow(t *testing.T) {
	const perPage = 100
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, pages := range []int{1, 150, 1500} { // up to 150,000 ids inside the window
		t.Run(fmt.Sprintf("%d pages in the window", pages), func(t *testing.T) {
			store := memoryStore(t)
			p := newPosition(now.Add(-time.Hour))
			window(p, pages, perPage, now)
			_, err := store.save(context.Background(), p)
			require.NoError(t, err)

			window(p, 1, perPage, now.Add(time.Second))
			n, err := store.save(context.Background(), p)
			require.NoError(t, err)
			// one page record (8 bytes an id) and the small header
			assert.LessOrEqual(t, n, 8*(perPage+1)+512, "bytes written for one page")
		})
	}
}

func TestPositionRoundTripAndPruning(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	store := memoryStore(t)
	p := newPosition(now.Add(-time.Hour))
	p.Slices = planSlices(now.Add(-time.Hour), now.Add(-10*time.Minute), 4)
	p.Slices[1].Progress, p.Slices[1].Tail = p.Slices[1].Start.Add(time.Minute), []uint64{7, 8}
	p.Near, p.Far = now.Add(-90*time.Second), now.Add(-5*time.Minute)
	p.Delay, p.DelayRaised = 90*time.Second, now.Add(-time.Hour)
	window(p, 10, 5, now)
	_, err := store.save(context.Background(), p)
	require.NoError(t, err)

	got, err := store.load(context.Background())
	require.NoError(t, err)
	assert.Equal(t, p.Frontier, got.Frontier)
	assert.Equal(t, p.Slices, got.Slices)
	assert.Equal(t, []time.Time{p.Near, p.Far, p.DelayRaised}, []time.Time{got.Near, got.Far, got.DelayRaised}, "how far each sweep got")
	assert.Equal(t, p.Delay, got.Delay, "a learned indexing delay survives a restart")
	assert.True(t, got.DelayEased.IsZero())
	assert.Equal(t, p.seen.ids, got.seen.ids)

	// Pages older than the bound are deleted from storage as well as forgotten.
	got.prune(now.Add(-5*time.Second), time.Time{}, time.Time{})
	assert.Len(t, got.seen.pages, 5)
	_, err = store.save(context.Background(), got)
	require.NoError(t, err)
	again, err := store.load(context.Background())
	require.NoError(t, err)
	assert.Equal(t, got.seen.ids, again.seen.ids)
	for seq := range uint64(5) {
		v, err := store.client.Get(context.Background(), store.pageKey(seq))
		require.NoError(t, err)
		assert.Nil(t, v, "page %d aged out and was deleted", seq)
	}
}

func TestStoredVersionOnePositionIsMigrated(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	now := time.Now()
	old := w.fake.GenerateRequestLogs(10, now.Add(-4*time.Minute), time.Second, 43)
	fresh := w.fake.GenerateRequestLogs(5, now.Add(-2*time.Minute), time.Second, 44)
	// What version 1 stored after delivering the first ten entries.
	seen := ""
	for i, e := range old {
		at, _ := time.Parse(time.RFC3339Nano, e["event_datetime"].(string))
		if i > 0 {
			seen += ","
		}
		seen += fmt.Sprintf("%q:%d", e["request_id"], at.UnixMilli())
	}
	watermark := now.Add(-4*time.Minute + 9*time.Second).UTC().Format(time.RFC3339Nano)
	v1 := fmt.Sprintf(`{"version":1,"watermark":%q,"seen":{%s}}`, watermark, seen)
	w.withStorage(func(c storage.Client) {
		require.NoError(t, c.Set(context.Background(), "position.request_logs", []byte(v1)))
	})

	sink := new(consumertest.LogsSink)
	r := w.start(w.config(), sink)
	r.awaitPoll()
	r.stop()
	requireExactlyOnce(t, idsOf(fresh, "request_id"), ids(sink))
	p := w.position("request_logs")
	assert.Len(t, p.seen.ids, 15, "the migrated ids are kept, as version 2")
}

// BenchmarkPositionSave is the write after one page at 50 logs/s with a 5-minute window: 15,000 ids inside the
// window, 100 new ones on the page. Run: make bench
func BenchmarkPositionSave(b *testing.B) {
	for _, perPage := range []int{100, 1000} {
		b.Run(fmt.Sprintf("page=%d", perPage), func(b *testing.B) {
			now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
			store := memoryStore(b)
			p := newPosition(now.Add(-time.Hour))
			window(p, 15000/perPage, perPage, now)
			_, err := store.save(context.Background(), p)
			require.NoError(b, err)
			written := 0
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				ids := make([]uint64, perPage)
				for j := range ids {
					ids[j] = uint64(i*perPage + j)
				}
				p.addPage(ids, now.Add(time.Duration(i)*time.Millisecond))
				p.prune(now.Add(-5*time.Minute), time.Time{}, time.Time{})
				n, err := store.save(context.Background(), p)
				if err != nil {
					b.Fatal(err)
				}
				written += n
			}
			b.ReportMetric(float64(written)/float64(b.N), "bytes/page")
		})
	}
}

// A position stored by a release whose sweeps re-read the whole window from a window before the last sweep: both
// sweeps start there, so an entry that release had not yet swept is still delivered, once.
func TestPositionOfWholeWindowSweepsIsMigrated(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	now := time.Now().UTC()
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339Nano) }
	header := fmt.Sprintf(`{"version":2,"frontier":%q,"floor":%q,"last_sweep":%q,"seen_first":0,"seen_next":0}`,
		at(-time.Minute), at(-time.Hour), at(-30*time.Second))
	w.withStorage(func(c storage.Client) {
		require.NoError(t, c.Set(context.Background(), "position.request_logs", []byte(header)))
	})
	entry := func(id string, d time.Duration) map[string]any {
		return map[string]any{"request_id": id, "http_method": "GET", "path": "/x", "status": 200, "event_datetime": at(d)}
	}
	// Inside the window before the last sweep: not swept yet. Before it: swept by that release already.
	w.fake.AddRequestLogs(entry("unswept", -3*time.Minute), entry("swept", -10*time.Minute))

	sink := new(consumertest.LogsSink)
	r := w.start(w.config(), sink)
	r.awaitPoll()
	w.clock.advance(5 * time.Minute)
	r.nextPoll()
	r.awaitPoll()
	r.stop()
	requireExactlyOnce(t, []string{"unswept"}, ids(sink))
	p := w.position("request_logs")
	assert.True(t, p.LastSweep.IsZero(), "the old field is not written again")
}
