package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/wardensec/warden/internal/testutil"
)

// actionFile is the part of action.yml the stand-in runner reads.
type actionFile struct {
	Inputs map[string]struct {
		Default  string `yaml:"default"`
		Required bool   `yaml:"required"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Value string `yaml:"value"`
	} `yaml:"outputs"`
	Runs struct {
		Using string       `yaml:"using"`
		Steps []actionStep `yaml:"steps"`
	} `yaml:"runs"`
}

type actionStep struct {
	ID    string            `yaml:"id"`
	If    string            `yaml:"if"`
	Shell string            `yaml:"shell"`
	Run   string            `yaml:"run"`
	Uses  string            `yaml:"uses"`
	With  map[string]string `yaml:"with"`
	Env   map[string]string `yaml:"env"`
}

// actionRun is what the stand-in runner saw.
type actionRun struct {
	failedStep string            // the first step that failed
	exit       int               // its exit code
	outputs    map[string]string // the action's outputs
	uploaded   []string          // SARIF files given to upload-sarif
	cached     []string          // paths given to actions/cache
	log        bytes.Buffer
}

var exprRe = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// runAction runs action.yml as GitHub's runner runs a composite action, for
// what this repository's action uses: `run` steps under bash -eo pipefail with
// GITHUB_OUTPUT and GITHUB_PATH, `${{ }}` expressions naming inputs, github,
// runner and step outputs, `if` conditions of ==/!= terms joined by &&, and
// stand-ins for the three `uses` steps (setup-go checks Go is there, cache
// records its path, upload-sarif checks the file is SARIF 2.1.0).
func runAction(t *testing.T, root string, with map[string]string, extraEnv []string) *actionRun {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var a actionFile
	if err := yaml.Unmarshal(b, &a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	if a.Runs.Using != "composite" {
		t.Fatalf("action.yml: runs.using %q, want composite", a.Runs.Using)
	}
	inputs := map[string]string{}
	for k, in := range a.Inputs {
		inputs[k] = in.Default
	}
	for k, v := range with {
		if _, ok := a.Inputs[k]; !ok {
			t.Fatalf("action.yml has no input %q", k)
		}
		inputs[k] = v
	}
	for k, in := range a.Inputs {
		if in.Required && inputs[k] == "" {
			t.Fatalf("input %q is required", k)
		}
	}
	temp, workspace := t.TempDir(), t.TempDir()
	run := &actionRun{outputs: map[string]string{}}
	steps := map[string]map[string]string{}
	var paths []string
	lookup := func(expr string) string {
		parts := strings.Split(expr, ".")
		switch {
		case len(parts) == 2 && parts[0] == "inputs":
			return inputs[parts[1]]
		case expr == "github.action_path":
			return root
		case expr == "runner.temp":
			return temp
		case expr == "runner.os":
			return "Linux"
		case len(parts) == 4 && parts[0] == "steps" && parts[2] == "outputs":
			return steps[parts[1]][parts[3]]
		}
		t.Fatalf("stand-in runner: unknown expression %q", expr)
		return ""
	}
	subst := func(s string) string {
		return exprRe.ReplaceAllStringFunc(s, func(m string) string { return lookup(exprRe.FindStringSubmatch(m)[1]) })
	}
	cond := func(s string) bool {
		s = strings.TrimSpace(exprRe.ReplaceAllString(s, "$1"))
		if s == "" {
			return run.failedStep == ""
		}
		always := false
		for _, term := range strings.Split(s, "&&") {
			term = strings.TrimSpace(term)
			switch {
			case term == "always()":
				always = true
			case term == "success()":
			case strings.Contains(term, "=="), strings.Contains(term, "!="):
				op := "=="
				if strings.Contains(term, "!=") {
					op = "!="
				}
				l, r, _ := strings.Cut(term, op)
				lv := lookup(strings.TrimSpace(l))
				rv := strings.Trim(strings.TrimSpace(r), "'")
				if (lv == rv) != (op == "==") {
					return false
				}
			default:
				t.Fatalf("stand-in runner: unknown condition %q", term)
			}
		}
		return always || run.failedStep == ""
	}
	for i, st := range a.Runs.Steps {
		name := st.ID
		if name == "" {
			name = fmt.Sprintf("#%d %s", i, st.Uses)
		}
		if !cond(st.If) {
			fmt.Fprintf(&run.log, "--- %s: skipped\n", name)
			continue
		}
		fmt.Fprintf(&run.log, "--- %s\n", name)
		w := map[string]string{}
		for k, v := range st.With {
			w[k] = subst(v)
		}
		switch {
		case st.Run != "":
			if st.Shell != "bash" {
				t.Fatalf("step %s: shell %q (the action uses bash)", name, st.Shell)
			}
			if exprRe.MatchString(st.Run) {
				t.Errorf("step %s: ${{ }} inside a script (pass it through env)", name)
			}
			out, pathFile := filepath.Join(temp, "output"), filepath.Join(temp, "path")
			for _, f := range []string{out, pathFile} {
				if err := os.WriteFile(f, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			script := filepath.Join(temp, "step.sh")
			if err := os.WriteFile(script, []byte(st.Run), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", script)
			cmd.Dir = workspace
			env := append(os.Environ(), extraEnv...)
			p := os.Getenv("PATH")
			for _, d := range paths {
				p = d + ":" + p
			}
			env = append(env, "PATH="+p, "RUNNER_TEMP="+temp, "RUNNER_OS=Linux", "GITHUB_OUTPUT="+out, "GITHUB_PATH="+pathFile)
			for k, v := range st.Env {
				env = append(env, k+"="+subst(v))
			}
			cmd.Env = env
			cmd.Stdout, cmd.Stderr = &run.log, &run.log
			err := cmd.Run()
			so := map[string]string{}
			ob, _ := os.ReadFile(out)
			for _, line := range strings.Split(string(ob), "\n") {
				if k, v, ok := strings.Cut(line, "="); ok {
					so[k] = v
				}
			}
			if st.ID != "" {
				steps[st.ID] = so
			}
			pb, _ := os.ReadFile(pathFile)
			for _, line := range strings.Fields(string(pb)) {
				paths = append(paths, line)
			}
			if err != nil {
				if run.failedStep == "" {
					run.failedStep, run.exit = name, cmd.ProcessState.ExitCode()
				}
				fmt.Fprintf(&run.log, "--- %s failed: %v\n", name, err)
			}
		case strings.HasPrefix(st.Uses, "actions/setup-go@"):
			if _, err := exec.LookPath("go"); err != nil {
				t.Fatal("setup-go stand-in: no go on PATH")
			}
			if _, err := os.Stat(w["go-version-file"]); err != nil {
				t.Errorf("setup-go: go-version-file: %v", err)
			}
		case strings.HasPrefix(st.Uses, "actions/cache@"):
			if w["path"] == "" || w["key"] == "" {
				t.Errorf("cache: path %q, key %q", w["path"], w["key"])
			}
			run.cached = append(run.cached, w["path"])
		case strings.HasPrefix(st.Uses, "github/codeql-action/upload-sarif@"):
			f := w["sarif_file"]
			if !filepath.IsAbs(f) {
				f = filepath.Join(workspace, f)
			}
			run.uploaded = append(run.uploaded, f)
		default:
			t.Fatalf("stand-in runner: no stand-in for uses: %s", st.Uses)
		}
	}
	for k, o := range a.Outputs {
		run.outputs[k] = subst(o.Value)
	}
	return run
}

// releaseBinary builds warden from this checkout once for the tests that
// download a "release".
var releaseBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "warden-action-test")
	if err != nil {
		return "", err
	}
	releaseBinaryDir = dir
	bin := filepath.Join(dir, "warden")
	root, err := filepath.Abs("../..")
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/warden")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// releaseBinaryDir holds releaseBinary's build; TestMain removes it.
var releaseBinaryDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if releaseBinaryDir != "" {
		os.RemoveAll(releaseBinaryDir)
	}
	os.Exit(code)
}

// releaseServer serves a "release" as scripts/release.sh lays it out:
// VERSION/warden-linux-amd64 and VERSION/SHA256SUMS (with a wrong sum when
// tamper is set).
func releaseServer(t *testing.T, tamper bool) string {
	t.Helper()
	built, err := releaseBinary()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rel := filepath.Join(dir, "v9.9.9")
	if err := os.MkdirAll(rel, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rel, "warden-linux-amd64"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if tamper {
		sum[0] ^= 1
	}
	sums := fmt.Sprintf("%s  warden-linux-arm64\n%s  warden-linux-amd64\n", strings.Repeat("0", 64), hex.EncodeToString(sum[:]))
	if err := os.WriteFile(filepath.Join(rel, "SHA256SUMS"), []byte(sums), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return srv.URL
}

// checkSARIF: the uploaded file is a SARIF 2.1.0 log from Warden that names the
// Alpine image's known finding.
func checkSARIF(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("upload-sarif: %v", err)
	}
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name string `json:"name"`
				} `json:"driver"`
			} `json:"tool"`
			Results []json.RawMessage `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b, &log); err != nil {
		t.Fatalf("upload-sarif: %s is not JSON: %v", file, err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || !strings.EqualFold(log.Runs[0].Tool.Driver.Name, "warden") || len(log.Runs[0].Results) == 0 {
		t.Fatalf("upload-sarif: %s: version %q, %d runs", file, log.Version, len(log.Runs))
	}
	if !bytes.Contains(b, []byte("CVE-2024-9143")) {
		t.Errorf("upload-sarif: %s lacks CVE-2024-9143", file)
	}
}

// TestActionSteps runs action.yml's steps with the stand-in runner: the
// release binary is downloaded and checked against SHA256SUMS (or built from
// the action's source), the database is imported, the scan writes SARIF that
// is uploaded whatever the verdict, and the job fails exactly when fail-on is
// reached (exit 3) or the download does not match its checksum.
func TestActionSteps(t *testing.T) {
	root := testutil.RepoRoot(t)
	testutil.RequireTool(t, "curl")
	testutil.RequireTool(t, "sha256sum")
	good := releaseServer(t, false)
	bad := releaseServer(t, true)
	image := "oci-layout:" + filepath.Join(root, "testdata", "images", "alpine-3.19.4")
	feeds := filepath.Join(root, "testdata", "feeds")
	for _, tc := range []struct {
		name       string
		with       map[string]string
		failedStep string
		exit       int
		uploaded   bool
	}{
		{"release, no threshold", map[string]string{"version": "v9.9.9", "release-url": good, "fail-on": ""}, "", 0, true},
		{"release, fail on UNKNOWN", map[string]string{"version": "v9.9.9", "release-url": good, "fail-on": "UNKNOWN"}, "gate", 3, true},
		{"tampered release", map[string]string{"version": "v9.9.9", "release-url": bad}, "install", 1, false},
		{"built from source, fail on UNKNOWN", map[string]string{"version": "source", "fail-on": "UNKNOWN"}, "gate", 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			with := map[string]string{"image": image, "db": feeds, "cache-dir": t.TempDir(), "sarif": filepath.Join(t.TempDir(), "w.sarif")}
			for k, v := range tc.with {
				with[k] = v
			}
			run := runAction(t, root, with, []string{"WARDEN_IGZIP=off"})
			if run.failedStep != tc.failedStep || run.exit != tc.exit {
				t.Fatalf("failed step %q (exit %d), want %q (exit %d)\n%s", run.failedStep, run.exit, tc.failedStep, tc.exit, run.log.String())
			}
			if len(run.cached) != 1 || run.cached[0] != with["cache-dir"] {
				t.Errorf("cached %q, want the state directory %s", run.cached, with["cache-dir"])
			}
			if !tc.uploaded {
				if len(run.uploaded) != 0 {
					t.Errorf("uploaded %q after a failed install", run.uploaded)
				}
				return
			}
			if len(run.uploaded) != 1 || run.uploaded[0] != with["sarif"] {
				t.Fatalf("uploaded %q, want %s\n%s", run.uploaded, with["sarif"], run.log.String())
			}
			checkSARIF(t, run.uploaded[0])
			if want := fmt.Sprint(tc.exit); run.outputs["exit-code"] != want || run.outputs["sarif"] != with["sarif"] {
				t.Errorf("outputs %v, want exit-code %s", run.outputs, want)
			}
			if _, err := os.Stat(filepath.Join(with["cache-dir"], "layers")); err != nil {
				t.Errorf("the layer cache is not in the cached directory: %v", err)
			}
		})
	}
}

// TestGitLabTemplate runs ci/warden.gitlab-ci.yml's .warden-scan job scripts as
// a GitLab runner does (variables in the environment, before_script then
// script, each under bash): the release binary is downloaded and checked, the
// reports are written, and the job fails with exit 3 when fail-on is reached.
func TestGitLabTemplate(t *testing.T) {
	root := testutil.RepoRoot(t)
	testutil.RequireTool(t, "curl")
	good := releaseServer(t, false)
	bad := releaseServer(t, true)
	b, err := os.ReadFile(filepath.Join(root, "ci", "warden.gitlab-ci.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var tmpl map[string]struct {
		Variables    yaml.Node `yaml:"variables"`
		BeforeScript []string  `yaml:"before_script"`
		Script       []string  `yaml:"script"`
		Artifacts    struct {
			Paths []string `yaml:"paths"`
		} `yaml:"artifacts"`
	}
	if err := yaml.Unmarshal(b, &tmpl); err != nil {
		t.Fatalf("ci/warden.gitlab-ci.yml: %v", err)
	}
	job, ok := tmpl[".warden-scan"]
	if !ok || len(job.Script) == 0 {
		t.Fatal("ci/warden.gitlab-ci.yml: no .warden-scan job with a script")
	}
	image := "oci-layout:" + filepath.Join(root, "testdata", "images", "alpine-3.19.4")
	for _, tc := range []struct {
		name    string
		vars    map[string]string
		exit    int
		reports bool
	}{
		{"release, no threshold", map[string]string{"WARDEN_RELEASE_URL": good, "WARDEN_FAIL_ON": ""}, 0, true},
		{"release, fail on UNKNOWN", map[string]string{"WARDEN_RELEASE_URL": good, "WARDEN_FAIL_ON": "UNKNOWN"}, 3, true},
		{"tampered release", map[string]string{"WARDEN_RELEASE_URL": bad}, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			project := t.TempDir()
			env := append(os.Environ(), "CI_PROJECT_DIR="+project, "WARDEN_IGZIP=off")
			over := map[string]string{"WARDEN_IMAGE": image, "WARDEN_VERSION": "v9.9.9", "WARDEN_DB": filepath.Join(root, "testdata", "feeds")}
			for k, v := range tc.vars {
				over[k] = v
			}
			// The job's variables in order, expanded as GitLab does; the project's override them.
			getenv := func(k string) string {
				for i := len(env) - 1; i >= 0; i-- {
					if kk, v, _ := strings.Cut(env[i], "="); kk == k {
						return v
					}
				}
				return ""
			}
			n := job.Variables.Content
			for i := 0; i+1 < len(n); i += 2 {
				k, v := n[i].Value, n[i+1].Value
				if o, ok := over[k]; ok {
					v = o
				}
				env = append(env, k+"="+os.Expand(v, getenv))
			}
			code := 0
			for _, part := range [][]string{job.BeforeScript, job.Script} {
				cmd := exec.Command("bash", "--noprofile", "--norc", "-e", "-c", strings.Join(part, "\n"))
				cmd.Dir, cmd.Env = project, env
				out, err := cmd.CombinedOutput()
				if err != nil {
					code = cmd.ProcessState.ExitCode()
					t.Logf("%s", out)
					break
				}
			}
			if code != tc.exit {
				t.Fatalf("job exit %d, want %d", code, tc.exit)
			}
			if !tc.reports {
				return
			}
			for _, a := range job.Artifacts.Paths {
				f := filepath.Join(project, os.Expand(a, getenv))
				if _, err := os.Stat(f); err != nil {
					t.Errorf("artifact %s: %v", a, err)
				}
			}
			checkSARIF(t, filepath.Join(project, getenv("WARDEN_SARIF")))
		})
	}
}
