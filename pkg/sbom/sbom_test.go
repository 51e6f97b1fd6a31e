package sbom

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdxlib"

	"github.com/wardensec/warden/pkg/inventory"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

var fixedTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// alpineImage describes the one-layer image made of the Alpine 3.19.4
// minirootfs: its layer's real diff ID and blob digest.
var alpineImage = Image{
	Name:         "alpine-3.19.4",
	Digest:       "sha256:1111111111111111111111111111111111111111111111111111111111111111",
	ConfigDigest: "sha256:2222222222222222222222222222222222222222222222222222222222222222",
	Platform:     "linux/amd64",
	Layers: []Layer{{
		DiffID: "sha256:f72e1091e2e43fb27f30dab4a9d56294d97d1d8bcf35a6911567ce05a7e3ca3a",
		Digest: "sha256:a2a87004e87720cbb0372c08b7de9b80748afdfd7fd72d2eab2ec0b074b92211",
		Size:   3419685,
	}},
}

func loadInventory(t *testing.T, name string) *inventory.Inventory {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var inv inventory.Inventory
	if err := json.Unmarshal(b, &inv); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &inv
}

// mixedInventory is hand-built: a Debian base layer, an application layer with
// Go and npm packages, the same PURL twice (two copies of a module), licences
// that are and are not SPDX expressions, and a package from an unknown layer.
func mixedInventory() (*inventory.Inventory, Image) {
	l0 := "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	l1 := "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	inv := &inventory.Inventory{
		Distro: &inventory.Distro{ID: "debian", VersionID: "12", Codename: "bookworm", PrettyName: "Debian GNU/Linux 12 (bookworm)"},
		Packages: []inventory.Package{
			{Name: "stdlib", Version: "1.22.1", Ecosystem: inventory.Go, PURL: "pkg:golang/stdlib@1.22.1",
				Locations: []string{"/app/server"}, Layer: l1, GOOS: "linux", GOARCH: "amd64"},
			{Name: "libssl3", Version: "3.0.15-1~deb12u1", Ecosystem: inventory.Dpkg, SourceName: "openssl",
				Arch: "amd64", Licenses: []string{"Apache-2.0"},
				PURL:      "pkg:deb/debian/libssl3@3.0.15-1~deb12u1?arch=amd64&distro=debian-12",
				Locations: []string{"/var/lib/dpkg/status"}, Layer: l0,
				Files: []string{"/usr/lib/x86_64-linux-gnu/libssl.so.3", "/usr/share/doc/libssl3/copyright"}},
			{Name: "lodash", Version: "4.17.15", Ecosystem: inventory.Npm, Licenses: []string{"MIT"},
				PURL: "pkg:npm/lodash@4.17.15", Locations: []string{"/app/node_modules/lodash/package.json"}, Layer: l1},
			{Name: "lodash", Version: "4.17.15", Ecosystem: inventory.Npm, Licenses: []string{"MIT"},
				PURL: "pkg:npm/lodash@4.17.15", Locations: []string{"/app/vendor/node_modules/lodash/package.json"}, Layer: l1},
			{Name: "perl-base", Version: "5.36.0-7+deb12u1", Ecosystem: inventory.Dpkg, SourceName: "perl",
				Licenses:  []string{"GPL-1+ or Artistic", "<script>&"},
				PURL:      "pkg:deb/debian/perl-base@5.36.0-7%2Bdeb12u1?arch=amd64&distro=debian-12",
				Locations: []string{"/var/lib/dpkg/status"}, Layer: "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"},
		},
		Warnings: []string{"layer sha256:aaaa…: var/lib/dpkg/status: entry 3: missing Version"},
	}
	img := Image{Name: "registry.example.com/team/app:1.0", Digest: "sha256:3333333333333333333333333333333333333333333333333333333333333333",
		Platform: "linux/amd64", RepoTags: []string{"registry.example.com/team/app:1.0"},
		Layers: []Layer{{DiffID: l0}, {DiffID: l1}}}
	return inv, img
}

