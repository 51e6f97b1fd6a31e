package all

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/wardensec/warden/internal/testutil"
)

const module = "github.com/wardensec/warden/"

// TestEveryExtractorIsListed fails when a package under pkg/extract declares
// an extractor (a type with Required and Extract methods) that is not in the
// list, or when two extractors share a name.
func TestEveryExtractorIsListed(t *testing.T) {
	listed := map[string]bool{}
	names := map[string]bool{}
	for _, e := range Extractors() {
		typ := reflect.TypeOf(e)
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		listed[typ.PkgPath()] = true
		if names[e.Name()] {
			t.Errorf("two extractors are named %q", e.Name())
		}
		names[e.Name()] = true
		if e.Version() < 1 {
			t.Errorf("%s: version %d, want >= 1", e.Name(), e.Version())
		}
	}
	root := testutil.RepoRoot(t)
	found := 0
	err := filepath.WalkDir(filepath.Join(root, "pkg", "extract"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if d.Name() == "testdata" || d.Name() == "internal" {
			return filepath.SkipDir
		}
		if !declaresExtractor(t, p) {
			return nil
		}
		found++
		rel, _ := filepath.Rel(root, p)
		pkg := module + filepath.ToSlash(rel)
		if !listed[pkg] {
			t.Errorf("%s declares an extractor that is not listed in pkg/extract/all (OS or Lang)", pkg)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found < 3 {
		t.Errorf("found only %d extractor packages: the scan is broken", found)
	}
}

// declaresExtractor reports whether the non-test Go files of dir declare
// methods named both Required and Extract.
func declaresExtractor(t *testing.T, dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	methods := map[string]bool{}
	fset := token.NewFileSet()
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv != nil {
				methods[fd.Name.Name] = true
			}
		}
	}
	return methods["Required"] && methods["Extract"]
}

// TestOSListIsStable pins the OS extractors' names (they are part of cache keys and reports).
func TestOSListIsStable(t *testing.T) {
	var got []string
	for _, e := range OS() {
		got = append(got, e.Name())
	}
	sort.Strings(got)
	want := []string{"os/apk", "os/dpkg", "os/rpm"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("OS() = %v, want %v", got, want)
	}
}
