package memlimit

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

var keep []byte

// settled collects until the hook, which runs after a collection on a
// goroutine of its own, has set a limit for which ok holds (or 5 s pass),
// and returns that limit.
func settled(ok func(int64) bool) int64 {
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		time.Sleep(time.Millisecond)
		if got := debug.SetMemoryLimit(-1); ok(got) || time.Now().After(deadline) {
			return got
		}
	}
}

func TestAdaptive(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "") // this test decides; an inherited limit would make Adaptive step aside
	before := debug.SetMemoryLimit(-1)
	stop := Adaptive(32<<20, 0.5)
	if got := debug.SetMemoryLimit(-1); got != 32<<20 {
		t.Fatalf("limit with a small heap: %d, want the floor %d", got, 32<<20)
	}
	keep = make([]byte, 256<<20) // a live heap far over the floor
	for i := range keep {
		keep[i] = byte(i)
	}
	got := settled(func(l int64) bool { return l > 256<<20 })
	if got < 256<<20*3/2 || got > 256<<20*3/2+64<<20 {
		t.Errorf("limit with 256 MiB live: %d MiB, want 384 and the runtime's overheads", got>>20)
	}
	keep = nil
	if got := settled(func(l int64) bool { return l == 32<<20 }); got != 32<<20 {
		t.Errorf("limit after the heap shrank: %d MiB, want the floor", got>>20)
	}
	stop()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("limit after stop: %d, want %d", got, before)
	}
	runtime.GC()
	runtime.GC()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("limit changed after stop: %d, want %d", got, before)
	}
}

func TestUserLimitWins(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "1GiB")
	before := debug.SetMemoryLimit(-1)
	stop := Adaptive(32<<20, 0.5)
	defer stop()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("GOMEMLIMIT set: limit %d, want it left at %d", got, before)
	}
}
