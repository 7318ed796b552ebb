package stackonefake

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strings"
)

// PlantedSecret starts every credential the fake plants in the detail of failed requests (a provider's error
// URL, its raw error body, its headers, the request's query parameters). None may reach an export.
const PlantedSecret = "planted-secret-"

// providerFailure is how a provider answered a call StackOne made for a failed request.
type providerFailure struct {
	status  int
	message string
	// form of the raw error: a JSON object in a string, a bare string, or an object
	raw func(msg, secret string) any
}

var providerFailures = map[int][]providerFailure{
	400: {{400, "Invalid value for field 'hire_date': expected YYYY-MM-DD", rawJSONString}},
	401: {{401, "invalid_grant: the refresh token has expired or was revoked", rawOAuth}},
	403: {{403, "Insufficient scope: the integration user lacks the Worker Data: Public Worker Reports domain", rawObject}},
	404: {{404, "Employee not found in tenant", rawObject}},
	408: {{504, "Gateway Timeout while calling the provider's workers endpoint", rawText}},
	409: {{409, "Duplicate candidate email address", rawJSONString}},
	422: {{422, "Candidate.email is invalid", rawObject}},
	429: {{429, "Rate limit exceeded: 100 requests per 10 seconds", rawJSONString}},
	500: {{500, "Internal Server Error: NullReferenceException in WorkerService", rawText}},
	502: {{503, "Service Unavailable: the tenant is in scheduled maintenance", rawOAuth}},
	503: {{503, "Service Unavailable: the tenant is in scheduled maintenance", rawJSONString}},
	504: {{504, "Gateway Timeout while calling the provider's workers endpoint", rawText}},
}

func rawJSONString(msg, secret string) any {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": msg, "code": "provider_error"}, "access_token": secret})
	return string(b)
}

func rawOAuth(msg, secret string) any {
	code, desc, ok := strings.Cut(msg, ": ")
	if !ok {
		code, desc = "server_error", msg
	}
	b, _ := json.Marshal(map[string]any{"error": code, "error_description": desc + " (retried https://auth.provider.example/oauth2/token?refresh_token=" + secret + ")"})
	return string(b)
}

func rawObject(msg, secret string) any {
	return map[string]any{"errors": []any{map[string]any{"message": msg, "field": "worker"}}, "apiKey": secret}
}

func rawText(msg, secret string) any {
	return msg + "; upstream said Authorization: Bearer " + secret + " was rejected"
}

// withDetail adds, to a failed request log, what only StackOne's detail endpoint holds: the provider's errors and
// a mapping error, and the request's id and query parameters. It is derived from the request id, so every read of
// the same log sees the same detail. Entries with a status below 400, or with provider errors already, are
// returned as they are.
func withDetail(out map[string]any) map[string]any {
	status, ok := lookup(out, "status")
	code, isInt := status.(int)
	if f, isFloat := status.(float64); isFloat {
		code, isInt = int(f), true
	}
	if !ok || !isInt || code < 400 {
		return out
	}
	id := lookupString(out, "request_id")
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	n := h.Sum32()
	failures := providerFailures[code]
	if failures == nil {
		failures = providerFailures[500]
	}
	f := failures[int(n)%len(failures)]
	secret := fmt.Sprintf("%s%08x", PlantedSecret, n)
	provider := lookupString(out, "provider")
	if provider == "" {
		provider = "provider"
	}
	host := provider + ".provider.example"
	resp, _ := out["response"].(map[string]any)
	if resp == nil {
		resp = map[string]any{"status_code": code}
	}
	if _, has := resp["provider_errors"]; has {
		return out
	}
	resp = cloneMap(resp)
	resp["provider_errors"] = []any{map[string]any{
		"status": f.status,
		"url":    "https://" + host + "/api/v1/workers?limit=100&client_secret=" + secret,
		"raw":    f.raw(f.message, secret),
		"headers": map[string]any{
			"content-type": "application/json",
			"set-cookie":   "session=" + secret + "; HttpOnly",
			"x-request-id": fmt.Sprintf("prv-%08x", n),
		},
	}}
	if code == 422 || code == 400 {
		resp["custom_mapping_errors"] = []any{map[string]any{"target_field": "employment_status", "message": "expression $.status returned no value"}}
	}
	out["response"] = resp
	req, _ := out["request"].(map[string]any)
	if req == nil {
		req = map[string]any{}
	}
	req = cloneMap(req)
	req["id"] = id
	if u, ok := req["url"].(map[string]any); ok {
		u = cloneMap(u)
		u["query_params"] = map[string]any{"page_size": "25", "api_key": secret}
		req["url"] = u
	}
	out["request"] = req
	return out
}

// WithDetail is a request log entry as the detail endpoint serves it: for a failed request, with the provider's
// errors, a mapping error and the request's query parameters, planted credentials included.
func WithDetail(entry map[string]any) map[string]any { return withDetail(cloneMap(entry)) }
