// Command triage triages crashes of Rust fuzz targets built with cargo-fuzz
// and libFuzzer: it finds artifacts, reproduces, symbolizes and buckets them,
// minimizes one input per bucket, drives lldb and writes YAML records.
//
// The command line is a cobra command tree (like Delve's): each subcommand
// lives in its own file and registers itself in the command table below
// with its synopsis, help, examples, flags and argument completion; main
// builds the tree from the table. Flags go anywhere on the line, GNU style.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit codes, documented in the README.
const (
	exitOK       = 0
	exitFindings = 1 // failures, or findings a command documents as such
	exitUsage    = 2
	exitFailures = 3 // the pipeline commands: something could not be done
)

// app is what every command gets: where to print, the logger and the
// global flags.
type app struct {
	stdout io.Writer
	stderr io.Writer
	stdin  io.Reader
	log    *logrus.Logger
	g      globals
}

// globals are the persistent flags every command takes.
type globals struct {
	workspace    string
	workspaceSet bool
	store        string
	progress     string
	logFormat    string
	logLevel     string
	verbose      bool
}

type runFunc func(ctx context.Context, a *app, args []string) error

// command is one row of the command table.
type command struct {
	name    string
	summary string // one line, for `triage help`
	usage   string // synopsis after "triage NAME"
	// help says what it does and its exit codes; an "Examples:" section at
	// its end becomes the command's examples.
	help string
	// group puts the command under a heading of `triage help`.
	group string
	// setup registers the command's flags and returns the function that
	// runs it with their parsed values.
	setup func(fs *pflag.FlagSet) runFunc
	// complete completes the command's positional arguments (see
	// completion.go); nil completes file names.
	complete func(a *app, args []string, toComplete string) ([]string, cobra.ShellCompDirective)
	// ownsInterrupt says the command handles SIGINT itself (an interactive
	// prompt, where Ctrl-C cancels a line or one running step): main then
	// cancels the context on SIGTERM only.
	ownsInterrupt bool
}

// Command groups, in the order `triage help` shows them.
var groups = []*cobra.Group{
	{ID: "pipeline", Title: "The nightly job and its service:"},
	{ID: "fuzzing", Title: "Fuzzing campaigns and corpora:"},
	{ID: "input", Title: "One input:"},
	{ID: "logs", Title: "Crash logs:"},
	{ID: "store", Title: "Reports from the store:"},
	{ID: "workspace", Title: "The workspace:"},
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
	if c := commands[firstArg(os.Args[1:])]; c != nil && c.ownsInterrupt {
		sigs = []os.Signal{syscall.SIGTERM}
	}
	ctx, stop := signal.NotifyContext(context.Background(), sigs...)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// firstArg is the first argument that is not a flag: the command's name.
func firstArg(args []string) string {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return ""
}

// run is main without the process: tests call it directly.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	log := logrus.New()
	log.SetOutput(stderr)
	a := &app{stdout: stdout, stderr: stderr, stdin: stdin, log: log}
	root := newRoot(ctx, a)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteC()
	return exitCode(cmd, err, stderr)
}

