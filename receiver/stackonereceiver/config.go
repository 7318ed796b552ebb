package stackonereceiver

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/confmap"

	"github.com/stackone-otel/otelcol-stackone/receiver/stackonereceiver/internal/stackoneapi"
)

const (
	defaultEndpoint = "https://api.stackone.com"
	// StackOne's OpenAPI sets page_size's maximum to 100 on GET /requests/logs, /requests/logs/steps and
	// /requests/platform-logs.
	maxCursorPageSize = 100
	// POST /logs/actions and /logs/steps publish no maximum; 1000 keeps one page's memory bounded.
	maxActionPageSize = 1000
	defaultPageSize   = 100
	// The API key's limit is 1000/min shared with the customer's own traffic.
	apiRateLimit = 1000
	// Bounds of max_response_size: below 64 KiB even a page of 100 plain entries may not fit; above 256 MiB one
	// answer could take gigabytes once decoded.
	minResponseSize = 64 << 10
	maxResponseSize = 256 << 20
	// More slices in flight than this only queue on the request budget.
	maxCatchUpConcurrency = 16
)

// Config is the `stackone` receiver's configuration.
type Config struct {
	confighttp.ClientConfig `mapstructure:",squash"`

	// APIKey is the StackOne API key, sent as HTTP Basic user name.
	APIKey configopaque.String `mapstructure:"api_key"`
	// PollInterval is the pause between two polls of a stream once it has caught up.
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// InitialLookback is how far back the very first poll starts when no position is stored.
	InitialLookback time.Duration `mapstructure:"initial_lookback"`
	// PageSize is the number of entries asked for per page, at most StackOne's documented 100 on the
	// request-log endpoints. A stream whose server refuses it halves it for as long as the receiver runs.
	PageSize int `mapstructure:"page_size"`
	// LateArrivalWindow is how late StackOne may index an entry and still have it delivered, once.
	LateArrivalWindow time.Duration `mapstructure:"late_arrival_window"`
	// IndexingDelay is how late StackOne usually indexes an entry: the near sweep re-reads each moment this long
	// after it, and reads later still once the far sweep finds entries indexed later.
	IndexingDelay time.Duration `mapstructure:"indexing_delay"`
	// SweepInterval is how much time each sweep re-reads at once, so how often it runs.
	SweepInterval time.Duration `mapstructure:"sweep_interval"`
	// CatchUp reads a backlog (a long initial_lookback, or after downtime) as parallel time slices.
	CatchUp CatchUpConfig `mapstructure:"catch_up"`
	// MaxRequestsPerMinute is this receiver's client-side budget against the key's shared rate limit.
	MaxRequestsPerMinute int `mapstructure:"max_requests_per_minute"`
	// MaxResponseSize is the largest answer body accepted, in bytes; a larger one is refused, not decoded.
	MaxResponseSize int64 `mapstructure:"max_response_size"`
	// StorageID names a storage extension (e.g. file_storage) that keeps the position across restarts.
	StorageID *component.ID `mapstructure:"storage"`
	// LeaderElection runs the receiver on several replicas with one polling: the holder of a Kubernetes Lease.
	// The position then lives in a ConfigMap that every replica reads and only the leader writes, fenced.
	LeaderElection configoptional.Optional[LeaderElectionConfig] `mapstructure:"leader_election"`
	// BackOff paces retries of failed API calls and of pages the pipeline refused.
	BackOff configretry.BackOffConfig `mapstructure:"retry_on_failure"`
	// Redaction lists what must never be exported from inside a log entry.
	Redaction RedactionConfig `mapstructure:"redaction"`
	// MaxNestedSize is each record's budget, in bytes, for the nested objects and arrays of its entry (provider
	// errors, a request's details); what does not fit is left out and the record carries stackone.truncated.
	// 0 leaves nested data out.
	MaxNestedSize int `mapstructure:"max_nested_size"`
	// LogRecordOriginal adds log.record.original: the entry as StackOne sent it, with its secrets redacted, for
	// backends that parse it themselves.
	LogRecordOriginal bool `mapstructure:"log_record_original"`

	RequestLogs  RequestLogsStreamConfig `mapstructure:"request_logs"`
	ActionLogs   ActionLogsConfig        `mapstructure:"action_logs"`
	StepLogs     RequestLogsConfig       `mapstructure:"step_logs"`
	PlatformLogs RequestLogsConfig       `mapstructure:"platform_logs"`
	// ActionSteps is off by default: the /logs family is young, and its steps the least known part of it.
	ActionSteps ActionStepsConfig `mapstructure:"action_steps"`

	// Webhook receives StackOne's signed webhook events beside the polled logs (webhook_config.go).
	Webhook WebhookConfig `mapstructure:"webhook"`

	// prevent unkeyed literal initialization
	_ struct{}
}

