// Command stackone-fake serves the in-process fake StackOne logs API on a real
// port, with backfilled history and live traffic, for demos and manual runs of
// the collector.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
)

func main() {
	key := "demo-key"
	if v := os.Getenv("STACKONE_FAKE_API_KEY"); v != "" {
		key = v
	}
	listen := flag.String("listen", "127.0.0.1:8089", "address to listen on")
	apiKey := flag.String("api-key", key, "API key expected as the Basic auth user (env STACKONE_FAKE_API_KEY); empty accepts anything")
	backfill := flag.Int("backfill", 2000, "request logs and action logs generated over the backfill window at start")
	window := flag.Duration("backfill-window", time.Hour, "how far back the backfill reaches")
	rate := flag.Float64("rate", 5, "live request and action logs added per second; 0 = none")
	camel := flag.Bool("camel-case", false, "serve request/step/platform logs with camelCase keys")
	detailInList := flag.Bool("detail-in-list", false, "serve failed requests' provider and mapping errors in the list rows too, as the docs' List Logs example shows (by default only GET /requests/logs/{id} has them)")
	steps := flag.Bool("action-steps", true, "generate the steps of every action run, served on POST /logs/steps (the collector's action_steps stream)")
	faultRate := flag.Float64("fault-rate", 0, "fraction of requests answered 429, 500 or with a truncated body")
	seed := flag.Int64("seed", 1, "seed for generated data and random faults")
	var pages pageLimits
	flag.Func("page-size-mode", "what a page_size above the maximum gets: strict (400, as StackOne's contract implies), clamp (the maximum, silently) or unlimited (any size); default strict", func(s string) error {
		m, err := stackonefake.ParsePageSizeMode(s)
		pages.mode = m
		return err
	})
	flag.IntVar(&pages.max, "max-page-size", 100, "largest page_size of /requests/logs, /requests/logs/steps and /requests/platform-logs (StackOne documents 100)")
	flag.IntVar(&pages.maxActions, "max-action-page-size", 1000, "largest page_size of /logs/actions and /logs/steps (StackOne publishes none)")
	var hooks webhooks
	flag.StringVar(&hooks.url, "webhook-url", "", "post signed StackOne webhook events to this URL (the collector's webhook endpoint); empty = none")
	flag.StringVar(&hooks.secret, "webhook-secret", os.Getenv("STACKONE_FAKE_WEBHOOK_SECRET"), "signing secret of the webhook events (env STACKONE_FAKE_WEBHOOK_SECRET)")
	flag.IntVar(&hooks.count, "webhook-events", 7, "webhook events to post, then one re-delivery of the first")
	flag.DurationVar(&hooks.every, "webhook-interval", 2*time.Second, "pause between two webhook events")
	flag.Parse()

	log.SetFlags(log.Ltime | log.Lmicroseconds)
	if err := run(*listen, *apiKey, *backfill, *window, *rate, *camel, *detailInList, *steps, *faultRate, *seed, pages, hooks); err != nil {
		log.Fatal(err)
	}
}

// pageLimits are the fake's page_size maxima and what it does above them.
type pageLimits struct {
	mode            stackonefake.PageSizeMode
	max, maxActions int
}

