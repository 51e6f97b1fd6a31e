package gobinary

import (
	"os"
	"testing"

	"github.com/wardensec/warden/pkg/inventory"
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
		pkgs := []inventory.Package{{Name: "stdlib", Meta: map[string]string{"go_version": "go1.26.8"}}}
		known, err := assignSymbols(pkgs, f)
		if err != nil || !known || pkgs[0].Symbols.Len() == 0 {
			b.Fatalf("symbols: %d, known %v, %v", pkgs[0].Symbols.Len(), known, err)
		}
	}
}
