package report

import (
	"path/filepath"
	"strings"

	"github.com/fuzztriage/triage/lldbscript"
	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/triage"
)

// Commands are shell commands that reproduce, minimize and debug a bug by
// hand, each to be run from the workspace root. Each list has the plain
// cargo-fuzz form, OpenVMM's `cargo xtask fuzz` form, and triage's own.
type Commands struct {
	Reproduce []Command `json:"reproduce" yaml:"reproduce"`
	Minimize  []Command `json:"minimize" yaml:"minimize"`
	Debug     []Command `json:"debug" yaml:"debug"`
}

// Command is one shell command.
type Command struct {
	// Tool is cargo-fuzz, xtask, binary, lldb or triage.
	Tool string `json:"tool" yaml:"tool"`
	Line string `json:"line" yaml:"line"`
}

// The LLDB a hand-run session command names (triage's default).
const handLLDB = "lldb-19"

// commands builds the hand commands for a bug. The reproduce and debug
// commands use the minimized input when there is one (it is verified to be
// the same bug, and smaller); minimize starts from the representative.
func (s *Snapshot) commands(bug *Bug, rep *store.ArtifactRecord) Commands {
	var c Commands
	t := bug.Target
	var target *triage.Target
	if s.Workspace != nil {
		target = s.Workspace.Target(t)
	}
	fuzzDir := "<fuzz dir of " + t + ">"
	release := "target/x86_64-unknown-linux-gnu/release/" + t
	if target != nil {
		fuzzDir = s.displayPath(target.FuzzDir)
		release = s.displayPath(target.BinaryPath(store.Release))
	}
	orig := bug.Representative.Path
	input := orig
	if m := bug.Minimized; m != nil && m.Verified && !m.Missing {
		input = m.Path
	}
	var flags []string
	kind := store.ArtifactCrash
	if rep != nil {
		kind = rep.Kind
		if r := rep.Reproductions[store.Release]; r != nil {
			flags = handFlags(r.Flags, kind)
		}
	}
	fl := strings.Join(quoteAll(flags), " ")
	withFlags := func(line, sep string) string {
		if fl == "" {
			return line
		}
		return line + " " + sep + " " + fl
	}
	q := lldbscript.ShellQuote
	c.Reproduce = []Command{
		{"cargo-fuzz", withFlags("cargo +nightly fuzz run "+q(t)+" "+q(input)+" --fuzz-dir "+q(fuzzDir), "--")},
		{"xtask", withFlags("cargo +nightly xtask fuzz run "+q(t)+" "+q(input), "-- --")},
		{"binary", "RUST_BACKTRACE=1 " + strings.Join(append(append([]string{q(release)}, quoteAll(flags)...), q(input)), " ")},
		{"triage", "triage repro " + q(t) + " " + q(input)},
	}
	c.Minimize = []Command{
		{"cargo-fuzz", "cargo +nightly fuzz tmin " + q(t) + " " + q(orig) + " --fuzz-dir " + q(fuzzDir)},
		{"xtask", "cargo +nightly xtask fuzz tmin " + q(t) + " " + q(orig)},
		{"triage", "triage minimize " + q(t) + " " + q(orig)},
	}
	c.Debug = []Command{
		{"cargo-fuzz", "cargo +nightly fuzz build " + q(t) + " --fuzz-dir " + q(fuzzDir) + " --dev"},
		{"xtask", "cargo +nightly xtask fuzz build " + q(t) + " -- --dev"},
	}
	for _, ss := range bug.LLDB {
		if ss.commandFile == "" || ss.InputFile == "" || target == nil {
			continue
		}
		// The command file names its files relative to its directory:
		// the line changes into it, and names the binary from there.
		dir := filepath.Dir(ss.commandFile)
		prof := store.Release
		if ss.Profile == string(store.Dev) {
			prof = store.Dev
		}
		bin, err := filepath.Rel(dir, target.BinaryPath(prof))
		if err != nil {
			continue
		}
		c.Debug = append(c.Debug, Command{"lldb", lldbscript.HandRunCommand(handLLDB, s.displayPath(dir), filepath.Base(ss.commandFile), bin, append(append([]string(nil), flags...), ss.InputFile))})
		break
	}
	c.Debug = append(c.Debug,
		Command{"triage", "triage lldb " + q(t) + " " + q(input)},
		Command{"triage", "triage debug " + q(t) + " " + q(input)},
	)
	return c
}

// handFlags are the libFuzzer flags a person needs: a crash input needs
// none (the -timeout= triage adds to every run only guards against hangs).
func handFlags(flags []string, kind store.ArtifactKind) []string {
	var out []string
	for _, f := range flags {
		if kind == store.ArtifactCrash && strings.HasPrefix(f, "-timeout=") {
			continue
		}
		out = append(out, f)
	}
	return out
}

func quoteAll(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = lldbscript.ShellQuote(a)
	}
	return out
}
