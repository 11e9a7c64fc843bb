package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/fuzztriage/triage/triage"
)

// formatFlag is --format: the one place a command's output formats are
// declared, checked and encoded.
type formatFlag struct {
	value   string
	allowed []string
}

// valuesAnnotation lists a flag's values for shell completion.
const valuesAnnotation = "triage_values"

// addFormat registers --format with its allowed values (the first is the
// default unless def says otherwise; "" means the flag is required).
func addFormat(fs *pflag.FlagSet, def string, allowed ...string) *formatFlag {
	f := &formatFlag{allowed: allowed}
	usage := "output format: " + strings.Join(allowed, ", ")
	if def == "" {
		usage += " (required)"
	}
	fs.StringVar(&f.value, "format", def, usage)
	_ = fs.SetAnnotation("format", valuesAnnotation, allowed)
	return f
}

// check validates the value.
func (f *formatFlag) check() error {
	for _, a := range f.allowed {
		if f.value == a {
			return nil
		}
	}
	if f.value == "" {
		return usagef("--format is required: one of %s", strings.Join(f.allowed, ", "))
	}
	return usagef("--format must be one of %s, not %q", strings.Join(f.allowed, ", "), f.value)
}

// text says the output is for people.
func (f *formatFlag) text() bool { return f.value == "text" }

// emit writes v as YAML or JSON, or calls text for people.
func (f *formatFlag) emit(w io.Writer, v any, text func(io.Writer)) error {
	if f.text() {
		text(w)
		return nil
	}
	return writeStructured(w, f.value, v)
}

// writeStructured prints v as YAML or JSON for machines.
func writeStructured(w io.Writer, format string, v any) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "yaml":
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		if err := enc.Encode(v); err != nil {
			return err
		}
		return enc.Close()
	}
	return fmt.Errorf("unsupported format %q", format)
}

// registerFlagCompletions completes the values of flags that list them.
func registerFlagCompletions(cmd *cobra.Command) {
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if vals, ok := f.Annotations[valuesAnnotation]; ok {
			_ = cmd.RegisterFlagCompletionFunc(f.Name, fixedCompletion(vals...))
		}
	})
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
func (s *stringList) Type() string       { return "strings" }

// workspaceRoot is the workspace a command works on: its WORKSPACE
// argument when it takes one and it was given, else --workspace. It must
// be a directory.
func (a *app) workspaceRoot(args []string) (string, error) {
	if len(args) > 1 {
		return "", usagef("at most one WORKSPACE argument, got %d", len(args))
	}
	root := a.g.workspace
	if len(args) == 1 {
		if a.g.workspaceSet && args[0] != a.g.workspace {
			return "", usagef("a WORKSPACE argument and --workspace %s: give one", a.g.workspace)
		}
		root = args[0]
	}
	st, err := os.Stat(root)
	if errors.Is(err, os.ErrNotExist) {
		return "", usagef("workspace %s does not exist", root)
	}
	if err != nil {
		return "", err
	}
	if !st.IsDir() {
		return "", usagef("workspace %s is not a directory", root)
	}
	return filepath.Abs(root)
}

// config reads root's triage.yaml (a bad one is a usage error naming the
// field) and applies --store.
func (a *app) config(root string) (*triage.Config, error) {
	cfg, err := triage.LoadConfig(root)
	if err != nil {
		var ce *triage.ConfigError
		if errors.As(err, &ce) {
			return nil, usagef("%v", err)
		}
		return nil, err
	}
	if a.g.store != "" {
		abs, err := filepath.Abs(a.g.store)
		if err != nil {
			return nil, err
		}
		cfg.Store = abs
	}
	return cfg, nil
}

// relTo shortens path for people when it lies under root.
func relTo(root, path string) string {
	if rel, err := filepath.Rel(root, path); err == nil && !filepath.IsAbs(rel) && rel != ".." && len(rel) < len(path) && !strings.HasPrefix(rel, "../") {
		return rel
	}
	return path
}
