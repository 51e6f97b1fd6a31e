package policy

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/internal/testutil/notationtest"
)

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// docsExamples returns the YAML examples of docs/policy.md.
func docsExamples(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "docs", "policy.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range yamlBlock.FindAllStringSubmatch(string(b), -1) {
		out = append(out, m[1])
	}
	if len(out) < 4 {
		t.Fatalf("docs/policy.md has %d yaml examples, expected at least 4", len(out))
	}
	return out
}

// exampleDir holds the files the examples name: keys and a VEX document.
func exampleDir(t *testing.T) string {
	dir := t.TempDir()
	writeKeys(t, dir)
	b, _ := os.ReadFile(filepath.Join(dir, "keys", "second.pub"))
	if err := os.WriteFile(filepath.Join(dir, "keys", "security.pub"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "vex"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The keyless example's trusted root: the real public-good one.
	tr, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "pkg", "verify", "testdata", "sigstore", "trusted-root-public-good.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "trusted_root.json"), tr, 0o644); err != nil {
		t.Fatal(err)
	}
	// The notation example's trust store: a CA certificate.
	pki := notationtest.New(t, "acme-ca", time.Time{}, time.Time{})
	if err := os.MkdirAll(filepath.Join(dir, "notation-ca"), 0o755); err != nil {
		t.Fatal(err)
	}
	ca, _ := os.ReadFile(pki.CAFile)
	if err := os.WriteFile(filepath.Join(dir, "notation-ca", "acme-ca.pem"), ca, 0o644); err != nil {
		t.Fatal(err)
	}
	vex := `{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/services-1", "author": "security@example.com",
 "timestamp": "2026-11-01T00:00:00Z", "version": 1,
 "statements": [{"vulnerability": {"name": "CVE-2024-9143"}, "products": [{"@id": "pkg:apk/alpine/libcrypto3@3.1.7-r0"}],
   "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}]}`
	if err := os.WriteFile(filepath.Join(dir, "vex", "services.openvex.json"), []byte(vex), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func policySchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(filepath.Join(testutil.RepoRoot(t), "docs", "policy.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("policy.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("policy.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// yamlToJSONValue decodes YAML into the values the schema validator takes.
func yamlToJSONValue(t *testing.T, doc string) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatal(err)
	}
	var fix func(any) any
	fix = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				x[k] = fix(e)
			}
		case []any:
			for i, e := range x {
				x[i] = fix(e)
			}
		case time.Time:
			return x.Format("2006-01-02")
		}
		return v
	}
	b, err := json.Marshal(fix(v))
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDocsExamples: every example in docs/policy.md parses with Warden's
// strict parser and validates against docs/policy.schema.json.
func TestDocsExamples(t *testing.T) {
	dir := exampleDir(t)
	sch := policySchema(t)
	for i, ex := range docsExamples(t) {
		if _, err := Parse("docs/policy.md example", []byte(ex), dir); err != nil {
			t.Errorf("example %d does not parse: %v\n%s", i+1, err, ex)
		}
		if err := sch.Validate(yamlToJSONValue(t, ex)); err != nil {
			t.Errorf("example %d does not validate against the schema: %v", i+1, err)
		}
	}
	// The precedence example says which rule applies to which image.
	ex := docsExamples(t)[1]
	pol, err := Parse("example", []byte(ex), dir)
	if err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]string{
		"registry.example.com/prod/payments/api:2.0": "payments",
		"registry.example.com/prod/web:1.0":          "prod",
		"docker.io/library/alpine:3.19":              "everything-else",
	} {
		if r, _ := pol.Select(NewSubject(ref, "")); r == nil || r.Name != want {
			t.Errorf("docs precedence example: %s gets %v, docs say %s", ref, r, want)
		}
	}
}

// TestSchemaMatchesParser: the schema names exactly the fields the parser
// knows, and rejects what the parser rejects.
func TestSchemaMatchesParser(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "docs", "policy.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	props := func(obj any) []string {
		var out []string
		for k := range obj.(map[string]any)["properties"].(map[string]any) {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	tags := func(v any) []string {
		var out []string
		rt := reflect.TypeOf(v)
		for i := 0; i < rt.NumField(); i++ {
			tag, _, _ := strings.Cut(rt.Field(i).Tag.Get("yaml"), ",")
			out = append(out, tag)
		}
		sort.Strings(out)
		return out
	}
	defs := s["$defs"].(map[string]any)
	rule := defs["rule"].(map[string]any)
	rp := rule["properties"].(map[string]any)
	att := defs["attestation"]
	vul := rp["vulnerabilities"].(map[string]any)
	exc := vul["properties"].(map[string]any)["exceptions"].(map[string]any)["items"]
	for _, c := range []struct {
		name   string
		schema []string
		parser []string
	}{
		{"policy", props(s), tags(rawPolicy{})},
		{"rule", props(rule), tags(rawRule{})},
		{"signatures", props(rp["signatures"]), tags(rawSignatures{})},
		{"signatures.notation", props(rp["signatures"].(map[string]any)["properties"].(map[string]any)["notation"]), tags(rawNotation{})},
		{"attestations", props(att), tags(rawAttestation{})},
		{"vulnerabilities", props(vul), tags(rawVulnerabilities{})},
		{"exceptions", props(exc), tags(rawException{})},
		{"image", props(rp["image"]), tags(rawImage{})},
	} {
		if d := cmp.Diff(c.parser, c.schema); d != "" {
			t.Errorf("%s: schema and parser disagree (-parser +schema):\n%s", c.name, d)
		}
	}
	sch := policySchema(t)
	for _, bad := range []string{
		"version: 1\nrules:\n  - match: [a/**]\n    signature: {}\n",
		"version: 2\n",
		"version: 1\nrules:\n  - match: [\"a/***\"]\n",
		"version: 1\nrules:\n  - match: [a]\n    vulnerabilities: {max_severity: SEVERE}\n",
		"version: 1\nrules:\n  - match: [a]\n    vulnerabilities: {exceptions: [{id: CVE-1}]}\n",
	} {
		if err := sch.Validate(yamlToJSONValue(t, bad)); err == nil {
			t.Errorf("schema accepts %q", bad)
		}
		if _, err := Parse("bad", []byte(bad), t.TempDir()); err == nil {
			t.Errorf("parser accepts %q", bad)
		}
	}
}
