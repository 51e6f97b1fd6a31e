package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/wardensec/warden/internal/testimage"
	"github.com/wardensec/warden/pkg/lint"
)

var updateCLI = flag.Bool("update", false, "rewrite golden files under testdata/")

// A structurally valid PEM header with filler: the pattern, not the key, is what is detected.
const fakeSSHKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n"

// cliImage builds an image from layers with conf as its config, writes it as
// an OCI layout in a temp dir and returns the directory.
func cliImage(t *testing.T, conf v1.Config, history []v1.History, layers ...v1.Layer) string {
	t.Helper()
	img := testimage.Image(t, nil, layers...)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config = conf
	if history != nil {
		cf.History = history
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "image")
	testimage.WriteOCILayout(t, img, dir, "app:1.0")
	return dir
}

// secretLayers: layer 0 adds an SSH private key and a setuid binary, layer 1 deletes the key.
func secretLayers(t *testing.T) []v1.Layer {
	return []v1.Layer{
		testimage.Layer(t,
			testimage.Reg("etc/os-release", "ID=alpine\nVERSION_ID=3.19.4\n"),
			testimage.Reg("root/.ssh/id_ed25519", fakeSSHKey),
			testimage.File{Path: "usr/bin/helper", Content: []byte("\x7fELF"), Mode: 0o4755}),
		testimage.Layer(t, testimage.Whiteout("root/.ssh/id_ed25519")),
	}
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden := filepath.Join("testdata", name)
	if *updateCLI {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s differs (-want +got):\n%s", golden, d)
	}
}

func TestLintCLI(t *testing.T) {
	leaky := cliImage(t, v1.Config{Env: []string{"GITHUB_TOKEN=ghp_0123456789abcdefghijABCDEFGHIJ012345"}},
		[]v1.History{{CreatedBy: "RUN /bin/sh -c wget -qO- https://get.example.com/install | sh"}, {CreatedBy: "RUN /bin/sh -c rm /root/.ssh/id_ed25519"}},
		secretLayers(t)...)
	clean := cliImage(t, v1.Config{User: "1000", Healthcheck: &v1.HealthConfig{Test: []string{"CMD", "/app", "-health"}}}, nil,
		testimage.Layer(t, testimage.Reg("app", "\x7fELF")))

	// Table, no --fail-on: exit 0 whatever the findings.
	out, stderr, code := runWardenCmd(t, "lint", leaky, "--no-cache")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	checkGolden(t, "lint/leaky.table.golden", strings.ReplaceAll(out, leaky, "$IMAGE"))

	// JSON with --fail-on high: exit 3.
	out, _, code = runWardenCmd(t, "lint", leaky, "--format", "json", "--fail-on", "high", "--no-cache")
	if code != exitFail {
		t.Errorf("--fail-on high: exit %d, want 3", code)
	}
	var rep struct {
		Image    string         `json:"image"`
		Findings []lint.Finding `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	var deleted bool
	for _, f := range rep.Findings {
		if f.ID == lint.SecretFile && f.Path == "/root/.ssh/id_ed25519" && f.RemovedInLayer != nil && *f.RemovedInLayer == 1 && *f.LayerIndex == 0 {
			deleted = true
		}
	}
	if !deleted {
		t.Errorf("the key deleted in layer 1 is not reported: %+v", rep.Findings)
	}
	checkGolden(t, "lint/leaky.json.golden", strings.ReplaceAll(out, leaky, "$IMAGE"))

	// Package count through the real inventory: one package limit, Alpine os-release but no apk DB -> 0 packages.
	if _, stderr, code := runWardenCmd(t, "lint", clean, "--fail-on", "low", "--max-packages", "1", "--cache-dir", t.TempDir()); code != 0 {
		t.Errorf("clean image: exit %d: %s", code, stderr)
	}
	out, _, _ = runWardenCmd(t, "lint", clean, "--no-cache")
	if !strings.Contains(out, "no findings") {
		t.Errorf("clean image output: %q", out)
	}
	if _, stderr, code := runWardenCmd(t, "lint", clean, "--fail-on", "severe", "--no-cache"); code != exitError || !strings.Contains(stderr, "--fail-on") {
		t.Errorf("bad --fail-on: exit %d %q", code, stderr)
	}
}
