package java

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/inventory"
)

type entry struct {
	name string
	data []byte
}

func zipOf(t testing.TB, entries ...entry) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Log4jCore is a jar with the Maven metadata of log4j-core 2.14.1.
func log4jCore(t testing.TB) []byte {
	return zipOf(t,
		entry{"META-INF/MANIFEST.MF", []byte("Manifest-Version: 1.0\r\nBundle-SymbolicName: org.apache.logging.log4j.core\r\nBundle-Version: 2.14.1\r\n" +
			"Implementation-Title: Apache Log4j Core\r\nImplementation-Vendor-Id: org.apache.logging.log4j\r\nImplementation-Version: 2.14.1\r\n\r\n")},
		entry{"META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties", []byte("#Created by Apache Maven 3.6.3\nversion=2.14.1\ngroupId=org.apache.logging.log4j\nartifactId=log4j-core\n")},
		entry{"org/apache/logging/log4j/core/lookup/JndiLookup.class", []byte("\xca\xfe\xba\xbe")},
	)
}

func run(t testing.TB, path string, data []byte) ([]inventory.Package, []string, error) {
	var warns []string
	in := &extract.Input{Path: path, Mode: 0o644, Size: int64(len(data)), Reader: bytes.NewReader(data),
		At: bytes.NewReader(data), Warn: func(m string) { warns = append(warns, m) }}
	pkgs, err := New().Extract(context.Background(), in)
	return pkgs, warns, err
}

type sum struct{ Name, Version, PURL, Loc, Source string }

