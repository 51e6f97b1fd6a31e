package policy

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/wardensec/warden/pkg/ignore"
	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/lint"
	"github.com/wardensec/warden/pkg/match"
	"github.com/wardensec/warden/pkg/vulndb"
)

// Subject is the image being judged.
type Subject struct {
	// Ref is the normalised reference ("registry.example.com/prod/app:1.0",
	// "docker.io/library/alpine:3.19"); Repository is it without tag or digest.
	Ref        string `json:"ref"`
	Repository string `json:"repository"`
	Tag        string `json:"tag,omitempty"`
	Digest     string `json:"digest,omitempty"` // manifest digest, when known
}

// NewSubject normalises a reference the way patterns see it: Docker Hub
// images as docker.io/library/NAME, no implicit `latest` tag. A string that is
// not a reference (an archive path) is kept as is.
func NewSubject(ref, digest string) Subject {
	s := Subject{Ref: ref, Repository: ref, Digest: digest}
	r, err := name.ParseReference(ref, name.WithDefaultTag(""))
	if err != nil {
		return s
	}
	repo := r.Context().Name()
	if rest, ok := strings.CutPrefix(repo, name.DefaultRegistry+"/"); ok {
		repo = "docker.io/" + rest
	}
	s.Repository = repo
	s.Ref = repo
	switch t := r.(type) {
	case name.Tag:
		s.Tag = t.TagStr()
		if s.Tag != "" {
			s.Ref = repo + ":" + s.Tag
		}
	case name.Digest:
		s.Ref = repo + "@" + t.DigestStr()
		if s.Digest == "" {
			s.Digest = t.DigestStr()
		}
	}
	return s
}

// Facts are what Evaluate needs to know about an image, through small
// interfaces the CLI and the registry both implement. Only the providers a
// matched rule needs are called; a needed provider that is nil, or that fails,
// denies (fail closed).
type Facts struct {
	Signatures      SignatureVerifier
	Attestations    AttestationVerifier
	Vulnerabilities VulnerabilitySource
	Image           ImageInspector
	// Keys are extra trusted keys (`warden check --key`), used by signature and
	// attestation requirements that list no keys of their own.
	Keys []Key
	// Now is the evaluation time (exception expiry, ages); zero means time.Now().
	Now time.Time
}

// SignatureVerifier checks an image's signatures against keys.
type SignatureVerifier interface {
	// VerifySignatures returns which of keys and of req's keyless identities
	// made a valid signature carrying req's annotations (and meeting its
	// transparency-log and revocation rules). An error means the signatures could not be checked
	// (unreachable registry or signature store) — not that there were none.
	VerifySignatures(ctx context.Context, s Subject, keys []Key, req *Signatures) (*SignatureFacts, error)
}

// SignatureFacts is the outcome of a signature check.
type SignatureFacts struct {
	ValidKeys []string // Key.Path of the keys, and the names (verify.Identity.String) of the keyless identities, with a valid signature
	Found     int      // signatures found in all
	Invalid   []string // why the others did not count
}

// AttestationVerifier checks an image's attestations of one predicate type.
type AttestationVerifier interface {
	// req gives the predicate type and the keyless identities (with their trusted root).
	VerifyAttestations(ctx context.Context, s Subject, req Attestation, keys []Key) ([]AttestationFact, error)
}

// AttestationFact is one verified attestation.
type AttestationFact struct {
	PredicateType string
	Key           string    // Key.Path of the key that signed it
	Time          time.Time // when the predicate says it was made; zero when it does not say
}

// VulnerabilitySource scans the image against the vulnerability database.
type VulnerabilitySource interface {
	// Vulnerabilities returns the findings and when the database was built. A
	// missing database is an error (it wraps vulndb.ErrNoDB).
	Vulnerabilities(ctx context.Context, s Subject) (*VulnFacts, error)
}

// VulnFacts are the vulnerability findings of an image.
type VulnFacts struct {
	DBBuilt  time.Time
	Findings []match.Finding
}

// ImageInspector reads an image's config, files and packages.
type ImageInspector interface {
	Inspect(ctx context.Context, s Subject) (*ImageFacts, error)
}

