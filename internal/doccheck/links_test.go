package doccheck

import (
	"bufio"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// repoRoot is where README.md is, seen from this package's directory.
var repoRoot = filepath.Join("..", "..")

// TestDocLinksResolve: every relative link in README.md and docs/*.md points at a file or directory of the
// repository, and every #anchor at a heading of the Markdown file it points into, by GitHub's rules. Links
// with a scheme (https:, mailto:) are not followed.
func TestDocLinksResolve(t *testing.T) {
	docs, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files := append([]string{filepath.Join(repoRoot, "README.md")}, docs...)
	if len(files) < 2 {
		t.Fatalf("no docs/*.md next to README.md in %s", repoRoot)
	}
	anchorsOf := map[string]map[string]bool{}
	anchors := func(path string) map[string]bool {
		if a, ok := anchorsOf[path]; ok {
			return a
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		anchorsOf[path] = headingAnchors(string(b))
		return anchorsOf[path]
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range markdownLinks(string(b)) {
			if err := checkLink(root, file, l.target, anchors); err != nil {
				t.Errorf("%s:%d: link %q: %v", file, l.line, l.target, err)
			}
		}
	}
}

func checkLink(root, file, target string, anchors func(string) map[string]bool) error {
	if hasScheme.MatchString(target) || strings.HasPrefix(target, "//") {
		return nil
	}
	ref, frag, _ := strings.Cut(target, "#")
	path := file
	if ref != "" {
		p, err := url.PathUnescape(ref)
		if err != nil {
			return err
		}
		if strings.HasPrefix(p, "/") {
			path = filepath.Join(root, filepath.FromSlash(p)) // GitHub resolves a leading / at the repository's root
		} else {
			path = filepath.Join(filepath.Dir(file), filepath.FromSlash(p))
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return err
		}
		if abs != root && !strings.HasPrefix(abs, root+string(filepath.Separator)) {
			return fmt.Errorf("points outside the repository")
		}
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("no such file or directory: %s", path)
		}
	}
	if frag == "" || !strings.HasSuffix(path, ".md") {
		return nil // an anchor into source code (#L10) is GitHub's to resolve
	}
	anchor, err := url.PathUnescape(frag)
	if err != nil {
		return err
	}
	if !anchors(path)[anchor] {
		return fmt.Errorf("no heading in %s has the anchor #%s", path, frag)
	}
	return nil
}

var hasScheme = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)

type link struct {
	target string
	line   int
}

var (
	inlineLink = regexp.MustCompile(`\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	refDef     = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$`)
	htmlHref   = regexp.MustCompile(`<a\s[^>]*href="([^"]+)"`)
	codeSpan   = regexp.MustCompile("`+[^`]*`+")
)

// markdownLinks finds the link targets of a document: inline links and images, reference definitions and HTML
// anchors, outside code blocks and code spans.
func markdownLinks(doc string) []link {
	var out []link
	forLines(doc, func(n int, line string) {
		line = codeSpan.ReplaceAllString(line, "")
		if m := refDef.FindStringSubmatch(line); m != nil {
			out = append(out, link{m[1], n})
		}
		for _, re := range []*regexp.Regexp{inlineLink, htmlHref} {
			for _, m := range re.FindAllStringSubmatch(line, -1) {
				out = append(out, link{m[1], n})
			}
		}
	})
	return out
}

// forLines calls f with every line outside fenced code blocks.
func forLines(doc string, f func(n int, line string)) {
	fence := ""
	sc := bufio.NewScanner(strings.NewReader(doc))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if fence == "" && (strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~")) {
			fence = trimmed[:3]
			continue
		}
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			continue
		}
		f(n, line)
	}
}

var (
	atxHeading = regexp.MustCompile(`^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$`)
	htmlAnchor = regexp.MustCompile(`<a\s[^>]*(?:name|id)="([^"]+)"`)
	linkText   = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	htmlTag    = regexp.MustCompile(`<[^>]+>`)
)

// headingAnchors is the set of anchors GitHub gives a document's ATX headings: the heading's text as rendered
// (a link's text, no HTML tags), lower-cased, with everything but letters, digits, spaces, '-' and '_' removed
// (so backticks and emphasis too) and spaces turned into '-'; a repeated anchor gets -1, -2, ... Explicit
// <a name> or <a id> anchors count too.
func headingAnchors(doc string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	forLines(doc, func(_ int, line string) {
		for _, m := range htmlAnchor.FindAllStringSubmatch(line, -1) {
			anchors[strings.ToLower(m[1])] = true
		}
		m := atxHeading.FindStringSubmatch(line)
		if m == nil {
			return
		}
		slug := slugify(m[1])
		if n := seen[slug]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			anchors[slug] = true
		}
		seen[slug]++
	})
	return anchors
}

func slugify(heading string) string {
	text := linkText.ReplaceAllString(heading, "$1")
	text = htmlTag.ReplaceAllString(text, "")
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case unicode.IsLetter(r), unicode.IsNumber(r), unicode.IsMark(r), r == '_', r == '-':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}
