package stackonereceiver

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// Why a delivery was not authenticated; each is a reason in receiver_stackone_webhook_requests.
const (
	reasonSignatureMissing  = "signature_missing"
	reasonSignatureMismatch = "signature_mismatch"
	reasonTokenMismatch     = "token_mismatch"
	reasonTokenNotAllowed   = "token_not_allowed"
)

// signatureDecoders read a signature as sent. Padding and a "sha256=" prefix are accepted although StackOne
// sends neither: third-party senders and proxies add them, and neither carries information.
var signatureDecoders = map[string]func(string) ([]byte, error){
	encodingBase64URL: func(s string) ([]byte, error) {
		return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	},
	encodingBase64: func(s string) ([]byte, error) {
		return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	},
	encodingHex: hex.DecodeString,
}

// verifier authenticates a delivery: an HMAC-SHA256 of the raw body under any active secret, or, where
// allowed, the secret itself in ?token=. It never keeps or returns what it was shown.
type verifier struct {
	secrets      [][]byte
	tokenDigests [][sha256.Size]byte // SHA-256 of each secret: compared with the token's, so lengths leak nothing
	decode       func(string) ([]byte, error)
	allowToken   bool
}

func newVerifier(cfg *WebhookConfig) *verifier {
	v := &verifier{decode: signatureDecoders[cfg.SignatureEncoding], allowToken: cfg.AllowQueryToken}
	for _, s := range cfg.Secrets {
		v.secrets = append(v.secrets, []byte(s))
		v.tokenDigests = append(v.tokenDigests, sha256.Sum256([]byte(s)))
	}
	return v
}

// check returns "" when the delivery is authentic, else the reason it is not. With no secret configured
// (an authenticator extension guards the endpoint instead) every delivery passes. A valid signature or an
// allowed valid token is enough; every secret is tried, without stopping at the first match, so the time
// taken does not say which secret matched.
func (v *verifier) check(body []byte, signature string, token string, hasToken bool) string {
	if len(v.secrets) == 0 {
		return ""
	}
	signature = strings.TrimSpace(signature)
	if signature != "" && v.signatureMatches(body, signature) {
		return ""
	}
	if hasToken && v.allowToken && v.tokenMatches(token) {
		return ""
	}
	switch {
	case signature != "":
		return reasonSignatureMismatch
	case hasToken && !v.allowToken:
		return reasonTokenNotAllowed
	case hasToken:
		return reasonTokenMismatch
	}
	return reasonSignatureMissing
}

func (v *verifier) signatureMatches(body []byte, signature string) bool {
	if len(signature) > 7 && strings.EqualFold(signature[:7], "sha256=") {
		signature = signature[7:]
	}
	got, err := v.decode(signature)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	match := 0
	for _, secret := range v.secrets {
		mac := hmac.New(sha256.New, secret)
		mac.Write(body)
		if hmac.Equal(mac.Sum(nil), got) {
			match = 1
		}
	}
	return match == 1
}

func (v *verifier) tokenMatches(token string) bool {
	got := sha256.Sum256([]byte(token))
	match := 0
	for _, d := range v.tokenDigests {
		match |= subtle.ConstantTimeCompare(got[:], d[:])
	}
	return match == 1
}
