package source

import (
	"fmt"
	"os"
	"syscall"
)

// fileIdentity names f as it is now for a DigestMemo: device, inode, size,
// modification and change times in nanoseconds. "" when it cannot tell.
func fileIdentity(f *os.File) string {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%d/%d/%d/%d/%d", st.Dev, st.Ino, fi.Size(), st.Mtim.Nano(), st.Ctim.Nano())
}
