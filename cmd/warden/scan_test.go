package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/cachedir"
	"github.com/wardensec/warden/pkg/vulndb"
)

// scanState imports the corpus feeds named (paths under corpus/feeds) into a
// fresh state directory with the real `warden db import`, and pins scan's
// clock an hour after the import. It returns the state dir and the import time.
func scanState(t *testing.T, feeds ...string) (string, time.Time) {
	t.Helper()
	corpus := testutil.Corpus(t)
	dir := t.TempDir()
	args := []string{"--cache-dir", dir, "db", "import"}
	for _, f := range feeds {
		if !filepath.IsAbs(f) {
			f = filepath.Join(corpus, "feeds", f)
		}
		args = append(args, f)
	}
	if _, stderr, code := runWardenCmd(t, args...); code != 0 {
		t.Fatalf("db import: exit %d: %s", code, stderr)
	}
	built := dbBuilt(t, dir)
	setScanNow(t, built.Add(time.Hour))
	return dir, built
}

// dbBuilt returns the build time of the database in the state directory.
func dbBuilt(t *testing.T, state string) time.Time {
	t.Helper()
	db, err := vulndb.Open(cachedir.DBPath(state))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return db.Built()
}

func setScanNow(t *testing.T, now time.Time) {
	old := scanNow
	scanNow = func() time.Time { return now }
	t.Cleanup(func() { scanNow = old })
}

// transcript runs warden with args and compares "$ command", the exit code,
// stdout and stderr with testdata/scan/<name>.txt (go test -update rewrites it).
// Volatile strings (the state dir, the import time) are replaced by names.
func transcript(t *testing.T, name string, wantCode int, state string, built time.Time, args ...string) string {
	t.Helper()
	full := append([]string{"--cache-dir", state}, args...)
	stdout, stderr, code := runWardenCmd(t, full...)
	clean := func(s string) string {
		if state != "" {
			s = strings.ReplaceAll(s, state, "$STATE")
		}
		s = tmpPath.ReplaceAllString(s, "$$TMP")
		if !built.IsZero() {
			s = strings.ReplaceAll(s, built.UTC().Format(time.RFC3339), "$DB_BUILT")
		}
		return s
	}
	got := fmt.Sprintf("$ warden %s\nexit %d\n-- stdout --\n%s-- stderr --\n%s", clean(strings.Join(args, " ")), code, clean(stdout), clean(stderr))
	if !strings.HasSuffix(got, "\n") {
		got += "\n"
	}
	checkGolden(t, filepath.Join("scan", name+".txt"), got)
	if code != wantCode {
		t.Errorf("%s: exit %d, want %d\n%s", name, code, wantCode, got)
	}
	return stdout
}

// tmpPath matches the directories of t.TempDir.
var tmpPath = regexp.MustCompile(regexp.QuoteMeta(os.TempDir()) + `/Test[A-Za-z0-9_]+/[0-9]+`)

const alpineImage = "oci-layout:../../testdata/images/alpine-3.19.4"

// nvdFeeds is the repository's real NVD records (testdata/feeds/nvd:
// CVE-2024-9143, not scored by NVD, and CVE-2024-6119).
func nvdFeeds(t *testing.T) string {
	return filepath.Join(testutil.RepoRoot(t), "testdata", "feeds", "nvd")
}

// alpineTitle is the title NVD's record gives CVE-2024-9143 (its first
// sentence, cut to 120 characters): the secdb has none.
const alpineTitle = "Use of the low-level GF(2^m) elliptic curve APIs with untrusted explicit values for the field polynomial can lead to…"

