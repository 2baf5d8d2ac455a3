package httpsender

import (
	"errors"
	"strconv"
	"strings"
)

// pointer is a parsed JSON pointer (RFC 6901): its reference tokens, unescaped. The empty
// pointer is the whole document.
type pointer []string

// parsePointer reads s, which must be empty or start with "/", and in whose tokens "~" is
// only ever followed by "0" (a "~") or "1" (a "/").
func parsePointer(s string) (pointer, error) {
	if s == "" {
		return pointer{}, nil
	}
	if s[0] != '/' {
		return nil, errors.New("a JSON pointer is empty or starts with /")
	}
	tokens := strings.Split(s[1:], "/")
	for i, tok := range tokens {
		for j := 0; j < len(tok); j++ {
			if tok[j] == '~' && (j+1 == len(tok) || (tok[j+1] != '0' && tok[j+1] != '1')) {
				return nil, errors.New("a ~ in a JSON pointer must be followed by 0 or 1")
			}
		}
		// ~1 first, so that "~01" is "~1" and not "/" (RFC 6901, section 4).
		tokens[i] = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
	}
	return tokens, nil
}

// resolve finds the value p points at in doc (a document decoded into any: maps, slices,
// json.Number, strings, bools, nil); found is false when there is none.
func (p pointer) resolve(doc any) (value any, found bool) {
	value = doc
	for _, tok := range p {
		switch v := value.(type) {
		case map[string]any:
			if value, found = v[tok]; !found {
				return nil, false
			}
		case []any:
			i, ok := arrayIndex(tok)
			if !ok || i >= len(v) {
				return nil, false
			}
			value = v[i]
		default:
			return nil, false
		}
	}
	return value, true
}

// arrayIndex reads an array index token: "0" or digits without a leading zero. "-" (the
// element after the last) names nothing in a document being read.
func arrayIndex(tok string) (int, bool) {
	if tok == "" || (len(tok) > 1 && tok[0] == '0') {
		return 0, false
	}
	for _, c := range []byte(tok) {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	i, err := strconv.Atoi(tok)
	return i, err == nil
}
