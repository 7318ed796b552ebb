package doccheck

import (
	"bufio"
	"encoding"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configretry"

	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver"
)

// configDoc is the page whose tables document the receiver's keys: a row whose first cell is one key in
// backticks, e.g. | `catch_up.concurrency` | 4 | ... |.
var configDoc = filepath.Join("..", "..", "docs", "configuration.md")

const (
	ourModule      = "github.com/stackone-otel/otelcol-stackone/"
	confighttpLink = "https://github.com/open-telemetry/opentelemetry-collector/tree/main/config/confighttp"
	optionalPkg    = "go.opentelemetry.io/collector/config/configoptional"
)

// upstreamDoc is how a configuration struct from the collector's own packages is documented.
type upstreamDoc struct {
	// all: every key gets a row, like the receiver's own.
	all bool
	// Otherwise the struct's keys are documented on the page at link, which docs/configuration.md must link
	// to, and only rows get a row of their own: the keys the receiver sets its own default for, checks
	// itself, or that a user of this receiver needs to know. The others may have a row but need none.
	link string
	rows []string
}

// upstreamDocs decides, for every collector struct reachable from the receiver's Config, rows or a link. Their
// keys change with the collector's releases and are documented where they are defined; a struct reached with
// no entry here fails the test, so a new one is a decision rather than a silent gap.
var upstreamDocs = map[reflect.Type]upstreamDoc{
	// The client for StackOne's API, squashed into the receiver's top level.
	reflect.TypeFor[confighttp.ClientConfig](): {link: confighttpLink, rows: []string{"endpoint", "timeout"}},
	// The webhook endpoint, squashed into webhook:.
	reflect.TypeFor[confighttp.ServerConfig](): {link: confighttpLink, rows: []string{
		"endpoint", "tls", "auth", "max_request_body_size", "read_header_timeout", "read_timeout", "write_timeout",
	}},
	// retry_on_failure: the receiver sets its own defaults and uses every key.
	reflect.TypeFor[configretry.BackOffConfig](): {all: true},
}

// placeholders are the <name> segments a row's key may use to stand for several sections at once.
var placeholders = map[string][]string{
	"stream": {"request_logs", "action_logs", "step_logs", "platform_logs", "action_steps"},
}

// configKeys is what the rows of docs/configuration.md are checked against.
type configKeys struct {
	required map[string]bool // a leaf of the receiver's own structs, or an upstream key that needs a row
	allowed  map[string]bool // any key a row may name: the required ones, sections, every upstream key
	links    map[string]bool // pages the document must link to
}

