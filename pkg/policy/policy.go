// Package policy is Warden's one policy document and the one engine that
// decides whether an image is acceptable. The CLI gate (`warden check`), the
// registry and an admission webhook all call Evaluate with the facts they can
// supply; nothing else decides.
//
// A policy is YAML (docs/policy.md, docs/policy.schema.json). Parsing is
// strict: an unknown field, a bad pattern, a key file that does not parse or
// a VEX document that does not load is an error naming the file and line, and
// callers turn any such error into a denial (Deny).
package policy

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wardensec/warden/pkg/ignore"
	"github.com/wardensec/warden/pkg/sign"
	"github.com/wardensec/warden/pkg/verify"
	"github.com/wardensec/warden/pkg/vulndb"
)

// Version is the only policy version understood.
const Version = 1

// DefaultMaxDBAgeDays is how old the vulnerability database may be when a
// rule does not say (vulnerabilities.max_db_age_days).
const DefaultMaxDBAgeDays = 7

// Policy is a parsed, validated policy document.
type Policy struct {
	File    string // where it was read from, for messages
	Version int
	Rules   []*Rule
	// DefaultAllow is true only with `default: allow`: an image no rule matches is then allowed.
	DefaultAllow bool
}

// Rule is one rule: the images it matches and what it requires of them.
type Rule struct {
	Name  string
	Line  int // line of the rule in the file
	Match []Pattern

	Signatures      *Signatures
	Attestations    []Attestation
	Vulnerabilities *Vulnerabilities
	Image           *ImageRules
}

// Pattern is one image reference pattern: `*` matches within a path segment,
// `**` across segments (and the tag or digest).
type Pattern struct {
	Text string
	Line int
	re   *regexp.Regexp
}

// Signatures requires signatures by trusted keys and keyless identities.
type Signatures struct {
	Keys        []Key
	Keyless     []Identity
	Threshold   int // distinct keys or identities that must have signed; default 1
	Annotations map[string]string
	// TrustedRoot holds the Fulcio CAs and Rekor/CT log keys (trusted_root: FILE); needed by
	// keyless identities and by tlog: required.
	TrustedRoot *verify.TrustedRoot
	Tlog        bool     // tlog: required — key signatures count only with a verified Rekor entry
	Revoked     []string // key IDs and certificate serials (hex) whose signatures never count
	// Notation trusts Notary Project signatures (notation: {trust_store, identities}); it counts
	// as one signer towards the threshold.
	Notation *verify.NotationTrust
	Line     int
}

// Key is a trusted public key read from a file named in the policy (or given on the command line).
type Key struct {
	Path   string // as resolved (relative to the policy file's directory)
	Line   int    // where the policy names it (0 for command-line keys)
	Public crypto.PublicKey
	ID     string // sign.KeyID
	// NotBefore and NotAfter bound when the key may have signed (zero: unbounded).
	NotBefore, NotAfter time.Time
}

// Identity is a trusted keyless signer (see verify.Identity, which holds its window too).
type Identity struct {
	verify.Identity
	Line int
}

// Attestation requires a signed attestation of a predicate type.
type Attestation struct {
	Type       string // predicate type: a URI or a short name (slsaprovenance, spdxjson, cyclonedx, vuln, ...)
	MaxAgeDays int    // 0: any age
	Keys       []Key
	// Keyless identities that may sign it, checked against TrustedRoot (keyless, trusted_root).
	Keyless     []Identity
	TrustedRoot *verify.TrustedRoot
	Line        int
}

// Vulnerabilities limits the vulnerabilities an image may have.
type Vulnerabilities struct {
	MaxSeverity   string // the highest severity allowed; findings above it deny. "" = no limit
	IgnoreUnfixed bool   // findings without a fixed version do not count
	GraceDays     int    // fixable findings whose fix is younger than this do not count yet
	Exceptions    []Exception
	VEX           []*ignore.VEX
	MaxDBAgeDays  int // the database must be at most this old (default 7)
	// UnknownSeverity is the severity a finding of UNKNOWN severity counts as
	// (default CRITICAL: what is not known to be harmless fails closed).
	UnknownSeverity string
	Line            int
}

