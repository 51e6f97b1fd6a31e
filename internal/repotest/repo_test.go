// Package repotest pins repository-wide rules: the dependency direction of the
// packages (docs/architecture.md) and gofmt. It has no non-test code.
package repotest

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardensec/warden/internal/testutil"
)

const mod = "github.com/wardensec/warden/"

// forbidden lists, per package prefix, the Warden packages it must not import
// (directly or indirectly). "" in allowOnly means: no Warden package at all.
var forbidden = []struct {
	pkg, why string
	not      []string
}{
	{"pkg/inventory", "inventory is pure data", []string{"pkg/", "internal/", "cmd/"}},
	{"pkg/extract", "extractors see files, not the database or the network", []string{"pkg/vulndb", "pkg/match", "pkg/walk", "pkg/source", "pkg/registry", "pkg/feeds"}},
	{"pkg/match", "matching does not depend on how packages were found", []string{"pkg/extract", "pkg/walk", "pkg/source", "pkg/registry", "pkg/feeds"}},
	{"pkg/vulndb", "the store does not know the feeds or the matchers", []string{"pkg/feeds", "pkg/match", "pkg/extract", "pkg/walk"}},
	{"pkg/registry", "the registry reaches scanning and policy through its small interfaces", []string{"pkg/walk", "pkg/match", "pkg/policy", "pkg/vulndb", "pkg/extract", "pkg/source", "pkg/sign", "pkg/verify", "pkg/feeds"}},
	{"pkg/walk", "the walk does not match", []string{"pkg/match", "pkg/vulndb", "pkg/registry", "pkg/feeds"}},
	{"pkg/", "the library never imports the CLI or test helpers", []string{"cmd/", "internal/testimage", "internal/testutil"}},
}

type listed struct {
	ImportPath string
	Deps       []string
}

func TestDependencyDirection(t *testing.T) {
	cmd := exec.Command("go", "list", "-json=ImportPath,Deps", "./pkg/...")
	cmd.Dir = testutil.RepoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	n := 0
	for dec.More() {
		var p listed
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		n++
		rel := strings.TrimPrefix(p.ImportPath, mod)
		for _, d := range p.Deps {
			// klog is a logger that certificate-transparency-go (under
			// sigstore-go) brings. The API types are what weigh: pkg/admission
			// speaks AdmissionReview with k8s.io/api/admission/v1 and
			// apimachinery (2.6 MB of binary); the core, apps and batch types
			// would cost 5 MB more, so the objects inside the review are its
			// own (kube.go) and k8s.io/api's are for its tests only.
			if msg := kubeDep(rel, d); msg != "" {
				t.Errorf("%s imports %s: %s", rel, d, msg)
				break
			}
		}
		for _, rule := range forbidden {
			if !strings.HasPrefix(rel, rule.pkg) {
				continue
			}
			for _, d := range p.Deps {
				if !strings.HasPrefix(d, mod) {
					continue
				}
				drel := strings.TrimPrefix(d, mod)
				for _, bad := range rule.not {
					if strings.HasPrefix(drel, bad) && !strings.HasPrefix(drel, rule.pkg) {
						t.Errorf("%s imports %s (%s)", rel, drel, rule.why)
					}
				}
			}
		}
	}
	if n < 10 {
		t.Fatalf("go list returned only %d packages", n)
	}
}

func TestGofmt(t *testing.T) {
	cmd := exec.Command("gofmt", "-l", ".")
	cmd.Dir = testutil.RepoRoot(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("gofmt: %v\n%s", err, out)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("gofmt wants to change:\n%s", s)
	}
}

// TestGoModTidy: go.mod and go.sum say exactly what the module imports (no
// stale or missing requirement, direct dependencies not marked indirect).
func TestGoModTidy(t *testing.T) {
	cmd := exec.Command("go", "mod", "tidy", "-diff")
	cmd.Dir = testutil.RepoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("go mod tidy -diff: %v\n%s", err, out)
	}
}

// TestUserPathsThroughOutfile: the CLI writes every path a user names through
// pkg/outfile, which never replaces a device, a FIFO or a symlink with a
// regular file (issue #18). A direct rename, create or remove in cmd/ fails
// this test unless it is listed here with its reason.
func TestUserPathsThroughOutfile(t *testing.T) {
	allowed := map[string]string{
		// WARDEN_CPUPROFILE / WARDEN_TRACE: os.Create truncates in place, which is
		// right for a device or FIFO too, and the profile is a developer's tool.
		"main.go:os.Create": "profile output",
		// The socket docker-authz listens on: only a unix socket (Lstat-checked)
		// is removed, never a file the user named for output.
		"dockerauthz.go:os.Remove": "stale or own unix socket",
	}
	banned := map[string]bool{"Rename": true, "Create": true, "WriteFile": true, "CreateTemp": true,
		"Remove": true, "RemoveAll": true, "OpenFile": true, "Truncate": true, "Symlink": true, "Link": true}
	dir := filepath.Join(testutil.RepoRoot(t), "cmd", "warden")
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "os" && banned[sel.Sel.Name] {
				key := filepath.Base(file) + ":os." + sel.Sel.Name
				if _, ok := allowed[key]; !ok {
					t.Errorf("%s: os.%s in cmd/warden: write user-named paths with pkg/outfile", fset.Position(sel.Pos()), sel.Sel.Name)
				}
			}
			return true
		})
	}
}

// kubeDep says why package rel may not depend on d, or "" when it may.
func kubeDep(rel, d string) string {
	api := strings.HasPrefix(d, "k8s.io/api/")
	machinery := strings.HasPrefix(d, "k8s.io/apimachinery/")
	switch {
	case strings.HasPrefix(d, "k8s.io/client-go/"):
		return "client-go is not needed (pkg/admission reads secrets with net/http)"
	case !api && !machinery:
		return ""
	case !strings.HasPrefix(rel, "pkg/admission"):
		return "only pkg/admission speaks the Kubernetes API"
	case api && d != "k8s.io/api/admission/v1" && d != "k8s.io/api/authentication/v1":
		return "k8s.io/api's core, apps and batch types cost 5 MB of binary (pkg/admission/kube.go has the fields Warden uses)"
	}
	return ""
}
