package stackonefake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// SignatureHeader is where StackOne's example code reads a webhook delivery's signature.
const SignatureHeader = "x-stackone-signature"

// SignWebhook is the signature StackOne's example code verifies: base64url, without padding or prefix, of
// HMAC-SHA256(secret, raw body).
func SignWebhook(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// WebhookEvents are the events the demo sends: platform events, the guide's critical ones and a legacy
// unified event.
var WebhookEvents = []string{
	"account.created", "account.updated", "hris_employees.created", "account.error", "request.failed", "account.expired",
	"account.deleted",
}

// WebhookEvent is one delivery's body with the fields StackOne's payloads carry. seq makes it unique; the
// account is one of the fake's linked accounts.
func WebhookEvent(event string, seq int, at time.Time) []byte {
	acc := accounts[seq%len(accounts)]
	p := map[string]any{
		"event":             event,
		"project_id":        acc.project,
		"account_id":        acc.id,
		"provider":          acc.provider,
		"origin_owner_id":   fmt.Sprintf("cus_%04d", seq%97),
		"origin_owner_name": "Acme Corp",
		"origin_username":   "ops@acme.example",
		"event_date":        at.UTC().Format(time.RFC3339Nano),
		"sent_at":           at.Add(150 * time.Millisecond).UTC().Format(time.RFC3339Nano),
		"record_id":         fmt.Sprintf("evt_%06d", seq),
	}
	switch event {
	case "account.error", "account.expired", "request.failed":
		p["event_data"] = map[string]any{"status": "error", "message": "provider credentials rejected (401)", "retry": seq}
	case "hris_employees.created":
		p["record_type"] = "employees"
		p["record_remote_id"] = fmt.Sprintf("emp-%d", 1000+seq)
		p["data"] = map[string]any{"id": fmt.Sprintf("emp_%d", seq), "first_name": "Ada", "last_name": "Lovelace"}
	}
	b, err := json.Marshal(p)
	if err != nil {
		panic(err) // a map of strings and numbers always marshals
	}
	return b
}

// WebhookSender delivers signed events the way StackOne re-delivers: an answer other than 2xx is tried
// again, after Retry-After when the endpoint sent one.
type WebhookSender struct {
	URL    string
	Secret string
	Client *http.Client
	// MaxAttempts bounds the tries of one delivery; 0 means 10.
	MaxAttempts int
	// Wait is the pause before a re-delivery; nil re-delivers at once.
	Wait func(ctx context.Context, d time.Duration) error
	// OnAnswer, when set, sees every answer's status code.
	OnAnswer func(status int)
}

// Deliver posts body until it is acknowledged with a 2xx, and returns the attempts it took. A 4xx other
// than 408 and 429 is final: StackOne would not succeed by sending the same thing again either.
func (s *WebhookSender) Deliver(ctx context.Context, body []byte) (int, error) {
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	limit := s.MaxAttempts
	if limit <= 0 {
		limit = 10
	}
	var last error
	for attempt := 1; attempt <= limit; attempt++ {
		status, retryAfter, err := s.post(ctx, client, body)
		if err == nil && s.OnAnswer != nil {
			s.OnAnswer(status)
		}
		switch {
		case err != nil:
			last = err
		case status >= 200 && status < 300:
			return attempt, nil
		case status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
			return attempt, fmt.Errorf("webhook endpoint answered %d", status)
		default:
			last = fmt.Errorf("webhook endpoint answered %d", status)
		}
		if ctx.Err() != nil {
			return attempt, ctx.Err()
		}
		if s.Wait != nil && attempt < limit {
			if err := s.Wait(ctx, retryAfter); err != nil {
				return attempt, err
			}
		}
	}
	return limit, errors.Join(errors.New("webhook delivery not acknowledged"), last)
}

func (s *WebhookSender) post(ctx context.Context, client *http.Client, body []byte) (int, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "stackone-webhooks-fake/1.0")
	req.Header.Set(SignatureHeader, SignWebhook(s.Secret, body))
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	retryAfter := time.Second
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs >= 0 {
		retryAfter = time.Duration(secs) * time.Second
	}
	return resp.StatusCode, retryAfter, nil
}
