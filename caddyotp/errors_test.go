package caddyotp

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestAPIDocsListEveryCode: docs/api.md, the users' reference for the API, lists every
// error code with the status errorStatus gives it, so neither can change without the other.
func TestAPIDocsListEveryCode(t *testing.T) {
	doc, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	for code, status := range errorStatus {
		row := fmt.Sprintf("| `%s` | %d |", code, status)
		if !strings.Contains(string(doc), row) {
			t.Errorf("expected docs/api.md to have the row %q", row)
		}
	}
}
