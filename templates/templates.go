// Package templates holds the text templates and helper scripts triage
// writes for people and tools (the lldb command file and its Python
// helper), embedded in the binary. A workspace can override any of them by
// putting a file of the same name in its template directory (see Open);
// everything else comes from the embedded copies.
package templates

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

//go:embed *.tmpl *.py
var embedded embed.FS

// Names of the files in this package.
const (
	// LLDBSession is the batch lldb command file (text/template).
	LLDBSession = "lldb-session.lldb.tmpl"
	// LLDBHelper is the Python module the command file imports for
	// frame selection by function name (copied as is, not a template).
	LLDBHelper = "triage_lldb.py"
)

// Set is the templates in force: the embedded ones, each overridden by a
// file of the same name in Dir when Dir is set and holds one.
type Set struct {
	// Dir is the workspace's override directory ("" for none).
	Dir string
}

// Open returns the set with overrides from dir (which may be "" or may
// not exist: then only embedded templates are used).
func Open(dir string) Set { return Set{Dir: dir} }

// Read returns the named template's text and where it came from
// ("embedded" or the override file's path).
func (s Set) Read(name string) ([]byte, string, error) {
	if s.Dir != "" {
		p := filepath.Join(s.Dir, name)
		data, err := os.ReadFile(p)
		if err == nil {
			return data, p, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("template override %s: %w", p, err)
		}
	}
	data, err := embedded.ReadFile(name)
	if err != nil {
		return nil, "", fmt.Errorf("no template named %q", name)
	}
	return data, "embedded", nil
}

// Names lists the embedded templates.
func Names() []string {
	entries, _ := embedded.ReadDir(".")
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}