// TestScanAlpine: Alpine 3.19.4 against the Alpine secdb (v3.19): exactly
// CVE-2024-9143 on libcrypto3 and libssl3 3.1.7-r0, fixed in 3.1.7-r1, with
// the title of NVD's record (imported too; it has no score, so the severity
// stays UNKNOWN).
func TestScanAlpine(t *testing.T) {
	state, built := scanState(t, "alpine-secdb/v3.19", "ghsa-osv", "go-vulndb-osv", "pypi-osv", nvdFeeds(t))

	out := transcript(t, "alpine-table", 0, state, built, "scan", alpineImage)
	if n := strings.Count(out, "CVE-"); n != 2 || !strings.Contains(out, "libcrypto3") || !strings.Contains(out, "libssl3") {
		t.Errorf("want CVE-2024-9143 on libcrypto3 and libssl3 only:\n%s", out)
	}
	// The table cuts titles to 60 characters, at a word.
	if n := strings.Count(out, "  Use of the low-level GF(2^m) elliptic curve APIs with…\n"); n != 2 {
		t.Errorf("the TITLE column lacks NVD's title (%d rows):\n%s", n, out)
	}
	out = transcript(t, "alpine-wide", 0, state, built, "scan", alpineImage, "--wide")
	if !strings.Contains(out, "URL") || strings.Count(out, "https://security.alpinelinux.org/vuln/CVE-2024-9143") != 2 {
		t.Errorf("--wide: want the Alpine tracker's page of CVE-2024-9143 on both rows:\n%s", out)
	}
	out = transcript(t, "alpine-json", 0, state, built, "scan", alpineImage, "--format", "json")
	if n := strings.Count(out, `"title": "`+alpineTitle+`"`); n != 2 {
		t.Errorf("JSON: %d findings with NVD's title, want 2", n)
	}
	transcript(t, "alpine-sarif", 0, state, built, "scan", alpineImage, "--format", "sarif")
	transcript(t, "alpine-fail-on-unknown", exitFail, state, built, "scan", alpineImage, "--fail-on", "unknown")
	transcript(t, "alpine-fail-on-high", 0, state, built, "scan", alpineImage, "--fail-on", "HIGH")
	transcript(t, "alpine-os-only", 0, state, built, "scan", alpineImage, "--os-only", "--no-cache")

	tmp := t.TempDir()
	ign := filepath.Join(tmp, "ignore.yaml")
	writeFile(t, ign, `ignore:
  - id: CVE-2024-9143
    package: libssl3
    reason: the service never uses TLS with explicit curve parameters
    expires: 2099-12-31
  - id: CVE-2024-9143
    package: libcrypto3
    reason: accepted for the autumn release
    expires: 2020-01-01
`)
	transcript(t, "alpine-ignore-file", exitFail, state, built, "scan", alpineImage, "--ignore-file", ign, "--fail-on", "UNKNOWN")

	vex := filepath.Join(tmp, "vex.json")
	writeFile(t, vex, `{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://example.com/vex/1",
  "author": "test",
  "timestamp": "2026-11-01T00:00:00Z",
  "version": 1,
  "statements": [{
    "vulnerability": {"name": "CVE-2024-9143"},
    "products": [
      {"@id": "pkg:apk/alpine/libcrypto3@3.1.7-r0"},
      {"@id": "pkg:apk/alpine/libssl3@3.1.7-r0"}
    ],
    "status": "not_affected",
    "justification": "vulnerable_code_not_in_execute_path",
    "impact_statement": "no explicit GF(2^m) curve parameters are parsed"
  }]
}`)
	transcript(t, "alpine-vex", 0, state, built, "scan", alpineImage, "--vex", vex, "--fail-on", "UNKNOWN")

	tpl := filepath.Join(tmp, "t.tmpl")
	writeFile(t, tpl, "{{range .vulnerabilities}}{{.id}} {{.package.name}} {{.package.version}} -> {{.fixed_version}}\n{{end}}")
	out = transcript(t, "alpine-template", 0, state, built, "scan", alpineImage, "--format", "template", "--template", tpl)
	if !strings.Contains(out, "CVE-2024-9143 libssl3 3.1.7-r0 -> 3.1.7-r1") {
		t.Errorf("template output: %s", out)
	}

	// --output writes the report to a file and nothing to stdout.
	dst := filepath.Join(tmp, "report.cdx.json")
	transcript(t, "alpine-output-cyclonedx", 0, state, built, "scan", alpineImage, "--format", "cyclonedx", "--output", dst)
	b, err := os.ReadFile(dst)
	if err != nil || !strings.Contains(string(b), `"specVersion": "1.6"`) || !strings.Contains(string(b), "CVE-2024-9143") {
		t.Errorf("--output CycloneDX: %v\n%.400s", err, b)
	}

	// A stale database warns; with --require-fresh-db it fails.
	setScanNow(t, built.Add(10*24*time.Hour))
	transcript(t, "alpine-stale-db", 0, state, built, "scan", alpineImage, "--format", "json", "--output", filepath.Join(tmp, "r.json"))
	transcript(t, "alpine-stale-db-required", exitError, state, built, "scan", alpineImage, "--fail-on", "high", "--require-fresh-db")
	transcript(t, "alpine-db-max-age", 0, state, built, "scan", alpineImage, "--db-max-age", "720h", "--output", filepath.Join(tmp, "r.txt"))
}

func TestScanErrors(t *testing.T) {
	empty := t.TempDir()
	transcript(t, "no-db", exitError, empty, time.Time{}, "scan", alpineImage)
	state, built := scanState(t, "ghsa-osv")
	// A database without the image's release: nothing matched, and the scan says why.
	transcript(t, "alpine-release-not-imported", 0, state, built, "scan", alpineImage)
	transcript(t, "alpine-release-not-imported-gate", exitError, state, built, "scan", alpineImage, "--fail-on", "low")
	transcript(t, "bad-fail-on", exitError, state, built, "scan", alpineImage, "--fail-on", "SEVERE")
	transcript(t, "bad-format", exitError, state, built, "scan", alpineImage, "--format", "xml")
	transcript(t, "template-without-file", exitError, state, built, "scan", alpineImage, "--format", "template")
	transcript(t, "missing-image", exitError, state, built, "scan", "oci-layout:does-not-exist")
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	writeFile(t, bad, "ignore:\n  - id: CVE-1\n")
	transcript(t, "bad-ignore-file", exitError, state, built, "scan", alpineImage, "--ignore-file", bad)
	badVex := filepath.Join(t.TempDir(), "bad.json")
	writeFile(t, badVex, `{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":"CVE-1","products":["x"],"status":"maybe"}]}`)
	transcript(t, "bad-vex", exitError, state, built, "scan", alpineImage, "--vex", badVex)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
