package stackonereceiver

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/metadata"
)

// streamTelemetry is the receiver's own metrics as one stream records them, every one with its stream attribute.
type streamTelemetry struct {
	tb     *metadata.TelemetryBuilder
	stream string
	attrs  metric.MeasurementOption
	// reads are the attributes with each read too, built once: pages are counted on every call.
	reads [numReads]metric.MeasurementOption
}

func newStreamTelemetry(tb *metadata.TelemetryBuilder, stream string) streamTelemetry {
	t := streamTelemetry{tb: tb, stream: stream, attrs: metric.WithAttributeSet(attribute.NewSet(attribute.String("stream", stream)))}
	for rd := range numReads {
		t.reads[rd] = metric.WithAttributeSet(attribute.NewSet(attribute.String("stream", stream), attribute.String("read", read(rd).String())))
	}
	return t
}

func (t streamTelemetry) page(ctx context.Context, rd read) {
	t.tb.ReceiverStackonePagesFetched.Add(ctx, 1, t.readAttrs(rd))
}

func (t streamTelemetry) readAttrs(rd read) metric.MeasurementOption {
	return t.reads[rd]
}

func (t streamTelemetry) emitted(ctx context.Context, n int) {
	t.tb.ReceiverStackoneRecordsEmitted.Add(ctx, int64(n), t.attrs)
}

func (t streamTelemetry) dropped(ctx context.Context, n int) {
	t.tb.ReceiverStackoneRecordsDropped.Add(ctx, int64(n), t.attrs)
}

func (t streamTelemetry) truncated(ctx context.Context, n int) {
	t.tb.ReceiverStackoneRecordsTruncated.Add(ctx, int64(n), t.attrs)
}

func (t streamTelemetry) duplicates(ctx context.Context, n int) {
	t.tb.ReceiverStackoneDuplicatesDropped.Add(ctx, int64(n), t.attrs)
}

func (t streamTelemetry) retry(ctx context.Context) {
	t.tb.ReceiverStackoneRetries.Add(ctx, 1, t.attrs)
}

func (t streamTelemetry) retryAfterCapped(ctx context.Context) {
	t.tb.ReceiverStackoneRetryAfterCapped.Add(ctx, 1, t.attrs)
}

func (t streamTelemetry) checkpointError(ctx context.Context) {
	t.tb.ReceiverStackoneCheckpointErrors.Add(ctx, 1, t.attrs)
}

func (t streamTelemetry) checkpointBytes(ctx context.Context, n int) {
	if n > 0 {
		t.tb.ReceiverStackoneCheckpointBytes.Add(ctx, int64(n), t.attrs)
	}
}

func (t streamTelemetry) malformed(ctx context.Context, reason string, n int) {
	t.tb.ReceiverStackoneEntriesMalformed.Add(ctx, int64(n), metric.WithAttributes(attribute.String("stream", t.stream), attribute.String("reason", reason)))
}

func (t streamTelemetry) pageSizeHalved(ctx context.Context) {
	t.tb.ReceiverStackonePageSizeReductions.Add(ctx, 1, t.attrs)
}

func (t streamTelemetry) apiError(ctx context.Context, class string) {
	t.tb.ReceiverStackoneAPIErrors.Add(ctx, 1, metric.WithAttributes(attribute.String("stream", t.stream), attribute.String("error.class", class)))
}

func (t streamTelemetry) detail(ctx context.Context, outcome string, n int) {
	t.tb.ReceiverStackoneDetailRequests.Add(ctx, int64(n), metric.WithAttributes(attribute.String("stream", t.stream), attribute.String("outcome", outcome)))
}

// late counts what a sweep delivered that the live read had missed.
func (t streamTelemetry) late(ctx context.Context, rd read, n int) {
	if n > 0 {
		t.tb.ReceiverStackoneLateRecords.Add(ctx, int64(n), t.readAttrs(rd))
	}
}
