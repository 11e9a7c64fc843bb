// Package llvmcov runs LLVM's source-based coverage tools (llvm-profdata,
// llvm-cov) of the version that matches the toolchain that built a binary
// (their profile formats change between versions: llvm-cov 16 cannot read
// rustc 22's profiles) and reads what they print: the export JSON,
// streamed, and lcov. Nothing else in triage runs them.
package llvmcov

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/fuzztriage/triage/internal/procrun"
)

// Tools are one LLVM version's coverage tools.
type Tools struct {
	Major    int
	Profdata string
	Cov      string
	// From says where they were found.
	From string
}

// MissingError says no tools of the needed version were found.
type MissingError struct {
	Major int
	// Why lists what was looked at.
	Why string
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("no LLVM %d coverage tools (llvm-profdata and llvm-cov %d; rustc's LLVM is %d and older tools cannot read its profiles): install Debian's llvm-%d (apt-get install llvm-%d), or `rustup component add llvm-tools`, or pass --llvm-bin DIR (%s)",
		e.Major, e.Major, e.Major, e.Major, e.Major, e.Why)
}

var (
	rustcLLVMRE = regexp.MustCompile(`(?m)^LLVM version: (\d+)\.`)
	toolLLVMRE  = regexp.MustCompile(`LLVM version (\d+)\.`)
)

// RustcLLVM is the LLVM major version of `rustc -vV` (toolchain "" is the
// default one; "nightly" runs rustc +nightly).
func RustcLLVM(ctx context.Context, toolchain string) (major int, sysroot string, err error) {
	args := []string{"-vV"}
	if toolchain != "" {
		args = append([]string{"+" + toolchain}, args...)
	}
	res, err := procrun.Run(ctx, procrun.Spec{Path: "rustc", Args: args, Timeout: time.Minute, Leaf: false})
	if err != nil {
		return 0, "", fmt.Errorf("rustc -vV: %w", err)
	}
	m := rustcLLVMRE.FindSubmatch(res.Stdout)
	if m == nil {
		return 0, "", fmt.Errorf("rustc -vV printed no LLVM version (exit %d): %s", res.ExitCode, strings.TrimSpace(string(res.Stderr)))
	}
	major, _ = strconv.Atoi(string(m[1]))
	sargs := []string{"--print", "sysroot"}
	if toolchain != "" {
		sargs = append([]string{"+" + toolchain}, sargs...)
	}
	if res, err := procrun.Run(ctx, procrun.Spec{Path: "rustc", Args: sargs, Timeout: time.Minute}); err == nil && res.ExitCode == 0 {
		sysroot = strings.TrimSpace(string(res.Stdout))
	}
	return major, sysroot, nil
}

// Find looks for the coverage tools of LLVM major: in dir when given (it
// must hold llvm-profdata and llvm-cov of that version), else
// llvm-profdata-N / llvm-cov-N on PATH, /usr/lib/llvm-N/bin, and the
// toolchain's llvm-tools component under sysroot.
func Find(ctx context.Context, major int, dir, sysroot string) (*Tools, error) {
	type cand struct{ profdata, cov, from string }
	var cands []cand
	if dir != "" {
		cands = []cand{{filepath.Join(dir, "llvm-profdata"), filepath.Join(dir, "llvm-cov"), "--llvm-bin " + dir}}
	} else {
		n := strconv.Itoa(major)
		cands = append(cands, cand{"llvm-profdata-" + n, "llvm-cov-" + n, "PATH"},
			cand{"/usr/lib/llvm-" + n + "/bin/llvm-profdata", "/usr/lib/llvm-" + n + "/bin/llvm-cov", "/usr/lib/llvm-" + n})
		if sysroot != "" {
			b := filepath.Join(sysroot, "lib", "rustlib", "x86_64-unknown-linux-gnu", "bin")
			cands = append(cands, cand{filepath.Join(b, "llvm-profdata"), filepath.Join(b, "llvm-cov"), "rustup llvm-tools"})
		}
	}
	var why []string
	for _, c := range cands {
		p, err1 := procrun.LookPath(c.profdata)
		v, err2 := procrun.LookPath(c.cov)
		if err1 != nil || err2 != nil {
			why = append(why, c.from+": not there")
			continue
		}
		got, err := version(ctx, v)
		if err != nil {
			why = append(why, c.from+": "+err.Error())
			continue
		}
		if got != major {
			why = append(why, fmt.Sprintf("%s: llvm-cov is LLVM %d", c.from, got))
			continue
		}
		return &Tools{Major: major, Profdata: p, Cov: v, From: c.from}, nil
	}
	return nil, &MissingError{Major: major, Why: strings.Join(why, "; ")}
}

