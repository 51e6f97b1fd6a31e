package registry

import (
	"context"
	"fmt"
	"path"
	"strings"
)

// SeverityGate is a small built-in Gate until pkg/policy is wired: for the
// repositories it covers it denies images that are not scanned yet, whose scan
// failed, or that have a finding more severe than MaxSeverity.
type SeverityGate struct {
	// Repos are path.Match patterns ("prod/*"), "**" for every repository,
	// or "team/**" for a subtree. Empty covers nothing.
	Repos []string
	// MaxSeverity is the most severe finding allowed (e.g. "MEDIUM"); "" allows any.
	MaxSeverity string
	// AllowUnscanned lets images through before their scan finished.
	AllowUnscanned bool
	// AllowUnknownSeverity lets findings without a severity through. By
	// default they fail closed: nothing shows they are within MaxSeverity.
	AllowUnknownSeverity bool
}

// Covers reports whether the gate applies to repo.
func (g *SeverityGate) Covers(repo string) bool {
	for _, p := range g.Repos {
		if p == "**" || p == repo {
			return true
		}
		if pre, ok := strings.CutSuffix(p, "/**"); ok && (repo == pre || strings.HasPrefix(repo, pre+"/")) {
			return true
		}
		if ok, _ := path.Match(p, repo); ok {
			return true
		}
	}
	return false
}

// Decide implements Gate.
func (g *SeverityGate) Decide(ctx context.Context, s Subject) (Decision, error) {
	if !g.Covers(s.Repo) {
		return Decision{Allow: true}, nil
	}
	if s.Index != nil {
		// An index is allowed; each platform image is checked when it is pulled by digest.
		return Decision{Allow: true}, nil
	}
	if s.Scan == nil {
		if g.AllowUnscanned {
			return Decision{Allow: true}, nil
		}
		switch s.ScanState {
		case "failed":
			return Decision{Reasons: []string{"the vulnerability scan of " + s.Digest.String() + " failed"}}, nil
		case "":
			return Decision{Reasons: []string{"image " + s.Digest.String() + " has not been scanned"}}, nil
		}
		return Decision{Reasons: []string{"image " + s.Digest.String() + " is not scanned yet (" + s.ScanState + ")"}}, nil
	}
	if g.MaxSeverity == "" {
		return Decision{Allow: true}, nil
	}
	limit := SeverityRank(g.MaxSeverity)
	var reasons []string
	seen := map[string]bool{}
	for _, f := range s.Scan.Findings {
		rank := SeverityRank(f.Severity)
		unknown := rank >= SeverityRank("UNKNOWN")
		if (rank >= limit && !unknown) || (unknown && g.AllowUnknownSeverity) || seen[f.ID+f.Package] {
			continue
		}
		seen[f.ID+f.Package] = true
		sev := strings.ToUpper(f.Severity)
		if unknown {
			sev = "severity unknown"
		}
		r := fmt.Sprintf("%s (%s) in %s %s", f.ID, sev, f.Package, f.Version)
		if f.FixedVersion != "" {
			r += ", fixed in " + f.FixedVersion
		}
		reasons = append(reasons, r)
	}
	if len(reasons) == 0 {
		return Decision{Allow: true}, nil
	}
	const show = 10
	if len(reasons) > show {
		reasons = append(reasons[:show], fmt.Sprintf("and %d more", len(reasons)-show))
	}
	return Decision{Reasons: append([]string{fmt.Sprintf("vulnerabilities above %s", strings.ToUpper(g.MaxSeverity))}, reasons...)}, nil
}
