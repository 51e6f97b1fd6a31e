package walk

import (
	"errors"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/internal/wire"
	"github.com/wardensec/warden/pkg/inventory"
)

// fill sets every field of the struct v points to a non-zero value, so that
// a field the codec forgets comes back zero and the round trip differs.
func fill(t *testing.T, v reflect.Value, seed string) {
	t.Helper()
	for i := 0; i < v.NumField(); i++ {
		f, name := v.Field(i), v.Type().Field(i).Name
		switch f.Kind() {
		case reflect.String:
			f.SetString(seed + "-" + name)
		case reflect.Int:
			f.SetInt(int64(len(name)))
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Uint64:
			f.SetUint(uint64(len(seed+name)) << 40)
		case reflect.Struct:
			fill(t, f, seed+"-"+name)
		case reflect.Slice:
			if f.Type().Elem().Kind() == reflect.Uint64 {
				f.Set(reflect.ValueOf([]uint64{0, uint64(len(seed + name)), 1<<64 - 1}))
				continue
			}
			if f.Type().Elem().Kind() != reflect.String {
				t.Fatalf("Package.%s: a %s; teach the result codec (result.go) and this test", name, f.Type())
			}
			f.Set(reflect.ValueOf([]string{seed + "-" + name + "-1", "", "é\x00\"/" + name}))
		case reflect.Map:
			f.Set(reflect.ValueOf(map[string]string{"b": seed, "a": name, "": ""}))
		default:
			t.Fatalf("Package.%s: a %s; teach the result codec (result.go) and this test", name, f.Type())
		}
	}
}

// TestResultCodecCoversPackage: every field of inventory.Package survives
// the cache; a new field fails here until the codec writes it.
func TestResultCodecCoversPackage(t *testing.T) {
	var p, q inventory.Package
	fill(t, reflect.ValueOf(&p).Elem(), "p")
	fill(t, reflect.ValueOf(&q).Elem(), "q")
	in := &layerResult{
		Files: map[string]*fileResult{
			"usr/bin/app":          {Results: map[string][]inventory.Package{"lang/gobinary": {p, q}, "lang/rustaudit": nil}},
			"etc/os-release":       {Distro: []byte("ID=alpine\n")},
			"etc/empty-os-release": {Distro: []byte{}},
			"lib/apk/db/installed": {Results: map[string][]inventory.Package{"os/apk": {q}}, Warnings: []string{"line 3: bad"}},
			"var/lib/dpkg/status":  {},
		},
		Whiteouts: []string{"usr/lib/old"},
		Opaque:    []string{"opt"},
	}
	b, err := encodeResult(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeResult(b)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(in, out); d != "" {
		t.Fatalf("round trip (-in +out):\n%s", d)
	}
	// Equal results encode equally (map order does not leak in).
	b2, _ := encodeResult(out)
	if string(b) != string(b2) {
		t.Error("encoding is not deterministic")
	}
	// Every truncation is an error, never a panic or a partial result.
	for n := 0; n < len(b); n++ {
		if r, err := decodeResult(b[:n]); err == nil {
			t.Fatalf("truncated to %d of %d bytes: decoded %+v", n, len(b), r)
		}
	}
	if _, err := decodeResult(append(b, 0)); !errors.Is(err, wire.ErrCorrupt) {
		t.Errorf("trailing byte: %v", err)
	}
}

// FuzzDecodeResult: the cache file is only Warden's, but a corrupt one must
// give an error, not a panic or an allocation of its claimed size.
func FuzzDecodeResult(f *testing.F) {
	var p inventory.Package
	p.Name, p.Version, p.Files = "musl", "1.2.4-r2", []string{"lib/ld-musl-x86_64.so.1"}
	b, _ := encodeResult(&layerResult{Files: map[string]*fileResult{"lib/apk/db/installed": {Results: map[string][]inventory.Package{"os/apk": {p}}}}})
	f.Add(b)
	f.Add([]byte{2, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeResult(b)
		if err == nil {
			if _, err := encodeResult(r); err != nil {
				t.Fatal(err)
			}
		}
	})
}
