package gobinary

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"slices"
	"strings"
	"testing"
)

// fakeTable is a Go 1.20 pclntab header (little-endian, 8-byte pointers)
// whose function name table is names.
func fakeTable(names []byte) []byte {
	h := make([]byte, pcHeaderSize(8))
	binary.LittleEndian.PutUint32(h, magic120)
	h[6], h[7] = 1, 8
	binary.LittleEndian.PutUint64(h[8+3*8:], uint64(len(h)))
	binary.LittleEndian.PutUint64(h[8+4*8:], uint64(len(h)+len(names)))
	return append(h, names...)
}

func collect(f func(fn func(string))) []string {
	var out []string
	f(func(n string) { out = append(out, strings.Clone(n)) })
	return out
}

// inMemory is the names of a table held whole, those shorter than window.
func inMemory(t testing.TB, tab []byte, window int) []string {
	p, err := parsePclntab(tab)
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(collect(p.names), func(n string) bool { return len(n) >= window })
}

func streamed(t testing.TB, tab []byte, window int) []string {
	var known bool
	var err error
	got := collect(func(fn func(string)) { known, err = streamNames(bytes.NewReader(tab), int64(len(tab)), window, fn) })
	if !known || err != nil {
		t.Fatalf("streamNames: known %v, %v", known, err)
	}
	return got
}

// TestStreamNames holds the windowed reader of a function name table to the
// in-memory one, on this test binary's real table and on names that straddle
// windows or are longer than one.
func TestStreamNames(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.Open(exe)
	if err != nil {
		t.Fatalf("%s: %v", exe, err)
	}
	s := ef.Section(".gopclntab")
	if s == nil {
		t.Fatalf("%s has no .gopclntab", exe)
	}
	real, err := s.Data()
	ef.Close()
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 300)
	synthetic := fakeTable([]byte("a.b\x00\x00c.d\x00" + long + "\x00e.f\x00" + long + "y\x00g.h\x00unterminated"))
	for _, tc := range []struct {
		name   string
		tab    []byte
		window int
	}{
		{"real, 256 KiB", real, nameWindow},
		{"real, 4 KiB", real, 4 << 10},
		{"real, 97 bytes", real, 97},
		{"synthetic, 8", synthetic, 8},
		{"synthetic, 300", synthetic, 300},
		{"synthetic, 301", synthetic, 301},
		{"synthetic, 4 KiB", synthetic, 4 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, got := inMemory(t, tc.tab, tc.window), streamed(t, tc.tab, tc.window)
			if len(want) == 0 {
				t.Fatal("no names in the table")
			}
			if !slices.Equal(got, want) {
				t.Errorf("streamed %d names, in memory %d; first difference at %d", len(got), len(want), firstDiff(got, want))
			}
		})
	}
	// Over-long names are skipped, not cut: a 300-byte name needs a 301-byte window.
	if got := streamed(t, synthetic, 300); slices.Contains(got, long) || !slices.Contains(got, "g.h") {
		t.Errorf("window 300: %q", got)
	}
	if got := streamed(t, synthetic, 301); !slices.Contains(got, long) {
		t.Errorf("window 301: the 300-byte name is missing")
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestStreamNamesBadTable(t *testing.T) {
	tab := fakeTable([]byte("a.b\x00"))
	binary.LittleEndian.PutUint64(tab[8+4*8:], uint64(len(tab)+10)) // past the section
	if _, err := streamNames(bytes.NewReader(tab), int64(len(tab)), nameWindow, func(string) {}); err == nil ||
		!strings.Contains(err.Error(), "past the") {
		t.Errorf("table past its section: %v", err)
	}
	if known, err := streamNames(bytes.NewReader([]byte("not a table at all")), 18, nameWindow, func(string) {}); known || err != nil {
		t.Errorf("not a table: known %v, %v", known, err)
	}
}

func FuzzStreamNames(f *testing.F) {
	f.Add([]byte("a.b\x00\x00c.d\x00long-name-here\x00e"), uint8(5))
	f.Fuzz(func(t *testing.T, names []byte, w uint8) {
		window := int(w) + 1
		tab := fakeTable(names)
		if want, got := inMemory(t, tab, window), streamed(t, tab, window); !slices.Equal(got, want) {
			t.Fatalf("window %d: streamed %q, in memory %q", window, got, want)
		}
	})
}
