package sbom

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/wardensec/warden/pkg/inventory"
)

// TestCycloneDXStreamed checks that the piecewise writer gives exactly what
// cyclonedx-go's encoder gives for the whole BOM, with owned files whose names
// need escaping (quotes, backslashes, control bytes, HTML, non-ASCII, invalid
// U+2028), with and without evidence after the files. (Invalid UTF-8 does not
// survive the round trip through Unmarshal: see TestCycloneDXComponents
// and TestCycloneDXString.)
func TestCycloneDXStreamed(t *testing.T) {
	inv, img := mixedInventory()
	odd := []string{"/a \"quoted\" name", `/back\slash`, "/tab\there", "/<html>&amp;", "/ünïcödé", "/line\u2028sep", "/ctl\x01"}
	inv.Packages = append(inv.Packages,
		inventory.Package{Name: "odd", Version: "1", Ecosystem: inventory.Dpkg, PURL: "pkg:deb/debian/odd@1", Files: odd},
		inventory.Package{Name: "odd2", Version: "1", Ecosystem: inventory.Dpkg, PURL: "pkg:deb/debian/odd2@1", Files: odd,
			Locations: []string{"/var/lib/dpkg/status"}})
	var got bytes.Buffer
	if err := WriteCycloneDX(&got, inv, img, Options{Time: fixedTime, ToolVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	var bom cdx.BOM
	if err := json.Unmarshal(got.Bytes(), &bom); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	var want bytes.Buffer
	if err := cdx.NewBOMEncoder(&want, cdx.BOMFileFormatJSON).SetPretty(true).SetEscapeHTML(false).Encode(&bom); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("streamed CycloneDX differs from encoding the whole BOM:\n%s\n----\n%s", got.String(), want.String())
	}
	n := 0
	for _, c := range *bom.Components {
		if c.Components != nil {
			n += len(*c.Components)
		}
	}
	if n < 2*len(odd) {
		t.Fatalf("%d file components, want at least %d", n, 2*len(odd))
	}
}

// odd are strings encoding/json escapes: quotes, backslashes, every kind of
// control byte, HTML characters, non-ASCII, U+2028/U+2029, invalid UTF-8
// (a stray byte, a truncated sequence, a surrogate, an overlong form).
var odd = []string{
	"", "/plain", "/a \"quoted\" name", `/back\slash`, "/\b\f\n\r\t", "/ctl\x00\x01\x1f\x7f",
	"/<html>&amp;", "/ünïcödé 日本 \U0001F600", "/line\u2028para\u2029", "/bad\xffutf8\xfe",
	"/trunc\xe2\x80", "/surrogate\xed\xa0\x80", "/overlong\xc0\xaf", "\xff",
}

// TestCycloneDXComponents writes components through the document writer and
// compares the bytes with cyclonedx-go's encoding of the same BOM (files as
// nested components of type "file"), with no round trip through Unmarshal:
// invalid UTF-8, null and empty arrays reach both encoders as they are. Each
// case also says whether it takes the direct writer or encoding/json, so the
// fast path cannot silently stop being used.
func TestCycloneDXComponents(t *testing.T) {
	var props []cdx.Property
	var lics cdx.Licenses
	var occ []cdx.EvidenceOccurrence
	for i, s := range odd {
		props = append(props, cdx.Property{Name: s, Value: odd[len(odd)-1-i]})
		if s != "" {
			lics = append(lics, cdx.LicenseChoice{License: &cdx.License{Name: s}})
		}
		occ = append(occ, cdx.EvidenceOccurrence{Location: s})
	}
	lics = append(lics, cdx.LicenseChoice{License: &cdx.License{Name: "<script>&</script>"}})
	full := cdx.Component{
		BOMRef: "pkg:deb/debian/odd@1?a=\"b\"&c=<d>", Type: cdx.ComponentTypeLibrary,
		Name: "odd\x00\u2028\xff", Version: "1:2.3-4+deb12u1", Description: "an \"odd\" one\n<&>",
		Licenses: &lics, PackageURL: "pkg:deb/debian/odd@1?a=\"b\"&c=<d>\xfe", Properties: &props,
		Evidence: &cdx.Evidence{Occurrences: &occ},
	}
	var nilProps []cdx.Property
	var nilLics cdx.Licenses
	var nilOcc []cdx.EvidenceOccurrence
	line := 3
	withOmit := func(f func(c *cdx.Component)) cdx.Component {
		c := full
		f(&c)
		return c
	}
	cases := []struct {
		name   string
		c      cdx.Component
		files  []string
		direct bool
	}{
		{"full", full, odd, true},
		{"full-nofiles", full, nil, true},
		{"files-noevidence", withOmit(func(c *cdx.Component) { c.Evidence = nil }), odd, true},
		{"bare", cdx.Component{Type: cdx.ComponentTypeLibrary}, nil, true},
		{"bare-files", cdx.Component{Type: cdx.ComponentTypeLibrary, Name: "x"}, []string{"/x"}, true},
		{"os", cdx.Component{BOMRef: "os:debian@12", Type: cdx.ComponentTypeOS, Name: "debian", Version: "12",
			Description: "Debian GNU/Linux 12 (bookworm)", Properties: &[]cdx.Property{{Name: "warden:distro:codename", Value: "bookworm"}}}, nil, true},
		{"empty-arrays", cdx.Component{Type: cdx.ComponentTypeLibrary, Name: "e", Licenses: &cdx.Licenses{},
			Properties: &[]cdx.Property{}, Evidence: &cdx.Evidence{Occurrences: &[]cdx.EvidenceOccurrence{}}}, nil, true},
		{"null-arrays", cdx.Component{Type: cdx.ComponentTypeLibrary, Name: "n", Licenses: &nilLics,
			Properties: &nilProps, Evidence: &cdx.Evidence{Occurrences: &nilOcc}}, []string{"/n"}, true},
		{"empty-evidence", cdx.Component{Type: cdx.ComponentTypeLibrary, Name: "e", Evidence: &cdx.Evidence{}}, []string{"/e"}, true},
		{"empty-occurrence", cdx.Component{Type: cdx.ComponentTypeLibrary, Name: "e",
			Evidence: &cdx.Evidence{Occurrences: &[]cdx.EvidenceOccurrence{{}, {Location: "/l"}}}}, nil, true},
		// Anything else set goes through encoding/json, files spliced in.
		{"group", withOmit(func(c *cdx.Component) { c.Group = "g" }), odd, false},
		{"hashes", withOmit(func(c *cdx.Component) { c.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: "00"}} }), odd, false},
		{"licence-id", withOmit(func(c *cdx.Component) { c.Licenses = &cdx.Licenses{{License: &cdx.License{ID: "MIT"}}} }), odd, false},
		{"licence-url", withOmit(func(c *cdx.Component) {
			c.Licenses = &cdx.Licenses{{License: &cdx.License{Name: "MIT", URL: "https://x"}}}
		}), odd, false},
		{"expression", withOmit(func(c *cdx.Component) { c.Licenses = &cdx.Licenses{{Expression: "MIT OR Apache-2.0"}} }), odd, false},
		{"occurrence-line", withOmit(func(c *cdx.Component) {
			c.Evidence = &cdx.Evidence{Occurrences: &[]cdx.EvidenceOccurrence{{Location: "/l", Line: &line}}}
		}), odd, false},
		{"evidence-licences", withOmit(func(c *cdx.Component) { c.Evidence = &cdx.Evidence{Occurrences: &occ, Licenses: &lics} }), odd, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := directComponent(&tc.c); got != tc.direct {
				t.Fatalf("directComponent = %v, want %v", got, tc.direct)
			}
			bom := cdx.NewBOM()
			bom.SpecVersion = cdx.SpecVersion1_6
			bom.JSONSchema = "http://cyclonedx.org/schema/bom-1.6.schema.json"
			bom.XMLNS = "http://cyclonedx.org/schema/bom/1.6"
			bom.SerialNumber = "urn:uuid:00000000-0000-5000-8000-000000000000"
			bom.Metadata = &cdx.Metadata{Component: &cdx.Component{Type: cdx.ComponentTypeContainer, Name: "img"}}
			deps := []cdx.Dependency{{Ref: "img", Dependencies: &[]string{tc.c.BOMRef, "x"}}}

			var got bytes.Buffer
			cw := newCDXWriter(&got)
			if err := cw.head(bom); err != nil {
				t.Fatal(err)
			}
			cw.component(&tc.c, tc.files)
			cw.component(&cdx.Component{Type: cdx.ComponentTypeLibrary, Name: "x"}, nil)
			if err := cw.finish(deps); err != nil {
				t.Fatal(err)
			}

			c := tc.c
			if len(tc.files) > 0 {
				var fc []cdx.Component
				for _, f := range tc.files {
					fc = append(fc, cdx.Component{Type: cdx.ComponentTypeFile, Name: f})
				}
				c.Components = &fc
			}
			bom.Components = &[]cdx.Component{c, {Type: cdx.ComponentTypeLibrary, Name: "x"}}
			bom.Dependencies = &deps
			var want bytes.Buffer
			if err := cdx.NewBOMEncoder(&want, cdx.BOMFileFormatJSON).SetPretty(true).SetEscapeHTML(false).Encode(bom); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Fatalf("written component differs from cyclonedx-go's encoding:\n%s\n----\n%s", got.String(), want.String())
			}
		})
	}
}

