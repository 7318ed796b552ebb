package stackonereceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/metadata"
)

func TestLoadWebhookConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	load := func(name string) *Config {
		cfg := createDefaultConfig()
		sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
		require.NoError(t, err)
		require.NoError(t, sub.Unmarshal(&cfg))
		require.NoError(t, confmap.Validate(cfg))
		return cfg.(*Config)
	}

	defaults := createDefaultConfig().(*Config).Webhook
	assert.False(t, defaults.Enabled, "off unless asked for")
	assert.Equal(t, "localhost:8090", defaults.NetAddr.Endpoint)
	assert.Equal(t, "/stackone/webhooks", defaults.Path)
	assert.Equal(t, "/stackone/webhooks/health", defaults.HealthPath)
	assert.Equal(t, "x-stackone-signature", defaults.SignatureHeader)
	assert.Equal(t, "base64url", defaults.SignatureEncoding)
	assert.False(t, defaults.AllowQueryToken)
	assert.EqualValues(t, 1<<20, defaults.MaxRequestBodySize)
	assert.Equal(t, 10*time.Minute, defaults.DedupWindow)
	assert.Equal(t, 30*time.Second, defaults.ReadTimeout)
	assert.Equal(t, 30*time.Second, defaults.WriteTimeout)

	// Every key arrives, beside confighttp's own (its Unmarshal would drop them if it were promoted).
	wh := load("webhook").Webhook
	assert.True(t, wh.Enabled)
	assert.Equal(t, "0.0.0.0:9443", wh.NetAddr.Endpoint)
	require.True(t, wh.TLS.HasValue())
	assert.Equal(t, "server.crt", wh.TLS.Get().CertFile)
	assert.Equal(t, "/hooks/stackone", wh.Path)
	assert.Equal(t, "/hooks/health", wh.HealthPath)
	assert.Equal(t, []configopaque.String{"whsec_one", "whsec_two"}, wh.Secrets)
	assert.Equal(t, "X-Hub-Signature", wh.SignatureHeader)
	assert.Equal(t, "hex", wh.SignatureEncoding)
	assert.True(t, wh.AllowQueryToken)
	assert.EqualValues(t, 256<<10, wh.MaxRequestBodySize)
	assert.Equal(t, 5*time.Second, wh.ReadTimeout)
	assert.Equal(t, 15*time.Second, wh.WriteTimeout)
	assert.Equal(t, 10*time.Second, wh.ReadHeaderTimeout, "a default kept")
	assert.Equal(t, 30*time.Minute, wh.DedupWindow)
	assert.NotContains(t, wh.Secrets[0].String(), "whsec", "secrets never print")
}

func TestValidateWebhook(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*WebhookConfig)
		wantErr string
	}{
		{name: "valid", mutate: func(*WebhookConfig) {}},
		{name: "disabled settings do not matter", mutate: func(c *WebhookConfig) { c.Enabled = false; c.Secrets = nil; c.Path = "x" }},
		{name: "no endpoint", mutate: func(c *WebhookConfig) { c.NetAddr.Endpoint = "" }, wantErr: "webhook.endpoint is empty: set the address"},
		{name: "relative path", mutate: func(c *WebhookConfig) { c.Path = "hooks" }, wantErr: `webhook.path "hooks" must start with /`},
		{name: "relative health path", mutate: func(c *WebhookConfig) { c.HealthPath = "health" }, wantErr: `webhook.health_path "health" must start with /`},
		{name: "no health path", mutate: func(c *WebhookConfig) { c.HealthPath = "" }},
		{name: "health path is the path", mutate: func(c *WebhookConfig) { c.HealthPath = c.Path }, wantErr: "give the health check its own path"},
		{name: "no secret and no auth", mutate: func(c *WebhookConfig) { c.Secrets = nil }, wantErr: "webhook.secrets is empty: add the signing secret"},
		{name: "empty secret", mutate: func(c *WebhookConfig) { c.Secrets = []configopaque.String{"ok", " "} }, wantErr: "webhook.secrets[1] is empty"},
		{name: "token without secrets", mutate: func(c *WebhookConfig) {
			c.Secrets = nil
			require.NoError(t, confmap.NewFromStringMap(map[string]any{"auth": map[string]any{"authenticator": "basicauth"}}).Unmarshal(c))
			c.AllowQueryToken = true
		}, wantErr: "webhook.allow_query_token needs webhook.secrets"},
		{name: "header with a space", mutate: func(c *WebhookConfig) { c.SignatureHeader = "x stackone" }, wantErr: `webhook.signature_header "x stackone" is not an HTTP header name`},
		{name: "no header", mutate: func(c *WebhookConfig) { c.SignatureHeader = "" }, wantErr: "is not an HTTP header name"},
		{name: "unknown encoding", mutate: func(c *WebhookConfig) { c.SignatureEncoding = "base32" }, wantErr: `webhook.signature_encoding "base32" is not supported: use base64url`},
		{name: "body limit too small", mutate: func(c *WebhookConfig) { c.MaxRequestBodySize = 100 }, wantErr: "webhook.max_request_body_size 100 is out of range"},
		{name: "body limit left to confighttp", mutate: func(c *WebhookConfig) { c.MaxRequestBodySize = 0 }, wantErr: "webhook.max_request_body_size 0 is out of range"},
		{name: "negative timeout", mutate: func(c *WebhookConfig) { c.WriteTimeout = -time.Second }, wantErr: "webhook.write_timeout -1s is negative"},
		{name: "dedup window too long", mutate: func(c *WebhookConfig) { c.DedupWindow = 48 * time.Hour }, wantErr: "webhook.dedup_window 48h0m0s is out of range"},
		{name: "no dedup", mutate: func(c *WebhookConfig) { c.DedupWindow = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			cfg.APIKey = "k"
			cfg.Webhook.Enabled = true
			cfg.Webhook.Secrets = []configopaque.String{"whsec_x"}
			tt.mutate(&cfg.Webhook)
			err := cfg.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}