func run(listen, apiKey string, backfill int, window time.Duration, rate float64, camel, detailInList, steps bool, faultRate float64, seed int64, pages pageLimits, hooks webhooks) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fake := stackonefake.New(stackonefake.Options{
		APIKey: apiKey, CamelCase: camel, DetailInList: detailInList, ActionSteps: steps,
		PageSizeMode: pages.mode, MaxPageSize: pages.max, MaxActionPageSize: pages.maxActions,
	})
	if backfill > 0 {
		from := time.Now().Add(-window)
		step := window / time.Duration(backfill)
		fake.GenerateRequestLogs(backfill, from, step, seed)
		fake.GenerateActionLogs(backfill, from, step, seed+1)
	}

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	fmt.Printf("stackone-fake listening on http://%s (api key %q, page_size above %d, or %d on /logs/actions and /logs/steps: %s)\n",
		ln.Addr(), apiKey, pages.max, pages.maxActions, pages.mode)
	fake.StartLiveTraffic(ctx, rate, seed+2)

	srv := &http.Server{
		Handler:           logRequests(randomFaults(fake, faultRate, seed)),
		ReadHeaderTimeout: 10 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if hooks.url != "" {
		go hooks.send(ctx)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Print("stopped")
	return nil
}

// webhooks posts signed events the way StackOne does, to show the collector's webhook endpoint at work.
type webhooks struct {
	url, secret string
	count       int
	every       time.Duration
}

// send posts count events, one every `every`, then the first one again: a re-delivery the collector
// acknowledges without emitting it twice. The collector may still be starting: a refused connection or a
// 503 is tried again, as StackOne would.
func (h webhooks) send(ctx context.Context) {
	sender := &stackonefake.WebhookSender{
		URL: h.url, Secret: h.secret, MaxAttempts: 30,
		Client: &http.Client{Timeout: 10 * time.Second},
		Wait:   sleep,
	}
	var first []byte
	for i := range h.count + 1 {
		body := first
		event := "re-delivery of the first event"
		if i < h.count {
			event = stackonefake.WebhookEvents[i%len(stackonefake.WebhookEvents)]
			body = stackonefake.WebhookEvent(event, i+1, time.Now())
		}
		if i == 0 {
			first = body
		}
		attempts, err := sender.Deliver(ctx, body)
		if err != nil {
			log.Printf("webhook %s: %v", event, err)
		} else {
			log.Printf("webhook %s: acknowledged after %d attempt(s)", event, attempts)
		}
		if ctx.Err() != nil || sleep(ctx, h.every) != nil {
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// randomFaults queues a one-shot fault for the request's path before letting
// the fake answer it. Under concurrency another request on that path may take
// it instead, which is fine for a demo.
func randomFaults(fake *stackonefake.Server, rate float64, seed int64) http.Handler {
	if rate <= 0 {
		return fake
	}
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(uint64(seed), 0xfa017))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hit, kind := rng.Float64() < rate, rng.IntN(3)
		mu.Unlock()
		if hit {
			faults := []stackonefake.Fault{
				{Status: http.StatusTooManyRequests, RetryAfter: "1"},
				{Status: http.StatusInternalServerError},
				{Truncate: true},
			}
			f := faults[kind]
			f.Path = r.URL.Path
			fake.InjectFault(f)
		}
		fake.ServeHTTP(w, r)
	})
}

type teeWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (t *teeWriter) WriteHeader(status int) {
	t.status = status
	t.ResponseWriter.WriteHeader(status)
}

func (t *teeWriter) Write(b []byte) (int, error) {
	if t.status == 0 {
		t.status = http.StatusOK
	}
	t.body.Write(b)
	return t.ResponseWriter.Write(b)
}

func logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := &teeWriter{ResponseWriter: w}
		start := time.Now()
		h.ServeHTTP(t, r)
		entries := "-"
		if t.status < 400 {
			entries = countEntries(t.body.Bytes())
		}
		log.Printf("%s %s %d entries=%s %s", r.Method, r.URL.Path, t.status, entries, time.Since(start).Round(time.Microsecond))
	})
}

// countEntries reads the entry count back from the answer, so the log line
// reflects what a client actually received (a truncated body shows "-").
func countEntries(body []byte) string {
	var v struct {
		Data  json.RawMessage `json:"data"`
		LogID string          `json:"log_id"`
	}
	if json.Unmarshal(body, &v) != nil {
		return "-"
	}
	switch {
	case bytes.HasPrefix(bytes.TrimSpace(v.Data), []byte("[")):
		var items []json.RawMessage
		if json.Unmarshal(v.Data, &items) != nil {
			return "-"
		}
		return fmt.Sprint(len(items))
	case len(v.Data) > 0 || v.LogID != "":
		return "1"
	default:
		return "0"
	}
}
