package registry

import (
	"context"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestSeverityGate(t *testing.T) {
	g := &SeverityGate{Repos: []string{"prod/**", "team/*"}, MaxSeverity: "MEDIUM"}
	d := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}
	res := func(sev ...string) *ScanResult {
		r := &ScanResult{}
		for i, s := range sev {
			r.Findings = append(r.Findings, Finding{ID: "CVE-" + string(rune('A'+i)), Package: "p", Version: "1", Severity: s, FixedVersion: "2"})
		}
		return r
	}
	for _, tc := range []struct {
		name  string
		s     Subject
		allow bool
		want  string
	}{
		{"uncovered", Subject{Repo: "dev/x"}, true, ""},
		{"subtree", Subject{Repo: "prod/a/b", ScanState: "queued"}, false, "not scanned yet (queued)"},
		{"one level", Subject{Repo: "team/x/y", ScanState: "queued"}, true, ""},
		{"never scanned", Subject{Repo: "team/x"}, false, "has not been scanned"},
		{"failed", Subject{Repo: "team/x", ScanState: "failed"}, false, "scan of sha256:aaaa"},
		{"medium ok", Subject{Repo: "team/x", Scan: res("MEDIUM", "LOW")}, true, ""},
		{"high", Subject{Repo: "team/x", Scan: res("LOW", "HIGH")}, false, "CVE-B (HIGH) in p 1, fixed in 2"},
		{"unknown fails closed", Subject{Repo: "team/x", Scan: res("UNKNOWN")}, false, "CVE-A (severity unknown)"},
		{"clean", Subject{Repo: "team/x", Scan: res()}, true, ""},
	} {
		tc.s.Digest = d
		dec, err := g.Decide(context.Background(), tc.s)
		if err != nil {
			t.Fatal(err)
		}
		if dec.Allow != tc.allow || !strings.Contains(strings.Join(dec.Reasons, "; "), tc.want) {
			t.Errorf("%s: %+v", tc.name, dec)
		}
	}
	g.AllowUnknownSeverity = true
	if dec, _ := g.Decide(context.Background(), Subject{Repo: "team/x", Digest: d, Scan: res("UNKNOWN")}); !dec.Allow {
		t.Errorf("AllowUnknownSeverity: %+v", dec)
	}
}
