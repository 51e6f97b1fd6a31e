package registry_test

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/registry"
	"github.com/wardensec/warden/pkg/registry/auth"
)

// junit is the part of the conformance suite's junit.xml we read.
type junit struct {
	Suites []struct {
		Cases []struct {
			Name    string    `xml:"name,attr"`
			Status  string    `xml:"status,attr"`
			Failure *struct{} `xml:"failure"`
			Error   *struct{} `xml:"error"`
			Out     string    `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// TestConformance runs the OCI distribution-spec conformance suite (the pinned
// binary from .ci/tools.sh) against the registry on 127.0.0.1 and requires 0
// failures: once with the default profile and once with the optional APIs the
// registry implements turned on (upload cancel, tag parameters, digest headers).
func TestConformance(t *testing.T) {
	bin := testutil.RequireTool(t, "conformance")
	profiles := []struct {
		name string
		auth string // "", "basic", "token"
		env  []string
	}{
		{"default", "", nil},
		{"optional-apis", "", []string{
			"OCI_API_BLOBS_UPLOAD_CANCEL=true",
			"OCI_API_MANIFESTS_TAG_PARAM=true",
			"OCI_API_BLOBS_DIGEST_HEADER=true",
			"OCI_API_MANIFESTS_DIGEST_HEADER=true",
		}},
		{"token-auth", "token", []string{"OCI_USERNAME=conformance", "OCI_PASSWORD=s3cret"}},
		{"basic-auth", "basic", []string{"OCI_USERNAME=conformance", "OCI_PASSWORD=s3cret"}},
	}
	for _, p := range profiles {
		t.Run(p.name, func(t *testing.T) {
			opt := registry.Options{Root: t.TempDir()}
			mux := http.NewServeMux()
			if p.auth != "" {
				hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
				hp, err := auth.ParseHtpasswd(strings.NewReader("conformance:" + string(hash) + "\n"))
				if err != nil {
					t.Fatal(err)
				}
				a, err := auth.New(auth.Config{Htpasswd: hp, Token: p.auth == "token"})
				if err != nil {
					t.Fatal(err)
				}
				opt.Auth = a
				mux.Handle("/token", a.TokenHandler())
			}
			reg, err := registry.New(opt)
			if err != nil {
				t.Fatal(err)
			}
			defer reg.Close()
			mux.Handle("/v2/", reg)
			srv := httptest.NewServer(mux)
			defer srv.Close()
			runConformance(t, bin, strings.TrimPrefix(srv.URL, "http://"), p.name, p.env)
		})
	}
}

// runConformance runs the suite against the registry at host and fails t on
// any failure, logging the suite's counts.
func runConformance(t *testing.T, bin, host, profile string, env []string) {
	t.Helper()
	results := t.TempDir()
	cmd := exec.Command(bin)
	cmd.Dir = results
	cmd.Env = append(os.Environ(),
		"OCI_REGISTRY="+host,
		"OCI_TLS=disabled",
		"OCI_VERSION=1.1",
		"OCI_REPO1=conformance/repo1",
		"OCI_REPO2=conformance/repo2",
		"OCI_RESULTS_DIR="+results,
		"OCI_LOG=error",
	)
	cmd.Env = append(cmd.Env, env...)
	out, runErr := cmd.CombinedOutput()
	b, err := os.ReadFile(filepath.Join(results, "junit.xml"))
	if err != nil {
		t.Fatalf("conformance produced no junit.xml (%v): %v\n%s", runErr, err, out)
	}
	var j junit
	if err := xml.Unmarshal(b, &j); err != nil {
		t.Fatalf("parsing junit.xml: %v", err)
	}
	var failed []string
	for _, s := range j.Suites {
		for _, c := range s.Cases {
			if c.Failure != nil || c.Error != nil || c.Status == "failure" || c.Status == "error" {
				failed = append(failed, c.Name+": "+c.Out)
			}
		}
	}
	// The suite's own summary: "  Pass....: 860" etc.
	counts := summaryCounts(string(out))
	summary := fmt.Sprintf("OCI conformance (%s profile): %d passed, %d failed, %d errors, %d skipped, %d disabled of %d",
		profile, counts["Pass"], counts["FAIL"], counts["Error"], counts["Skip"], counts["Disabled"], counts["Total"])
	t.Log(summary)
	appendSummary(t, summary) // so the CI log shows the counts without -v (scripts/test.sh prints the file)
	for _, f := range failed {
		t.Errorf("conformance failure: %s", f)
	}
	if counts["FAIL"]+counts["Error"] > 0 || runErr != nil {
		t.Errorf("conformance run failed (%v):\n%s", runErr, tail(string(out), 6000))
	}
	if counts["Pass"] == 0 || counts["Total"] == 0 {
		t.Errorf("conformance passed no test:\n%s", tail(string(out), 3000))
	}
}

var reCount = regexp.MustCompile(`(?m)^  (Disabled|Skip|Pass|FAIL|Error|Total)\.+:\s+(\d+)$`)

func summaryCounts(out string) map[string]int {
	m := map[string]int{}
	for _, g := range reCount.FindAllStringSubmatch(out, -1) {
		if _, seen := m[g[1]]; !seen { // the first block is the overall result
			m[g[1]], _ = strconv.Atoi(g[2])
		}
	}
	return m
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// appendSummary adds a line to $WARDEN_TEST_SUMMARY, a file scripts/test.sh prints after the run.
func appendSummary(t *testing.T, line string) {
	p := os.Getenv("WARDEN_TEST_SUMMARY")
	if p == "" {
		return
	}
	f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Errorf("writing the test summary: %v", err)
		return
	}
	defer f.Close()
	fmt.Fprintln(f, line)
}
