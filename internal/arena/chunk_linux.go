package arena

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// newChunk maps n bytes (a multiple of hugePage) aligned to hugePage and asks
// for huge pages (MADV_HUGEPAGE: the kernel's default THP mode, "madvise",
// gives them only to memory that asks). The memory is outside the Go heap;
// the collector neither scans nor frees it, which is right for bytes with no
// pointers that live until exit. Without huge pages it still works, with
// 4 KiB faults; without mmap it is Go memory.
func newChunk(n int) []byte {
	m, err := unix.Mmap(-1, 0, n+hugePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return make([]byte, n)
	}
	off := 0
	if r := int(uintptr(unsafe.Pointer(unsafe.SliceData(m))) % hugePage); r != 0 {
		off = hugePage - r
	}
	c := m[off : off+n : off+n]
	_ = unix.Madvise(c, unix.MADV_HUGEPAGE) // only a hint: EINVAL where THP is built out
	return c
}
