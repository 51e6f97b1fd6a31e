package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/santhosh-tekuri/jsonschema/v6"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdxlib"

	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/sbom"
)

// runWardenCmd runs the real command tree in-process and returns stdout,
// stderr and the exit code main would use.
func runWardenCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	// Errors reach stderr as main prints them ("warden: <message>").
	code := exitCode(&errb, root.ExecuteContext(t.Context()))
	return out.String(), errb.String(), code
}

func schemaFor(t *testing.T, files ...string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	var first string
	for _, f := range files {
		fh, err := os.Open(filepath.Join(testutil.RepoRoot(t), "pkg", "sbom", "testdata", "schema", f))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(fh)
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		id, _ := doc.(map[string]any)["$id"].(string)
		if first == "" {
			first = id
		}
		if err := c.AddResource(id, doc); err != nil {
			t.Fatal(err)
		}
	}
	s, err := c.Compile(first)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validateJSONSchema(t *testing.T, s *jsonschema.Schema, b []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(inst); err != nil {
		t.Errorf("schema: %v", err)
	}
}

// TestSBOMAlpine runs `warden sbom` on the Alpine 3.19.4 image that ships with
// the repository, in all three formats, and checks the documents with the
// official libraries and schemas: 15 packages, libcrypto3/libssl3 3.1.7-r0
// from origin openssl, each with its PURL, layer and files.
func TestSBOMAlpine(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	image := filepath.Join(testutil.RepoRoot(t), "testdata", "images", "alpine-3.19.4")
	cache := t.TempDir()

	// Warden JSON, cold then warm (cached layers): the same bytes.
	cold, stderr, code := runWardenCmd(t, "sbom", image, "--format", "json", "--cache-dir", cache)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	warm, _, code := runWardenCmd(t, "sbom", image, "--format", "json", "--cache-dir", cache)
	if code != 0 || warm != cold {
		t.Errorf("warm run differs from the cold one (exit %d)", code)
	}
	var doc sbom.Document
	if err := json.Unmarshal([]byte(cold), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Packages) != 15 || doc.Distro == nil || doc.Distro.ID != "alpine" || doc.Distro.VersionID != "3.19.4" {
		t.Fatalf("json: %d packages, distro %+v", len(doc.Packages), doc.Distro)
	}
	if doc.Created != "2023-11-14T22:13:20Z" {
		t.Errorf("created = %s, want SOURCE_DATE_EPOCH", doc.Created)
	}
	diff := doc.Image.Layers[0].DiffID
	for _, p := range doc.Packages {
		if p.PURL == "" || p.Layer != diff {
			t.Errorf("%s: purl %q layer %q", p.Name, p.PURL, p.Layer)
		}
		if (p.Name == "libcrypto3" || p.Name == "libssl3") && (p.Version != "3.1.7-r0" || p.SourceName != "openssl") {
			t.Errorf("%s %s origin %q", p.Name, p.Version, p.SourceName)
		}
		if p.Name == "busybox" && len(p.Files) == 0 {
			t.Error("busybox has no files")
		}
	}

	// CycloneDX to a file.
	out := filepath.Join(t.TempDir(), "bom.json")
	if _, stderr, code := runWardenCmd(t, "sbom", image, "--format", "cyclonedx-json", "--output", out, "--no-cache"); code != 0 {
		t.Fatalf("cyclonedx: exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(b), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	validateJSONSchema(t, schemaFor(t, "bom-1.6.schema.json", "spdx.schema.json", "jsf-0.82.schema.json"), b)
	libs := 0
	for _, c := range *bom.Components {
		if c.Type == cdx.ComponentTypeLibrary {
			libs++
		}
	}
	if libs != 15 || bom.SpecVersion != cdx.SpecVersion1_6 {
		t.Errorf("cyclonedx: %d libraries, spec %v", libs, bom.SpecVersion)
	}

	// SPDX.
	s, stderr, code := runWardenCmd(t, "sbom", image, "-f", "spdx-json", "--cache-dir", cache)
	if code != 0 {
		t.Fatalf("spdx: exit %d: %s", code, stderr)
	}
	sd, err := spdxjson.Read(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	if err := spdxlib.ValidateDocument(sd); err != nil {
		t.Error(err)
	}
	validateJSONSchema(t, schemaFor(t, "spdx-2.3.schema.json"), []byte(s))
	if len(sd.Packages) != 17 {
		t.Errorf("spdx: %d packages, want 17 (image, OS, 15)", len(sd.Packages))
	}
}

func TestSBOMErrors(t *testing.T) {
	image := filepath.Join(testutil.RepoRoot(t), "testdata", "images", "alpine-3.19.4")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"sbom", image, "--format", "xml", "--no-cache"}, `--format "xml"`},
		{[]string{"sbom", filepath.Join(t.TempDir(), "missing.tar"), "--no-cache"}, "missing.tar"},
		{[]string{"sbom"}, "accepts 1 arg"},
	}
	for _, c := range cases {
		_, stderr, code := runWardenCmd(t, c.args...)
		if code != exitError || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 1 mentioning %q", c.args, code, stderr, c.want)
		}
	}
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	if _, stderr, code := runWardenCmd(t, "sbom", image, "--no-cache"); code != exitError || !strings.Contains(stderr, "SOURCE_DATE_EPOCH") {
		t.Errorf("bad SOURCE_DATE_EPOCH: exit %d %q", code, stderr)
	}
}

// TestSBOMDebian: the Debian bookworm package DB image (122 dpkg packages and
// the Python packages beside them) gives documents the official schemas and
// libraries accept — real licence strings, source versions, epochs.
func TestSBOMDebian(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	image := filepath.Join(testutil.RepoRoot(t), "testdata", "images", "debian-bookworm-pkgdb")
	cache := t.TempDir()
	out, stderr, code := runWardenCmd(t, "sbom", image, "--format", "json", "--cache-dir", cache)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc sbom.Document
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	dpkg := 0
	for _, p := range doc.Packages {
		if p.Ecosystem == "dpkg" {
			dpkg++
		}
	}
	if dpkg != 122 {
		t.Errorf("%d dpkg packages, want 122", dpkg)
	}
	cdxOut, _, code := runWardenCmd(t, "sbom", image, "--format", "cyclonedx-json", "--cache-dir", cache)
	if code != 0 {
		t.Fatal("cyclonedx failed")
	}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(strings.NewReader(cdxOut), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	validateJSONSchema(t, schemaFor(t, "bom-1.6.schema.json", "spdx.schema.json", "jsf-0.82.schema.json"), []byte(cdxOut))
	spdxOut, _, code := runWardenCmd(t, "sbom", image, "--format", "spdx-json", "--cache-dir", cache)
	if code != 0 {
		t.Fatal("spdx failed")
	}
	sd, err := spdxjson.Read(strings.NewReader(spdxOut))
	if err != nil {
		t.Fatal(err)
	}
	if err := spdxlib.ValidateDocument(sd); err != nil {
		t.Error(err)
	}
	validateJSONSchema(t, schemaFor(t, "spdx-2.3.schema.json"), []byte(spdxOut))
	if len(sd.Packages) != len(doc.Packages)+2 {
		t.Errorf("spdx: %d packages, want %d", len(sd.Packages), len(doc.Packages)+2)
	}
}
