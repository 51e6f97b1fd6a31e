package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/wardensec/warden/internal/arena"
)

func sample() []byte {
	var e Encoder
	e.Uint(0)
	e.Uint(math.MaxUint64)
	e.Int(-3)
	e.Int(math.MinInt64)
	e.Str("")
	e.Str("é\x00\"x")
	e.Bytes([]byte{1, 2, 3})
	e.Bool(true)
	e.Bool(false)
	e.Strs(nil)
	e.Strs([]string{"a", "", "bc"})
	e.Strs([]string{"", "d", "é\x00"}) // read by StrsShared
	e.Strs(nil)                        // read by StrsShared
	return e.B
}

func read(d *Decoder) []any {
	return []any{d.Uint(), d.Uint(), d.Int(), d.Int(), d.Str(), d.Str(), d.Bytes(), d.Bool(), d.Bool(), d.Strs(), d.Strs(), d.StrsShared(nil), d.StrsShared(new(arena.Arena))}
}

// TestRoundTrip: both decoders read back what was written, and say so at the end.
func TestRoundTrip(t *testing.T) {
	want := []any{uint64(0), uint64(math.MaxUint64), int64(-3), int64(math.MinInt64), "", "é\x00\"x", []byte{1, 2, 3}, true, false, []string(nil), []string{"a", "", "bc"}, []string{"", "d", "é\x00"}, []string(nil)}
	b := sample()
	for name, d := range map[string]*Decoder{"bytes": NewDecoder(b), "string": NewStringDecoder(string(b))} {
		got := read(d)
		if err := d.End(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := range want {
			g, w := got[i], want[i]
			if gb, ok := g.([]byte); ok {
				if !bytes.Equal(gb, w.([]byte)) {
					t.Errorf("%s: field %d = %v, want %v", name, i, g, w)
				}
				continue
			}
			if gs, ok := g.([]string); ok {
				if !slices.Equal(gs, w.([]string)) || (gs == nil) != (w.([]string) == nil) {
					t.Errorf("%s: field %d = %#v, want %#v", name, i, g, w)
				}
				continue
			}
			if g != w {
				t.Errorf("%s: field %d = %#v, want %#v", name, i, g, w)
			}
		}
	}
}

// TestCorrupt: every truncation and a trailing byte are errors wrapping
// ErrCorrupt; later reads return zero values.
func TestCorrupt(t *testing.T) {
	b := sample()
	for n := range len(b) {
		d := NewDecoder(b[:n])
		read(d)
		if err := d.End(); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d of %d bytes: %v", n, len(b), err)
		}
		if d.Uint() != 0 || d.Str() != "" || d.Strs() != nil || d.StrsShared(nil) != nil {
			t.Fatal("reads after an error are not zero")
		}
	}
	d := NewDecoder(append(sample(), 0))
	read(d)
	if err := d.End(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("trailing byte: %v", err)
	}
	// A count larger than what is left allocates nothing.
	d = NewDecoder(binary.AppendUvarint(nil, 1<<40))
	if d.Strs() != nil || !errors.Is(d.Err, ErrCorrupt) {
		t.Fatalf("huge count: %v", d.Err)
	}
	// A bool is 0 or 1.
	if d := NewDecoder([]byte{2}); d.Bool() || d.Err == nil {
		t.Fatal("bool 2 accepted")
	}
}

// FuzzUint: Decoder.Uint agrees with encoding/binary on any input.
func FuzzUint(f *testing.F) {
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		want, n := binary.Uvarint(b)
		for _, d := range []*Decoder{NewDecoder(b), NewStringDecoder(string(b))} {
			got := d.Uint()
			if n <= 0 {
				if d.Err == nil {
					t.Fatalf("%x: %d accepted, encoding/binary says %d", b, got, n)
				}
				continue
			}
			if d.Err != nil || got != want || d.Left() != len(b)-n {
				t.Fatalf("%x: %d (%v), left %d; want %d, %d bytes", b, got, d.Err, d.Left(), want, n)
			}
		}
	})
}

// fuzzArena is FuzzStrsShared's (an arena never gives memory back).
var fuzzArena arena.Arena

// FuzzStrsShared: StrsShared reads what Strs reads from any input, fails
// where it fails and stops at the same place, with its copy on the heap or
// in an arena.
func FuzzStrsShared(f *testing.F) {
	f.Add(sample()[len(sample())-9:])
	f.Add([]byte{3, 1, 'a', 0, 2, 'b'})
	f.Add([]byte{2, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		want := NewDecoder(b)
		w := want.Strs()
		for i, d := range []*Decoder{NewDecoder(b), NewStringDecoder(string(b)), NewDecoder(b)} {
			var a *arena.Arena // the Go heap, then (i == 2) an arena
			if i == 2 {
				a = &fuzzArena
			}
			got := d.StrsShared(a)
			if (d.Err == nil) != (want.Err == nil) {
				t.Fatalf("%x: error %v, Strs: %v", b, d.Err, want.Err)
			}
			if want.Err != nil {
				continue
			}
			if !slices.Equal(got, w) || (got == nil) != (w == nil) || d.Left() != want.Left() {
				t.Fatalf("%x: %q (left %d), Strs: %q (left %d)", b, got, d.Left(), w, want.Left())
			}
		}
	})
}
