package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"golang.org/x/term"

	"github.com/fuzztriage/triage/internal/shell"
	"github.com/fuzztriage/triage/lldbscript"
	"github.com/fuzztriage/triage/regbits"
	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/terminal"
	"github.com/fuzztriage/triage/triage"
)

func init() {
	register(&command{
		name:          "debug",
		summary:       "an interactive lldb session builder for one crash artifact",
		usage:         "TARGET ARTIFACT | --binary BIN ARTIFACT",
		group:         "input",
		complete:      completeTargetArtifact,
		ownsInterrupt: true,
		help: `
Opens a prompt at the crash of one artifact: the crash summary and in-app
frames first (from the artifact's triage record, or a fresh reproduction on
the release build when there is none), then the stack where lldb-19 stops on
the dev build (--release for the release build).

Each question is answered by a batch lldb run of the input to the stop (about
a second or two) and by the binary's DWARF: no live debugger, so nothing hangs
and every breakpoint and path you add builds a command file that 'save'
writes for 'lldb-19 -b -s FILE -- BIN ARTIFACT'.

Commands (type 'help' or 'help CMD' at the prompt):
  bt [app]                 the stack at the stop (in-app frames marked *)
  frame N, up, down        select a frame; shows the source around its line
  vars                     the selected frame's variables (enums decoded)
  print PATH               a Rust path (ide_device.channels[0].state,
                           self.host.Some.name) through Arc/Mutex/RefCell/...
                           wrappers, translated to lldb's path and read
  type NAME|PATH           a type's layout, readable
  break FILE:LINE [ignore N], clear N|all
                           breakpoints (the stop moves to them)
  hits FILE:LINE           how often a line runs before the crash
  release, dev             switch build
  script, save FILE, run   the command file: show, write, run in batch lldb
  quit                     (or Ctrl-D)
Tab completes commands, frame numbers, file names, variables of the selected
frame and the next field of a Rust path (from DWARF, through wrappers).
History persists in $XDG_STATE_HOME/triage/debug_history. Ctrl-C cancels the
line being typed or the lldb run in progress, not the session.

Without a terminal (stdin a pipe or file) commands are read line by line and
echoed, so a session can be scripted.

Exit codes: 0 the session ended; 1 the crash could not be set up (no
binary, build failed); 2 usage errors.

Examples:
  triage debug --workspace testdata/fuzzws fuzz_ide \
      testdata/fuzzws/vm/devices/storage/ide/fuzz/artifacts/fuzz_ide/crash-50a484a1be43358521bd675930166a80cce9f94a
  triage debug --binary target/x86_64-unknown-linux-gnu/debug/fuzz_ide crash-50a4...
  printf 'frame 2\nprint self.channels[0].state\nsave s.lldb\n' | triage debug fuzz_ide crash-50a4...
`,
		setup: func(fs *pflag.FlagSet) runFunc {
			o := &debugOptions{}
			fs.StringVar(&o.binary, "binary", "", "debug this fuzz binary instead of a workspace TARGET's")
			fs.BoolVar(&o.release, "release", false, "start on the release build (default: dev, which has variables)")
			fs.StringVar(&o.lldb, "lldb", "", "the lldb binary (default: triage.yaml lldb.binary, else lldb-19)")
			fs.DurationVar(&o.timeout, "timeout", 0, "bound on one lldb run; 0 means triage.yaml lldb.timeout, else 60s")
			fs.BoolVar(&o.noBuild, "no-build", false, "use the binaries as they are; never build")
			fs.BoolVar(&o.noFormatters, "no-formatters", false, "do not load the toolchain's Rust formatters into lldb")
			fs.StringVar(&o.history, "history", "", "history file (default $XDG_STATE_HOME/triage/debug_history)")
			return func(ctx context.Context, a *app, args []string) error {
				return runDebug(ctx, a, o, args)
			}
		},
	})
}

type debugOptions struct {
	binary       string
	release      bool
	lldb         string
	timeout      time.Duration
	noBuild      bool
	noFormatters bool
	history      string
}

func runDebug(ctx context.Context, a *app, o *debugOptions, args []string) error {
	// Until the prompt is up, Ctrl-C ends the command (and the build or
	// reproduction under way, through its context); at the prompt the shell
	// takes Ctrl-C over.
	startCtx, stopInterrupt := signal.NotifyContext(ctx, os.Interrupt)
	defer stopInterrupt()

	tc, err := debugConfig(startCtx, a, o, args)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "triage-debug-*")
	if err != nil {
		return err
	}
	tc.Dir = dir
	sess, err := terminal.New(*tc, a.stdout)
	if err != nil {
		os.RemoveAll(dir)
		return err
	}
	defer sess.Close()
	if err := sess.Start(startCtx); err != nil {
		return exitError{code: exitFindings, err: err}
	}
	stopInterrupt()

	sh := shell.New("(triage) ", a.stdout, sess.Commands())
	sh.In = a.stdin
	sh.Interactive = debugTTY(a.stdin) && debugTTY(a.stdout)
	sh.HistoryPath = o.history
	if sh.HistoryPath == "" {
		sh.HistoryPath = shell.DefaultHistoryPath("debug_history")
	}
	fmt.Fprintln(a.stdout, "\nType 'help' for the commands; Tab completes; Ctrl-D or 'quit' leaves.")
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		// SIGTERM: a running command stops through ctx and Run returns;
		// a prompt waiting for input cannot be woken, so restore the
		// terminal, clean up and exit.
		select {
		case <-finished:
			return
		case <-ctx.Done():
		}
		select {
		case <-finished:
		case <-time.After(3 * time.Second):
			sh.Abort()
			sess.Close()
			fmt.Fprintln(a.stderr, "\ntriage debug: terminated")
			os.Exit(exitFindings)
		}
	}()
	return sh.Run(ctx)
}