// newRoot builds the command tree over a.
func newRoot(ctx context.Context, a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "triage",
		Short: "crash triage and lldb automation for cargo-fuzz / libFuzzer Rust targets",
		Long: `triage picks up the crash artifacts of Rust fuzz targets (cargo-fuzz,
libFuzzer), reproduces them, symbolizes and buckets them (one bug, one
bucket), minimizes one input per bucket, runs lldb sessions at the crash
and keeps YAML records a nightly job and a bug-filing pipeline read.

Exit codes: 0 ok; 1 findings (as each command documents); 2 usage errors;
3 something could not be done (the pipeline commands).`,
		Version:           versionString(),
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: false},
		// Bare `triage`: the overview on stderr, exit 2.
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SetOut(a.stderr)
			_ = cmd.Help()
			return usageError{"a command is needed"}
		},
	}
	root.SetVersionTemplate("triage {{.Version}}\n")
	for _, g := range groups {
		root.AddGroup(g)
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.g.workspace, "workspace", ".", "the fuzz `WORKSPACE` (for commands that take one as an argument, the argument wins)")
	pf.StringVar(&a.g.store, "store", "", "the store `DIR` (default: triage.yaml's store, else WORKSPACE/.triage); may be anywhere")
	pf.StringVar(&a.g.progress, "progress", "auto", "progress display: auto (bars on a terminal, log lines otherwise), always, never")
	pf.StringVar(&a.g.logFormat, "log-format", "text", "log format: text (for people) or json")
	pf.StringVar(&a.g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	pf.BoolVarP(&a.g.verbose, "verbose", "v", false, "verbose logs (same as --log-level debug)")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		a.g.workspaceSet = cmd.Flags().Changed("workspace")
		switch a.g.progress {
		case "auto", "always", "never":
		default:
			return usagef("--progress must be auto, always or never, not %q", a.g.progress)
		}
		return configureLog(a.log, a.g.logFormat, a.g.logLevel, a.g.verbose)
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError{err.Error()}
	})
	_ = root.RegisterFlagCompletionFunc("workspace", dirCompletion)
	_ = root.RegisterFlagCompletionFunc("store", dirCompletion)
	_ = root.RegisterFlagCompletionFunc("progress", fixedCompletion("auto", "always", "never"))
	_ = root.RegisterFlagCompletionFunc("log-format", fixedCompletion("text", "json"))
	_ = root.RegisterFlagCompletionFunc("log-level", fixedCompletion("debug", "info", "warn", "error"))
	for _, name := range commandNames() {
		root.AddCommand(newCommand(ctx, a, commands[name]))
	}
	return root
}

// newCommand turns a table row into a cobra command.
func newCommand(ctx context.Context, a *app, c *command) *cobra.Command {
	long, examples := splitExamples(c.help)
	cmd := &cobra.Command{
		Use:     strings.TrimSpace(c.name + " " + c.usage),
		Short:   c.summary,
		Long:    c.summary + "\n\n" + long,
		Example: examples,
		GroupID: c.group,
		// Positional arguments are checked by each command (usage errors
		// with a message that names what is wrong).
		Args: cobra.ArbitraryArgs,
	}
	if long == "" {
		cmd.Long = c.summary
	}
	run := c.setup(cmd.Flags())
	cmd.RunE = func(cc *cobra.Command, args []string) error { return run(ctx, a, args) }
	if c.complete != nil {
		complete := c.complete
		cmd.ValidArgsFunction = func(cc *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			a.g.workspaceSet = cc.Flags().Changed("workspace")
			return complete(a, args, toComplete)
		}
	}
	registerFlagCompletions(cmd)
	return cmd
}

// splitExamples cuts a help text at its "Examples:" line: the text before
// is the description, the indented lines after are the examples.
func splitExamples(help string) (string, string) {
	help = strings.TrimSpace(help)
	i := strings.Index(help, "\nExamples:\n")
	if i < 0 {
		return help, ""
	}
	return strings.TrimSpace(help[:i]), strings.TrimRight(help[i+len("\nExamples:\n"):], "\n")
}

// exitCode reports an error the way the README documents and returns the
// exit code.
func exitCode(cmd *cobra.Command, err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	name := "triage"
	if cmd != nil && cmd.Name() != "triage" {
		name = "triage " + cmd.Name()
	}
	var ue usageError
	var ee exitError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%s: %v\n", name, ue.msg)
		if cmd != nil && cmd.Name() != "triage" {
			fmt.Fprintf(stderr, "usage: %s\n(see %s --help)\n", cmd.UseLine(), name)
		}
		return exitUsage
	case errors.As(err, &ee):
		if ee.err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, ee.err)
		}
		return ee.code
	case strings.HasPrefix(err.Error(), "unknown command"), strings.HasPrefix(err.Error(), "unknown flag"),
		strings.HasPrefix(err.Error(), "unknown shorthand flag"):
		fmt.Fprintf(stderr, "%s: %v\n(see triage --help)\n", name, err)
		return exitUsage
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	return exitFindings
}

func configureLog(log *logrus.Logger, format, level string, verbose bool) error {
	switch format {
	case "text":
		log.SetFormatter(&logrus.TextFormatter{DisableTimestamp: false, FullTimestamp: true})
	case "json":
		log.SetFormatter(&logrus.JSONFormatter{})
	default:
		return usagef("--log-format must be text or json, not %q", format)
	}
	if verbose {
		level = "debug"
	}
	lvl, err := logrus.ParseLevel(level)
	if err != nil {
		return usagef("--log-level: %v", err)
	}
	log.SetLevel(lvl)
	return nil
}
