package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/fuzztriage/triage/crashkind"
	"github.com/fuzztriage/triage/internal/fixture"
)

var update = flag.Bool("update", false, "rewrite generated files: the command reference in docs/cli, the keys of symbolize/testdata/kinds/expect.yaml")

// referenceTree is the command tree the reference documents.
func referenceTree() *cobra.Command {
	a := &app{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, stdin: strings.NewReader("")}
	root := newRoot(context.Background(), a)
	root.DisableAutoGenTag = true
	root.InitDefaultCompletionCmd()
	root.InitDefaultHelpCmd()
	return root
}

// The command reference in docs/cli is generated from the command tree;
// this fails when it is stale (go test ./cmd/triage -run Reference -update
// writes it).
func TestCLIReferenceUpToDate(t *testing.T) {
	dir := filepath.Join(fixture.ModuleRoot(), "docs", "cli")
	gen := t.TempDir()
	if err := doc.GenMarkdownTree(referenceTree(), gen); err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.Glob(filepath.Join(gen, "*.md"))
	if *update {
		old, _ := filepath.Glob(filepath.Join(dir, "*.md"))
		for _, f := range old {
			os.Remove(f)
		}
		os.MkdirAll(dir, 0o755)
		for _, f := range want {
			data, _ := os.ReadFile(f)
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	have, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	names := func(fs []string) []string {
		var out []string
		for _, f := range fs {
			out = append(out, filepath.Base(f))
		}
		sort.Strings(out)
		return out
	}
	if strings.Join(names(have), " ") != strings.Join(names(want), " ") {
		t.Fatalf("docs/cli has %v, the tree gives %v (-update rewrites it)", names(have), names(want))
	}
	for _, f := range want {
		w, _ := os.ReadFile(f)
		h, _ := os.ReadFile(filepath.Join(dir, filepath.Base(f)))
		if !bytes.Equal(w, h) {
			t.Errorf("docs/cli/%s is stale (go test ./cmd/triage -run Reference -update rewrites it)", filepath.Base(f))
		}
	}
}

// The README's command table lists exactly the commands of the tree, with
// their synopses.
func TestREADMECommandTable(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(fixture.ModuleRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| `triage ([a-z]+)( [^`]*)?` \\| ")
	listed := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			listed[m[1]] = strings.TrimSpace(m[2])
		}
	}
	root := referenceTree()
	for _, c := range root.Commands() {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		syn, ok := listed[c.Name()]
		if !ok {
			t.Errorf("README's command table lacks `triage %s`", c.Name())
			continue
		}
		delete(listed, c.Name())
		if want := strings.TrimSpace(strings.TrimPrefix(c.Use, c.Name())); !synopsisAgrees(syn, want) {
			t.Errorf("README lists `triage %s %s`; the command's synopsis is %q", c.Name(), syn, want)
		}
	}
	for name := range listed {
		t.Errorf("README lists `triage %s`, which is not a command", name)
	}
}

// synopsisAgrees says the README's short synopsis names the same
// positional arguments as the command's (flags may be left out).
func synopsisAgrees(readme, use string) bool {
	args := func(s string) []string {
		var out []string
		for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '|' }) {
			w = strings.Trim(w, "[]().\\")
			if w != "" && strings.ToUpper(w) == w && !strings.HasPrefix(w, "-") {
				out = append(out, w)
			}
		}
		sort.Strings(out)
		return out
	}
	r, u := args(readme), args(use)
	for _, a := range r {
		if !contains(u, a) {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// examples are the `triage ...` command lines of the README, the docs and
// every command's help, with where each came from.
func examples(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	root := fixture.ModuleRoot()
	files, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	files = append(files, filepath.Join(root, "README.md"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range commandLines(string(data)) {
			out[line] = filepath.Base(f)
		}
	}
	for _, c := range referenceTree().Commands() {
		for _, line := range commandLines(c.Example) {
			out[line] = "triage " + c.Name() + " --help"
		}
	}
	return out
}

// commandLines finds the triage invocations in text: lines (joined over
// trailing backslashes) that start with "triage " or "bin/triage ", and
// those after "$ " or "&& " in the same line.
func commandLines(text string) []string {
	text = strings.ReplaceAll(text, "\\\n", " ")
	var out []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "$ "))
		for _, part := range regexp.MustCompile(`&&|\|\||;|\|`).Split(line, -1) {
			part = strings.TrimSpace(part)
			part = strings.TrimPrefix(part, "bin/")
			if strings.HasPrefix(part, "triage ") && !strings.Contains(part, "...") {
				out = append(out, part)
			}
		}
	}
	return out
}

// shellWords splits a command line the way sh would (quotes, escapes),
// stopping at a redirection.
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	quote := byte(0)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '>' || c == '<':
			if inWord {
				w := cur.String()
				if w == "2" || w == "1" {
					cur.Reset()
					inWord = false
				}
			}
			if inWord {
				words = append(words, cur.String())
			}
			return words
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// Every example names a command of the tree and only flags it has, with
// flags before or after the positional arguments.
func TestExamplesMatchTheTree(t *testing.T) {
	ex := examples(t)
	if len(ex) < 30 {
		t.Fatalf("only %d examples found", len(ex))
	}
	for line, where := range ex {
		words := shellWords(line)[1:]
		root := referenceTree()
		cmd, rest, err := root.Find(words)
		if err != nil || cmd == root {
			t.Errorf("%s: %q: no such command (%v)", where, line, err)
			continue
		}
		if err := cmd.ParseFlags(rest); err != nil {
			t.Errorf("%s: %q: %v", where, line, err)
		}
	}
}

// Flags may come after the positional arguments (pflag, GNU style): the
// report's own example of what failed with Go's flag package.
func TestFlagsAfterPositionals(t *testing.T) {
	ws := fixture.BuiltCopy(t)
	code, out, errs := runCLI(t, "run", ws, "--no-build", "--no-lldb", "--no-dev", "--minimize", "off", "--progress", "never", "--target", "fuzz_chipset_cmos_rtc")
	if code != 1 || !strings.Contains(out, "new buckets: 3") {
		t.Fatalf("run WS --flags: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = runCLI(t, "list", ws, "--format", "json")
	if code != 0 || !strings.HasPrefix(strings.TrimSpace(out), "[") {
		t.Errorf("list WS --format json: exit %d\n%s", code, out)
	}
}

// Shell completion: scripts for bash, zsh and fish, and dynamic completion
// of target names, artifact files and bucket ids from the workspace and
// its store.
func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		code, out, errs := runCLI(t, "completion", shell)
		if code != 0 || !strings.Contains(out, "triage") || len(out) < 500 {
			t.Errorf("completion %s: exit %d %s", shell, code, errs)
		}
	}
	ws, _, ids := quickStore(t)
	complete := func(args ...string) []string {
		code, out, errs := runCLI(t, append([]string{"__complete", "--workspace", ws}, args...)...)
		if code != 0 {
			t.Fatalf("__complete %v: exit %d %s", args, code, errs)
		}
		var got []string
		for _, l := range strings.Split(out, "\n") {
			if l != "" && !strings.HasPrefix(l, ":") {
				got = append(got, strings.SplitN(l, "\t", 2)[0])
			}
		}
		return got
	}
	if got := complete("repro", "fuzz_chip"); strings.Join(got, " ") != "fuzz_chipset_battery fuzz_chipset_cmos_rtc" {
		t.Errorf("targets: %v", got)
	}
	arts := complete("lldb", "fuzz_ide", "")
	if len(arts) < 6 || !strings.Contains(arts[0], "artifacts/fuzz_ide/crash-") {
		t.Errorf("artifacts of fuzz_ide: %v", arts)
	}
	if got := complete("report", ""); strings.Join(got, " ") != strings.Join(ids, " ") {
		t.Errorf("bucket ids: %v, want %v", got, ids)
	}
	if got := complete("run", "--minimize", ""); strings.Join(got, " ") != "buckets all off" {
		t.Errorf("--minimize values: %v", got)
	}
}

// The README's table of crash kinds is the crashkind table, rendered
// (-update rewrites it).
func TestREADMEKindsTable(t *testing.T) {
	path := filepath.Join(fixture.ModuleRoot(), "README.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- crash kinds: generated from crashkind/table.go -->\n", "<!-- end of crash kinds -->\n"
	text := string(data)
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i {
		t.Fatalf("README lacks the generated kinds table between %q and %q", begin, end)
	}
	var b strings.Builder
	if err := crashkind.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	have := text[i+len(begin) : j]
	if have == b.String() {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(text[:i+len(begin)]+b.String()+text[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README's kinds table is stale: go test ./cmd/triage -run TestREADMEKindsTable -update")
}
