// Package cli holds the house rules every terok command-line program
// follows, applied to a urfave/cli/v2 app by Run:
//
//   - A command's flags may come before or after its positional arguments
//     (`terok-gate repo create demo --default-branch dev`); flags of the
//     program itself may also follow the command (`terok-shield serve
//     --socket X`). Everything after `--` is positional.
//   - An unknown command names itself and lists the commands there are.
//   - A command takes exactly the positional arguments its ArgsUsage names:
//     NAME is required, [NAME] optional, NAME... or [NAME...] any number;
//     an empty ArgsUsage means none. Anything else is a usage error.
//   - Exit codes are the same in every binary (see the Exit constants).
package cli

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// Exit codes shared by every terok binary.
const (
	// ExitOK: the command did what was asked.
	ExitOK = 0
	// ExitFailed: the command ran and failed (the daemon refused, a file
	// could not be written, ...).
	ExitFailed = 1
	// ExitUsage: the command line itself is wrong: an unknown command or
	// flag, a missing or unexpected argument, a bad flag value.
	ExitUsage = 2
	// ExitUnreachable: the daemon the command needs does not answer on its
	// socket.
	ExitUnreachable = 3
	// ExitNotFound: the thing named (a project, task, repository,
	// container, program) does not exist.
	ExitNotFound = 4
)

// UsageError is a wrong command line; it exits with ExitUsage and points
// at the command's help.
type UsageError struct {
	Cmd string // the full command, e.g. "terok-gate repo create"
	Msg string
}

// Error implements error.
func (e *UsageError) Error() string {
	return fmt.Sprintf("%s; see '%s --help'", e.Msg, e.Cmd)
}

// Usagef returns a *UsageError for the command of c.
func Usagef(c *ucli.Context, format string, args ...any) error {
	return &UsageError{Cmd: fullName(c), Msg: fmt.Sprintf(format, args...)}
}

// ExitCode maps an error to the exit code the house rules give it.
func ExitCode(err error) int {
	var ue *UsageError
	var ec ucli.ExitCoder
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		return ExitUsage
	case errors.As(err, &ec):
		return ec.ExitCode()
	case errors.Is(err, unixhttp.ErrUnavailable):
		return ExitUnreachable
	case errors.Is(err, unixhttp.ErrNotFound):
		return ExitNotFound
	}
	return ExitFailed
}

// Main runs app with os.Args under the house rules and exits.
func Main(app *ucli.App) {
	os.Exit(Run(app, os.Args))
}

// Run applies the house rules to app, runs it with args (args[0] is the
// program), prints an error as "<program>: <error>" on app.ErrWriter (or
// stderr) and returns the exit code.
func Run(app *ucli.App, args []string) int {
	Prepare(app)
	err := app.Run(Permute(app, args))
	if err == nil {
		return ExitOK
	}
	w := app.ErrWriter
	if w == nil {
		w = os.Stderr
	}
	var ec ucli.ExitCoder
	if errors.As(err, &ec) && ec.Error() == "" {
		return ec.ExitCode()
	}
	fmt.Fprintf(w, "%s: %v\n", app.Name, err)
	return ExitCode(err)
}

// Prepare installs the house rules on app and every command below it:
// unknown commands and wrong argument counts become usage errors, and
// flag errors exit with ExitUsage instead of printing the whole help.
// Run calls it; tests of an app may call it directly.
func Prepare(app *ucli.App) {
	if app.Action == nil {
		app.Action = groupAction(app.Commands)
	}
	app.OnUsageError = onUsageError
	app.ExitErrHandler = func(*ucli.Context, error) {} // Run prints and exits
	app.HideHelpCommand = true
	for _, c := range app.Commands {
		prepareCommand(c)
	}
}

func prepareCommand(c *ucli.Command) {
	c.OnUsageError = onUsageError
	if len(c.Subcommands) > 0 {
		if c.Action == nil {
			c.Action = groupAction(c.Subcommands)
		}
		c.HideHelpCommand = true
		for _, s := range c.Subcommands {
			prepareCommand(s)
		}
		return
	}
	if c.Action == nil {
		return
	}
	min, max := argBounds(c.ArgsUsage)
	before := c.Before
	c.Before = func(ctx *ucli.Context) error {
		if err := checkArgs(ctx, c.ArgsUsage, min, max); err != nil {
			return err
		}
		if before != nil {
			return before(ctx)
		}
		return nil
	}
}

func onUsageError(c *ucli.Context, err error, _ bool) error {
	return &UsageError{Cmd: fullName(c), Msg: err.Error()}
}

// groupAction answers a command group called without (or with an unknown)
// subcommand: help for none, a usage error naming the unknown one.
func groupAction(cmds []*ucli.Command) ucli.ActionFunc {
	return func(c *ucli.Context) error {
		if !c.Args().Present() {
			return ucli.ShowSubcommandHelp(c)
		}
		names := make([]string, 0, len(cmds))
		for _, s := range cmds {
			if !s.Hidden {
				names = append(names, s.Name)
			}
		}
		sort.Strings(names)
		return &UsageError{Cmd: fullName(c),
			Msg: fmt.Sprintf("unknown command %q (commands: %s)", c.Args().First(), strings.Join(names, ", "))}
	}
}

// argBounds reads the positional count from an ArgsUsage text: NAME
// required, [NAME] optional, "..." any number. max -1 means no limit.
func argBounds(usage string) (min, max int) {
	depth := 0
	for _, f := range strings.Fields(usage) {
		opening := strings.HasPrefix(f, "[")
		if opening {
			depth++
		}
		if strings.Contains(f, "...") {
			max = -1
		} else if max >= 0 {
			max++
		}
		if depth == 0 {
			min++
		}
		depth -= strings.Count(f, "]")
		if depth < 0 {
			depth = 0
		}
	}
	return min, max
}

