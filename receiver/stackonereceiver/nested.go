package stackonereceiver

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

const (
	// maxNestedDepth bounds how deep nested data is followed; deeper values are left out and the record is marked.
	maxNestedDepth = 16
	// maxEmbeddedJSON: a string that holds JSON (a provider's raw error body) is read as the JSON it holds, this
	// many levels deep, so its fields can be queried and its secrets found.
	maxEmbeddedJSON = 2
	// maxProviderMessage bounds stackone.provider_error.message, an attribute backends index.
	maxProviderMessage = 1024
	// scalarCost is what a number, a boolean or a null costs of the budget, about its size as text.
	scalarCost = 8
)

// nestedJSONOptions: duplicate names and bad UTF-8 do not make nested data unreadable.
var nestedJSONOptions = []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)}

// nestedBudget is what one record may still spend on nested data, in bytes of names and values. Nested data is
// the provider's answer and can be as large as a page: without a bound one failing call could make a record
// larger than a backend accepts.
type nestedBudget struct {
	left      int
	truncated bool // something was left out or cut for the budget or the depth
}

func (b *nestedBudget) spend(n int) bool {
	if n > b.left {
		b.left, b.truncated = 0, true
		return false
	}
	b.left -= n
	return true
}

// nestedWriter turns nested JSON (an object or an array of an entry) into pdata maps and slices, redacting at
// every depth and spending the record's budget.
type nestedWriter struct {
	m      *mapper
	budget *nestedBudget
}

// put writes the JSON value text, whose member names are of kind k, into dst. It reports false when the
// budget ran out, after writing what fitted.
func (w nestedWriter) put(dst pcommon.Value, text string, k nameKind) bool {
	dec := jsontext.NewDecoder(strings.NewReader(text), nestedJSONOptions...)
	return w.value(dst, dec, k, 0, 0)
}

func (w nestedWriter) value(dst pcommon.Value, dec *jsontext.Decoder, k nameKind, depth, embed int) bool {
	if depth >= maxNestedDepth {
		w.budget.truncated = true
		return dec.SkipValue() == nil
	}
	switch dec.PeekKind() {
	case '{':
		if _, err := dec.ReadToken(); err != nil {
			return false
		}
		mp := dst.SetEmptyMap()
		for dec.PeekKind() != '}' {
			tok, err := dec.ReadToken()
			if err != nil {
				return false
			}
			n := w.m.nestedMember(k, tok.String())
			if !w.budget.spend(len(n.key)) {
				return false
			}
			if kind := dec.PeekKind(); (n.secret || n.payload) && kind != 'n' && kind != 't' && kind != 'f' {
				if err := dec.SkipValue(); err != nil || !w.budget.spend(len(redacted)) {
					return false
				}
				mp.PutStr(n.key, redacted)
				continue
			}
			if dec.PeekKind() == 'n' {
				if _, err := dec.ReadToken(); err != nil {
					return false
				}
				continue // a null says nothing; left out as at the top level
			}
			child := mp.PutEmpty(n.key)
			ok := w.value(child, dec, n.members, depth+1, embed)
			if child.Type() == pcommon.ValueTypeEmpty {
				mp.Remove(n.key) // cut before it got a value
			}
			if !ok {
				return false
			}
		}
		_, err := dec.ReadToken()
		return err == nil
	case '[':
		if _, err := dec.ReadToken(); err != nil {
			return false
		}
		sl := dst.SetEmptySlice()
		for dec.PeekKind() != ']' {
			if !w.budget.spend(1) {
				return false
			}
			ok := w.value(sl.AppendEmpty(), dec, k, depth+1, embed)
			if last := sl.At(sl.Len() - 1); last.Type() == pcommon.ValueTypeEmpty {
				sl.RemoveIf(func(v pcommon.Value) bool { return v.Type() == pcommon.ValueTypeEmpty })
			}
			if !ok {
				return false
			}
		}
		_, err := dec.ReadToken()
		return err == nil
	case '"':
		v, err := dec.ReadValue()
		if err != nil {
			return false
		}
		s, err := jsontext.AppendUnquote(nil, v)
		if err != nil {
			return false
		}
		return w.str(dst, string(s), depth, embed)
	default:
		tok, err := dec.ReadToken()
		if err != nil {
			return false
		}
		if !w.budget.spend(scalarCost) {
			return false
		}
		switch tok.Kind() {
		case 't', 'f':
			dst.SetBool(tok.Bool())
		case '0':
			text := tok.String()
			if i, err := strconv.ParseInt(text, 10, 64); err == nil {
				dst.SetInt(i)
			} else if f, err := strconv.ParseFloat(text, 64); err == nil {
				dst.SetDouble(f)
			} else {
				dst.SetStr(text)
			}
		}
		return true
	}
}

// str writes a string: the JSON it holds when it is an object or an array (read as nested data), else the text
// without credentials, cut to the budget.
func (w nestedWriter) str(dst pcommon.Value, s string, depth, embed int) bool {
	if t := strings.TrimSpace(s); embed < maxEmbeddedJSON && len(t) > 1 && (t[0] == '{' || t[0] == '[') && jsontext.Value(t).IsValid(nestedJSONOptions...) {
		dec := jsontext.NewDecoder(strings.NewReader(t), nestedJSONOptions...)
		return w.value(dst, dec, namesFields, depth, embed+1)
	}
	s = w.m.redactText(s)
	if len(s) > w.budget.left {
		cut := w.budget.left
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		if cut > 0 {
			dst.SetStr(s[:cut])
		}
		w.budget.left, w.budget.truncated = 0, true
		return false
	}
	w.budget.spend(len(s))
	dst.SetStr(s)
	return true
}