func TestGolden(t *testing.T) {
	mixed, mixedImg := mixedInventory()
	cases := []struct {
		name string
		inv  *inventory.Inventory
		img  Image
		opt  Options
	}{
		{"alpine", loadInventory(t, "alpine-3.19.4.inventory.json"), alpineImage, Options{Time: fixedTime, ToolVersion: "test"}},
		{"mixed", mixed, mixedImg, Options{Time: fixedTime, ToolVersion: "test"}},
		{"mixed-nofiles", mixed, mixedImg, Options{Time: fixedTime, ToolVersion: "test", NoFiles: true}},
		{"empty", &inventory.Inventory{}, Image{Name: "scratch"}, Options{Time: fixedTime, ToolVersion: "test"}},
	}
	for _, c := range cases {
		for _, f := range Formats {
			t.Run(c.name+"/"+f, func(t *testing.T) {
				var buf bytes.Buffer
				if err := Write(&buf, f, c.inv, c.img, c.opt); err != nil {
					t.Fatal(err)
				}
				golden := filepath.Join("testdata", "golden", c.name+"."+f+".json")
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run with -update)", err)
				}
				if d := cmp.Diff(string(want), buf.String()); d != "" {
					t.Errorf("%s differs (-want +got):\n%s", golden, d)
				}
				switch f {
				case FormatCycloneDX:
					validateCycloneDX(t, buf.Bytes())
				case FormatSPDX:
					validateSPDX(t, buf.Bytes())
				}
			})
		}
	}
}

func compileSchema(t *testing.T, main string, files ...string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for _, f := range append([]string{main}, files...) {
		fh, err := os.Open(filepath.Join("testdata", "schema", f))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(fh)
		fh.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		id, _ := doc.(map[string]any)["$id"].(string)
		if err := c.AddResource(id, doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	fh, _ := os.Open(filepath.Join("testdata", "schema", main))
	doc, _ := jsonschema.UnmarshalJSON(fh)
	fh.Close()
	sch, err := c.Compile(doc.(map[string]any)["$id"].(string))
	if err != nil {
		t.Fatalf("compiling %s: %v", main, err)
	}
	return sch
}

func validateAgainst(t *testing.T, sch *jsonschema.Schema, b []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("schema validation failed: %v", err)
	}
}

// validateCycloneDX decodes with cyclonedx-go and validates against the
// official CycloneDX 1.6 JSON schema (testdata/schema, from CycloneDX/specification).
func validateCycloneDX(t *testing.T, b []byte) *cdx.BOM {
	t.Helper()
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(b), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatalf("cyclonedx-go cannot decode the output: %v", err)
	}
	if bom.SpecVersion != cdx.SpecVersion1_6 {
		t.Errorf("specVersion = %v, want 1.6", bom.SpecVersion)
	}
	validateAgainst(t, compileSchema(t, "bom-1.6.schema.json", "spdx.schema.json", "jsf-0.82.schema.json"), b)
	return &bom
}

// validateSPDX parses with tools-golang, runs its document validation, and
// validates against the official SPDX 2.3 JSON schema (testdata/schema, from spdx/spdx-spec).
func validateSPDX(t *testing.T, b []byte) {
	t.Helper()
	doc, err := spdxjson.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("tools-golang cannot read the output: %v", err)
	}
	if err := spdxlib.ValidateDocument(doc); err != nil {
		t.Errorf("tools-golang validation: %v", err)
	}
	ids, err := spdxlib.GetDescribedPackageIDs(doc)
	if err != nil || len(ids) != 1 || ids[0] != spdxImageID {
		t.Errorf("described packages = %v, %v; want [%s]", ids, err, spdxImageID)
	}
	validateAgainst(t, compileSchema(t, "spdx-2.3.schema.json"), b)
}

