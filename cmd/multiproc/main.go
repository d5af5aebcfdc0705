package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/multiproc/multiproc/admin"
)

// Exit statuses (see the package documentation).
const (
	exitOK      = 0
	exitError   = 1
	exitUsage   = 2
	exitRefused = 3
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type command struct {
	name, args, summary, help string
	run                       func(c *cli, names []string) int
	flags                     func(fs *flag.FlagSet, c *cli)
	minNames, maxNames        int // maxNames < 0: any number
}

// cli is one invocation: its flags and output streams.
type cli struct {
	cmd            *command
	stdout, stderr io.Writer
	json           bool
	dryRun, force  bool
	olderThan      time.Duration
}

var commands = []*command{
	{
		name: "ls", args: "[--json]", summary: "list every multiproc object in /dev/shm",
		help: `Prints one line per object: name, kind, size, creator pid (alive or
dead), whether a process holds it open now, age, tracking (persistent;
watched: a running tracker will remove it; tracked: no tracker is left)
and whether it is leaked (clean removes it). Objects that cannot be read
fully get a PROBLEM column. Other programs' files are not listed.`,
		flags: func(fs *flag.FlagSet, c *cli) {
			fs.BoolVar(&c.json, "json", false, "print a JSON array instead of a table")
		},
		run:      (*cli).ls,
		maxNames: 0,
	},
	{
		name: "inspect", args: "[--json] NAME", summary: "show one object's live state",
		help: `Shows what ls shows and the object's live state: a lock's owner pid and
whether it is alive, a semaphore's value and waiters, an event's flag, a
barrier's parties, waiting processes and whether it is broken, a
condition's waiters, a value's or array's element type and length, the
objects a tracker's registry lists.`,
		flags:    func(fs *flag.FlagSet, c *cli) { fs.BoolVar(&c.json, "json", false, "print a JSON object") },
		run:      (*cli).inspect,
		minNames: 1, maxNames: 1,
	},
	{
		name: "clean", args: "[--dry-run] [--older-than AGE] [--json]", summary: "remove leaked objects",
		help: `Removes the leaked objects: not persistent, held open by no process, made
by a process that is dead, and registered with no running tracker. Each is
removed only while nobody holds it, so one opened meanwhile is kept. Also
removes the registries of killed trackers once nothing they list is left.
Prints one line per object removed, in the tracker's words ("removed
leaked Lock jobs (created by pid 42, which is gone, and so is its
tracker)"); nothing when there is nothing to do, but "nothing to remove"
for --dry-run.`,
		flags: func(fs *flag.FlagSet, c *cli) {
			fs.BoolVar(&c.dryRun, "dry-run", false, "print what would be removed; remove nothing")
			fs.Func("older-than", "only objects at least `AGE` old (90s, 1h30m, 2d)", func(s string) (err error) {
				c.olderThan, err = parseAge(s)
				return err
			})
			fs.BoolVar(&c.json, "json", false, "print a JSON array of the objects removed")
		},
		run: (*cli).clean,
	},
	{
		name: "rm", args: "[--force] NAME...", summary: "remove objects by name",
		help: `Removes each named multiproc object, persistent or not. Refuses (exit
status 3) an object a running process holds open, or a damaged one, unless
--force; processes that have a removed object mapped keep using it. Never
removes a file that is not a multiproc object, even with --force.`,
		flags: func(fs *flag.FlagSet, c *cli) {
			fs.BoolVar(&c.force, "force", false, "remove held and damaged objects too")
		},
		run:      (*cli).rm,
		minNames: 1, maxNames: -1,
	},
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if cmd := lookup(args[1]); cmd != nil {
				commandUsage(stdout, cmd)
				return exitOK
			}
			fmt.Fprintf(stderr, "multiproc help: unknown command %q\n", args[1])
			return exitUsage
		}
		usage(stdout)
		return exitOK
	}
	cmd := lookup(args[0])
	if cmd == nil {
		fmt.Fprintf(stderr, "multiproc: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	c := &cli{cmd: cmd, stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("multiproc "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cmd.flags(fs, c)
	names, err := parseInterspersed(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		commandUsage(stdout, cmd)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "multiproc %s: %v\n", cmd.name, err)
		fmt.Fprintf(stderr, "usage: multiproc %s %s (see multiproc %s --help)\n", cmd.name, cmd.args, cmd.name)
		return exitUsage
	}
	if len(names) < cmd.minNames || (cmd.maxNames >= 0 && len(names) > cmd.maxNames) {
		switch {
		case len(names) < cmd.minNames:
			fmt.Fprintf(stderr, "multiproc %s: missing NAME\n", cmd.name)
		default:
			fmt.Fprintf(stderr, "multiproc %s: unexpected argument %q\n", cmd.name, names[cmd.maxNames])
		}
		fmt.Fprintf(stderr, "usage: multiproc %s %s (see multiproc %s --help)\n", cmd.name, cmd.args, cmd.name)
		return exitUsage
	}
	return cmd.run(c, names)
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// parseInterspersed parses flags wherever they are among the names; "--"
// ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var names []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return names, nil
		}
		if args[0] == "--" && len(names) > 0 { // fs.Parse consumed a leading "--" itself
			return append(names, args[1:]...), nil
		}
		names = append(names, args[0])
		args = args[1:]
	}
}

// parseAge reads a Go duration or a whole number of days ("2d").
func parseAge(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		n, err = strconv.Atoi(days)
		d = time.Duration(n) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad AGE %q: want a duration such as 90s, 1h30m or 2d", s)
	}
	return d, nil
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "multiproc lists, inspects and removes multiproc's shared objects in /dev/shm.")
	fmt.Fprintln(w, "\nUsage:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  multiproc %s %s\t%s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintf(tw, "  multiproc help [COMMAND]\t%s\n", "this text, or a command's")
	tw.Flush()
	fmt.Fprint(w, exitHelp)
}

func commandUsage(w io.Writer, cmd *command) {
	fmt.Fprintf(w, "usage: multiproc %s %s\n\n%s\n", cmd.name, cmd.args, cmd.help)
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	cmd.flags(fs, &cli{})
	first := true
	fs.VisitAll(func(f *flag.Flag) {
		if first {
			fmt.Fprintln(w, "\nFlags:")
			first = false
		}
		arg, text := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  --%s\n    \t%s\n", strings.TrimSpace(f.Name+" "+arg), text)
	})
	fmt.Fprint(w, exitHelp)
}

const exitHelp = `
Exit status: 0 ok; 1 error (no such object, not a multiproc object, a
failed removal); 2 bad usage; 3 rm refused an object (held or damaged).
`

func (c *cli) fail(name string, err error) {
	fmt.Fprintf(c.stderr, "multiproc %s: %s\n", c.cmd.name, describeErr(name, err))
}

// describeErr turns an error into the message a person reads.
func describeErr(name string, err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return name + ": no such object in /dev/shm"
	case errors.Is(err, admin.ErrNotOurs):
		return name + ": not a multiproc object; multiproc never touches other programs' files"
	case errors.Is(err, admin.ErrHeld):
		return name + ": held open by a running process; use --force to remove it anyway"
	case errors.Is(err, admin.ErrDamaged):
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return name + ": " + pe.Err.Error() + "; use --force to remove it anyway"
		}
	}
	return err.Error()
}

func (c *cli) printJSON(v any) int {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(c.stderr, "multiproc %s: %v\n", c.cmd.name, err)
		return exitError
	}
	return exitOK
}
