package stackonereceiver

import (
	"bytes"
	"io"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// redactJSON re-encodes one JSON value with the values of sensitive names replaced: members named like
// redaction.fields (snake-cased, at any depth), members of a *headers object named like redaction.headers,
// credentials in URLs, and the same inside strings that hold JSON. Order and numbers stay as sent.
func (m *mapper) redactJSON(raw []byte, embed int, wantObject bool) ([]byte, error) {
	return m.redactJSONWith(raw, embed, wantObject, m.redactPayloads)
}

// redactJSONWith is redactJSON choosing whether request and response bodies are payloads to replace: a
// webhook's raw event is the provider's notification, not a customer's API payload.
func (m *mapper) redactJSONWith(raw []byte, embed int, wantObject, payloads bool) ([]byte, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(raw), nestedJSONOptions...)
	if k := dec.PeekKind(); wantObject && k != '{' {
		if _, err := dec.ReadToken(); err != nil {
			return nil, err
		}
		return nil, errNotAnObject
	}
	var out bytes.Buffer
	out.Grow(len(raw) + 64)
	w := bodyWalk{m: m, payloads: payloads, dec: dec, enc: jsontext.NewEncoder(&out, nestedJSONOptions...), embed: embed}
	if err := w.value(namesFields); err != nil {
		return nil, err
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		if err == nil {
			err = errTrailing
		}
		return nil, err
	}
	if embed > 0 && !w.changed {
		return raw, nil // nothing to hide: the string stays exactly as sent
	}
	return bytes.TrimRight(out.Bytes(), "\n"), nil
}

type bodyWalk struct {
	m        *mapper
	payloads bool
	dec      *jsontext.Decoder
	enc      *jsontext.Encoder
	embed    int
	changed  bool
}

// value copies the next value, whose member names, when it is an object, are of kind k.
func (w *bodyWalk) value(k nameKind) error {
	switch w.dec.PeekKind() {
	case '{':
		if err := w.copyToken(); err != nil {
			return err
		}
		for w.dec.PeekKind() != '}' {
			name, err := w.dec.ReadToken()
			if err != nil {
				return err
			}
			n := name.String()
			if err := w.enc.WriteToken(name); err != nil {
				return err
			}
			nn := w.m.nestedMember(k, n)
			if kind := w.dec.PeekKind(); (nn.secret || nn.payload && w.payloads) && kind != 'n' && kind != 't' && kind != 'f' {
				if err := w.dec.SkipValue(); err != nil {
					return err
				}
				w.changed = true
				if err := w.enc.WriteToken(jsontext.String(redacted)); err != nil {
					return err
				}
				continue
			}
			if err := w.value(nn.members); err != nil {
				return err
			}
		}
		return w.copyToken()
	case '[':
		if err := w.copyToken(); err != nil {
			return err
		}
		for w.dec.PeekKind() != ']' {
			if err := w.value(k); err != nil {
				return err
			}
		}
		return w.copyToken()
	case '"':
		v, err := w.dec.ReadValue()
		if err != nil {
			return err
		}
		s, err := jsontext.AppendUnquote(nil, v)
		if err != nil {
			return err
		}
		if r, ok := w.redactString(string(s)); ok {
			w.changed = true
			return w.enc.WriteToken(jsontext.String(r))
		}
		return w.enc.WriteValue(v)
	default:
		v, err := w.dec.ReadValue()
		if err != nil {
			return err
		}
		return w.enc.WriteValue(v)
	}
}

func (w *bodyWalk) copyToken() error {
	tok, err := w.dec.ReadToken()
	if err != nil {
		return err
	}
	return w.enc.WriteToken(tok)
}

// redactString returns the string without credentials, and whether it changed.
func (w *bodyWalk) redactString(s string) (string, bool) {
	if t := strings.TrimSpace(s); w.embed < maxEmbeddedJSON && len(t) > 1 && (t[0] == '{' || t[0] == '[') {
		if r, err := w.m.redactJSONWith([]byte(t), w.embed+1, false, w.payloads); err == nil {
			return string(r), string(r) != t
		}
	}
	r := w.m.redactText(s)
	return r, r != s
}

// redactedOriginal is log.record.original: the entry as StackOne sent it, member order and numbers kept, with
// the same secrets replaced as in the attributes. An entry that does not re-encode (it was cut off) has none.
func (m *mapper) redactedOriginal(entry string) string {
	out, err := m.redactJSON([]byte(entry), 0, false)
	if err != nil {
		return ""
	}
	return string(out)
}
