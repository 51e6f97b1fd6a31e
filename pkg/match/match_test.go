package match

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/vulndb"
)

// memDB is an in-memory vulndb.Reader built from a few pinned advisories per
// test case (facts copied from the real feeds named in each case).
type memDB struct {
	advs  []vulndb.Advisory
	built time.Time
	calls []string
}

func (m *memDB) Lookup(ctx context.Context, ns, pkg string) ([]vulndb.Advisory, error) {
	m.calls = append(m.calls, ns+"/"+pkg)
	var out []vulndb.Advisory
	for _, a := range m.advs {
		if a.Namespace == ns && a.Package == pkg {
			out = append(out, a)
		}
	}
	return out, nil
}
func (m *memDB) Built() time.Time { return m.built }

type errDB struct{}

func (errDB) Lookup(context.Context, string, string) ([]vulndb.Advisory, error) {
	return nil, fmt.Errorf("disk on fire")
}
func (errDB) Built() time.Time { return time.Time{} }

// summary renders findings as "pkg version: ID status fixed [linked]" lines.
func summary(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		s := fmt.Sprintf("%s %s: %s %s %s", f.Package.Name, f.Package.Version, f.Advisory.ID, f.Status, f.FixedVersion)
		if f.Linked != nil {
			s += fmt.Sprintf(" linked=%v", *f.Linked)
		}
		out = append(out, strings.TrimSpace(s))
	}
	sort.Strings(out)
	return out
}

