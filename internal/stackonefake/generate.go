package stackonefake

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

type account struct {
	id, provider, project string
}

// A fixed set of linked accounts, so backfill and live traffic (and separate
// Generate calls) talk about the same customers.
var accounts = []account{
	{"acc_7f3a9c21d4e8", "bamboohr", "prj_4b1e77c2"},
	{"acc_19c0e6b2a7f3", "workday", "prj_4b1e77c2"},
	{"acc_5d82f1a09c6e", "hibob", "prj_9e03d5a8"},
	{"acc_a04b7e3c58d1", "greenhouse", "prj_4b1e77c2"},
	{"acc_c6e91d0f24b7", "ashby", "prj_9e03d5a8"},
	{"acc_2b7d4a9e1f60", "lever", "prj_9e03d5a8"},
	{"acc_e3f05c8b7a12", "hubspot", "prj_4b1e77c2"},
	{"acc_8a1c6f2e9d43", "salesforce", "prj_9e03d5a8"},
	{"acc_f4d29b7c0e85", "bamboohr", "prj_9e03d5a8"},
	{"acc_0e6a3d81c9f2", "greenhouse", "prj_9e03d5a8"},
}

var serviceOf = map[string]string{
	"bamboohr": "hris", "workday": "hris", "hibob": "hris",
	"greenhouse": "ats", "ashby": "ats", "lever": "ats",
	"hubspot": "crm", "salesforce": "crm",
}

var resourcesOf = map[string][]string{
	"hris": {"employees", "employees", "time_off", "locations", "companies", "employments"},
	"ats":  {"candidates", "candidates", "applications", "jobs", "interviews", "offers"},
	"crm":  {"contacts", "contacts", "accounts", "lists"},
}

var subResourceOf = map[string]string{
	"employees": "documents", "candidates": "notes", "applications": "scorecards", "contacts": "activities",
}

type source struct{ typ, id, value string }

var sources = []source{
	{"API_KEY", "key_3f9a1c7e", "PRIMARY_API_KEY"},
	{"API_KEY", "key_8d2b6e04", "SYNC_WORKER_KEY"},
	{"DASHBOARD", "usr_51c0a9f3", "ACCOUNT_TESTER"},
	{"DASHBOARD", "usr_51c0a9f3", "LOG_REPLAY"},
}

var userAgents = []string{
	"stackone-client-ts/4.28.0",
	"stackone-client-python/2.3.1",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
	"acme-sync/1.12 (+https://acme.example)",
	"langchain-stackone/0.4.2",
}

type generator struct {
	rng *rand.Rand
}

// newGenerator mixes a per-server call counter into the stream so repeated
// calls with one seed still produce fresh ids, while a fresh server replays
// the same sequence of calls identically.
func (s *Server) newGenerator(seed int64) *generator {
	s.mu.Lock()
	batch := s.genBatch
	s.genBatch++
	s.mu.Unlock()
	return &generator{rng: rand.New(rand.NewPCG(uint64(seed), batch))}
}

func pick[T any](g *generator, xs []T) T { return xs[g.rng.IntN(len(xs))] }

func (g *generator) uuid() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], g.rng.Uint64())
	binary.BigEndian.PutUint64(b[8:], g.rng.Uint64())
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func (g *generator) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.rng.IntN(16)]
	}
	return string(b)
}

func (g *generator) ip() string {
	// Documentation ranges (RFC 5737): realistic-looking, never routable.
	nets := []string{"192.0.2", "198.51.100", "203.0.113"}
	return fmt.Sprintf("%s.%d", pick(g, nets), 1+g.rng.IntN(254))
}

// status draws an answer with roughly production proportions: mostly
// success, a tail of client errors, rate limits and provider failures.
func (g *generator) status(create bool) int {
	x := g.rng.Float64()
	switch {
	case x < 0.86:
		if create {
			return 201
		}
		return 200
	case x < 0.90:
		return 404
	case x < 0.93:
		return 400
	case x < 0.95:
		return 429
	case x < 0.97:
		return 401
	case x < 0.985:
		return 500
	default:
		return 502
	}
}