const (
	defaultMaxNestedSize = 16 << 10
	// Above this a record's nested data alone would exceed what common backends accept for a whole log line.
	maxNestedSizeLimit = 1 << 20
)

// CatchUpConfig configures how a stream far behind reads its backlog.
type CatchUpConfig struct {
	// Concurrency is how many time slices are read at once; all of them share max_requests_per_minute.
	Concurrency int `mapstructure:"concurrency"`
}

// LeaderElectionConfig has the keys of contrib's k8s_leader_elector extension (auth_type, context, lease_name,
// lease_namespace, lease_duration, renew_deadline, retry_period), so moving to that extension once it can be
// built is a config change, plus where the fenced position lives.
type LeaderElectionConfig struct {
	// AuthType is how to reach the Kubernetes API: serviceAccount (in a pod) or kubeConfig.
	AuthType string `mapstructure:"auth_type"`
	// Context overrides the kubeconfig's current context (auth_type kubeConfig).
	Context string `mapstructure:"context"`
	// LeaseName is the Lease the replicas compete for; empty means otelcol-stackone-<receiver name>.
	LeaseName string `mapstructure:"lease_name"`
	// LeaseNamespace holds the Lease and the position ConfigMap; empty means the pod's own namespace.
	LeaseNamespace string `mapstructure:"lease_namespace"`
	// LeaseDuration is how long a standby waits, after the last renewal it saw, before taking over.
	LeaseDuration time.Duration `mapstructure:"lease_duration"`
	// RenewDeadline is how long the leader keeps retrying a renewal before it stops polling.
	RenewDeadline time.Duration `mapstructure:"renew_deadline"`
	// RetryPeriod is the pause between attempts to acquire or renew the lease.
	RetryPeriod time.Duration `mapstructure:"retry_period"`
	// PositionConfigMap names the ConfigMap holding the position; empty means <lease_name>-position.
	PositionConfigMap string `mapstructure:"position_configmap"`
}

const (
	authServiceAccount = "serviceAccount"
	authKubeConfig     = "kubeConfig"
)

func defaultLeaderElection() LeaderElectionConfig {
	// The defaults of the contrib extension and of Kubernetes' own controllers.
	return LeaderElectionConfig{AuthType: authServiceAccount, LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}
}

// dnsSubdomain is what Kubernetes accepts as a Lease or ConfigMap name.
var dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

