package otpdashboard

import (
	"encoding/xml"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAxisMax(t *testing.T) {
	tests := []struct {
		max     float64
		integer bool
		want    float64
	}{
		{0, false, 1},
		{0, true, 2},
		{math.NaN(), false, 1},
		{0.0463, false, 0.05},
		{0.05, false, 0.05},
		{0.051, false, 0.1},
		{0.55, false, 1},
		{1, false, 1},
		{1.2, false, 2},
		{3.1, false, 5},
		{7, false, 10},
		{25, false, 50},
		{1, true, 2},
		{2, true, 2},
		{3, true, 4},
		{5, true, 10},
		{12, true, 20},
		{21, true, 40},
		{41, true, 100},
		{1000, true, 1000},
	}
	for _, tt := range tests {
		if got := axisMax(tt.max, tt.integer); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("axisMax(%v, %v): expected %v, got %v", tt.max, tt.integer, tt.want, got)
		}
	}
}

// TestBarsScale: a bar's height is its share of the axis top, the groups split the width
// evenly, and the series sit side by side in their group.
func TestBarsScale(t *testing.T) {
	c := barChart{Labels: []string{"a", "b", "c", "d"}, Series: []series{
		{Name: "Sent", Values: []float64{10, 5, 0, 2.5}},
		{Name: "Verified", Values: []float64{4, 0, 0, 10}},
	}}
	top := axisMax(c.maxValue(), true)
	if top != 10 {
		t.Fatalf("expected the axis top 10, got %v", top)
	}
	bars := c.bars(top)
	if len(bars) != 5 {
		t.Fatalf("expected 5 bars (no bar for a zero), got %d: %+v", len(bars), bars)
	}
	type key struct{ s, g int }
	got := map[key]bar{}
	for _, b := range bars {
		got[key{b.Series, b.Group}] = b
		if math.Abs(b.Y+b.H-plotBottom) > 1e-9 {
			t.Errorf("expected every bar to stand on the baseline, got %+v", b)
		}
		if math.Abs(b.W-100.0/4*groupFill/2) > 1e-9 {
			t.Errorf("expected every bar %v%% wide, got %+v", 100.0/4*groupFill/2, b)
		}
	}
	ph := float64(plotHeight)
	heights := map[key]float64{{0, 0}: ph, {0, 1}: ph / 2, {0, 3}: ph / 4, {1, 0}: ph * 0.4, {1, 3}: ph}
	for k, h := range heights {
		if math.Abs(got[k].H-h) > 1e-9 {
			t.Errorf("series %d group %d: expected height %v, got %+v", k.s, k.g, h, got[k])
		}
	}
	if b0, b1 := got[key{0, 0}], got[key{1, 0}]; math.Abs(b1.X-(b0.X+b0.W)) > 1e-9 {
		t.Errorf("expected the second series right of the first in its group, got %+v and %+v", b0, b1)
	}
	if b := got[key{0, 1}]; math.Abs(b.X-(25+25*(1-groupFill)/2)) > 1e-9 {
		t.Errorf("expected the second group to start at 25%% plus its padding, got %+v", b)
	}
}

// parseSVG checks that the chart is well-formed XML and returns its rects and texts.
func parseSVG(t *testing.T, svg string) (rects []map[string]string, texts []string) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(svg))
	inText := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("expected well-formed SVG, got %v in %.300s", err, svg)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if el.Name.Local == "rect" {
				attrs := map[string]string{}
				for _, a := range el.Attr {
					attrs[a.Name.Local] = a.Value
				}
				rects = append(rects, attrs)
			}
			inText = el.Name.Local == "text"
		case xml.CharData:
			if inText {
				texts = append(texts, string(el))
			}
		case xml.EndElement:
			inText = false
		}
	}
	return rects, texts
}

// TestChartZeroData: a range with nothing in it draws the axis, no bar, and says so.
func TestChartZeroData(t *testing.T) {
	labels := dates(30)
	c := barChart{ID: "z", Title: "Sent", Labels: labels, Integer: true,
		Series: []series{{Name: "Sent", Class: "s-sent", Values: make([]float64, 30)}, {Name: "Verified", Class: "s-verified", Values: make([]float64, 30)}}}
	svg := string(c.svg())
	rects, texts := parseSVG(t, svg)
	if len(rects) != 0 {
		t.Errorf("expected no bar, got %d", len(rects))
	}
	joined := strings.Join(texts, "|")
	for _, want := range []string{"Nothing in this range", labels[0], labels[29], "2", "1"} {
		if !strings.Contains(joined, want) {
			t.Errorf("expected the text %q in the chart, got %q", want, joined)
		}
	}
	if strings.Contains(svg, "NaN") || strings.Contains(svg, "Inf") {
		t.Errorf("expected no NaN or Inf in the chart, got %s", svg)
	}
	if !strings.Contains(svg, `<desc id="z-desc">`+labels[0]+" to "+labels[29]+". Nothing in this range.</desc>") {
		t.Errorf("expected the description to say the range is empty, got %s", svg)
	}
}

