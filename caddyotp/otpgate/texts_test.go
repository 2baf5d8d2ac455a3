package otpgate

import (
	"net/http/httptest"
	"regexp"
	"slices"
	"testing"
	"time"
)

// verbs finds fmt verbs, with an explicit argument index when there is one.
var verbs = regexp.MustCompile(`%(\[\d+\])?[a-z%]`)

// TestCatalogues: every language has every English key, no other, and the same verbs for
// the same arguments, so no page shows a key or a %!d(MISSING).
func TestCatalogues(t *testing.T) {
	en := catalogues["en"].texts
	for _, l := range Languages {
		c := catalogues[l]
		if c == nil {
			t.Fatalf("%s: no catalogue", l)
		}
		for k, f := range en {
			got, ok := c.texts[k]
			if !ok {
				t.Errorf("%s: key %q is missing", l, k)
				continue
			}
			want := normalizeVerbs(verbs.FindAllString(f, -1))
			if have := normalizeVerbs(verbs.FindAllString(got, -1)); !slices.Equal(want, have) {
				t.Errorf("%s: %q has verbs %v, English %v", l, k, have, want)
			}
			if got == "" {
				t.Errorf("%s: %q is empty", l, k)
			}
		}
		for k := range c.texts {
			if _, ok := en[k]; !ok {
				t.Errorf("%s: key %q is not in English", l, k)
			}
		}
	}
}

// normalizeVerbs sorts verbs by argument: "%[2]s %[1]d" and "%d %s" say the same.
func normalizeVerbs(vs []string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		idx := i + 1
		if m := regexp.MustCompile(`\[(\d+)\]`).FindStringSubmatch(v); m != nil {
			idx = int(m[1][0] - '0')
			v = "%" + v[len(v)-1:]
		}
		out[i] = string(rune('0'+idx)) + v
	}
	slices.Sort(out)
	return out
}

func TestPageLanguage(t *testing.T) {
	g := &Gate{}
	for header, want := range map[string]string{
		"":                          "en",
		"fr":                        "fr",
		"fr-CA,fr;q=0.9,en;q=0.8":   "fr",
		"de-AT":                     "de",
		"pt-BR":                     "pt",
		"nl-BE, en;q=0.5":           "nl",
		"ja, it;q=0.3":              "it",
		"ja":                        "en",
		"en-GB,de;q=0.9":            "en",
		"*":                         "en",
		"not a ;; language header!": "en",
		"es-419":                    "es",
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Language", header)
		if got := g.pageLanguage(r).lang; got != want {
			t.Errorf("Accept-Language %q: expected %s, got %s", header, want, got)
		}
	}
	g.Lang = "de"
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Accept-Language", "fr")
	if got := g.pageLanguage(r).lang; got != "de" {
		t.Errorf("lang de: expected de whatever the browser asks, got %s", got)
	}
}

func TestDurationTexts(t *testing.T) {
	en, fr := catalogues["en"], catalogues["fr"]
	for d, want := range map[time.Duration]string{
		30 * 24 * time.Hour: "30 days",
		24 * time.Hour:      "1 day",
		12 * time.Hour:      "12 hours",
		time.Hour:           "1 hour",
		90 * time.Minute:    "90 minutes",
	} {
		if got := en.duration(d); got != want {
			t.Errorf("%s: expected %q, got %q", d, want, got)
		}
	}
	if got := fr.t("remember", fr.duration(30*24*time.Hour)); got == en.t("remember", "30 days") || got == "" {
		t.Errorf("expected a French remember label, got %q", got)
	}
}
