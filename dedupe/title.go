package dedupe

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/fuzztriage/triage/crashkind"
)

// Title is a bucket's one-line title, the same wherever it is shown (the
// run summary, bucket.yaml, reports, exports, SARIF, HTML): what kind of
// crash, where, and the message template's first line, all from the key,
// so every member of the bucket gives the same title.
func (k Key) Title() string {
	where := k.Site
	switch {
	case where != "":
	case k.Entry != "":
		where = k.Entry
	case len(k.Frames) > 0:
		where = k.Frames[0]
	case len(k.Cycle) > 0:
		where = strings.Join(k.Cycle, " → ") + " (recursion)"
	case k.Target != "":
		where = k.Target
	default:
		where = "?"
	}
	t := fmt.Sprintf("%s in %s", crashkind.Of(crashkind.Kind(k.Kind)).Title, where)
	if msg, _, _ := strings.Cut(k.Message, "\n"); msg != "" {
		t += ": " + msg
	}
	return t
}

// ParseKey reads a key's string form (Key.String) back.
func ParseKey(s string) (Key, error) {
	parts := splitEscaped(s, '|')
	if len(parts) < 2 || !strings.HasPrefix(parts[0], "v") {
		return Key{}, fmt.Errorf("not a bucket key: %q", s)
	}
	v, err := strconv.Atoi(parts[0][1:])
	if err != nil {
		return Key{}, fmt.Errorf("bucket key %q: bad version", s)
	}
	k := Key{Version: v, Kind: parts[1]}
	if k.Kind == "" || strings.ContainsAny(k.Kind, "\\=,\n") {
		return Key{}, fmt.Errorf("bucket key %q: bad kind", s)
	}
	for _, p := range parts[2:] {
		name, val, ok := strings.Cut(p, "=")
		if !ok {
			return Key{}, fmt.Errorf("bucket key %q: part %q has no name", s, p)
		}
		list := func() []string {
			var out []string
			for _, item := range splitEscaped(val, ',') {
				out = append(out, unescapeKeyPart(item))
			}
			return out
		}
		switch name {
		case "msg":
			k.Message = unescapeKeyPart(val)
		case "site":
			site := unescapeKeyPart(val)
			if i := strings.LastIndexByte(site, ':'); i >= 0 {
				k.SiteFile, k.Site = site[:i], site[i+1:]
			} else {
				k.Site = site
			}
		case "callers":
			k.Callers = list()
		case "frames":
			k.Frames = list()
		case "cycle":
			k.Cycle = list()
		case "entry":
			k.Entry = unescapeKeyPart(val)
		case "target":
			k.Target = unescapeKeyPart(val)
		default:
			return Key{}, fmt.Errorf("bucket key %q: unknown part %q", s, name)
		}
	}
	return k, nil
}

// splitEscaped splits s at sep where it is not backslash-escaped, keeping
// the escapes for unescapeKeyPart.
func splitEscaped(s string, sep byte) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

var keyUnescaper = strings.NewReplacer(`\\`, `\`, `\n`, "\n", `\|`, "|", `\,`, ",")

func unescapeKeyPart(s string) string { return keyUnescaper.Replace(s) }
