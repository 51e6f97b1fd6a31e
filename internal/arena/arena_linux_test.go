package arena

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"
)

// TestHugePageAdvice: a chunk's mapping carries MADV_HUGEPAGE ("hg" in its
// VmFlags), so that the kernel in its default "madvise" mode backs it with
// huge pages.
func TestHugePageAdvice(t *testing.T) {
	var a Arena
	s := a.String([]byte("/usr/bin/env"))
	addr := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if r, _, ok := strings.Cut(line, " "); ok && strings.Contains(r, "-") {
			if _, err := fmt.Sscanf(r, "%x-%x", &lo, &hi); err == nil {
				in = lo <= addr && addr < hi
				if in && (lo%hugePage != 0 || hi-lo < chunkSize) {
					t.Errorf("mapping %x-%x: want %d bytes aligned to %d", lo, hi, chunkSize, hugePage)
				}
				continue
			}
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			if !strings.Contains(line, " hg") {
				t.Errorf("mapping of the chunk: %s, want hg (MADV_HUGEPAGE)", line)
			}
			return
		}
	}
	t.Fatalf("no mapping in /proc/self/smaps holds %#x", addr)
}
