package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// chart draws the report as an SVG: per workload, one bar per
// implementation (variants left to the table) on one log scale of time per
// op shared by every workload, the value at each bar's end, and on
// multiproc's bar its ratio to each other bar.
func chart(r *report) string {
	const (
		nameX  = 10  // workload names
		sysX   = 250 // implementation names
		barX   = 370 // the axis's left end
		barW   = 480 // the axis's length
		width  = 1320
		rowH   = 15
		barH   = 11
		gap    = 9
		famH   = 26
		headH  = 108
		footer = 40
	)
	type bar struct {
		system, impl string
		ns           float64
		label        string
	}
	type group struct {
		name, family string
		bars         []bar
		note         string
	}
	var groups []group
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, wr := range r.Workloads {
		g := group{name: wr.Name, family: wr.Family}
		var ours *row
		var others []row
		for i, row := range wr.Rows {
			// multiproc's bar is the workload's own implementation (not a
			// reference row such as the Lock shown with the RLock), and
			// variants stay in the table.
			if row.Median <= 0 || row.Error != "" || row.Extra || row.System == "multiproc" && !row.Ours {
				continue
			}
			lo, hi = math.Min(lo, row.Median), math.Max(hi, row.Median)
			if row.Ours {
				ours = &wr.Rows[i]
			} else {
				others = append(others, row)
			}
		}
		if ours != nil {
			label := formatNs(ours.Median)
			var parts []string
			for _, o := range others {
				parts = append(parts, fmt.Sprintf("%s× %s", formatRatio(ours.Median/o.Median), o.Impl))
			}
			if len(parts) > 0 {
				label += " = " + strings.Join(parts, " · ")
			}
			g.bars = append(g.bars, bar{ours.System, ours.Impl, ours.Median, label})
		}
		for _, o := range others {
			g.bars = append(g.bars, bar{o.System, o.Impl, o.Median, formatNs(o.Median)})
		}
		if wr.Pending != "" {
			g.note = "multiproc: comes with " + wr.Pending
		}
		if len(g.bars) > 0 || g.note != "" {
			groups = append(groups, g)
		}
	}
	if len(groups) == 0 || math.IsInf(lo, 0) {
		return `<svg xmlns="http://www.w3.org/2000/svg" width="400" height="40"><text x="10" y="25">no results</text></svg>`
	}
	dLo, dHi := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if dHi == dLo {
		dHi++
	}
	x := func(ns float64) float64 { return barX + barW*(math.Log10(ns)-dLo)/(dHi-dLo) }

	height := headH + footer
	family := ""
	for _, g := range groups {
		if g.family != family {
			height += famH
			family = g.family
		}
		height += rowH*max(len(g.bars)+btoi(g.note != ""), 1) + gap
	}

	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">`+"\n", width, height, width, height)
	p(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	m := r.Machine
	p(`<text x="%d" y="20" font-size="15" font-weight="bold">multiproc, Python multiprocessing and C: time per op (log scale, shorter is faster)</text>`+"\n", nameX)
	p(`<text x="%d" y="38">%s</text>`+"\n", nameX, esc(fmt.Sprintf("%s · %d CPUs · %s · %s · %s · %s · load %s → %s · %s, medians of %s",
		m.CPU, m.CPUs, m.Kernel, m.Go, m.Python, m.GCC, m.LoadBefore, m.LoadAfter, m.Date, plural(r.Settings.Reps, "repetition"))))
	p(`<text x="%d" y="54">%s</text>`+"\n", nameX, esc("go run ./bench/compare "+strings.Join(r.Settings.Args, " ")))
	p(`<text x="%d" y="70">%s</text>`+"\n", nameX, esc("On multiproc's bar: its time as a multiple of each other bar's (below 1: multiproc is faster). Implementations as named in go test -bench ./bench (impl=...)."))
	legendX := nameX
	for _, s := range []string{"multiproc", "go", "c", "python"} {
		p(`<rect x="%d" y="78" width="12" height="10" fill="%s"/><text x="%d" y="87">%s</text>`+"\n", legendX, color(s), legendX+16, esc(systemTitle(s)))
		legendX += 150
	}

	top, bottom := headH-6, height-footer+4
	axisLabels := func(y int) {
		for d := dLo; d <= dHi; d++ {
			p(`<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`+"\n", x(math.Pow(10, d)), y, decade(int(d)))
		}
	}
	axisLabels(top - 4)
	for d := dLo; d <= dHi; d++ {
		p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", x(math.Pow(10, d)), top, x(math.Pow(10, d)), bottom)
	}
	axisLabels(bottom + 14)

	y := headH
	family = ""
	for _, g := range groups {
		if g.family != family {
			family = g.family
			p(`<text x="%d" y="%d" font-size="13" font-weight="bold">%s</text>`+"\n", nameX, y+18, esc(family))
			if y > headH {
				axisLabels(y + 18) // the scale again at every family
			}
			p(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999"/>`+"\n", nameX, y+22, width-10, y+22)
			y += famH
		}
		name := strings.TrimPrefix(g.name, g.family+"/")
		p(`<text x="%d" y="%d">%s</text>`+"\n", nameX+8, y+barH, esc(name))
		for _, br := range g.bars {
			weight := ""
			if br.system == "multiproc" {
				weight = ` font-weight="bold"`
			}
			p(`<text x="%d" y="%d" fill="#333">%s</text>`+"\n", sysX, y+barH, esc(br.impl))
			p(`<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", barX, y+1, math.Max(x(br.ns)-barX, 1), barH, color(br.system))
			p(`<text x="%.1f" y="%d"%s>%s</text>`+"\n", x(br.ns)+4, y+barH, weight, esc(br.label))
			y += rowH
		}
		if g.note != "" {
			p(`<text x="%d" y="%d" fill="#777" font-style="italic">%s</text>`+"\n", sysX, y+barH, esc(g.note))
			y += rowH
		}
		if len(g.bars) == 0 && g.note == "" {
			y += rowH
		}
		y += gap
	}
	p("</svg>\n")
	return b.String()
}

// decade names 10^d ns: 1 ns, 10 ns, 100 ns, 1 µs, ...
func decade(d int) string {
	units := []string{"ns", "µs", "ms", "s"}
	if d < 0 {
		return fmt.Sprintf("%g ns", math.Pow(10, float64(d)))
	}
	u := min(d/3, len(units)-1)
	return fmt.Sprintf("%g %s", math.Pow(10, float64(d-3*u)), units[u])
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func esc(s string) string { return html.EscapeString(s) }

func color(system string) string {
	switch system {
	case "multiproc":
		return "#1f5fbf"
	case "go":
		return "#9a9a9a"
	case "c":
		return "#e8822a"
	case "python":
		return "#3a9d4a"
	}
	return "#555"
}

func systemTitle(s string) string {
	switch s {
	case "multiproc":
		return "multiproc"
	case "go":
		return "Go in-process floor"
	case "c":
		return "C (gcc)"
	case "python":
		return "Python multiprocessing"
	}
	return s
}
