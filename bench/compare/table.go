package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"
)

// writeTable prints the header naming the machine, then one line per
// implementation of each workload, grouped by workload and family, then
// what one op is in each family and the notes.
func writeTable(w io.Writer, r *report) {
	m := r.Machine
	fmt.Fprintf(w, "go run ./bench/compare %s\n", strings.Join(r.Settings.Args, " "))
	each := fmt.Sprintf("~%v", r.Settings.Target)
	if r.Settings.Ops > 0 {
		each = fmt.Sprintf("%d ops", r.Settings.Ops)
	}
	fmt.Fprintf(w, "  %s; %s of %s per implementation, interleaved; %.0f s\n", m.Date, plural(r.Settings.Reps, "repetition"), each, r.Seconds)
	fmt.Fprintf(w, "  machine  %s, %d CPUs (online %s), %s\n", m.CPU, m.CPUs, m.Online, m.Kernel)
	fmt.Fprintf(w, "  tools    %s, %s, %s\n", m.Go, m.Python, m.GCC)
	fmt.Fprintf(w, "  load     %s before, %s after (1, 5, 15 min averages)\n", m.LoadBefore, m.LoadAfter)
	fmt.Fprintf(w, "  median of the repetitions; spread: their median absolute deviation; ours÷: multiproc's median over the row's (below 1: multiproc is faster)\n\n")

	const descMax = 52
	nameW, descW := len("workload"), len("implementation")
	for _, wr := range r.Workloads {
		nameW = max(nameW, len(wr.Name))
		for _, row := range wr.Rows {
			descW = max(descW, min(descMax, utf8.RuneCountInString(row.Desc)))
		}
	}
	line := func(name, system, desc, med, spread, ratio string) {
		fmt.Fprintf(w, "%-*s  %-9s  %s  %9s  %6s  %6s\n", nameW, name, system, pad(desc, descW), med, spread, ratio)
	}
	line("workload", "system", "implementation", "median", "spread", "ours÷")
	family := ""
	var failures []string
	for _, wr := range r.Workloads {
		if family != "" && wr.Family != family {
			fmt.Fprintln(w)
		}
		family = wr.Family
		name := wr.Name
		for _, row := range wr.Rows {
			if row.Skipped != "" {
				continue
			}
			med, spread, ratio := "", "", ""
			switch {
			case row.Error != "":
				med = "failed"
				failures = append(failures, firstLineOf(row.Error)) // it names the workload and impl
			case row.Median > 0:
				med = formatNs(row.Median)
				spread = fmt.Sprintf("±%.0f%%", 100*row.Spread)
				if row.Ratio > 0 {
					ratio = formatRatio(row.Ratio)
				}
			}
			line(name, row.System, row.Desc, med, spread, ratio)
			name = ""
		}
		if wr.Pending != "" {
			line(name, "multiproc", "comes with "+wr.Pending, "", "", "")
		}
	}

	fmt.Fprintf(w, "\nWhat one op is:\n")
	seen := map[string]bool{}
	for _, wr := range r.Workloads {
		if !seen[wr.Family] {
			seen[wr.Family] = true
			fmt.Fprintf(w, "  %-12s %s\n", wr.Family, wr.Op)
		}
		if key := wr.Family + "\x00" + wr.Detail; wr.Detail != "" && !seen[key] {
			seen[key] = true
			first := strings.TrimPrefix(wr.Name, wr.Family+"/")
			first, _, _ = strings.Cut(first, "/")
			fmt.Fprintf(w, "  %-12s   %s: %s\n", "", first, wr.Detail)
		}
	}
	if len(r.Notes) > 0 || len(failures) > 0 {
		fmt.Fprintf(w, "\nNotes:\n")
		for _, n := range append(r.Notes, failures...) {
			fmt.Fprintf(w, "  - %s\n", n)
		}
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// pad left-aligns s in width runes, cutting it short with "…".
func pad(s string, width int) string {
	n := utf8.RuneCountInString(s)
	if n > width {
		r := []rune(s)
		return string(r[:width-1]) + "…"
	}
	return s + strings.Repeat(" ", width-n)
}

func firstLineOf(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// formatNs prints a duration in ns with three significant digits and the
// unit that suits it.
func formatNs(ns float64) string {
	switch {
	case ns < 1e3:
		return sig3(ns) + " ns"
	case ns < 1e6:
		return sig3(ns/1e3) + " µs"
	case ns < 1e9:
		return sig3(ns/1e6) + " ms"
	}
	return sig3(ns/1e9) + " s"
}

func sig3(x float64) string {
	switch {
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	case x >= 10:
		return fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprintf("%.2f", x)
}

// formatRatio prints a ratio with two significant digits.
func formatRatio(x float64) string {
	if x >= 10 {
		return fmt.Sprintf("%.0f", x)
	}
	if x >= 1 {
		return fmt.Sprintf("%.2f", x)
	}
	digits := int(math.Ceil(-math.Log10(x))) + 1
	return fmt.Sprintf("%.*f", digits, x)
}
