package lldbscript

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/fuzztriage/triage/internal/atomicfile"
)

// finishWithin runs finish and fails the test when it has not returned
// after limit: finish must not depend on a deadline to see its pipes end.
func finishWithin(t *testing.T, ip *inferiorPipes, limit time.Duration) [][]byte {
	t.Helper()
	got := make(chan [][]byte, 1)
	go func() { got <- ip.finish(atomicfile.Write) }()
	select {
	case out := <-got:
		return out
	case <-time.After(limit):
		t.Fatalf("finish did not return within %s", limit)
		return nil
	}
}

// TestInferiorPipesEndWithTheirWriters: once every process that opened a
// FIFO for writing is gone, finish returns what was written, in full,
// without waiting for its bound (set to an hour here); a FIFO nobody
// opened (an inferior that never launched) gives nothing.
func TestInferiorPipesEndWithTheirWriters(t *testing.T) {
	dir := t.TempDir()
	ip, err := openInferiorPipes(dir, []string{"out", "err"}, inferiorOutputCap)
	if err != nil {
		t.Fatal(err)
	}
	ip.bound = time.Hour
	// More than a pipe's buffer (64 KiB): the reader drains while the
	// writer writes.
	want := bytes.Repeat([]byte("0123456789abcdef"), 20000)
	src := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(src, want, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", `cat "$1" > "$2"`, "sh", src, filepath.Join(dir, "out"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("writer: %v %s", err, out)
	}
	out := finishWithin(t, ip, 30*time.Second)
	if !bytes.Equal(out[0], want) {
		t.Fatalf("stdout: got %d bytes, want %d", len(out[0]), len(want))
	}
	if len(out[1]) != 0 {
		t.Fatalf("stderr: got %q from a FIFO nobody wrote to", out[1])
	}
	for _, name := range []string{"out", "err"} {
		st, err := os.Lstat(filepath.Join(dir, name))
		if err != nil || !st.Mode().IsRegular() {
			t.Fatalf("%s should be replaced by a regular file: %v %v", name, st, err)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "out")); !bytes.Equal(data, want) {
		t.Fatalf("the out file holds %d bytes, want %d", len(data), len(want))
	}
}

// TestInferiorPipesBoundedWithAnEscapedWriter: a process that keeps a
// write end open (one that escaped the session's process group) cannot
// hold finish past its bound, and what it wrote is kept.
func TestInferiorPipesBoundedWithAnEscapedWriter(t *testing.T) {
	dir := t.TempDir()
	ip, err := openInferiorPipes(dir, []string{"out", "err"}, inferiorOutputCap)
	if err != nil {
		t.Fatal(err)
	}
	ip.bound = 100 * time.Millisecond
	escaped, err := os.OpenFile(filepath.Join(dir, "err"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer escaped.Close()
	if _, err := escaped.WriteString("partial"); err != nil {
		t.Fatal(err)
	}
	out := finishWithin(t, ip, 30*time.Second)
	if string(out[1]) != "partial" {
		t.Fatalf("stderr: got %q, want what the writer wrote", out[1])
	}
}

// TestDrainNowTakesWhatIsThere: after a reader stopped at its deadline,
// the bytes still in the pipe are taken, and with the writer still open
// the drain does not wait for more.
func TestDrainNowTakesWhatIsThere(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if _, err := w.WriteString("left in the pipe"); err != nil {
		t.Fatal(err)
	}
	_ = r.SetReadDeadline(time.Now()) // as the bound leaves it
	var got bytes.Buffer
	done := make(chan struct{})
	go func() { drainNow(r, &got); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("drainNow waited for a writer that is still open")
	}
	if got.String() != "left in the pipe" {
		t.Fatalf("got %q", got.String())
	}
}
