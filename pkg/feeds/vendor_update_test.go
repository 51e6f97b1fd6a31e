package feeds

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"

	"github.com/wardensec/warden/pkg/vulndb"
)

// vendorServer serves files at their paths with ETags (If-None-Match
// answered 304) and counts the answers per path.
type vendorServer struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	hits  map[string][]int // path -> status codes answered
}

func newVendorServer(t *testing.T) *vendorServer {
	s := &vendorServer{files: map[string][]byte{}, hits: map[string][]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		data, ok := s.files[r.URL.Path]
		code := http.StatusOK
		defer func() { s.hits[r.URL.Path] = append(s.hits[r.URL.Path], code); s.mu.Unlock() }()
		if !ok {
			code = http.StatusNotFound
			http.NotFound(w, r)
			return
		}
		etag := fmt.Sprintf(`"%x"`, sha256.Sum256(data))
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			code = http.StatusNotModified
			w.WriteHeader(code)
			return
		}
		w.Write(data)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *vendorServer) set(path string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[path] = data
}

func (s *vendorServer) codes(path string) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.hits[path]...)
}

func readTestdata(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// vexArchive is a tar.zst of VEX files at their paths under csaf/v2/vex/
// (YYYY/cve-YYYY-NNNN.json), as in Red Hat's archive, from the real
// records of csaf/testdata.
func vexArchive(t *testing.T, cves ...string) []byte {
	t.Helper()
	files := map[string]string{
		"CVE-2024-9143":  "cve-2024-9143.json",
		"CVE-2023-46809": "cve-2023-46809-trimmed.json",
		"CVE-2005-2541":  "cve-2005-2541.json",
	}
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	years := map[string]bool{}
	for _, cve := range cves {
		year := strings.Split(cve, "-")[1]
		if !years[year] {
			years[year] = true
			tw.WriteHeader(&tar.Header{Name: year + "/", Typeflag: tar.TypeDir, Mode: 0o755})
		}
		data := readTestdata(t, filepath.Join("csaf", "testdata", files[cve]))
		if err := tw.WriteHeader(&tar.Header{Name: year + "/" + strings.ToLower(cve) + ".json", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	zw, _ := zstd.NewWriter(nil)
	return zw.EncodeAll(tb.Bytes(), nil)
}

func gz(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// repomd is a repodata/repomd.xml in the shape Amazon Linux's repositories
// serve (createrepo: one <data> per metadata file, checksums of the
// compressed and the open file).
func repomd(href string, gzData, open []byte) []byte {
	sum := func(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }
	return []byte(fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1721606400</revision>
  <data type="primary_db">
    <checksum type="sha256">%s</checksum>
    <open-checksum type="sha256">%s</open-checksum>
    <location href="repodata/primary.sqlite.gz"/>
    <timestamp>1721606390</timestamp>
    <database_version>10</database_version>
    <size>35000000</size>
    <open-size>113000000</open-size>
  </data>
  <data type="updateinfo">
    <checksum type="sha256">%s</checksum>
    <open-checksum type="sha256">%s</open-checksum>
    <location href="%s"/>
    <timestamp>1721606390</timestamp>
    <size>%d</size>
    <open-size>%d</open-size>
  </data>
</repomd>
`, sum([]byte("primary.sqlite.gz")), sum([]byte("primary.sqlite")), sum(gzData), sum(open), href, len(gzData), len(open)))
}

const (
	al2Repo    = "/2/core/2.0/x86_64/221a4af09d96ac4e34202cc7bdfa252410419542548cc685dc86ed1c17ca4204"
	al2023Repo = "/al2023/core/guids/46ff4933b89b948580f3b223b826fee3c1830b85885db3f7f90502c0ac99698c/x86_64/"
)

// serveAmazon puts Amazon Linux's layout on s: the mirror lists (AL2's names
// its repository without the final slash, AL2023's with it), each
// repository's repomd.xml and its gzipped updateinfo. AL2023's updateinfo
// has a checksum-prefixed name (createrepo_c's unique file names).
func serveAmazon(t *testing.T, s *vendorServer, al2, al2023 []byte) {
	s.set("/2/core/latest/x86_64/mirror.list", []byte(s.URL+al2Repo+"\n"))
	g := gz(t, al2)
	s.set(al2Repo+"/repodata/repomd.xml", repomd("repodata/updateinfo.xml.gz", g, al2))
	s.set(al2Repo+"/repodata/updateinfo.xml.gz", g)

	s.set("/al2023/core/mirrors/latest/x86_64/mirror.list", []byte(s.URL+al2023Repo+"\n"))
	g = gz(t, al2023)
	name := fmt.Sprintf("repodata/%x-updateinfo.xml.gz", sha256.Sum256(g))
	s.set(al2023Repo+"repodata/repomd.xml", repomd(name, g, al2023))
	s.set(al2023Repo+name, g)
}

// vendorFeeds are the default redhat-csaf, amazon-2 and amazon-2023 feeds
// with their hosts replaced by the test server's.
func vendorFeeds(t *testing.T, srv string) []Feed {
	var out []Feed
	for _, f := range DefaultFeeds() {
		switch f.Name {
		case "redhat-csaf", "amazon-2", "amazon-2023":
		default:
			continue
		}
		urls := make([]string, len(f.URLs))
		for i, u := range f.URLs {
			u = strings.Replace(u, "https://security.access.redhat.com", srv, 1)
			urls[i] = strings.Replace(u, "https://cdn.amazonlinux.com", srv, 1)
		}
		f.URLs = urls
		out = append(out, f)
	}
	if len(out) != 3 {
		t.Fatalf("default feeds: %+v", out)
	}
	return out
}

func feedStatus(rs []FeedResult) map[string]string {
	m := map[string]string{}
	for _, r := range rs {
		switch {
		case r.Err != nil:
			m[r.Feed] = "error"
		case r.NotModified:
			m[r.Feed] = "not-modified"
		default:
			m[r.Feed] = "updated"
		}
	}
	return m
}

// rows lists "ID status fixed" of a lookup.
func rows(t *testing.T, dbPath, ns, pkg string) []string {
	t.Helper()
	db, err := vulndb.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	advs, err := db.Lookup(context.Background(), ns, pkg)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range advs {
		out = append(out, a.ID+" "+a.Status+" "+a.FixedVersion)
	}
	return out
}

func TestUpdateRedHatAmazon(t *testing.T) {
	s := newVendorServer(t)
	vex := "/data/csaf/v2/vex/"
	s.set(vex+"archive_latest.txt", []byte("csaf_vex_2024-07-21.tar.zst\n"))
	s.set(vex+"csaf_vex_2024-07-21.tar.zst", vexArchive(t, "CVE-2024-9143", "CVE-2023-46809", "CVE-2005-2541"))
	s.set("/data/meta/v1/repository-to-cpe.json", readTestdata(t, "csaf/testdata/repository-to-cpe.json"))
	al2 := readTestdata(t, "amazon/testdata/al2-updateinfo.xml")
	al2023 := readTestdata(t, "amazon/testdata/al2023-updateinfo.xml")
	serveAmazon(t, s, al2, al2023)

	dbPath := filepath.Join(t.TempDir(), "db")
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	opt := UpdateOptions{Feeds: vendorFeeds(t, s.URL), Now: func() time.Time { return day }}
	update := func(step string, want map[string]string) []FeedResult {
		t.Helper()
		results, err := Update(context.Background(), dbPath, opt)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if diff := cmp.Diff(want, feedStatus(results)); diff != "" {
			t.Errorf("%s (-want +got):\n%s\n%+v", step, diff, results)
		}
		return results
	}

	// 1. Everything is new.
	res := update("first update", map[string]string{"redhat-csaf": "updated", "amazon-2": "updated", "amazon-2023": "updated"})
	for _, r := range res {
		if len(r.Warnings) > 0 {
			t.Errorf("%s warnings: %q", r.Feed, r.Warnings)
		}
	}
	tarRows := []string{"CVE-2005-2541 wont-fix "}
	if got := rows(t, dbPath, "rhel:8", "tar"); !cmp.Equal(got, tarRows) {
		t.Errorf("rhel:8 tar: %q, want %q", got, tarRows)
	}
	nodejs := rows(t, dbPath, "rhel:9", "nodejs")
	if len(nodejs) == 0 || !strings.HasPrefix(nodejs[0], "CVE-2023-46809 ") {
		t.Errorf("rhel:9 nodejs: %q", nodejs)
	}
	if got := rows(t, dbPath, "amzn:2", "qemu-kvm"); !cmp.Equal(got, []string{"ALAS2-2018-942 fixed 10:1.5.3-141.amzn2.5.3"}) {
		t.Errorf("amzn:2 qemu-kvm: %q", got)
	}
	if got := rows(t, dbPath, "amzn:2023", "rsyslog"); !cmp.Equal(got, []string{"ALAS2023-2023-001 fixed 8.2204.0-3.amzn2023.0.2"}) {
		t.Errorf("amzn:2023 rsyslog: %q", got)
	}
	db, err := vulndb.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	cpes, _ := db.RepositoryCPEs([]string{"rhel-8-for-x86_64-appstream-rpms"})
	st, _ := db.Status()
	db.Close()
	if !cmp.Equal(cpes, []string{"cpe:/a:redhat:enterprise_linux:8::appstream"}) {
		t.Errorf("repository CPEs: %q", cpes)
	}
	origins := map[string]string{}
	for _, is := range st.Imports {
		origins[is.Source] = is.Origin
	}
	if o := origins["redhat-csaf"]; o != s.URL+vex+"csaf_vex_2024-07-21.tar.zst, "+s.URL+"/data/meta/v1/repository-to-cpe.json" {
		t.Errorf("redhat-csaf origin %q", o)
	}
	if o := origins["amazon-alas"]; !strings.Contains(o, s.URL+al2Repo+"/repodata/updateinfo.xml.gz") {
		t.Errorf("amazon-alas origin %q", o)
	}

	// 2. Nothing changed upstream: the index files are read again, the data answers 304.
	day = day.Add(24 * time.Hour)
	update("unchanged", map[string]string{"redhat-csaf": "not-modified", "amazon-2": "not-modified", "amazon-2023": "not-modified"})
	for path, want := range map[string][]int{
		vex + "archive_latest.txt":                       {200, 200},
		vex + "csaf_vex_2024-07-21.tar.zst":              {200, 304},
		"/data/meta/v1/repository-to-cpe.json":           {200, 304},
		al2Repo + "/repodata/repomd.xml":                 {200, 200},
		al2Repo + "/repodata/updateinfo.xml.gz":          {200, 304},
		"/al2023/core/mirrors/latest/x86_64/mirror.list": {200, 200},
	} {
		if got := s.codes(path); !cmp.Equal(got, want) {
			t.Errorf("%s answered %v, want %v", path, got, want)
		}
	}
	if got := rows(t, dbPath, "rhel:8", "tar"); !cmp.Equal(got, tarRows) {
		t.Errorf("after 304: rhel:8 tar %q", got)
	}

	// 3. A new archive (CVE-2005-2541's file gone from it): it replaces the data.
	day = day.Add(24 * time.Hour)
	s.set(vex+"archive_latest.txt", []byte("csaf_vex_2024-07-28.tar.zst\n"))
	s.set(vex+"csaf_vex_2024-07-28.tar.zst", vexArchive(t, "CVE-2024-9143", "CVE-2023-46809"))
	update("new archive", map[string]string{"redhat-csaf": "updated", "amazon-2": "not-modified", "amazon-2023": "not-modified"})
	if got := s.codes(vex + "csaf_vex_2024-07-28.tar.zst"); !cmp.Equal(got, []int{200}) {
		t.Errorf("new archive answered %v", got)
	}
	if got := rows(t, dbPath, "rhel:8", "tar"); len(got) != 0 {
		t.Errorf("rhel:8 tar after the new archive: %q", got)
	}
	if got := rows(t, dbPath, "rhel:9", "nodejs"); !cmp.Equal(got, nodejs) {
		t.Errorf("rhel:9 nodejs after the new archive: %q, want %q", got, nodejs)
	}

	// 4. A truncated archive and a truncated updateinfo: the archive's feed
	// fails naming it and keeps its data; the updateinfo's feed keeps the
	// complete records with a warning naming the file; the third updates as usual.
	day = day.Add(24 * time.Hour)
	good := vexArchive(t, "CVE-2024-9143", "CVE-2023-46809", "CVE-2005-2541")
	s.set(vex+"archive_latest.txt", []byte("csaf_vex_2024-08-04.tar.zst\n"))
	s.set(vex+"csaf_vex_2024-08-04.tar.zst", good[:len(good)/2])
	broken := append(bytes.TrimSuffix(bytes.TrimSpace(al2023), []byte("</updates>")), `<update type="security"><id>ALAS2023-2023-0`...)
	serveAmazon(t, s, al2, broken)
	res = update("malformed", map[string]string{"redhat-csaf": "error", "amazon-2": "not-modified", "amazon-2023": "updated"})
	for _, r := range res {
		switch r.Feed {
		case "redhat-csaf":
			if r.Err == nil || !strings.Contains(r.Err.Error(), "tar.zst "+s.URL+vex+"csaf_vex_2024-08-04.tar.zst is truncated") {
				t.Errorf("redhat-csaf error: %v", r.Err)
			}
		case "amazon-2023":
			if len(r.Warnings) != 1 || !strings.HasPrefix(r.Warnings[0], s.URL+al2023Repo+"repodata/") || !strings.Contains(r.Warnings[0], "-updateinfo.xml.gz: skipping record update 2: XML syntax error") {
				t.Errorf("amazon-2023 warnings: %q", r.Warnings)
			}
		}
	}
	if got := rows(t, dbPath, "rhel:9", "nodejs"); !cmp.Equal(got, nodejs) {
		t.Errorf("rhel:9 nodejs after the failed update: %q, want %q", got, nodejs)
	}
	if got := rows(t, dbPath, "amzn:2023", "rsyslog"); !cmp.Equal(got, []string{"ALAS2023-2023-001 fixed 8.2204.0-3.amzn2023.0.2"}) {
		t.Errorf("amzn:2023 rsyslog after the truncated updateinfo: %q", got)
	}
}

// On a mirror the feeds sit at their Paths: Red Hat's directory (the
// archive beside archive_latest.txt), each Amazon repository's repodata.
func TestUpdateRedHatAmazonMirror(t *testing.T) {
	s := newVendorServer(t)
	s.set("/redhat/csaf/v2/vex/archive_latest.txt", []byte("csaf_vex_2024-07-21.tar.zst\n"))
	s.set("/redhat/csaf/v2/vex/csaf_vex_2024-07-21.tar.zst", vexArchive(t, "CVE-2005-2541"))
	s.set("/redhat/meta/v1/repository-to-cpe.json", readTestdata(t, "csaf/testdata/repository-to-cpe.json"))
	al2 := readTestdata(t, "amazon/testdata/al2-updateinfo.xml")
	g := gz(t, al2)
	s.set("/amazon/2/repodata/repomd.xml", repomd("repodata/updateinfo.xml.gz", g, al2))
	s.set("/amazon/2/repodata/updateinfo.xml.gz", g)
	var feeds []Feed
	for _, f := range DefaultFeeds() {
		if f.Name == "redhat-csaf" || f.Name == "amazon-2" || f.Name == "amazon-2023" {
			feeds = append(feeds, f)
		}
	}
	dbPath := filepath.Join(t.TempDir(), "db")
	results, err := Update(context.Background(), dbPath, UpdateOptions{Mirror: s.URL + "/", Feeds: feeds})
	if err != nil {
		t.Fatal(err)
	}
	// amazon-2023 is not on this mirror: a 404 naming its repomd.xml.
	if diff := cmp.Diff(map[string]string{"redhat-csaf": "updated", "amazon-2": "updated", "amazon-2023": "error"}, feedStatus(results)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, r := range results {
		if r.Feed == "amazon-2023" && (r.Err == nil || !strings.Contains(r.Err.Error(), s.URL+"/amazon/2023/repodata/repomd.xml: 404")) {
			t.Errorf("amazon-2023: %v", r.Err)
		}
	}
	if got := rows(t, dbPath, "rhel:9", "tar"); !cmp.Equal(got, []string{"CVE-2005-2541 wont-fix "}) {
		t.Errorf("rhel:9 tar: %q", got)
	}
	if got := rows(t, dbPath, "amzn:2", "java-1.8.0-openjdk"); !cmp.Equal(got, []string{"ALAS2-2018-949 fixed 1:1.8.0.161-0.b14.amzn2"}) {
		t.Errorf("amzn:2 java-1.8.0-openjdk: %q", got)
	}
	if s.codes("/2/core/latest/x86_64/mirror.list") != nil {
		t.Error("the mirror update read the upstream mirror list")
	}
}

// What the index files may say, and what they may not.
func TestResolveIndexFiles(t *testing.T) {
	s := newVendorServer(t)
	ui := readTestdata(t, "amazon/testdata/al2023-updateinfo.xml")
	for _, tc := range []struct {
		name    string
		via     string
		files   map[string]string
		want    string // the data URL (the server's URL as $S)
		wantErr string
	}{
		{name: "archive named", via: ViaRedHatVEX, files: map[string]string{"/vex/archive_latest.txt": "csaf_vex_2025-01-05.tar.zst\r\n"}, want: "$S/vex/csaf_vex_2025-01-05.tar.zst"},
		{name: "archive outside the directory", via: ViaRedHatVEX, files: map[string]string{"/vex/archive_latest.txt": "../other/x.tar.zst"}, wantErr: `"../other/x.tar.zst" is not the file name of a tar.zst archive`},
		{name: "an HTML page", via: ViaRedHatVEX, files: map[string]string{"/vex/archive_latest.txt": "<html><body>maintenance</body></html>"}, wantErr: "is not the file name"},
		{name: "index missing", via: ViaRedHatVEX, files: map[string]string{}, wantErr: "$S/vex/archive_latest.txt: 404"},
		{name: "AL2 list", via: ViaYumRepo, files: map[string]string{"/ml": "$S/2/core/2.0/x86_64/abc\n", "/2/core/2.0/x86_64/abc/repodata/repomd.xml": string(repomd("repodata/updateinfo.xml.gz", nil, ui))}, want: "$S/2/core/2.0/x86_64/abc/repodata/updateinfo.xml.gz"},
		{name: "blob store href", via: ViaYumRepo, files: map[string]string{"/ml": "$S/al2023/core/guids/g/x86_64/\n", "/al2023/core/guids/g/x86_64/repodata/repomd.xml": string(repomd("../../../../blobstore/d/updateinfo.xml.gz", nil, ui))}, want: "$S/al2023/blobstore/d/updateinfo.xml.gz"},
		{name: "href to another host", via: ViaYumRepo, files: map[string]string{"/ml": "$S/r/", "/r/repodata/repomd.xml": string(repomd("https://elsewhere.example/updateinfo.xml.gz", nil, ui))}, wantErr: "is not a path in the repository"},
		{name: "list names no URL", via: ViaYumRepo, files: map[string]string{"/ml": "ftp://x/\n"}, wantErr: `"ftp://x/" is not an http(s) URL`},
		{name: "empty list", via: ViaYumRepo, files: map[string]string{"/ml": "\n"}, wantErr: "$S/ml names no repository"},
		{name: "no updateinfo", via: ViaYumRepo, files: map[string]string{"/ml": "$S/r/", "/r/repodata/repomd.xml": `<repomd><data type="primary"><location href="repodata/primary.xml.gz"/></data></repomd>`}, wantErr: "$S/r/repodata/repomd.xml: no updateinfo data"},
		{name: "repomd not XML", via: ViaYumRepo, files: map[string]string{"/ml": "$S/r/", "/r/repodata/repomd.xml": `{"json": true}`}, wantErr: "$S/r/repodata/repomd.xml: not repomd XML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.mu.Lock()
			s.files = map[string][]byte{}
			s.mu.Unlock()
			for p, body := range tc.files {
				s.set(p, []byte(strings.ReplaceAll(body, "$S", s.URL)))
			}
			var got []string
			var err error
			if tc.via == ViaRedHatVEX {
				got, err = resolveRedHatVEX(context.Background(), UpdateOptions{}, []string{s.URL + "/vex/archive_latest.txt", "other"})
				if err == nil && (len(got) != 2 || got[1] != "other") {
					t.Errorf("the other URLs: %q", got)
				}
			} else {
				got, err = resolveYumRepo(context.Background(), UpdateOptions{}, s.URL+"/ml", false)
			}
			if tc.wantErr != "" {
				if want := strings.ReplaceAll(tc.wantErr, "$S", s.URL); err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("err = %v, want %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.ReplaceAll(tc.want, "$S", s.URL); got[0] != want {
				t.Errorf("got %s, want %s", got[0], want)
			}
		})
	}
}

// `warden db import csaf:DIR` of a copy of Red Hat's VEX directory: the
// archive is read, the index files beside it are not data.
func TestImportVEXDirectory(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"csaf_vex_2024-07-21.tar.zst": vexArchive(t, "CVE-2024-9143", "CVE-2023-46809", "CVE-2005-2541"),
		"archive_latest.txt":          []byte("csaf_vex_2024-07-21.tar.zst\n"),
		"changes.csv":                 []byte(`"2005/cve-2005-2541.json","2024-07-22T10:00:00+00:00"` + "\n"),
		"deletions.csv":               nil,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dbPath := filepath.Join(t.TempDir(), "db")
	res, err := Import(context.Background(), dbPath, []string{"csaf:" + dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Summaries) != 1 || res.Summaries[0].Source != "redhat-csaf" || res.Summaries[0].Records != 3 || res.Summaries[0].Skipped != 0 {
		t.Errorf("summaries: %+v", res.Summaries)
	}
	if len(res.Ignored) != 3 {
		t.Errorf("ignored: %q", res.Ignored)
	}
	if got := rows(t, dbPath, "rhel:7", "tar"); !cmp.Equal(got, []string{"CVE-2005-2541 wont-fix "}) {
		t.Errorf("rhel:7 tar: %q", got)
	}
}

// BenchmarkReadVEXArchive reads a tar.zst of n VEX files (the three real
// records of csaf/testdata, repeated under new CVE paths) through Read, as
// db update does with Red Hat's archive, and reports the archive's
// decompressed MB/s and the heap in use after the read.
func BenchmarkReadVEXArchive(b *testing.B) {
	const n = 3000
	var docs [][]byte
	for _, f := range []string{"cve-2024-9143.json", "cve-2023-46809-trimmed.json", "cve-2005-2541.json"} {
		d, err := os.ReadFile(filepath.Join("csaf", "testdata", f))
		if err != nil {
			b.Fatal(err)
		}
		docs = append(docs, d)
	}
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for i := 0; i < n; i++ {
		d := docs[i%len(docs)]
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("2024/cve-2024-%d.json", 10000+i), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(d))})
		tw.Write(d)
	}
	tw.Close()
	zw, _ := zstd.NewWriter(nil)
	p := filepath.Join(b.TempDir(), "csaf_vex_2024-07-21.tar.zst")
	if err := os.WriteFile(p, zw.EncodeAll(tb.Bytes(), nil), 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(tb.Len()))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := Read(context.Background(), []string{"csaf:" + p}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Batches) != 1 || res.Batches[0].Records != n {
			b.Fatalf("batches %+v", res.Batches)
		}
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heapMB")
		b.ReportMetric(float64(len(res.Batches[0].Advisories)), "rows")
	}
}
