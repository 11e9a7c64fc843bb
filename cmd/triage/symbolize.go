package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/fuzztriage/triage/dwarfsym"
	"github.com/fuzztriage/triage/internal/inert"
	"github.com/fuzztriage/triage/symbolize"
)

func init() {
	register(&command{
		name:    "symbolize",
		summary: "demangle and symbolize a crash log (rustfilt + llvm-symbolizer), or print it parsed",
		usage:   "[LOG|-]",
		group:   "logs",
		help: `
Reads a crash log (what a fuzz binary printed; LOG, or stdin when LOG is
missing or -) and prints it back for people: every mangled Rust (legacy
and v0) and C++ symbol demangled, lldb's half-demangled names decoded,
::h<hash> suffixes and [crate disambiguators] dropped, like rustfilt.

--binary BIN also resolves, from BIN's DWARF, every frame the log left
unsymbolized, like llvm-symbolizer: sanitizer frames printed as
(BIN+0x147c05) get their function, file:line:col and inlined frames;
RUST_BACKTRACE=full frames with an address but no location get an "at"
line, and release builds' bare short names their module path. Pass the
binary that printed the log (its load address is taken from the log).

--all prints every report the log holds, in order, the one the run ended
with marked "crash": true (a log of UBSan warnings and then a crash, a
caught panic and then an ASan report, a minimizer's log of many runs);
text prints one line per report, yaml and json the parsed reports.

--format yaml|json prints the parsed trace instead: crash kind, signal,
panic message and location, every backtrace and the chosen frames, each
demangled, normalized for keys and tagged with its category (app,
fuzz-target, harness, std, panic, allocator, sanitizer, libc); with
--binary, symbolized first. --rules FILE adds or overrides frame category
rules (the format of symbolize/rules.yaml).

Exit codes: 0 printed; 1 the log or binary could not be read (or, with
--format yaml|json, the input is not a crash log: empty, binary or
unrecognizable); 2 usage errors.

Examples:
  fuzz_wire_decode crash-00bc 2>&1 | triage symbolize
  triage symbolize --binary target/x86_64-unknown-linux-gnu/release/fuzz_wire_decode asan.log
  triage symbolize --format json crash.log | jq '.frames[] | select(.category == "app") | .function'
  triage symbolize --all --format json ubsan.log | jq '.[] | {kind, crash}'
`,
		setup: func(fs *pflag.FlagSet) runFunc {
			binary := fs.String("binary", "", "fuzz binary that printed the log: resolve its unsymbolized frames from its DWARF")
			format := addFormat(fs, "text", "text", "yaml", "json")
			rulesFile := fs.String("rules", "", "frame category rules to add to (or override) the built-in ones")
			all := fs.Bool("all", false, "print every report of the log (the crash one marked), not only the last")
			return func(ctx context.Context, a *app, args []string) error {
				if err := format.check(); err != nil {
					return err
				}
				if len(args) > 1 {
					return usagef("at most one LOG argument, got %d", len(args))
				}
				if *binary != "" {
					if _, err := os.Stat(*binary); err != nil {
						return usagef("--binary: %v", err)
					}
				}
				name, log, err := openLogArg(a, args)
				if err != nil {
					return err
				}
				defer log.Close()
				sym := dwarfsym.NewSymbolizer()
				if *rulesFile != "" {
					r, err := symbolize.LoadRules(*rulesFile)
					if err != nil {
						return err
					}
					sym.Rules = r
				}
				if *all {
					return printAllReports(a, name, log, format, sym, *binary)
				}
				if format.text() {
					var opts symbolize.FilterOptions
					if *binary != "" {
						b, err := sym.Open(*binary)
						if err != nil {
							return err
						}
						opts.Binary = b
						// The binary's load address comes from the log's
						// report: read it once for that, then filter.
						if t, err := symbolize.ParseReader(log); err == nil {
							opts.Trace = t
						}
						if _, err := log.Seek(0, io.SeekStart); err != nil {
							return err
						}
					}
					return symbolize.FilterTo(a.stdout, log, opts)
				}
				t, err := symbolize.ParseReader(log)
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				if sym.Rules != nil {
					sym.Rules.Tag(t)
				}
				if *binary != "" {
					n, err := sym.SymbolizeTrace(t, *binary)
					if err != nil {
						return err
					}
					a.log.Debugf("symbolized %d frames from %s", n, *binary)
				}
				return writeStructured(a.stdout, format.value, t)
			}
		},
	})
}

// printAllReports prints every report of the log: a line each as text,
// the parsed reports as yaml or json.
func printAllReports(a *app, name string, log io.Reader, format *formatFlag, sym *dwarfsym.Symbolizer, binary string) error {
	var reports []*symbolize.Trace
	err := symbolize.ParseEach(log, func(t *symbolize.Trace) error {
		if sym.Rules != nil {
			sym.Rules.Tag(t)
		}
		if binary != "" {
			if _, err := sym.SymbolizeTrace(t, binary); err != nil {
				return err
			}
		}
		reports = append(reports, t)
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if !format.text() {
		if reports == nil {
			reports = []*symbolize.Trace{}
		}
		return writeStructured(a.stdout, format.value, reports)
	}
	for i, t := range reports {
		line := fmt.Sprintf("#%d %s", i+1, t.Kind)
		if l := t.Location; l != nil {
			line += fmt.Sprintf(" at %s:%d", l.File, l.Line)
		}
		if msg, _, _ := strings.Cut(t.Message, "\n"); msg != "" {
			line += ": " + msg
		} else if t.Summary != "" {
			line += ": " + t.Summary
		}
		if t.Crash {
			line += "  (the crash)"
		}
		fmt.Fprintln(a.stdout, inert.Line(line))
	}
	return nil
}

// openLogArg opens LOG, or stdin for "-" or no argument, for reading as
// it comes (stdin is spooled to a temporary file, so it can be read twice).
func openLogArg(a *app, args []string) (string, *os.File, error) {
	if len(args) == 0 || args[0] == "-" {
		tmp, err := os.CreateTemp("", "triage-log-*")
		if err != nil {
			return "", nil, err
		}
		os.Remove(tmp.Name()) // gone when closed
		if _, err := io.Copy(tmp, a.stdin); err != nil {
			tmp.Close()
			return "", nil, fmt.Errorf("reading stdin: %w", err)
		}
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			tmp.Close()
			return "", nil, err
		}
		return "stdin", tmp, nil
	}
	st, err := os.Stat(args[0])
	if errors.Is(err, os.ErrNotExist) {
		return "", nil, usagef("log %s does not exist", args[0])
	}
	if err != nil {
		return "", nil, err
	}
	if st.IsDir() {
		return "", nil, usagef("log %s is a directory", args[0])
	}
	f, err := os.Open(args[0])
	return args[0], f, err
}
