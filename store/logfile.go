package store

import (
	"os"
	"path"
	"sync"
	"syscall"

	"github.com/fuzztriage/triage/internal/atomicfile"
)

// RotatingLog is a capped log file of the store: once it holds Cap bytes
// it becomes <name>.1 (replacing the previous one) and a new file starts,
// so a campaign's hours of fuzzer output keep at most twice the cap on
// disk and always the latest part. Writes never fail the writer's caller
// (a full disk must not stop a fuzzer's output from being read): the
// first error is kept in Err.
type RotatingLog struct {
	s    *Store
	rel  string
	cap  int64
	mu   sync.Mutex
	f    *os.File
	size int64
	err  error
}

// OpenRotatingLog creates (truncating) the log p of the store, never
// through a symbolic link.
func (s *Store) OpenRotatingLog(p string, capBytes int64) (*RotatingLog, error) {
	rel, err := s.relOf(p)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.MkdirIn(s.root, path.Dir(rel)); err != nil {
		return nil, err
	}
	l := &RotatingLog{s: s, rel: rel, cap: capBytes}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *RotatingLog) open() error {
	f, err := l.s.root.OpenFile(l.rel, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return err
	}
	l.f, l.size = f, 0
	return nil
}

// Write appends p, rotating first when p would take the file past the cap.
func (l *RotatingLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return len(p), nil
	}
	if l.cap > 0 && l.size > 0 && l.size+int64(len(p)) > l.cap {
		l.f.Close()
		l.f = nil
		if err := l.s.root.Rename(l.rel, l.rel+".1"); err != nil {
			l.keep(err)
		}
		if err := l.open(); err != nil {
			l.keep(err)
			return len(p), nil
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	l.keep(err)
	return len(p), nil
}

func (l *RotatingLog) keep(err error) {
	if err != nil && l.err == nil {
		l.err = err
	}
}

// Close closes the file and returns the first error a write met.
func (l *RotatingLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		l.keep(l.f.Close())
		l.f = nil
	}
	return l.err
}
