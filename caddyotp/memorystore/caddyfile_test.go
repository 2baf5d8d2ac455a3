package memorystore

import (
	"testing"

	"github.com/caddyotp/caddyotp/internal/testcaddy"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestCaddyfile_StoreMemory(t *testing.T) {
	cases := []struct {
		name  string
		input string
		want  MemoryStore
		err   string
	}{
		{name: "bare", input: `memory`},
		{name: "empty block", input: "memory {\n}"},
		{name: "max_entries", input: "memory {\n max_entries 50000\n}", want: MemoryStore{MaxEntries: 50000}},
		{name: "max_entries at its bounds", input: "memory {\n max_entries 1000\n}", want: MemoryStore{MaxEntries: 1000}},
		{name: "argument", input: `memory big`, err: "wrong argument count"},
		{name: "option", input: "memory {\n size 10\n}", err: "unrecognized subdirective 'size'"},
		{name: "max_entries without value", input: "memory {\n max_entries\n}", err: "wrong argument count"},
		{name: "max_entries with two values", input: "memory {\n max_entries 5000 6000\n}", err: "wrong argument count"},
		{name: "max_entries twice", input: "memory {\n max_entries 5000\n max_entries 6000\n}", err: "max_entries specified more than once"},
		{name: "max_entries not a number", input: "memory {\n max_entries 1M\n}", err: "max_entries must be a number from 1000 to 100000000, got '1M'"},
		{name: "max_entries too small", input: "memory {\n max_entries 999\n}", err: "max_entries must be a number from 1000 to 100000000, got '999'"},
		{name: "max_entries too large", input: "memory {\n max_entries 100000001\n}", err: "max_entries must be a number"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s MemoryStore
			err := s.UnmarshalCaddyfile(caddyfile.NewTestDispenser(c.input))
			testcaddy.CheckErr(t, err, c.err)
			if c.err == "" && s.MaxEntries != c.want.MaxEntries {
				t.Fatalf("expected max_entries %d, got %d", c.want.MaxEntries, s.MaxEntries)
			}
		})
	}
}
