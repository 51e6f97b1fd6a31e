package rpm

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/internal/testimage"
	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/walk"
)

// Real package names and versions (RHEL 9), built as tiny packages with Debian's rpmbuild.
var specs = map[string]string{
	"openssl.spec": `Name: openssl
Epoch: 1
Version: 3.0.7
Release: 27.el9
Summary: Utilities from the general purpose cryptography library with TLS implementation
License: ASL 2.0

%description
Test package.

%package libs
Summary: A general purpose cryptography library with TLS implementation
%description libs
Test package.

%install
mkdir -p %{buildroot}/usr/lib64 %{buildroot}/usr/bin
echo lib > %{buildroot}/usr/lib64/libssl.so.3
echo bin > %{buildroot}/usr/bin/openssl

%files
/usr/bin/openssl

%files libs
/usr/lib64/libssl.so.3
`,
	"bash.spec": `Name: bash
Version: 5.1.8
Release: 9.el9
Summary: The GNU Bourne Again shell
License: GPLv3+

%description
Test package.

%install
mkdir -p %{buildroot}/usr/bin
echo sh > %{buildroot}/usr/bin/bash

%files
/usr/bin/bash
`,
	"tzdata.spec": `Name: tzdata
Version: 2024a
Release: 1.el9
Summary: Timezone data
License: Public Domain
BuildArch: noarch

%description
Test package.

%install
mkdir -p %{buildroot}/usr/share/zoneinfo
echo tz > %{buildroot}/usr/share/zoneinfo/UTC

%files
/usr/share/zoneinfo/UTC
`,
}

// buildDB builds the packages above and installs them (database only) into a
// fresh root; it returns the root and the .rpm files.
func buildDB(t *testing.T) (root string, rpms []string) {
	t.Helper()
	rpmbuild := testutil.RequireTool(t, "rpmbuild")
	rpmBin := testutil.RequireTool(t, "rpm")
	top := t.TempDir()
	os.MkdirAll(filepath.Join(top, "SPECS"), 0o755)
	for name, spec := range specs {
		p := filepath.Join(top, "SPECS", name)
		if err := os.WriteFile(p, []byte(spec), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(rpmbuild, "-bb", "--quiet", "--define", "_topdir "+top, "--target", "x86_64", p)
		cmd.Env = append(os.Environ(), "HOME="+top)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("rpmbuild %s: %v\n%s", name, err, out)
		}
	}
	rpms, _ = filepath.Glob(filepath.Join(top, "RPMS", "*", "*.rpm"))
	if len(rpms) != 4 {
		t.Fatalf("rpmbuild made %v", rpms)
	}
	root = t.TempDir()
	run(t, rpmBin, "--root", root, "--dbpath", "/var/lib/rpm", "--initdb")
	run(t, rpmBin, append([]string{"--root", root, "--dbpath", "/var/lib/rpm", "-i", "--justdb", "--nodeps", "--noscripts", "--ignorearch"}, rpms...)...)
	return root, rpms
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, errb.String())
	}
	return out.String()
}

// rpmQA lists a database with the real rpm tool: "name epoch:version-release arch source".
func rpmQA(t *testing.T, backend, dbdir string) []string {
	t.Helper()
	out := run(t, testutil.RequireTool(t, "rpm"), "--define", "_db_backend "+backend, "--dbpath", dbdir, "-qa",
		"--qf", `%{NAME} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE} %{ARCH} %{SOURCERPM}\n`)
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" && !strings.HasPrefix(l, "gpg-pubkey ") {
			lines = append(lines, l)
		}
	}
	sort.Strings(lines)
	return lines
}

func extractFile(t *testing.T, path, inPath string) ([]inventory.Package, []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var warns []string
	pkgs, err := New().Extract(context.Background(), &extract.Input{Path: inPath, Reader: bytes.NewReader(b), Size: int64(len(b)), Warn: func(m string) { warns = append(warns, m) }})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs, warns
}

func TestSQLiteDBBuiltByRPM(t *testing.T) {
	root, _ := buildDB(t)
	dbdir := filepath.Join(root, "var", "lib", "rpm")
	pkgs, warns := extractFile(t, filepath.Join(dbdir, "rpmdb.sqlite"), "var/lib/rpm/rpmdb.sqlite")
	if len(warns) > 0 {
		t.Errorf("warnings: %v", warns)
	}
	// The real rpm, on the same database, is the reference.
	want := rpmQA(t, "sqlite", dbdir)
	var got []string
	for _, p := range pkgs {
		got = append(got, p.Name+" "+p.Version+" "+p.Arch+" "+srpmOf(p))
	}
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ours vs rpm -qa (-rpm +ours):\n%s", diff)
	}
	var libs *inventory.Package
	for i := range pkgs {
		if pkgs[i].Name == "openssl-libs" {
			libs = &pkgs[i]
		}
	}
	if libs == nil {
		t.Fatal("openssl-libs missing")
	}
	wantLibs := inventory.Package{
		Name: "openssl-libs", Version: "1:3.0.7-27.el9", Ecosystem: inventory.Rpm, Epoch: 1, Arch: "x86_64",
		SourceName: "openssl", SourceVersion: "", Licenses: []string{"ASL 2.0"},
		PURL:      "pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?arch=x86_64&epoch=1",
		Locations: []string{"/var/lib/rpm/rpmdb.sqlite"}, Files: []string{"/usr/lib64/libssl.so.3"},
	}
	libs.Meta = nil
	if diff := cmp.Diff(wantLibs, *libs); diff != "" {
		t.Errorf("openssl-libs (-want +got):\n%s", diff)
	}
}

