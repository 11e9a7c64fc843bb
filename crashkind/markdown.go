package crashkind

import (
	"fmt"
	"io"
	"strings"
)

// WriteMarkdown writes the table as the README shows it: one row per kind.
func WriteMarkdown(w io.Writer) error {
	cell := func(s string) string {
		s = strings.ReplaceAll(s, "\n", " ")
		return strings.ReplaceAll(s, "|", `\|`)
	}
	if _, err := fmt.Fprintln(w, "| kind | class | recognised by | crash stack | key | security | SARIF | ClusterFuzz crash_type |\n|---|---|---|---|---|---|---|---|"); err != nil {
		return err
	}
	for _, k := range All() {
		key := string(k.Key)
		if k.Key != KeyTarget {
			key += fmt.Sprintf(" %d", k.Frames)
		}
		switch k.Message {
		case MessageTemplate:
			key += " + message"
		case MessageFixed:
			key += " + " + fmt.Sprintf("%q", k.FixedMessage)
		}
		if k.Family != "" && k.Family != string(k.Kind) {
			key += " (family " + k.Family + ")"
		}
		sec := ""
		if k.Security {
			sec = "yes"
		}
		if _, err := fmt.Fprintf(w, "| `%s` | %s | %s | %s | %s | %s | %s | %s |\n", k.Kind, k.Class, cell(k.Recognized), k.Stack, cell(key), sec, k.SARIFLevel, cell(k.ClusterFuzz)); err != nil {
			return err
		}
	}
	return nil
}
