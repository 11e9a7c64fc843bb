package lldbscript

import (
	"os/exec"
	"testing"
)

// ShellQuote gives one line that a shell turns back into the string, for
// every string: printed commands can be pasted as they are.
func TestShellQuoteRoundTrip(t *testing.T) {
	for _, s := range []string{"plain", "a b", "it's", "a\nb", "x\\y", "e\x1b[31m", "q'\n'\\", "`id`", "$(id)", "tab\tx", "crash-x\nplatform shell id"} {
		q := ShellQuote(s)
		for _, c := range q {
			if c == '\n' || c == '\r' {
				t.Fatalf("%q: line break in %q", s, q)
			}
		}
		out, err := exec.Command("sh", "-c", "printf '%s' "+q).Output()
		if err != nil || string(out) != s {
			t.Errorf("%q -> %q -> %q %v", s, q, out, err)
		}
	}
}
