package templates

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOverrideAndEmbedded(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, LLDBSession), []byte("# mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := Open(dir)
	data, from, err := s.Read(LLDBSession)
	if err != nil || string(data) != "# mine\n" || from != filepath.Join(dir, LLDBSession) {
		t.Fatalf("override: %q %s %v", data, from, err)
	}
	data, from, err = s.Read(LLDBHelper)
	if err != nil || from != "embedded" || !strings.Contains(string(data), "def select_frame") {
		t.Fatalf("embedded helper: %s %v", from, err)
	}
	if _, _, err := Open("").Read("nosuch.tmpl"); err == nil {
		t.Fatal("unknown template read")
	}
	if err := os.Mkdir(filepath.Join(dir, "bad"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "bad", LLDBSession), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(filepath.Join(dir, "bad")).Read(LLDBSession); err == nil || !strings.Contains(err.Error(), "template override") {
		t.Fatalf("unreadable override: %v", err)
	}
	names := Names()
	if !contains(names, LLDBSession) || !contains(names, LLDBHelper) {
		t.Fatalf("names %v", names)
	}
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}