// ImageFacts are the hygiene facts of an image.
type ImageFacts struct {
	User      string              // config User
	Lint      []lint.Finding      // the best-practice findings (pkg/lint)
	Packages  []inventory.Package // installed packages
	SizeBytes int64               // uncompressed size
	Base      string              // base image reference (org.opencontainers.image.base.name), "" when unknown
	Tags      []string            // other names the image has
}

// Results of one check.
const (
	Pass = "pass"
	Fail = "fail"
	Warn = "warn" // does not deny: an expired exception, a skipped fact
)

// Reason is the verdict of one check, with what made it.
type Reason struct {
	Check   string   `json:"check"` // "match", "signatures", "attestations", "vulnerabilities", "image.forbid_root", "policy", ...
	Result  string   `json:"result"`
	Message string   `json:"message"`
	Details []string `json:"details,omitempty"`
}

// Decision is the outcome of Evaluate.
type Decision struct {
	Allow   bool     `json:"allow"`
	Rule    string   `json:"rule"` // the rule that applied; "default" when none matched; "" when the policy is unusable
	Subject Subject  `json:"subject"`
	Reasons []Reason `json:"reasons"`
}

// Failures are the failed reasons as one line each ("check: message; detail;
// ..."; at most three details), the form every enforcement point shows: the
// registry's DENIED message, the admission webhook's status and the Docker
// plugin's Msg.
func (d Decision) Failures() []string {
	var out []string
	for _, r := range d.Reasons {
		if r.Result != Fail {
			continue
		}
		msg := r.Check + ": " + r.Message
		for i, x := range r.Details {
			if i == 3 {
				msg += fmt.Sprintf("; and %d more", len(r.Details)-3)
				break
			}
			msg += "; " + x
		}
		out = append(out, msg)
	}
	return out
}

// Warnings are the reasons that warn, one line each ("check: message").
func (d Decision) Warnings() []string {
	var out []string
	for _, r := range d.Reasons {
		if r.Result == Warn {
			out = append(out, r.Check+": "+r.Message)
		}
	}
	return out
}

// Deny is the decision for a policy or fact that could not be had at all: it
// fails closed with err as the reason.
// Each line of the error (a policy with several problems) becomes a detail.
func Deny(s Subject, check string, err error) Decision {
	lines := strings.Split(err.Error(), "\n")
	r := Reason{Check: check, Result: Fail, Message: lines[0]}
	if len(lines) > 1 {
		r.Message = lines[0] + fmt.Sprintf(" (and %d more problem(s))", len(lines)-1)
		r.Details = lines[1:]
	}
	return Decision{Allow: false, Subject: s, Reasons: []Reason{r}}
}

// Select returns the rule that applies to s: the most specific matching
// pattern wins (an exact pattern beats any wildcard; then the pattern with
// more literal characters; then fewer wildcards); on a tie, the earlier rule.
// It returns nil when no rule matches.
func (p *Policy) Select(s Subject) (*Rule, *Pattern) {
	var best *Rule
	var bestPat *Pattern
	for _, r := range p.Rules {
		for i := range r.Match {
			pt := &r.Match[i]
			if !matchesSubject(*pt, s) {
				continue
			}
			if bestPat == nil || moreSpecific(*pt, *bestPat) {
				best, bestPat = r, pt
			}
		}
	}
	return best, bestPat
}

func matchesSubject(pt Pattern, s Subject) bool {
	return pt.Match(s.Repository) || pt.Match(s.Ref) ||
		(s.Digest != "" && pt.Match(s.Repository+"@"+s.Digest))
}

func moreSpecific(a, b Pattern) bool {
	ae, al, aw := a.specificity()
	be, bl, bw := b.specificity()
	if ae != be {
		return ae
	}
	if al != bl {
		return al > bl
	}
	return aw < bw
}