// TestAlpineContent checks what the documents say about the Alpine image:
// 15 packages, each with its PURL, layer and files, and the OS component.
func TestAlpineContent(t *testing.T) {
	inv := loadInventory(t, "alpine-3.19.4.inventory.json")
	if len(inv.Packages) != 15 {
		t.Fatalf("fixture has %d packages, want 15", len(inv.Packages))
	}
	var buf bytes.Buffer
	if err := WriteCycloneDX(&buf, inv, alpineImage, Options{Time: fixedTime}); err != nil {
		t.Fatal(err)
	}
	bom := validateCycloneDX(t, buf.Bytes())
	fileCount := map[string][]string{}
	for _, p := range inv.Packages {
		fileCount[p.Name] = p.Files
	}
	var libs, oses int
	for _, c := range *bom.Components {
		switch c.Type {
		case cdx.ComponentTypeOS:
			oses++
			if c.Name != "alpine" || c.Version != "3.19.4" {
				t.Errorf("OS component = %s %s", c.Name, c.Version)
			}
		case cdx.ComponentTypeLibrary:
			libs++
			if !strings.HasPrefix(c.PackageURL, "pkg:apk/alpine/"+c.Name+"@"+c.Version) {
				t.Errorf("%s: purl %q", c.Name, c.PackageURL)
			}
			props := map[string]string{}
			for _, p := range *c.Properties {
				props[p.Name] = p.Value
			}
			if props[PropLayer] != alpineImage.Layers[0].DiffID || props[PropLayerIndex] != "0" {
				t.Errorf("%s: layer properties %v", c.Name, props)
			}
			if (c.Components != nil && len(*c.Components) > 0) != (len(fileCount[c.Name]) > 0) {
				t.Errorf("%s: file components %v, fixture files %d", c.Name, c.Components != nil, len(fileCount[c.Name]))
			}
			if c.Name == "libcrypto3" && (c.Version != "3.1.7-r0" || props[PropSource] != "openssl") {
				t.Errorf("libcrypto3: %s source %q", c.Version, props[PropSource])
			}
		}
	}
	if libs != 15 || oses != 1 {
		t.Errorf("got %d libraries and %d OS components, want 15 and 1", libs, oses)
	}
	if bom.Metadata.Timestamp != "2026-01-02T03:04:05Z" || bom.Metadata.Component.Type != cdx.ComponentTypeContainer {
		t.Errorf("metadata = %+v", bom.Metadata)
	}

	buf.Reset()
	if err := WriteSPDX(&buf, inv, alpineImage, Options{Time: fixedTime}); err != nil {
		t.Fatal(err)
	}
	doc, err := spdxjson.Read(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	purls := 0
	for _, p := range doc.Packages {
		for _, r := range p.PackageExternalReferences {
			if r.RefType == "purl" {
				purls++
			}
		}
		if p.PrimaryPackagePurpose == "LIBRARY" {
			var layer, files bool
			for _, a := range p.Annotations {
				layer = layer || strings.HasPrefix(a.AnnotationComment, PropLayer+"="+alpineImage.Layers[0].DiffID)
				files = files || strings.HasPrefix(a.AnnotationComment, "warden:files=\n/")
			}
			if !layer || files != (len(fileCount[p.PackageName]) > 0) {
				t.Errorf("%s: layer annotation %v, files annotation %v", p.PackageName, layer, files)
			}
		}
	}
	if len(doc.Packages) != 17 || purls != 15 {
		t.Errorf("SPDX: %d packages (want 17: image, OS, 15), %d purls (want 15)", len(doc.Packages), purls)
	}
}

// TestDeterministic: the same inventory in another order gives the same bytes,
// and a different inventory a different serial number.
func TestDeterministic(t *testing.T) {
	inv := loadInventory(t, "alpine-3.19.4.inventory.json")
	rev := &inventory.Inventory{Distro: inv.Distro}
	for i := len(inv.Packages) - 1; i >= 0; i-- {
		p := inv.Packages[i]
		p.Files = append([]string(nil), p.Files...)
		for a, b := 0, len(p.Files)-1; a < b; a, b = a+1, b-1 {
			p.Files[a], p.Files[b] = p.Files[b], p.Files[a]
		}
		rev.Packages = append(rev.Packages, p)
	}
	for _, f := range Formats {
		var a, b bytes.Buffer
		if err := Write(&a, f, inv, alpineImage, Options{Time: fixedTime}); err != nil {
			t.Fatal(err)
		}
		if err := Write(&b, f, rev, alpineImage, Options{Time: fixedTime}); err != nil {
			t.Fatal(err)
		}
		if a.String() != b.String() {
			t.Errorf("%s: output depends on input order", f)
		}
	}
	p1, _ := prepare(inv, alpineImage, Options{Time: fixedTime})
	less := &inventory.Inventory{Distro: inv.Distro, Packages: inv.Packages[1:]}
	p2, _ := prepare(less, alpineImage, Options{Time: fixedTime})
	if p1.uuid() == p2.uuid() {
		t.Error("different inventories got the same serial number")
	}
}

func TestErrors(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, "xml", &inventory.Inventory{}, Image{Name: "x"}, Options{}); err == nil || !strings.Contains(err.Error(), `"xml"`) {
		t.Errorf("unknown format: err = %v", err)
	}
	if err := Write(&buf, FormatJSON, nil, Image{Name: "img"}, Options{}); err == nil || !strings.Contains(err.Error(), `"img"`) {
		t.Errorf("nil inventory: err = %v", err)
	}
}

