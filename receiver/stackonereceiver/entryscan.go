package stackonereceiver

import "strings"

// The mapper walks each entry with the small scanner below rather than a second jsontext.Decoder: DecodePage has
// already validated the entry's syntax with jsontext, and what is left to do is to find where each member and
// value lies. Measured on one 100-entry page, a jsontext.Decoder pass over the entries cost 1.75 times the whole
// page's tokenize floor on its own, which left no room for pdata under 3 times the floor; this walk costs a
// fraction of it. Every step is bounds-checked and stops at the first byte that does not fit, so input that was
// not validated (the fuzz target passes any bytes) cannot make it read out of range or loop; what was read up to
// there still maps.
//
// Kinds follow jsontext.Kind: '"' string, '0' number, 't' true, 'f' false, 'n' null, '{' object, '[' array.

// member reads the next member of the object being walked: its name and, unless the value is an object or an
// array, its value. For those, value holds only the kind and the caller walks them (enterObject, element) or
// skips them (skip). ok is false at the '}' that closes the object (consumed) or when the walk failed. first says
// whether the member is the object's first, which has no ',' before it.
func (sc *scratch) member(first bool) (name, value span, ok bool) {
	t, i := sc.text, skipWS(sc.text, sc.pos)
	if sc.failed || i >= len(t) {
		return sc.fail()
	}
	if t[i] == '}' {
		sc.pos = i + 1
		return span(0), span(0), false
	}
	if !first {
		if t[i] != ',' {
			return sc.fail()
		}
		i = skipWS(t, i+1)
	}
	if i >= len(t) || t[i] != '"' {
		return sc.fail()
	}
	name, i = scanString(t, i)
	i = skipWS(t, i)
	if name.kind() == 0 || i >= len(t) || t[i] != ':' {
		return sc.fail()
	}
	value, sc.pos = scanScalar(t, skipWS(t, i+1))
	if value.kind() == 0 {
		return sc.fail()
	}
	return name, value, true
}

func (sc *scratch) fail() (span, span, bool) {
	sc.failed = true
	return span(0), span(0), false
}

// element reports whether the array being walked has another element and reads it like member reads a value.
func (sc *scratch) element(first bool) (span, bool) {
	t, i := sc.text, skipWS(sc.text, sc.pos)
	if sc.failed || i >= len(t) {
		sc.failed = true
		return span(0), false
	}
	if t[i] == ']' {
		sc.pos = i + 1
		return span(0), false
	}
	if !first {
		if t[i] != ',' {
			sc.failed = true
			return span(0), false
		}
		i = skipWS(t, i+1)
	}
	v, next := scanScalar(t, i)
	if v.kind() == 0 {
		sc.failed = true
		return span(0), false
	}
	sc.pos = next
	return v, true
}

// enter steps into the object or array whose kind member or element just returned.
func (sc *scratch) enter() {
	sc.pos++
}

// skip passes over the object or array whose kind member or element just returned, and returns where it lies.
func (sc *scratch) skip(v span) span {
	end := skipNested(sc.text, sc.pos)
	if end < 0 {
		sc.failed = true
		return span(0)
	}
	v = mkSpan(sc.pos, end, v.kind(), false)
	sc.pos = end
	return v
}

// enterEntry steps into the entry's top-level object.
func (sc *scratch) enterEntry() bool {
	if len(sc.text) > maxSpanText {
		sc.failed = true // larger than any answer accepted; spans could not address it
		return false
	}
	i := skipWS(sc.text, 0)
	if i >= len(sc.text) || sc.text[i] != '{' {
		sc.failed = true
		return false
	}
	sc.pos = i + 1
	return true
}

// skipWS skips insignificant whitespace (in valid JSON, any byte up to ' ' between tokens is whitespace).
func skipWS(t string, i int) int {
	for i < len(t) && t[i] <= ' ' {
		i++
	}
	return i
}

// scanScalar reads the value starting at t[i]. An object or array is not read: its span holds only the kind and
// i is left on its opening delimiter. A zero kind means no value starts there.
func scanScalar(t string, i int) (span, int) {
	if i >= len(t) {
		return span(0), i
	}
	switch c := t[i]; c {
	case '"':
		return scanString(t, i)
	case '{', '[':
		return mkSpan(0, 0, c, false), i
	case 't':
		return scanLiteral(t, i, "true")
	case 'f':
		return scanLiteral(t, i, "false")
	case 'n':
		return scanLiteral(t, i, "null")
	default:
		if c != '-' && (c < '0' || c > '9') {
			return span(0), i
		}
		j := i + 1
		for j < len(t) && isNumberByte(t[j]) {
			j++
		}
		return mkSpan(i, j, '0', false), j
	}
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

func scanLiteral(t string, i int, lit string) (span, int) {
	if !strings.HasPrefix(t[i:], lit) {
		return span(0), i
	}
	return mkSpan(i, i+len(lit), lit[0], false), i + len(lit)
}

// scanString reads the string whose opening quote is t[i]; escaped says whether it needs unquoting. Entry
// strings are short, so a plain loop beats strings.IndexByte's setup.
func scanString(t string, i int) (span, int) {
	j := i + 1
	// Eight bytes at a time while none of them is a quote or a backslash (the usual test for a zero byte, on the
	// word xor-ed with each), then byte by byte.
	for ; j+8 <= len(t); j += 8 {
		w := uint64(t[j]) | uint64(t[j+1])<<8 | uint64(t[j+2])<<16 | uint64(t[j+3])<<24 |
			uint64(t[j+4])<<32 | uint64(t[j+5])<<40 | uint64(t[j+6])<<48 | uint64(t[j+7])<<56
		if hasZeroByte(w^quotes) || hasZeroByte(w^backslashes) {
			break
		}
	}
	for j < len(t) && t[j] != '"' && t[j] != '\\' {
		j++
	}
	if j < len(t) && t[j] == '"' {
		return mkSpan(i, j+1, '"', false), j + 1
	}
	for j < len(t) {
		switch t[j] {
		case '\\':
			j += 2
		case '"':
			return mkSpan(i, j+1, '"', true), j + 1
		default:
			j++
		}
	}
	return span(0), i
}

const (
	quotes      = 0x2222222222222222
	backslashes = 0x5c5c5c5c5c5c5c5c
	lowBits     = 0x0101010101010101
	highBits    = 0x8080808080808080
)

func hasZeroByte(w uint64) bool { return (w-lowBits)&^w&highBits != 0 }

// skipNested returns the end of the object or array opening at t[i], strings included, or -1.
func skipNested(t string, i int) int {
	depth := 0
	for i < len(t) {
		switch t[i] {
		case '"':
			s, next := scanString(t, i)
			if s.kind() == 0 {
				return -1
			}
			i = next
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return -1
}
