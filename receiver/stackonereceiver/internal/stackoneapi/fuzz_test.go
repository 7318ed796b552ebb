package stackoneapi

import "testing"

// FuzzDecodePage checks that no body, however broken, panics the decoder or yields entries without a page.
func FuzzDecodePage(f *testing.F) {
	for _, seed := range []string{
		`{"data":[{"request_id":"r1","status":200}],"next":"c"}`,
		`{"data":[{"requestId":"r1","eventDatetime":"2025-01-02T03:04:05Z","request":{"headers":{"A":"b"}}}],"next":null}`,
		`{"data":[1,"x",null,{}],"total":3}`,
		`{"data":[{"request_`,
		`[]`, `null`, `{"next":{}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := DecodePage(body)
		if err != nil {
			if len(p.Entries) != 0 {
				t.Fatalf("entries returned with an error")
			}
			return
		}
		for _, e := range p.Entries {
			for k := range e {
				if SnakeCase(k) != k {
					t.Fatalf("key %q not normalised", k)
				}
				_, _ = e.Time(k)
				_, _ = e.Int(k)
				_, _ = e.Float(k)
			}
		}
	})
}
