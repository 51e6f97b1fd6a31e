package e2e

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/cachedir"
	"github.com/wardensec/warden/pkg/extract/all"
	"github.com/wardensec/warden/pkg/feeds"
	"github.com/wardensec/warden/pkg/match"
	"github.com/wardensec/warden/pkg/report"
	"github.com/wardensec/warden/pkg/source"
	"github.com/wardensec/warden/pkg/vulndb"
	"github.com/wardensec/warden/pkg/walk"
)

// TestReadmeLibraryUse runs the README's "use as a library" snippet as written
// (with errors checked), so the snippet keeps compiling and working.
func TestReadmeLibraryUse(t *testing.T) {
	ctx := context.Background()
	root := testutil.RepoRoot(t)
	stateDir := t.TempDir()
	if _, err := feeds.Import(ctx, cachedir.DBPath(stateDir), []string{filepath.Join(root, "testdata", "feeds")}, feeds.Options{}); err != nil {
		t.Fatal(err)
	}

	img, err := source.Open(ctx, "oci-layout:"+filepath.Join(root, "testdata", "images", "alpine-3.19.4"), source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	inv, err := walk.Inventory(ctx, img, walk.Options{Extractors: all.Extractors()})
	if err != nil {
		t.Fatal(err)
	}
	db, err := vulndb.Open(cachedir.DBPath(stateDir))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	findings, err := match.Match(ctx, db, inv, match.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := report.Write(&out, &report.Input{Artifact: img.Name, Inventory: inv, Findings: findings}, report.Options{Format: report.FormatTable}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(out.String(), "CVE-2024-9143"); got != 2 {
		t.Errorf("want CVE-2024-9143 on libcrypto3 and libssl3, got %d rows:\n%s", got, out.String())
	}
}