// Evaluate decides whether the policy allows the subject. Every check of the
// applicable rule is evaluated and reported (passes too); the image is
// allowed only when none fails. Anything that cannot be established denies.
func Evaluate(ctx context.Context, pol *Policy, s Subject, facts Facts) Decision {
	if pol == nil {
		return Deny(s, "policy", errors.New("no policy"))
	}
	now := facts.Now
	if now.IsZero() {
		now = time.Now()
	}
	d := Decision{Subject: s}
	r, pt := pol.Select(s)
	if r == nil {
		d.Rule = "default"
		if pol.DefaultAllow {
			d.Allow = true
			d.Reasons = []Reason{{Check: "match", Result: Pass, Message: fmt.Sprintf("no rule matches %s; the policy's default is allow", s.Ref)}}
		} else {
			d.Reasons = []Reason{{Check: "match", Result: Fail, Message: fmt.Sprintf("no rule matches %s and the policy's default is deny", s.Ref)}}
		}
		return d
	}
	d.Rule = r.Name
	d.Reasons = append(d.Reasons, Reason{Check: "match", Result: Pass,
		Message: fmt.Sprintf("rule %s (%s:%d) applies: pattern %q", r.Name, pol.File, pt.Line, pt.Text)})

	if r.Signatures != nil {
		d.Reasons = append(d.Reasons, checkSignatures(ctx, r.Signatures, s, facts))
	}
	for _, a := range r.Attestations {
		d.Reasons = append(d.Reasons, checkAttestation(ctx, a, s, facts, now))
	}
	if r.Vulnerabilities != nil {
		d.Reasons = append(d.Reasons, checkVulnerabilities(ctx, r.Vulnerabilities, s, facts, now)...)
	}
	if r.Image != nil {
		d.Reasons = append(d.Reasons, checkImage(ctx, r.Image, s, facts)...)
	}
	d.Allow = true
	for _, x := range d.Reasons {
		if x.Result == Fail {
			d.Allow = false
		}
	}
	return d
}

func keyNames(keys []Key) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.Path
	}
	return out
}

func checkSignatures(ctx context.Context, req *Signatures, s Subject, facts Facts) Reason {
	r := Reason{Check: "signatures"}
	keys := req.Keys
	if len(keys) == 0 {
		keys = facts.Keys
	}
	switch {
	case len(keys) == 0 && len(req.Keyless) == 0 && req.Notation == nil:
		r.Result, r.Message = Fail, "signatures are required but no trusted key is configured (list keys, keyless identities or a notation trust store in the policy or pass --key)"
		return r
	case facts.Signatures == nil:
		r.Result, r.Message = Fail, "signatures are required but no signature verifier is available here"
		return r
	}
	threshold := req.Threshold
	if threshold < 1 {
		threshold = 1
	}
	sf, err := facts.Signatures.VerifySignatures(ctx, s, keys, req)
	if err != nil {
		r.Result, r.Message = Fail, fmt.Sprintf("signatures could not be checked: %v", err)
		return r
	}
	valid := map[string]bool{}
	for _, k := range sf.ValidKeys {
		valid[k] = true
	}
	names := keyNames(keys)
	for _, id := range req.Keyless {
		names = append(names, id.Identity.String())
	}
	if req.Notation != nil {
		names = append(names, req.Notation.String())
	}
	var missing []string
	for _, k := range names {
		if !valid[k] {
			missing = append(missing, k)
		}
	}
	n := len(names) - len(missing)
	r.Details = append(r.Details, sf.Invalid...)
	ann := ""
	if len(req.Annotations) > 0 {
		var kv []string
		for k, v := range req.Annotations {
			kv = append(kv, k+"="+v)
		}
		sort.Strings(kv)
		ann = " with annotations " + strings.Join(kv, ", ")
	}
	if n >= threshold {
		r.Result = Pass
		what := "trusted keys"
		switch {
		case len(req.Keyless) > 0:
			what = "trusted keys and keyless identities"
		case req.Notation != nil:
			what = "trusted keys and notation trust stores"
		}
		r.Message = fmt.Sprintf("signed by %d of %d %s%s (threshold %d): %s", n, len(names), what, ann, threshold, strings.Join(sf.ValidKeys, ", "))
		return r
	}
	r.Result = Fail
	if sf.Found == 0 {
		r.Message = fmt.Sprintf("the image is not signed (threshold %d of %s)", threshold, strings.Join(names, ", "))
	} else {
		r.Message = fmt.Sprintf("%d of %d required signatures%s: no valid signature by %s", n, threshold, ann, strings.Join(missing, ", "))
	}
	return r
}

