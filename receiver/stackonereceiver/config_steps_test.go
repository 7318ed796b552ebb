package stackonereceiver

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/metadata"
	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/stackoneapi"
)

func TestActionStepsConfig(t *testing.T) {
	assert.False(t, createDefaultConfig().(*Config).ActionSteps.Enabled, "off until asked for: the /logs family is young")

	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, "action_steps").String())
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))
	no := false
	assert.True(t, cfg.ActionSteps.Enabled)
	assert.Equal(t, stackoneapi.ActionStepFilter{AccountIDs: []string{"acc1"}, ActionRunIDs: []string{"run_1", "run_2"}, Success: &no}, cfg.ActionSteps.Filter)
	assert.Equal(t, cfg.CatchUp.Concurrency+1, cfg.readers(), "the one stream's live read and its catch-up workers")

	// A filter /logs/steps does not document is refused by name rather than sent and ignored, wherever this
	// unmarshal path reports unknown keys at all: the previous collector line (the compatibility check) does not.
	if confmap.NewFromStringMap(map[string]any{"no_such_key": 1}).Unmarshal(createDefaultConfig().(*Config)) == nil {
		t.Skip("this collector line's confmap does not report unknown keys on this path")
	}
	bad := confmap.NewFromStringMap(map[string]any{"action_steps": map[string]any{"filter": map[string]any{"connector_keys": []any{"hibob"}}}})
	err = bad.Unmarshal(createDefaultConfig().(*Config))
	require.ErrorContains(t, err, "action_steps")
	require.ErrorContains(t, err, "connector_keys")
}

func TestValidateActionSteps(t *testing.T) {
	alone := func(c *Config) {
		c.RequestLogs.Enabled, c.ActionLogs.Enabled, c.ActionSteps.Enabled = false, false, true
	}
	for _, tt := range []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{name: "action steps alone", mutate: alone},
		{name: "nothing enabled names action_steps", mutate: func(c *Config) { c.RequestLogs.Enabled, c.ActionLogs.Enabled = false, false },
			wantErr: "no log stream is enabled: set request_logs.enabled (or action_logs, step_logs, platform_logs, action_steps) to true"},
		{name: "an empty account id", mutate: func(c *Config) { alone(c); c.ActionSteps.Filter.AccountIDs = []string{" "} },
			wantErr: `action_steps.filter.account_ids: " " is not a valid value`},
		{name: "a run id with a comma", mutate: func(c *Config) { alone(c); c.ActionSteps.Filter.ActionRunIDs = []string{"run_1,run_2"} },
			wantErr: `action_steps.filter.action_run_ids: "run_1,run_2" is not a valid value`},
		{name: "a filter on a stream left off is still checked", mutate: func(c *Config) { c.ActionSteps.Filter.AccountIDs = []string{""} },
			wantErr: "action_steps.filter.account_ids"},
		{name: "pages of 1000 with the /logs streams", mutate: func(c *Config) { alone(c); c.ActionLogs.Enabled, c.PageSize = true, 1000 }},
		{name: "pages above 1000", mutate: func(c *Config) { alone(c); c.PageSize = 1001 },
			wantErr: "page_size 1001 is out of range: use 1 to 1000 for action_logs and action_steps"},
		{name: "pages above 100 beside request logs", mutate: func(c *Config) { c.ActionSteps.Enabled, c.PageSize = true, 200 },
			wantErr: "only action_logs and action_steps, without the other streams, may ask for up to 1000"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			cfg.APIKey = "k"
			tt.mutate(cfg)
			err := confmap.Validate(cfg)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}