func (cfg *LeaderElectionConfig) validate() []error {
	var errs []error
	if cfg.AuthType != authServiceAccount && cfg.AuthType != authKubeConfig {
		errs = append(errs, fmt.Errorf("leader_election.auth_type %q is not supported: use serviceAccount (in a pod, with the Lease and ConfigMap RBAC) or kubeConfig (KUBECONFIG or ~/.kube/config)", cfg.AuthType))
	}
	for _, n := range []struct{ key, value string }{
		{"lease_name", cfg.LeaseName}, {"lease_namespace", cfg.LeaseNamespace}, {"position_configmap", cfg.PositionConfigMap},
	} {
		if n.value != "" && (len(n.value) > 253 || !dnsSubdomain.MatchString(n.value)) {
			errs = append(errs, fmt.Errorf("leader_election.%s %q is not a Kubernetes name: use lower-case letters, digits, '-' and '.', starting and ending with a letter or digit (or leave it empty for the default)", n.key, n.value))
		}
	}
	// The Lease stores whole seconds, and client-go needs renew_deadline > 1.2 x retry_period. The leader stops
	// polling renew_deadline after its last renewal, on its own clock (watchLease), and a standby may take the
	// lease lease_duration after it; client-go's own loop ends the term up to retry_period later than that.
	// lease_duration must exceed renew_deadline + retry_period, so both stops come before the lease can pass,
	// with at least retry_period to spare for the calls in flight to be cancelled.
	switch {
	case cfg.LeaseDuration < time.Second || cfg.LeaseDuration%time.Second != 0:
		errs = append(errs, fmt.Errorf("leader_election.lease_duration %s is invalid: use whole seconds, 1s or more (15s is a good default; a standby takes over about this long after the leader dies)", cfg.LeaseDuration))
	case cfg.RetryPeriod <= 0 || cfg.RenewDeadline <= cfg.RetryPeriod*6/5:
		errs = append(errs, fmt.Errorf("leader_election.retry_period %s must be positive and renew_deadline %s more than 1.2 times it, so a renewal gets more than one try (2s with 10s is a good default)", cfg.RetryPeriod, cfg.RenewDeadline))
	case cfg.LeaseDuration <= cfg.RenewDeadline+cfg.RetryPeriod:
		errs = append(errs, fmt.Errorf("leader_election.lease_duration %s must be longer than renew_deadline %s plus retry_period %s: a leader that cannot renew stops polling renew_deadline after its last renewal, and the margin to lease_duration is what keeps it from polling after a standby may take over (15s, 10s and 2s are good defaults)",
			cfg.LeaseDuration, cfg.RenewDeadline, cfg.RetryPeriod))
	}
	return errs
}

// RequestLogsConfig configures a cursor-paginated stream: request, step or platform logs.
type RequestLogsConfig struct {
	Enabled bool                         `mapstructure:"enabled"`
	Filter  stackoneapi.RequestLogFilter `mapstructure:"filter"`
}

// RequestLogsStreamConfig configures request_logs: a cursor stream whose failed requests can be explained.
type RequestLogsStreamConfig struct {
	RequestLogsConfig `mapstructure:",squash"`
	// Detail attaches what StackOne's detail endpoint knows about a failed request to its record.
	Detail DetailConfig `mapstructure:"detail"`
}

// DetailConfig configures the detail fetch of failed requests: GET /requests/logs/{id}?include=step_logs, for the
// provider errors, mapping errors and provider calls the list leaves out.
type DetailConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// StatusCodes are the statuses whose detail is fetched: codes (502), classes (4xx, 5xx) or ranges (500-599).
	StatusCodes []string `mapstructure:"status_codes"`
	// BudgetShare is the most of max_requests_per_minute the detail calls may use. They take only slots the
	// reads leave spare (as a catch-up does, always leaving one for a live read), so the live read and the
	// sweeps never queue behind them; and they never wait either: when no slot is spare or the share is spent,
	// the record goes without detail, marked stackone.detail: skipped_budget.
	BudgetShare float64 `mapstructure:"budget_share"`
	// Timeout bounds the detail calls of one page together, so a page is never held back longer; timeout, when
	// shorter, bounds them too.
	Timeout time.Duration `mapstructure:"timeout"`
}

// Unmarshal takes status_codes as YAML writes them: 502 is a number, 5xx a string, and both are statuses.
func (d *DetailConfig) Unmarshal(conf *confmap.Conf) error {
	type plain DetailConfig
	rest := conf.ToStringMap()
	raw, hasCodes := rest["status_codes"]
	delete(rest, "status_codes")
	if err := confmap.NewFromStringMap(rest).Unmarshal((*plain)(d)); err != nil {
		return err
	}
	if !hasCodes {
		return nil
	}
	items, ok := raw.([]any)
	if raw != nil && !ok {
		return fmt.Errorf("status_codes must be a list, such as [4xx, 5xx] or [502, 503]")
	}
	d.StatusCodes = make([]string, len(items))
	for i, v := range items {
		d.StatusCodes[i] = fmt.Sprint(v)
	}
	return nil
}

