package otpdashboard

import (
	"html/template"
	"math"
	"strconv"
	"strings"
)

// barChart is a grouped bar chart drawn as inline SVG on the server: one group of bars per
// label (a day), one bar per series in each group. It has no script and no style
// attribute, so the page's CSP needs nothing for it; the bars take their colours from the
// page's stylesheet through their series' class.
type barChart struct {
	ID      string   // unique in the page: the prefix of the chart's element ids
	Title   string   // the chart's accessible name
	Labels  []string // one per group, oldest first (dates)
	Series  []series // at least one, each with one value per label
	Integer bool     // the values are counts: the axis steps are whole numbers
	Format  func(float64) string
}

// series is one kind of bar in a chart.
type series struct {
	Name   string
	Class  string // the CSS class that colours its bars
	Values []float64
}

// The chart's geometry. Horizontal positions are percentages of the chart's width, so the
// SVG fills any width without scaling its text; vertical ones are pixels.
const (
	chartHeight = 190
	plotTop     = 22  // room for the top gridline's label
	plotBottom  = 160 // the baseline; below it the date labels
	plotHeight  = plotBottom - plotTop
	groupFill   = 0.8 // the share of a group's width its bars take
)

// axisMax is the top of the value axis: a round number at or above max, 1, 2 or 5 times a
// power of ten (for counts 1, 2 or 4 times one and at least 2, so that the half-way line
// is a whole number). With nothing to draw it is 1 (counts: 2): an empty chart keeps its
// axis.
func axisMax(max float64, integer bool) float64 {
	steps := []float64{1, 2, 5, 10}
	if integer {
		steps = []float64{1, 2, 4, 10}
		if max <= 2 {
			return 2
		}
	}
	if max <= 0 || math.IsNaN(max) || math.IsInf(max, 0) {
		return steps[0]
	}
	p := math.Pow(10, math.Floor(math.Log10(max)))
	for _, s := range steps {
		if s*p >= max*(1-1e-12) {
			return s * p
		}
	}
	return 10 * p
}

// maxValue is the largest value of any series, over the labelled groups.
func (c barChart) maxValue() float64 {
	m := 0.0
	for _, s := range c.Series {
		for gi := 0; gi < len(c.Labels) && gi < len(s.Values); gi++ {
			if s.Values[gi] > m {
				m = s.Values[gi]
			}
		}
	}
	return m
}

// bar is one drawn bar: x and width in percent of the chart's width, y and height in px.
type bar struct {
	X, W, Y, H float64
	Series     int
	Group      int
}

// bars lays the chart out: a bar for every value above zero, scaled to top.
func (c barChart) bars(top float64) []bar {
	n := len(c.Labels)
	if n == 0 || len(c.Series) == 0 {
		return nil
	}
	group := 100 / float64(n)
	w := group * groupFill / float64(len(c.Series))
	pad := group * (1 - groupFill) / 2
	var out []bar
	for si, s := range c.Series {
		for gi := 0; gi < n && gi < len(s.Values); gi++ {
			v := s.Values[gi]
			if !(v > 0) {
				continue
			}
			h := math.Min(v/top, 1) * plotHeight
			out = append(out, bar{X: float64(gi)*group + pad + float64(si)*w, W: w, Y: plotBottom - h, H: h, Series: si, Group: gi})
		}
	}
	return out
}

// svg draws the chart. Every text in it is escaped.
func (c barChart) svg() template.HTML {
	format := c.Format
	if format == nil {
		format = func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	}
	max := c.maxValue()
	top := axisMax(max, c.Integer)
	var b strings.Builder
	b.Grow(512 + 160*len(c.Labels)*len(c.Series))
	esc := template.HTMLEscapeString
	id := esc(c.ID)
	b.WriteString(`<svg class="chart" width="100%" height="` + strconv.Itoa(chartHeight) + `" role="img" aria-labelledby="` +
		id + `-title ` + id + `-desc">`)
	b.WriteString(`<title id="` + id + `-title">` + esc(c.Title) + `</title>`)
	b.WriteString(`<desc id="` + id + `-desc">` + esc(c.describe(max, format)) + `</desc>`)

	// Gridlines at the top, half way and the baseline; the labels sit just above theirs.
	for _, f := range []float64{1, 0.5} {
		y := fmtNum(plotBottom - f*plotHeight)
		b.WriteString(`<line class="grid" x1="0" x2="100%" y1="` + y + `" y2="` + y + `"/>`)
		b.WriteString(`<text class="axis" x="0" y="` + fmtNum(plotBottom-f*plotHeight-4) + `">` + esc(format(top*f)) + `</text>`)
	}
	for i, bar := range c.bars(top) {
		if i == 0 {
			b.WriteString(`<g class="bars">`)
		}
		s := c.Series[bar.Series]
		b.WriteString(`<rect class="` + esc(s.Class) + `" x="` + fmtNum(bar.X) + `%" width="` + fmtNum(bar.W) + `%" y="` +
			fmtNum(bar.Y) + `" height="` + fmtNum(bar.H) + `"><title>` + esc(c.Labels[bar.Group]) + `: ` +
			esc(format(s.Values[bar.Group])) + ` ` + esc(strings.ToLower(s.Name)) + `</title></rect>`)
	}
	if max > 0 {
		b.WriteString(`</g>`)
	} else {
		b.WriteString(`<text class="empty" x="50%" y="` + fmtNum(plotBottom-plotHeight/4+4) + `" text-anchor="middle">Nothing in this range</text>`)
	}
	base := fmtNum(plotBottom)
	b.WriteString(`<line class="base" x1="0" x2="100%" y1="` + base + `" y2="` + base + `"/>`)

	// The first, middle and last dates under the baseline.
	if n := len(c.Labels); n > 0 {
		y := strconv.Itoa(plotBottom + 18)
		b.WriteString(`<text class="axis" x="0" y="` + y + `">` + esc(c.Labels[0]) + `</text>`)
		if n > 2 {
			mid := n / 2
			x := fmtNum((float64(mid) + 0.5) * 100 / float64(n))
			b.WriteString(`<text class="axis" x="` + x + `%" y="` + y + `" text-anchor="middle">` + esc(c.Labels[mid]) + `</text>`)
		}
		if n > 1 {
			b.WriteString(`<text class="axis" x="100%" y="` + y + `" text-anchor="end">` + esc(c.Labels[n-1]) + `</text>`)
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// describe is the chart's text alternative in a sentence: the range, each series' total
// and its busiest day. The table beside the chart has every number.
func (c barChart) describe(max float64, format func(float64) string) string {
	if len(c.Labels) == 0 {
		return "No days."
	}
	var b strings.Builder
	b.WriteString(c.Labels[0] + " to " + c.Labels[len(c.Labels)-1] + ". ")
	if !(max > 0) {
		b.WriteString("Nothing in this range.")
		return b.String()
	}
	for i, s := range c.Series {
		total, best := 0.0, 0
		for j := 0; j < len(c.Labels) && j < len(s.Values); j++ {
			total += s.Values[j]
			if s.Values[j] > s.Values[best] {
				best = j
			}
		}
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(s.Name + ": " + format(total) + " in all")
		if total > 0 {
			b.WriteString(", most on " + c.Labels[best] + " (" + format(s.Values[best]) + ")")
		}
		b.WriteString(".")
	}
	return b.String()
}

// fmtNum writes a coordinate with at most three decimals.
func fmtNum(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}
