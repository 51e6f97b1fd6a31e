//go:build unix

package source

import (
	"io/fs"
	"syscall"
)

// inode identifies a file with several hard links (nlink > 1), so that a
// directory image records the second and later names as tar hard links.
func inode(fi fs.FileInfo) (key [2]uint64, linked bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Nlink < 2 {
		return key, false
	}
	return [2]uint64{uint64(st.Dev), uint64(st.Ino)}, true //nolint:unconvert // Dev's type differs by OS
}
