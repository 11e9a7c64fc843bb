// Command triage triages crashes of Rust fuzz targets built with cargo-fuzz
// and libFuzzer: it finds artifacts, reproduces, symbolizes and buckets them,
// minimizes one input per bucket, drives lldb and writes YAML records.
//
// Each subcommand lives in its own file and registers itself in the command
// table below with its usage, help and flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/sirupsen/logrus"
)

// Exit codes, documented in the README.
const (
	exitOK       = 0
	exitFindings = 1 // failures, or findings a command documents as such
	exitUsage    = 2
)

// app is what every command gets: where to print and the logger.
type app struct {
	stdout io.Writer
	stderr io.Writer
	stdin  io.Reader
	log    *logrus.Logger
}

type runFunc func(ctx context.Context, a *app, args []string) error

// command is one row of the command table.
type command struct {
	name    string
	summary string // one line, for `triage help`
	usage   string // synopsis after "triage NAME"
	help    string // what it does, exit codes, examples
	// setup registers the command's flags and returns the function that
	// runs it with their parsed values.
	setup func(fs *flag.FlagSet) runFunc
	// ownsInterrupt says the command handles SIGINT itself (an interactive
	// prompt, where Ctrl-C cancels a line or one running step): main then
	// cancels the context on SIGTERM only.
	ownsInterrupt bool
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("duplicate command " + c.name)
	}
	commands[c.name] = c
}

func commandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// usageError is a bad invocation: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// exitError carries a chosen exit code (with an optional message).
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e exitError) Unwrap() error { return e.err }

func main() {
	sigs := []os.Signal{os.Interrupt, syscall.SIGTERM}
	if len(os.Args) > 1 && commands[os.Args[1]] != nil && commands[os.Args[1]].ownsInterrupt {
		sigs = []os.Signal{syscall.SIGTERM}
	}
	ctx, stop := signal.NotifyContext(context.Background(), sigs...)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: tests call it directly.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	log := logrus.New()
	log.SetOutput(stderr)
	a := &app{stdout: stdout, stderr: stderr, stdin: stdin, log: log}

	if len(args) == 0 {
		printOverview(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "--help", "help":
		if len(args) > 1 {
			return helpFor(args[1], stdout, stderr)
		}
		printOverview(stdout)
		return exitOK
	case "--version", "-version":
		name = "version"
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "triage: unknown command %q\n\n", name)
		printOverview(stderr)
		return exitUsage
	}

	fs := flag.NewFlagSet("triage "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	logFormat := fs.String("log-format", "text", "log format: text (for people) or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	verbose := fs.Bool("v", false, "verbose logs (same as --log-level debug)")
	runCmd := cmd.setup(fs)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCommandHelp(cmd, fs, stdout)
			return exitOK
		}
		fmt.Fprintf(stderr, "triage %s: %v\n", cmd.name, err)
		fmt.Fprintf(stderr, "usage: triage %s %s\n(see triage %s --help)\n", cmd.name, cmd.usage, cmd.name)
		return exitUsage
	}
	if err := configureLog(log, *logFormat, *logLevel, *verbose); err != nil {
		fmt.Fprintf(stderr, "triage %s: %v\n", cmd.name, err)
		return exitUsage
	}

	err := runCmd(ctx, a, fs.Args())
	return reportError(cmd, err, stderr)
}

func reportError(cmd *command, err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "triage %s: %v\n", cmd.name, ue.msg)
		fmt.Fprintf(stderr, "usage: triage %s %s\n(see triage %s --help)\n", cmd.name, cmd.usage, cmd.name)
		return exitUsage
	}
	var ee exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "triage %s: %v\n", cmd.name, ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "triage %s: %v\n", cmd.name, err)
	return exitFindings
}

func configureLog(log *logrus.Logger, format, level string, verbose bool) error {
	switch format {
	case "text":
		log.SetFormatter(&logrus.TextFormatter{DisableTimestamp: false, FullTimestamp: true})
	case "json":
		log.SetFormatter(&logrus.JSONFormatter{})
	default:
		return fmt.Errorf("--log-format must be text or json, not %q", format)
	}
	if verbose {
		level = "debug"
	}
	lvl, err := logrus.ParseLevel(level)
	if err != nil {
		return fmt.Errorf("--log-level: %v", err)
	}
	log.SetLevel(lvl)
	return nil
}

func printOverview(w io.Writer) {
	fmt.Fprintln(w, "triage: crash triage and lldb automation for cargo-fuzz / libFuzzer Rust targets")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "usage: triage COMMAND [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, n := range commandNames() {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'triage help COMMAND' or 'triage COMMAND --help' for a command's flags.")
	fmt.Fprintln(w, "Exit codes: 0 ok, 1 failures or findings (as each command documents), 2 usage errors.")
}

func helpFor(name string, stdout, stderr io.Writer) int {
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "triage help: unknown command %q\n", name)
		return exitUsage
	}
	fs := flag.NewFlagSet("triage "+cmd.name, flag.ContinueOnError)
	fs.String("log-format", "text", "log format: text (for people) or json")
	fs.String("log-level", "info", "log level: debug, info, warn, error")
	fs.Bool("v", false, "verbose logs (same as --log-level debug)")
	cmd.setup(fs)
	printCommandHelp(cmd, fs, stdout)
	return exitOK
}

func printCommandHelp(cmd *command, fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintf(w, "usage: triage %s %s\n\n", cmd.name, cmd.usage)
	fmt.Fprintln(w, cmd.summary)
	if cmd.help != "" {
		fmt.Fprintln(w)
		fmt.Fprintln(w, strings.TrimSpace(cmd.help))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "flags:")
	fs.SetOutput(w)
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		line := "  " + dash + f.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintf(w, "%-28s %s", line, usage)
		if f.DefValue != "" && f.DefValue != "false" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}
