package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/internal/testimage"
	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/extract/all"
	"github.com/wardensec/warden/pkg/source"
	"github.com/wardensec/warden/pkg/walk"
)

// TestSameInventoryFromEverySource: one two-layer image (the real Alpine 3.19.4
// minirootfs, then a layer that rewrites the apk database without zlib and whites
// out a file) written as docker-archive, oci-layout, oci-archive, pushed to a
// registry on 127.0.0.1, loaded into the Docker Engine and unpacked as a dir:
// every source gives the same inventory, and it is the final state.
func TestSameInventoryFromEverySource(t *testing.T) {
	corpus := testutil.Corpus(t)
	minirootfs := filepath.Join(corpus, "images", "alpine-minirootfs-3.19.4-x86_64.tar.gz")
	db := string(readTarGzFile(t, minirootfs, "lib/apk/db/installed"))
	var kept []string
	dropped := false
	for _, para := range strings.Split(strings.TrimRight(db, "\n"), "\n\n") {
		if strings.Contains("\n"+para+"\n", "\nP:zlib\n") {
			dropped = true
			continue
		}
		kept = append(kept, para)
	}
	if !dropped {
		t.Fatal("the minirootfs apk database has no zlib entry")
	}
	img := testimage.Image(t, nil,
		testimage.LayerFromTarGz(t, minirootfs),
		testimage.Layer(t,
			testimage.Reg("lib/apk/db/installed", strings.Join(kept, "\n\n")+"\n\n"),
			testimage.Whiteout("lib/libz.so.1.3.1"),
		))

	var want []string
	for _, s := range testimage.AllSources(t, img) {
		t.Run(s.Kind, func(t *testing.T) {
			src, err := source.Open(context.Background(), s.Ref, source.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			inv, err := walk.Inventory(context.Background(), src, walk.Options{Extractors: all.Extractors(), ImageName: s.Ref})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range inv.Packages {
				// Layer is left out: dir: flattens the image into one layer.
				got = append(got, fmt.Sprintf("%s %s %s origin=%s files=%d", p.Ecosystem, p.Name, p.Version, p.SourceName, len(p.Files)))
			}
			sort.Strings(got)
			if inv.Distro == nil || inv.Distro.ID != "alpine" || inv.Distro.VersionID != "3.19.4" {
				t.Errorf("distro %+v, want alpine 3.19.4", inv.Distro)
			}
			if len(got) != 14 {
				t.Errorf("%d packages, want 14 (15 minus zlib):\n%s", len(got), strings.Join(got, "\n"))
			}
			for _, g := range got {
				if strings.Contains(g, " zlib ") {
					t.Errorf("zlib was removed in layer 2 but is listed: %s", g)
				}
			}
			if want == nil {
				want = got
				return
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("inventory differs from the first source's (-want +got):\n%s", d)
			}
		})
	}
}
