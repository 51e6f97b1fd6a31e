// Package outfile writes a document to a path the user named (an -o flag, a key
// file, an export target) without ever destroying what that path is.
//
// A regular file (or a path that does not exist yet) gets an all-or-nothing
// write: a temporary file beside it, renamed over it once complete, so a failed
// write leaves the old file as it was. A symlink is followed and its target is
// written (atomically, if the target is a regular file); the link stays a link.
// Anything else — a character device such as /dev/null, a FIFO, a socket — is
// opened and written in place: renaming over it would replace the device or the
// pipe with a regular file.
//
// Every command that writes to a user-named path goes through Write; nothing
// else in cmd/ may rename or remove such a path.
package outfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// maxLinks bounds symlink resolution (Linux's own limit is 40).
const maxLinks = 40

// Write runs write against the file at path. perm is the mode of a file Write
// creates or replaces; a device or FIFO keeps its own mode.
func Write(path string, perm fs.FileMode, write func(io.Writer) error) error {
	target, fi, err := resolve(path)
	if err != nil {
		return err
	}
	if fi != nil && !fi.Mode().IsRegular() {
		if fi.IsDir() {
			return fmt.Errorf("writing %s: is a directory", path)
		}
		return writeInPlace(path, target, write)
	}
	return writeAtomic(path, target, perm, write)
}

// WriteFile is Write for a byte slice.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// resolve follows symlinks from path to the file that would be written. It
// returns that file's path and its FileInfo, or nil when it does not exist
// (a new file, or a dangling link whose target will be created).
func resolve(path string) (string, fs.FileInfo, error) {
	cur := path
	for range maxLinks {
		fi, err := os.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			return cur, nil, nil
		}
		if err != nil {
			return "", nil, fmt.Errorf("writing %s: %w", path, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return cur, fi, nil
		}
		dest, err := os.Readlink(cur)
		if err != nil {
			return "", nil, fmt.Errorf("writing %s: %w", path, err)
		}
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(filepath.Dir(cur), dest)
		}
		cur = dest
	}
	return "", nil, fmt.Errorf("writing %s: too many levels of symbolic links", path)
}

// writeInPlace writes into an existing non-regular file (a device, a FIFO).
func writeInPlace(path, target string, write func(io.Writer) error) error {
	f, err := os.OpenFile(target, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// writeAtomic writes a temporary file beside target and renames it over target.
func writeAtomic(path, target string, perm fs.FileMode, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return err
	}
	// CreateTemp made the file 0600; set the wanted mode before it becomes visible.
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
