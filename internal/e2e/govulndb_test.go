package e2e

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/match"
)

// TestGovulncheckWholeDB compares Warden with govulncheck v1.9.0 (binary mode)
// on real third-party binaries — the pinned peer tools that .ci/tools.sh
// builds (crane, govulncheck, indexdb; go1.26 with many modules) — against the
// whole Go vulnerability database of the corpus (4,789 records): the same
// module-level findings, and Warden's linked set equal to govulncheck's
// symbol-level set.
func TestGovulncheckWholeDB(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: whole-database comparison")
	}
	govulncheck := testutil.RequireTool(t, "govulncheck")
	indexdb := testutil.RequireTool(t, "indexdb")
	bins := []string{govulncheck, indexdb, testutil.RequireTool(t, "crane")}

	osvDir := filepath.Join(t.TempDir(), "osv")
	unzipOSV(t, filepath.Join(testutil.Corpus(t), "feeds", "go-vulndb-osv-all.zip"), osvDir)
	dbDir := filepath.Join(t.TempDir(), "govulndb")
	if out, err := exec.Command(indexdb, "-vulns", osvDir, "-out", dbDir).CombinedOutput(); err != nil {
		t.Fatalf("indexdb: %v: %s", err, out)
	}
	db := openDB(t, "osv:"+osvDir)
	for _, bin := range bins {
		t.Run(filepath.Base(bin), func(t *testing.T) {
			cmd := exec.Command(govulncheck, "-mode=binary", "-db", "file://"+dbDir, "-json", bin)
			var out, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("govulncheck: %v: %s", err, stderr.String())
			}
			sym, all := map[string]bool{}, map[string]bool{}
			dec := json.NewDecoder(&out)
			for dec.More() {
				var m govulncheckMessage
				if err := dec.Decode(&m); err != nil {
					t.Fatal(err)
				}
				if m.Finding == nil || len(m.Finding.Trace) == 0 {
					continue
				}
				all[m.Finding.OSV] = true
				if m.Finding.Trace[0].Function != "" {
					sym[m.Finding.OSV] = true
				}
			}
			_, fs := scanDB(t, binImage(t, bin), db)
			fs = goFindings(fs)
			linked := ids(fs, func(f *match.Finding) bool { return f.Linked != nil && *f.Linked })
			warden := ids(fs, func(*match.Finding) bool { return true })
			t.Logf("govulncheck: %d findings, %d at symbol level; Warden: %d findings, %d linked", len(all), len(sym), len(warden), len(linked))
			if d := cmp.Diff(keys(sym), linked); d != "" {
				t.Errorf("linked set (-govulncheck symbol level +warden linked):\n%s", d)
			}
			if d := cmp.Diff(keys(all), warden); d != "" {
				t.Errorf("module-level set (-govulncheck +warden):\n%s", d)
			}
		})
	}
}

// unzipOSV writes the osv/*.json files of the Go vulndb zip into dir.
func unzipOSV(t *testing.T, zipPath, dir string) {
	t.Helper()
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range zr.File {
		if !strings.HasPrefix(f.Name, "osv/") || !strings.HasSuffix(f.Name, ".json") || strings.Contains(f.Name[4:], "/") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, 16<<20))
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.Name[4:]), b, 0o644); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n < 4000 {
		t.Fatalf("%s: only %d OSV records", zipPath, n)
	}
}
