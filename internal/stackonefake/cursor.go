package stackonefake

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"
)

// cursorState is what a `next` cursor carries. It is a keyset position (the
// sort key of the last entry served), not an offset: entries ingested while a
// client pages, even with older event times, can then never shift the window
// and make it skip something that sorts after the position.
type cursorState struct {
	V      int       `json:"v"`
	Kind   string    `json:"k"`
	At     time.Time `json:"t"`
	ID     string    `json:"i"`
	Seq    uint64    `json:"n"`
	Issued time.Time `json:"iat"`
	Query  logQuery  `json:"q"`
}

const cursorVersion = 1

var errBadCursor = errors.New("invalid cursor")

// Standard base64 with padding on purpose: '+', '/' and '=' in the value make
// a client that forgets to percent-encode the cursor fail loudly.
func encodeCursor(c cursorState) string {
	c.V = cursorVersion
	b, err := json.Marshal(c)
	if err != nil {
		// Only plain data goes in; a failure here is a programming error.
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursorState, error) {
	var c cursorState
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return c, errBadCursor
	}
	if err := json.Unmarshal(raw, &c); err != nil || c.V != cursorVersion || c.Kind == "" {
		return c, errBadCursor
	}
	return c, nil
}
