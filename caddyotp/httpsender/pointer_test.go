package httpsender

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestParsePointer(t *testing.T) {
	good := []struct {
		in   string
		want pointer
	}{
		{"", pointer{}},
		{"/", pointer{""}},
		{"/id", pointer{"id"}},
		{"/data/message/id", pointer{"data", "message", "id"}},
		{"/messages/0/sid", pointer{"messages", "0", "sid"}},
		{"/a~1b", pointer{"a/b"}},
		{"/m~0n", pointer{"m~n"}},
		{"/~01", pointer{"~1"}}, // ~1 is unescaped first: "~01" is "~1", not "~/"
		{"/~10", pointer{"/0"}},
		{"//x", pointer{"", "x"}},
	}
	for _, tt := range good {
		got, err := parsePointer(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: expected %q, got %q (%v)", tt.in, tt.want, got, err)
		}
	}
	for _, in := range []string{"id", "data/id", "#/id", " /id", "/a~", "/a~2", "/~a", "/a/~"} {
		if _, err := parsePointer(in); err == nil {
			t.Errorf("%q: expected an error, got none", in)
		}
	}
}

// rfcDocument is the example document of RFC 6901, section 5.
const rfcDocument = `{
	"foo": ["bar", "baz"],
	"": 0,
	"a/b": 1,
	"c%d": 2,
	"e^f": 3,
	"g|h": 4,
	"i\\j": 5,
	"k\"l": 6,
	" ": 7,
	"m~n": 8
}`

func TestPointerResolveRFCExamples(t *testing.T) {
	var doc any
	if err := json.Unmarshal([]byte(rfcDocument), &doc); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		pointer string
		want    any
	}{
		{"/foo", []any{"bar", "baz"}},
		{"/foo/0", "bar"},
		{"/", 0.0},
		{"/a~1b", 1.0},
		{"/c%d", 2.0},
		{"/e^f", 3.0},
		{"/g|h", 4.0},
		{"/i\\j", 5.0},
		{"/k\"l", 6.0},
		{"/ ", 7.0},
		{"/m~0n", 8.0},
	}
	for _, tt := range tests {
		p, err := parsePointer(tt.pointer)
		if err != nil {
			t.Fatalf("%q: %v", tt.pointer, err)
		}
		got, found := p.resolve(doc)
		if !found || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: expected %v, got %v (found %v)", tt.pointer, tt.want, got, found)
		}
	}
	whole, found := pointer{}.resolve(doc)
	if !found || !reflect.DeepEqual(whole, doc) {
		t.Errorf("the empty pointer: expected the whole document, got %v", whole)
	}
}

func TestPointerResolve(t *testing.T) {
	var doc any
	raw := `{"data": {"message": {"id": "m-1"}}, "messages": [{"sid": "SM1"}, {"sid": "SM2"}], "n": null, "s": "text", "10": "ten"}`
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		pointer string
		want    any
		found   bool
	}{
		{"/data/message/id", "m-1", true},
		{"/messages/0/sid", "SM1", true},
		{"/messages/1/sid", "SM2", true},
		{"/n", nil, true},
		{"/10", "ten", true}, // a digit key of an object is a key
		{"/messages/2/sid", nil, false},
		{"/messages/-", nil, false},
		{"/messages/01", nil, false},
		{"/messages/+1", nil, false},
		{"/messages/1e0", nil, false},
		{"/messages/", nil, false},
		{"/messages/99999999999999999999999", nil, false},
		{"/data/missing", nil, false},
		{"/s/0", nil, false},
		{"/n/x", nil, false},
		{"/data/message/id/x", nil, false},
	}
	for _, tt := range tests {
		p, err := parsePointer(tt.pointer)
		if err != nil {
			t.Fatalf("%q: %v", tt.pointer, err)
		}
		got, found := p.resolve(doc)
		if found != tt.found || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: expected %v (found %v), got %v (found %v)", tt.pointer, tt.want, tt.found, got, found)
		}
	}
}
