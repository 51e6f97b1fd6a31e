package gobinary

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/inventory"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// VulnApp builds ../shared/corpus/lang/go-vulnapp (plain and stripped) once
// per test binary and returns the directory holding "vulnapp" and "vulnapp-stripped".
func vulnApp(t *testing.T) string {
	t.Helper()
	src := filepath.Join(testutil.Corpus(t), "lang", "go-vulnapp")
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "warden-vulnapp-")
		if err != nil {
			buildErr = err
			return
		}
		buildDir = dir
		for _, f := range []string{"go.mod", "go.sum", "main.go"} {
			b, err := os.ReadFile(filepath.Join(src, f))
			if err != nil {
				buildErr = err
				return
			}
			if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
				buildErr = err
				return
			}
		}
		for _, b := range []struct{ out, ldflags, mode string }{
			{"vulnapp", "-buildid=", "exe"},
			{"vulnapp-stripped", "-buildid= -s -w", "exe"},
			{"vulnapp-pie", "-buildid= -s -w", "pie"},
		} {
			cmd := exec.Command("go", "build", "-trimpath", "-buildmode="+b.mode, "-ldflags="+b.ldflags, "-o", b.out, ".")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=-mod=mod")
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = &buildError{string(out), err}
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatalf("building go-vulnapp: %v", buildErr)
	}
	return buildDir
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

func extractFile(t *testing.T, path, rel string) ([]inventory.Package, []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	var warns []string
	in := &extract.Input{Path: rel, Mode: fi.Mode(), Size: fi.Size(), Reader: f, At: f, Layer: "sha256:test",
		Warn: func(m string) { warns = append(warns, m) }}
	pkgs, err := New().Extract(context.Background(), in)
	if err != nil {
		t.Fatalf("Extract(%s): %v", rel, err)
	}
	return pkgs, warns
}

func byName(pkgs []inventory.Package) map[string]inventory.Package {
	m := map[string]inventory.Package{}
	for _, p := range pkgs {
		m[p.Name] = p
	}
	return m
}