// detailCalls is how many calls a minute the detail share allows; 0 when the detail fetch is off.
func (cfg *Config) detailCalls() int {
	if !cfg.RequestLogs.Enabled || !cfg.RequestLogs.Detail.Enabled {
		return 0
	}
	return int(float64(cfg.MaxRequestsPerMinute) * cfg.RequestLogs.Detail.BudgetShare)
}

// ActionLogsConfig configures the POST /logs/actions stream.
type ActionLogsConfig struct {
	Enabled bool                        `mapstructure:"enabled"`
	Filter  stackoneapi.ActionLogFilter `mapstructure:"filter"`
}

// ActionStepsConfig configures the POST /logs/steps stream: what AI agents' action runs did, step by step.
type ActionStepsConfig struct {
	Enabled bool                         `mapstructure:"enabled"`
	Filter  stackoneapi.ActionStepFilter `mapstructure:"filter"`
}

// RedactionConfig lists the names whose values are replaced by "REDACTED". Names are matched
// case-insensitively; `*` matches any run of characters (e.g. `*token*`).
type RedactionConfig struct {
	// Headers are names of request and response headers.
	Headers []string `mapstructure:"headers"`
	// QueryParams are names of query and fragment parameters in url.full and in any other URL exported.
	QueryParams []string `mapstructure:"query_params"`
	// Fields are snake_case names of entry fields exported as stackone.<name> with the type they were sent with
	// (fields StackOne adds later, free-text ones). Separate from Headers because header-style globs such as
	// *key* or *auth* would hide harmless fields (connector_key, auth_type); typed fields such as ids are never
	// matched.
	Fields []string `mapstructure:"fields"`
	// Payloads replaces the request and response bodies of StackOne's advanced logs, at any depth: they carry
	// the customers' own records (employees, candidates), which a logs backend should not receive by default.
	Payloads bool `mapstructure:"payloads"`
}

// Unmarshal exists because confighttp.ClientConfig implements confmap.Unmarshaler: squashed into Config, its
// method is promoted and decodes only the HTTP fields, silently dropping every other key
// (opentelemetry-collector#15985). The conf passed here skips the top-level unmarshaler, so this does not
// recurse, and confmap still runs ClientConfig's own Unmarshal for the squashed part.
func (cfg *Config) Unmarshal(conf *confmap.Conf) error {
	return conf.Unmarshal(cfg)
}

func createDefaultConfig() component.Config {
	client := confighttp.NewDefaultClientConfig()
	client.Endpoint = defaultEndpoint
	client.Timeout = 30 * time.Second
	backOff := configretry.NewDefaultBackOffConfig()
	// A failed call is usually a blip: trying again after about a second keeps a backfill moving. Retry-After,
	// when sent, is honoured as sent instead.
	backOff.InitialInterval = time.Second
	// The official SDKs give up after an hour; a poll that has not succeeded in 5 minutes is abandoned and the
	// next poll starts again from the saved position, so nothing is lost by giving up sooner.
	backOff.MaxElapsedTime = 5 * time.Minute
	return &Config{
		ClientConfig:         client,
		PollInterval:         10 * time.Second,
		InitialLookback:      time.Hour,
		PageSize:             defaultPageSize,
		LateArrivalWindow:    5 * time.Minute,
		IndexingDelay:        time.Minute,
		SweepInterval:        15 * time.Second,
		CatchUp:              CatchUpConfig{Concurrency: 4},
		MaxRequestsPerMinute: 100,
		MaxResponseSize:      stackoneapi.DefaultMaxResponseSize,
		BackOff:              backOff,
		Redaction: RedactionConfig{
			// *auth* and *key* catch the many spellings of credential headers (X-Auth-Key, Authentication,
			// Ocp-Apim-Subscription-Key, X-Functions-Key). Field names get their own list (Fields).
			Headers: []string{
				"authorization", "proxy-authorization", "*auth*", "*key*", "cookie", "set-cookie",
				"*token*", "*secret*", "*password*", "*signature*", "*credential*",
			},
			QueryParams: []string{
				"*key*", "*token*", "*secret*", "*password*", "*signature*", "sig", "code", "auth*",
			},
			Fields: []string{
				"authorization", "*cookie*", "*api_key*", "*apikey*", "*access_key*", "*private_key*",
				"*token*", "*secret*", "*password*", "*signature*", "*credential*",
			},
			Payloads: true,
		},
		MaxNestedSize:  defaultMaxNestedSize,
		LeaderElection: configoptional.Default(defaultLeaderElection()),
		RequestLogs: RequestLogsStreamConfig{
			RequestLogsConfig: RequestLogsConfig{Enabled: true},
			Detail:            DetailConfig{Enabled: true, StatusCodes: []string{"4xx", "5xx"}, BudgetShare: 0.1, Timeout: 5 * time.Second},
		},
		ActionLogs: ActionLogsConfig{Enabled: true},
		Webhook:    newDefaultWebhookConfig(),
	}
}

