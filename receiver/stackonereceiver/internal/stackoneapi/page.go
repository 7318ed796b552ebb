package stackoneapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
)

// Page is one page of any logs endpoint, split but not decoded: each entry is handed over as its raw JSON, and
// the receiver decodes it straight into a log record, driven by the stream's schema.
type Page struct {
	// Entries are the JSON objects of `data`, each a sub-slice of the response body (no copy).
	Entries []jsontext.Value
	// Next is the cursor for the following page; empty on the last page and on page-numbered endpoints.
	Next string
	// Total is the server's count of matching rows on page-numbered endpoints, -1 when not sent.
	Total int64
	// NotObjects counts elements of `data` that were not JSON objects: skipped, never fatal to the page.
	NotObjects int
}

// pageOptions keep the tolerance of a generic JSON decoder: a repeated name or invalid UTF-8 inside one entry is
// the mapper's business (last name wins, bad bytes become U+FFFD), not a reason to refuse the whole page.
var pageOptions = []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)}

type pageDecoder struct {
	dec jsontext.Decoder
	buf bytes.Buffer
}

// Decoders are reused: one holds a few KB of state, and a backfill decodes a page per request.
var pageDecoders = sync.Pool{New: func() any { return new(pageDecoder) }}

// DecodePage splits a page body in one pass. The entries alias body, and so may what is made of them (the
// receiver's log records share their strings with it): body must not be modified afterwards. A body that is not the page shape (cut off, HTML from a proxy) is
// a *DecodeError; a single element that is not an object is counted in NotObjects and the rest of the page
// still flows. More than maxEntries elements in `data` (objects or not) is a *TooLargeError, found before the
// rest is read, so an answer of millions of tiny elements costs no memory beyond its body. maxEntries <= 0 means
// no limit.
func DecodePage(body []byte, maxEntries int) (Page, error) {
	pd := pageDecoders.Get().(*pageDecoder)
	// The decoder reads the body in place through a bytes.Buffer, so the entries alias it.
	pd.buf = *bytes.NewBuffer(body)
	pd.dec.Reset(&pd.buf, pageOptions...)
	p, err := decodePage(&pd.dec, maxEntries)
	pd.dec.Reset(&bytes.Buffer{}) // drop the reference to body before pooling
	pd.buf = bytes.Buffer{}
	pageDecoders.Put(pd)
	if err != nil {
		var tl *TooLargeError
		if !errors.As(err, &tl) {
			err = &DecodeError{Err: err}
		}
		return Page{}, err
	}
	return p, nil
}

func decodePage(dec *jsontext.Decoder, maxEntries int) (Page, error) {
	p := Page{Total: -1}
	switch dec.PeekKind() {
	case 'n':
		// `null` decodes to an empty page, as it did with encoding/json.
		_, err := dec.ReadToken()
		return p, err
	case '{':
	default:
		if _, err := dec.ReadToken(); err != nil {
			return p, err
		}
		return p, errors.New("the body is not a JSON object")
	}
	if _, err := dec.ReadToken(); err != nil {
		return p, err
	}
	for dec.PeekKind() != '}' {
		name, err := dec.ReadValue()
		if err != nil {
			return p, err
		}
		// Member names match case-insensitively, as encoding/json matched them; a repeated member wins.
		switch {
		case quotedNameIs(name, "data"):
			if err := decodeData(dec, &p, maxEntries); err != nil {
				return p, err
			}
		case quotedNameIs(name, "next"):
			v, err := dec.ReadValue()
			if err != nil {
				return p, err
			}
			switch v.Kind() {
			case 'n':
				p.Next = ""
			case '"':
				s, err := jsontext.AppendUnquote(nil, v)
				if err != nil {
					return p, err
				}
				p.Next = string(s)
			default:
				return p, fmt.Errorf("next is not a string: %s", v.Kind())
			}
		case quotedNameIs(name, "total"):
			v, err := dec.ReadValue()
			if err != nil {
				return p, err
			}
			p.Total = -1
			if v.Kind() == '0' {
				if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
					p.Total = n
				}
			}
		default:
			if err := dec.SkipValue(); err != nil {
				return p, err
			}
		}
	}
	// Whatever follows the page object is not read, as encoding/json's Decoder did not read it.
	_, err := dec.ReadToken()
	return p, err
}

func decodeData(dec *jsontext.Decoder, p *Page, maxEntries int) error {
	p.Entries, p.NotObjects = p.Entries[:0], 0
	switch dec.PeekKind() {
	case 'n':
		_, err := dec.ReadToken()
		return err
	case '[':
	default:
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
		return errors.New("data is not an array")
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	for n := 1; dec.PeekKind() != ']'; n++ {
		if maxEntries > 0 && n > maxEntries {
			return &TooLargeError{Reason: fmt.Sprintf("the page holds more than %d entries", maxEntries)}
		}
		if dec.PeekKind() != '{' {
			if err := dec.SkipValue(); err != nil {
				return err
			}
			p.NotObjects++
			continue
		}
		v, err := dec.ReadValue()
		if err != nil {
			return err
		}
		p.Entries = append(p.Entries, v)
	}
	_, err := dec.ReadToken()
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// quotedNameIs compares a raw JSON member name with an ASCII name, case-insensitively. A name written with
// escapes is unquoted first.
func quotedNameIs(quoted jsontext.Value, name string) bool {
	if len(quoted) < 2 {
		return false
	}
	raw := []byte(quoted[1 : len(quoted)-1])
	if bytes.IndexByte(raw, '\\') >= 0 {
		u, err := jsontext.AppendUnquote(nil, quoted)
		if err != nil {
			return false
		}
		raw = u
	}
	return bytes.EqualFold(raw, []byte(name))
}
