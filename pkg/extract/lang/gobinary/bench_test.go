package gobinary

import (
	"os"
	"testing"
)

// BenchmarkSymbols reads the linked symbols of the test binary itself (a Go
// executable of a few MB with its pclntab).
func BenchmarkSymbols(b *testing.B) {
	p, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.ReportAllocs()
	for b.Loop() {
		syms, err := symbols(f)
		if err != nil || len(syms) == 0 {
			b.Fatalf("symbols: %d packages, %v", len(syms), err)
		}
	}
}