// Validate says what is wrong and how to fix it; the collector prints it at start-up.
func (cfg *Config) Validate() error {
	var errs []error
	if strings.TrimSpace(string(cfg.APIKey)) == "" {
		errs = append(errs, errors.New("api_key is empty: set it to your StackOne API key, e.g. api_key: ${env:STACKONE_API_KEY}"))
	}
	if u, err := url.Parse(cfg.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("endpoint %q is not an http(s) URL: use %s or your regional base URL", cfg.Endpoint, defaultEndpoint))
	} else if u.Scheme == "http" && !stackoneapi.IsLoopback(u.Hostname()) {
		// The API key is sent with every request: over plain http anyone on the path can read it.
		errs = append(errs, fmt.Errorf("endpoint %q would send the API key unencrypted: use https://%s (plain http is accepted only for 127.0.0.1, ::1 or localhost)", cfg.Endpoint, u.Host))
	}
	if cfg.PollInterval < time.Second {
		errs = append(errs, fmt.Errorf("poll_interval %s is too short: use 1s or more (10s is a good default)", cfg.PollInterval))
	}
	// No upper bound: retention is a setting of each StackOne project (90 days unless changed), and a start
	// before it only reads empty pages.
	if cfg.InitialLookback <= 0 {
		errs = append(errs, fmt.Errorf("initial_lookback %s is not positive: use how far back the first start should read, such as 1h or 720h (30 days)", cfg.InitialLookback))
	}
	errs = append(errs, cfg.validatePageSize()...)
	if cfg.LateArrivalWindow < 0 || cfg.LateArrivalWindow > 24*time.Hour {
		errs = append(errs, fmt.Errorf("late_arrival_window %s is out of range: use 0 to 24h (5m is a good default)", cfg.LateArrivalWindow))
	}
	if cfg.SweepInterval < 0 || cfg.SweepInterval > time.Hour {
		errs = append(errs, fmt.Errorf("sweep_interval %s is out of range: use 0 (every poll) to 1h (15s is a good default; a late entry waits up to about indexing_delay plus this after its event time)", cfg.SweepInterval))
	}
	if cfg.IndexingDelay < time.Second || cfg.LateArrivalWindow > 0 && cfg.IndexingDelay > cfg.LateArrivalWindow {
		errs = append(errs, fmt.Errorf("indexing_delay %s is out of range: use 1s up to late_arrival_window (%s); 1m is a good default, and the receiver reads later on its own once it finds entries indexed later", cfg.IndexingDelay, cfg.LateArrivalWindow))
	}
	if cfg.CatchUp.Concurrency < 1 || cfg.CatchUp.Concurrency > maxCatchUpConcurrency {
		errs = append(errs, fmt.Errorf("catch_up.concurrency %d is out of range: use 1 to %d (4 is a good default; every slice shares max_requests_per_minute)", cfg.CatchUp.Concurrency, maxCatchUpConcurrency))
	}
	if cfg.MaxRequestsPerMinute < 1 || cfg.MaxRequestsPerMinute > apiRateLimit {
		errs = append(errs, fmt.Errorf("max_requests_per_minute %d is out of range: use 1 to %d, StackOne's per-key limit, which your own traffic shares", cfg.MaxRequestsPerMinute, apiRateLimit))
	}
	if cfg.MaxResponseSize < minResponseSize || cfg.MaxResponseSize > maxResponseSize {
		errs = append(errs, fmt.Errorf("max_response_size %d is out of range: use %d (64 KiB) to %d (256 MiB) bytes (%d, 16 MiB, is a good default)",
			cfg.MaxResponseSize, minResponseSize, maxResponseSize, stackoneapi.DefaultMaxResponseSize))
	}
	if cfg.MaxNestedSize < 0 || cfg.MaxNestedSize > maxNestedSizeLimit {
		errs = append(errs, fmt.Errorf("max_nested_size %d is out of range: use 0 (leave nested data out) to %d bytes (%d, 16 KiB, is a good default)", cfg.MaxNestedSize, maxNestedSizeLimit, defaultMaxNestedSize))
	}
	if cfg.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout %s is out of range: use a positive duration such as 30s (0 would let one stalled request hold a stream forever)", cfg.Timeout))
	}
	if le := cfg.LeaderElection.Get(); le != nil {
		errs = append(errs, le.validate()...)
		if cfg.StorageID != nil {
			errs = append(errs, fmt.Errorf("storage %q and leader_election are both set: with leader_election the position lives in a ConfigMap that every replica reads and only the leader writes; remove storage (a storage volume belongs to one pod, and a new leader would resume from its own stale copy)", cfg.StorageID))
		}
	}
	// retry_on_failure is not checked here: confmap calls BackOffConfig.Validate itself, and names the key.
	for _, p := range append(append(append([]string{}, cfg.Redaction.Headers...), cfg.Redaction.QueryParams...), cfg.Redaction.Fields...) {
		if _, err := path.Match(strings.ToLower(p), ""); err != nil || strings.TrimSpace(p) == "" {
			errs = append(errs, fmt.Errorf("redaction pattern %q is invalid: use a name or a pattern with * such as *token*", p))
		}
	}
	if !cfg.RequestLogs.Enabled && !cfg.ActionLogs.Enabled && !cfg.StepLogs.Enabled && !cfg.PlatformLogs.Enabled && !cfg.ActionSteps.Enabled {
		errs = append(errs, errors.New("no log stream is enabled: set request_logs.enabled (or action_logs, step_logs, platform_logs, action_steps) to true"))
	}
	for _, c := range []struct {
		stream, path string
		f            stackoneapi.RequestLogFilter
	}{
		{"request_logs", stackoneapi.RequestLogsPath, cfg.RequestLogs.Filter},
		{"step_logs", stackoneapi.StepLogsPath, cfg.StepLogs.Filter},
		{"platform_logs", stackoneapi.PlatformLogsPath, cfg.PlatformLogs.Filter},
	} {
		errs = append(errs, validateFilter(c.stream+".filter", c.f.Lists(), c.f.StatusCodes)...)
		errs = append(errs, validateFilterKeys(c.stream, c.f.Set(), stackoneapi.CursorFilters[c.path])...)
	}
	errs = append(errs, cfg.validateDetail()...)
	errs = append(errs, validateFilter("action_logs.filter", cfg.ActionLogs.Filter.Lists(), cfg.ActionLogs.Filter.StatusCodes)...)
	errs = append(errs, validateFilter("action_steps.filter", cfg.ActionSteps.Filter.Lists(), nil)...)
	errs = append(errs, cfg.Webhook.validate()...)
	return errors.Join(errs...)
}

