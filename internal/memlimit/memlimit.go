// Package memlimit keeps a command's memory near what it holds.
//
// A scan holds little (a few tens of MB of packages and symbols) while it
// streams gigabytes through reused buffers. Under a fixed soft limit (72 MiB
// before this package) the heap simply filled up to the limit: peak RSS 113 MB
// on the 6 GB, 10-layer image of bench/big5g.sh, of which the binary's mapped
// pages are 40 MB (101-113 MB over this session's runs). Under a limit that
// follows what the heap holds (the defaults below) the same scan peaks at
// 90-91 MB with ISA-L, 98-105 MB with the pure-Go inflater, which peaks
// higher at the same heap for reasons not yet found.
//
// A fixed low limit would make the collector run back to back once the live
// heap outgrew it (an SBOM of a huge image holds hundreds of MB). Adaptive
// therefore sets the soft limit (runtime/debug.SetMemoryLimit) again after
// every collection, to the larger of floor and what the runtime then holds
// (live heap, fragmentation, stacks and metadata) plus headroom × the live
// heap: the floor while the heap is small, like GOGC=headroom×100 beyond it.
// The overheads must be in it: with a limit of live × (1 + headroom) alone,
// a heap whose fragmentation and metadata exceed headroom × live would sit
// above its limit after every collection, and the collector would run
// without pause.
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
// binary's own mapped pages come on top), and a quarter of the live heap as
// headroom (half gave 100-121 MB on the 6 GB image).
const (
	DefaultFloor    = 48 << 20
	DefaultHeadroom = 0.25
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
	a := &adaptive{floor: floor, headroom: headroom, sample: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
	}}
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
	var v [4]int64
	for i, x := range a.sample {
		if x.Value.Kind() != metrics.KindUint64 {
			return // not this runtime's metric: leave the limit as it is
		}
		v[i] = int64(x.Value.Uint64())
	}
	live, held := v[0], v[1]-v[2]-v[3] // held: mapped, less what was returned or is free
	limit := max(a.floor, held+int64(float64(live)*a.headroom))
	debug.SetMemoryLimit(limit)
}