func debugTTY(x any) bool {
	f, ok := x.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// debugConfig finds the binaries and what triage knows of the crash.
func debugConfig(ctx context.Context, a *app, o *debugOptions, args []string) (*terminal.Config, error) {
	var target, artifact string
	switch {
	case o.binary != "" && len(args) == 1:
		artifact = args[0]
	case o.binary != "":
		return nil, usagef("with --binary, give one ARTIFACT (got %d arguments)", len(args))
	case len(args) == 2:
		target, artifact = args[0], args[1]
	default:
		return nil, usagef("want TARGET ARTIFACT (or --binary BIN ARTIFACT), got %d arguments", len(args))
	}
	if st, err := os.Stat(artifact); err != nil || st.IsDir() {
		return nil, usagef("artifact %s: not a readable file", artifact)
	}
	artifact, _ = filepath.Abs(artifact)

	// The workspace gives TARGET's binaries, triage.yaml and the store;
	// with --binary only the last two, when --workspace is given.
	var ws *triage.Workspace
	root := ""
	cfg := triage.DefaultConfig()
	if target != "" || a.g.workspaceSet {
		var err error
		if root, err = a.workspaceRoot(nil); err != nil {
			return nil, err
		}
		if target != "" {
			if ws, err = triage.Discover(root); err != nil {
				return nil, err
			}
			root = ws.Root
		}
		if cfg, err = a.config(root); err != nil {
			return nil, err
		}
		if ws != nil {
			ws.Configure(cfg)
		}
	}
	if o.noBuild {
		cfg.Build.Mode = triage.BuildNever
	}
	tc := &terminal.Config{
		Artifact: artifact,
		LLDB:     o.lldb,
		Timeout:  o.timeout,
		Profile:  terminal.Dev,
	}
	if tc.LLDB == "" {
		tc.LLDB = cfg.LLDB.Binary
	}
	if tc.Timeout == 0 {
		tc.Timeout = cfg.LLDB.Timeout.D()
	}
	if o.release {
		tc.Profile = terminal.Release
	}
	if o.noFormatters {
		tc.Formatters = lldbscript.FormattersNone
	}
	kind := store.KindOfArtifact(filepath.Base(artifact))

	var t *triage.Target
	if target != "" {
		if t = ws.Target(target); t == nil {
			var names []string
			for _, x := range ws.Targets {
				names = append(names, x.Name)
			}
			return nil, usagef("no fuzz target %q in %s (targets: %s)", target, ws.Root, strings.Join(names, ", "))
		}
		tc.Root = ws.Root
		tc.Registers = ws.Registers()
		tc.Binary = func(ctx context.Context, profile string) (string, error) {
			return triage.EnsureBinary(ctx, ws, target, store.Profile(profile), cfg)
		}
	} else {
		if _, err := os.Stat(o.binary); err != nil {
			return nil, usagef("binary %s: %v", o.binary, err)
		}
		bin, _ := filepath.Abs(o.binary)
		own := profileOfPath(bin)
		tc.Profile = own
		tc.Binary = func(_ context.Context, profile string) (string, error) {
			if profile == own {
				return bin, nil
			}
			other := siblingBuild(bin, profile)
			if other == "" {
				return "", fmt.Errorf("no %s build next to %s", profile, bin)
			}
			if _, err := os.Stat(other); err != nil {
				return "", fmt.Errorf("no %s build next to %s (looked for %s)", profile, bin, other)
			}
			return other, nil
		}
		tc.Root = root
		tc.Registers = regbits.Scan(root)
		t = &triage.Target{}
	}
	tc.Flags = triage.ReproFlags(t, kind, &cfg.Reproduce)

	// What is known of the crash: its record, or one run now on the
	// release build (the dev build is slow for OOMs and timeouts).
	crashBin, err := tc.Binary(ctx, string(store.Release))
	if err != nil {
		// --binary with no release build beside it: its own build.
		if crashBin, err = tc.Binary(ctx, tc.Profile); err != nil {
			return nil, err
		}
	}
	if target == "" {
		t = &triage.Target{Name: filepath.Base(crashBin)}
	}
	a.log.Infof("learning the crash of %s", filepath.Base(artifact))
	var wsForRecord *triage.Workspace
	if root != "" {
		wsForRecord = &triage.Workspace{Root: root}
	}
	crash, summary, err := triage.KnownCrash(ctx, triage.CrashRequest{
		Workspace: wsForRecord, Config: cfg, Stages: triage.DefaultStages(), Target: t,
		Profile: store.Profile(profileOfPath(crashBin)), Binary: crashBin, Input: artifact, Flags: tc.Flags,
	})
	if err != nil {
		return nil, err
	}
	tc.Crash, tc.Summary = crash, summary
	return tc, nil
}

// profileOfPath tells a cargo profile from the binary's directory
// (<target>/<triple>/debug/<name> is the dev build).
func profileOfPath(bin string) string {
	if filepath.Base(filepath.Dir(bin)) == "debug" {
		return terminal.Dev
	}
	return terminal.Release
}

// siblingBuild is where cargo puts the other profile's binary.
func siblingBuild(bin, profile string) string {
	dir, name := filepath.Split(bin)
	parent := filepath.Dir(filepath.Clean(dir))
	switch {
	case profile == terminal.Dev && filepath.Base(filepath.Clean(dir)) == "release":
		return filepath.Join(parent, "debug", name)
	case profile == terminal.Release && filepath.Base(filepath.Clean(dir)) == "debug":
		return filepath.Join(parent, "release", name)
	}
	return ""
}