func summarize(pkgs []inventory.Package) []sum {
	var out []sum
	for _, p := range pkgs {
		out = append(out, sum{p.Name, p.Version, p.PURL, strings.Join(p.Locations, ","), p.Meta["source"]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Loc+out[i].Name < out[j].Loc+out[j].Name })
	return out
}

func TestArchives(t *testing.T) {
	jar := log4jCore(t)
	cli, err := os.ReadFile("testdata/commons-cli-1.5.0.jar")
	if err != nil {
		t.Fatal(err)
	}
	war := zipOf(t, entry{"WEB-INF/web.xml", []byte("<web-app/>")}, entry{"WEB-INF/lib/log4j-core-2.14.1.jar", jar}, entry{"WEB-INF/lib/commons-cli-1.5.0.jar", cli})
	ear := zipOf(t, entry{"META-INF/application.xml", []byte("<application/>")}, entry{"shop.war", war})
	// A manifest-only jar, and a jar with nothing but a versioned file name.
	var manifestOnly []entry
	zr, _ := zip.NewReader(bytes.NewReader(cli), int64(len(cli)))
	for _, f := range zr.File {
		if !strings.HasPrefix(f.Name, "META-INF/maven/") {
			rc, _ := f.Open()
			var b bytes.Buffer
			b.ReadFrom(rc)
			rc.Close()
			manifestOnly = append(manifestOnly, entry{f.Name, b.Bytes()})
		}
	}
	log4j := sum{"org.apache.logging.log4j:log4j-core", "2.14.1", "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1", "", "pom.properties"}
	at := func(s sum, loc string) sum { s.Loc = loc; return s }
	for _, tc := range []struct {
		name, path string
		data       []byte
		want       []sum
	}{
		{"jar", "app/lib/log4j-core-2.14.1.jar", jar, []sum{at(log4j, "/app/lib/log4j-core-2.14.1.jar")}},
		{"real jar", "usr/share/java/commons-cli-1.5.0.jar", cli, []sum{{"commons-cli:commons-cli", "1.5.0", "pkg:maven/commons-cli/commons-cli@1.5.0", "/usr/share/java/commons-cli-1.5.0.jar", "pom.properties"}}},
		{"war", "srv/shop.war", war, []sum{
			{"commons-cli:commons-cli", "1.5.0", "pkg:maven/commons-cli/commons-cli@1.5.0", "/srv/shop.war!/WEB-INF/lib/commons-cli-1.5.0.jar", "pom.properties"},
			at(log4j, "/srv/shop.war!/WEB-INF/lib/log4j-core-2.14.1.jar")}},
		{"ear", "srv/shop.ear", ear, []sum{
			{"commons-cli:commons-cli", "1.5.0", "pkg:maven/commons-cli/commons-cli@1.5.0", "/srv/shop.ear!/shop.war!/WEB-INF/lib/commons-cli-1.5.0.jar", "pom.properties"},
			at(log4j, "/srv/shop.ear!/shop.war!/WEB-INF/lib/log4j-core-2.14.1.jar")}},
		{"manifest only", "opt/commons-cli-1.5.0.jar", zipOf(t, manifestOnly...), []sum{{"commons-cli", "1.5.0", "pkg:maven/commons-cli@1.5.0", "/opt/commons-cli-1.5.0.jar", "manifest"}}},
		{"file name only", "opt/foo-bar-2.3.1.jar", zipOf(t, entry{"x/Y.class", nil}), []sum{{"foo-bar", "2.3.1", "pkg:maven/foo-bar@2.3.1", "/opt/foo-bar-2.3.1.jar", "filename"}}},
		{"nothing", "opt/plain.jar", zipOf(t, entry{"x/Y.class", nil}), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !New().Required(tc.path, 0o644, int64(len(tc.data))) {
				t.Errorf("Required(%q) = false", tc.path)
			}
			pkgs, warns, err := run(t, tc.path, tc.data)
			if err != nil || len(warns) > 0 {
				t.Fatalf("err %v, warnings %v", err, warns)
			}
			if d := cmp.Diff(tc.want, summarize(pkgs)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			for _, p := range pkgs {
				if p.Ecosystem != inventory.Maven {
					t.Errorf("ecosystem %q", p.Ecosystem)
				}
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	jar := log4jCore(t)
	// Not a zip at all: an error naming the file.
	if _, _, err := run(t, "app/broken.jar", []byte("PK\x03\x04 this is not a zip")); err == nil || !strings.Contains(err.Error(), "/app/broken.jar") {
		t.Errorf("corrupt jar: error %v", err)
	}
	// Truncated jar.
	if _, _, err := run(t, "app/cut.jar", jar[:len(jar)/2]); err == nil || !strings.Contains(err.Error(), "/app/cut.jar") {
		t.Errorf("truncated jar: error %v", err)
	}
	// A war holding a corrupt jar and a good one: a warning naming the nested jar, the good one still read.
	war := zipOf(t, entry{"WEB-INF/lib/bad-1.0.jar", []byte("garbage")}, entry{"WEB-INF/lib/log4j-core-2.14.1.jar", jar})
	pkgs, warns, err := run(t, "srv/app.war", war)
	if err != nil || len(pkgs) != 1 || len(warns) != 1 || !strings.Contains(warns[0], "/srv/app.war!/WEB-INF/lib/bad-1.0.jar") {
		t.Errorf("war with a corrupt jar: err %v, %d packages, warnings %q", err, len(pkgs), warns)
	}
	// pom.properties without a version: a warning, and the file-name fallback.
	j := zipOf(t, entry{"META-INF/maven/g/a/pom.properties", []byte("groupId=g\nartifactId=a\n")})
	_, warns, _ = run(t, "app/a.jar", j)
	if len(warns) != 1 || !strings.Contains(warns[0], "pom.properties") {
		t.Errorf("incomplete pom.properties: warnings %q", warns)
	}
	// Nesting deeper than the limit stops quietly.
	deep := jar
	for i := 0; i < 6; i++ {
		deep = zipOf(t, entry{"lib/inner.jar", deep})
	}
	if pkgs, _, err := run(t, "app/deep.jar", deep); err != nil || len(pkgs) != 0 {
		t.Errorf("deep nesting: err %v, packages %v", err, pkgs)
	}
}

func FuzzArchive(f *testing.F) {
	cli, err := os.ReadFile(filepath.Join("testdata", "commons-cli-1.5.0.jar"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(cli)
	f.Add(log4jCore(f))
	f.Fuzz(func(t *testing.T, b []byte) { _, _, _ = run(t, "a/x.jar", b) })
}

func FuzzManifest(f *testing.F) {
	f.Add([]byte("Manifest-Version: 1.0\r\nBundle-SymbolicName: org.apache.commons.cli\r\nBundle-Version: 1.5.0\r\n long-continued\r\n\r\nName: x\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = parseManifest(b)
		_ = parseProperties(b)
	})
}