// TestCycloneDXDependencies: the dependencies are written as cyclonedx-go
// encodes them, directly or (with provides) through encoding/json.
func TestCycloneDXDependencies(t *testing.T) {
	var nilRefs []string
	cases := []struct {
		name string
		deps []cdx.Dependency
	}{
		{"odd", []cdx.Dependency{{Ref: "img\"<&>\xff", Dependencies: &odd}}},
		{"several", []cdx.Dependency{{Ref: "a", Dependencies: &[]string{"b"}}, {Ref: "b"},
			{Ref: "c", Dependencies: &[]string{}}, {Ref: "d", Dependencies: &nilRefs}}},
		{"empty", []cdx.Dependency{}},
		{"provides", []cdx.Dependency{{Ref: "a", Dependencies: &odd, Provides: &[]string{"b"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bom := cdx.NewBOM()
			bom.SpecVersion = cdx.SpecVersion1_6
			bom.SerialNumber = "urn:uuid:00000000-0000-5000-8000-000000000000"
			var got bytes.Buffer
			cw := newCDXWriter(&got)
			if err := cw.head(bom); err != nil {
				t.Fatal(err)
			}
			x := cdx.Component{Type: cdx.ComponentTypeLibrary, Name: "x"}
			cw.component(&x, nil)
			if err := cw.finish(tc.deps); err != nil {
				t.Fatal(err)
			}
			bom.Components = &[]cdx.Component{x}
			bom.Dependencies = &tc.deps
			var want bytes.Buffer
			if err := cdx.NewBOMEncoder(&want, cdx.BOMFileFormatJSON).SetPretty(true).SetEscapeHTML(false).Encode(bom); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Fatalf("written dependencies differ from cyclonedx-go's encoding:\n%s\n----\n%s", got.String(), want.String())
			}
		})
	}
}

// TestCycloneDXString: strings are written as encoding/json writes them, with
// and without escaping HTML (licence names go through json.Marshal, which does).
func TestCycloneDXString(t *testing.T) {
	for _, s := range append(odd, "/bad\xffutf8", "/<&>", "/q\"\\", "/\u2028\u2029", "/\x00\x1f\x7f", "/é") {
		checkString(t, s)
	}
}

func checkString(t *testing.T, s string) {
	t.Helper()
	var buf bytes.Buffer
	cw := newCDXWriter(&buf)
	cw.writeString(s)
	cw.w.Flush()
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	if got := buf.String() + "\n"; got != want.String() {
		t.Errorf("%q: wrote %s, encoding/json writes %s", s, got, want.String())
	}
	wantHTML, _ := json.Marshal(s)
	if got := appendString(nil, s, true); !bytes.Equal(got, wantHTML) {
		t.Errorf("%q: wrote %s escaping HTML, json.Marshal writes %s", s, got, wantHTML)
	}
}

// FuzzCycloneDXString compares appendString with encoding/json on any bytes.
func FuzzCycloneDXString(f *testing.F) {
	for _, s := range odd {
		f.Add(s)
	}
	f.Fuzz(checkString)
}

// TestStringWords puts each byte that needs escaping (and a rune that does)
// at every place of a string long enough for appendString's 8-byte steps.
func TestStringWords(t *testing.T) {
	for _, special := range []string{"\x00", "\x1f", "\"", "\\", "<", ">", "&", "\x7f", "\x80", "\u2028", "é", " "} {
		// Every length up to 40 (plainString reads 16 bytes a step and the
		// last 8 once more), the special byte at every place.
		for n := 0; n <= 40; n++ {
			b := strings.Repeat("usr/lib/x86_64-linux-gnu/", 2)[:n]
			checkString(t, b)
			for at := 0; at <= n; at++ {
				checkString(t, b[:at]+special+b[at:])
			}
		}
	}
}
