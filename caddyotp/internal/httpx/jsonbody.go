package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DecodeStrict decodes raw, which must be exactly one JSON object, into v (a pointer to a
// struct of string fields). Each failure says what was wrong: not an object, a duplicate or
// unknown key, a value of the wrong type, or data after the object.
func DecodeStrict(raw []byte, v any) error {
	if !utf8.Valid(raw) {
		return errors.New("the body is not valid UTF-8")
	}
	if err := checkTopLevelKeys(raw); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			return fmt.Errorf("%s must be a %s", te.Field, te.Type)
		case errors.As(err, &se):
			return fmt.Errorf("the body is not valid JSON (at byte %d)", se.Offset)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return fmt.Errorf("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
		case errors.Is(err, io.EOF):
			return errors.New("the body is empty")
		default:
			return errors.New("the body is not valid JSON")
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("the body has data after the JSON object")
	}
	return nil
}

// checkTopLevelKeys makes sure raw is an object and none of its keys repeats: encoding/json
// would keep the last one, and two parsers in a chain may disagree about which one counts.
func checkTopLevelKeys(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("the body is empty")
		}
		return errors.New("the body is not valid JSON")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("the body must be a JSON object")
	}
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return errors.New("the body is not valid JSON")
		}
		name, _ := tok.(string)
		key := foldKey(name)
		if seen[key] {
			return fmt.Errorf("the key %q appears twice", name)
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return errors.New("the body is not valid JSON")
		}
	}
	return nil
}

// foldKey folds a key as encoding/json does when it matches a key to a field: without
// regard to case, Unicode simple folds included, so "ſender_id" (U+017F) and "sender_id"
// are the same key to it, and so to us.
func foldKey(s string) string {
	return strings.Map(func(r rune) rune {
		for {
			next := unicode.SimpleFold(r)
			if next <= r {
				return next
			}
			r = next
		}
	}, s)
}
