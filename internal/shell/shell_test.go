package shell

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func testShell(out *bytes.Buffer, log *[]string) *Shell {
	return New("(t) ", out, []*Command{
		{
			Name: "frame", Aliases: []string{"f"}, Usage: "frame N",
			Help: "select a frame\n\nShows the source around its line.",
			Run: func(ctx context.Context, args []string) error {
				*log = append(*log, "frame "+strings.Join(args, ","))
				return nil
			},
			Complete: func(args []string, word string) []string {
				if len(args) > 0 {
					return nil
				}
				var out []string
				for _, n := range []string{"0", "1", "10"} {
					if strings.HasPrefix(n, word) {
						out = append(out, n)
					}
				}
				return out
			},
		},
		{
			Name: "fail", Usage: "fail", Help: "always fails",
			Run: func(context.Context, []string) error { return errors.New("boom") },
		},
	})
}

func TestExecuteAndAliases(t *testing.T) {
	var out bytes.Buffer
	var log []string
	s := testShell(&out, &log)
	if err := s.Execute(context.Background(), "f 3"); err != nil {
		t.Fatal(err)
	}
	if err := s.Execute(context.Background(), `frame "a b"`); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(log, []string{"frame 3", "frame a b"}) {
		t.Errorf("log %v", log)
	}
	if err := s.Execute(context.Background(), "nosuch"); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("unknown command: %v", err)
	}
	if err := s.Execute(context.Background(), "q"); !errors.Is(err, ErrQuit) {
		t.Errorf("q: %v", err)
	}
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	var log []string
	s := testShell(&out, &log)
	if err := s.Execute(context.Background(), "help"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"frame N (f)", "select a frame", "quit (exit, q)", "help [COMMAND]"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "Shows the source") {
		t.Errorf("the overview shows details")
	}
	out.Reset()
	if err := s.Execute(context.Background(), "help f"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Shows the source around its line.") || !strings.Contains(out.String(), "Aliases: f") {
		t.Errorf("help f:\n%s", out.String())
	}
}

func TestComplete(t *testing.T) {
	var out bytes.Buffer
	var log []string
	s := testShell(&out, &log)
	for _, c := range []struct {
		line string
		head string
		want []string
	}{
		{"fr", "", []string{"frame"}},
		{"f", "", []string{"fail", "frame"}},
		{"frame 1", "frame ", []string{"1", "10"}},
		{"f ", "f ", []string{"0", "1", "10"}},
		{"frame 1 ", "frame 1 ", nil},
		{"help fr", "help ", []string{"frame"}},
		{"nosuch x", "nosuch ", nil},
	} {
		head, got, tail := s.Complete(c.line, len(c.line))
		if head != c.head || !reflect.DeepEqual(got, c.want) || tail != "" {
			t.Errorf("%q: head %q completions %v tail %q; want %q %v", c.line, head, got, tail, c.head, c.want)
		}
	}
	// The cursor in the middle keeps what follows it.
	head, got, tail := s.Complete("fr 1", 2)
	if head != "" || !reflect.DeepEqual(got, []string{"frame"}) || tail != " 1" {
		t.Errorf("mid-line: %q %v %q", head, got, tail)
	}
}

// Without a terminal the shell reads lines, echoes them, reports errors and
// goes on, skips comments, and stops at quit.
func TestScriptedSession(t *testing.T) {
	var out bytes.Buffer
	var log []string
	s := testShell(&out, &log)
	s.In = strings.NewReader("# a comment\nframe 1\nfail\n\nframe 2\nquit\nframe 3\n")
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(log, []string{"frame 1", "frame 2"}) {
		t.Errorf("ran %v", log)
	}
	for _, want := range []string{"(t) frame 1\n", "(t) fail\nerror: boom\n", "(t) quit\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("transcript lacks %q:\n%s", want, out.String())
		}
	}
}

func TestSplit(t *testing.T) {
	for in, want := range map[string][]string{
		"":                    nil,
		"  a  b ":             {"a", "b"},
		`print "x y" z`:       {"print", "x y", "z"},
		`expr 'a "b"'`:        {"expr", `a "b"`},
		"break lib.rs:10 ign": {"break", "lib.rs:10", "ign"},
	} {
		if got := Split(in); !reflect.DeepEqual(got, want) {
			t.Errorf("Split(%q) = %q, want %q", in, got, want)
		}
	}
}

// A command completing structured words keeps the typed prefix in the head,
// so liner lists bare names.
func TestCompleteWord(t *testing.T) {
	var out bytes.Buffer
	s := New("(t) ", &out, []*Command{{
		Name: "print", Usage: "print PATH", Help: "print a path",
		Run: func(context.Context, []string) error { return nil },
		CompleteWord: func(args []string, word string) (string, []string) {
			if len(args) > 0 {
				return "", nil
			}
			base, partial, ok := strings.Cut(word, ".")
			if !ok {
				return "", []string{"dev"}
			}
			var list []string
			for _, f := range []string{"channels", "config", "name"} {
				if strings.HasPrefix(f, partial) {
					list = append(list, f)
				}
			}
			return base + ".", list
		},
	}})
	for _, c := range []struct {
		line, head string
		want       []string
	}{
		{"print d", "print ", []string{"dev"}},
		{"print dev.c", "print dev.", []string{"channels", "config"}},
		{"print dev.", "print dev.", []string{"channels", "config", "name"}},
		{"print dev.x y", "print dev.x ", nil},
	} {
		head, got, _ := s.Complete(c.line, len(c.line))
		if head != c.head || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: %q %q, want %q %q", c.line, head, got, c.head, c.want)
		}
	}
}
