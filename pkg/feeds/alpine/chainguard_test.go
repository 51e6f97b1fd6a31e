package alpine_test

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/internal/testdb"
	"github.com/wardensec/warden/pkg/extract/os/distro"
	"github.com/wardensec/warden/pkg/feeds/alpine"
	"github.com/wardensec/warden/pkg/match"
)

// TestChainguardEndToEnd: a real slice of Chainguard's secdb
// (packages.cgr.dev/chainguard/security.json, as db update fetches it for the
// feed "chainguard") is stored under chainguard:rolling; an image whose
// os-release says ID=chainguard gets that namespace and its apk database,
// read by the apk extractor, is matched against those rows: below a fix the
// CVE with its fixed build, at the fix nothing. The real os-release of
// cgr.dev/chainguard/wolfi-base says ID=wolfi: such an image is a Wolfi
// image (wolfi:rolling, TestWolfiEndToEnd) and the Chainguard rows do not
// reach it.
func TestChainguardEndToEnd(t *testing.T) {
	batch := secdbBatch(t, "testdata/chainguard-vunnel-slice.json", "chainguard/security.json", alpine.SourceChainguard)
	for _, a := range batch.Advisories {
		if a.Namespace != "chainguard:rolling" {
			t.Errorf("row outside chainguard:rolling: %s %s %s", a.ID, a.Namespace, a.Package)
		}
	}
	db := testdb.Open(t, batch)

	// grafana is a Chainguard package (not in Wolfi's secdb), at its fix;
	// libcrypto3 (origin openssl) above three fixes, below CVE-2023-0464's;
	// zlib below CVE-2022-37434's fix.
	installed := "P:grafana\nV:7.5.19-r0\nA:x86_64\no:grafana\n\n" +
		"P:libcrypto3\nV:3.0.8-r0\nA:x86_64\no:openssl\n\n" +
		"P:zlib\nV:1.2.12-r2\nA:x86_64\no:zlib\n\n"
	pkgs := apkPackages(t, installed)
	wolfiBase, err := os.ReadFile("testdata/cgr.dev-wolfi-base.os-release")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, osRelease, ns string
		want                []string
	}{
		// ID=chainguard: the ID scanners key Chainguard's own OS on (not
		// copied from an image; see the testdata README).
		{"ID=chainguard: Chainguard's secdb", "ID=chainguard\nNAME=\"Chainguard\"\nPRETTY_NAME=\"Chainguard\"\n", "chainguard:rolling", []string{
			"libcrypto3 CVE-2023-0464 3.1.0-r1",
			"zlib CVE-2022-37434 1.2.12-r3",
		}},
		{"cgr.dev wolfi-base (ID=wolfi): a Wolfi image, not judged by Chainguard's rows", string(wolfiBase), "wolfi:rolling", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := distro.Detect(map[string][]byte{distro.EtcOSRelease: []byte(c.osRelease)}, nil)
			if got := match.Namespace(d); got != c.ns {
				t.Fatalf("distro %+v: namespace %q, want %q", d, got, c.ns)
			}
			got := findings(t, db, d, pkgs)
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}
