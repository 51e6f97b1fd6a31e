package apk

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/inventory"
)

var update = flag.Bool("update", false, "rewrite golden files")

type summary struct {
	Name, Version, Source, Arch, PURL string
	Licenses                          []string
	Files                             int
	FirstFile                         string `json:",omitempty"`
}

func summarize(pkgs []inventory.Package) []summary {
	out := make([]summary, len(pkgs))
	for i, p := range pkgs {
		out[i] = summary{Name: p.Name, Version: p.Version, Source: p.SourceName, Arch: p.Arch, PURL: p.PURL, Licenses: p.Licenses, Files: len(p.Files)}
		if len(p.Files) > 0 {
			out[i].FirstFile = p.Files[0]
		}
	}
	return out
}

func golden(t *testing.T, name string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if diff := cmp.Diff(string(want), string(b)+"\n"); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", p, diff)
	}
}

// corpusDB reads lib/apk/db/installed out of the real minirootfs tarball.
func corpusDB(t *testing.T) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join(testutil.Corpus(t), "images", "alpine-minirootfs-3.19.4-x86_64.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("lib/apk/db/installed not found: %v", err)
		}
		if strings.TrimPrefix(h.Name, "./") == DBPath {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

func TestAlpineMinirootfs(t *testing.T) {
	db := corpusDB(t)
	var warns []string
	e := New()
	if !e.Required(DBPath, 0o644, int64(len(db))) || e.Required("lib/apk/db/installed.bak", 0o644, 1) || e.Required("var/cache/apk/x.apk", 0o644, 1) {
		t.Fatal("Required is wrong")
	}
	pkgs, err := e.Extract(context.Background(), &extract.Input{Path: DBPath, Reader: bytes.NewReader(db), Warn: func(m string) { warns = append(warns, m) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) > 0 {
		t.Errorf("warnings on a clean DB: %v", warns)
	}
	if len(pkgs) != 15 {
		t.Fatalf("got %d packages, want the minirootfs's 15", len(pkgs))
	}
	found := 0
	for _, p := range pkgs {
		if p.Name == "libcrypto3" || p.Name == "libssl3" {
			found++
			if p.Version != "3.1.7-r0" || p.SourceName != "openssl" || p.Arch != "x86_64" {
				t.Errorf("%s: got version %q origin %q arch %q", p.Name, p.Version, p.SourceName, p.Arch)
			}
			if p.PURL != "pkg:apk/alpine/"+p.Name+"@3.1.7-r0?arch=x86_64" {
				t.Errorf("%s: purl %q", p.Name, p.PURL)
			}
		}
		if p.Ecosystem != inventory.Apk || len(p.Locations) != 1 || p.Locations[0] != "/lib/apk/db/installed" {
			t.Errorf("%s: ecosystem %q locations %v", p.Name, p.Ecosystem, p.Locations)
		}
	}
	if found != 2 {
		t.Errorf("libcrypto3 and libssl3 not both found")
	}
	golden(t, "alpine-3.19.4.golden.json", summarize(pkgs))

	// The committed copy is the same file.
	local, err := os.ReadFile("testdata/installed")
	if err != nil || !bytes.Equal(local, db) {
		t.Errorf("testdata/installed differs from the corpus copy (%v)", err)
	}
}

func TestMalformedRecordsAreWarnedAndSkipped(t *testing.T) {
	db := "P:good\nV:1.0-r0\nA:x86_64\no:goodsrc\nF:usr/bin\nR:good\n\n" +
		"V:2.0-r0\nA:x86_64\n\n" + // no name
		"P:noversion\nA:x86_64\n\n" + // no version
		"garbage line\nP:also-good\nV:3.0-r1\n\n"
	var warns []string
	pkgs, err := Parse(strings.NewReader(db), func(m string) { warns = append(warns, m) })
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pkgs {
		names = append(names, p.Name+"@"+p.Version)
	}
	if diff := cmp.Diff([]string{"good@1.0-r0", "also-good@3.0-r1"}, names); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
	if len(warns) != 3 {
		t.Fatalf("want 3 warnings, got %q", warns)
	}
	for i, frag := range []string{"no package name", "\"noversion\") has no version", "line 14"} {
		if !strings.Contains(warns[i], frag) {
			t.Errorf("warning %d %q does not mention %q", i, warns[i], frag)
		}
	}
	if got := pkgs[0].Files; len(got) != 1 || got[0] != "/usr/bin/good" {
		t.Errorf("files %v", got)
	}
}

func TestLongLineIsAnError(t *testing.T) {
	db := "P:x\nV:1\nT:" + strings.Repeat("a", maxLine+10) + "\n"
	_, err := Parse(strings.NewReader(db), func(string) {})
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("want an error naming line 3, got %v", err)
	}
}

func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("testdata/installed"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("P:a\nV:1\n\nP:\nV:\nF:\nR:x\n"))
	f.Add([]byte("R:orphan\n\n\n:\nx"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := Parse(bytes.NewReader(b), func(string) {})
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" {
				t.Fatalf("package without name or version: %+v", p)
			}
		}
	})
}

func TestUsrMergedDatabase(t *testing.T) {
	e := New()
	if !e.Required(UsrDBPath, 0o644, 10) {
		t.Fatal("usr/lib/apk/db/installed not required")
	}
	usr, err := e.Extract(context.Background(), &extract.Input{Path: UsrDBPath, Reader: strings.NewReader("F:\nR:bin\nP:wolfi-baselayout\nV:20230201-r23\n\n")})
	if err != nil || len(usr) != 1 || usr[0].Locations[0] != "/usr/lib/apk/db/installed" {
		t.Fatalf("%+v %v", usr, err)
	}
	if got := e.Merge(usr); len(got) != 1 {
		t.Errorf("alone: %d", len(got))
	}
	lib, _ := e.Extract(context.Background(), &extract.Input{Path: DBPath, Reader: strings.NewReader("P:musl\nV:1\n\n")})
	got := e.Merge(append(append([]inventory.Package{}, usr...), lib...))
	if len(got) != 1 || got[0].Name != "musl" {
		t.Errorf("both: %+v", got)
	}
}
