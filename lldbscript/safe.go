package lldbscript

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/fuzztriage/triage/internal/inert"
)

// This file is where untrusted text meets lldb. A command file is lines of
// lldb commands; a newline in anything written into it starts a new
// command, and lldb evaluates `backticks` as expressions even inside a
// quoted argument or in target.run-args. So every outside string goes
// through one of these:
//   - Comment, for comment lines: control characters become escapes, so
//     nothing can end the comment;
//   - quoteArg, for arguments of commands: double-quoted with \ " and `
//     escaped, and rejected when it holds a control character (no quoting
//     can carry a newline in an lldb command line);
//   - CheckFlag, CheckBinaryPath and CheckVariablePath, for words that go
//     into the file or onto lldb's command line unquoted;
//   - placeInput, for the crash input: the inferior gets a copy named by
//     its SHA1, never the original name.

// ErrUnsafe says a string cannot be put into an lldb command file or
// command line safely; the error names it.
var ErrUnsafe = errors.New("unsafe for an lldb command file")

// Comment makes s inert in a comment line: newlines, carriage returns and
// every other control character become escapes (inert.Line).
func Comment(s string) string { return inert.Line(s) }

func isControl(r rune) bool { return inert.IsControl(r) }

// lldbQuote quotes an argument for lldb's command line (double quotes,
// backslash escapes) when it needs it. The caller has checked that s has
// no control character (see quoteArg).
func lldbQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"'`\\{}#") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "`", "\\`")
	return `"` + r.Replace(s) + `"`
}

// quoteArg is lldbQuote for the template: a string with a control
// character cannot be an lldb argument, and fails the file.
func quoteArg(s string) (string, error) {
	if strings.IndexFunc(s, isControl) >= 0 || !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: %q holds a control character or is not UTF-8", ErrUnsafe, s)
	}
	return lldbQuote(s), nil
}

// flagPattern is a libFuzzer flag as the session passes it: -name=value
// with a value of plain characters.
var flagPattern = regexp.MustCompile(`^-[A-Za-z_][A-Za-z0-9_]*=[A-Za-z0-9_.,:/+=@%-]*$`)

// CheckFlag accepts a libFuzzer flag for the inferior's arguments.
func CheckFlag(f string) error {
	if !flagPattern.MatchString(f) {
		return fmt.Errorf("%w: libFuzzer flag %q (want -name=value of letters, digits and ._,:/+=@%%-)", ErrUnsafe, f)
	}
	return nil
}

// CheckBinaryPath accepts the fuzz binary's path: lldb puts it into a
// `target create "..."` command of its own, unescaped.
func CheckBinaryPath(p string) error {
	if strings.ContainsAny(p, "\"`\\") || strings.IndexFunc(p, isControl) >= 0 || !utf8.ValidString(p) {
		return fmt.Errorf("%w: binary path %q (quotes, backticks, backslashes and control characters cannot be passed to lldb)", ErrUnsafe, p)
	}
	return nil
}

// variablePathPattern is what `frame variable` takes as a path: names,
// $variants$ and $discr$, fields, indexes, -> and the * and & operators.
var variablePathPattern = regexp.MustCompile(`^[*&]*[A-Za-z_$][A-Za-z0-9_$]*(?:(?:\.|->)[A-Za-z0-9_$]+|\[[0-9]+\])*$`)

// CheckVariablePath accepts a `frame variable` path typed by a user.
func CheckVariablePath(p string) error {
	if !variablePathPattern.MatchString(p) {
		return fmt.Errorf("%w: %q is not a variable path (names, .field, ->field, [N])", ErrUnsafe, p)
	}
	return nil
}

// safeFileName says name is a plain file name in the session directory.
func safeFileName(name string) bool {
	if name == "" || name == "." || name == ".." || strings.HasPrefix(name, "-") {
		return false
	}
	for _, r := range name {
		if !(r == '.' || r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// placeInput gives the inferior its input under a safe name in dir: a file
// that is already directly in dir with a safe name is used as it is;
// anything else is copied to input-<sha1>. The name returned is relative
// to dir (lldb runs there), so neither the input's name nor dir's path
// ever reaches lldb.
func placeInput(input, dir string, write func(string, []byte) error) (string, error) {
	abs, err := filepath.Abs(input)
	if err != nil {
		return "", err
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if filepath.Dir(abs) == absDir && safeFileName(filepath.Base(abs)) {
		if fi, err := os.Lstat(abs); err == nil && fi.Mode().IsRegular() {
			return filepath.Base(abs), nil
		}
	}
	f, err := os.Open(abs)
	if err != nil {
		return "", fmt.Errorf("crash input: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return "", fmt.Errorf("crash input %q: %w", Comment(input), err)
	}
	sum := sha1.Sum(data)
	name := "input-" + hex.EncodeToString(sum[:])
	if err := write(filepath.Join(absDir, name), data); err != nil {
		return "", err
	}
	return name, nil
}
