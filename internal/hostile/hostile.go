// Package hostile is the test corpus of attacker-chosen artifact names and
// contents: what a fuzzing machine, a bug-filing upload or a synced store
// can hand triage. Tests run the real pipeline, lldb sessions, reports and
// exports over it; nothing here is used outside tests.
package hostile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// MarkerEnv names the environment variable holding the path the injected
// commands try to create (names cannot hold a '/'): a test sets it and
// fails when that file appears.
const MarkerEnv = "TRIAGE_HOSTILE_MARKER"

// Marker is a word every injected command carries.
const Marker = "TRIAGE_HOSTILE_MARKER"

// Name is one hostile artifact name (a libFuzzer-looking prefix, so the
// pipeline picks it up) and what it tries.
type Name struct {
	Why  string
	Base string
}

// Names are hostile artifact base names. Those that carry a command make it
// create the file $TRIAGE_HOSTILE_MARKER. Every name starts with "crash-",
// so that a run takes it for a crash artifact.
func Names() []Name {
	touch := `touch "$` + MarkerEnv + `"`
	return []Name{
		{"newline then an lldb command", "crash-x\nplatform shell " + touch},
		{"newline then a script command", "crash-x\nscript import os; os.system('touch \"$" + MarkerEnv + "\"')"},
		{"carriage return then a command", "crash-x\rplatform shell " + touch},
		{"backtick (lldb expression)", "crash-`" + touch + "`"},
		{"shell command substitution", "crash-$(" + touch + ")"},
		{"semicolon", "crash-x; " + touch},
		{"single and double quotes", `crash-'"'"x`},
		{"spaces", "crash- a b c "},
		{"leading dash after prefix", "crash--help"},
		{"hash (lldb comment)", "crash-#x"},
		{"braces and backslash", `crash-{x}\y`},
		{"non-UTF-8 bytes", "crash-\xff\xfe\x80"},
		{"ANSI escape", "crash-\x1b[31mred\x1b[0m"},
		{"Markdown and HTML", "crash-<script>alert(1)<\u2215script>`**x**`[a](http:\u2215\u2215x)"},
		{"very long", "crash-" + strings.Repeat("A", 240)},
	}
}

// Content is one hostile artifact content and what it does to a run.
type Content struct {
	Why  string
	Data []byte
}

// Write creates dir/base with data, creating dir.
func Write(dir, base string, data []byte) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	p := filepath.Join(dir, base)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		return "", fmt.Errorf("hostile name %q: %w", base, err)
	}
	return p, nil
}

// Markdown is a panic message or name that would change a Markdown
// report's structure if it were not escaped.
const Markdown = "boom\n\n# Injected heading\n\n```\n</code></pre><script>alert(1)</script>\n[click](javascript:alert(1)) | a | b |\n"

// SetMarker points MarkerEnv at a fresh path under dir and returns it.
func SetMarker(t interface{ Setenv(k, v string) }, dir string) string {
	p := filepath.Join(dir, "marker-"+fmt.Sprint(os.Getpid()))
	t.Setenv(MarkerEnv, p)
	return p
}
