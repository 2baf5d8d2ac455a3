package otpgate

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/text/language"
)

// The pages' texts: one catalogue per language in texts/<lang>.json, keys → fmt formats.
// Every catalogue has every key of en.json with the same verbs (TestCatalogues).

// Languages are the pages' languages, English first: it is the fallback.
var Languages = []string{"en", "de", "fr", "es", "pt", "it", "nl"}

//go:embed texts/*.json
var textFiles embed.FS

// catalogue is one language's texts.
type catalogue struct {
	lang  string
	texts map[string]string
}

var (
	catalogues = loadCatalogues()
	matcher    = language.NewMatcher(func() []language.Tag {
		tags := make([]language.Tag, len(Languages))
		for i, l := range Languages {
			tags[i] = language.MustParse(l)
		}
		return tags
	}())
)

func loadCatalogues() map[string]*catalogue {
	out := make(map[string]*catalogue, len(Languages))
	for _, l := range Languages {
		b, err := textFiles.ReadFile("texts/" + l + ".json")
		if err != nil {
			panic(err)
		}
		c := &catalogue{lang: l}
		if err := json.Unmarshal(b, &c.texts); err != nil {
			panic(fmt.Sprintf("texts/%s.json: %v", l, err))
		}
		out[l] = c
	}
	return out
}

// t formats the text key; a key missing from a catalogue is a bug the tests catch, shown
// as the key.
func (c *catalogue) t(key string, args ...any) string {
	f, ok := c.texts[key]
	if !ok {
		return key
	}
	if len(args) == 0 {
		return f
	}
	return fmt.Sprintf(f, args...)
}

// duration says d in whole days, hours or minutes, the largest unit that divides it.
func (c *catalogue) duration(d time.Duration) string {
	n, unit := int(d/time.Minute), "minutes"
	switch {
	case d%(24*time.Hour) == 0:
		n, unit = int(d/(24*time.Hour)), "days"
	case d%time.Hour == 0:
		n, unit = int(d/time.Hour), "hours"
	}
	if n == 1 {
		return c.t(unit + "_one")
	}
	return c.t(unit+"_many", n)
}

// isLanguage reports whether lang is one of Languages.
func isLanguage(lang string) bool {
	_, ok := catalogues[lang]
	return ok
}

// pageLanguage is the catalogue for r: the gate's forced `lang`, else the best match for
// Accept-Language, else English.
func (g *Gate) pageLanguage(r *http.Request) *catalogue {
	if g.Lang != "" {
		return catalogues[g.Lang]
	}
	tags, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	if err != nil || len(tags) == 0 {
		return catalogues["en"]
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return catalogues["en"]
	}
	return catalogues[Languages[i]]
}