func TestMatch(t *testing.T) {
	alpine := &inventory.Distro{ID: "alpine", VersionID: "3.19.4"}
	bookworm := &inventory.Distro{ID: "debian", VersionID: "12", Codename: "bookworm"}
	rocky := &inventory.Distro{ID: "rocky", VersionID: "9.3"}

	tests := []struct {
		name   string
		distro *inventory.Distro
		pkgs   []inventory.Package
		advs   []vulndb.Advisory
		opt    Options
		want   []string
	}{
		{
			// alpine-secdb v3.19 main.json: openssl secfixes "3.1.7-r1": CVE-2024-9143;
			// busybox "1.36.1-r17": CVE-2023-42366 (installed r19: not affected).
			name:   "alpine by origin against its release branch",
			distro: alpine,
			pkgs: []inventory.Package{
				{Name: "libcrypto3", Version: "3.1.7-r0", SourceName: "openssl", Ecosystem: "apk"},
				{Name: "libssl3", Version: "3.1.7-r0", SourceName: "openssl", Ecosystem: "apk"},
				{Name: "busybox", Version: "1.36.1-r19", Ecosystem: "apk"},
				{Name: "ssl_client", Version: "1.36.1-r19", SourceName: "busybox", Ecosystem: "apk"},
			},
			advs: []vulndb.Advisory{
				{ID: "CVE-2024-9143", Namespace: "alpine:3.19", Package: "openssl", Status: "fixed", FixedVersion: "3.1.7-r1"},
				{ID: "CVE-2024-9143", Namespace: "alpine:3.20", Package: "openssl", Status: "fixed", FixedVersion: "3.3.2-r1"},
				{ID: "CVE-2024-9999", Namespace: "alpine:3.20", Package: "openssl", Status: "fixed", FixedVersion: "3.3.9-r0"},
				{ID: "CVE-2023-42366", Namespace: "alpine:3.19", Package: "busybox", Status: "fixed", FixedVersion: "1.36.1-r17"},
			},
			want: []string{
				"libcrypto3 3.1.7-r0: CVE-2024-9143 fixed 3.1.7-r1",
				"libssl3 3.1.7-r0: CVE-2024-9143 fixed 3.1.7-r1",
			},
		},
		{
			name:   "debian by source package and source version, all states",
			distro: bookworm,
			pkgs: []inventory.Package{
				{Name: "libssl3", Version: "3.0.20-1~deb12u2", SourceName: "openssl", Ecosystem: "dpkg"},
				// binNMU: binary version differs, the source version is what Debian's data judges.
				{Name: "libfoo1", Version: "1.0-1+b1", SourceName: "foo", SourceVersion: "1.0-1", Ecosystem: "dpkg"},
				{Name: "tar", Version: "1.34+dfsg-1.2+deb12u1", Ecosystem: "dpkg"},
				{Name: "libc6", Version: "2.36-9+deb12u10", SourceName: "glibc", Ecosystem: "dpkg"},
			},
			advs: []vulndb.Advisory{
				{ID: "CVE-2026-42767", Namespace: "debian:12", Package: "openssl", Status: "fixed", FixedVersion: "3.0.22-1~deb12u1"},
				{ID: "CVE-2023-0464", Namespace: "debian:12", Package: "openssl", Status: "fixed", FixedVersion: "3.0.8-1"},
				{ID: "CVE-2026-1", Namespace: "debian:12", Package: "foo", Status: "fixed", FixedVersion: "1.0-1+b1"},
				{ID: "CVE-2005-2541", Namespace: "debian:12", Package: "tar", Status: "wont-fix"},
				{ID: "CVE-2026-2", Namespace: "debian:12", Package: "tar", Status: "not-affected"},
				{ID: "CVE-2026-5", Namespace: "debian:12", Package: "tar", Status: "limited-support"},
				{ID: "CVE-2010-4756", Namespace: "debian:12", Package: "glibc", Status: "unfixed"},
				{ID: "CVE-2026-3", Namespace: "debian:12", Package: "glibc", Status: "end-of-life"},
				{ID: "CVE-2026-4", Namespace: "debian:11", Package: "glibc", Status: "unfixed"},
			},
			want: []string{
				"libc6 2.36-9+deb12u10: CVE-2010-4756 unfixed",
				"libc6 2.36-9+deb12u10: CVE-2026-3 end-of-life",
				"libfoo1 1.0-1+b1: CVE-2026-1 fixed 1.0-1+b1",
				"libssl3 3.0.20-1~deb12u2: CVE-2026-42767 fixed 3.0.22-1~deb12u1",
				"tar 1.34+dfsg-1.2+deb12u1: CVE-2005-2541 wont-fix",
			},
		},
		{
			name:   "rhel family by binary and source rpm, epochs",
			distro: rocky,
			pkgs: []inventory.Package{
				{Name: "openssl-libs", Version: "1:3.0.7-25.el9_3", Epoch: 1, SourceName: "openssl", Ecosystem: "rpm"},
				{Name: "curl", Version: "7.76.1-26.el9", Ecosystem: "rpm"},
			},
			advs: []vulndb.Advisory{
				{ID: "RLSA-2024:2447", Aliases: []string{"CVE-2023-5678"}, Namespace: "rocky:9", Package: "openssl", Status: "fixed", FixedVersion: "1:3.0.7-27.el9"},
				{ID: "RLSA-2024:2447", Aliases: []string{"CVE-2023-5678"}, Namespace: "rocky:9", Package: "openssl-libs", Status: "fixed", FixedVersion: "1:3.0.7-27.el9"},
				// epoch 0 fix is below epoch 1 installed: not affected.
				{ID: "RLSA-2000:1", Namespace: "rocky:9", Package: "openssl-libs", Status: "fixed", FixedVersion: "3.0.9-1.el9"},
				{ID: "RLSA-2024:3501", Namespace: "rocky:9", Package: "curl", Status: "fixed", FixedVersion: "7.76.1-29.el9_4"},
			},
			want: []string{
				"curl 7.76.1-26.el9: RLSA-2024:3501 fixed 7.76.1-29.el9_4",
				"openssl-libs 1:3.0.7-25.el9_3: RLSA-2024:2447 fixed 1:3.0.7-27.el9",
			},
		},
		{
			// ghsa-osv: GHSA-p6mc-m468-83gw lodash <4.17.20 (introduced 3.7.0), minimist GHSA-vh95 <1.2.3, GHSA-xvch <1.2.6.
			name: "npm OSV ranges",
			pkgs: []inventory.Package{
				{Name: "lodash", Version: "4.17.15", Ecosystem: "npm"},
				{Name: "minimist", Version: "1.2.0", Ecosystem: "npm"},
				{Name: "minimist", Version: "0.0.8", Ecosystem: "npm", Locations: []string{"/app/node_modules/mkdirp/node_modules/minimist/package.json"}},
			},
			advs: []vulndb.Advisory{
				{ID: "GHSA-p6mc-m468-83gw", Namespace: "npm", Package: "lodash", Ranges: []vulndb.Range{{Type: "SEMVER", Introduced: "3.7.0", Fixed: "4.17.20"}}},
				{ID: "GHSA-vh95-rmgr-6w4m", Namespace: "npm", Package: "minimist", Ranges: []vulndb.Range{{Type: "SEMVER", Introduced: "0", Fixed: "0.2.1"}, {Type: "SEMVER", Introduced: "1.0.0", Fixed: "1.2.3"}}},
				{ID: "GHSA-xvch-5gv4-984h", Namespace: "npm", Package: "minimist", Ranges: []vulndb.Range{{Type: "SEMVER", Introduced: "0", Fixed: "0.2.4"}, {Type: "SEMVER", Introduced: "1.0.0", Fixed: "1.2.6"}}},
			},
			want: []string{
				"lodash 4.17.15: GHSA-p6mc-m468-83gw fixed 4.17.20",
				"minimist 0.0.8: GHSA-vh95-rmgr-6w4m fixed 0.2.1",
				"minimist 0.0.8: GHSA-xvch-5gv4-984h fixed 0.2.4",
				"minimist 1.2.0: GHSA-vh95-rmgr-6w4m fixed 1.2.3",
				"minimist 1.2.0: GHSA-xvch-5gv4-984h fixed 1.2.6",
			},
		},
		{
			name:   "distro-owned python package is judged by the distro, not PyPI",
			distro: bookworm,
			pkgs: []inventory.Package{
				{Name: "urllib3", Version: "1.26.12", Ecosystem: "PyPI", OwnedBy: "dpkg:python3-urllib3"},
				{Name: "Requests", Version: "2.28.1", Ecosystem: "PyPI"},
				// OwnedBy not set by the extractor: the dpkg file list says it is python3-six's.
				{Name: "six", Version: "1.16.0", Ecosystem: "PyPI", Locations: []string{"/usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO"}},
				{Name: "python3-six", Version: "1.16.0-4", Ecosystem: "dpkg", Files: []string{"/usr/lib/python3/dist-packages/six-1.16.0.egg-info", "/usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO"}},
				{Name: "urllib3", Version: "1.26.17", Ecosystem: "PyPI", Locations: []string{"/venv/lib/python3.11/site-packages/urllib3-1.26.17.dist-info/METADATA"}},
			},
			advs: []vulndb.Advisory{
				{ID: "PYSEC-2023-192", Aliases: []string{"CVE-2023-43804"}, Namespace: "PyPI", Package: "urllib3", Ranges: []vulndb.Range{{Type: "ECOSYSTEM", Introduced: "0", Fixed: "1.26.17"}}},
				{ID: "PYSEC-SIX", Namespace: "PyPI", Package: "six", Ranges: []vulndb.Range{{Type: "ECOSYSTEM", Introduced: "0", Fixed: "1.17.0"}}},
				{ID: "PYSEC-2023-74", Namespace: "PyPI", Package: "requests", Ranges: []vulndb.Range{{Type: "ECOSYSTEM", Introduced: "2.3.0", Fixed: "2.31.0"}}},
				// pypi-osv PYSEC-2023-212: two ranges plus a versions list, fixed_version joined by the reader.
				{ID: "PYSEC-2023-212", Namespace: "PyPI", Package: "urllib3", FixedVersion: "2.0.7, 1.26.18",
					Ranges:   []vulndb.Range{{Type: "ECOSYSTEM", Introduced: "2.0.0", Fixed: "2.0.7"}, {Type: "ECOSYSTEM", Introduced: "0", Fixed: "1.26.18"}},
					Versions: []string{"1.26.16", "1.26.17", "2.0.6"}},
				{ID: "PYSEC-LIST", Namespace: "PyPI", Package: "urllib3", FixedVersion: "1.26.20",
					Ranges:   []vulndb.Range{{Type: "ECOSYSTEM", Introduced: "1.0", Fixed: "1.25.0"}, {Type: "ECOSYSTEM", Introduced: "0", Fixed: "1.26.20"}, {Type: "ECOSYSTEM", Introduced: "2.0", Fixed: "2.0.1"}},
					Versions: []string{"1.26.18"}},
			},
			want: []string{
				"Requests 2.28.1: PYSEC-2023-74 fixed 2.31.0",
				"urllib3 1.26.17: PYSEC-2023-212 fixed 1.26.18",
				"urllib3 1.26.17: PYSEC-LIST fixed 1.26.20",
			},
		},
		{
			name: "OSV versions lists and last_affected",
			pkgs: []inventory.Package{
				{Name: "org.apache.logging.log4j:log4j-core", Version: "2.14.1", Ecosystem: "Maven"},
				{Name: "pkg-a", Version: "1.0.0", Ecosystem: "npm"},
				{Name: "pkg-b", Version: "2.0.0", Ecosystem: "npm"},
			},
			advs: []vulndb.Advisory{
				{ID: "GHSA-jfh8-c2jp-5v3q", Namespace: "Maven", Package: "org.apache.logging.log4j:log4j-core", Ranges: []vulndb.Range{{Type: "ECOSYSTEM", Introduced: "2.13.0", Fixed: "2.15.0"}}},
				{ID: "GHSA-last", Namespace: "npm", Package: "pkg-a", Ranges: []vulndb.Range{{Type: "SEMVER", Introduced: "0", LastAffected: "1.0.0"}}},
				{ID: "GHSA-list", Namespace: "npm", Package: "pkg-b", Versions: []string{"2.0.0", "2.0.1"}},
				{ID: "GHSA-list2", Namespace: "npm", Package: "pkg-b", Versions: []string{"2.0.1"}},
			},
			want: []string{
				"org.apache.logging.log4j:log4j-core 2.14.1: GHSA-jfh8-c2jp-5v3q fixed 2.15.0",
				"pkg-a 1.0.0: GHSA-last unfixed",
				"pkg-b 2.0.0: GHSA-list unfixed",
			},
		},
		{
			name: "dedupe by alias on the same package",
			pkgs: []inventory.Package{{Name: "lodash", Version: "4.17.15", Ecosystem: "npm"}},
			advs: []vulndb.Advisory{
				{ID: "GHSA-p6mc-m468-83gw", Aliases: []string{"CVE-2020-8203"}, Namespace: "npm", Package: "lodash", Ranges: []vulndb.Range{{Type: "SEMVER", Introduced: "0", Fixed: "4.17.20"}}},
				{ID: "CVE-2020-8203", Namespace: "npm", Package: "lodash", Ranges: []vulndb.Range{{Type: "SEMVER", Introduced: "0", Fixed: "4.17.19"}}},
			},
			want: []string{"lodash 4.17.15: GHSA-p6mc-m468-83gw fixed 4.17.20"},
		},
		{
			name:   "os-only skips language packages",
			distro: alpine,
			opt:    Options{OSOnly: true},
			pkgs:   []inventory.Package{{Name: "lodash", Version: "4.17.15", Ecosystem: "npm"}},
			advs:   []vulndb.Advisory{{ID: "GHSA-p6mc-m468-83gw", Namespace: "npm", Package: "lodash", Ranges: []vulndb.Range{{Type: "SEMVER", Introduced: "0", Fixed: "4.17.20"}}}},
		},
		{
			name:   "unparseable versions never match",
			distro: alpine,
			pkgs: []inventory.Package{
				{Name: "weird", Version: "not/a/version", Ecosystem: "npm"},
				{Name: "example.com/m", Version: "(devel)", Ecosystem: "Go"},
			},
			advs: []vulndb.Advisory{
				{ID: "GHSA-x", Namespace: "npm", Package: "weird", Ranges: []vulndb.Range{{Type: "SEMVER", Introduced: "0", Fixed: "1.0.0"}}},
				{ID: "GO-x", Namespace: "Go", Package: "example.com/m", Ranges: []vulndb.Range{{Type: "SEMVER", Introduced: "0", Fixed: "1.0.0"}}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := &memDB{advs: tt.advs}
			fs, err := Match(context.Background(), db, &inventory.Inventory{Distro: tt.distro, Packages: tt.pkgs}, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, summary(fs)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

// Go advisories: facts from the corpus' go-vulndb-osv records.
func goAdvisories() []vulndb.Advisory {
	return []vulndb.Advisory{
		{ID: "GO-2021-0238", Namespace: "Go", Package: "golang.org/x/net",
			Ranges:  []vulndb.Range{{Type: "SEMVER", Introduced: "0", Fixed: "0.0.0-20210520170846-37e1c6afe023"}},
			Imports: []vulndb.GoImport{{Path: "golang.org/x/net/html", Symbols: []string{"inSelectIM", "inSelectInTableIM", "Parse", "ParseFragment"}}}},
		{ID: "GO-2022-0288", Namespace: "Go", Package: "golang.org/x/net",
			Ranges:  []vulndb.Range{{Type: "SEMVER", Introduced: "0", Fixed: "0.0.0-20211209124913-491a49abca63"}},
			Imports: []vulndb.GoImport{{Path: "golang.org/x/net/http2", Symbols: []string{"Server.ServeConn", "serverConn.canonicalHeader"}}}},
		{ID: "GO-2022-0236", Namespace: "Go", Package: "golang.org/x/net",
			Ranges:  []vulndb.Range{{Type: "SEMVER", Introduced: "0", Fixed: "0.0.0-20210428140749-89ef3d95e781"}},
			Imports: []vulndb.GoImport{{Path: "golang.org/x/net/http/httpguts"}}},
		{ID: "GO-2024-3333", Namespace: "Go", Package: "golang.org/x/net",
			Ranges:  []vulndb.Range{{Type: "SEMVER", Introduced: "0", Fixed: "0.33.0"}},
			Imports: []vulndb.GoImport{{Path: "golang.org/x/net/html", Symbols: []string{"Parse"}}}},
		{ID: "GO-2026-6604", Namespace: "Go", Package: "stdlib",
			Ranges: []vulndb.Range{{Type: "SEMVER", Introduced: "0", Fixed: "1.26.9"}, {Type: "SEMVER", Introduced: "1.27.0-0", Fixed: "1.27.2"}},
			Imports: []vulndb.GoImport{
				{Path: "os", GOOS: []string{"windows"}, Symbols: []string{"Root.Mkdir", "Root.MkdirAll"}},
				{Path: "internal/syscall/windows", GOOS: []string{"windows"}, Symbols: []string{"Mkdirat"}},
			}},
		{ID: "GO-2026-1", Namespace: "Go", Package: "stdlib",
			Ranges:  []vulndb.Range{{Type: "SEMVER", Introduced: "1.26.0-0", Fixed: "1.26.9"}},
			Imports: []vulndb.GoImport{{Path: "net/http", Symbols: []string{"Server.Serve"}}, {Path: "os", GOOS: []string{"windows"}}}},
		{ID: "GO-2026-2", Namespace: "Go", Package: "stdlib",
			Ranges:  []vulndb.Range{{Type: "SEMVER", Introduced: "0", Fixed: "1.25.3"}},
			Imports: []vulndb.GoImport{{Path: "net/http"}}},
	}
}

// symbolsOf makes the Symbols of "<import path>.<Symbol>" names whose
// import path's last element has no dot.
func symbolsOf(names ...string) inventory.Symbols {
	var s inventory.Symbols
	for _, n := range names {
		slash := max(0, strings.LastIndex(n, "/"))
		dot := slash + strings.Index(n[slash:], ".")
		s.Add(n[:dot], n[dot+1:])
	}
	s.Normalize()
	return s
}

func TestMatchGo(t *testing.T) {
	net := inventory.Package{Name: "golang.org/x/net", Version: "v0.0.0-20210226172049-e18ecbb05110", Ecosystem: "Go", GOOS: "linux", GOARCH: "amd64",
		SymbolsKnown: true, Symbols: symbolsOf("golang.org/x/net/html.Parse", "golang.org/x/net/html.inSelectIM", "golang.org/x/net/html/atom.Lookup", "golang.org/x/net/http/httpguts.ValidHeaderFieldName")}
	std := inventory.Package{Name: "stdlib", Version: "1.26.8", Ecosystem: "Go", GOOS: "linux", GOARCH: "amd64",
		SymbolsKnown: true, Symbols: symbolsOf("net/http.Server.Serve", "os.Root.Mkdir")}
	stripped := net
	stripped.SymbolsKnown, stripped.Symbols = false, inventory.Symbols{}
	stripped.Locations = []string{"/stripped"}
	win := std
	win.GOOS = "windows"
	win.Locations = []string{"/win.exe"}

	db := &memDB{advs: goAdvisories()}
	fs, err := Match(context.Background(), db, &inventory.Inventory{Packages: []inventory.Package{net, std, stripped, win}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Two binaries each of x/net and stdlib: the database is asked once per module.
	if want := []string{"Go/golang.org/x/net", "Go/stdlib"}; !slices.Equal(db.calls, want) {
		t.Errorf("lookups %q, want %q", db.calls, want)
	}
	want := []string{
		"golang.org/x/net v0.0.0-20210226172049-e18ecbb05110: GO-2021-0238 fixed v0.0.0-20210520170846-37e1c6afe023",
		"golang.org/x/net v0.0.0-20210226172049-e18ecbb05110: GO-2021-0238 fixed v0.0.0-20210520170846-37e1c6afe023 linked=true",
		"golang.org/x/net v0.0.0-20210226172049-e18ecbb05110: GO-2022-0236 fixed v0.0.0-20210428140749-89ef3d95e781",
		"golang.org/x/net v0.0.0-20210226172049-e18ecbb05110: GO-2022-0236 fixed v0.0.0-20210428140749-89ef3d95e781 linked=true", // no symbols listed: any symbol of httpguts
		"golang.org/x/net v0.0.0-20210226172049-e18ecbb05110: GO-2022-0288 fixed v0.0.0-20211209124913-491a49abca63",
		"golang.org/x/net v0.0.0-20210226172049-e18ecbb05110: GO-2022-0288 fixed v0.0.0-20211209124913-491a49abca63 linked=false", // http2 not linked
		"golang.org/x/net v0.0.0-20210226172049-e18ecbb05110: GO-2024-3333 fixed v0.33.0",
		"golang.org/x/net v0.0.0-20210226172049-e18ecbb05110: GO-2024-3333 fixed v0.33.0 linked=true",
		"stdlib 1.26.8: GO-2026-1 fixed 1.26.9 linked=true", // linux: only the net/http import applies
		"stdlib 1.26.8: GO-2026-1 fixed 1.26.9 linked=true",
		"stdlib 1.26.8: GO-2026-6604 fixed 1.26.9 linked=true", // windows binary: the windows-only advisory applies
	}
	if diff := cmp.Diff(want, summary(fs)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

func TestMatchErrors(t *testing.T) {
	inv := &inventory.Inventory{Distro: &inventory.Distro{ID: "alpine", VersionID: "3.19.4"}, Packages: []inventory.Package{{Name: "musl", Version: "1.2.4-r2", Ecosystem: "apk"}}}
	_, err := Match(context.Background(), errDB{}, inv, Options{})
	if err == nil || !strings.Contains(err.Error(), "musl") || !strings.Contains(err.Error(), "alpine:3.19") {
		t.Errorf("error %v: want one naming the package and namespace", err)
	}
	if _, err := Match(context.Background(), nil, inv, Options{}); err == nil {
		t.Error("nil db: no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Match(ctx, &memDB{}, inv, Options{}); err == nil {
		t.Error("cancelled context: no error")
	}
}

func TestNamespace(t *testing.T) {
	for _, tt := range []struct {
		d    inventory.Distro
		want string
	}{
		{inventory.Distro{ID: "alpine", VersionID: "3.19.4"}, "alpine:3.19"},
		{inventory.Distro{ID: "alpine", VersionID: "3.21.0_alpha20240807", PrettyName: "Alpine Linux edge"}, "alpine:edge"},
		{inventory.Distro{ID: "debian", VersionID: "12", Codename: "bookworm"}, "debian:12"},
		{inventory.Distro{ID: "debian", Codename: "trixie"}, "debian:13"},
		{inventory.Distro{ID: "ubuntu", VersionID: "24.04"}, "ubuntu:24.04"},
		{inventory.Distro{ID: "rocky", VersionID: "9.3"}, "rocky:9"},
		{inventory.Distro{ID: "almalinux", VersionID: "8.10"}, "almalinux:8"},
		{inventory.Distro{ID: "rhel", VersionID: "9.4"}, "rhel:9"},
		{inventory.Distro{ID: "wolfi", VersionID: "20230201"}, "wolfi:rolling"},
		{inventory.Distro{ID: "ubuntu"}, ""},
		{inventory.Distro{}, ""},
	} {
		if got := Namespace(&tt.d); got != tt.want {
			t.Errorf("Namespace(%+v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestLookupNames(t *testing.T) {
	db := &memDB{}
	inv := &inventory.Inventory{Packages: []inventory.Package{
		{Name: "Django_REST.framework", Version: "1.0", Ecosystem: "PyPI"},
		{Name: "openssl-libs", Version: "3.0.7-25.el9", SourceName: "openssl", Ecosystem: "rpm"},
	}, Distro: &inventory.Distro{ID: "almalinux", VersionID: "9.4"}}
	if _, err := Match(context.Background(), db, inv, Options{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"PyPI/django-rest-framework", "almalinux:9/openssl-libs", "almalinux:9/openssl"}
	if diff := cmp.Diff(want, db.calls); diff != "" {
		t.Errorf("lookups (-want +got):\n%s", diff)
	}
}

func TestUncovered(t *testing.T) {
	inv := &inventory.Inventory{Distro: &inventory.Distro{ID: "alpine", VersionID: "3.22.1"}, Packages: []inventory.Package{
		{Name: "musl", Version: "1.2.5-r10", Ecosystem: "apk"},
		{Name: "busybox", Version: "1.37.0-r18", Ecosystem: "apk"},
		{Name: "lodash", Version: "4.17.21", Ecosystem: "npm"},
		{Name: "log4j", Version: "2.14.1", Ecosystem: "Maven"},
		{Name: "urllib3", Version: "1.26.12", Ecosystem: "PyPI", OwnedBy: "apk:py3-urllib3"},
	}}
	has := func(ns string) bool { return ns == "npm" || ns == "alpine:3.19" }
	want := []string{
		"2 packages not checked: the database has no data for alpine:3.22 (import its feed)",
		"1 packages not checked: the database has no data for Maven (import its feed)",
	}
	if d := cmp.Diff(want, Uncovered(inv, has, false)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if d := cmp.Diff(want[:1], Uncovered(inv, has, true)); d != "" {
		t.Errorf("os-only (-want +got):\n%s", d)
	}
	inv.Distro = nil
	if got := Uncovered(inv, has, true); len(got) != 1 || !strings.Contains(got[0], "2 apk packages not checked: the image's OS release is unknown") {
		t.Errorf("unknown distro: %v", got)
	}
}

// TestKeepSymbols: Env.KeepSymbols keeps a Go module's symbols when its
// advisories name imports (any version), and no others'; Match with that Env
// and only the kept symbols finds what it finds with them all, without
// looking the modules up again.
func TestKeepSymbols(t *testing.T) {
	db := &memDB{advs: append(goAdvisories(), vulndb.Advisory{ID: "GO-2026-0001", Namespace: "Go", Package: "github.com/no/imports",
		Ranges: []vulndb.Range{{Type: "SEMVER", Introduced: "0", Fixed: "1.0.0"}}})}
	env := &Env{}
	keep := env.KeepSymbols(context.Background(), db)
	syms := map[string]inventory.Symbols{
		"golang.org/x/net":      symbolsOf("golang.org/x/net/html.Parse", "golang.org/x/net/html.Render", "golang.org/x/net/http2.Server.ServeConn"),
		"stdlib":                symbolsOf("net/http.Server.Serve", "os.Root.Mkdir", "fmt.Println"),
		"github.com/no/advice":  symbolsOf("github.com/no/advice.F"),
		"github.com/no/imports": symbolsOf("github.com/no/imports.F"),
	}
	want := map[string]bool{"golang.org/x/net": true, "stdlib": true, "github.com/no/advice": false, "github.com/no/imports": false}
	var inv inventory.Inventory
	for _, name := range []string{"golang.org/x/net", "stdlib", "github.com/no/advice", "github.com/no/imports"} {
		p := inventory.Package{Name: name, Version: "v0.0.1", Ecosystem: inventory.Go, GOOS: "linux", GOARCH: "amd64", SymbolsKnown: true, Symbols: syms[name]}
		k, err := keep(&p)
		if err != nil {
			t.Fatal(err)
		}
		if k != want[name] {
			t.Errorf("%s: keep %v, want %v", name, k, want[name])
		}
		inv.Packages = append(inv.Packages, p)
	}
	if k, err := keep(&inventory.Package{Name: "main", Version: "(devel)", Ecosystem: inventory.Go}); err != nil || k {
		t.Errorf("a module Match does not judge keeps its symbols (err %v)", err)
	}
	if k, err := keep(&inventory.Package{Name: "x", Version: "1", Ecosystem: inventory.PyPI}); !k || err != nil {
		t.Errorf("not a Go package: keep %v, %v; want kept", k, err)
	}
	if _, err := (&Env{}).KeepSymbols(context.Background(), errDB{})(&inv.Packages[0]); err == nil {
		t.Error("a failing lookup is not an error")
	}
	calls := len(db.calls)
	all, err := Match(context.Background(), &memDB{advs: db.advs}, &inventory.Inventory{Packages: slices.Clone(inv.Packages)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range inv.Packages {
		if !want[inv.Packages[i].Name] {
			inv.Packages[i].Symbols = inventory.Symbols{}
		}
	}
	kept, err := Match(context.Background(), db, &inv, Options{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(summary(all), summary(kept)); d != "" {
		t.Errorf("findings with the kept symbols (-all +kept):\n%s", d)
	}
	if len(db.calls) != calls {
		t.Errorf("Match looked up again: %q", db.calls[calls:])
	}
}
