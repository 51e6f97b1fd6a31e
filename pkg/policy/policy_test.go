package policy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/lint"
	"github.com/wardensec/warden/pkg/match"
	"github.com/wardensec/warden/pkg/sign"
	"github.com/wardensec/warden/pkg/vulndb"
)

// writeKeys writes two real public keys (release.pub, second.pub) and a file
// that is not a key (bad.pub) into dir/keys.
func writeKeys(t testing.TB, dir string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"release", "second"} {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := sign.MarshalPublicKey(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "keys", n+".pub"), pub, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "keys", "bad.pub"), []byte("-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func parse(t testing.TB, doc string) (*Policy, error) {
	t.Helper()
	dir := t.TempDir()
	writeKeys(t, dir)
	path := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(path)
}

const issueExample = `version: 1
rules:
  - match: ["registry.example.com/prod/**"]     # image reference patterns
    signatures: {keys: [keys/release.pub], threshold: 1}
    vulnerabilities: {max_severity: HIGH, ignore_unfixed: true}
    image: {forbid_root: true, forbid_latest: true}
`

// TestAttestationsForms: one requirement as a mapping, or a list; both strict.
func TestAttestationsForms(t *testing.T) {
	pol, err := parse(t, "version: 1\nrules:\n  - match: [a]\n    attestations: {type: cyclonedx, max_age_days: 7}\n  - match: [b]\n    attestations:\n      - {type: vuln}\n      - {type: slsaprovenance1}\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(pol.Rules[0].Attestations) != 1 || pol.Rules[0].Attestations[0].Type != "https://cyclonedx.org/bom" || pol.Rules[0].Attestations[0].MaxAgeDays != 7 ||
		len(pol.Rules[1].Attestations) != 2 {
		t.Errorf("attestations = %+v / %+v", pol.Rules[0].Attestations, pol.Rules[1].Attestations)
	}
	for _, bad := range []string{
		"version: 1\nrules:\n  - match: [a]\n    attestations: {type: cyclonedx, keyz: []}\n",
		"version: 1\nrules:\n  - match: [a]\n    attestations: [{type: cyclonedx, keyz: []}]\n",
		"version: 1\nrules:\n  - match: [a]\n    attestations: cyclonedx\n",
	} {
		if _, err := parse(t, bad); err == nil || !strings.Contains(err.Error(), "policy.yaml:4:") {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

func TestParseIssueExample(t *testing.T) {
	pol, err := parse(t, issueExample)
	if err != nil {
		t.Fatal(err)
	}
	if len(pol.Rules) != 1 || pol.DefaultAllow {
		t.Fatalf("rules %d default allow %v", len(pol.Rules), pol.DefaultAllow)
	}
	r := pol.Rules[0]
	if r.Line != 3 || r.Name != "rules[0]" || len(r.Signatures.Keys) != 1 || r.Signatures.Keys[0].Line != 4 ||
		r.Vulnerabilities.MaxSeverity != "HIGH" || !r.Vulnerabilities.IgnoreUnfixed || !r.Image.ForbidRoot || !r.Image.ForbidLatest {
		t.Errorf("rule = %+v", r)
	}
}

// TestParseErrors: every problem is an error naming the file and the line.
func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, doc string
		want      []string // substrings, each "policy.yaml:LINE: ..."
	}{
		{"unknown field", "version: 1\nrules:\n  - match: [a/**]\n    signature: {keys: []}\n", []string{`policy.yaml:4: unknown field "signature"`}},
		{"unknown nested field", "version: 1\nrules:\n  - match: [a/**]\n    image: {forbid_root: true, forbid_rooot: true}\n", []string{`policy.yaml:4: unknown field "forbid_rooot"`}},
		{"unknown top field", "version: 1\ndefaults: allow\nrules: []\n", []string{`policy.yaml:2: unknown field "defaults"`}},
		{"bad pattern", "version: 1\nrules:\n  - match: [\"registry.example.com/prod/***\"]\n", []string{`policy.yaml:3: match pattern "registry.example.com/prod/***"`}},
		{"bad pattern chars", "version: 1\nrules:\n  - match:\n      - \"a b\"\n", []string{`policy.yaml:4: match pattern "a b"`}},
		{"empty pattern", "version: 1\nrules:\n  - match: [\"\"]\n", []string{`policy.yaml:3: match pattern "": empty pattern`}},
		{"key does not parse", "version: 1\nrules:\n  - match: [a/**]\n    signatures:\n      keys:\n        - keys/release.pub\n        - keys/bad.pub\n", []string{`policy.yaml:7: key "keys/bad.pub"`, "does not parse"}},
		{"key missing", "version: 1\nrules:\n  - match: [a/**]\n    signatures: {keys: [keys/nope.pub]}\n", []string{`policy.yaml:4: key "keys/nope.pub"`}},
		{"missing version", "rules:\n  - match: [a/**]\n", []string{"policy.yaml:1: missing version"}},
		{"wrong version", "version: 2\nrules: []\n", []string{"policy.yaml:1: unsupported version 2"}},
		{"bad default", "version: 1\ndefault: maybe\n", []string{`policy.yaml:2: default: "maybe"`}},
		{"bad severity", "version: 1\nrules:\n  - match: [a/**]\n    vulnerabilities:\n      max_severity: SEVERE\n", []string{`policy.yaml:5: rule rules[0]: max_severity "SEVERE"`}},
		{"bad expiry", "version: 1\nrules:\n  - match: [a/**]\n    vulnerabilities:\n      exceptions:\n        - {id: CVE-2024-9143, reason: x, expires: 31/12/2026}\n", []string{`policy.yaml:6: rule rules[0]: exception CVE-2024-9143: expires "31/12/2026"`}},
		{"exception without reason", "version: 1\nrules:\n  - match: [a/**]\n    vulnerabilities:\n      exceptions:\n        - id: CVE-2024-9143\n", []string{"policy.yaml:6: rule rules[0]: exception CVE-2024-9143: reason is required"}},
		{"threshold above keys", "version: 1\nrules:\n  - match: [a/**]\n    signatures: {keys: [keys/release.pub], threshold: 2}\n", []string{"policy.yaml:3: rule rules[0]: signatures.threshold 2 is more than the 1 keys"}},
		{"wrong type", "version: 1\nrules:\n  - match: [a/**]\n    image: {max_size_mb: big}\n", []string{`policy.yaml:4: got a string ("big"), want an integer`}},
		{"unknown field of a key", "version: 1\nrules:\n  - match: [a/**]\n    signatures:\n      keys: [{path: x, color: red}]\n", []string{"policy.yaml:5: field color not found"}},
		{"list for a key", "version: 1\nrules:\n  - match: [a/**]\n    signatures:\n      keys: [[x]]\n", []string{"policy.yaml:5: got a list, want a mapping"}},
		{"keyless without trusted root", "version: 1\nrules:\n  - match: [a/**]\n    signatures:\n      keyless: [{issuer: https://i, subject: s}]\n", []string{"policy.yaml:3: rule rules[0]: signatures: keyless identities and tlog: required need trusted_root"}},
		{"keyless without subject", "version: 1\nrules:\n  - match: [a/**]\n    signatures:\n      trusted_root: root.json\n      keyless: [{issuer: https://i}]\n", []string{"policy.yaml:6: rule rules[0]: signatures.keyless: keyless identity needs exactly one of subject and subject_regexp", `policy.yaml:5: rule rules[0]: signatures.trusted_root: trusted root`}},
		{"keyless bad regexp", "version: 1\nrules:\n  - match: [a/**]\n    signatures:\n      keyless:\n        - {issuer: https://i, subject_regexp: \"(\"}\n", []string{"policy.yaml:6: rule rules[0]: signatures.keyless: keyless identity: regular expression"}},
		{"tlog value", "version: 1\nrules:\n  - match: [a/**]\n    signatures:\n      tlog: always\n", []string{`policy.yaml:5: rule rules[0]: signatures.tlog "always": want required or optional`}},
		{"key window", "version: 1\nrules:\n  - match: [a/**]\n    signatures:\n      keyless:\n        - {issuer: https://i, subject: s, not_before: 2026-13-01, not_after: 2020-01-01}\n", []string{`policy.yaml:6: rule rules[0]: keyless identity s (https://i): not_before "2026-13-01": want RFC 3339 or YYYY-MM-DD`}},
		{"threshold over keyless", "version: 1\nrules:\n  - match: [a/**]\n    signatures:\n      threshold: 2\n      keyless: [{issuer: https://i, subject: s}]\n", []string{"signatures.threshold 2 is more than the 1 keys and keyless identities listed"}},
		{"notation without trust store", "version: 1\nrules:\n  - match: [a/**]\n    signatures:\n      notation: {identities: [\"*\"]}\n", []string{"policy.yaml:5: rule rules[0]: signatures.notation: trust_store"}},
		{"notation trust store missing", "version: 1\nrules:\n  - match: [a/**]\n    signatures:\n      notation: {trust_store: nope, identities: [\"*\"]}\n", []string{"policy.yaml:5: rule rules[0]: signatures.notation: notation trust store", "nope"}},
		{"notation without identities", "version: 1\nrules:\n  - match: [a/**]\n    signatures:\n      notation: {trust_store: keys}\n", []string{"policy.yaml:5: rule rules[0]: signatures.notation: identities is required"}},
		{"notation unknown field", "version: 1\nrules:\n  - match: [a/**]\n    signatures:\n      notation: {trust_store: keys, identity: x}\n", []string{`unknown field "identity"`}},
		{"threshold over notation", "version: 1\nrules:\n  - match: [a/**]\n    signatures:\n      threshold: 3\n      keys: [keys/release.pub]\n      notation: {trust_store: keys, identities: [\"*\"]}\n", []string{"signatures.threshold 3 is more than the 2 keys"}},
		{"string for a list", "version: 1\nrules:\n  - match: \"a/**\"\n", []string{`policy.yaml:3: got a string ("a/**"), want a list of strings`}},
		{"no match", "version: 1\nrules:\n  - image: {forbid_root: true}\n", []string{"policy.yaml:3: rule rules[0]: match: at least one image pattern is required"}},
		{"vex missing", "version: 1\nrules:\n  - match: [a/**]\n    vulnerabilities: {vex: [nope.json]}\n", []string{`policy.yaml:4: rule rules[0]: vex "nope.json"`}},
		{"bad attestation type", "version: 1\nrules:\n  - match: [a/**]\n    attestations:\n      - {type: \"not a type\"}\n", []string{`policy.yaml:5: rule rules[0]: attestations.type "not a type"`}},
		{"duplicate rule names", "version: 1\nrules:\n  - {name: prod, match: [a/**]}\n  - {name: prod, match: [b/**]}\n", []string{`policy.yaml:4: rule name "prod" is also used on line 3`}},
		{"duplicate key", "version: 1\nversion: 1\n", []string{"policy.yaml:2: mapping key \"version\" already defined"}},
		{"two documents", "version: 1\n---\nversion: 1\n", []string{"more than one YAML document"}},
		{"not yaml", "version: [1\n", []string{"policy.yaml:"}},
		{"empty", "", []string{"policy.yaml: empty policy document"}},
		{"list", "- a\n", []string{"policy.yaml:1: a policy is a mapping"}},
		{"several problems", "version: 1\nrules:\n  - match: [\"***\"]\n    vulnerabilities: {max_severity: BAD}\n", []string{"policy.yaml:3:", "policy.yaml:4:"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse(t, c.doc)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

func TestPatterns(t *testing.T) {
	cases := []struct {
		pat, s string
		want   bool
	}{
		{"registry.example.com/prod/**", "registry.example.com/prod/app", true},
		{"registry.example.com/prod/**", "registry.example.com/prod/team/app:1.0", true},
		{"registry.example.com/prod/**", "registry.example.com/production/app", false},
		{"registry.example.com/prod/*", "registry.example.com/prod/app", true},
		{"registry.example.com/prod/*", "registry.example.com/prod/team/app", false},
		{"registry.example.com/*/app", "registry.example.com/dev/app", true},
		{"docker.io/library/alpine", "docker.io/library/alpine", true},
		{"docker.io/library/alpine", "docker.io/library/alpine2", false},
		{"**", "anything/at/all:1", true},
		{"localhost:5000/**", "localhost:5000/x", true},
		{"openssl*", "openssl-libs", true},
		{"a.b", "aXb", false}, // dots are literal
	}
	for _, c := range cases {
		re, err := compilePattern(c.pat)
		if err != nil {
			t.Fatalf("%q: %v", c.pat, err)
		}
		if got := re.MatchString(c.s); got != c.want {
			t.Errorf("%q ~ %q = %v, want %v", c.pat, c.s, got, c.want)
		}
	}
}

func TestNewSubject(t *testing.T) {
	cases := []struct {
		ref  string
		want Subject
	}{
		{"alpine", Subject{Ref: "docker.io/library/alpine", Repository: "docker.io/library/alpine"}},
		{"alpine:3.19", Subject{Ref: "docker.io/library/alpine:3.19", Repository: "docker.io/library/alpine", Tag: "3.19"}},
		{"registry.example.com/prod/app:latest", Subject{Ref: "registry.example.com/prod/app:latest", Repository: "registry.example.com/prod/app", Tag: "latest"}},
		{"localhost:5000/app@sha256:" + strings.Repeat("a", 64), Subject{Ref: "localhost:5000/app@sha256:" + strings.Repeat("a", 64), Repository: "localhost:5000/app", Digest: "sha256:" + strings.Repeat("a", 64)}},
		{"/tmp/App.tar", Subject{Ref: "/tmp/App.tar", Repository: "/tmp/App.tar"}},
	}
	for _, c := range cases {
		if d := cmp.Diff(c.want, NewSubject(c.ref, "")); d != "" {
			t.Errorf("NewSubject(%q) (-want +got):\n%s", c.ref, d)
		}
	}
}

// TestPrecedence: the most specific matching pattern selects the rule,
// whatever the order; ties go to the earlier rule.
func TestPrecedence(t *testing.T) {
	pol, err := parse(t, `version: 1
rules:
  - name: everything
    match: ["**"]
  - name: prod
    match: ["registry.example.com/prod/**"]
  - name: prod-app
    match: ["registry.example.com/prod/app"]
  - name: prod-star
    match: ["registry.example.com/prod/*"]
  - name: tie-first
    match: ["registry.example.com/tie/*"]
  - name: tie-second
    match: ["registry.example.com/tie/*"]
`)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"registry.example.com/prod/app:1.0":      "prod-app",  // exact beats wildcards
		"registry.example.com/prod/web:1.0":      "prod-star", // more literal characters than prod/**
		"registry.example.com/prod/team/web:1.0": "prod",
		"docker.io/library/alpine:3.19":          "everything",
		"registry.example.com/tie/x:1":           "tie-first",
	}
	for ref, want := range cases {
		r, _ := pol.Select(NewSubject(ref, ""))
		if r == nil || r.Name != want {
			t.Errorf("%s: rule %v, want %s", ref, r, want)
		}
	}
}

// fakes

type fakeSigs struct {
	valid []string // key paths (base names) that signed
	found int
	err   error
	calls int
}

func (f *fakeSigs) VerifySignatures(_ context.Context, _ Subject, keys []Key, _ *Signatures) (*SignatureFacts, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	out := &SignatureFacts{Found: f.found}
	for _, k := range keys {
		for _, v := range f.valid {
			if filepath.Base(k.Path) == v {
				out.ValidKeys = append(out.ValidKeys, k.Path)
			}
		}
	}
	return out, nil
}

type fakeAtts struct{ facts []AttestationFact }

func (f fakeAtts) VerifyAttestations(_ context.Context, _ Subject, req Attestation, _ []Key) ([]AttestationFact, error) {
	var out []AttestationFact
	for _, a := range f.facts {
		if a.PredicateType == req.Type {
			out = append(out, a)
		}
	}
	return out, nil
}

type fakeVulns struct {
	facts *VulnFacts
	err   error
}

func (f fakeVulns) Vulnerabilities(context.Context, Subject) (*VulnFacts, error) {
	return f.facts, f.err
}

type fakeImage struct {
	facts *ImageFacts
	err   error
}

func (f fakeImage) Inspect(context.Context, Subject) (*ImageFacts, error) { return f.facts, f.err }

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func finding(id, pkg, sev, fixed string, fixedAt time.Time) match.Finding {
	st := vulndb.StatusFixed
	if fixed == "" {
		st = vulndb.StatusUnfixed
	}
	return match.Finding{
		Package:      inventory.Package{Name: pkg, Version: "1.0-r0", Ecosystem: inventory.Apk, SourceName: strings.TrimSuffix(pkg, "3")},
		Advisory:     vulndb.Advisory{ID: id, Severity: sev, FixedAt: fixedAt},
		Status:       st,
		FixedVersion: fixed,
	}
}

func TestEvaluate(t *testing.T) {
	pol, err := parse(t, `version: 1
default: deny
rules:
  - name: prod
    match: ["registry.example.com/prod/**"]
    signatures:
      keys: [keys/release.pub, keys/second.pub]
      threshold: 2
      annotations: {team: platform}
    attestations:
      - {type: cyclonedx, max_age_days: 7, keys: [keys/release.pub]}
    vulnerabilities:
      max_severity: MEDIUM
      ignore_unfixed: true
      grace_days: 14
      exceptions:
        - {id: CVE-2024-0001, package: "libfoo*", reason: "not reachable", expires: 2027-01-31}
        - {id: CVE-2020-0002, reason: "old", expires: 2025-01-01}
    image:
      forbid_root: true
      forbid_latest: true
      forbid_secrets: true
      allowed_bases: ["docker.io/library/alpine:3.*"]
      forbidden_packages: ["telnet*"]
      max_size_mb: 100
      max_packages: 3
  - name: dev
    match: ["registry.example.com/dev/**"]
    vulnerabilities: {max_severity: CRITICAL}
`)
	if err != nil {
		t.Fatal(err)
	}
	cleanImage := &ImageFacts{User: "app", Base: "docker.io/library/alpine:3.19", SizeBytes: 10 << 20,
		Packages: []inventory.Package{{Name: "musl"}, {Name: "busybox"}}}
	goodVulns := &VulnFacts{DBBuilt: now.Add(-time.Hour), Findings: []match.Finding{
		finding("CVE-2024-0001", "libfoo3", "CRITICAL", "1.1", time.Time{}),      // excepted
		finding("CVE-2024-0003", "libbar", "HIGH", "", time.Time{}),              // unfixed, ignored
		finding("CVE-2024-0004", "libbaz", "HIGH", "2.0", now.AddDate(0, 0, -3)), // fix 3 days old: grace
		finding("CVE-2024-0005", "libqux", "LOW", "2.0", now.AddDate(0, -6, 0)),  // below the limit
	}}
	goodFacts := func() Facts {
		return Facts{
			Signatures:      &fakeSigs{valid: []string{"release.pub", "second.pub"}, found: 2},
			Attestations:    fakeAtts{[]AttestationFact{{PredicateType: "https://cyclonedx.org/bom", Key: "release.pub", Time: now.AddDate(0, 0, -1)}}},
			Vulnerabilities: fakeVulns{facts: goodVulns},
			Image:           fakeImage{facts: cleanImage},
			Now:             now,
		}
	}
	prod := NewSubject("registry.example.com/prod/app:1.0", "sha256:"+strings.Repeat("1", 64))

	type result struct {
		Allow bool
		Rule  string
		Fails []string
	}
	summarize := func(d Decision) result {
		r := result{Allow: d.Allow, Rule: d.Rule}
		for _, x := range d.Reasons {
			if x.Result == Fail {
				r.Fails = append(r.Fails, x.Check+": "+x.Message)
			}
		}
		return r
	}
	cases := []struct {
		name  string
		subj  Subject
		facts func() Facts
		want  result
	}{
		{"all good", prod, goodFacts, result{Allow: true, Rule: "prod"}},
		{"no rule, default deny", NewSubject("docker.io/library/nginx:1", ""), goodFacts,
			result{Rule: "default", Fails: []string{"match: no rule matches docker.io/library/nginx:1 and the policy's default is deny"}}},
		{"one signature of two", prod, func() Facts {
			f := goodFacts()
			f.Signatures = &fakeSigs{valid: []string{"release.pub"}, found: 1}
			return f
		}, result{Rule: "prod", Fails: []string{"signatures: 1 of 2 required signatures with annotations team=platform: no valid signature by KEYS/second.pub"}}},
		{"unsigned", prod, func() Facts {
			f := goodFacts()
			f.Signatures = &fakeSigs{}
			return f
		}, result{Rule: "prod", Fails: []string{"signatures: the image is not signed (threshold 2 of KEYS/release.pub, KEYS/second.pub)"}}},
		{"signature store unreachable", prod, func() Facts {
			f := goodFacts()
			f.Signatures = &fakeSigs{err: errors.New("dial tcp 127.0.0.1:1: connection refused")}
			return f
		}, result{Rule: "prod", Fails: []string{"signatures: signatures could not be checked: dial tcp 127.0.0.1:1: connection refused"}}},
		{"no verifier", prod, func() Facts {
			f := goodFacts()
			f.Signatures = nil
			return f
		}, result{Rule: "prod", Fails: []string{"signatures: signatures are required but no signature verifier is available here"}}},
		{"old attestation", prod, func() Facts {
			f := goodFacts()
			f.Attestations = fakeAtts{[]AttestationFact{{PredicateType: "https://cyclonedx.org/bom", Key: "release.pub", Time: now.AddDate(0, 0, -30)}}}
			return f
		}, result{Rule: "prod", Fails: []string{"attestations: newest https://cyclonedx.org/bom attestation is from 2026-10-27T12:00:00Z, older than 7 days"}}},
		{"no attestation", prod, func() Facts {
			f := goodFacts()
			f.Attestations = fakeAtts{}
			return f
		}, result{Rule: "prod", Fails: []string{"attestations: no https://cyclonedx.org/bom attestation signed by KEYS/release.pub"}}},
		{"vulnerable", prod, func() Facts {
			f := goodFacts()
			v := *goodVulns
			v.Findings = append(append([]match.Finding(nil), v.Findings...),
				finding("CVE-2024-9143", "libcrypto3", "HIGH", "3.1.7-r1", now.AddDate(0, -2, 0)),
				finding("CVE-2020-0002", "libold", "CRITICAL", "9", time.Time{})) // its exception expired
			f.Vulnerabilities = fakeVulns{facts: &v}
			return f
		}, result{Rule: "prod", Fails: []string{"vulnerabilities: 2 finding(s) above max_severity MEDIUM"}}},
		{"no database", prod, func() Facts {
			f := goodFacts()
			f.Vulnerabilities = fakeVulns{err: fmt.Errorf("opening /x/db: %w", vulndb.ErrNoDB)}
			return f
		}, result{Rule: "prod", Fails: []string{"vulnerabilities: no vulnerability database (opening /x/db: " + vulndb.ErrNoDB.Error() + "): run `warden db update` or `warden db import`"}}},
		{"old database", prod, func() Facts {
			f := goodFacts()
			v := *goodVulns
			v.DBBuilt = now.AddDate(0, 0, -8)
			f.Vulnerabilities = fakeVulns{facts: &v}
			return f
		}, result{Rule: "prod", Fails: []string{"vulnerabilities.database: the vulnerability database (built 2026-11-18T12:00:00Z) is older than max_db_age_days 7"}}},
		{"latest tag", NewSubject("registry.example.com/prod/app:latest", ""), goodFacts,
			result{Rule: "prod", Fails: []string{"image.forbid_latest: registry.example.com/prod/app:latest uses the `latest` tag"}}},
		{"root, secret, base, packages, size", prod, func() Facts {
			f := goodFacts()
			f.Image = fakeImage{facts: &ImageFacts{User: "", Base: "docker.io/library/debian:12", SizeBytes: 300 << 20,
				Packages: []inventory.Package{{Name: "telnetd", Version: "1", Ecosystem: "dpkg"}, {Name: "a"}, {Name: "b"}, {Name: "c"}},
				Lint: []lint.Finding{lint.NewFinding(lint.RootUser, "no USER set: the container runs as root"),
					lint.NewFinding(lint.SecretFile, "private key (PEM) in /root/.ssh/id_rsa; deleted or overwritten in layer 1 but still readable in layer 0")}}}
			return f
		}, result{Rule: "prod", Fails: []string{
			"image.forbid_root: runs as root: no USER set: the container runs as root",
			"image.forbid_secrets: 1 secret(s) in the image",
			"image.allowed_bases: base image docker.io/library/debian:12 is not in allowed_bases",
			"image.forbidden_packages: 1 forbidden package(s) installed",
			"image.max_size_mb: 300.0 MB, limit 100 MB",
			"image.max_packages: 4 packages, limit 3",
		}}},
		{"unknown base", prod, func() Facts {
			f := goodFacts()
			im := *cleanImage
			im.Base = ""
			f.Image = fakeImage{facts: &im}
			return f
		}, result{Rule: "prod", Fails: []string{"image.allowed_bases: the base image is unknown (no org.opencontainers.image.base.name annotation or label), so it cannot be checked against allowed_bases"}}},
		{"inspection fails", prod, func() Facts {
			f := goodFacts()
			f.Image = fakeImage{err: errors.New("layer 2: unexpected EOF")}
			return f
		}, result{Rule: "prod", Fails: []string{"image: the image could not be inspected: layer 2: unexpected EOF"}}},
		{"dev: no signature needed, CRITICAL allowed", NewSubject("registry.example.com/dev/app:1", ""), func() Facts {
			f := goodFacts()
			f.Signatures = nil // not needed: never called
			return f
		}, result{Allow: true, Rule: "dev"}}, // CRITICAL is the limit: nothing is above it
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Evaluate(context.Background(), pol, c.subj, c.facts())
			got := summarize(d)
			keysDir := filepath.Dir(pol.Rules[0].Signatures.Keys[0].Path)
			for i := range got.Fails {
				got.Fails[i] = strings.ReplaceAll(got.Fails[i], keysDir, "KEYS")
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("(-want +got):\n%s\n%+v", d, d)
			}
			if d.Allow {
				for _, r := range d.Reasons {
					if r.Result == Fail {
						t.Errorf("allowed with a failing check %+v", r)
					}
				}
			}
		})
	}

	// The expired exception is reported.
	f := goodFacts()
	d := Evaluate(context.Background(), pol, prod, f)
	var warned bool
	for _, r := range d.Reasons {
		if r.Check == "vulnerabilities.exceptions" && r.Result == Warn && strings.Contains(strings.Join(r.Details, " "), "CVE-2020-0002 (line 18) expired on 2025-01-01") {
			warned = true
		}
	}
	if !warned {
		t.Errorf("expired exception not reported: %+v", d.Reasons)
	}
}

func TestDefaultAllowAndNil(t *testing.T) {
	pol, err := parse(t, "version: 1\ndefault: allow\nrules:\n  - {match: [\"registry.example.com/**\"], image: {forbid_latest: true}}\n")
	if err != nil {
		t.Fatal(err)
	}
	if d := Evaluate(context.Background(), pol, NewSubject("docker.io/library/alpine:3", ""), Facts{}); !d.Allow || d.Rule != "default" {
		t.Errorf("default allow: %+v", d)
	}
	if d := Evaluate(context.Background(), nil, NewSubject("x", ""), Facts{}); d.Allow {
		t.Error("nil policy allowed")
	}
	if d := Deny(NewSubject("x", ""), "policy", errors.New("policy.yaml:3: bad")); d.Allow || d.Reasons[0].Message != "policy.yaml:3: bad" {
		t.Errorf("Deny: %+v", d)
	}
	if d := Deny(NewSubject("x", ""), "policy", errors.New("p.yaml:1: a\np.yaml:2: b\np.yaml:3: c")); d.Allow ||
		d.Reasons[0].Message != "p.yaml:1: a (and 2 more problem(s))" || len(d.Reasons[0].Details) != 2 {
		t.Errorf("Deny with several problems: %+v", d)
	}
}

// FuzzParse: no input panics the parser; a policy that parses selects and
// evaluates without panicking and never allows without a rule or default.
func FuzzParse(f *testing.F) {
	f.Add([]byte(issueExample))
	f.Add([]byte("version: 1\ndefault: allow\nrules:\n  - match: [\"**\"]\n    image: {max_packages: 0}\n"))
	f.Add([]byte("version: 1\nrules:\n  - match: [\"a/*/b\"]\n    vulnerabilities:\n      exceptions:\n        - {id: CVE-1, package: \"x*\", reason: r, expires: 2026-01-01}\n"))
	f.Add([]byte("version: 1\nrules:\n  - match: &a [x]\n  - match: *a\n"))
	f.Add([]byte("{version: 1, rules: [{match: [\"***\"]}]}"))
	f.Add([]byte("version: 1\nrules:\n  - match: [\"**\"]\n    signatures:\n      keys: [{path: k.pub, not_before: 2025-01-01, not_after: \"2027-01-01T00:00:00Z\"}]\n      keyless:\n        - {issuer: https://i, subject_regexp: \"a.*\"}\n      tlog: required\n      trusted_root: root.json\n      revoked: [abc]\n"))
	dir := f.TempDir()
	writeKeys(f, dir)
	f.Fuzz(func(t *testing.T, data []byte) {
		pol, err := Parse("fuzz.yaml", data, dir)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		d := Evaluate(context.Background(), pol, NewSubject("registry.example.com/prod/app:1", ""), Facts{Now: now})
		if d.Allow && d.Rule == "default" && !pol.DefaultAllow {
			t.Fatal("allowed by default under default deny")
		}
	})
}

func TestUnknownSeverity(t *testing.T) {
	v := fakeVulns{facts: &VulnFacts{DBBuilt: now, Findings: []match.Finding{finding("CVE-2024-9143", "libcrypto3", "", "3.1.7-r1", time.Time{})}}}
	for _, c := range []struct {
		doc   string
		allow bool
	}{
		{"version: 1\nrules:\n  - match: [\"**\"]\n    vulnerabilities: {max_severity: HIGH}\n", false},                          // UNKNOWN counts as CRITICAL
		{"version: 1\nrules:\n  - match: [\"**\"]\n    vulnerabilities: {max_severity: HIGH, unknown_severity: MEDIUM}\n", true}, // declared harmless enough
		{"version: 1\nrules:\n  - match: [\"**\"]\n    vulnerabilities: {max_severity: CRITICAL}\n", true},
	} {
		pol, err := parse(t, c.doc)
		if err != nil {
			t.Fatal(err)
		}
		if d := Evaluate(context.Background(), pol, NewSubject("a/b:1", ""), Facts{Vulnerabilities: v, Now: now}); d.Allow != c.allow {
			t.Errorf("%s: allow %v, want %v: %+v", c.doc, d.Allow, c.allow, d.Reasons)
		}
	}
}

// TestVEX: a policy's OpenVEX document suppresses the finding it marks not_affected.
func TestVEX(t *testing.T) {
	dir := t.TempDir()
	vex := `{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/1", "author": "sec", "timestamp": "2026-11-01T00:00:00Z", "version": 1,
 "statements": [{"vulnerability": {"name": "CVE-2024-9143"}, "products": [{"@id": "pkg:apk/alpine/libcrypto3@3.1.7-r0"}],
   "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}]}`
	if err := os.WriteFile(filepath.Join(dir, "openssl.vex.json"), []byte(vex), 0o644); err != nil {
		t.Fatal(err)
	}
	f := finding("CVE-2024-9143", "libcrypto3", "HIGH", "3.1.7-r1", time.Time{})
	f.Package.Version = "3.1.7-r0"
	f.Package.PURL = "pkg:apk/alpine/libcrypto3@3.1.7-r0?arch=x86_64&distro=alpine-3.19.4"
	v := fakeVulns{facts: &VulnFacts{DBBuilt: now, Findings: []match.Finding{f}}}
	for _, c := range []struct {
		doc   string
		allow bool
	}{
		{"version: 1\nrules:\n  - match: [\"**\"]\n    vulnerabilities: {max_severity: MEDIUM}\n", false},
		{"version: 1\nrules:\n  - match: [\"**\"]\n    vulnerabilities: {max_severity: MEDIUM, vex: [openssl.vex.json]}\n", true},
	} {
		pol, err := Parse("policy.yaml", []byte(c.doc), dir)
		if err != nil {
			t.Fatal(err)
		}
		d := Evaluate(context.Background(), pol, NewSubject("a/b:1", ""), Facts{Vulnerabilities: v, Now: now})
		if d.Allow != c.allow {
			t.Errorf("%s: allow %v, want %v: %+v", c.doc, d.Allow, c.allow, d.Reasons)
		}
	}
	if v.facts.Findings[0].Suppressed != nil {
		t.Error("Evaluate modified the provider's findings")
	}
}