// TestChartRendersAsSVG: the chart names itself for assistive technology, draws one rect
// per value above zero with the series' class and a tooltip, and escapes every text.
func TestChartRendersAsSVG(t *testing.T) {
	c := barChart{ID: "c1", Title: `Spend <"login">`, Labels: []string{"2026-12-01", "2026-12-02", "2026-12-03"}, Format: usd,
		Series: []series{{Name: "Estimated", Class: "s-estimated", Values: []float64{0.0463, 0, 0.0926}},
			{Name: "Billed", Class: "s-billed", Values: []float64{0.04, 0, 0}}}}
	svg := string(c.svg())
	if !strings.HasPrefix(svg, `<svg class="chart" width="100%" height="190" role="img" aria-labelledby="c1-title c1-desc">`) {
		t.Errorf("expected the svg to be an img named by its title and desc, got %.200s", svg)
	}
	if !strings.Contains(svg, `<title id="c1-title">Spend &lt;&#34;login&#34;&gt;</title>`) {
		t.Errorf("expected the title escaped, got %s", svg)
	}
	rects, texts := parseSVG(t, svg)
	if len(rects) != 3 {
		t.Fatalf("expected 3 bars, got %d", len(rects))
	}
	classes := map[string]int{}
	for _, r := range rects {
		classes[r["class"]]++
		h, err := strconv.ParseFloat(r["height"], 64)
		if err != nil || h <= 0 || h > plotHeight {
			t.Errorf("expected a height in (0, %d], got %q", plotHeight, r["height"])
		}
		if !strings.HasSuffix(r["x"], "%") || !strings.HasSuffix(r["width"], "%") {
			t.Errorf("expected x and width in percent, got %v", r)
		}
	}
	if classes["s-estimated"] != 2 || classes["s-billed"] != 1 {
		t.Errorf("expected 2 estimated and 1 billed bar, got %v", classes)
	}
	if !strings.Contains(svg, "<title>2026-12-03: $0.0926 estimated</title>") {
		t.Errorf("expected a tooltip per bar, got %s", svg)
	}
	if got := strings.Join(texts, "|"); !strings.Contains(got, "$0.10") || !strings.Contains(got, "$0.05") {
		t.Errorf("expected the axis at $0.10 and $0.05, got %q", got)
	}
	if !strings.Contains(svg, "Estimated: $0.1389 in all, most on 2026-12-03 ($0.0926).") {
		t.Errorf("expected the description to sum each series, got %s", svg)
	}
	if strings.Contains(svg, "style=") {
		t.Errorf("expected no style attribute (the CSP allows none), got %s", svg)
	}
}

// TestChartLarge: 400 days of two series render, every bar inside the chart.
func TestChartLarge(t *testing.T) {
	labels := dates(400)
	a, b := make([]float64, 400), make([]float64, 400)
	for i := range a {
		a[i], b[i] = float64(i%37+1), float64(i%11+1)
	}
	c := barChart{ID: "big", Title: "Sent", Labels: labels, Integer: true,
		Series: []series{{Name: "Sent", Class: "s-sent", Values: a}, {Name: "Verified", Class: "s-verified", Values: b}}}
	rects, _ := parseSVG(t, string(c.svg()))
	if len(rects) != 800 {
		t.Fatalf("expected 800 bars, got %d", len(rects))
	}
	for _, r := range rects {
		x, _ := strconv.ParseFloat(strings.TrimSuffix(r["x"], "%"), 64)
		w, _ := strconv.ParseFloat(strings.TrimSuffix(r["width"], "%"), 64)
		if x < 0 || w <= 0 || x+w > 100.0001 {
			t.Fatalf("expected every bar within 0..100%%, got x=%v w=%v", x, w)
		}
	}
}

// dates are n consecutive dates ending 2026-12-31.
func dates(n int) []string {
	end := time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
	out := make([]string, n)
	for i := range out {
		out[i] = end.AddDate(0, 0, i-n+1).Format("2006-01-02")
	}
	return out
}
