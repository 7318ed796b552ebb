package stackoneapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRequestLogDetail(t *testing.T) {
	tests := []struct {
		name, answer string
		status       int
		want         string
		wantDecode   bool
		wantAPI      int
	}{
		{name: "documented wrapper", answer: `{"data":{"request_id":"r 1","response":{"provider_errors":[]}}}`, want: `{"request_id":"r 1","response":{"provider_errors":[]}}`},
		{name: "bare entry", answer: `{"request_id":"r 1"}`, want: `{"request_id":"r 1"}`},
		{name: "data is not an object", answer: `{"data":[1]}`, wantDecode: true},
		{name: "cut off", answer: `{"data":{"request_id":"r`, wantDecode: true},
		{name: "not found", answer: `{"statusCode":404,"message":"Not found"}`, status: http.StatusNotFound, wantAPI: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				assert.Equal(t, "/requests/logs/r%201", r.URL.EscapedPath())
				assert.Equal(t, "step_logs", r.URL.Query().Get("include"))
				if tt.status != 0 {
					w.WriteHeader(tt.status)
				}
				_, _ = w.Write([]byte(tt.answer))
			}))
			defer ts.Close()
			c, err := NewClient(ts.Client(), ts.URL, "key", "test")
			require.NoError(t, err)
			got, err := c.RequestLogDetail(context.Background(), "r 1")
			var de *DecodeError
			var ae *APIError
			switch {
			case tt.wantDecode:
				require.True(t, errors.As(err, &de), "%v", err)
			case tt.wantAPI != 0:
				require.True(t, errors.As(err, &ae), "%v", err)
				assert.Equal(t, tt.wantAPI, ae.StatusCode)
			default:
				require.NoError(t, err)
				assert.JSONEq(t, tt.want, string(got))
			}
		})
	}
}
