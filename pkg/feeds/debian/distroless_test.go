package debian_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/wardensec/warden/internal/testdb"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/extract/os/distro"
	"github.com/wardensec/warden/pkg/extract/os/dpkg"
	"github.com/wardensec/warden/pkg/feeds/debian"
	"github.com/wardensec/warden/pkg/feeds/feed"
	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/match"
)

// usr/lib/os-release of gcr.io/distroless/cc-debian12 (etc/os-release is a
// symlink to it in the image).
const bookwormOS = "PRETTY_NAME=\"Distroless\"\nNAME=\"Debian GNU/Linux\"\nID=\"debian\"\nVERSION_ID=\"12\"\nVERSION=\"Debian GNU/Linux 12 (bookworm)\"\nHOME_URL=\"https://github.com/GoogleContainerTools/distroless\"\n"

// TestDistrolessEndToEnd: a Debian-based distroless root filesystem (one
// file per package under var/lib/dpkg/status.d, no var/lib/dpkg/status) is
// detected as distroless Debian 12, its status.d entries read by the dpkg
// extractor (no Status field; Source: names the source package), and matched
// by source package against the bookworm tracker slice: libssl3 at
// bookworm's 3.0.20-1~deb12u2 is told both bookworm-security fixes, at the
// newer one nothing.
func TestDistrolessEndToEnd(t *testing.T) {
	const ssl = "var/lib/dpkg/status.d/libssl3"
	d := distro.Detect(map[string][]byte{distro.UsrOSRelease: []byte(bookwormOS)}, map[string]bool{ssl: true})
	if d == nil || !d.Distroless || match.Namespace(d) != "debian:12" {
		t.Fatalf("distro %+v, namespace %q", d, match.Namespace(d))
	}

	r := debian.NewReader(&feed.Warnings{})
	data, err := os.ReadFile(filepath.Join("testdata", "bookworm-slice.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AddBytes("bookworm-slice.json", data); err != nil {
		t.Fatal(err)
	}
	db := testdb.Open(t, r.Batches()...)

	fixes := func(version string) []string {
		t.Helper()
		e := dpkg.New()
		if !e.Required(ssl, 0o644, 100) {
			t.Fatalf("%s not required", ssl)
		}
		pkgs, err := e.Extract(context.Background(), &extract.Input{Path: ssl, Reader: strings.NewReader(
			"Package: libssl3\nVersion: " + version + "\nArchitecture: amd64\nSource: openssl\n")})
		if err != nil || len(pkgs) != 1 {
			t.Fatalf("dpkg: %+v %v", pkgs, err)
		}
		fs, err := match.Match(context.Background(), db, &inventory.Inventory{Distro: d, Packages: pkgs}, match.Options{})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, f := range fs {
			seen[f.Package.Name+" "+f.FixedVersion] = true
		}
		var out []string
		for k := range seen {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	if diff := cmp.Diff([]string{"libssl3 3.0.22-1~deb12u1", "libssl3 3.0.22-1~deb12u2"}, fixes("3.0.20-1~deb12u2")); diff != "" {
		t.Errorf("bookworm build (-want +got):\n%s", diff)
	}
	if got := fixes("3.0.22-1~deb12u2"); len(got) != 0 {
		t.Errorf("bookworm-security build: %q", got)
	}
}