func TestLicenseExpression(t *testing.T) {
	cases := []struct {
		in   []string
		want string
		ok   bool
	}{
		{[]string{"MIT"}, "MIT", true},
		{[]string{"MIT AND BSD-2-Clause AND GPL-2.0-or-later"}, "MIT AND BSD-2-Clause AND GPL-2.0-or-later", true},
		{[]string{"MIT", "Apache-2.0 OR BSD-3-Clause"}, "MIT AND (Apache-2.0 OR BSD-3-Clause)", true},
		{[]string{"GPL-2.0-only WITH Classpath-exception-2.0"}, "GPL-2.0-only WITH Classpath-exception-2.0", true},
		{[]string{"(MIT OR Apache-2.0)"}, "(MIT OR Apache-2.0)", true},
		{[]string{"GPL-1+ or Artistic"}, "", false},
		{[]string{"MIT BSD"}, "", false},
		{[]string{"MIT AND"}, "", false},
		{[]string{"(MIT"}, "", false},
		{[]string{"public domain"}, "", false},
		{[]string{""}, "", false},
	}
	for _, c := range cases {
		got, ok := licenseExpression(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("licenseExpression(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// TestSchemasReject proves the schema checks can fail: documents broken in
// ways the libraries accept are rejected by the official schemas.
func TestSchemasReject(t *testing.T) {
	var buf bytes.Buffer
	inv := loadInventory(t, "alpine-3.19.4.inventory.json")
	if err := WriteCycloneDX(&buf, inv, alpineImage, Options{Time: fixedTime}); err != nil {
		t.Fatal(err)
	}
	bad := bytes.Replace(buf.Bytes(), []byte(`"type": "operating-system"`), []byte(`"type": "distro"`), 1)
	inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader(bad))
	if err := compileSchema(t, "bom-1.6.schema.json", "spdx.schema.json", "jsf-0.82.schema.json").Validate(inst); err == nil {
		t.Error("CycloneDX schema accepted a component of type \"distro\"")
	}
	buf.Reset()
	if err := WriteSPDX(&buf, inv, alpineImage, Options{Time: fixedTime}); err != nil {
		t.Fatal(err)
	}
	bad = bytes.Replace(buf.Bytes(), []byte(`"filesAnalyzed": false`), []byte(`"filesAnalyzed": "no"`), 1)
	inst, _ = jsonschema.UnmarshalJSON(bytes.NewReader(bad))
	if err := compileSchema(t, "spdx-2.3.schema.json").Validate(inst); err == nil {
		t.Error("SPDX schema accepted a string filesAnalyzed")
	}
}