// Exception exempts a vulnerability (optionally on one package) until it expires.
type Exception struct {
	ID      string
	Package string // "" or a pattern with `*`
	Reason  string
	Expires time.Time // zero: no expiry; else the exception stops applying after this day (UTC)
	Line    int
}

// Expired reports whether the exception no longer applies at now.
func (e *Exception) Expired(now time.Time) bool {
	return !e.Expires.IsZero() && now.After(e.Expires.Add(24*time.Hour-time.Nanosecond))
}

// ImageRules are hygiene requirements (from the best-practice checks).
type ImageRules struct {
	ForbidRoot        bool
	ForbidLatest      bool
	ForbidSecrets     bool
	AllowedBases      []Pattern
	ForbiddenPackages []Pattern
	MaxSizeMB         int64
	MaxPackages       int
	Line              int
}

// Error is a problem in a policy document, with its place.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// ErrInvalid is wrapped by every error Load and Parse return.
var ErrInvalid = errors.New("invalid policy")

// MaxSize bounds a policy document.
const MaxSize = 1 << 20

// Load reads and validates the policy file at path. Key files and VEX
// documents are read relative to the policy file's directory.
func Load(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: reading policy: %w", ErrInvalid, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading policy %s: %w", ErrInvalid, path, err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrInvalid, path, MaxSize)
	}
	return Parse(path, data, filepath.Dir(path))
}

// Parse validates a policy document. name is used in messages; the files it
// names (keys, VEX) are read relative to dir. All problems are reported, joined.
func Parse(name string, data []byte, dir string) (*Policy, error) {
	p := &parser{file: name, dir: dir}
	pol := p.parse(data)
	if len(p.errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, errors.Join(p.errs...))
	}
	return pol, nil
}

type parser struct {
	file string
	dir  string
	errs []error
}

func (p *parser) errf(line int, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// Str is a YAML scalar with its line.
type str struct {
	V    string
	Line int
}

func (s *str) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		// A TypeError lets the decoder go on and report every problem.
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: got a %s, want a string", n.Line, kindName(n.Kind))}}
	}
	s.V, s.Line = n.Value, n.Line
	return nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	default:
		return "scalar"
	}
}

type rawPolicy struct {
	Version *int      `yaml:"version"`
	Default *str      `yaml:"default"`
	Rules   []rawRule `yaml:"rules"`
}

type rawRule struct {
	Name            string              `yaml:"name"`
	Match           []str               `yaml:"match"`
	Signatures      *rawSignatures      `yaml:"signatures"`
	Attestations    rawAttestations     `yaml:"attestations"`
	Vulnerabilities *rawVulnerabilities `yaml:"vulnerabilities"`
	Image           *rawImage           `yaml:"image"`
}

type rawSignatures struct {
	Keys        []rawKey          `yaml:"keys"`
	Keyless     []rawIdentity     `yaml:"keyless"`
	Threshold   *int              `yaml:"threshold"`
	Annotations map[string]string `yaml:"annotations"`
	TrustedRoot *str              `yaml:"trusted_root"`
	Tlog        *str              `yaml:"tlog"`
	Revoked     []str             `yaml:"revoked"`
	Notation    *rawNotationAt    `yaml:"notation"`
}

type rawNotation struct {
	TrustStore  *str  `yaml:"trust_store"`
	Identities  []str `yaml:"identities"`
	TrustPolicy *str  `yaml:"trust_policy"`
	Level       *str  `yaml:"level"`
	Revocation  *str  `yaml:"revocation"`
}

// rawNotationAt is a notation: block and its line.
type rawNotationAt struct {
	rawNotation
	line int
}