// durationMs is log-normal-ish: most calls are quick, provider calls have a
// long tail.
func (g *generator) durationMs(status int) int {
	d := math.Exp(5.3 + 0.8*g.rng.NormFloat64())
	if status == 502 {
		d += 10000
	}
	return int(math.Min(math.Max(d, 8), 30000))
}

func (g *generator) verb() string {
	x := g.rng.Float64()
	switch {
	case x < 0.6:
		return "list"
	case x < 0.9:
		return "get"
	default:
		return "create"
	}
}

var methodOf = map[string]string{"list": "GET", "get": "GET", "create": "POST"}

func (g *generator) requestLog(at time.Time) map[string]any {
	acc := pick(g, accounts)
	svc := serviceOf[acc.provider]
	res := pick(g, resourcesOf[svc])
	verb := g.verb()
	method := methodOf[verb]
	path := "/unified/" + svc + "/" + res
	var subResource any
	if verb == "get" {
		path += "/" + g.hex(12)
		if sub, ok := subResourceOf[res]; ok && g.rng.Float64() < 0.2 {
			subResource = sub
			path += "/" + sub
		}
	}
	status := g.status(verb == "create")
	dur := g.durationMs(status)
	start := at.UTC()
	end := start.Add(time.Duration(dur) * time.Millisecond)
	src := pick(g, sources)
	ua := pick(g, userAgents)
	return map[string]any{
		"request_id":     g.uuid(),
		"account_id":     acc.id,
		"project_id":     acc.project,
		"provider":       acc.provider,
		"service":        svc,
		"resource":       res,
		"sub_resource":   subResource,
		"child_resource": nil,
		"action":         verb,
		"http_method":    method,
		"path":           path,
		"url":            "https://api.stackone.com" + path,
		"status":         status,
		"success":        status < 400,
		"duration":       dur,
		"event_datetime": formatTime(start),
		"start_time":     formatTime(start),
		"end_time":       formatTime(end),
		"source_type":    src.typ,
		"source_id":      src.id,
		"source_value":   src.value,
		"source_ip":      g.ip(),
		"is_worker":      g.rng.Float64() < 0.1,
		"request": map[string]any{
			"method": method,
			"url":    map[string]any{"hostname": "api.stackone.com", "path": path},
			"headers": map[string]any{
				"Authorization": "Bearer secret-" + g.hex(32),
				"Content-Type":  "application/json",
				"User-Agent":    ua,
			},
		},
		"response": map[string]any{
			"status_code": status,
			"headers": map[string]any{
				"Set-Cookie":   "session=" + g.hex(24) + "; Path=/; HttpOnly; Secure",
				"Content-Type": "application/json",
			},
		},
	}
}

var actionModes = []string{"rpc", "rpc", "mcp", "a2a"}
var transports = []string{"http", "http", "streamable_http", "sse"}
var agents = []string{"agt_support_copilot", "agt_recruiting_assistant", "agt_hr_helpdesk"}

func (g *generator) risk() (string, float64) {
	x := g.rng.Float64()
	round := func(f float64) float64 { return math.Round(f*1000) / 1000 }
	switch {
	case x < 0.78:
		return "low", round(g.rng.Float64() * 0.3)
	case x < 0.95:
		return "medium", round(0.3 + g.rng.Float64()*0.4)
	case x < 0.99:
		return "high", round(0.7 + g.rng.Float64()*0.2)
	default:
		// Defender's fourth level: rare, and what the high-risk alert pages for.
		return "critical", round(0.9 + g.rng.Float64()*0.1)
	}
}