func checkAttestation(ctx context.Context, req Attestation, s Subject, facts Facts, now time.Time) Reason {
	r := Reason{Check: "attestations"}
	keys := req.Keys
	if len(keys) == 0 {
		keys = facts.Keys
	}
	switch {
	case len(keys) == 0 && len(req.Keyless) == 0:
		r.Result, r.Message = Fail, fmt.Sprintf("a %s attestation is required but no trusted key is configured", req.Type)
		return r
	case facts.Attestations == nil:
		r.Result, r.Message = Fail, fmt.Sprintf("a %s attestation is required but no attestation verifier is available here", req.Type)
		return r
	}
	atts, err := facts.Attestations.VerifyAttestations(ctx, s, req, keys)
	if err != nil {
		r.Result, r.Message = Fail, fmt.Sprintf("%s attestations could not be checked: %v", req.Type, err)
		return r
	}
	if len(atts) == 0 {
		names := keyNames(keys)
		for _, id := range req.Keyless {
			names = append(names, id.Identity.String())
		}
		r.Result, r.Message = Fail, fmt.Sprintf("no %s attestation signed by %s", req.Type, strings.Join(names, ", "))
		return r
	}
	if req.MaxAgeDays == 0 {
		r.Result, r.Message = Pass, fmt.Sprintf("%s attestation signed by %s", req.Type, atts[0].Key)
		return r
	}
	limit := time.Duration(req.MaxAgeDays) * 24 * time.Hour
	var newest time.Time
	for _, a := range atts {
		if a.Time.After(newest) {
			newest = a.Time
		}
	}
	switch {
	case newest.IsZero():
		r.Result, r.Message = Fail, fmt.Sprintf("%s attestation has no timestamp, so max_age_days %d cannot be checked", req.Type, req.MaxAgeDays)
	case now.Sub(newest) > limit:
		r.Result, r.Message = Fail, fmt.Sprintf("newest %s attestation is from %s, older than %d days", req.Type, newest.UTC().Format(time.RFC3339), req.MaxAgeDays)
	default:
		r.Result, r.Message = Pass, fmt.Sprintf("%s attestation from %s (at most %d days old)", req.Type, newest.UTC().Format(time.RFC3339), req.MaxAgeDays)
	}
	return r
}

