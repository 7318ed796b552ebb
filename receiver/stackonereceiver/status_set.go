package stackonereceiver

import (
	"fmt"
	"strconv"
	"strings"
)

// statusSet is a set of HTTP statuses written as codes (502), classes (4xx) or ranges (500-599).
type statusSet [][2]int64

func parseStatusSet(items []string) (statusSet, error) {
	if len(items) == 0 {
		return nil, fmt.Errorf("no status given: list codes (502), classes (4xx, 5xx) or ranges (500-599)")
	}
	set := make(statusSet, 0, len(items))
	for _, item := range items {
		v := strings.ToLower(strings.TrimSpace(item))
		var lo, hi int64
		var err error
		switch {
		case len(v) == 3 && v[0] >= '1' && v[0] <= '5' && v[1:] == "xx":
			lo = int64(v[0]-'0') * 100
			hi = lo + 99
		case strings.Contains(v, "-"):
			a, b, _ := strings.Cut(v, "-")
			if lo, err = strconv.ParseInt(strings.TrimSpace(a), 10, 64); err == nil {
				hi, err = strconv.ParseInt(strings.TrimSpace(b), 10, 64)
			}
		default:
			lo, err = strconv.ParseInt(v, 10, 64)
			hi = lo
		}
		if err != nil || lo < 100 || hi > 599 || lo > hi {
			return nil, fmt.Errorf("%q is not a status, class or range: use codes from 100 to 599 (502), classes (4xx, 5xx) or ranges (500-599)", item)
		}
		set = append(set, [2]int64{lo, hi})
	}
	return set, nil
}

func (s statusSet) has(status int64) bool {
	for _, r := range s {
		if status >= r[0] && status <= r[1] {
			return true
		}
	}
	return false
}