func version(ctx context.Context, tool string) (int, error) {
	res, err := procrun.Run(ctx, procrun.Spec{Path: tool, Args: []string{"--version"}, Timeout: time.Minute, Leaf: true})
	if err != nil {
		return 0, err
	}
	m := toolLLVMRE.FindSubmatch(append(res.Stdout, res.Stderr...))
	if m == nil {
		return 0, errors.New("--version names no LLVM version")
	}
	return strconv.Atoi(string(m[1]))
}

// Merge merges raw profiles into one indexed profile (out).
func (t *Tools) Merge(ctx context.Context, out string, raws []string) error {
	if len(raws) == 0 {
		return errors.New("no raw profiles to merge: the coverage binary wrote none (is it built with -Cinstrument-coverage?)")
	}
	list := out + ".inputs"
	if err := os.WriteFile(list, []byte(strings.Join(raws, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	defer os.Remove(list)
	res, err := procrun.Run(ctx, procrun.Spec{Path: t.Profdata, Args: []string{"merge", "-sparse", "-f", list, "-o", out}, Timeout: 30 * time.Minute, Leaf: true})
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("%s merge: exit status %d: %s", t.Profdata, res.ExitCode, lastLines(res.Stderr, 4))
	}
	return nil
}

// run runs llvm-cov export, handing its stdout to parse as it arrives.
func (t *Tools) export(ctx context.Context, format, profdata string, binaries []string, parse func(io.Reader) error) error {
	if len(binaries) == 0 {
		return errors.New("llvm-cov export: no binary")
	}
	args := []string{"export", "-format=" + format, binaries[0], "-instr-profile=" + profdata}
	for _, b := range binaries[1:] {
		args = append(args, "-object", b)
	}
	pr, pw := io.Pipe()
	parsed := make(chan error, 1)
	go func() {
		err := parse(pr)
		// Whatever the parser left must still be read, or the tool blocks.
		_, _ = io.Copy(io.Discard, pr)
		parsed <- err
	}()
	res, err := procrun.Run(ctx, procrun.Spec{Path: t.Cov, Args: args, Timeout: 30 * time.Minute, Leaf: true, StdoutTee: pw, OutputCap: 64 << 10})
	pw.Close()
	perr := <-parsed
	if err != nil {
		return err
	}
	if res.ExitCode != 0 || res.TimedOut {
		return fmt.Errorf("%s export -format=%s: exit status %d: %s", t.Cov, format, res.ExitCode, lastLines(res.Stderr, 4))
	}
	if perr != nil {
		return fmt.Errorf("%s export -format=%s: %w", t.Cov, format, perr)
	}
	return nil
}

// Export reads the export JSON of binaries under profdata.
func (t *Tools) Export(ctx context.Context, profdata string, binaries []string) (*Export, error) {
	var e *Export
	err := t.export(ctx, "text", profdata, binaries, func(r io.Reader) error {
		var err error
		e, err = ParseExport(r)
		return err
	})
	return e, err
}

// LCOV reads the lcov export of binaries under profdata; raw, when not
// nil, also receives the lcov text (for --lcov FILE).
func (t *Tools) LCOV(ctx context.Context, profdata string, binaries []string, raw io.Writer) (map[string]*LCOVFile, error) {
	var files map[string]*LCOVFile
	err := t.export(ctx, "lcov", profdata, binaries, func(r io.Reader) error {
		if raw != nil {
			r = io.TeeReader(r, raw)
		}
		var err error
		files, err = ParseLCOV(r)
		return err
	})
	return files, err
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
