package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestWriteLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "r.yaml")
	for i := 0; i < 3; i++ {
		if err := Write(p, []byte(strings.Repeat("x", i))); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("dir holds %d entries, want only r.yaml", len(entries))
	}
	if data, _ := os.ReadFile(p); string(data) != "xx" {
		t.Errorf("content %q", data)
	}
}

// Two writers of one path at once (a bucket's release and dev lldb
// sessions write the same helper file) both succeed, and the file is one
// of the two contents whole.
func TestConcurrentWritersOfOnePath(t *testing.T) {
	p := filepath.Join(t.TempDir(), "helper.py")
	contents := []string{strings.Repeat("a", 1<<16), strings.Repeat("b", 1<<16)}
	var wg sync.WaitGroup
	errs := make(chan error, 2*50)
	for _, c := range contents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				errs <- Write(p, []byte(c))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	data, _ := os.ReadFile(p)
	if string(data) != contents[0] && string(data) != contents[1] {
		t.Fatalf("torn file: %d bytes", len(data))
	}
}
