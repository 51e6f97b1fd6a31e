package inflate

import (
	"io"
	"syscall"

	"golang.org/x/sys/unix"
)

// growPipe makes a pipe pipeSize bytes instead of 64 KiB (best effort).
func growPipe(p io.Reader) {
	sc, ok := p.(syscall.Conn)
	if !ok {
		return
	}
	if rc, err := sc.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { _, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, pipeSize) })
	}
}
