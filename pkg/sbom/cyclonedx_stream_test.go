package sbom

import (
	"bytes"
	"encoding/json"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/wardensec/warden/pkg/inventory"
)

// TestCycloneDXStreamed checks that the piecewise writer gives exactly what
// cyclonedx-go's encoder gives for the whole BOM, with owned files whose names
// need escaping (quotes, backslashes, control bytes, HTML, non-ASCII, invalid
// U+2028), with and without evidence after the files. (Invalid UTF-8 does not
// survive the round trip through Unmarshal: see TestCycloneDXString.)
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

// TestCycloneDXString: file names are written as encoding/json writes them.
func TestCycloneDXString(t *testing.T) {
	for _, s := range []string{"/plain", "/bad\xffutf8", "/<&>", "/q\"\\", "/\u2028\u2029", "/\x00\x1f\x7f", "/é"} {
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
	}
}