func (r *rawNotationAt) UnmarshalYAML(n *yaml.Node) error {
	r.line = n.Line
	if n.Kind == yaml.MappingNode {
		// n.Decode does not refuse unknown fields: check them here.
		known := map[string]bool{"trust_store": true, "identities": true, "trust_policy": true, "level": true, "revocation": true}
		var errs []string
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; !known[k.Value] {
				errs = append(errs, fmt.Sprintf("line %d: field %s not found in type policy.rawNotation", k.Line, k.Value))
			}
		}
		if len(errs) > 0 {
			return &yaml.TypeError{Errors: errs}
		}
	}
	return n.Decode(&r.rawNotation)
}

// rawKey is a key file name, or a mapping {path, not_before, not_after}.
type rawKey struct {
	Path                str
	NotBefore, NotAfter str
}

func (k *rawKey) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		k.Path = str{V: n.Value, Line: n.Line}
		return nil
	}
	return mappingFields(n, map[string]*str{"path": &k.Path, "not_before": &k.NotBefore, "not_after": &k.NotAfter})
}

type rawIdentity struct {
	Issuer, IssuerRegexp, Subject, SubjectRegexp, NotBefore, NotAfter str
	Line                                                              int
}

func (r *rawIdentity) UnmarshalYAML(n *yaml.Node) error {
	r.Line = n.Line
	return mappingFields(n, map[string]*str{"issuer": &r.Issuer, "issuer_regexp": &r.IssuerRegexp, "subject": &r.Subject,
		"subject_regexp": &r.SubjectRegexp, "not_before": &r.NotBefore, "not_after": &r.NotAfter})
}

// mappingFields reads a mapping of scalars into fields, refusing unknown keys.
func mappingFields(n *yaml.Node, fields map[string]*str) error {
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: got a %s, want a mapping", n.Line, kindName(n.Kind))}}
	}
	var errs []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		f, ok := fields[k.Value]
		switch {
		case !ok:
			errs = append(errs, fmt.Sprintf("line %d: field %s not found", k.Line, k.Value))
		case v.Kind != yaml.ScalarNode:
			errs = append(errs, fmt.Sprintf("line %d: %s: got a %s, want a string", v.Line, k.Value, kindName(v.Kind)))
		default:
			*f = str{V: v.Value, Line: v.Line}
		}
	}
	if len(errs) > 0 {
		return &yaml.TypeError{Errors: errs}
	}
	return nil
}

// parseWhen reads a not_before/not_after value: RFC 3339 or a date (midnight UTC).
func parseWhen(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, s)
}

// rawAttestations accepts one attestation requirement (a mapping) or a list.
type rawAttestations []rawAttestation

// UnmarshalYAML uses the decoder's own unmarshal function, so unknown fields
// are still errors.
func (a *rawAttestations) UnmarshalYAML(unmarshal func(any) error) error {
	var list []rawAttestation
	err := unmarshal(&list)
	if err == nil {
		*a = list
		return nil
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) || len(te.Errors) != 1 || !strings.Contains(te.Errors[0], "cannot unmarshal !!map into []") {
		return err
	}
	var one rawAttestation
	if err := unmarshal(&one); err != nil {
		return err
	}
	*a = rawAttestations{one}
	return nil
}

type rawAttestation struct {
	Type        *str          `yaml:"type"`
	MaxAgeDays  *int          `yaml:"max_age_days"`
	Keys        []str         `yaml:"keys"`
	Keyless     []rawIdentity `yaml:"keyless"`
	TrustedRoot *str          `yaml:"trusted_root"`
}

type rawVulnerabilities struct {
	MaxSeverity   *str           `yaml:"max_severity"`
	IgnoreUnfixed bool           `yaml:"ignore_unfixed"`
	GraceDays     *int           `yaml:"grace_days"`
	Exceptions    []rawException `yaml:"exceptions"`
	VEX           []str          `yaml:"vex"`
	MaxDBAgeDays  *int           `yaml:"max_db_age_days"`
	UnknownSev    *str           `yaml:"unknown_severity"`
}