func TestConfigurationDocumentsEveryKey(t *testing.T) {
	keys := collectKeys(t, reflect.TypeFor[stackonereceiver.Config]())
	rows, text := configRows(t, configDoc)
	if len(rows) == 0 {
		t.Fatalf("%s has no key rows (a table row whose first cell is one key in backticks)", configDoc)
	}
	for name, values := range placeholders {
		for _, v := range values {
			if !keys.allowed[v] {
				t.Errorf("placeholder <%s> stands for %q, which is not a key of the receiver", name, v)
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(keys.required)) {
		if !slices.ContainsFunc(rows, func(r configRow) bool { return r.re.MatchString(key) }) {
			t.Errorf("%s has no row for %q: add | `%s` | default | accepted | meaning | to its tables", configDoc, key, key)
		}
	}
	for _, r := range rows {
		if !hasMatch(r.re, keys.allowed) {
			t.Errorf("%s:%d: row `%s` names no configuration key of the receiver: remove it or fix the key", configDoc, r.line, r.key)
		}
	}
	for link := range keys.links {
		if !strings.Contains(text, "]("+link+")") {
			t.Errorf("%s does not link to %s, where the keys it gives no row of their own are documented", configDoc, link)
		}
	}
}

func hasMatch(re *regexp.Regexp, keys map[string]bool) bool {
	for k := range keys {
		if re.MatchString(k) {
			return true
		}
	}
	return false
}

// collectKeys walks the configuration struct as confmap decodes it: mapstructure tags, squashed structs,
// pointers and configoptional.Optional sections.
func collectKeys(t *testing.T, root reflect.Type) configKeys {
	t.Helper()
	keys := configKeys{required: map[string]bool{}, allowed: map[string]bool{}, links: map[string]bool{}}
	var walk func(typ reflect.Type, prefix string)
	walk = func(typ reflect.Type, prefix string) {
		for _, f := range fields(typ) {
			ft := unwrap(f.typ)
			if f.squash {
				if doc, ok := upstreamDocs[ft]; ok && !doc.all {
					keys.linked(t, ft, doc, prefix)
				} else {
					walk(ft, prefix)
				}
				continue
			}
			key := prefix + f.name
			keys.allowed[key] = true
			switch {
			case !isSection(t, ft, key):
				keys.required[key] = true
			case upstreamDocs[ft].link != "":
				keys.linked(t, ft, upstreamDocs[ft], key+".")
			default:
				walk(ft, key+".")
			}
		}
	}
	walk(root, "")
	return keys
}

// linked notes the keys of an upstream struct documented by a link: its own rows are required, and each of
// them must still be a key of the struct, so a rename upstream fails here rather than leaving a stale row.
func (k configKeys) linked(t *testing.T, typ reflect.Type, doc upstreamDoc, prefix string) {
	t.Helper()
	own := map[string]bool{}
	var walk func(typ reflect.Type)
	walk = func(typ reflect.Type) {
		for _, f := range fields(typ) {
			if f.squash {
				walk(unwrap(f.typ))
				continue
			}
			own[f.name] = true
		}
	}
	walk(typ)
	for name := range own {
		k.allowed[prefix+name] = true
	}
	for _, name := range doc.rows {
		if !own[name] {
			t.Errorf("%s has no key %q any more: update upstreamDocs and the row `%s%s`", typ, name, prefix, name)
		}
		k.required[prefix+name] = true
	}
	k.links[doc.link] = true
}

type field struct {
	name   string
	typ    reflect.Type
	squash bool
}

// fields lists a struct's configuration fields as mapstructure sees them: the tag's name, or the field's own
// name lower-cased without one; unexported fields and `-` left out.
func fields(typ reflect.Type) []field {
	var out []field
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("mapstructure")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out = append(out, field{name: name, typ: f.Type, squash: slices.Contains(strings.Split(opts, ","), "squash")})
	}
	return out
}

// unwrap looks through pointers and configoptional.Optional to the type configured.
func unwrap(typ reflect.Type) reflect.Type {
	for {
		switch {
		case typ.Kind() == reflect.Pointer:
			typ = typ.Elem()
		case typ.PkgPath() == optionalPkg && strings.HasPrefix(typ.Name(), "Optional["):
			get, _ := reflect.PointerTo(typ).MethodByName("Get")
			typ = get.Type.Out(0) // *T
		default:
			return typ
		}
	}
}

// isSection says whether a key holds further keys. Structs decoded from a scalar (component.ID) are values;
// a struct from outside this module must have a decision in upstreamDocs.
func isSection(t *testing.T, typ reflect.Type, key string) bool {
	t.Helper()
	if typ.Kind() != reflect.Struct || reflect.PointerTo(typ).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		return false
	}
	if !strings.HasPrefix(typ.PkgPath(), ourModule) {
		if _, ok := upstreamDocs[typ]; !ok {
			t.Errorf("%s (key %q) is a collector struct with no decision in upstreamDocs: give its keys rows, or link to its documentation", typ, key)
			return false
		}
	}
	return true
}

type configRow struct {
	key  string
	line int
	re   *regexp.Regexp
}

var (
	rowKey      = regexp.MustCompile("^`([^`]+)`$")
	placeholder = regexp.MustCompile(`<([a-z_]+)>`)
)

// configRows reads the key rows of the document's tables, outside code blocks, and its whole text.
func configRows(t *testing.T, path string) ([]configRow, string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []configRow
	fenced := false
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "```") || strings.HasPrefix(line, "~~~") {
			fenced = !fenced
		}
		if fenced || !strings.HasPrefix(line, "|") {
			continue
		}
		first, _, _ := strings.Cut(strings.TrimPrefix(line, "|"), "|")
		m := rowKey.FindStringSubmatch(strings.TrimSpace(first))
		if m == nil {
			continue
		}
		rows = append(rows, configRow{key: m[1], line: n, re: keyPattern(t, m[1], n)})
	}
	return rows, string(b)
}

// keyPattern matches the keys a row names: itself, with each <placeholder> standing for one of its values.
func keyPattern(t *testing.T, key string, line int) *regexp.Regexp {
	t.Helper()
	var err error
	pattern := placeholder.ReplaceAllStringFunc(regexp.QuoteMeta(key), func(p string) string {
		values, ok := placeholders[p[1:len(p)-1]]
		if !ok {
			err = os.ErrNotExist
			return p
		}
		quoted := make([]string, len(values))
		for i, v := range values {
			quoted[i] = regexp.QuoteMeta(v)
		}
		return "(" + strings.Join(quoted, "|") + ")"
	})
	if err != nil {
		t.Errorf("%s:%d: row `%s` uses a placeholder the test does not know (known: %v)", configDoc, line, key, slices.Sorted(maps.Keys(placeholders)))
	}
	return regexp.MustCompile("^" + pattern + "$")
}