func (cfg *Config) validateDetail() []error {
	d := cfg.RequestLogs.Detail
	if !cfg.RequestLogs.Enabled || !d.Enabled {
		return nil
	}
	var errs []error
	if _, err := parseStatusSet(d.StatusCodes); err != nil {
		errs = append(errs, fmt.Errorf("request_logs.detail.status_codes: %w", err))
	}
	if n := cfg.detailCalls(); d.BudgetShare <= 0 || d.BudgetShare >= 1 || n < 1 || cfg.MaxRequestsPerMinute-n < 1 {
		errs = append(errs, fmt.Errorf("request_logs.detail.budget_share %g is out of range: use more than 0 and less than 1, leaving at least one call a minute of max_requests_per_minute (%d) to the detail calls and one to the reads (0.1 is a good default), or set request_logs.detail.enabled: false",
			d.BudgetShare, cfg.MaxRequestsPerMinute))
	}
	if d.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("request_logs.detail.timeout %s is out of range: use a positive duration; a page waits at most this long (or timeout, if shorter) for its detail calls (5s is a good default)", d.Timeout))
	}
	return errs
}

// validatePageSize holds page_size to what the enabled streams' endpoints accept: StackOne documents a maximum
// of 100 on the request-log endpoints, and a larger page there would be refused or clamped by the server.
// Action logs and action steps publish no maximum, so without the others they may ask for more.
func (cfg *Config) validatePageSize() []error {
	var capped []string
	for _, s := range []struct {
		name string
		on   bool
	}{{"request_logs", cfg.RequestLogs.Enabled}, {"step_logs", cfg.StepLogs.Enabled}, {"platform_logs", cfg.PlatformLogs.Enabled}} {
		if s.on {
			capped = append(capped, s.name)
		}
	}
	switch {
	case cfg.PageSize < 1:
		return []error{fmt.Errorf("page_size %d is out of range: use 1 to %d (%d is the default)", cfg.PageSize, maxCursorPageSize, defaultPageSize)}
	case len(capped) > 0 && cfg.PageSize > maxCursorPageSize:
		return []error{fmt.Errorf("page_size %d is above StackOne's maximum of %d for %s: use 1 to %d (%d is the default); only action_logs and action_steps, without the other streams, may ask for up to %d",
			cfg.PageSize, maxCursorPageSize, strings.Join(capped, ", "), maxCursorPageSize, defaultPageSize, maxActionPageSize)}
	case cfg.PageSize > maxActionPageSize:
		return []error{fmt.Errorf("page_size %d is out of range: use 1 to %d for action_logs and action_steps (StackOne publishes no maximum there; %d is the default)", cfg.PageSize, maxActionPageSize, defaultPageSize)}
	}
	return nil
}

