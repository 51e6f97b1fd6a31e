package alpine_test

import (
	"context"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wardensec/warden/internal/testdb"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/extract/os/apk"
	"github.com/wardensec/warden/pkg/extract/os/distro"
	"github.com/wardensec/warden/pkg/feeds/alpine"
	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/match"
	"github.com/wardensec/warden/pkg/vulndb"
)

// wolfiOSRelease is Wolfi's /etc/os-release as its images ship it (the shape
// Chainguard's cgr.dev images carry too: they report ID=wolfi).
const wolfiOSRelease = "ID=wolfi\nNAME=\"Wolfi\"\nPRETTY_NAME=\"Wolfi\"\nVERSION_ID=\"20230201\"\nHOME_URL=\"https://wolfi.dev\"\n"

// TestWolfiEndToEnd: a Wolfi root filesystem (os-release, the usr-merged apk
// database) is detected as wolfi, its packages read by the apk extractor, and
// matched against a real slice of Wolfi's secdb imported into a database:
// below a fix the CVE is reported with its fixed build, at the fix nothing.
func TestWolfiEndToEnd(t *testing.T) {
	d := distro.Detect(map[string][]byte{distro.EtcOSRelease: []byte(wolfiOSRelease)}, nil)
	if d == nil || d.ID != "wolfi" || match.Namespace(d) != "wolfi:rolling" {
		t.Fatalf("distro %+v, namespace %q", d, match.Namespace(d))
	}

	pkgs := apkPackages(t, "P:glibc\nV:2.36-r0\nA:x86_64\no:glibc\n\n"+
		"P:libcrypto3\nV:3.0.7-r0\nA:x86_64\no:openssl\n\n"+
		"P:zlib\nV:1.2.12-r2\nA:x86_64\no:zlib\n\n")
	db := testdb.Open(t, secdbBatch(t, "testdata/wolfi-vunnel-slice.json", "wolfi/security.json", alpine.SourceWolfi))
	got := findings(t, db, d, pkgs)
	want := []string{
		"glibc CVE-2022-39046 2.36-r1",
		"zlib CVE-2022-37434 1.2.12-r3",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

// apkPackages reads an apk installed database (usr-merged path).
func apkPackages(t *testing.T, installed string) []inventory.Package {
	t.Helper()
	pkgs, err := apk.New().Extract(context.Background(), &extract.Input{Path: apk.UsrDBPath, Reader: strings.NewReader(installed)})
	if err != nil || len(pkgs) != strings.Count(installed, "P:") {
		t.Fatalf("apk: %+v %v", pkgs, err)
	}
	return pkgs
}

// secdbBatch reads a secdb file (named as the feed names it) into the one
// batch of source src, without warnings.
func secdbBatch(t *testing.T, file, name, src string) *vulndb.Batch {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	r := alpine.NewReader(nil)
	if err := r.AddBytes(name, time.Time{}, data); err != nil {
		t.Fatal(err)
	}
	if len(r.Warn.List) > 0 {
		t.Errorf("warnings: %q", r.Warn.List)
	}
	bs := r.Batches()
	if len(bs) != 1 || bs[0].Source != src || len(bs[0].Advisories) == 0 {
		t.Fatalf("batches: %+v", bs)
	}
	return bs[0]
}

// findings matches pkgs on d and lists "package ID fixed", sorted.
func findings(t *testing.T, db vulndb.Reader, d *inventory.Distro, pkgs []inventory.Package) []string {
	t.Helper()
	fs, err := match.Match(context.Background(), db, &inventory.Inventory{Distro: d, Packages: pkgs}, match.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, f.Package.Name+" "+f.Advisory.ID+" "+f.FixedVersion)
	}
	sort.Strings(got)
	return got
}