// srpmOf rebuilds the source RPM file name rpm -qa prints.
func srpmOf(p inventory.Package) string {
	v := p.SourceVer()
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[i+1:]
	}
	return p.Source() + "-" + v + ".src.rpm"
}

// goRPMDBTestdata is the real rpm databases (CentOS bdb, SLE ndb) that ship in
// the go-rpmdb module's testdata, read from the module cache.
func goRPMDBTestdata(t *testing.T, rel string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/anchore/go-rpmdb").Output()
	if err != nil {
		t.Fatalf("locating go-rpmdb in the module cache: %v", err)
	}
	p := filepath.Join(strings.TrimSpace(string(out)), "pkg", "testdata", rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%v", err)
	}
	return p
}

func TestBerkeleyDB(t *testing.T) {
	p := goRPMDBTestdata(t, "centos5-plain/Packages")
	pkgs, warns := extractFile(t, p, "var/lib/rpm/Packages")
	if len(warns) > 0 {
		t.Errorf("warnings: %v", warns)
	}
	// Debian's rpm reads bdb (read-only backend): it is the reference.
	dir := t.TempDir()
	b, _ := os.ReadFile(p)
	os.WriteFile(filepath.Join(dir, "Packages"), b, 0o644)
	want := rpmQA(t, "bdb_ro", dir)
	var got []string
	for _, p := range pkgs {
		got = append(got, p.Name+" "+p.Version+" "+p.Arch+" "+srpmOf(p))
	}
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ours vs rpm -qa (-rpm +ours):\n%s", diff)
	}
	if len(pkgs) < 100 {
		t.Errorf("only %d packages", len(pkgs))
	}
}

func TestNDB(t *testing.T) {
	pkgs, _ := extractFile(t, goRPMDBTestdata(t, "sle15-bci/Packages.db"), "usr/lib/sysimage/rpm/Packages.db")
	found := false
	for _, p := range pkgs {
		if p.Name == "filesystem" && p.Version == "15.0-11.3.2" && p.Arch == "x86_64" {
			found = true
		}
	}
	if len(pkgs) < 30 || !found {
		t.Errorf("ndb: %d packages, filesystem 15.0-11.3.2 found: %v", len(pkgs), found)
	}
}

func TestCorruptDatabase(t *testing.T) {
	for name, blob := range map[string][]byte{
		"garbage":          bytes.Repeat([]byte("not an rpmdb "), 500),
		"sqlite header":    append([]byte("SQLite format 3\x00"), make([]byte, 4096)...),
		"empty":            nil,
		"bdb magic, short": {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x61, 0x15, 0x06, 0},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New().Extract(context.Background(), &extract.Input{Path: "var/lib/rpm/Packages", Reader: bytes.NewReader(blob)})
			if err == nil || !strings.Contains(err.Error(), "var/lib/rpm/Packages") {
				t.Fatalf("want an error naming the file, got %v", err)
			}
		})
	}
}

func TestParseSourceRPM(t *testing.T) {
	for in, want := range map[string][2]string{
		"openssl-3.0.7-27.el9.src.rpm":          {"openssl", "3.0.7-27.el9"},
		"python3.11-pip-22.3.1-4.el9.src.rpm":   {"python3.11-pip", "22.3.1-4.el9"},
		"kernel-5.14.0-362.8.1.el9_3.nosrc.rpm": {"kernel", "5.14.0-362.8.1.el9_3"},
	} {
		n, v, err := ParseSourceRPM(in)
		if err != nil || n != want[0] || v != want[1] {
			t.Errorf("%s: %q %q %v", in, n, v, err)
		}
	}
	for _, bad := range []string{"openssl", "x.src.rpm", "a-b.src.rpm", "-1-2.src.rpm"} {
		if _, _, err := ParseSourceRPM(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// TestRPMImage walks a one-layer image holding a real rpmdb, os-release of
// Rocky 9.3, and a stray .rpm in the dnf cache (not installed, not counted).
func TestRPMImage(t *testing.T) {
	root, rpms := buildDB(t)
	db, err := os.ReadFile(filepath.Join(root, "var", "lib", "rpm", "rpmdb.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	stray, _ := os.ReadFile(rpms[0])
	img := testimage.Image(t, nil, testimage.Layer(t,
		testimage.Reg("etc/os-release", "NAME=\"Rocky Linux\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\nPRETTY_NAME=\"Rocky Linux 9.3 (Blue Onyx)\"\n"),
		testimage.Reg("var/lib/rpm/rpmdb.sqlite", string(db)),
		testimage.Reg("var/cache/dnf/baseos/packages/"+filepath.Base(rpms[0]), string(stray)),
	))
	inv, err := walk.Inventory(context.Background(), img, walk.Options{Extractors: []extract.Extractor{New()}})
	if err != nil {
		t.Fatal(err)
	}
	if inv.Distro == nil || inv.Distro.ID != "rocky" || inv.Distro.VersionID != "9.3" {
		t.Fatalf("distro %+v", inv.Distro)
	}
	var purls []string
	for _, p := range inv.Packages {
		purls = append(purls, p.PURL)
	}
	sort.Strings(purls)
	want := []string{
		"pkg:rpm/rocky/bash@5.1.8-9.el9?arch=x86_64&distro=rocky-9.3",
		"pkg:rpm/rocky/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=rocky-9.3&epoch=1",
		"pkg:rpm/rocky/openssl@3.0.7-27.el9?arch=x86_64&distro=rocky-9.3&epoch=1",
		"pkg:rpm/rocky/tzdata@2024a-1.el9?arch=noarch&distro=rocky-9.3",
	}
	if diff := cmp.Diff(want, purls); diff != "" {
		t.Errorf("purls (-want +got):\n%s", diff)
	}
}
