package stackonereceiver

import (
	"strconv"
	"strings"
)

// partsID is the id of an entry that has none of its schema's id keys, from the fields that identify it together
// (schema.idParts, then the idQualifiers present): "action_run_id=run_1;step_index=2". Each value is written as
// the number it holds when it holds one, so 2 and "2" make one id. false when a part is missing.
func (sc *scratch) partsID(s *schema) (string, bool) {
	if len(s.idPartSlots) == 0 {
		return "", false
	}
	var b strings.Builder
	write := func(i int) bool {
		v, ok := sc.idValue(sc.slots[i])
		if !ok {
			return false
		}
		if b.Len() > 0 {
			b.WriteByte(';')
		}
		b.WriteString(s.fields[i].name)
		b.WriteByte('=')
		b.WriteString(v)
		return true
	}
	for _, i := range s.idPartSlots {
		if !write(i) {
			return "", false
		}
	}
	for _, i := range s.idQualifierSlots {
		write(i)
	}
	return b.String(), true
}

func (sc *scratch) idValue(sp span) (string, bool) {
	if n, ok := sc.intOf(sp); ok {
		return strconv.FormatInt(n, 10), true
	}
	v, ok := sc.str(sp)
	return v, ok && v != ""
}

// stepBody names a step of an action run by its function and its place in the run: "hris_list_employees step 2",
// or either half alone when the other is missing.
func (sc *scratch) stepBody(s *schema) string {
	var name, index string
	if i, ok := s.byName.lookup([]byte("step_function_name")); ok {
		name, _ = sc.str(sc.slots[i])
	}
	// Only an index that is exported (an integer) is named: the body says nothing the attributes do not.
	if i, ok := s.byName.lookup([]byte("step_index")); ok {
		if n, ok := sc.intOf(sc.slots[i]); ok {
			index = "step " + strconv.FormatInt(n, 10)
		}
	}
	return joinWords(name, index)
}
