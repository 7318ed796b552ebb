package stackonereceiver

import (
	"path"
	"strings"
	"sync"
)

// maxCachedNames bounds the decision cache: field and header names repeat on every entry, but a provider
// could send arbitrary header names, and memory must not grow with them.
const maxCachedNames = 4096

// nameMatcher decides whether a field, header or query-parameter name is sensitive. Matching every name
// against every glob on every record dominated mapping time, so decisions are cached per name.
type nameMatcher struct {
	patterns []string
	cache    sync.Map // lower-cased name -> bool
	size     int
	mu       sync.Mutex
}

func newNameMatcher(patterns []string) *nameMatcher {
	m := &nameMatcher{patterns: make([]string, len(patterns))}
	for i, p := range patterns {
		m.patterns[i] = strings.ToLower(strings.TrimSpace(p))
	}
	return m
}

func (m *nameMatcher) match(name string) bool {
	if v, ok := m.cache.Load(name); ok {
		return v.(bool)
	}
	lower := strings.ToLower(name)
	hit := false
	for _, p := range m.patterns {
		if ok, _ := path.Match(p, lower); ok {
			hit = true
			break
		}
	}
	m.mu.Lock()
	if m.size < maxCachedNames {
		m.size++
		m.cache.Store(name, hit)
	}
	m.mu.Unlock()
	return hit
}
