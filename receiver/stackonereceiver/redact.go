package stackonereceiver

import (
	"net/url"
	"path"
	"strings"
	"sync"
	"sync/atomic"
)

const redacted = "REDACTED"

// maxCachedNames bounds each decision cache: field and header names repeat on every entry, but a provider could
// send arbitrary header names, and memory must not grow with them. Past the bound, decisions are recomputed.
const maxCachedNames = 4096

// nameCache maps names to decisions. Reads take no lock and allocate nothing, also when the name is a []byte
// slice of an entry; an insert copies the map, which is rare because the names of a stream hardly change.
type nameCache[V any] struct {
	m  atomic.Pointer[map[string]V]
	mu sync.Mutex
}

func (c *nameCache[V]) get(name string) (V, bool) {
	if p := c.m.Load(); p != nil {
		v, ok := (*p)[name]
		return v, ok
	}
	var zero V
	return zero, false
}

func (c *nameCache[V]) getBytes(name []byte) (V, bool) {
	if p := c.m.Load(); p != nil {
		v, ok := (*p)[string(name)]
		return v, ok
	}
	var zero V
	return zero, false
}

func (c *nameCache[V]) put(name string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var old map[string]V
	if p := c.m.Load(); p != nil {
		old = *p
	}
	if len(old) >= maxCachedNames {
		return
	}
	next := make(map[string]V, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[strings.Clone(name)] = v // the name may alias an entry; the cache must not keep it alive
	c.m.Store(&next)
}

// nameMatcher decides whether a field, header or parameter name is sensitive: names are matched
// case-insensitively against globs in which `*` matches any run of characters.
type nameMatcher struct {
	patterns []string
	cache    nameCache[bool]
}

func newNameMatcher(patterns []string) *nameMatcher {
	m := &nameMatcher{patterns: make([]string, len(patterns))}
	for i, p := range patterns {
		m.patterns[i] = strings.ToLower(strings.TrimSpace(p))
	}
	return m
}

func (m *nameMatcher) match(name string) bool {
	if hit, ok := m.cache.get(name); ok {
		return hit
	}
	lower := strings.ToLower(name)
	hit := false
	for _, p := range m.patterns {
		if ok, _ := path.Match(p, lower); ok {
			hit = true
			break
		}
	}
	m.cache.put(name, hit)
	return hit
}

// urlRedactor removes credentials from URLs without re-encoding them: only the parts that change are
// rewritten, so a URL StackOne sent with a Unicode path or an unusual query order comes out as sent.
type urlRedactor struct {
	params *nameMatcher
}

// redact replaces user info and the values of sensitive query and fragment parameters (a fragment such as
// #access_token=... carries credentials in OAuth implicit flows). A URL that does not parse keeps no user info,
// no query value and no fragment at all, since what is a secret in it cannot be told reliably.
func (r urlRedactor) redact(s string) string {
	if !strings.ContainsAny(s, "@?#") {
		return s // nothing that can hold a credential
	}
	_, err := url.Parse(s)
	valid := err == nil

	rest, frag, hasFrag := strings.Cut(s, "#")
	rest, query, hasQuery := strings.Cut(rest, "?")
	i, j := userInfoSpan(rest, valid)
	q := query
	if hasQuery {
		q = r.redactPairs(query, !valid)
	}
	f, keepFrag := frag, hasFrag && valid
	if keepFrag && strings.Contains(frag, "=") {
		f = r.redactPairs(frag, false)
	}
	if i == j && q == query && keepFrag == hasFrag && f == frag {
		return s // the usual case: nothing to rewrite, nothing allocated
	}
	var b strings.Builder
	b.Grow(len(s) + 32)
	if i < j {
		b.WriteString(rest[:i])
		b.WriteString(redacted + ":" + redacted + "@")
		b.WriteString(rest[j:])
	} else {
		b.WriteString(rest)
	}
	if hasQuery {
		b.WriteByte('?')
		b.WriteString(q)
	}
	if keepFrag {
		b.WriteByte('#')
		b.WriteString(f)
	}
	return b.String()
}

// userInfoSpan is the user info of a URL without query and fragment, as rest[i:j] including the '@'
// (empty when there is none). For a URL that does not parse, everything from the authority to the last '@' is
// taken for user info, so a malformed authority cannot smuggle a password out.
func userInfoSpan(rest string, valid bool) (int, int) {
	start := 0
	if i := schemeEnd(rest); i > 0 {
		start = i + 1
	}
	switch {
	case strings.HasPrefix(rest[start:], "//"):
		start += 2
	case valid:
		return 0, 0 // no authority, so no user info (mailto:a@b, a path with an @)
	default:
		start = 0 // what looked like a scheme may be a user name
	}
	end := len(rest)
	if valid {
		if k := strings.IndexByte(rest[start:], '/'); k >= 0 {
			end = start + k
		}
	}
	at := strings.LastIndexByte(rest[start:end], '@')
	if at < 0 {
		return 0, 0
	}
	return start, start + at + 1
}

// schemeEnd is the index of the ':' ending a URL scheme ([a-zA-Z][a-zA-Z0-9+.-]*:), or -1.
func schemeEnd(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		case c == ':' && i > 0:
			return i
		default:
			return -1
		}
	}
	return -1
}

// redactPairs rewrites the values of sensitive name=value pairs of a query or fragment, keeping every name and
// the order; all redacts every value.
func (r urlRedactor) redactPairs(q string, all bool) string {
	var b []byte
	for pos := 0; pos <= len(q); {
		end := strings.IndexByte(q[pos:], '&')
		if end < 0 {
			end = len(q)
		} else {
			end += pos
		}
		pair := q[pos:end]
		if name, value, ok := strings.Cut(pair, "="); ok && value != redacted && (all || r.params.match(paramName(name))) {
			if b == nil {
				b = append(make([]byte, 0, len(q)+16), q[:pos]...)
			}
			b = append(append(append(b, name...), '='), redacted...)
			if end < len(q) {
				b = append(b, '&')
			}
		} else if b != nil {
			b = append(b, q[pos:min(end+1, len(q))]...)
		}
		pos = end + 1
	}
	if b == nil {
		return q
	}
	return string(b)
}

// paramName is a parameter name as a server reads it (percent-decoded, '+' a space), for matching.
func paramName(name string) string {
	if !strings.ContainsAny(name, "%+") {
		return name
	}
	if u, err := url.QueryUnescape(name); err == nil {
		return u
	}
	return name
}

// looksLikeURL reports whether a string value holds an absolute URL (scheme://...), the only kind that can
// carry user info or credentials in a query.
func looksLikeURL(s string) bool {
	i := strings.IndexByte(s, ':')
	return i > 0 && strings.HasPrefix(s[i+1:], "//") && schemeEnd(s) == i
}

// urlHost is the host name of an absolute URL (no port, no brackets), "" when it has none or does not parse.
func urlHost(s string) string {
	i := schemeEnd(s)
	if i < 0 || !strings.HasPrefix(s[i+1:], "//") {
		return ""
	}
	auth := s[i+3:]
	if k := strings.IndexAny(auth, "/?#"); k >= 0 {
		auth = auth[:k]
	}
	if k := strings.LastIndexByte(auth, '@'); k >= 0 {
		auth = auth[k+1:]
	}
	host, port := auth, ""
	if k := strings.LastIndexByte(auth, ':'); k >= 0 && !strings.Contains(auth[k:], "]") {
		host, port = auth[:k], auth[k+1:]
	}
	if plainHost(host) && allDigits(port) {
		return host // the common case, without parsing the whole URL
	}
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

func plainHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