func (g *generator) actionLog(at time.Time) map[string]any {
	acc := pick(g, accounts)
	svc := serviceOf[acc.provider]
	res := pick(g, resourcesOf[svc])
	verb := g.verb()
	status := g.status(verb == "create")
	dur := g.durationMs(status)
	start := at.UTC()
	end := start.Add(time.Duration(dur) * time.Millisecond)
	level, score := g.risk()
	mode := pick(g, actionModes)
	src := pick(g, sources)
	var agent any
	if mode != "rpc" {
		agent = pick(g, agents)
	}
	actionType := "read"
	if verb == "create" {
		actionType = "write"
	}
	return map[string]any{
		"log_id":               g.uuid(),
		"log_type":             "action",
		"action_run_id":        g.uuid(),
		"event_time":           formatTime(start),
		"start_time":           formatTime(start),
		"end_time":             formatTime(end),
		"duration_ms":          dur,
		"status_code":          status,
		"success":              status < 400,
		"is_background":        g.rng.Float64() < 0.05,
		"http_method":          methodOf[verb],
		"url":                  "https://api.stackone.com/actions/rpc",
		"project_id":           acc.project,
		"account_id":           acc.id,
		"connector_key":        acc.provider,
		"connector_version":    fmt.Sprintf("1.%d.%d", g.rng.IntN(4), g.rng.IntN(10)),
		"connector_owner":      "stackone",
		"connector_profile_id": nil,
		"action_id":            acc.provider + "_" + verb + "_" + res,
		"action_type":          actionType,
		"category":             svc,
		"mode":                 mode,
		"risk_level":           level,
		"tier2_score":          score,
		"source_type":          src.typ,
		"source_id":            src.id,
		"source_value":         src.value,
		"auth_type":            "api_key",
		"auth_id":              src.id,
		"user_agent":           pick(g, userAgents),
		"ip_address":           g.ip(),
		"session_id":           g.uuid(),
		"agent_id":             agent,
		"transport_type":       pick(g, transports),
		"stream_type":          nil,
		"origin_owner_id":      "org_" + acc.id[4:12],
		"origin_owner_name":    "Customer " + acc.id[4:8],
	}
}

// GenerateRequestLogs adds n realistic request logs with event times from,
// from+step, ... and returns them. Output depends only on seed and on how many
// Generate calls this server has seen before.
func (s *Server) GenerateRequestLogs(n int, from time.Time, step time.Duration, seed int64) []map[string]any {
	g := s.newGenerator(seed)
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = g.requestLog(from.Add(time.Duration(i) * step))
	}
	s.AddRequestLogs(out...)
	return out
}

// GenerateActionLogs adds n realistic action logs with event times from,
// from+step, ... and returns them; determinism as for GenerateRequestLogs.
// Under Options.ActionSteps it adds the steps of each run too (StepsFor).
func (s *Server) GenerateActionLogs(n int, from time.Time, step time.Duration, seed int64) []map[string]any {
	g := s.newGenerator(seed)
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = g.actionLog(from.Add(time.Duration(i) * step))
	}
	s.AddActionLogs(out...)
	s.AddActionSteps(s.stepsOf(out)...)
	return out
}

// StartLiveTraffic adds one request log and one action log (with its steps,
// under Options.ActionSteps) stamped with the server clock perSecond times a second until ctx ends. The first pair is
// added before it returns, so callers can rely on traffic existing.
func (s *Server) StartLiveTraffic(ctx context.Context, perSecond float64, seed int64) {
	if perSecond <= 0 || ctx.Err() != nil {
		return
	}
	g := s.newGenerator(seed)
	tick := func() {
		now := s.now()
		s.AddRequestLogs(g.requestLog(now))
		action := g.actionLog(now)
		s.AddActionLogs(action)
		s.AddActionSteps(s.stepsOf([]map[string]any{action})...)
	}
	tick()
	// Clamped both ways: a busy loop helps nobody, and a huge float would
	// overflow the conversion to Duration.
	interval := time.Duration(min(max(float64(time.Second)/perSecond, float64(time.Millisecond)), float64(24*time.Hour)))
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				tick()
			}
		}
	}()
}
