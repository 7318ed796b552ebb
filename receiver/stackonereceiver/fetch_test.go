package stackonereceiver

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/metadatatest"
	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/stackoneapi"
)

const msgPageSizeHalved = "StackOne refused the page size; this stream asks for smaller pages from now on"

// askedPageSizes lists the page_size of every list request the fake received on path, in order.
func askedPageSizes(t *testing.T, reqs []stackonefake.Recorded, path string) []int {
	t.Helper()
	var out []int
	for _, r := range reqs {
		if r.Path != path {
			continue
		}
		if r.Method == http.MethodPost {
			var b struct {
				PageSize int `json:"page_size"`
			}
			require.NoError(t, json.Unmarshal(r.Body, &b))
			out = append(out, b.PageSize)
			continue
		}
		n, err := strconv.Atoi(r.Query.Get("page_size"))
		require.NoError(t, err)
		out = append(out, n)
	}
	return out
}

func streamPoint(stream string, n int64) metricdata.DataPoint[int64] {
	return metricdata.DataPoint[int64]{Attributes: attribute.NewSet(attribute.String("stream", stream)), Value: n}
}

func streamErrorPoint(stream, class string, n int64) metricdata.DataPoint[int64] {
	return metricdata.DataPoint[int64]{
		Attributes: attribute.NewSet(attribute.String("stream", stream), attribute.String("error.class", class)),
		Value:      n,
	}
}

// A server whose page_size maximum is below the receiver's answers 400; the stream halves its page size until
// the server takes it, asks again at once, warns once and keeps the smaller size on later polls.
func TestRefusedPageSizeIsHalved(t *testing.T) {
	tests := []struct {
		name   string
		opts   stackonefake.Options
		stream string
		path   string
		cfg    func(*Config) *Config
		gen    func(w *world) []string
		sizes  []int // the page sizes asked for, in turn
	}{
		{"request logs, a server whose maximum is 50", stackonefake.Options{MaxPageSize: 50}, "request_logs", stackoneapi.RequestLogsPath,
			func(c *Config) *Config { return c }, func(w *world) []string {
				return idsOf(w.fake.GenerateRequestLogs(230, time.Now().Add(-30*time.Minute), 5*time.Second, 60), "request_id")
			}, []int{100, 50}},
		{"action logs, a server whose maximum is 30", stackonefake.Options{MaxActionPageSize: 30}, "action_logs", stackoneapi.ActionLogsPath,
			actionOnly, func(w *world) []string {
				return idsOf(w.fake.GenerateActionLogs(130, time.Now().Add(-30*time.Minute), 10*time.Second, 61), "log_id")
			}, []int{100, 50, 25}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, tt.opts)
			core, logs := observer.New(zapcore.InfoLevel)
			w.log = zap.New(core)
			want := tt.gen(w)
			cfg := tt.cfg(w.config())
			cfg.PageSize = 100
			sink := new(consumertest.LogsSink)
			r := w.start(cfg, sink)
			defer r.stop()
			r.awaitPoll()

			requireExactlyOnce(t, want, ids(sink))
			asked := askedPageSizes(t, w.fake.Requests(), tt.path)
			assert.Equal(t, tt.sizes, slices.Compact(slices.Clone(asked)), "asked %v", asked)
			assert.Empty(t, r.retryDelays(), "a refused page size is asked again at once, without back-off")
			halvings := int64(len(tt.sizes) - 1)
			metadatatest.AssertEqualReceiverStackonePageSizeReductions(t, r.tel, []metricdata.DataPoint[int64]{streamPoint(tt.stream, halvings)}, metricdatatest.IgnoreTimestamp())
			metadatatest.AssertEqualReceiverStackoneAPIErrors(t, r.tel, []metricdata.DataPoint[int64]{streamErrorPoint(tt.stream, "page_size", halvings)}, metricdatatest.IgnoreTimestamp())
			assert.NotContains(t, w.host.statuses(), componentstatus.StatusRecoverableError, "a refusal that halving fixes is no failure")
			warned := logs.FilterMessage(msgPageSizeHalved).All()
			require.Len(t, warned, 1, "one warning a minute, however often the size halves")
			assert.Equal(t, map[string]any{"stream": tt.stream, "refused_page_size": int64(100), "page_size": int64(50)},
				withoutKey(warned[0].ContextMap(), "error"))

			// The next poll keeps the smaller size: the server refused the larger one once and would again.
			before := len(asked)
			r.nextPoll()
			r.awaitPoll()
			later := askedPageSizes(t, w.fake.Requests(), tt.path)[before:]
			require.NotEmpty(t, later)
			for _, n := range later {
				assert.Equal(t, tt.sizes[len(tt.sizes)-1], n)
			}
			metadatatest.AssertEqualReceiverStackonePageSizeReductions(t, r.tel, []metricdata.DataPoint[int64]{streamPoint(tt.stream, halvings)}, metricdatatest.IgnoreTimestamp())
		})
	}
}

