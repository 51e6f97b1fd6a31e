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
	out, err := decodeResult(b, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(in, out, cmp.AllowUnexported(layerResult{})); d != "" {
		t.Fatalf("round trip (-in +out):\n%s", d)
	}
	// Equal results encode equally (map order does not leak in).
	b2, _ := encodeResult(out)
	if string(b) != string(b2) {
		t.Error("encoding is not deterministic")
	}
	// Every truncation is an error, never a panic or a partial result.
	for n := 0; n < len(b); n++ {
		if r, err := decodeResult(b[:n], false, nil); err == nil {
			t.Fatalf("truncated to %d of %d bytes: decoded %+v", n, len(b), r)
		}
	}
	if _, err := decodeResult(append(b, 0), false, nil); !errors.Is(err, wire.ErrCorrupt) {
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
	f.Add([]byte{FormatVersion, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeResult(b, false, nil)
		if err == nil {
			if _, err := encodeResult(r); err != nil {
				t.Fatal(err)
			}
		}
		if r, err := decodeResult(b, true, nil); err == nil {
			_ = readTrailer(b, r, &trailerFilter{files: map[string]struct{}{"lib/ld-musl-x86_64.so.1": {}}})
		}
	})
}

// symbols makes the Symbols of (import path, symbol) pairs.
func symbols(pairs ...string) inventory.Symbols {
	var s inventory.Symbols
	for i := 0; i+1 < len(pairs); i += 2 {
		s.Add(pairs[i], pairs[i+1])
	}
	s.Normalize()
	return s
}

// TestResultFilesDeferred: a result read with its trailer deferred and then
// readTrailer is the full result with each OS package's Files cut to the
// kept paths (in their order), every language package's Files whole, and
// the Symbols the filter keeps.
func TestResultFilesDeferred(t *testing.T) {
	dpkg := func(name string, files ...string) inventory.Package {
		return inventory.Package{Name: name, Version: "1", Ecosystem: inventory.Dpkg, Files: files}
	}
	in := &layerResult{Files: map[string]*fileResult{
		"var/lib/dpkg/status": {Results: map[string][]inventory.Package{"os/dpkg": {
			dpkg("python3-yaml", "/usr/lib/python3/dist-packages/yaml/__init__.py", "/usr/lib/python3/dist-packages/PyYAML-6.0.egg-info", "/usr/share/doc/python3-yaml"),
			dpkg("coreutils", "/bin/ls", "/usr/bin/app", "/usr/bin/cat"),
			dpkg("empty"),
		}}},
		"usr/bin/app": {Results: map[string][]inventory.Package{"lang/gobinary": {
			{Name: "stdlib", Version: "1.22", Ecosystem: inventory.Go, Locations: []string{"/usr/bin/app"}, Files: []string{"x", "y"},
				Symbols: symbols("crypto/tls", "Conn.Read", "net/http", "ListenAndServe"), SymbolsKnown: true},
			{Name: "example.com/m", Version: "v1", Ecosystem: inventory.Go, Locations: []string{"/usr/bin/app"},
				Symbols: symbols("example.com/m", "F"), SymbolsKnown: true},
		}}},
		"etc/os-release": {Distro: []byte("ID=debian\n")},
	}}
	b, err := encodeResult(in)
	if err != nil {
		t.Fatal(err)
	}
	r, err := decodeResult(b, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.deferred) != 5 {
		t.Fatalf("%d packages with files and symbols to read, want 5", len(r.deferred))
	}
	keep := map[string]struct{}{}
	inventory.OwnerPaths(keep, "/usr/bin/app", "/usr/lib/python3/dist-packages/PyYAML-6.0.egg-info")
	keepSyms := func(p *inventory.Package) (bool, error) { return p.Name != "example.com/m", nil }
	if err := readTrailer(b, r, &trailerFilter{files: keep, symbols: keepSyms}); err != nil {
		t.Fatal(err)
	}
	want, _ := decodeResult(b, false, nil)
	want.Files["usr/bin/app"].Results["lang/gobinary"][1].Symbols = inventory.Symbols{}
	os := want.Files["var/lib/dpkg/status"].Results["os/dpkg"]
	os[0].Files = []string{"/usr/lib/python3/dist-packages/PyYAML-6.0.egg-info"}
	os[1].Files = []string{"/usr/bin/app"}
	if d := cmp.Diff(want, r, cmp.AllowUnexported(layerResult{})); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	// The filter's error is readTrailer's.
	r, _ = decodeResult(b, true, nil)
	boom := errors.New("boom")
	if err := readTrailer(b, r, &trailerFilter{symbols: func(*inventory.Package) (bool, error) { return false, boom }}); !errors.Is(err, boom) {
		t.Errorf("filter error: %v", err)
	}
	// A truncated trailer is an error in the second pass.
	r, _ = decodeResult(b[:len(b)-1], true, nil)
	if err := readTrailer(b[:len(b)-1], r, &trailerFilter{files: keep}); !errors.Is(err, wire.ErrCorrupt) {
		t.Errorf("truncated trailer: %v", err)
	}
}
