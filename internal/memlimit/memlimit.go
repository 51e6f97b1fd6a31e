// Package memlimit keeps a command's memory near what it holds.
//
// A scan holds little (a few tens of MB of packages and symbols) while it
// streams gigabytes through reused buffers. Under a fixed soft limit (72 MiB
// before this package) the heap simply filled up to the limit: peak RSS 113 MB
// on the 6 GB, 10-layer image of bench/big5g.sh, of which the binary's mapped
// pages are 40 MB. Under a limit that follows the live heap the same scan
// peaks at 91-93 MB.
//
// A fixed low limit would make the collector run back to back once the live
// heap outgrew it (an SBOM of a huge image). Adaptive therefore sets a soft
// limit (runtime/debug.SetMemoryLimit) of max(floor, live × (1 + headroom))
// again after every collection: the floor while the heap is small, like
// GOGC=headroom×100 beyond it. The Go runtime's limit is soft: the collector
// never takes more than about half the CPU to keep it.
package memlimit

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// Defaults for a one-shot command (see the package comment for how they were
// chosen): 48 MiB of Go memory (heap, stacks and runtime metadata; the
// binary's own mapped pages come on top), and half the live heap as headroom.
const (
	DefaultFloor    = 48 << 20
	DefaultHeadroom = 0.5
)

// adaptive is the state the collection hook carries.
type adaptive struct {
	floor    int64
	headroom float64
	stopped  atomic.Bool
	sample   []metrics.Sample
	mu       sync.Mutex // one update at a time (the hook and Stop)
}

// Adaptive sets the limit and keeps it up to date until the returned stop
// function is called, which restores the limit found. It does nothing when
// GOMEMLIMIT is set: the user chose a limit.
func Adaptive(floor int64, headroom float64) (stop func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	before := debug.SetMemoryLimit(-1)
	a := &adaptive{floor: floor, headroom: headroom, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	a.update()
	a.arm()
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.stopped.Store(true)
		debug.SetMemoryLimit(before)
	}
}

// arm registers the hook on a new object that only the collector can free:
// its cleanup runs after the collection that found it unreachable, and arms
// the next one.
func (a *adaptive) arm() {
	obj := new([16]byte) // not a tiny allocation: those share a block and may never be freed alone
	runtime.AddCleanup(obj, func(a *adaptive) {
		if a.stopped.Load() {
			return
		}
		a.update()
		a.arm()
	}, a)
}

func (a *adaptive) update() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped.Load() {
		return
	}
	metrics.Read(a.sample)
	limit := a.floor
	if v := a.sample[0].Value; v.Kind() == metrics.KindUint64 {
		live := int64(v.Uint64())
		limit = max(limit, live+int64(float64(live)*a.headroom))
	}
	debug.SetMemoryLimit(limit)
}
