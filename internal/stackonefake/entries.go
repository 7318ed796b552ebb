package stackonefake

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// lookup reads a field by its snake_case name, falling back to the camelCase
// spelling so entries planted in either casing filter and sort alike.
func lookup(m map[string]any, snake string) (any, bool) {
	if v, ok := m[snake]; ok {
		return v, true
	}
	v, ok := m[toCamel(snake)]
	return v, ok
}

func lookupString(m map[string]any, snake string) string {
	v, ok := lookup(m, snake)
	if !ok || v == nil {
		return ""
	}
	return valueString(v)
}

// lookupTime returns the first of the named fields that parses as a time.
func lookupTime(m map[string]any, fields ...string) (time.Time, bool) {
	for _, f := range fields {
		v, ok := lookup(m, f)
		if !ok {
			continue
		}
		str, ok := v.(string)
		if !ok {
			continue
		}
		if t, err := time.Parse(time.RFC3339Nano, str); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func valueString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32)
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	default:
		return fmt.Sprint(x)
	}
}

func valueNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	default:
		return 0, false
	}
}

func isSnake(k string) bool {
	if !strings.Contains(k, "_") || strings.HasPrefix(k, "_") || strings.HasSuffix(k, "_") || strings.Contains(k, "__") {
		return false
	}
	for _, c := range k {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

func toCamel(k string) string {
	if !isSnake(k) {
		return k
	}
	parts := strings.Split(k, "_")
	var b strings.Builder
	b.WriteString(parts[0])
	for _, p := range parts[1:] {
		b.WriteString(strings.ToUpper(p[:1]))
		b.WriteString(p[1:])
	}
	return b.String()
}

// opaqueKeys hold header names, query parameters or bodies: their keys are
// data, not schema, so renaming them would falsify what the client sees.
var opaqueKeys = map[string]bool{"headers": true, "query_params": true, "queryParams": true, "body": true, "raw": true}

func camelize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if x == nil {
			return x
		}
		out := make(map[string]any, len(x))
		for k, val := range x {
			if opaqueKeys[k] {
				out[toCamel(k)] = val
				continue
			}
			out[toCamel(k)] = camelize(val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = camelize(e)
		}
		return out
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = camelize(e)
		}
		return out
	default:
		return v
	}
}

// deepClone copies the JSON-shaped containers so callers may keep mutating
// what they passed in (or got back) without racing the server.
func deepClone(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return cloneMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepClone(e)
		}
		return out
	case []map[string]any:
		out := make([]map[string]any, len(x))
		for i, e := range x {
			out[i] = cloneMap(e)
		}
		return out
	case map[string]string:
		out := make(map[string]string, len(x))
		for k, e := range x {
			out[k] = e
		}
		return out
	case []string:
		return append([]string(nil), x...)
	default:
		return v
	}
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = deepClone(v)
	}
	return out
}
