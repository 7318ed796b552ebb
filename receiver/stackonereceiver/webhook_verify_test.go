package stackonereceiver

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
)

func TestVerifier(t *testing.T) {
	body := []byte(`{"event":"account.created","account_id":"acc_1"}`)
	mac := macOf(hookSecret, body)
	rotated := macOf(hookRotated, body)
	tests := []struct {
		name       string
		secrets    []configopaque.String
		encoding   string
		allowToken bool
		signature  string
		token      *string
		want       string
	}{
		{name: "StackOne's signature", signature: stackonefake.SignWebhook(hookSecret, body), want: ""},
		{name: "the rotated secret", signature: base64.RawURLEncoding.EncodeToString(rotated), want: ""},
		{name: "padded", signature: base64.URLEncoding.EncodeToString(mac), want: ""},
		{name: "prefixed and spaced", signature: " SHA256=" + base64.RawURLEncoding.EncodeToString(mac) + " ", want: ""},
		{name: "no signature", want: reasonSignatureMissing},
		{name: "only spaces", signature: "   ", want: reasonSignatureMissing},
		{name: "a retired secret", signature: stackonefake.SignWebhook("whsec_retired", body), want: reasonSignatureMismatch},
		{name: "a truncated MAC", signature: base64.RawURLEncoding.EncodeToString(mac[:16]), want: reasonSignatureMismatch},
		{name: "standard base64 with + and /, read as base64url", signature: base64.StdEncoding.EncodeToString(append(mac[:0:0], 0xfb, 0xff)), want: reasonSignatureMismatch},
		{name: "base64 configured", encoding: encodingBase64, signature: base64.StdEncoding.EncodeToString(mac), want: ""},
		{name: "base64 configured, unpadded", encoding: encodingBase64, signature: base64.RawStdEncoding.EncodeToString(rotated), want: ""},
		{name: "hex configured", encoding: encodingHex, signature: hex.EncodeToString(mac), want: ""},
		{name: "hex configured, upper case with prefix", encoding: encodingHex, signature: "sha256=" + hexUpper(mac), want: ""},
		{name: "hex configured, base64 sent", encoding: encodingHex, signature: base64.StdEncoding.EncodeToString(mac), want: reasonSignatureMismatch},
		{name: "token not allowed", token: ptr(hookSecret), want: reasonTokenNotAllowed},
		{name: "token allowed", allowToken: true, token: ptr(hookSecret), want: ""},
		{name: "rotated token allowed", allowToken: true, token: ptr(hookRotated), want: ""},
		{name: "wrong token", allowToken: true, token: ptr("whsec_current"), want: reasonTokenMismatch},
		{name: "empty token", allowToken: true, token: ptr(""), want: reasonTokenMismatch},
		{name: "a bad signature and a good token", allowToken: true, signature: "bad", token: ptr(hookSecret), want: ""},
		{name: "a good signature and a bad token", allowToken: true, signature: stackonefake.SignWebhook(hookSecret, body), token: ptr("x"), want: ""},
		{name: "a bad signature and a bad token", allowToken: true, signature: "bad", token: ptr("x"), want: reasonSignatureMismatch},
		{name: "no secrets: an authenticator guards the endpoint", secrets: []configopaque.String{}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := newDefaultWebhookConfig()
			cfg.Secrets = []configopaque.String{hookSecret, hookRotated}
			if tt.secrets != nil {
				cfg.Secrets = tt.secrets
			}
			if tt.encoding != "" {
				cfg.SignatureEncoding = tt.encoding
			}
			cfg.AllowQueryToken = tt.allowToken
			token, hasToken := "", tt.token != nil
			if hasToken {
				token = *tt.token
			}
			assert.Equal(t, tt.want, newVerifier(&cfg).check(body, tt.signature, token, hasToken))
		})
	}
}

func hexUpper(b []byte) string {
	s := []byte(hex.EncodeToString(b))
	for i, c := range s {
		if c >= 'a' && c <= 'f' {
			s[i] = c - 'a' + 'A'
		}
	}
	return string(s)
}

func macOf(secret string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return m.Sum(nil)
}

func ptr[T any](v T) *T { return &v }

func TestWithoutQueryToken(t *testing.T) {
	tests := []struct {
		name, target string
		wantQuery    string
		wantToken    *string
	}{
		{name: "no query", target: "/stackone/webhooks", wantQuery: ""},
		{name: "token only", target: "/stackone/webhooks?token=s3cret", wantQuery: "", wantToken: ptr("s3cret")},
		{name: "token among others", target: "/stackone/webhooks?a=1&token=s3cret&b=2", wantQuery: "a=1&b=2", wantToken: ptr("s3cret")},
		{name: "an encoded name", target: "/stackone/webhooks?%74oken=s3cret", wantQuery: "", wantToken: ptr("s3cret")},
		{name: "twice: the first counts, neither stays", target: "/stackone/webhooks?token=one&token=two", wantQuery: "", wantToken: ptr("one")},
		{name: "a query that does not parse is dropped whole", target: "/stackone/webhooks?token=s3cret&x=%zz", wantQuery: "", wantToken: ptr("s3cret")},
		{name: "other parameters stay", target: "/stackone/webhooks?source=stackone", wantQuery: "source=stackone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen *http.Request
			h := withoutQueryToken(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = r }))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, tt.target, nil))
			assert.Equal(t, tt.wantQuery, seen.URL.RawQuery)
			assert.NotContains(t, seen.RequestURI, "s3cret")
			assert.NotContains(t, seen.URL.String(), "s3cret")
			token, ok := seen.Context().Value(queryTokenKey{}).(string)
			if tt.wantToken == nil {
				assert.False(t, ok)
				return
			}
			assert.Equal(t, *tt.wantToken, token)
		})
	}
}
