// Package testrpmdb builds real rpm databases for tests: tiny packages made
// with rpmbuild at the names and versions a test gives, installed (database
// only) with rpm into a fresh root, and read back with Warden's rpm
// extractor, as an image's packages are.
package testrpmdb

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/extract/os/rpm"
	"github.com/wardensec/warden/pkg/inventory"
)

// Pkg is one rpm to build: name, epoch, version, release, source rpm name
// (its spec's Name), and the module stream it was built for ("" for none).
type Pkg struct {
	Name, Epoch, Version, Release, Source, Modularity string
}

// specFile writes the spec of the rpms of one source package.
func specFile(src string, pkgs []Pkg) string {
	var b strings.Builder
	main := pkgs[0]
	b.WriteString("Name: " + src + "\n")
	if main.Epoch != "" {
		b.WriteString("Epoch: " + main.Epoch + "\n")
	}
	b.WriteString("Version: " + main.Version + "\nRelease: " + main.Release + "\nSummary: test\nLicense: MIT\n\n%description\nTest package.\n\n")
	for _, p := range pkgs {
		if p.Name != src {
			b.WriteString("%package -n " + p.Name + "\nSummary: test\n")
			if p.Epoch != main.Epoch || p.Version != main.Version || p.Release != main.Release {
				b.WriteString("Epoch: " + p.Epoch + "\nVersion: " + p.Version + "\nRelease: " + p.Release + "\n")
			}
			b.WriteString("%description -n " + p.Name + "\nTest package.\n\n")
		}
	}
	b.WriteString("%install\n")
	for _, p := range pkgs {
		b.WriteString("mkdir -p %{buildroot}/usr/share/" + p.Name + " && echo x > %{buildroot}/usr/share/" + p.Name + "/x\n")
	}
	for _, p := range pkgs {
		if p.Name == src {
			b.WriteString("\n%files\n")
		} else {
			b.WriteString("\n%files -n " + p.Name + "\n")
		}
		b.WriteString("/usr/share/" + p.Name + "/x\n")
	}
	return b.String()
}

// Build builds the packages with rpmbuild, installs them (database only)
// with rpm into a fresh root, and returns what Warden's rpm extractor reads
// from that database. It fails the test (CI) or skips it (elsewhere) when
// rpm or rpmbuild is missing.
func Build(t testing.TB, pkgs []Pkg) []inventory.Package {
	t.Helper()
	rpmbuild := testutil.RequireTool(t, "rpmbuild")
	rpmBin := testutil.RequireTool(t, "rpm")
	// Not t.TempDir(): it holds the subtest's name, whose parentheses break rpmbuild's shell.
	top, err := os.MkdirTemp("", "warden-rpmdb-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(top) })
	bySrc := map[string][]Pkg{}
	var srcs []string
	for _, p := range pkgs {
		if bySrc[p.Source] == nil {
			srcs = append(srcs, p.Source)
		}
		bySrc[p.Source] = append(bySrc[p.Source], p)
	}
	// The source's own package first: it sets the spec's version.
	for _, src := range srcs {
		ps := bySrc[src]
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].Name == src && ps[j].Name != src })
		spec := filepath.Join(top, src+".spec")
		if err := os.WriteFile(spec, []byte(specFile(src, ps)), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"-bb", "--quiet", "--define", "_topdir " + top, "--target", "x86_64"}
		if ps[0].Modularity != "" {
			args = append(args, "--define", "modularitylabel "+ps[0].Modularity)
		}
		cmd := exec.Command(rpmbuild, append(args, spec)...)
		cmd.Env = append(os.Environ(), "HOME="+top)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("rpmbuild %s: %v\n%s", src, err, out)
		}
	}
	rpms, _ := filepath.Glob(filepath.Join(top, "RPMS", "*", "*.rpm"))
	if len(rpms) != len(pkgs) {
		t.Fatalf("rpmbuild made %v for %d packages", rpms, len(pkgs))
	}
	root := filepath.Join(top, "root")
	for _, args := range [][]string{
		{"--root", root, "--dbpath", "/var/lib/rpm", "--initdb"},
		append([]string{"--root", root, "--dbpath", "/var/lib/rpm", "-i", "--justdb", "--nodeps", "--noscripts", "--ignorearch"}, rpms...),
	} {
		cmd := exec.Command(rpmBin, args...)
		cmd.Env = append(os.Environ(), "HOME="+top)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("rpm %v: %v\n%s", args, err, errb.String())
		}
	}
	var warns []string
	got, err := rpm.ReadDB(filepath.Join(root, "var", "lib", "rpm", "rpmdb.sqlite"), func(m string) { warns = append(warns, m) })
	if err != nil || len(warns) > 0 {
		t.Fatalf("reading the rpmdb: %v %v", err, warns)
	}
	if len(got) != len(pkgs) {
		t.Fatalf("the rpmdb holds %d packages, %d were installed: %+v", len(got), len(pkgs), got)
	}
	return got
}