type rawException struct {
	ID      *str `yaml:"id"`
	Package *str `yaml:"package"`
	Reason  *str `yaml:"reason"`
	Expires *str `yaml:"expires"`
}

type rawImage struct {
	ForbidRoot        bool  `yaml:"forbid_root"`
	ForbidLatest      bool  `yaml:"forbid_latest"`
	ForbidSecrets     bool  `yaml:"forbid_secrets"`
	AllowedBases      []str `yaml:"allowed_bases"`
	ForbiddenPackages []str `yaml:"forbidden_packages"`
	MaxSizeMB         *int  `yaml:"max_size_mb"`
	MaxPackages       *int  `yaml:"max_packages"`
}

var unmarshalMsg = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `([^`]*)`)? into (.+)$")

// typeWords names the Go types of the raw document in words.
var typeWords = map[string]string{
	"[]policy.str": "a list of strings", "policy.str": "a string", "*policy.str": "a string",
	"[]policy.rawRule": "a list of rules", "[]policy.rawAttestation": "a list of attestations",
	"[]policy.rawException": "a list of exceptions", "policy.rawAttestations": "a list of attestations", "map[string]string": "a mapping of strings",
	"int": "an integer", "*int": "an integer", "bool": "true or false",
}

// plainMessage rewrites a decoder type error in words.
func plainMessage(msg string) string {
	m := unmarshalMsg.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	want, ok := typeWords[m[3]]
	if !ok {
		want = "a mapping"
	}
	got := map[string]string{"str": "a string", "seq": "a list", "map": "a mapping", "int": "an integer", "bool": "a boolean", "float": "a number", "null": "null"}[m[1]]
	if got == "" {
		got = m[1]
	}
	if m[2] != "" {
		got += fmt.Sprintf(" (%q)", m[2])
	}
	return fmt.Sprintf("got %s, want %s", got, want)
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

func (p *parser) parse(data []byte) *Policy {
	// Node pass: line numbers of rules and sub-objects, and emptiness.
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p.yamlErr(err)
		return nil
	}
	if len(doc.Content) == 0 {
		p.errf(0, "empty policy document")
		return nil
	}
	if doc.Content[0].Kind != yaml.MappingNode {
		p.errf(doc.Content[0].Line, "a policy is a mapping with version, rules and default")
		return nil
	}
	lines := ruleLines(doc.Content[0])

	// Strict typed pass: unknown fields and wrong types, each with its line.
	var raw rawPolicy
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		p.yamlErr(err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		p.errf(extra.Line, "more than one YAML document: a policy is one document")
	}

	pol := &Policy{File: p.file}
	switch {
	case raw.Version == nil:
		p.errf(1, "missing version (want `version: %d`)", Version)
	case *raw.Version != Version:
		p.errf(1, "unsupported version %d (want %d)", *raw.Version, Version)
	default:
		pol.Version = *raw.Version
	}
	if raw.Default != nil {
		switch raw.Default.V {
		case "allow":
			pol.DefaultAllow = true
		case "deny":
		default:
			p.errf(raw.Default.Line, "default: %q: want allow or deny", raw.Default.V)
		}
	}
	names := map[string]int{}
	for i, rr := range raw.Rules {
		line := 0
		if i < len(lines) {
			line = lines[i]
		}
		r := p.rule(i, line, &rr)
		if r.Name != "" {
			if prev, dup := names[r.Name]; dup {
				p.errf(line, "rule name %q is also used on line %d", r.Name, prev)
			}
			names[r.Name] = line
		}
		pol.Rules = append(pol.Rules, r)
	}
	return pol
}

func (p *parser) yamlErr(err error) {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, e := range te.Errors {
			p.yamlMsg(e)
		}
		return
	}
	p.yamlMsg(err.Error())
}

func (p *parser) yamlMsg(s string) {
	if m := yamlLine.FindStringSubmatch(s); m != nil {
		var n int
		fmt.Sscanf(m[1], "%d", &n)
		msg := m[2]
		if f, ok := strings.CutPrefix(msg, "field "); ok {
			if name, _, ok := strings.Cut(f, " not found in type"); ok {
				msg = fmt.Sprintf("unknown field %q", name)
			}
		}
		msg = plainMessage(msg)
		p.errf(n, "%s", msg)
		return
	}
	p.errf(0, "%s", strings.TrimPrefix(s, "yaml: "))
}

// ruleLines returns the line of each item of the top-level rules list.
func ruleLines(m *yaml.Node) []int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "rules" && m.Content[i+1].Kind == yaml.SequenceNode {
			var out []int
			for _, it := range m.Content[i+1].Content {
				out = append(out, it.Line)
			}
			return out
		}
	}
	return nil
}

func (p *parser) rule(i, line int, rr *rawRule) *Rule {
	r := &Rule{Name: rr.Name, Line: line}
	if r.Name == "" {
		r.Name = fmt.Sprintf("rules[%d]", i)
	}
	if len(rr.Match) == 0 {
		p.errf(line, "rule %s: match: at least one image pattern is required", r.Name)
	}
	for _, m := range rr.Match {
		if pt, ok := p.pattern(m, "match"); ok {
			r.Match = append(r.Match, pt)
		}
	}
	if s := rr.Signatures; s != nil {
		sig := &Signatures{Annotations: s.Annotations, Threshold: 1, Line: line}
		sig.Keys = p.windowedKeys(r.Name, s.Keys)
		sig.Keyless = p.identities(r.Name, s.Keyless)
		if s.Threshold != nil {
			sig.Threshold = *s.Threshold
			n := len(s.Keys) + len(s.Keyless)
			if s.Notation != nil {
				n++
			}
			if sig.Threshold < 1 {
				p.errf(line, "rule %s: signatures.threshold %d: must be at least 1", r.Name, sig.Threshold)
			} else if n > 0 && sig.Threshold > n {
				p.errf(line, "rule %s: signatures.threshold %d is more than the %d keys and keyless identities listed", r.Name, sig.Threshold, n)
			}
		}
		if s.TrustedRoot != nil {
			tr, err := verify.LoadTrustedRoot(p.resolve(s.TrustedRoot.V))
			if err != nil {
				p.errf(s.TrustedRoot.Line, "rule %s: signatures.trusted_root: %v", r.Name, err)
			}
			sig.TrustedRoot = tr
		}
		if s.Tlog != nil {
			switch s.Tlog.V {
			case "required":
				sig.Tlog = true
			case "optional":
			default:
				p.errf(s.Tlog.Line, "rule %s: signatures.tlog %q: want required or optional", r.Name, s.Tlog.V)
			}
		}
		if s.Notation != nil {
			sig.Notation = p.notation(r.Name, s.Notation)
		}
		for _, rv := range s.Revoked {
			sig.Revoked = append(sig.Revoked, strings.TrimSpace(rv.V))
		}
		if (len(s.Keyless) > 0 || sig.Tlog) && s.TrustedRoot == nil {
			p.errf(line, "rule %s: signatures: keyless identities and tlog: required need trusted_root (a Sigstore trusted_root.json)", r.Name)
		}
		r.Signatures = sig
	}
	for _, a := range rr.Attestations {
		at := Attestation{Line: line}
		if a.Type == nil || strings.TrimSpace(a.Type.V) == "" {
			p.errf(line, "rule %s: attestations: type is required", r.Name)
		} else {
			at.Line = a.Type.Line
			t, err := sign.PredicateTypeURI(a.Type.V)
			if err != nil {
				p.errf(a.Type.Line, "rule %s: attestations.type %q: %v", r.Name, a.Type.V, err)
			}
			at.Type = t
		}
		if a.MaxAgeDays != nil {
			if *a.MaxAgeDays < 0 {
				p.errf(at.Line, "rule %s: attestations.max_age_days must not be negative", r.Name)
			}
			at.MaxAgeDays = *a.MaxAgeDays
		}
		at.Keys = p.keys(a.Keys)
		at.Keyless = p.identities(r.Name, a.Keyless)
		if a.TrustedRoot != nil {
			tr, err := verify.LoadTrustedRoot(p.resolve(a.TrustedRoot.V))
			if err != nil {
				p.errf(a.TrustedRoot.Line, "rule %s: attestations.trusted_root: %v", r.Name, err)
			}
			at.TrustedRoot = tr
		} else if len(a.Keyless) > 0 {
			p.errf(at.Line, "rule %s: attestations: keyless identities need trusted_root (a Sigstore trusted_root.json)", r.Name)
		}
		r.Attestations = append(r.Attestations, at)
	}
	if v := rr.Vulnerabilities; v != nil {
		vr := &Vulnerabilities{IgnoreUnfixed: v.IgnoreUnfixed, MaxDBAgeDays: DefaultMaxDBAgeDays, UnknownSeverity: "CRITICAL", Line: line}
		if v.UnknownSev != nil {
			s := strings.ToUpper(v.UnknownSev.V)
			if severityRank(s) < 0 {
				p.errf(v.UnknownSev.Line, "rule %s: unknown_severity %q: want one of %s", r.Name, v.UnknownSev.V, strings.Join(vulndb.Severities, ", "))
			}
			vr.UnknownSeverity = s
		}
		if v.MaxSeverity != nil {
			s := strings.ToUpper(v.MaxSeverity.V)
			if severityRank(s) < 0 {
				p.errf(v.MaxSeverity.Line, "rule %s: max_severity %q: want one of %s", r.Name, v.MaxSeverity.V, strings.Join(vulndb.Severities, ", "))
			}
			vr.MaxSeverity = s
		}
		if v.GraceDays != nil {
			if *v.GraceDays < 0 {
				p.errf(line, "rule %s: grace_days must not be negative", r.Name)
			}
			vr.GraceDays = *v.GraceDays
		}
		if v.MaxDBAgeDays != nil {
			if *v.MaxDBAgeDays < 1 {
				p.errf(line, "rule %s: max_db_age_days must be at least 1", r.Name)
			}
			vr.MaxDBAgeDays = *v.MaxDBAgeDays
		}
		for _, e := range v.Exceptions {
			vr.Exceptions = append(vr.Exceptions, p.exception(r.Name, line, e))
		}
		for _, f := range v.VEX {
			doc, err := ignore.LoadVEX(p.resolve(f.V))
			if err != nil {
				p.errf(f.Line, "rule %s: vex %q: %v", r.Name, f.V, err)
				continue
			}
			vr.VEX = append(vr.VEX, doc)
		}
		r.Vulnerabilities = vr
	}
	if im := rr.Image; im != nil {
		ir := &ImageRules{ForbidRoot: im.ForbidRoot, ForbidLatest: im.ForbidLatest, ForbidSecrets: im.ForbidSecrets, Line: line}
		for _, b := range im.AllowedBases {
			if pt, ok := p.pattern(b, "allowed_bases"); ok {
				ir.AllowedBases = append(ir.AllowedBases, pt)
			}
		}
		for _, b := range im.ForbiddenPackages {
			if pt, ok := p.pattern(b, "forbidden_packages"); ok {
				ir.ForbiddenPackages = append(ir.ForbiddenPackages, pt)
			}
		}
		if im.MaxSizeMB != nil {
			if *im.MaxSizeMB < 1 {
				p.errf(line, "rule %s: max_size_mb must be at least 1", r.Name)
			}
			ir.MaxSizeMB = int64(*im.MaxSizeMB)
		}
		if im.MaxPackages != nil {
			if *im.MaxPackages < 0 {
				p.errf(line, "rule %s: max_packages must not be negative", r.Name)
			}
			ir.MaxPackages = *im.MaxPackages
			if *im.MaxPackages == 0 {
				ir.MaxPackages = -1 // explicitly zero packages allowed
			}
		}
		r.Image = ir
	}
	return r
}

func (p *parser) exception(rule string, line int, e rawException) Exception {
	ex := Exception{Line: line}
	if e.ID == nil || strings.TrimSpace(e.ID.V) == "" {
		p.errf(line, "rule %s: exceptions: id is required", rule)
	} else {
		ex.ID, ex.Line = e.ID.V, e.ID.Line
	}
	if e.Reason == nil || strings.TrimSpace(e.Reason.V) == "" {
		p.errf(ex.Line, "rule %s: exception %s: reason is required", rule, ex.ID)
	} else {
		ex.Reason = e.Reason.V
	}
	if e.Package != nil {
		if _, err := compilePattern(e.Package.V); err != nil {
			p.errf(e.Package.Line, "rule %s: exception %s: package %q: %v", rule, ex.ID, e.Package.V, err)
		}
		ex.Package = e.Package.V
	}
	if e.Expires != nil {
		t, err := time.Parse("2006-01-02", e.Expires.V)
		if err != nil {
			p.errf(e.Expires.Line, "rule %s: exception %s: expires %q: want a date YYYY-MM-DD", rule, ex.ID, e.Expires.V)
		}
		ex.Expires = t
	}
	return ex
}

func (p *parser) resolve(name string) string {
	if filepath.IsAbs(name) || p.dir == "" {
		return name
	}
	return filepath.Join(p.dir, name)
}

// windowedKeys reads the keys of a signatures block with their windows.
func (p *parser) windowedKeys(rule string, list []rawKey) []Key {
	var out []Key
	for _, rk := range list {
		if rk.Path.V == "" {
			p.errf(rk.Path.Line, "rule %s: signatures.keys: path is required", rule)
			continue
		}
		ks := p.keys([]str{rk.Path})
		if len(ks) == 0 {
			continue
		}
		k := ks[0]
		k.NotBefore, k.NotAfter = p.window(rule, "key "+rk.Path.V, rk.NotBefore, rk.NotAfter)
		out = append(out, k)
	}
	return out
}

func (p *parser) window(rule, what string, nb, na str) (time.Time, time.Time) {
	var from, to time.Time
	var err error
	if nb.V != "" {
		if from, err = parseWhen(nb.V); err != nil {
			p.errf(nb.Line, "rule %s: %s: not_before %q: want RFC 3339 or YYYY-MM-DD", rule, what, nb.V)
		}
	}
	if na.V != "" {
		if to, err = parseWhen(na.V); err != nil {
			p.errf(na.Line, "rule %s: %s: not_after %q: want RFC 3339 or YYYY-MM-DD", rule, what, na.V)
		}
	}
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		p.errf(na.Line, "rule %s: %s: not_after %s is not after not_before %s", rule, what, na.V, nb.V)
	}
	return from, to
}

// notation loads a notation: block (trust store, identities or trust policy).
func (p *parser) notation(rule string, rn *rawNotationAt) *verify.NotationTrust {
	line := rn.line
	if rn.TrustStore == nil || rn.TrustStore.V == "" {
		p.errf(line, "rule %s: signatures.notation: trust_store (a directory of CA certificates, or notation's truststore directory) is required", rule)
		return nil
	}
	cfg := verify.NotationConfig{TrustStore: p.resolve(rn.TrustStore.V)}
	for _, id := range rn.Identities {
		cfg.Identities = append(cfg.Identities, id.V)
	}
	if rn.TrustPolicy != nil {
		cfg.TrustPolicy = p.resolve(rn.TrustPolicy.V)
		if len(rn.Identities) > 0 {
			p.errf(line, "rule %s: signatures.notation: give identities or trust_policy, not both", rule)
			return nil
		}
	} else if len(rn.Identities) == 0 {
		p.errf(line, "rule %s: signatures.notation: identities is required (notation trusted identities: \"x509.subject: CN=..., O=...\", or \"*\")", rule)
		return nil
	}
	if rn.Level != nil {
		cfg.Level = rn.Level.V
	}
	if rn.Revocation != nil {
		cfg.Revocation = rn.Revocation.V
	}
	nt, err := verify.LoadNotationTrust(cfg)
	if err != nil {
		p.errf(line, "rule %s: signatures.notation: %v", rule, err)
		return nil
	}
	return nt
}

func (p *parser) identities(rule string, list []rawIdentity) []Identity {
	var out []Identity
	for _, ri := range list {
		id := Identity{Identity: verify.Identity{Issuer: ri.Issuer.V, IssuerRegexp: ri.IssuerRegexp.V, Subject: ri.Subject.V, SubjectRegexp: ri.SubjectRegexp.V}, Line: ri.Line}
		if err := id.Identity.Check(); err != nil {
			p.errf(ri.Line, "rule %s: signatures.keyless: %v", rule, err)
			continue
		}
		id.Identity.NotBefore, id.Identity.NotAfter = p.window(rule, "keyless identity "+id.Identity.String(), ri.NotBefore, ri.NotAfter)
		out = append(out, id)
	}
	return out
}

func (p *parser) keys(list []str) []Key {
	var out []Key
	for _, k := range list {
		path := p.resolve(k.V)
		data, err := os.ReadFile(path)
		if err != nil {
			p.errf(k.Line, "key %q: %v", k.V, err)
			continue
		}
		pub, err := sign.ParsePublicKey(data)
		if err != nil {
			p.errf(k.Line, "key %q (%s): does not parse: %v", k.V, path, err)
			continue
		}
		out = append(out, Key{Path: path, Line: k.Line, Public: pub, ID: sign.KeyID(pub)})
	}
	return out
}

func (p *parser) pattern(s str, field string) (Pattern, bool) {
	re, err := compilePattern(s.V)
	if err != nil {
		p.errf(s.Line, "%s pattern %q: %v", field, s.V, err)
		return Pattern{}, false
	}
	return Pattern{Text: s.V, Line: s.Line, re: re}, true
}

// patternChars are the characters a pattern may hold: those of image
// references (registry host, port, path, tag, digest) and package names, plus `*`.
var patternChars = regexp.MustCompile(`^[A-Za-z0-9._\-/:@+~*]+$`)

// compilePattern turns a pattern into an anchored regexp: `**` matches any
// characters, `*` any characters but `/`.
func compilePattern(s string) (*regexp.Regexp, error) {
	switch {
	case s == "":
		return nil, errors.New("empty pattern")
	case !patternChars.MatchString(s):
		return nil, errors.New("only letters, digits, `._-/:@+~` and `*`/`**` wildcards are allowed")
	case strings.Contains(s, "***"):
		return nil, errors.New("`***` is not a wildcard: use `*` (one path segment) or `**` (any depth)")
	case strings.Contains(s, "//"):
		return nil, errors.New("empty path segment `//`")
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "**"):
			b.WriteString(".*")
			i += 2
		case s[i] == '*':
			b.WriteString("[^/]*")
			i++
		default:
			j := strings.IndexByte(s[i:], '*')
			if j < 0 {
				j = len(s) - i
			}
			b.WriteString(regexp.QuoteMeta(s[i : i+j]))
			i += j
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// Match reports whether the pattern matches s.
func (pt Pattern) Match(s string) bool { return pt.re != nil && pt.re.MatchString(s) }

// specificity orders patterns: an exact pattern beats any wildcard one; then
// more literal characters; then fewer wildcards.
func (pt Pattern) specificity() (exact bool, literal, wild int) {
	wild = strings.Count(pt.Text, "*")
	literal = len(pt.Text) - wild
	return wild == 0, literal, wild
}

func severityRank(s string) int {
	for i, v := range vulndb.Severities {
		if v == s {
			return len(vulndb.Severities) - i
		}
	}
	return -1
}
