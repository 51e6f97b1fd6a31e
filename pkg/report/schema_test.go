package report

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// compileSchema compiles the first of files (the others are referenced
// resources) from dir.
func compileSchema(t *testing.T, dir string, files ...string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	var first string
	for _, f := range files {
		fh, err := os.Open(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(fh)
		fh.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		id, _ := doc.(map[string]any)["$id"].(string)
		if id == "" {
			id, _ = doc.(map[string]any)["id"].(string) // draft-04
		}
		if id == "" {
			id = "file:///" + f
		}
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

// TestCycloneDXSchema validates the CycloneDX report against the official
// CycloneDX 1.6 JSON schema (kept by pkg/sbom in its testdata/schema).
func TestCycloneDXSchema(t *testing.T) {
	s := compileSchema(t, filepath.Join("..", "sbom", "testdata", "schema"), "bom-1.6.schema.json", "spdx.schema.json", "jsf-0.82.schema.json")
	var buf bytes.Buffer
	if err := Write(&buf, sample(), Options{Format: FormatCycloneDX}); err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(inst); err != nil {
		t.Errorf("CycloneDX report does not validate against bom-1.6.schema.json: %v", err)
	}
}

// TestSARIFSchema validates the SARIF report against the OASIS SARIF 2.1.0
// JSON schema (errata 01, testdata/sarif-schema-2.1.0.json).
func TestSARIFSchema(t *testing.T) {
	s := compileSchema(t, "testdata", "sarif-schema-2.1.0.json")
	for _, in := range []*Input{sample(), {Artifact: "scratch"}} {
		var buf bytes.Buffer
		if err := Write(&buf, in, Options{Format: FormatSARIF}); err != nil {
			t.Fatal(err)
		}
		inst, err := jsonschema.UnmarshalJSON(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(inst); err != nil {
			t.Errorf("%s: SARIF report does not validate: %v", in.Artifact, err)
		}
	}
}