// scalar writes a scalar the entry scanner found (a string, number or boolean), redacted like nested strings.
func (w nestedWriter) scalar(dst pcommon.Value, sc *scratch, sp span) bool {
	switch sp.kind() {
	case '"':
		s, _ := sc.str(sp)
		return w.str(dst, s, 0, 0)
	case '{', '[':
		return w.put(dst, sc.text[sp.start():sp.end()], namesFields)
	case '0', 't', 'f':
		if !w.budget.spend(scalarCost) {
			return false
		}
		switch sp.kind() {
		case 't':
			dst.SetBool(true)
		case 'f':
			dst.SetBool(false)
		default:
			text := sc.text[sp.start():sp.end()]
			if i, err := strconv.ParseInt(text, 10, 64); err == nil {
				dst.SetInt(i)
			} else if f, err := strconv.ParseFloat(text, 64); err == nil {
				dst.SetDouble(f)
			} else {
				dst.SetStr(text)
			}
		}
	}
	return true
}

// putMembers writes the members the exchange decoder did not use (a request's id and body, a URL's query
// parameters, what StackOne adds later) as one map under attr; nothing when there are none.
func (w nestedWriter) putMembers(attrs pcommon.Map, attr string, sc *scratch, members, urlMembers []nestedMember) {
	if len(members) == 0 && len(urlMembers) == 0 || w.budget.left == 0 {
		if len(members)+len(urlMembers) > 0 {
			w.budget.truncated = true
		}
		return
	}
	mp := attrs.PutEmptyMap(attr)
	w.members(mp, sc, members)
	if len(urlMembers) > 0 && w.budget.spend(len("url")) {
		w.members(mp.PutEmptyMap("url"), sc, urlMembers)
	}
	if mp.Len() == 0 {
		attrs.Remove(attr)
	}
}

func (w nestedWriter) members(mp pcommon.Map, sc *scratch, members []nestedMember) {
	for _, mb := range members {
		name, _ := sc.str(mb.name)
		n := w.m.nestedMember(namesFields, name)
		if !mb.value.present() {
			continue
		}
		if !w.budget.spend(len(n.key)) {
			return
		}
		if k := mb.value.kind(); (n.secret || n.payload) && k != 't' && k != 'f' {
			if w.budget.spend(len(redacted)) {
				mp.PutStr(n.key, redacted)
			}
			continue
		}
		var ok bool
		v := mp.PutEmpty(n.key)
		if k := mb.value.kind(); k == '{' || k == '[' {
			ok = w.put(v, sc.text[mb.value.start():mb.value.end()], n.members)
		} else {
			ok = w.scalar(v, sc, mb.value)
		}
		if v.Type() == pcommon.ValueTypeEmpty {
			mp.Remove(n.key)
		}
		if !ok {
			return
		}
	}
}

// nestedMember is a member of a request, response or URL object that has no http.* attribute of its own.
type nestedMember struct {
	name, value span
}

// putProviderSummary copies the first provider error's status and message into plain attributes, which
// backends can filter and search on without reading the nested list.
func putProviderSummary(attrs pcommon.Map, errs pcommon.Value) {
	if errs.Type() != pcommon.ValueTypeSlice || errs.Slice().Len() == 0 {
		return
	}
	first := errs.Slice().At(0)
	if first.Type() != pcommon.ValueTypeMap {
		if first.Type() == pcommon.ValueTypeStr {
			attrs.PutStr("stackone.provider_error.message", cutText(first.Str(), maxProviderMessage))
		}
		return
	}
	pe := first.Map()
	for _, k := range []string{"status", "status_code"} {
		if v, ok := pe.Get(k); ok {
			if n, ok := intValue(v); ok {
				attrs.PutInt("stackone.provider_error.status", n)
				break
			}
		}
	}
	msg := ""
	if raw, ok := pe.Get("raw"); ok {
		msg = messageOf(raw, 0)
	}
	if msg == "" {
		msg = messageOf(first, 0)
	}
	if msg != "" {
		attrs.PutStr("stackone.provider_error.message", cutText(msg, maxProviderMessage))
	}
}

// messageOf finds the human-readable message in a provider's error: the text itself, or the first of the fields
// APIs usually put it in (message, error_description, error.message, detail, title, errors[0].message, error).
func messageOf(v pcommon.Value, depth int) string {
	if depth > 3 {
		return ""
	}
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return strings.TrimSpace(v.Str())
	case pcommon.ValueTypeMap:
		mp := v.Map()
		for _, k := range []string{"message", "error_description", "error_message", "detail", "title", "description", "msg", "error", "errors", "fault"} {
			if c, ok := mp.Get(k); ok {
				if s := messageOf(c, depth+1); s != "" {
					return s
				}
			}
		}
	case pcommon.ValueTypeSlice:
		if v.Slice().Len() > 0 {
			return messageOf(v.Slice().At(0), depth+1)
		}
	}
	return ""
}

func intValue(v pcommon.Value) (int64, bool) {
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return v.Int(), true
	case pcommon.ValueTypeDouble:
		if f := v.Double(); f == float64(int64(f)) {
			return int64(f), true
		}
	case pcommon.ValueTypeStr:
		n, err := strconv.ParseInt(strings.TrimSpace(v.Str()), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// cutText cuts s to at most n bytes on a rune boundary.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
