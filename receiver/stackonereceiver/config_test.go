package stackonereceiver

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/metadata"
	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/stackoneapi"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	load := func(id component.ID) *Config {
		cfg := createDefaultConfig()
		sub, err := cm.Sub(id.String())
		require.NoError(t, err)
		require.NoError(t, sub.Unmarshal(&cfg))
		require.NoError(t, confmap.Validate(cfg))
		return cfg.(*Config)
	}

	defaults := load(component.NewID(metadata.Type))
	assert.Equal(t, "https://api.stackone.com", defaults.Endpoint)
	assert.Equal(t, 10*time.Second, defaults.PollInterval)
	assert.Equal(t, time.Hour, defaults.InitialLookback)
	assert.Equal(t, 100, defaults.PageSize)
	assert.Equal(t, 5*time.Minute, defaults.LateArrivalWindow)
	assert.Equal(t, time.Minute, defaults.IndexingDelay)
	assert.Equal(t, 15*time.Second, defaults.SweepInterval)
	assert.Equal(t, 4, defaults.CatchUp.Concurrency)
	assert.Equal(t, time.Second, defaults.BackOff.InitialInterval)
	assert.Equal(t, 100, defaults.MaxRequestsPerMinute)
	assert.EqualValues(t, 16<<20, defaults.MaxResponseSize)
	assert.Nil(t, defaults.StorageID)
	assert.True(t, defaults.RequestLogs.Enabled)
	assert.True(t, defaults.ActionLogs.Enabled)
	assert.False(t, defaults.StepLogs.Enabled)
	assert.False(t, defaults.PlatformLogs.Enabled)
	assert.Contains(t, defaults.Redaction.Headers, "authorization")
	assert.False(t, defaults.LeaderElection.HasValue(), "leader election is opt-in")
	assert.Equal(t, DetailConfig{Enabled: true, StatusCodes: []string{"4xx", "5xx"}, BudgetShare: 0.1, Timeout: 5 * time.Second}, defaults.RequestLogs.Detail)
	assert.True(t, defaults.Redaction.Payloads, "request and response bodies are replaced unless asked")
	assert.Equal(t, 16<<10, defaults.MaxNestedSize)
	assert.False(t, defaults.LogRecordOriginal, "log.record.original is opt-in")

	ha := load(component.NewIDWithName(metadata.Type, "ha")).LeaderElection.Get()
	require.NotNil(t, ha)
	assert.Equal(t, LeaderElectionConfig{AuthType: "kubeConfig", LeaseName: "stackone-logs", LeaseDuration: 20 * time.Second,
		RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}, *ha)
	haDefaults := load(component.NewIDWithName(metadata.Type, "ha_defaults")).LeaderElection.Get()
	require.NotNil(t, haDefaults, "an empty leader_election: turns it on with the defaults")
	assert.Equal(t, defaultLeaderElection(), *haDefaults)

	full := load(component.NewIDWithName(metadata.Type, "full"))
	no := false
	assert.Equal(t, "https://api.eu1.stackone.com", full.Endpoint)
	assert.Equal(t, 20*time.Second, full.Timeout)
	assert.Equal(t, 80, full.PageSize)
	assert.Equal(t, 2*time.Minute, full.SweepInterval)
	assert.Equal(t, 2*time.Minute, full.IndexingDelay)
	assert.Equal(t, 8, full.CatchUp.Concurrency)
	assert.Equal(t, component.MustNewID("file_storage"), *full.StorageID)
	assert.Equal(t, 10*time.Minute, full.BackOff.MaxElapsedTime)
	assert.Equal(t, []string{"authorization", "x-custom-secret"}, full.Redaction.Headers)
	assert.Equal(t, stackoneapi.RequestLogFilter{
		AccountIDs: []string{"acc1", "acc2"}, Providers: []string{"bamboohr"}, StatusCodes: []int{429, 500},
		HTTPMethods: []string{"GET"}, Success: &no,
	}, full.RequestLogs.Filter)
	assert.Equal(t, stackoneapi.ActionLogFilter{
		ConnectorKeys: []string{"hibob"}, Categories: []string{"hris"}, Modes: []string{"agent"}, StatusCodes: []int{500},
	}, full.ActionLogs.Filter)
	assert.Equal(t, DetailConfig{Enabled: true, StatusCodes: []string{"5xx", "429"}, BudgetShare: 0.25, Timeout: 3 * time.Second}, full.RequestLogs.Detail)
	assert.Equal(t, 30, full.detailCalls())
	assert.False(t, full.Redaction.Payloads)
	assert.Equal(t, 4096, full.MaxNestedSize)
	assert.True(t, full.LogRecordOriginal)
	assert.True(t, full.StepLogs.Enabled)
	assert.True(t, full.PlatformLogs.Enabled)
	// the key never prints
	assert.NotContains(t, full.APIKey.String(), "secret-key")
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{name: "valid", mutate: func(*Config) {}},
		{name: "missing key", mutate: func(c *Config) { c.APIKey = "" }, wantErr: "api_key is empty: set it"},
		{name: "bad endpoint", mutate: func(c *Config) { c.Endpoint = "api.stackone.com" }, wantErr: "endpoint \"api.stackone.com\" is not an http(s) URL"},
		{name: "page size at StackOne's maximum", mutate: func(c *Config) { c.PageSize = 100 }},
		{name: "page size above StackOne's maximum", mutate: func(c *Config) { c.PageSize = 101 }, wantErr: "page_size 101 is above StackOne's maximum of 100 for request_logs: use 1 to 100"},
		{name: "page size names every capped stream", mutate: func(c *Config) {
			c.PageSize, c.RequestLogs.Enabled, c.StepLogs.Enabled, c.PlatformLogs.Enabled = 1000, false, true, true
		}, wantErr: "page_size 1000 is above StackOne's maximum of 100 for step_logs, platform_logs"},
		{name: "page size above 100 with action logs alone", mutate: func(c *Config) { c.PageSize, c.RequestLogs.Enabled = 1000, false }},
		{name: "page size too big even for action logs", mutate: func(c *Config) { c.PageSize, c.RequestLogs.Enabled = 1001, false }, wantErr: "page_size 1001 is out of range: use 1 to 1000 for action_logs"},
		{name: "page size zero", mutate: func(c *Config) { c.PageSize = 0 }, wantErr: "page_size 0 is out of range: use 1 to 100"},
		{name: "negative poll interval", mutate: func(c *Config) { c.PollInterval = -time.Second }, wantErr: "poll_interval -1s is too short"},
		{name: "negative window", mutate: func(c *Config) { c.LateArrivalWindow = -time.Minute }, wantErr: "late_arrival_window -1m0s is out of range"},
		{name: "lookback beyond the default retention", mutate: func(c *Config) { c.InitialLookback = 400 * 24 * time.Hour }},
		{name: "zero lookback", mutate: func(c *Config) { c.InitialLookback = 0 }, wantErr: "initial_lookback 0s is not positive"},
		{name: "negative lookback", mutate: func(c *Config) { c.InitialLookback = -time.Hour }, wantErr: "initial_lookback -1h0m0s is not positive"},
		{name: "request budget above the API limit", mutate: func(c *Config) { c.MaxRequestsPerMinute = 5000 }, wantErr: "max_requests_per_minute 5000 is out of range: use 1 to 1000"},
		{name: "status code 999", mutate: func(c *Config) { c.RequestLogs.Filter.StatusCodes = []int{200, 999} }, wantErr: "request_logs.filter.status_codes: 999 is not an HTTP status code"},
		{name: "unknown method", mutate: func(c *Config) { c.RequestLogs.Filter.HTTPMethods = []string{"FETCH"} }, wantErr: "request_logs.filter.http_methods: \"FETCH\" is not an HTTP method"},
		{name: "comma inside a list value", mutate: func(c *Config) { c.RequestLogs.Filter.Providers = []string{"a,b"} }, wantErr: "request_logs.filter.providers: \"a,b\" is not a valid value"},
		{name: "bad redaction pattern", mutate: func(c *Config) { c.Redaction.Headers = []string{"[x"} }, wantErr: "redaction pattern \"[x\" is invalid"},
		{name: "nothing enabled", mutate: func(c *Config) { c.RequestLogs.Enabled, c.ActionLogs.Enabled = false, false }, wantErr: "no log stream is enabled"},
		{name: "action logs only", mutate: func(c *Config) { c.RequestLogs.Enabled = false }},
		{name: "action status code 42", mutate: func(c *Config) { c.ActionLogs.Filter.StatusCodes = []int{42} }, wantErr: "action_logs.filter.status_codes: 42 is not an HTTP status code"},
		{name: "action method", mutate: func(c *Config) { c.ActionLogs.Filter.HTTPMethods = []string{"YEET"} }, wantErr: "action_logs.filter.http_methods: \"YEET\" is not an HTTP method"},
		{name: "empty connector key", mutate: func(c *Config) { c.ActionLogs.Filter.ConnectorKeys = []string{" "} }, wantErr: "action_logs.filter.connector_keys: \" \" is not a valid value"},
		{name: "step logs filter", mutate: func(c *Config) { c.StepLogs.Filter.StatusCodes = []int{1000} }, wantErr: "step_logs.filter.status_codes: 1000"},
		{name: "platform logs by category", mutate: func(c *Config) {
			c.PlatformLogs.Enabled = true
			c.PlatformLogs.Filter = stackoneapi.RequestLogFilter{Categories: []string{"auth"}, SourceTypes: []string{"DASHBOARD"}, Actions: []string{"list"}}
		}},
		{name: "platform logs by provider", mutate: func(c *Config) { c.PlatformLogs.Filter.Providers = []string{"hibob"} },
			wantErr: "platform_logs.filter.providers: platform logs do not take this filter (StackOne's API accepts account_ids, categories, actions, resources, http_methods, request_ids, source_ids, source_types, source_values, status_codes, success); remove it"},
		{name: "platform logs by service", mutate: func(c *Config) { c.PlatformLogs.Filter.Services = []string{"hris"} }, wantErr: "platform_logs.filter.services: platform logs do not take this filter"},
		{name: "platform logs by sub-resource", mutate: func(c *Config) { c.PlatformLogs.Filter.SubResources = []string{"x"} }, wantErr: "platform_logs.filter.sub_resources: platform logs do not take this filter"},
		{name: "platform logs by child resource", mutate: func(c *Config) { c.PlatformLogs.Filter.ChildResources = []string{"x"} }, wantErr: "platform_logs.filter.child_resources: platform logs do not take this filter"},
		{name: "step logs by source", mutate: func(c *Config) {
			c.StepLogs.Filter = stackoneapi.RequestLogFilter{SourceIDs: []string{"a"}, SourceTypes: []string{"b"}, SourceValues: []string{"c"}}
		}, wantErr: "step_logs.filter.source_ids: step logs do not take this filter (StackOne's API accepts account_ids, providers, services, actions, resources, sub_resources, child_resources, http_methods, request_ids, status_codes, success); remove it\n" +
			"step_logs.filter.source_types: step logs do not take this filter (StackOne's API accepts account_ids, providers, services, actions, resources, sub_resources, child_resources, http_methods, request_ids, status_codes, success); remove it\n" +
			"step_logs.filter.source_values: step logs do not take this filter"},
		{name: "step logs by provider, status and outcome", mutate: func(c *Config) {
			no := false
			c.StepLogs.Filter = stackoneapi.RequestLogFilter{Providers: []string{"hibob"}, SubResources: []string{"x"}, StatusCodes: []int{500}, Success: &no}
		}},
		{name: "request logs by category", mutate: func(c *Config) { c.RequestLogs.Filter.Categories = []string{"auth"} }, wantErr: "request_logs.filter.categories: request logs do not take this filter"},
		{name: "request logs by every filter they take", mutate: func(c *Config) {
			yes := true
			c.RequestLogs.Filter = stackoneapi.RequestLogFilter{
				AccountIDs: []string{"a"}, Providers: []string{"a"}, Services: []string{"a"}, Actions: []string{"a"}, Resources: []string{"a"},
				SubResources: []string{"a"}, ChildResources: []string{"a"}, HTTPMethods: []string{"GET"}, RequestIDs: []string{"a"},
				SourceIDs: []string{"a"}, SourceTypes: []string{"a"}, SourceValues: []string{"a"}, StatusCodes: []int{200}, Success: &yes,
			}
		}},
		{name: "a category with a comma", mutate: func(c *Config) { c.PlatformLogs.Filter.Categories = []string{"a,b"} }, wantErr: "platform_logs.filter.categories: \"a,b\" is not a valid value"},
		{name: "sweep on every poll", mutate: func(c *Config) { c.SweepInterval = 0 }},
		{name: "negative sweep interval", mutate: func(c *Config) { c.SweepInterval = -time.Second }, wantErr: "sweep_interval -1s is out of range: use 0 (every poll) to 1h"},
		{name: "indexing delay below a second", mutate: func(c *Config) { c.IndexingDelay = 0 }, wantErr: "indexing_delay 0s is out of range: use 1s up to late_arrival_window (5m0s)"},
		{name: "indexing delay past the window", mutate: func(c *Config) { c.IndexingDelay = 6 * time.Minute }, wantErr: "indexing_delay 6m0s is out of range"},
		{name: "indexing delay equal to the window", mutate: func(c *Config) { c.IndexingDelay = 5 * time.Minute }},
		{name: "no window, any indexing delay", mutate: func(c *Config) { c.LateArrivalWindow, c.IndexingDelay = 0, time.Hour }},
		{name: "catch-up without workers", mutate: func(c *Config) { c.CatchUp.Concurrency = 0 }, wantErr: "catch_up.concurrency 0 is out of range: use 1 to 16"},
		{name: "catch-up too wide", mutate: func(c *Config) { c.CatchUp.Concurrency = 64 }, wantErr: "catch_up.concurrency 64 is out of range"},
		{name: "negative timeout", mutate: func(c *Config) { c.Timeout = -time.Second }, wantErr: "timeout -1s is out of range: use a positive duration such as 30s"},
		{name: "detail share of nothing", mutate: func(c *Config) { c.RequestLogs.Detail.BudgetShare = 0 }, wantErr: "request_logs.detail.budget_share 0 is out of range"},
		{name: "detail share of everything", mutate: func(c *Config) { c.RequestLogs.Detail.BudgetShare = 1 }, wantErr: "request_logs.detail.budget_share 1 is out of range"},
		{name: "detail share below one call", mutate: func(c *Config) { c.MaxRequestsPerMinute = 4 }, wantErr: "leaving at least one call a minute of max_requests_per_minute (4) to the detail calls"},
		{name: "detail off needs no share", mutate: func(c *Config) { c.MaxRequestsPerMinute = 4; c.RequestLogs.Detail.Enabled = false }},
		{name: "detail status class", mutate: func(c *Config) { c.RequestLogs.Detail.StatusCodes = []string{"6xx"} }, wantErr: "request_logs.detail.status_codes: \"6xx\" is not a status, class or range"},
		{name: "detail status range backwards", mutate: func(c *Config) { c.RequestLogs.Detail.StatusCodes = []string{"599-500"} }, wantErr: "is not a status, class or range"},
		{name: "detail statuses none", mutate: func(c *Config) { c.RequestLogs.Detail.StatusCodes = nil }, wantErr: "request_logs.detail.status_codes: no status given"},
		{name: "detail statuses mixed", mutate: func(c *Config) { c.RequestLogs.Detail.StatusCodes = []string{"5XX", "404", "408-429"} }},
		{name: "detail timeout zero", mutate: func(c *Config) { c.RequestLogs.Detail.Timeout = 0 }, wantErr: "request_logs.detail.timeout 0s is out of range"},
		{name: "nested size negative", mutate: func(c *Config) { c.MaxNestedSize = -1 }, wantErr: "max_nested_size -1 is out of range"},
		{name: "nested size off", mutate: func(c *Config) { c.MaxNestedSize = 0 }},
		{name: "zero timeout", mutate: func(c *Config) { c.Timeout = 0 }, wantErr: "timeout 0s is out of range: use a positive duration such as 30s (0 would let one stalled request hold a stream forever)"},
		{name: "plain http to a remote host", mutate: func(c *Config) { c.Endpoint = "http://api.stackone.com" }, wantErr: "endpoint \"http://api.stackone.com\" would send the API key unencrypted: use https://api.stackone.com"},
		{name: "plain http to a private address", mutate: func(c *Config) { c.Endpoint = "http://10.1.2.3:8089" }, wantErr: "would send the API key unencrypted"},
		{name: "plain http to a name under localhost", mutate: func(c *Config) { c.Endpoint = "http://localhost.example.com" }, wantErr: "would send the API key unencrypted"},
		{name: "plain http to 127.0.0.1", mutate: func(c *Config) { c.Endpoint = "http://127.0.0.1:8089" }},
		{name: "plain http to 127.0.0.0/8", mutate: func(c *Config) { c.Endpoint = "http://127.4.5.6:8089/base" }},
		{name: "plain http to ::1", mutate: func(c *Config) { c.Endpoint = "http://[::1]:8089" }},
		{name: "plain http to localhost", mutate: func(c *Config) { c.Endpoint = "http://localhost:8089" }},
		{name: "https anywhere", mutate: func(c *Config) { c.Endpoint = "https://10.1.2.3:8443" }},
		{name: "response limit too small", mutate: func(c *Config) { c.MaxResponseSize = 1000 }, wantErr: "max_response_size 1000 is out of range: use 65536 (64 KiB) to 268435456 (256 MiB) bytes"},
		{name: "response limit zero", mutate: func(c *Config) { c.MaxResponseSize = 0 }, wantErr: "max_response_size 0 is out of range"},
		{name: "response limit too big", mutate: func(c *Config) { c.MaxResponseSize = 1 << 30 }, wantErr: "max_response_size 1073741824 is out of range"},
		{name: "response limit at its lower bound", mutate: func(c *Config) { c.MaxResponseSize = 64 << 10 }},
		{name: "leader election defaults", mutate: func(c *Config) { c.LeaderElection.GetOrInsertDefault() }},
		{name: "leader election auth", mutate: func(c *Config) { c.LeaderElection.GetOrInsertDefault().AuthType = "tls" }, wantErr: "leader_election.auth_type \"tls\" is not supported: use serviceAccount"},
		{name: "lease name", mutate: func(c *Config) { c.LeaderElection.GetOrInsertDefault().LeaseName = "Stackone_Logs" }, wantErr: "leader_election.lease_name \"Stackone_Logs\" is not a Kubernetes name"},
		{name: "position configmap", mutate: func(c *Config) { c.LeaderElection.GetOrInsertDefault().PositionConfigMap = "-x" }, wantErr: "leader_election.position_configmap \"-x\" is not a Kubernetes name"},
		{name: "lease in fractions of a second", mutate: func(c *Config) { c.LeaderElection.GetOrInsertDefault().LeaseDuration = 1500 * time.Millisecond }, wantErr: "leader_election.lease_duration 1.5s is invalid: use whole seconds"},
		{name: "renew not before the lease ends", mutate: func(c *Config) { c.LeaderElection.GetOrInsertDefault().RenewDeadline = 15 * time.Second }, wantErr: "leader_election.lease_duration 15s must be longer than renew_deadline 15s plus retry_period 2s"},
		{name: "no margin for a retry after the renew deadline", mutate: func(c *Config) {
			le := c.LeaderElection.GetOrInsertDefault()
			le.LeaseDuration, le.RenewDeadline, le.RetryPeriod = 4*time.Second, 3*time.Second, 1500*time.Millisecond
		}, wantErr: "leader_election.lease_duration 4s must be longer than renew_deadline 3s plus retry_period 1.5s"},
		{name: "renew deadline not positive", mutate: func(c *Config) { c.LeaderElection.GetOrInsertDefault().RenewDeadline = 0 }, wantErr: "leader_election.retry_period 2s must be positive and renew_deadline 0s more than 1.2 times it"},
		{name: "retry as long as the renewal", mutate: func(c *Config) { c.LeaderElection.GetOrInsertDefault().RetryPeriod = 9 * time.Second }, wantErr: "leader_election.retry_period 9s must be positive and renew_deadline 10s more than 1.2 times it"},
		{name: "leader election with file storage", mutate: func(c *Config) {
			c.LeaderElection.GetOrInsertDefault()
			id := component.MustNewID("file_storage")
			c.StorageID = &id
		}, wantErr: "storage \"file_storage\" and leader_election are both set"},
	}
	for _, tt := range tests {
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

// confmap validates retry_on_failure itself; the receiver's own check would print the same error twice.
func TestRetryOnFailureErrorSaidOnce(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.APIKey = "k"
	cfg.BackOff.Multiplier = -1
	err := confmap.Validate(cfg)
	require.ErrorContains(t, err, "retry_on_failure")
	assert.Equal(t, 1, strings.Count(err.Error(), "multiplier"), err.Error())
}

func TestMaxResponseSizeIsDecoded(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, confmap.NewFromStringMap(map[string]any{"api_key": "k", "max_response_size": 1 << 20}).Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))
	assert.EqualValues(t, 1<<20, cfg.MaxResponseSize)
}
