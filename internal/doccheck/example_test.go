package doccheck

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/stackone-otel/otelcol-stackone/internal/yamltest"
	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver"
)

// TestExampleShowsTheBuiltInRedaction: config.example.yaml shows the built-in redaction lists, commented out,
// for users to extend, since a list set in the config replaces the built-in one. Uncommented, they must be the
// receiver's defaults, or a user extending them would lose a pattern without knowing.
func TestExampleShowsTheBuiltInRedaction(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "config.example.yaml"))
	require.NoError(t, err)
	var cfg struct {
		Receivers struct {
			Stackone struct {
				Redaction struct {
					Headers     []string `yaml:"headers"`
					QueryParams []string `yaml:"query_params"`
					Fields      []string `yaml:"fields"`
				} `yaml:"redaction"`
			} `yaml:"stackone"`
		} `yaml:"receivers"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(yamltest.UncommentBlock(t, string(b), "redaction:")), &cfg))
	shown := cfg.Receivers.Stackone.Redaction
	defaults := stackonereceiver.NewFactory().CreateDefaultConfig().(*stackonereceiver.Config).Redaction
	assert.Equal(t, defaults.Headers, shown.Headers, "redaction.headers")
	assert.Equal(t, defaults.QueryParams, shown.QueryParams, "redaction.query_params")
	assert.Equal(t, defaults.Fields, shown.Fields, "redaction.fields")
}
