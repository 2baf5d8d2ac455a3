package httpx

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// jsonFold is how encoding/json matches a key to a field: ASCII letters without regard to
// case, and every other rune by its smallest Unicode simple fold ('ſ' is 's', 'K' is 'k').
func jsonFold(s string) string {
	var b strings.Builder
	for _, r := range s {
		for {
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				r = r2
				break
			}
			r = r2
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

func TestDecodeStrict(t *testing.T) {
	tests := []struct {
		body, want string // want: "" for accepted, else a part of the error
	}{
		{`{"mobile":"+447400123456","sender_id":"ACME"}`, ""},
		{` {"mobile":"+447400123456"} `, ""},
		{`{}`, ""},
		{``, "empty"},
		{`[]`, "must be a JSON object"},
		{`{"mobile":"a","mobile":"b"}`, "appears twice"},
		{`{"mobile":"a","MOBILE":"b"}`, "appears twice"},
		{`{"mobile":"a","mob\u0069le":"b"}`, "appears twice"},
		{`{"sender_id":"A","ſender_id":"B"}`, "appears twice"}, // U+017F folds to s in encoding/json
		{`{"mobile":"a","colour":"b"}`, "unknown field"},
		{`{"mobile":5}`, "must be a string"},
		{`{"mobile":"a"}{}`, "data after"},
		{`{"mobile":"a"`, "not valid JSON"},
		{"{\"mobile\":\"\xff\"}", "UTF-8"},
	}
	for _, tt := range tests {
		var v sendBody
		err := DecodeStrict([]byte(tt.body), &v)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: expected it to be accepted, got %v", tt.body, err)
		case tt.want != "" && err == nil:
			t.Errorf("%s: expected an error containing %q, got none (%+v)", tt.body, tt.want, v)
		case tt.want != "" && !strings.Contains(err.Error(), tt.want):
			t.Errorf("%s: expected an error containing %q, got %q", tt.body, tt.want, err.Error())
		}
	}
}

// FuzzDecodeStrict: DecodeStrict never panics, and when it accepts a body, the body is one
// JSON object whose keys are all known fields, none twice (as encoding/json matches them),
// every value a string, and the decoded struct holds exactly those values and re-encodes.
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{
		`{"mobile":"+447400123456","otp":"123456"}`,
		`{"mobile":"+447400123456","sender_id":"ACME","origination_number":"+447400100200"}`,
		`{"mobile":"a","MOBILE":"b"}`, `{"sender_id":"A","ſender_id":"B"}`, `{"otp":"1","oTp":null}`,
		`{"mobile":"\u002b44"}`, `{"mobile":"\ud800"}`, `{"mobile":1}`, `{"mobile":["a"]}`,
		`{"mobile":{"a":"b"}}`, `{"mobile":"a"} x`, `{"mobile":"a"}{"otp":"1"}`, `[]`, `null`, `""`,
		`{`, ``, `{"mobile":"a",}`, "{\"mobile\":\"\xff\"}", `{"Mobile":"K"}`, `{"mobile":null}`,
		`{"__proto__":"x"}`, `{"mobile":"a" , "otp" : "1" }`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, raw []byte, verify bool) {
		if len(raw) > MaxBodyBytes {
			return
		}
		var v any = &sendBody{}
		if verify {
			v = &verifyBody{}
		}
		if err := DecodeStrict(raw, v); err != nil {
			if err.Error() == "" {
				t.Fatal("an empty error message")
			}
			return
		}
		if !utf8.Valid(raw) || !json.Valid(raw) {
			t.Fatalf("accepted %q, which is not valid UTF-8 JSON", raw)
		}
		// The fields of v by their JSON names.
		fields := map[string]string{}
		rv := reflect.ValueOf(v).Elem()
		for i := 0; i < rv.NumField(); i++ {
			name, _, _ := strings.Cut(rv.Type().Field(i).Tag.Get("json"), ",")
			fields[jsonFold(name)] = rv.Field(i).String()
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			t.Fatalf("accepted %q, which is not an object", raw)
		}
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				t.Fatalf("accepted %q: %v", raw, err)
			}
			key := jsonFold(tok.(string))
			if seen[key] {
				t.Fatalf("accepted %q, where the key %q appears twice", raw, tok)
			}
			seen[key] = true
			want, known := fields[key]
			if !known {
				t.Fatalf("accepted %q with the unknown key %q", raw, tok)
			}
			val, err := dec.Token()
			if err != nil {
				t.Fatalf("accepted %q: %v", raw, err)
			}
			switch val := val.(type) {
			case string:
				if val != want {
					t.Fatalf("accepted %q: %q is %q in the body but %q decoded", raw, tok, val, want)
				}
			case nil: // null leaves the field as it was: empty
				if want != "" {
					t.Fatalf("accepted %q: %q is null but %q decoded", raw, tok, want)
				}
			default:
				t.Fatalf("accepted %q with %q a %T", raw, tok, val)
			}
		}
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("accepted %q but its result does not encode: %v", raw, err)
		}
		again := reflect.New(rv.Type()).Interface()
		if err := DecodeStrict(out, again); err != nil || !reflect.DeepEqual(again, v) {
			t.Fatalf("accepted %q as %+v; re-encoded as %s it gives %+v, %v", raw, v, out, again, err)
		}
	})
}

// sendBody and verifyBody have the shapes of the API's bodies.
type sendBody struct {
	Mobile            string `json:"mobile"`
	SenderID          string `json:"sender_id"`
	OriginationNumber string `json:"origination_number"`
}

type verifyBody struct {
	Mobile string `json:"mobile"`
	OTP    string `json:"otp"`
}
