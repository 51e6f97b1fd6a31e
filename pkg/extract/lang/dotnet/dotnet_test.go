package dotnet

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/inventory"
)

func run(t testing.TB, path string, b []byte) ([]inventory.Package, []string, error) {
	var warns []string
	in := &extract.Input{Path: path, Mode: 0o644, Size: int64(len(b)), Reader: bytes.NewReader(b), Warn: func(m string) { warns = append(warns, m) }}
	pkgs, err := New().Extract(context.Background(), in)
	return pkgs, warns, err
}

func TestDepsJSON(t *testing.T) {
	b, err := os.ReadFile("testdata/app.deps.json")
	if err != nil {
		t.Fatal(err)
	}
	if !New().Required("app/app.deps.json", 0o644, int64(len(b))) || New().Required("app/app.runtimeconfig.json", 0o644, 10) {
		t.Error("Required")
	}
	pkgs, warns, err := run(t, "app/app.deps.json", b)
	if err != nil || len(warns) > 0 {
		t.Fatal(err, warns)
	}
	var got []string
	for _, p := range pkgs {
		got = append(got, p.Name+"@"+p.Version+" "+p.PURL)
		if p.Ecosystem != inventory.NuGet || p.Locations[0] != "/app/app.deps.json" {
			t.Errorf("%s: %q %v", p.Name, p.Ecosystem, p.Locations)
		}
	}
	want := []string{"Newtonsoft.Json@13.0.1 pkg:nuget/Newtonsoft.Json@13.0.1", "StartupDiagnostics@1.0.0 pkg:nuget/StartupDiagnostics@1.0.0"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestBadInput(t *testing.T) {
	if _, _, err := run(t, "a/x.deps.json", []byte(`{"libraries": {`)); err == nil || !strings.Contains(err.Error(), "/a/x.deps.json") {
		t.Errorf("error %v", err)
	}
	_, warns, err := run(t, "a/x.deps.json", []byte(`{"libraries": {"noversion": {"type": "package"}}}`))
	if err != nil || len(warns) != 1 || !strings.Contains(warns[0], "/a/x.deps.json") {
		t.Errorf("err %v warnings %v", err, warns)
	}
}

func FuzzDepsJSON(f *testing.F) {
	b, _ := os.ReadFile("testdata/app.deps.json")
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) { _, _, _ = run(t, "a/x.deps.json", b) })
}
