package stackonereceiver

import (
	"strings"
)

// nameKind is what the member names of an object are: entry fields (snake-cased, matched against
// redaction.fields), header names (matched against redaction.headers) or query parameter names (matched against
// redaction.query_params). Secrets sit at any depth of a provider's answer, and each kind of name has its own list.
type nameKind uint8

const (
	namesFields nameKind = iota
	namesHeaders
	namesParams
)

// nestedName is the decision for one member name of a nested object.
type nestedName struct {
	key     string   // the attribute key: snake_case for fields, lower case for headers, as sent for parameters
	secret  bool     // the value is replaced, whatever its type
	payload bool     // a request or response body: replaced when redaction.payloads is on
	members nameKind // what the names of the value's own members are, when it is an object
}

// nestedMember decides how a member named name inside an object whose names are of kind k is exported.
func (m *mapper) nestedMember(k nameKind, name string) nestedName {
	switch k {
	case namesHeaders:
		return nestedName{key: strings.ToLower(name), secret: m.sensitiveHeaders.match(name)}
	case namesParams:
		return nestedName{key: name, secret: m.urls.params.match(paramName(name))}
	}
	snake := snakeCase(name)
	n := nestedName{key: snake, secret: m.sensitiveFields.match(snake)}
	switch {
	case strings.HasSuffix(snake, "headers"):
		n.members = namesHeaders
	case snake == "query_params" || snake == "query" || snake == "params":
		n.members = namesParams
	case snake == "body":
		n.payload = m.redactPayloads
	}
	return n
}

// redactText removes credentials from free text: URLs anywhere in it (a provider's error message quoting the
// URL it was called with, token and all), the token of an Authorization scheme (Bearer, Basic), and the values
// of sensitive parameters when the whole text is a form-encoded body. Text with none of these is returned as is.
func (m *mapper) redactText(s string) string {
	if !strings.ContainsAny(s, ":= ") {
		return s // no URL, no authorization scheme, no parameter: the usual short value
	}
	if looksLikeURL(s) {
		return m.urls.redact(s)
	}
	if strings.Contains(s, "://") {
		s = m.redactURLsIn(s)
	}
	if containsFold(s, "bearer ") || containsFold(s, "basic ") {
		s = redactAuthSchemes(s)
	}
	if strings.IndexByte(s, '=') > 0 && !strings.ContainsAny(s, " \t\r\n") {
		s = m.urls.redactPairs(s, false)
	}
	return s
}

// redactURLsIn redacts every absolute URL inside s. A URL runs from its scheme to the first character that
// cannot be part of it in prose: whitespace, a quote or an angle bracket.
func (m *mapper) redactURLsIn(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		k := strings.Index(s[i:], "://")
		if k < 0 {
			break
		}
		sep := i + k
		start := sep
		for start > last && isSchemeByte(s[start-1]) {
			start--
		}
		end := sep + 3
		for end < len(s) && !strings.ContainsRune(" \t\r\n\"'<>`", rune(s[end])) {
			end++
		}
		if start < sep {
			u := s[start:end]
			if r := m.urls.redact(u); r != u {
				b.Grow(len(s) + 16)
				b.WriteString(s[last:start])
				b.WriteString(r)
				last = end
			}
		}
		i = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isSchemeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}

// redactAuthSchemes replaces the credentials after "Bearer " and "Basic " (any case) with REDACTED.
func redactAuthSchemes(s string) string {
	var b strings.Builder
	last := 0
	lower := strings.ToLower(s)
	for i := 0; i < len(s); {
		j := -1
		scheme := 0
		for _, p := range [...]string{"bearer ", "basic "} {
			if k := strings.Index(lower[i:], p); k >= 0 && (j < 0 || i+k < j) {
				j, scheme = i+k, len(p)
			}
		}
		if j < 0 {
			break
		}
		start := j + scheme
		for start < len(s) && s[start] == ' ' {
			start++
		}
		end := start
		for end < len(s) && isTokenByte(s[end]) {
			end++
		}
		if end > start && s[start:end] != redacted {
			b.Grow(len(s))
			b.WriteString(s[last:start])
			b.WriteString(redacted)
			last = end
		}
		i = max(end, j+scheme)
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// isTokenByte: the characters of RFC 6750's b64token and of base64.
func isTokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/=", c) >= 0
}

func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}
