package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// checkFormat validates a --format value against the formats a command offers.
func checkFormat(format string, allowed ...string) error {
	for _, f := range allowed {
		if format == f {
			return nil
		}
	}
	return usagef("--format must be one of %v, not %q", allowed, format)
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

// relTo shortens path for people when it lies under root.
func relTo(root, path string) string {
	if rel, err := filepath.Rel(root, path); err == nil && !filepath.IsAbs(rel) && rel != ".." && len(rel) < len(path) && !startsWithDotDot(rel) {
		return rel
	}
	return path
}

func startsWithDotDot(p string) bool {
	return len(p) >= 3 && p[:3] == "../"
}