func checkVulnerabilities(ctx context.Context, req *Vulnerabilities, s Subject, facts Facts, now time.Time) []Reason {
	if facts.Vulnerabilities == nil {
		return []Reason{{Check: "vulnerabilities", Result: Fail, Message: "a vulnerability limit applies but no vulnerability scanner is available here"}}
	}
	vf, err := facts.Vulnerabilities.Vulnerabilities(ctx, s)
	if err != nil {
		msg := fmt.Sprintf("vulnerabilities could not be checked: %v", err)
		if errors.Is(err, vulndb.ErrNoDB) {
			msg = fmt.Sprintf("no vulnerability database (%v): run `warden db update` or `warden db import`", err)
		}
		return []Reason{{Check: "vulnerabilities", Result: Fail, Message: msg}}
	}
	var out []Reason
	maxAge := time.Duration(req.MaxDBAgeDays) * 24 * time.Hour
	if vf.DBBuilt.IsZero() || now.Sub(vf.DBBuilt) > maxAge {
		out = append(out, Reason{Check: "vulnerabilities.database", Result: Fail,
			Message: fmt.Sprintf("the vulnerability database (built %s) is older than max_db_age_days %d", fmtTime(vf.DBBuilt), req.MaxDBAgeDays)})
	}
	findings := append([]match.Finding(nil), vf.Findings...)
	if len(req.VEX) > 0 {
		ignore.ApplyVEX(findings, s.Ref, req.VEX...)
	}
	var expired []string
	for _, e := range req.Exceptions {
		if e.Expired(now) {
			expired = append(expired, fmt.Sprintf("%s%s (line %d) expired on %s: %s", e.ID, pkgSuffix(e.Package), e.Line, e.Expires.Format("2006-01-02"), e.Reason))
		}
	}
	if len(expired) > 0 {
		out = append(out, Reason{Check: "vulnerabilities.exceptions", Result: Warn,
			Message: fmt.Sprintf("%d exception(s) expired and no longer apply", len(expired)), Details: expired})
	}
	limit := severityRank(req.MaxSeverity)
	var bad, excepted, suppressed, unfixed, grace []string
	for i := range findings {
		f := &findings[i]
		sev := sevOf(f)
		sevText := sev
		if sev == "UNKNOWN" && req.UnknownSeverity != "" && req.UnknownSeverity != "UNKNOWN" {
			sev = req.UnknownSeverity
			sevText = "UNKNOWN, counted as " + sev
		}
		id := fmt.Sprintf("%s in %s %s (%s", f.Advisory.ID, f.Package.Name, f.Package.Version, sevText)
		if f.FixedVersion != "" {
			id += ", fixed in " + f.FixedVersion
		} else {
			id += ", no fix"
		}
		id += ")"
		if req.MaxSeverity == "" || severityRank(sev) <= limit {
			continue
		}
		if f.Suppressed != nil {
			suppressed = append(suppressed, id+": "+f.Suppressed.Kind+" "+f.Suppressed.Source)
			continue
		}
		if e := exceptionFor(req.Exceptions, f, now); e != nil {
			excepted = append(excepted, fmt.Sprintf("%s: exception (line %d): %s", id, e.Line, e.Reason))
			continue
		}
		if f.FixedVersion == "" && req.IgnoreUnfixed {
			unfixed = append(unfixed, id)
			continue
		}
		if f.FixedVersion != "" && req.GraceDays > 0 && !f.Advisory.FixedAt.IsZero() &&
			now.Sub(f.Advisory.FixedAt) < time.Duration(req.GraceDays)*24*time.Hour {
			grace = append(grace, fmt.Sprintf("%s: fix published %s, within grace_days %d", id, f.Advisory.FixedAt.Format("2006-01-02"), req.GraceDays))
			continue
		}
		bad = append(bad, id)
	}
	var details []string
	details = append(details, bad...)
	for _, group := range []struct {
		what string
		list []string
	}{{"excepted", excepted}, {"suppressed by VEX", suppressed}, {"unfixed (ignore_unfixed)", unfixed}, {"in grace period", grace}} {
		for _, x := range group.list {
			details = append(details, group.what+": "+x)
		}
	}
	r := Reason{Check: "vulnerabilities", Details: details}
	switch {
	case req.MaxSeverity == "":
		r.Result, r.Message = Pass, fmt.Sprintf("%d finding(s); no severity limit", len(findings))
	case len(bad) > 0:
		r.Result, r.Message = Fail, fmt.Sprintf("%d finding(s) above max_severity %s", len(bad), req.MaxSeverity)
	default:
		r.Result, r.Message = Pass, fmt.Sprintf("no finding above max_severity %s (%d finding(s) in all)", req.MaxSeverity, len(findings))
	}
	return append(out, r)
}

func sevOf(f *match.Finding) string {
	if f.Advisory.Severity == "" {
		return "UNKNOWN"
	}
	return strings.ToUpper(f.Advisory.Severity)
}

func pkgSuffix(p string) string {
	if p == "" {
		return ""
	}
	return " on " + p
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "at an unknown time"
	}
	return t.UTC().Format(time.RFC3339)
}

// exceptionFor returns the unexpired exception covering f (by id or alias,
// and package name or source name when the exception names a package).
func exceptionFor(exs []Exception, f *match.Finding, now time.Time) *Exception {
	for i := range exs {
		e := &exs[i]
		if e.Expired(now) || !f.HasID(e.ID) {
			continue
		}
		if e.Package != "" {
			re, err := compilePattern(e.Package)
			if err != nil || !(re.MatchString(f.Package.Name) || re.MatchString(f.Package.Source())) {
				continue
			}
		}
		return e
	}
	return nil
}