func withoutKey(m map[string]any, key string) map[string]any {
	delete(m, key)
	return m
}

// A server that refuses every page size down to 1 does not stall the stream: the poll ends with an error that
// is logged and shown, and the next poll reads at the smallest size.
func TestPageSizeRefusedDownToOneEndsThePoll(t *testing.T) {
	w := newWorld(t, stackonefake.Options{})
	core, logs := observer.New(zapcore.InfoLevel)
	w.log = zap.New(core)
	backlog := w.fake.GenerateRequestLogs(5, time.Now().Add(-10*time.Minute), 10*time.Second, 62)
	// Seven refusals: of 100, 50, 25, 12, 6, 3 and 1.
	w.fake.InjectFault(stackonefake.Fault{Path: stackoneapi.RequestLogsPath, Status: http.StatusBadRequest,
		Message: "page_size must not be greater than 0", Times: 7})
	cfg := w.config()
	cfg.PageSize = 100
	sink := new(consumertest.LogsSink)
	r := w.start(cfg, sink)
	defer r.stop()
	r.awaitPoll()

	assert.Empty(t, ids(sink))
	assert.Equal(t, []int{100, 50, 25, 12, 6, 3, 1}, askedPageSizes(t, w.fake.Requests(), stackoneapi.RequestLogsPath))
	metadatatest.AssertEqualReceiverStackonePageSizeReductions(t, r.tel, []metricdata.DataPoint[int64]{streamPoint("request_logs", 6)}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualReceiverStackoneAPIErrors(t, r.tel, []metricdata.DataPoint[int64]{apiErrorPoint("page_size", 7)}, metricdatatest.IgnoreTimestamp())
	assert.Contains(t, w.host.statuses(), componentstatus.StatusRecoverableError)
	assert.Equal(t, 1, logs.FilterMessage("StackOne API call failed; giving up this poll").FilterField(zap.String("error.class", "page_size")).Len())

	r.nextPoll()
	r.awaitPoll()
	requireExactlyOnce(t, idsOf(backlog, "request_id"), ids(sink))
}

func TestPageSizerHalvesOncePerRefusedSize(t *testing.T) {
	tests := []struct {
		name        string
		start       int
		asked       int // the size the refused read asked for
		wantNow     int
		wantLowered bool
		wantOK      bool
	}{
		{"halves the size asked", 100, 100, 50, true, true},
		{"rounds down", 25, 25, 12, true, true},
		{"from 3 to 1", 3, 3, 1, true, true},
		{"another reader lowered it already", 50, 100, 50, false, true},
		{"nothing below 1", 1, 1, 1, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPageSizer(tt.start)
			now, lowered, ok := p.refused(tt.asked)
			assert.Equal(t, tt.wantNow, now)
			assert.Equal(t, tt.wantLowered, lowered)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.wantNow, p.get())
		})
	}
}
