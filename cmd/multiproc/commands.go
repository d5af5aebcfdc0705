package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/multiproc/multiproc/admin"
	"github.com/multiproc/multiproc/internal/track"
)

func (c *cli) ls(_ []string) int {
	objs, err := admin.List()
	if err != nil {
		c.fail("/dev/shm", err)
		return exitError
	}
	if c.json {
		if objs == nil {
			objs = []admin.Object{}
		}
		return c.printJSON(objs)
	}
	if len(objs) == 0 {
		return exitOK
	}
	problems := false
	for _, o := range objs {
		problems = problems || o.Problem != ""
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	head := "NAME\tKIND\tSIZE\tCREATOR\tHELD\tAGE\tTRACKING\tLEAKED"
	if problems {
		head += "\tPROBLEM"
	}
	fmt.Fprintln(tw, head)
	for _, o := range objs {
		line := strings.Join([]string{o.Name, o.Kind, size(o.Size), creator(o), yes(o.Held), age(o), tracking(o), yes(o.Leaked)}, "\t")
		if problems {
			line += "\t" + o.Problem
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	return exitOK
}

func (c *cli) inspect(names []string) int {
	info, err := admin.Inspect(names[0])
	if err != nil {
		c.fail(names[0], err)
		return exitError
	}
	if c.json {
		return c.printJSON(info)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 1, ' ', 0)
	for _, f := range info.Fields() {
		fmt.Fprintf(tw, "%s:\t%s\n", f.Label, f.Value)
	}
	tw.Flush()
	return exitOK
}

func (c *cli) clean(_ []string) int {
	objs, err := admin.Sweep(admin.SweepOptions{DryRun: c.dryRun, OlderThan: c.olderThan})
	status := exitOK
	if err != nil {
		c.fail("/dev/shm", err)
		status = exitError
	}
	if c.json {
		if objs == nil {
			objs = []admin.Object{}
		}
		if s := c.printJSON(objs); s != exitOK {
			return s
		}
		return status
	}
	verb := "removed"
	if c.dryRun {
		verb = "would remove"
		if len(objs) == 0 && status == exitOK {
			fmt.Fprintln(c.stdout, "nothing to remove")
		}
	}
	for _, o := range objs {
		if o.Kind == admin.KindTracker {
			fmt.Fprintf(c.stdout, "%s the registry %s of a killed tracker (pid %d): nothing it lists is left\n", verb, o.Name, o.CreatorPID)
			continue
		}
		// The tracker's own words for a removal.
		fmt.Fprintln(c.stdout, track.RemovedLine(verb, o.Kind, o.Name, o.CreatorPID, track.WhyTrackerGone))
	}
	return status
}

func (c *cli) rm(names []string) int {
	status := exitOK
	for _, name := range names {
		o, err := admin.Remove(name, c.force)
		switch {
		case err == nil:
			fmt.Fprintf(c.stdout, "removed %s (%s)\n", o.Name, o.Kind)
		case isRefusal(err):
			c.fail(name, err)
			if status == exitOK {
				status = exitRefused
			}
		default:
			c.fail(name, err)
			status = exitError
		}
	}
	return status
}

func isRefusal(err error) bool {
	return errors.Is(err, admin.ErrHeld) || errors.Is(err, admin.ErrDamaged)
}

func creator(o admin.Object) string {
	if o.CreatorPID <= 0 {
		return "?"
	}
	if o.CreatorAlive {
		return fmt.Sprintf("%d alive", o.CreatorPID)
	}
	return fmt.Sprintf("%d dead", o.CreatorPID)
}

func tracking(o admin.Object) string {
	switch {
	case o.Kind == admin.KindTracker:
		return "-"
	case o.Persistent:
		return "persistent"
	case o.Watched:
		return "watched"
	}
	return "tracked"
}

func age(o admin.Object) string {
	if o.Created.IsZero() {
		return "?"
	}
	switch d := o.Age; {
	case d < time.Hour:
		return d.Truncate(time.Second).String()
	case d < 48*time.Hour:
		return strings.TrimSuffix(d.Truncate(time.Minute).String(), "0s")
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
