package stackonereceiver

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Rows marked "failed before" came out wrong with the previous release's redaction (checked by running the same
// rows against it): "leaked" ones exported a credential, the others rewrote text that needed no change.
func TestURLRedaction(t *testing.T) {
	r := newMapper(createDefaultConfig().(*Config).Redaction, "test").urls
	tests := []struct {
		name, in, want string
	}{
		{name: "nothing to redact", in: "https://api.stackone.com/unified/hris/employees?page_size=25", want: "https://api.stackone.com/unified/hris/employees?page_size=25"},
		// failed before: the path came out percent-encoded, so a search for it as StackOne shows it found nothing
		{name: "Unicode path kept as sent", in: "https://api.stackone.com/employees/Jörg/文档", want: "https://api.stackone.com/employees/Jörg/文档"},
		// failed before: path re-encoded and parameters re-ordered
		{name: "only the secret changes", in: "https://api.x.com/employees/Jörg?limit=5&api_key=sk_1&b=%2F", want: "https://api.x.com/employees/Jörg?limit=5&api_key=REDACTED&b=%2F"},
		{name: "user info", in: "https://user:pass@provider.example.com/v1/people", want: "https://REDACTED:REDACTED@provider.example.com/v1/people"},
		{name: "user without password", in: "https://token123@host/x", want: "https://REDACTED:REDACTED@host/x"},
		// failed before: the fragment of an OAuth implicit-flow redirect was exported whole
		{name: "fragment parameters", in: "https://app.example.com/cb#access_token=abc&token_type=bearer&state=xyz", want: "https://app.example.com/cb#access_token=REDACTED&token_type=REDACTED&state=xyz"},
		{name: "plain fragment kept", in: "https://docs.example.com/page#section-2", want: "https://docs.example.com/page#section-2"},
		// failed before: the query was re-encoded (this row and the bare-parameter, relative-reference rows)
		{name: "escaped parameter name", in: "https://h/p?api%5Fkey=s&x=1", want: "https://h/p?api%5Fkey=REDACTED&x=1"},
		{name: "empty value", in: "https://h/p?token=", want: "https://h/p?token=REDACTED"},
		{name: "bare parameter is a name", in: "https://h/p?flag&sig=abc", want: "https://h/p?flag&sig=REDACTED"},
		{name: "@ in the path is not user info", in: "https://h/users/a@b.com?limit=1", want: "https://h/users/a@b.com?limit=1"},
		// failed before, leaked: a URL that did not parse was cut at '?' but kept its user info
		{name: "unparseable: no user info", in: "https://user:pa ss@host/x?token=abc", want: "https://REDACTED:REDACTED@host/x?token=REDACTED"},
		{name: "unparseable: no query value, no fragment", in: "https://host/a%zz?q=secret&r=1#frag=x", want: "https://host/a%zz?q=REDACTED&r=REDACTED"},
		// failed before, leaked (user info); the next row too
		{name: "unparseable without scheme", in: "//user:p%zz@host/x?k=v", want: "//REDACTED:REDACTED@host/x?k=REDACTED"},
		{name: "unparseable, no authority", in: "pa ss@host/%zz", want: "REDACTED:REDACTED@host/%zz"},
		{name: "relative reference", in: "/v1/people?limit=5&access_token=t", want: "/v1/people?limit=5&access_token=REDACTED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, r.redact(tt.in))
		})
	}
}

func TestDefaultHeaderAndFieldNames(t *testing.T) {
	m := newMapper(createDefaultConfig().(*Config).Redaction, "test")
	headers := []struct {
		name      string
		sensitive bool
	}{
		{"Authorization", true}, {"Proxy-Authorization", true}, {"Cookie", true}, {"Set-Cookie", true},
		{"X-API-Key", true}, {"X-Api-Token", true}, {"X-Client-Secret", true},
		// failed before: none of these matched the previous defaults
		{"X-Auth-Key", true}, {"Authentication", true}, {"Ocp-Apim-Subscription-Key", true}, {"X-Functions-Key", true},
		{"Content-Type", false}, {"Accept", false}, {"User-Agent", false}, {"X-Request-Id", false}, {"Keep-Alive", false},
	}
	for _, h := range headers {
		assert.Equal(t, h.sensitive, m.header(h.name).sensitive, "header %s", h.name)
	}
	// Field names have their own list: the broad header globs would hide harmless fields.
	fields := []struct {
		name      string
		sensitive bool
	}{
		{"auth_token", true}, {"api_key", true}, {"client_secret", true}, {"refresh_token", true}, {"password", true},
		{"aws_access_key", true}, {"private_key_pem", true}, {"credentials", true}, {"cookie", true},
		{"connector_key", false}, {"auth_type", false}, {"auth_method", false}, {"idempotency_key", false}, {"provider", false},
	}
	for _, f := range fields {
		assert.Equal(t, f.sensitive, m.sensitiveFields.match(f.name), "field %s", f.name)
	}
}

func TestNameMatcherIsCaseInsensitiveAndBounded(t *testing.T) {
	m := newNameMatcher([]string{"*Token*", " authorization "})
	assert.True(t, m.match("X-ACCESS-TOKEN"))
	assert.True(t, m.match("Authorization"))
	assert.False(t, m.match("author"))
	for i := 0; i < maxCachedNames+10; i++ {
		m.match(string(rune('a'+i%26)) + string(rune(i)))
	}
	p := m.cache.m.Load()
	assert.LessOrEqual(t, len(*p), maxCachedNames, "the decision cache does not grow past its bound")
	assert.True(t, m.match("x-token"), "decisions past the bound are still made")
}
