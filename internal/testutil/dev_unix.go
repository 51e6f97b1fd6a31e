//go:build unix

package testutil

import (
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// NullDevice makes a character device with /dev/null's numbers (1, 3) in dir
// and returns its path. It needs root: in CI (which runs as root) a failure
// fails the test; elsewhere the test is skipped, saying why.
func NullDevice(t testing.TB, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "null")
	if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		missing(t, "mknod of a character device (needs root): "+err.Error())
	}
	return p
}