func checkImage(ctx context.Context, req *ImageRules, s Subject, facts Facts) []Reason {
	var out []Reason
	if req.ForbidLatest {
		r := Reason{Check: "image.forbid_latest", Result: Pass, Message: "the reference has a version tag or a digest"}
		switch {
		case s.Tag == "latest":
			r.Result, r.Message = Fail, fmt.Sprintf("%s uses the `latest` tag", s.Ref)
		case s.Tag == "" && s.Digest == "" && !strings.Contains(s.Ref, "@"):
			r.Result, r.Message = Fail, fmt.Sprintf("%s has neither tag nor digest (it means `latest`)", s.Ref)
		}
		out = append(out, r)
	}
	needFacts := req.ForbidRoot || req.ForbidSecrets || len(req.AllowedBases) > 0 || len(req.ForbiddenPackages) > 0 ||
		req.MaxSizeMB > 0 || req.MaxPackages != 0
	if !needFacts {
		return out
	}
	if facts.Image == nil {
		return append(out, Reason{Check: "image", Result: Fail, Message: "image rules apply but the image cannot be inspected here"})
	}
	im, err := facts.Image.Inspect(ctx, s)
	if err != nil {
		return append(out, Reason{Check: "image", Result: Fail, Message: fmt.Sprintf("the image could not be inspected: %v", err)})
	}
	if req.ForbidRoot {
		r := Reason{Check: "image.forbid_root", Result: Pass, Message: fmt.Sprintf("runs as %q", im.User)}
		for _, f := range im.Lint {
			if f.ID == lint.RootUser {
				r.Result, r.Message = Fail, "runs as root: "+f.Detail
			}
		}
		out = append(out, r)
	}
	if req.ForbidSecrets {
		r := Reason{Check: "image.forbid_secrets", Result: Pass, Message: "no secret found in the environment, history or files"}
		for _, f := range im.Lint {
			if f.ID == lint.SecretEnv || f.ID == lint.SecretHistory || f.ID == lint.SecretFile {
				r.Details = append(r.Details, f.Detail)
			}
		}
		if len(r.Details) > 0 {
			r.Result, r.Message = Fail, fmt.Sprintf("%d secret(s) in the image", len(r.Details))
		}
		out = append(out, r)
	}
	if len(req.AllowedBases) > 0 {
		r := Reason{Check: "image.allowed_bases"}
		switch {
		case im.Base == "":
			r.Result, r.Message = Fail, "the base image is unknown (no org.opencontainers.image.base.name annotation or label), so it cannot be checked against allowed_bases"
		default:
			base := NewSubject(im.Base, "")
			r.Result, r.Message = Fail, fmt.Sprintf("base image %s is not in allowed_bases", im.Base)
			for _, p := range req.AllowedBases {
				if matchesSubject(p, base) || p.Match(im.Base) {
					r.Result, r.Message = Pass, fmt.Sprintf("base image %s matches %q", im.Base, p.Text)
					break
				}
			}
		}
		out = append(out, r)
	}
	if len(req.ForbiddenPackages) > 0 {
		r := Reason{Check: "image.forbidden_packages", Result: Pass, Message: "no forbidden package installed"}
		for _, pk := range im.Packages {
			for _, p := range req.ForbiddenPackages {
				if p.Match(pk.Name) {
					r.Details = append(r.Details, fmt.Sprintf("%s %s (%s) matches %q", pk.Name, pk.Version, pk.Ecosystem, p.Text))
					break
				}
			}
		}
		if len(r.Details) > 0 {
			r.Result, r.Message = Fail, fmt.Sprintf("%d forbidden package(s) installed", len(r.Details))
		}
		out = append(out, r)
	}
	if req.MaxSizeMB > 0 {
		mb := float64(im.SizeBytes) / (1 << 20)
		r := Reason{Check: "image.max_size_mb", Result: Pass, Message: fmt.Sprintf("%.1f MB, limit %d MB", mb, req.MaxSizeMB)}
		if im.SizeBytes > req.MaxSizeMB<<20 {
			r.Result = Fail
		}
		out = append(out, r)
	}
	if req.MaxPackages != 0 {
		limit := max(req.MaxPackages, 0)
		r := Reason{Check: "image.max_packages", Result: Pass, Message: fmt.Sprintf("%d packages, limit %d", len(im.Packages), limit)}
		if len(im.Packages) > limit {
			r.Result = Fail
		}
		out = append(out, r)
	}
	return out
}
