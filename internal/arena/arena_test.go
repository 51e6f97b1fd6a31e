package arena

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// TestString: copies are equal to what was given and independent of it,
// across chunk boundaries, from several goroutines at once.
func TestString(t *testing.T) {
	var a Arena
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			var got, want []string
			for i := range 20000 { // 4 x 20,000 x ~150 bytes: 12 MB, two chunks at least
				b := []byte(fmt.Sprintf("/usr/lib/g%d/%s/file-%d", g, strings.Repeat("x", i%256), i))
				want = append(want, string(b))
				got = append(got, a.String(b))
				clear(b) // the copy must not share b
			}
			runtime.GC()
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("goroutine %d, string %d: %q, want %q", g, i, got[i], want[i])
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestSizes: empty, small, and larger than a chunk's quarter (a chunk of its
// own).
func TestSizes(t *testing.T) {
	var a Arena
	for _, n := range []int{0, 1, chunkSize / 4, chunkSize/4 + 1, chunkSize + 1} {
		b := []byte(strings.Repeat("a", n))
		if s := a.String(b); s != string(b) {
			t.Errorf("%d bytes: copy differs", n)
		}
	}
	var nilArena *Arena
	if s := nilArena.String([]byte("x")); s != "x" {
		t.Errorf("nil arena: %q", s)
	}
}
