package stackonereceiver

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/confmap"
)

const (
	// Loopback by default, as every collector server component: exposing the endpoint is a decision.
	defaultWebhookEndpoint   = "localhost:8090"
	defaultWebhookPath       = "/stackone/webhooks"
	defaultWebhookHealthPath = "/stackone/webhooks/health"
	// The header StackOne's own example code reads.
	defaultSignatureHeader = "x-stackone-signature"
	// StackOne's events are small JSON documents; 1 MiB leaves room for a legacy event's record data.
	defaultWebhookBodySize = 1 << 20
	minWebhookBodySize     = 1 << 10
	maxWebhookBodySize     = 64 << 20
	defaultDedupWindow     = 10 * time.Minute
	maxDedupWindow         = 24 * time.Hour

	encodingBase64URL = "base64url"
	encodingBase64    = "base64"
	encodingHex       = "hex"
)

// WebhookConfig is the `webhook:` section: an HTTP endpoint StackOne delivers signed events to.
type WebhookConfig struct {
	// Enabled starts the endpoint; the polling streams run either way.
	Enabled bool `mapstructure:"enabled"`
	// ServerConfig holds endpoint, tls, auth, max_request_body_size, read_timeout, write_timeout, ...
	confighttp.ServerConfig `mapstructure:",squash"`
	// Path is where StackOne posts events.
	Path string `mapstructure:"path"`
	// HealthPath answers GET with 200 while the endpoint serves, for a load balancer; "" turns it off.
	HealthPath string `mapstructure:"health_path"`
	// Secrets are the webhook's signing secrets; a delivery signed with any of them is accepted, so a secret
	// can be rotated with both active.
	Secrets []configopaque.String `mapstructure:"secrets"`
	// SignatureHeader carries the signature of the raw body.
	SignatureHeader string `mapstructure:"signature_header"`
	// SignatureEncoding is how the HMAC-SHA256 is written in SignatureHeader: base64url, base64 or hex.
	SignatureEncoding string `mapstructure:"signature_encoding"`
	// AllowQueryToken also accepts older set-ups that put a secret in the URL (?token=<secret>).
	AllowQueryToken bool `mapstructure:"allow_query_token"`
	// DedupWindow is how long a delivered body is remembered, so a re-delivery is acknowledged without
	// being emitted twice; 0 emits every delivery.
	DedupWindow time.Duration `mapstructure:"dedup_window"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Unmarshal exists because confighttp.ServerConfig implements confmap.Unmarshaler up to v0.164: squashed in
// here, its method would be promoted and decode only the server fields, dropping path, secrets and the rest
// (opentelemetry-collector#15985, as for Config). Where it does not, this is plain decoding.
func (wc *WebhookConfig) Unmarshal(conf *confmap.Conf) error {
	return conf.Unmarshal(wc)
}

func newDefaultWebhookConfig() WebhookConfig {
	server := confighttp.NewDefaultServerConfig()
	server.NetAddr.Endpoint = defaultWebhookEndpoint
	server.MaxRequestBodySize = defaultWebhookBodySize
	// The endpoint faces the internet: a client that trickles its headers or body must not hold a connection.
	server.ReadHeaderTimeout = 10 * time.Second
	server.ReadTimeout = 30 * time.Second
	server.WriteTimeout = 30 * time.Second
	return WebhookConfig{
		ServerConfig:      server,
		Path:              defaultWebhookPath,
		HealthPath:        defaultWebhookHealthPath,
		SignatureHeader:   defaultSignatureHeader,
		SignatureEncoding: encodingBase64URL,
		DedupWindow:       defaultDedupWindow,
	}
}

// validate checks the section only when it is enabled: a disabled endpoint's settings do not matter.
func (wc *WebhookConfig) validate() []error {
	if !wc.Enabled {
		return nil
	}
	var errs []error
	if strings.TrimSpace(wc.NetAddr.Endpoint) == "" {
		errs = append(errs, fmt.Errorf("webhook.endpoint is empty: set the address to listen on, e.g. %s (or 0.0.0.0:8090 behind your ingress)", defaultWebhookEndpoint))
	}
	if !strings.HasPrefix(wc.Path, "/") {
		errs = append(errs, fmt.Errorf("webhook.path %q must start with /: use e.g. %s", wc.Path, defaultWebhookPath))
	}
	if wc.HealthPath != "" && !strings.HasPrefix(wc.HealthPath, "/") {
		errs = append(errs, fmt.Errorf("webhook.health_path %q must start with /: use e.g. %s, or \"\" to turn it off", wc.HealthPath, defaultWebhookHealthPath))
	}
	if wc.HealthPath != "" && wc.HealthPath == wc.Path {
		errs = append(errs, fmt.Errorf("webhook.health_path %q is also webhook.path: give the health check its own path, e.g. %s", wc.HealthPath, defaultWebhookHealthPath))
	}
	for i, s := range wc.Secrets {
		if strings.TrimSpace(string(s)) == "" {
			errs = append(errs, fmt.Errorf("webhook.secrets[%d] is empty: remove it, or set it to the webhook's signing secret, e.g. ${env:STACKONE_WEBHOOK_SECRET}", i))
		}
	}
	if len(wc.Secrets) == 0 && !wc.Auth.HasValue() {
		// Without either, anyone who finds the URL could write log records.
		errs = append(errs, errors.New("webhook.secrets is empty: add the signing secret StackOne shows for the webhook, e.g. secrets: [\"${env:STACKONE_WEBHOOK_SECRET}\"], or configure webhook.auth with an authenticator extension"))
	}
	if len(wc.Secrets) == 0 && wc.AllowQueryToken {
		errs = append(errs, errors.New("webhook.allow_query_token needs webhook.secrets: the ?token= value is compared with them"))
	}
	if h := strings.TrimSpace(wc.SignatureHeader); h == "" || !validHeaderName(h) {
		errs = append(errs, fmt.Errorf("webhook.signature_header %q is not an HTTP header name: use e.g. %s", wc.SignatureHeader, defaultSignatureHeader))
	}
	if _, ok := signatureDecoders[wc.SignatureEncoding]; !ok {
		errs = append(errs, fmt.Errorf("webhook.signature_encoding %q is not supported: use %s (StackOne's), %s or %s", wc.SignatureEncoding, encodingBase64URL, encodingBase64, encodingHex))
	}
	if wc.MaxRequestBodySize < minWebhookBodySize || wc.MaxRequestBodySize > maxWebhookBodySize {
		errs = append(errs, fmt.Errorf("webhook.max_request_body_size %d is out of range: use %d (1 KiB) to %d (64 MiB) bytes (%d, 1 MiB, is a good default)",
			wc.MaxRequestBodySize, minWebhookBodySize, maxWebhookBodySize, defaultWebhookBodySize))
	}
	for _, t := range []struct {
		name string
		d    time.Duration
	}{{"read_header_timeout", wc.ReadHeaderTimeout}, {"read_timeout", wc.ReadTimeout}, {"write_timeout", wc.WriteTimeout}} {
		if t.d < 0 {
			errs = append(errs, fmt.Errorf("webhook.%s %s is negative: use a positive duration such as 30s, or 0 for none", t.name, t.d))
		}
	}
	if wc.DedupWindow < 0 || wc.DedupWindow > maxDedupWindow {
		errs = append(errs, fmt.Errorf("webhook.dedup_window %s is out of range: use 0 (emit every delivery) to 24h (10m is a good default)", wc.DedupWindow))
	}
	return errs
}

// validHeaderName: an RFC 9110 token, what net/http accepts as a header name.
func validHeaderName(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return h != ""
}
