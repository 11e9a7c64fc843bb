// Package atomicfile is the one way this project replaces a file: records,
// reports, lldb command files and transcripts are written whole or not at
// all, and never through a symbolic link.
package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrSymlink says a path that would be written is, or goes through, a
// symbolic link. Files of the store are never written through one.
var ErrSymlink = errors.New("is a symbolic link (refusing to write through it)")

// Write replaces path with data atomically: a temp file with a unique
// name in the same directory (two writers of one path at once do not
// collide), fsync, rename, then a sync of the directory. A reader sees the
// old file or the new one, never a torn one, whenever the process dies.
// A symbolic link at path is replaced, not followed.
func Write(p string, data []byte) error {
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return WriteIn(root, filepath.Base(p), data)
}

// WriteIn is Write for a path relative to root: every directory on the
// way is created if missing and must be a real directory (ErrSymlink
// otherwise), and nothing is written outside root.
func WriteIn(root *os.Root, rel string, data []byte) error {
	rel = path.Clean(filepath.ToSlash(rel))
	dir, base := path.Split(rel)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}
	if err := MkdirIn(root, dir); err != nil {
		return err
	}
	tmp := path.Join(dir, "."+base+".tmp-"+randomSuffix())
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", display(root, rel), err)
	}
	defer root.Remove(tmp) // no-op after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", display(root, rel), err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", display(root, rel), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", display(root, rel), err)
	}
	// rename(2) replaces a symbolic link at rel; it never writes through one.
	if err := root.Rename(tmp, rel); err != nil {
		return fmt.Errorf("rename into %s: %w", display(root, rel), err)
	}
	if d, err := root.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// MkdirIn creates dir (relative to root) and its parents as needed, and
// checks that every component is a real directory, not a symbolic link.
func MkdirIn(root *os.Root, dir string) error {
	dir = path.Clean(filepath.ToSlash(dir))
	if dir == "." {
		return nil
	}
	cur := ""
	for _, part := range strings.Split(dir, "/") {
		cur = path.Join(cur, part)
		fi, err := root.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			if err := root.Mkdir(cur, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("mkdir %s: %w", display(root, cur), err)
			}
			if fi, err = root.Lstat(cur); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s %w", display(root, cur), ErrSymlink)
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", display(root, cur))
		}
	}
	return nil
}

// CheckNoLinks fails when rel (relative to root), or a directory on the way
// to it, is a symbolic link. A missing path is fine.
func CheckNoLinks(root *os.Root, rel string) error {
	rel = path.Clean(filepath.ToSlash(rel))
	cur := ""
	for _, part := range strings.Split(rel, "/") {
		cur = path.Join(cur, part)
		fi, err := root.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s %w", display(root, cur), ErrSymlink)
		}
	}
	return nil
}

func display(root *os.Root, rel string) string { return filepath.Join(root.Name(), rel) }

func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