// readers is how many API calls the receiver may have in flight at once: per enabled stream, the live read and
// each catch-up worker.
func (cfg *Config) readers() int {
	streams := 0
	for _, on := range []bool{cfg.RequestLogs.Enabled, cfg.ActionLogs.Enabled, cfg.StepLogs.Enabled, cfg.PlatformLogs.Enabled, cfg.ActionSteps.Enabled} {
		if on {
			streams++
		}
	}
	return streams * (cfg.CatchUp.Concurrency + 1)
}

var validHTTPMethods = map[string]bool{
	http.MethodGet: true, http.MethodPost: true, http.MethodPut: true, http.MethodPatch: true,
	http.MethodDelete: true, http.MethodHead: true, http.MethodOptions: true,
}

// validateFilterKeys refuses a filter the stream's endpoint does not take. Sent anyway, it would be refused
// by the server or, worse, ignored, and the stream would export what the filter was meant to leave out.
func validateFilterKeys(stream string, set, accepted []string) []error {
	var errs []error
	for _, k := range set {
		if !slices.Contains(accepted, k) {
			errs = append(errs, fmt.Errorf("%s.filter.%s: %s do not take this filter (StackOne's API accepts %s); remove it",
				stream, k, strings.ReplaceAll(stream, "_", " "), strings.Join(accepted, ", ")))
		}
	}
	return errs
}

func validateFilter(prefix string, lists []stackoneapi.NamedList, statusCodes []int) []error {
	var errs []error
	for _, c := range statusCodes {
		if c < 100 || c > 599 {
			errs = append(errs, fmt.Errorf("%s.status_codes: %d is not an HTTP status code: use values from 100 to 599", prefix, c))
		}
	}
	for _, l := range lists {
		for _, v := range l.Values {
			switch {
			case l.Key == "http_methods" && !validHTTPMethods[strings.ToUpper(v)]:
				errs = append(errs, fmt.Errorf("%s.http_methods: %q is not an HTTP method: use GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS", prefix, v))
			case strings.TrimSpace(v) == "" || strings.Contains(v, ","):
				errs = append(errs, fmt.Errorf("%s.%s: %q is not a valid value: remove empty entries and list one value per item, without commas", prefix, l.Key, v))
			}
		}
	}
	return errs
}
