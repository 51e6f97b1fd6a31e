package inflate

import (
	"io"
	"syscall"

	"golang.org/x/sys/unix"
)

// growPipe makes a pipe 1 MiB (the default limit for unprivileged users,
// /proc/sys/fs/pipe-max-size) instead of 64 KiB.
func growPipe(p io.Reader) {
	sc, ok := p.(syscall.Conn)
	if !ok {
		return
	}
	if rc, err := sc.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { _, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, 1<<20) })
	}
}