func TestVulnApp(t *testing.T) {
	dir := vulnApp(t)
	// vulnapp-nohdr: the stripped PIE with its .gopclntab section header renamed
	// to .data.rel.ro, as in binaries whose external linker merged the table
	// into .data.rel.ro (Debian's docker, dockerd): found by its magic.
	pie, err := os.ReadFile(filepath.Join(dir, "vulnapp-pie"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "vulnapp-nohdr"), hidePclntabHeader(t, pie), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, bin := range []string{"vulnapp", "vulnapp-stripped", "vulnapp-pie", "vulnapp-nohdr"} {
		t.Run(bin, func(t *testing.T) {
			pkgs, warns := extractFile(t, filepath.Join(dir, bin), "app/"+bin)
			if len(warns) > 0 {
				t.Errorf("warnings: %v", warns)
			}
			m := byName(pkgs)
			want := map[string]string{
				"example.com/vulnapp": "(devel)",
				"golang.org/x/net":    "v0.0.0-20210226172049-e18ecbb05110",
				"golang.org/x/text":   "v0.3.5",
				"gopkg.in/yaml.v2":    "v2.2.2",
				"stdlib":              StdlibVersion(goVersion(t)),
			}
			if len(m) != len(want) {
				t.Errorf("got %d packages %v, want %d", len(m), pkgs, len(want))
			}
			for name, v := range want {
				p, ok := m[name]
				if !ok {
					t.Errorf("missing %s", name)
					continue
				}
				if p.Version != v {
					t.Errorf("%s: version %q, want %q", name, p.Version, v)
				}
				if p.Ecosystem != inventory.Go || p.GOOS != "linux" || p.GOARCH != "amd64" {
					t.Errorf("%s: ecosystem/platform %q %s/%s", name, p.Ecosystem, p.GOOS, p.GOARCH)
				}
				if len(p.Locations) != 1 || p.Locations[0] != "/app/"+bin {
					t.Errorf("%s: locations %v", name, p.Locations)
				}
				if !p.SymbolsKnown {
					t.Errorf("%s: symbols not known", name)
				}
			}
			if got := m["golang.org/x/net"].PURL; got != "pkg:golang/golang.org/x/net@v0.0.0-20210226172049-e18ecbb05110" {
				t.Errorf("purl %q", got)
			}
			if got := m["stdlib"].PURL; !strings.HasPrefix(got, "pkg:golang/stdlib@1.") {
				t.Errorf("stdlib purl %q", got)
			}
			checkSymbols(t, filepath.Join(dir, bin), m)
		})
	}
}

func goVersion(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// checkSymbols checks the symbols kept on each module against the names
// the binary's function table holds: every name of a module's packages is
// there, no other, and the names are normalised.
func checkSymbols(t *testing.T, bin string, m map[string]inventory.Package) {
	t.Helper()
	f, err := os.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := map[string]string{} // name -> its package
	if _, err := symbols(f, func(pkg, name []byte) { names[string(name)] = string(pkg) }); err != nil {
		t.Fatal(err)
	}
	net, std := m["golang.org/x/net"].Symbols, m["stdlib"].Symbols
	for _, s := range []string{"golang.org/x/net/html.Parse", "golang.org/x/net/html.Tokenizer.Next"} {
		if !net.Has(s) {
			t.Errorf("x/net symbols lack %s", s)
		}
	}
	if !net.HasPackage("golang.org/x/net/html") || net.HasPackage("golang.org/x/net/http2") {
		t.Errorf("x/net packages: html %v, http2 %v; want html only (http2 is not linked)",
			net.HasPackage("golang.org/x/net/html"), net.HasPackage("golang.org/x/net/http2"))
	}
	if y := m["gopkg.in/yaml.v2"].Symbols; !y.Has("gopkg.in/yaml.v2.Unmarshal") || !y.HasPackage("gopkg.in/yaml.v2") {
		t.Errorf("yaml.v2 symbols lack Unmarshal")
	}
	if x := m["golang.org/x/text"].Symbols; !x.Has("golang.org/x/text/language.Parse") {
		t.Errorf("x/text symbols lack language.Parse")
	}
	if !std.Has("fmt.Println") || !std.Has("os.File.Read") || std.HasPackage("main") {
		t.Errorf("stdlib symbols: fmt.Println %v, os.File.Read %v, package main %v",
			std.Has("fmt.Println"), std.Has("os.File.Read"), std.HasPackage("main"))
	}
	nNet, nStd := 0, 0
	for name, pkg := range names {
		if strings.Contains(name, "[") || strings.Contains(name, "(*") {
			t.Errorf("symbol %q not normalised", name)
		}
		inNet := strings.HasPrefix(pkg, "golang.org/x/net/")
		inStd := !strings.Contains(strings.Split(pkg, "/")[0], ".") && pkg != "main"
		if inNet {
			nNet++
		}
		if inStd {
			nStd++
		}
		if net.Has(name) != inNet {
			t.Errorf("x/net symbols: %s kept %v, want %v", name, net.Has(name), inNet)
		}
		if std.Has(name) != inStd {
			t.Errorf("stdlib symbols: %s kept %v, want %v", name, std.Has(name), inStd)
		}
	}
	if net.Len() != nNet || std.Len() != nStd {
		t.Errorf("symbol counts: x/net %d, stdlib %d; the binary has %d and %d", net.Len(), std.Len(), nNet, nStd)
	}
}

// hidePclntabHeader gives the .gopclntab section header the name of the
// first .data.rel.ro header (ELF64 little-endian: sh_name is the first word of a header).
func hidePclntabHeader(t *testing.T, b []byte) []byte {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var tab, rel int = -1, -1
	for i, s := range f.Sections {
		switch s.Name {
		case ".gopclntab":
			tab = i
		case ".data.rel.ro":
			if rel < 0 {
				rel = i
			}
		}
	}
	if tab < 0 || rel < 0 || tab > rel {
		t.Fatalf("unexpected section layout: .gopclntab %d, .data.rel.ro %d", tab, rel)
	}
	shoff := binary.LittleEndian.Uint64(b[0x28:])
	shentsize := uint64(binary.LittleEndian.Uint16(b[0x3a:]))
	out := bytes.Clone(b)
	copy(out[shoff+uint64(tab)*shentsize:], b[shoff+uint64(rel)*shentsize:shoff+uint64(rel)*shentsize+4])
	g, err := elf.NewFile(bytes.NewReader(out))
	if err != nil || g.Section(".gopclntab") != nil || g.Section(".data.rel.ro") == nil {
		t.Fatalf("patching the section header did not work: %v", err)
	}
	return out
}
