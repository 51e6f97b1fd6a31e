package main

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// TestSoftMemoryLimitFirstGC: an inventorying command starts with the GC
// percentage off (the limit's floor starts the first collection), runs at
// inventoryGCPercent after that collection, and gets the percentage it found
// back at the end, even when no collection ran.
func TestSoftMemoryLimitFirstGC(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)

	restore := softMemoryLimit()
	if got := debug.SetGCPercent(-1); got != -1 {
		restore()
		t.Fatalf("GC percentage %d before the first collection, want off (-1)", got)
	}
	got := -1
	for deadline := time.Now().Add(5 * time.Second); got == -1 && time.Now().Before(deadline); {
		runtime.GC()
		time.Sleep(time.Millisecond) // the cleanup runs on a goroutine of its own
		got = debug.SetGCPercent(-1)
	}
	debug.SetGCPercent(got)
	restore()
	if got != inventoryGCPercent {
		t.Fatalf("GC percentage %d after the first collection, want %d", got, inventoryGCPercent)
	}
	if p := debug.SetGCPercent(100); p != 100 {
		t.Fatalf("GC percentage %d after restore, want 100", p)
	}

	// Restored before any collection: a late cleanup must not set 400 again.
	restore = softMemoryLimit()
	restore()
	for range 3 {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	if p := debug.SetGCPercent(100); p != 100 {
		t.Fatalf("GC percentage %d after a restore before the first collection, want 100", p)
	}
}
