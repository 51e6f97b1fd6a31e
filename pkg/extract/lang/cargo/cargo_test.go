package cargo

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/inventory"
)

func run(t testing.TB, path string, b []byte) ([]inventory.Package, error) {
	in := &extract.Input{Path: path, Mode: 0o644, Size: int64(len(b)), Reader: bytes.NewReader(b), Warn: func(string) {}}
	return New().Extract(context.Background(), in)
}

func TestCargoLock(t *testing.T) {
	b, err := os.ReadFile("testdata/Cargo.lock")
	if err != nil {
		t.Fatal(err)
	}
	if !New().Required("src/rg/Cargo.lock", 0o644, int64(len(b))) || New().Required("src/rg/Cargo.toml", 0o644, 10) {
		t.Error("Required")
	}
	pkgs, err := run(t, "src/rg/Cargo.lock", b)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pkgs {
		got = append(got, p.Name+"@"+p.Version+" "+p.PURL)
		if p.Ecosystem != inventory.Cargo || p.Locations[0] != "/src/rg/Cargo.lock" {
			t.Errorf("%s: %q %v", p.Name, p.Ecosystem, p.Locations)
		}
	}
	want := []string{
		"aho-corasick@1.1.5 pkg:cargo/aho-corasick@1.1.5",
		"anyhow@1.0.104 pkg:cargo/anyhow@1.0.104",
		"memchr@2.8.3 pkg:cargo/memchr@2.8.3",
		"syn@2.0.119 pkg:cargo/syn@2.0.119",
		"syn@3.0.3 pkg:cargo/syn@3.0.3",
		"tikv-jemalloc-sys@0.7.1+5.3.1-0-g81034ce1f1373e37dc865038e1bc8eeecf559ce8 pkg:cargo/tikv-jemalloc-sys@0.7.1%2B5.3.1-0-g81034ce1f1373e37dc865038e1bc8eeecf559ce8",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestBadInput(t *testing.T) {
	for _, s := range []string{"[[package]\nname = ", "version = 4\n[[package]]\nname = 1.2.3.4"} {
		if _, err := run(t, "a/Cargo.lock", []byte(s)); err == nil || !strings.Contains(err.Error(), "/a/Cargo.lock") {
			t.Errorf("%q: error %v", s, err)
		}
	}
}

func FuzzCargoLock(f *testing.F) {
	b, err := os.ReadFile("testdata/Cargo.lock")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = run(t, "a/Cargo.lock", b) })
}