func checkArgs(c *ucli.Context, usage string, min, max int) error {
	n := c.Args().Len()
	switch {
	case n < min:
		return Usagef(c, "missing argument: needs %s", usage)
	case max >= 0 && n > max:
		extra := c.Args().Slice()[max]
		if max == 0 {
			return Usagef(c, "unexpected argument %q (this command takes none)", extra)
		}
		return Usagef(c, "unexpected argument %q (takes %s)", extra, usage)
	}
	return nil
}

func fullName(c *ucli.Context) string {
	if c == nil {
		return ""
	}
	if c.Command != nil && c.Command.Name != "" {
		// Lineage runs from this context up to the app.
		var parts []string
		for _, l := range c.Lineage() {
			if l.Command != nil && l.Command.Name != "" {
				parts = append([]string{l.Command.Name}, parts...)
			}
		}
		if c.App != nil {
			parts = append([]string{rootName(c)}, parts...)
		}
		return dedupe(parts)
	}
	return rootName(c)
}

// rootName is the program's name: a sub-app made for a command group
// carries "<program> <group>" as its name, so take the first word of the
// outermost app.
func rootName(c *ucli.Context) string {
	name := ""
	for _, l := range c.Lineage() {
		if l.App != nil {
			name = l.App.Name
		}
	}
	if i := strings.IndexByte(name, ' '); i > 0 {
		name = name[:i]
	}
	return name
}

func dedupe(parts []string) string {
	out := parts[:0]
	for i, p := range parts {
		if i > 0 && p == out[len(out)-1] {
			continue
		}
		out = append(out, p)
	}
	return strings.Join(out, " ")
}

// Permute moves flags that follow positional arguments in front of them,
// command by command, so urfave/cli (which stops at the first positional)
// sees them. A flag of the program given after a command moves before the
// command. Unknown flags stay where they are for the parser to report.
func Permute(app *ucli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	rest := args[1:]
	global := flagSet(app.Flags)
	// Program flags before the command.
	lead, rest := leadingFlags(rest, global)
	out = append(out, lead...)
	var movedGlobal []string
	cmds := app.Commands
	levelFlags := []map[string]bool{global}
	for len(rest) > 0 {
		name := rest[0]
		cmd := find(cmds, name)
		if cmd == nil {
			break
		}
		out = append(out, name)
		rest = rest[1:]
		own := flagSet(cmd.Flags)
		levelFlags = append(levelFlags, own)
		if len(cmd.Subcommands) > 0 {
			var l []string
			l, rest = leadingFlags(rest, own)
			out = append(out, l...)
			cmds = cmd.Subcommands
			continue
		}
		// Leaf: sort its flags before its positionals.
		var flags, pos []string
		for i := 0; i < len(rest); i++ {
			a := rest[i]
			if a == "--" {
				pos = append(pos, rest[i:]...)
				break
			}
			if name, ok := flagName(a); ok {
				takes, known, level := lookup(levelFlags, name)
				if known {
					chunk := []string{a}
					if takes && !strings.Contains(a, "=") && i+1 < len(rest) {
						chunk = append(chunk, rest[i+1])
						i++
					}
					if level == len(levelFlags)-1 {
						flags = append(flags, chunk...)
					} else if level == 0 {
						movedGlobal = append(movedGlobal, chunk...)
					} else {
						flags = append(flags, chunk...)
					}
					continue
				}
				flags = append(flags, a)
				continue
			}
			pos = append(pos, a)
		}
		out = append(out, flags...)
		out = append(out, pos...)
		rest = nil
	}
	out = append(out, rest...)
	if len(movedGlobal) > 0 {
		// Program flags go right after the program name.
		out = append(append([]string{out[0]}, movedGlobal...), out[1:]...)
	}
	return out
}

// leadingFlags splits the known flags (with their values) at the head of
// args from the rest.
func leadingFlags(args []string, known map[string]bool) (flags, rest []string) {
	i := 0
	for i < len(args) {
		name, ok := flagName(args[i])
		if !ok {
			break
		}
		takes, isKnown := known[name]
		if !isKnown {
			break
		}
		flags = append(flags, args[i])
		if takes && !strings.Contains(args[i], "=") && i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
		i++
	}
	return flags, args[i:]
}

func lookup(levels []map[string]bool, name string) (takes, known bool, level int) {
	for l := len(levels) - 1; l >= 0; l-- {
		if t, ok := levels[l][name]; ok {
			return t, true, l
		}
	}
	return false, false, -1
}

func flagName(a string) (string, bool) {
	if len(a) < 2 || a[0] != '-' || a == "--" {
		return "", false
	}
	n := strings.TrimLeft(a, "-")
	if i := strings.IndexByte(n, '='); i >= 0 {
		n = n[:i]
	}
	return n, n != ""
}

// flagSet maps every name and alias of flags to whether it takes a value.
func flagSet(flags []ucli.Flag) map[string]bool {
	m := map[string]bool{"help": false, "h": false}
	for _, f := range flags {
		takes := true
		if d, ok := f.(ucli.DocGenerationFlag); ok {
			takes = d.TakesValue()
		}
		for _, n := range f.Names() {
			m[n] = takes
		}
	}
	return m
}

func find(cmds []*ucli.Command, name string) *ucli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}
