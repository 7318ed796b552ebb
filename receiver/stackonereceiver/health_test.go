package stackonereceiver

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
)

func TestComponentStatusFromStreamConditions(t *testing.T) {
	type set struct {
		stream string
		cond   condition
		err    error
	}
	e503, e401, e404, eDisk := errors.New("503"), errors.New("401"), errors.New("404"), errors.New("disk full")
	tests := []struct {
		name    string
		streams []string
		sets    []set
		want    []componentstatus.Status
		wantErr string
	}{
		{
			name: "a healthy stream does not hide a failing one", streams: []string{"request_logs", "action_logs"},
			sets: []set{{"action_logs", condAPI, e503}, {"request_logs", condAPI, nil}, {"action_logs", condAPI, nil}},
			want: []componentstatus.Status{componentstatus.StatusRecoverableError, componentstatus.StatusOK},
		},
		{
			name: "a key rejected for one stream while another delivers is recoverable", streams: []string{"request_logs", "action_logs"},
			sets:    []set{{"action_logs", condAuth, e401}, {"request_logs", condAPI, nil}},
			want:    []componentstatus.Status{componentstatus.StatusRecoverableError},
			wantErr: "action_logs: 401",
		},
		{
			name: "a key rejected on every stream is permanent, and stays so", streams: []string{"request_logs", "action_logs"},
			sets: []set{{"action_logs", condAuth, e401}, {"request_logs", condAuth, e401}, {"request_logs", condAPI, nil}},
			want: []componentstatus.Status{componentstatus.StatusRecoverableError, componentstatus.StatusPermanentError},
		},
		{
			name: "a disabled stream shows", streams: []string{"request_logs", "action_logs"},
			sets:    []set{{"action_logs", condDisabled, e404}},
			want:    []componentstatus.Status{componentstatus.StatusRecoverableError},
			wantErr: "action_logs: 404",
		},
		{
			name: "a storage failure shows although the API answers", streams: []string{"request_logs"},
			sets:    []set{{"request_logs", condStorage, eDisk}, {"request_logs", condAPI, nil}},
			want:    []componentstatus.Status{componentstatus.StatusRecoverableError},
			wantErr: "request_logs: disk full",
		},
		{
			name: "a successful call clears a rejected key", streams: []string{"request_logs", "action_logs"},
			sets: []set{{"request_logs", condAuth, e401}, {"request_logs", condAPI, nil}},
			want: []componentstatus.Status{componentstatus.StatusRecoverableError, componentstatus.StatusOK},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := &statusHost{Host: componenttest.NewNopHost()}
			h := newHealth(len(tt.streams))
			h.host = host
			streams := map[string]*stream{}
			for _, name := range tt.streams {
				streams[name] = &stream{name: name, health: &streamHealth{name: name, health: h}}
			}
			for _, s := range tt.sets {
				streams[s.stream].setCondition(s.cond, s.err)
			}
			assert.Equal(t, tt.want, host.statuses())
			if tt.wantErr != "" {
				host.mu.Lock()
				last := host.events[len(host.events)-1]
				host.mu.Unlock()
				assert.EqualError(t, last.Err(), tt.wantErr)
			}
		})
	}
}
