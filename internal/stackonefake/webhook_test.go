package stackonefake

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSignWebhookIsUnpaddedBase64URLOfTheHMAC(t *testing.T) {
	body := []byte(`{"event":"account.created"}`)
	mac := hmac.New(sha256.New, []byte("whsec_1"))
	mac.Write(body)
	sig := SignWebhook("whsec_1", body)
	assert.Equal(t, base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), sig)
	assert.NotContains(t, sig, "=")
	assert.Len(t, sig, 43)
}

func TestWebhookEventCarriesStackOnesFields(t *testing.T) {
	var p map[string]any
	require.NoError(t, json.Unmarshal(WebhookEvent("account.error", 3, t0), &p))
	for _, k := range []string{"event", "project_id", "account_id", "provider", "origin_owner_id", "event_date", "sent_at", "record_id", "event_data"} {
		assert.Contains(t, p, k)
	}
	assert.Equal(t, "account.error", p["event"])
	assert.NotEqual(t, string(WebhookEvent("account.error", 3, t0)), string(WebhookEvent("account.error", 4, t0)), "seq makes events distinct")
}

// The sender re-delivers after 503 (waiting what Retry-After says), stops at a 2xx, gives up on a 4xx.
func TestWebhookSenderRedeliversLikeStackOne(t *testing.T) {
	var mu sync.Mutex
	var answers []int
	var sigs []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		sigs = append(sigs, r.Header.Get(SignatureHeader))
		assert.Equal(t, SignWebhook("s", body), r.Header.Get(SignatureHeader))
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		status := answers[0]
		answers = answers[1:]
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "7")
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	var waits []time.Duration
	s := &WebhookSender{URL: srv.URL, Secret: "s", Wait: func(_ context.Context, d time.Duration) error {
		waits = append(waits, d)
		return nil
	}}

	answers = []int{503, 500, 200}
	attempts, err := s.Deliver(context.Background(), []byte(`{"event":"a.b"}`))
	require.NoError(t, err)
	assert.Equal(t, 3, attempts)
	assert.Equal(t, []time.Duration{7 * time.Second, time.Second}, waits)

	answers = []int{401}
	attempts, err = s.Deliver(context.Background(), []byte(`{}`))
	require.ErrorContains(t, err, "answered 401")
	assert.Equal(t, 1, attempts)

	s.MaxAttempts = 2
	answers = []int{503, 503}
	_, err = s.Deliver(context.Background(), []byte(`{}`))
	require.ErrorContains(t, err, "not acknowledged")
}
