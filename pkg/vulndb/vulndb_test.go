package vulndb_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	bolt "go.etcd.io/bbolt"

	"github.com/wardensec/warden/pkg/vulndb"
)

var t0 = time.Date(2024, 10, 16, 0, 0, 0, 0, time.UTC)

func build(t testing.TB, path string, batches ...*vulndb.Batch) {
	t.Helper()
	err := vulndb.Update(context.Background(), path, vulndb.UpdateOptions{Now: func() time.Time { return t0 }}, func(ctx context.Context, w *vulndb.Writer) error {
		for _, b := range batches {
			if err := w.Put(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func open(t testing.TB, path string) *vulndb.DB {
	t.Helper()
	db, err := vulndb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func lookup(t testing.TB, db *vulndb.DB, ns, pkg string) []vulndb.Advisory {
	t.Helper()
	advs, err := db.Lookup(context.Background(), ns, pkg)
	if err != nil {
		t.Fatal(err)
	}
	return advs
}

// A Go advisory with every field set reads back identically.
func TestRoundTrip(t *testing.T) {
	in := vulndb.Advisory{
		ID: "GO-2022-0956", Aliases: []string{"CVE-2022-3064", "GHSA-6q6q-88xp-6f2r"},
		Namespace: "Go", Package: "gopkg.in/yaml.v2", Status: vulndb.StatusFixed,
		Ranges:       []vulndb.Range{{Type: "SEMVER", Introduced: "0", Fixed: "2.2.4"}, {Type: "SEMVER", Introduced: "3.0.0", LastAffected: "3.0.1"}},
		Versions:     []string{"2.2.3"},
		FixedVersion: "2.2.4", Severity: "HIGH", SeveritySource: "ghsa",
		CVSS:  []vulndb.CVSS{{Source: "ghsa", Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", Score: 7.5}},
		Title: "Excessive resource consumption in gopkg.in/yaml.v2", Description: strings.Repeat("Parsing malicious or large YAML documents can consume excessive amounts of CPU or memory. ", 5),
		URLs: []string{"https://github.com/go-yaml/yaml/commit/f221b8435cfb71e54062f6c6e99e9ade30b124d5"}, Published: time.Date(2022, 8, 29, 22, 15, 46, 0, time.UTC),
		Modified: time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC), FixedAt: time.Date(2022, 9, 1, 0, 0, 0, 0, time.UTC),
		Source:  "osv-go",
		Imports: []vulndb.GoImport{{Path: "gopkg.in/yaml.v2", GOOS: []string{"linux"}, GOARCH: []string{"amd64"}, Symbols: []string{"Decoder.Decode", "Unmarshal"}}},
	}
	path := filepath.Join(t.TempDir(), "db")
	build(t, path, &vulndb.Batch{Source: "osv-go", Records: 1, Advisories: []vulndb.Advisory{in}})
	db := open(t, path)
	got := lookup(t, db, "Go", "gopkg.in/yaml.v2")
	if diff := cmp.Diff([]vulndb.Advisory{in}, got); diff != "" {
		t.Errorf("Lookup (-want +got):\n%s", diff)
	}
	if !db.Built().Equal(t0) {
		t.Errorf("Built = %v, want %v", db.Built(), t0)
	}
	if advs := lookup(t, db, "Go", "gopkg.in/yaml.v3"); len(advs) != 0 {
		t.Errorf("unknown package: got %d advisories", len(advs))
	}
	if advs := lookup(t, db, "npm", "gopkg.in/yaml.v2"); len(advs) != 0 {
		t.Errorf("unknown namespace: got %d advisories", len(advs))
	}
}

// Severity precedence: the distro's own, then NVD, then the advisory's own.
func TestSeverityPrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	nvd := &vulndb.Batch{Source: "nvd", Records: 2, Scores: map[string][]vulndb.CVSS{
		"CVE-2021-44906": {{Source: "nvd", Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Score: 9.8}, {Source: "nvd", Version: "2.0", Vector: "AV:N/AC:L/Au:N/C:P/I:P/A:P", Score: 7.5}},
		"CVE-2000-0001":  {{Source: "nvd", Version: "2.0", Vector: "AV:N/AC:L/Au:N/C:P/I:P/A:P", Score: 7.5}},
	}}
	distro := &vulndb.Batch{Source: "debian-tracker", Advisories: []vulndb.Advisory{
		{ID: "CVE-2021-44906", Namespace: "debian:12", Package: "node-minimist", Status: vulndb.StatusFixed, Severity: "LOW", SeveritySource: "debian-tracker"},
		{ID: "CVE-2000-0001", Namespace: "debian:12", Package: "foo", Status: vulndb.StatusUnfixed, Severity: "UNKNOWN"},
		{ID: "CVE-2000-0002", Namespace: "debian:12", Package: "foo", Status: vulndb.StatusUnfixed, Severity: "UNKNOWN"},
		// An advisory naming several CVEs, none its own id: the worst-scored one counts.
		{ID: "DSA-0000-1", Aliases: []string{"CVE-2000-0001", "CVE-2021-44906", "CVE-2000-0002"}, Namespace: "debian:12", Package: "foo", Status: vulndb.StatusFixed},
	}}
	alpine := &vulndb.Batch{Source: "alpine-secdb", Advisories: []vulndb.Advisory{
		{ID: "CVE-2021-44906", Namespace: "alpine:3.19", Package: "foo", Status: vulndb.StatusFixed}, // secdb has no severities
	}}
	lang := &vulndb.Batch{Source: "osv-npm", Advisories: []vulndb.Advisory{
		{ID: "GHSA-xvch-5gv4-984h", Aliases: []string{"CVE-2021-44906"}, Namespace: "npm", Package: "minimist", Status: vulndb.StatusFixed, Severity: "MEDIUM", SeveritySource: "ghsa"},
		{ID: "GHSA-aaaa-bbbb-cccc", Namespace: "npm", Package: "minimist", Status: vulndb.StatusFixed, Severity: "MEDIUM", SeveritySource: "ghsa"},
	}}
	build(t, path, nvd, distro, lang, alpine)
	db := open(t, path)
	type sev struct{ ID, Severity, Source string }
	var got []sev
	for _, q := range [][2]string{{"debian:12", "node-minimist"}, {"debian:12", "foo"}, {"npm", "minimist"}, {"alpine:3.19", "foo"}} {
		for _, a := range lookup(t, db, q[0], q[1]) {
			got = append(got, sev{a.ID, a.Severity, a.SeveritySource})
		}
	}
	want := []sev{
		{"CVE-2021-44906", "LOW", "debian-tracker"}, // distro first
		{"CVE-2000-0001", "HIGH", "nvd"},            // no distro rating: NVD (v2 bands)
		{"CVE-2000-0002", "UNKNOWN", ""},            // nothing known
		{"DSA-0000-1", "CRITICAL", "nvd"},           // the worst of its CVEs
		{"GHSA-aaaa-bbbb-cccc", "MEDIUM", "ghsa"},   // no NVD record: the advisory's own
		{"GHSA-xvch-5gv4-984h", "CRITICAL", "nvd"},  // NVD before the advisory's own
		{"CVE-2021-44906", "CRITICAL", "nvd"},       // Alpine: no distro rating, NVD
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("severities (-want +got):\n%s", diff)
	}
	scores, err := db.Scores("CVE-2021-44906")
	if err != nil || len(scores) != 2 || scores[0].Score != 9.8 {
		t.Errorf("Scores = %v, %v", scores, err)
	}
}

// TestNVDTitles: an advisory with neither title nor description (Alpine's
// secdb names only the CVE) gets NVD's title of its CVE, or of its single CVE
// alias; an advisory's own title or description stays; an advisory naming
// several CVEs gets none. A title-only NVD record (no CVSS yet) is kept, and
// an incremental window (Merge) replaces a CVE's title and keeps the others.
func TestNVDTitles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	nvd := &vulndb.Batch{Source: "nvd", Records: 3,
		Scores: map[string][]vulndb.CVSS{"CVE-2024-6119": {{Source: "nvd", Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", Score: 7.5}}},
		Titles: map[string]string{
			"CVE-2024-6119":  "Applications performing certificate name checks (e.g., TLS clients checking server certificates) may attempt to read an…",
			"CVE-2024-9143":  "Use of the low-level GF(2^m) elliptic curve APIs with untrusted explicit values for the field polynomial can lead to…",
			"CVE-2021-44906": "Minimist <=1.2.5 is vulnerable to Prototype Pollution via file index.js, function setKey() (lines 69-95).",
		}}
	alpine := &vulndb.Batch{Source: "alpine-secdb", Advisories: []vulndb.Advisory{
		{ID: "CVE-2024-6119", Namespace: "alpine:3.19", Package: "openssl", Status: vulndb.StatusFixed},
		{ID: "CVE-2024-9143", Namespace: "alpine:3.19", Package: "openssl", Status: vulndb.StatusFixed},
		{ID: "CVE-2024-5535", Namespace: "alpine:3.19", Package: "openssl", Status: vulndb.StatusFixed}, // no NVD record
	}}
	other := &vulndb.Batch{Source: "osv-npm", Advisories: []vulndb.Advisory{
		{ID: "GHSA-xvch-5gv4-984h", Aliases: []string{"CVE-2021-44906"}, Namespace: "npm", Package: "minimist", Status: vulndb.StatusFixed, Title: "Prototype Pollution in minimist"},
		{ID: "GHSA-aaaa-bbbb-cccc", Aliases: []string{"CVE-2021-44906", "CVE-2021-44906"}, Namespace: "npm", Package: "minimist", Status: vulndb.StatusFixed},
		{ID: "GHSA-dddd-eeee-ffff", Aliases: []string{"CVE-2024-6119", "CVE-2024-9143"}, Namespace: "npm", Package: "minimist", Status: vulndb.StatusFixed},
		{ID: "PYSEC-0000-1", Aliases: []string{"CVE-2021-44906"}, Namespace: "npm", Package: "minimist", Status: vulndb.StatusFixed, Description: "Its own words.\nMore."},
	}}
	build(t, path, nvd, alpine, other)
	titles := func() map[string]string {
		db := open(t, path)
		defer db.Close()
		got := map[string]string{}
		for _, q := range [][2]string{{"alpine:3.19", "openssl"}, {"npm", "minimist"}} {
			for _, a := range lookup(t, db, q[0], q[1]) {
				got[a.ID] = a.Title
			}
		}
		return got
	}
	want := map[string]string{
		"CVE-2024-6119":       nvd.Titles["CVE-2024-6119"],
		"CVE-2024-9143":       nvd.Titles["CVE-2024-9143"], // a record without CVSS still gives its title
		"CVE-2024-5535":       "",
		"GHSA-xvch-5gv4-984h": "Prototype Pollution in minimist", // its own
		"GHSA-aaaa-bbbb-cccc": nvd.Titles["CVE-2021-44906"],      // its one CVE
		"GHSA-dddd-eeee-ffff": "",                                // two CVEs: neither names it
		"PYSEC-0000-1":        "",                                // its description stands (report.Title takes its first line)
	}
	if diff := cmp.Diff(want, titles()); diff != "" {
		t.Errorf("titles (-want +got):\n%s", diff)
	}
	// An incremental window changes one CVE's title; the others and the scores stay.
	err := vulndb.Update(context.Background(), path, vulndb.UpdateOptions{Now: func() time.Time { return t0 }}, func(ctx context.Context, w *vulndb.Writer) error {
		return w.Put(&vulndb.Batch{Source: "nvd", Records: 1, Merge: true, Titles: map[string]string{"CVE-2024-9143": "Low-level invalid GF(2^m) parameters lead to OOB memory access."}})
	})
	if err != nil {
		t.Fatal(err)
	}
	want["CVE-2024-9143"] = "Low-level invalid GF(2^m) parameters lead to OOB memory access."
	if diff := cmp.Diff(want, titles()); diff != "" {
		t.Errorf("after the window (-want +got):\n%s", diff)
	}
	db := open(t, path)
	if cs, err := db.Scores("CVE-2024-6119"); err != nil || len(cs) != 1 {
		t.Errorf("scores after the window: %v %v", cs, err)
	}
	if title, err := db.NVDTitle("CVE-2021-44906"); err != nil || title != nvd.Titles["CVE-2021-44906"] {
		t.Errorf("NVDTitle = %q, %v", title, err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := vulndb.Open(filepath.Join(dir, "missing")); !errors.Is(err, vulndb.ErrNoDB) {
		t.Errorf("missing file: err = %v, want ErrNoDB", err)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	if _, err := vulndb.Open(empty); !errors.Is(err, vulndb.ErrNoDB) {
		t.Errorf("empty file: err = %v, want ErrNoDB", err)
	}
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte(strings.Repeat("not a database ", 1000)), 0o644)
	if _, err := vulndb.Open(junk); err == nil || !strings.Contains(err.Error(), junk) {
		t.Errorf("junk file: err = %v, want an error naming the file", err)
	}
	// A database of another schema version.
	old := filepath.Join(dir, "old")
	b, err := bolt.Open(old, 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Update(func(tx *bolt.Tx) error {
		m, _ := tx.CreateBucket([]byte("meta"))
		return m.Put([]byte("schema"), []byte("0"))
	})
	b.Close()
	_, err = vulndb.Open(old)
	if !errors.Is(err, vulndb.ErrSchema) || !strings.Contains(err.Error(), "warden db update") {
		t.Errorf("old schema: err = %v, want ErrSchema telling to run warden db update", err)
	}
	// Importing over it starts a new database.
	build(t, old, &vulndb.Batch{Source: "x", Advisories: []vulndb.Advisory{{ID: "A", Namespace: "npm", Package: "p", Status: vulndb.StatusUnfixed}}})
	if got := lookup(t, open(t, old), "npm", "p"); len(got) != 1 {
		t.Errorf("after rebuild: %d advisories", len(got))
	}
}

// Re-importing a source replaces what it had; other sources stay; a
// failed update leaves the database as it was, with no temporary files.
func TestReplaceAndFailedUpdate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "db")
	adv := func(id, ns, pkg string) vulndb.Advisory {
		return vulndb.Advisory{ID: id, Namespace: ns, Package: pkg, Status: vulndb.StatusFixed, FixedVersion: "1", Title: id}
	}
	build(t, path,
		&vulndb.Batch{Source: "alpine-secdb", Records: 2, Advisories: []vulndb.Advisory{adv("CVE-1", "alpine:3.19", "openssl"), adv("CVE-2", "alpine:3.20", "openssl")}},
		&vulndb.Batch{Source: "osv-npm", Records: 1, Advisories: []vulndb.Advisory{adv("GHSA-1", "npm", "lodash")}})
	// New alpine data for 3.19 only: 3.19 replaced, 3.20 and npm kept.
	build(t, path, &vulndb.Batch{Source: "alpine-secdb", Records: 1, Advisories: []vulndb.Advisory{adv("CVE-3", "alpine:3.19", "openssl")}})
	// Two batches of one source in one update add up (main.json + community.json).
	build(t, path,
		&vulndb.Batch{Source: "osv-npm", Advisories: []vulndb.Advisory{adv("GHSA-2", "npm", "lodash")}},
		&vulndb.Batch{Source: "osv-npm", Advisories: []vulndb.Advisory{adv("GHSA-3", "npm", "lodash"), adv("GHSA-2", "npm", "lodash")}})
	ids := func() string {
		db := open(t, path)
		var s []string
		for _, q := range [][2]string{{"alpine:3.19", "openssl"}, {"alpine:3.20", "openssl"}, {"npm", "lodash"}} {
			for _, a := range lookup(t, db, q[0], q[1]) {
				s = append(s, a.ID)
			}
		}
		db.Close()
		return strings.Join(s, " ")
	}
	if got, want := ids(), "CVE-3 CVE-2 GHSA-2 GHSA-3"; got != want {
		t.Errorf("after imports: %q, want %q", got, want)
	}
	before, _ := os.ReadFile(path)
	err := vulndb.Update(context.Background(), path, vulndb.UpdateOptions{}, func(ctx context.Context, w *vulndb.Writer) error {
		if err := w.Put(&vulndb.Batch{Source: "osv-npm", Advisories: []vulndb.Advisory{adv("GHSA-9", "npm", "lodash")}}); err != nil {
			return err
		}
		return errors.New("feed broke in the middle")
	})
	if err == nil {
		t.Fatal("Update: want the error of fn")
	}
	after, _ := os.ReadFile(path)
	if string(before) != string(after) {
		t.Error("a failed update changed the database file")
	}
	if got, want := ids(), "CVE-3 CVE-2 GHSA-2 GHSA-3"; got != want {
		t.Errorf("after failed update: %q, want %q", got, want)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "db.tmp-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	st, err := open(t, path).Status()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, is := range st.Imports {
		got = append(got, fmt.Sprintf("%s:%d", is.Source, is.Records))
	}
	if want := "alpine-secdb:1 osv-npm:0"; strings.Join(got, " ") != want {
		t.Errorf("imports %q, want %q", got, want)
	}
}

func TestExportMerge(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	a := vulndb.Advisory{ID: "CVE-2024-9143", Namespace: "alpine:3.19", Package: "openssl", Status: vulndb.StatusFixed, FixedVersion: "3.1.7-r1", Ranges: []vulndb.Range{{Type: "ECOSYSTEM", Fixed: "3.1.7-r1"}}}
	build(t, src, &vulndb.Batch{Source: "alpine-secdb", Records: 1, Advisories: []vulndb.Advisory{a}},
		&vulndb.Batch{Source: "nvd", Records: 1, Scores: map[string][]vulndb.CVSS{"CVE-2024-9143": {{Source: "nvd", Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:L", Score: 6.5}}}})
	build(t, dst, &vulndb.Batch{Source: "osv-npm", Records: 1, Advisories: []vulndb.Advisory{{ID: "GHSA-1", Namespace: "npm", Package: "x", Status: vulndb.StatusUnfixed}}})
	bundle := filepath.Join(dir, "bundle")
	f, _ := os.Create(bundle)
	if _, err := open(t, src).Export(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	err := vulndb.Update(context.Background(), dst, vulndb.UpdateOptions{}, func(ctx context.Context, w *vulndb.Writer) error { return w.Merge(bundle) })
	if err != nil {
		t.Fatal(err)
	}
	db := open(t, dst)
	got := lookup(t, db, "alpine:3.19", "openssl")
	if len(got) != 1 || got[0].FixedVersion != "3.1.7-r1" || got[0].Severity != "MEDIUM" || got[0].SeveritySource != "nvd" {
		t.Errorf("merged lookup = %+v", got)
	}
	if len(lookup(t, db, "npm", "x")) != 1 {
		t.Error("merge dropped the existing source")
	}
}

const childEnv = "WARDEN_VULNDB_TEST_CHILD"

// The child half of TestKillDuringImport: a long import that never ends.
func TestChildImport(t *testing.T) {
	path := os.Getenv(childEnv)
	if path == "" {
		t.Skip("only runs as the child of TestKillDuringImport")
	}
	_ = vulndb.Update(context.Background(), path, vulndb.UpdateOptions{}, func(ctx context.Context, w *vulndb.Writer) error {
		for i := 0; ; i++ {
			var advs []vulndb.Advisory
			for j := 0; j < 500; j++ {
				advs = append(advs, vulndb.Advisory{ID: fmt.Sprintf("CVE-%d-%d", i, j), Namespace: "npm", Package: fmt.Sprintf("p%d", j), Status: vulndb.StatusUnfixed})
			}
			if err := w.Put(&vulndb.Batch{Source: fmt.Sprintf("src%d", i), Advisories: advs}); err != nil {
				return err
			}
			if i == 3 {
				os.WriteFile(path+".started", nil, 0o644)
			}
		}
	})
}

// SIGKILL in the middle of an import leaves the previous database usable.
func TestKillDuringImport(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "db")
	want := vulndb.Advisory{ID: "GHSA-p6mc-m468-83gw", Namespace: "npm", Package: "lodash", Status: vulndb.StatusFixed, FixedVersion: "4.17.20", Severity: "UNKNOWN", Source: "osv-npm"}
	build(t, path, &vulndb.Batch{Source: "osv-npm", Records: 1, Advisories: []vulndb.Advisory{want}})

	cmd := exec.Command(os.Args[0], "-test.run=^TestChildImport$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(path + ".started"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the child import did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, not by SIGKILL", err)
	}
	if left, _ := filepath.Glob(path + ".tmp-*"); len(left) == 0 {
		t.Error("expected the killed import to leave its temporary file (it was killed mid-way)")
	}
	db := open(t, path)
	got := lookup(t, db, "npm", "lodash")
	if diff := cmp.Diff([]vulndb.Advisory{want}, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("old database after SIGKILL (-want +got):\n%s", diff)
	}
	db.Close()
	// The next update cleans up and succeeds.
	build(t, path, &vulndb.Batch{Source: "osv-npm", Records: 1, Advisories: []vulndb.Advisory{want}})
	if left, _ := filepath.Glob(path + ".tmp-*"); len(left) != 0 {
		t.Errorf("temporary files left after the next update: %v", left)
	}
}

func TestNormalizeName(t *testing.T) {
	for _, tc := range []struct{ ns, in, want string }{
		{"PyPI", "Foo.Bar_baz--qux", "foo-bar-baz-qux"},
		{"PyPI", "PyYAML", "pyyaml"},
		{"npm", "@Scope/Pkg", "@Scope/Pkg"},
		{"Maven", "org.apache.logging.log4j:log4j-core", "org.apache.logging.log4j:log4j-core"},
		{"Maven", "org.apache.logging.log4j/log4j-core", "org.apache.logging.log4j:log4j-core"},
		{"Go", "github.com/Foo/Bar", "github.com/Foo/Bar"},
		{"NuGet", "Newtonsoft.Json", "newtonsoft.json"},
		{"debian:12", "libssl3", "libssl3"},
	} {
		if got := vulndb.NormalizeName(tc.ns, tc.in); got != tc.want {
			t.Errorf("NormalizeName(%q, %q) = %q, want %q", tc.ns, tc.in, got, tc.want)
		}
	}
}

// A process holding the file exclusively makes Open wait, then fail clearly.
func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	build(t, path, &vulndb.Batch{Source: "x", Advisories: []vulndb.Advisory{{ID: "A", Namespace: "npm", Package: "p", Status: vulndb.StatusUnfixed}}})
	w, err := bolt.Open(path, 0o644, nil) // read-write: exclusive lock
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	old := vulndb.OpenTimeout
	vulndb.OpenTimeout = 200 * time.Millisecond
	defer func() { vulndb.OpenTimeout = old }()
	_, err = vulndb.Open(path)
	if err == nil || !strings.Contains(err.Error(), "locked by another process") || !strings.Contains(err.Error(), path) {
		t.Errorf("err = %v", err)
	}
}
