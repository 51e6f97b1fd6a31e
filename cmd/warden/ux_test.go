package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wardensec/warden/internal/testimage"
	"github.com/wardensec/warden/internal/testutil"
)

// closedPort is a 127.0.0.1 address nothing listens on (connections are refused, as offline).
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestDBUpdateOffline: when no feed can be fetched, one summary with the
// first cause and the alternatives (db import, --mirror, db pull), exit 1.
func TestDBUpdateOffline(t *testing.T) {
	t.Setenv(mirrorEnv, "")
	state := t.TempDir()
	addr := closedPort(t)
	mask := func(s string) string {
		return strings.ReplaceAll(strings.ReplaceAll(s, state, "$STATE"), addr, "$CLOSED")
	}
	stdout, stderr := transcriptRun(t, "db", run{"update-offline", exitError, "when no feed can be fetched",
		[]string{"--cache-dir", state, "db", "update", "--mirror", "http://" + addr}}, mask)
	if stdout != "" || strings.Count(stderr, "\n") > 5 || !strings.Contains(stderr, "connection refused") ||
		!strings.Contains(stderr, "warden db import") || !strings.Contains(stderr, "--mirror") || !strings.Contains(stderr, "warden db pull REF --key KEY") {
		t.Errorf("offline update: want one summary naming the cause and the alternatives:\n%s%s", stdout, stderr)
	}
}

// TestCommandsHaveExamples: every command a user can run shows examples in its help.
func TestCommandsHaveExamples(t *testing.T) {
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		if c.Runnable() && !c.Hidden && c.Name() != "help" && c.Name() != "completion" && c.Example == "" {
			t.Errorf("%q has no Examples section", c.CommandPath())
		}
		if c.Runnable() && c.Example != "" {
			n++
			for _, l := range strings.Split(c.Example, "\n") {
				checkExample(t, c.CommandPath(), l)
			}
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(newRootCmd())
	if n < 15 {
		t.Errorf("only %d commands with examples", n)
	}
}

// checkExample: an example line runs warden (after VAR=value words), names
// a real command, uses only its flags, and passes its argument check.
func checkExample(t *testing.T, path, line string) {
	t.Helper()
	words := shellWords(line)
	for len(words) > 0 && strings.Contains(words[0], "=") {
		words = words[1:]
	}
	if len(words) == 0 || words[0] != "warden" {
		t.Errorf("%s: example %q does not run warden", path, line)
		return
	}
	root := newRootCmd()
	root.InitDefaultVersionFlag() // cobra adds --version when it executes
	cmd, rest, err := root.Find(words[1:])
	if err != nil || (cmd == root && (len(rest) == 0 || !strings.HasPrefix(rest[0], "-"))) {
		t.Errorf("%s: example %q: no such command (%v)", path, line, err)
		return
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Errorf("%s: example %q: %v", path, line, err)
		return
	}
	if cmd.Args != nil {
		if err := cmd.Args(cmd, cmd.Flags().Args()); err != nil {
			t.Errorf("%s: example %q: %v", path, line, err)
		}
	}
}

// TestShortFlagsOneMeaning: a short flag means the same long flag in every
// command (-f is --format, -o is --output FILE, -a is --annotations, ...).
func TestShortFlagsOneMeaning(t *testing.T) {
	seen := map[string]string{} // shorthand → "long (first command)"
	long := map[string]string{} // shorthand → long name
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Shorthand == "" || f.Hidden {
				return
			}
			if l, ok := long[f.Shorthand]; ok && l != f.Name {
				t.Errorf("-%s is --%s in %q but --%s in %s", f.Shorthand, f.Name, c.CommandPath(), l, seen[f.Shorthand])
				return
			}
			long[f.Shorthand], seen[f.Shorthand] = f.Name, c.CommandPath()
		})
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(newRootCmd())
	if long["f"] != "format" || long["o"] != "output" {
		t.Errorf("-f is --%s, -o is --%s", long["f"], long["o"])
	}
	// sign/attest --format (where the signature goes) became --store; the old name still parses.
	pred := filepath.Join(t.TempDir(), "p.json")
	writeFile(t, pred, "{}")
	for _, args := range [][]string{{"sign"}, {"attest", "--type", "vuln", "--predicate", pred}} {
		c := args[0]
		_, stderr, code := runWardenCmd(t, append(args, "--key", filepath.Join(t.TempDir(), "none.key"), "--format", "legacy", "127.0.0.1:1/x:1")...)
		if code != exitError || strings.Contains(stderr, "unknown flag") || !strings.Contains(stderr, "none.key") {
			t.Errorf("%s --format legacy: exit %d: %s", c, code, stderr)
		}
	}
	// -o is an output file wherever it exists: verify's --output (a format, as in cosign) has no short form.
	root := newRootCmd()
	for _, path := range [][]string{{"verify"}, {"verify-attestation"}, {"keygen"}} {
		c, _, err := root.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"output", "force"} {
			if f := c.Flags().Lookup(name); f != nil && f.Shorthand != "" {
				t.Errorf("%s --%s has the short form -%s", path[0], name, f.Shorthand)
			}
		}
	}
}

// TestBareReferenceTried: a bare reference the Docker Engine does not have,
// nor the registry, says what was tried in order: the Engine (its own
// words, or that none answers), then the registry with its answer.
func TestBareReferenceTried(t *testing.T) {
	reg := testimage.NewRegistry(t)
	ref := reg + "/missing/app:1.0"
	// An Engine that answers as dockerd does for an image it lacks.
	engine := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"message":"No such image: ` + ref + `"}` + "\n"))
	}))
	defer engine.Close()
	engineHost := "tcp://" + strings.TrimPrefix(engine.URL, "http://")
	sock := filepath.Join(t.TempDir(), "docker.sock")
	mask := func(s string) string {
		s = strings.ReplaceAll(s, engineHost, "$ENGINE")
		s = strings.ReplaceAll(s, sock, "$NOSOCK")
		return strings.ReplaceAll(s, reg, "$REGISTRY")
	}
	for _, c := range []struct {
		name, dockerHost, want string
	}{
		{"bare-not-in-engine", engineHost, "not in the Docker Engine ($ENGINE: No such image: $REGISTRY/missing/app:1.0), then registry $REGISTRY: missing/app:1.0: "},
		{"bare-no-engine", "unix://" + sock, "no Docker Engine (cannot reach the Docker Engine at unix://$NOSOCK: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("DOCKER_HOST", c.dockerHost)
			_, stderr := transcriptRun(t, "source", run{c.name, exitError, "unreadable or invalid input (image",
				[]string{"sbom", ref, "--no-cache"}}, mask)
			if !strings.Contains(mask(stderr), c.want) || !strings.Contains(stderr, "NAME_UNKNOWN") {
				t.Errorf("stderr lacks %q and the registry's answer:\n%s", c.want, mask(stderr))
			}
		})
	}
	// The real Docker Engine, when there is one (CI has one).
	testutil.RequireDocker(t)
	t.Setenv("DOCKER_HOST", "")
	_, stderr, code := runWardenCmd(t, "sbom", ref, "--no-cache")
	if code != exitError || !strings.Contains(stderr, "not in the Docker Engine (") || !strings.Contains(stderr, "then registry "+reg+": missing/app:1.0: ") {
		t.Errorf("real Engine: exit %d: %s", code, stderr)
	}
}

// TestSignBehindGate: `warden serve` with a policy requiring signatures in
// prod/ and no authentication: sign and verify cannot read the image (the
// gate answers HEAD with a bodiless 403). They show the gate's DENIED reason
// (fetched with GET), say what to do (docs/registry.md), and verify exits
// with the documented code.
func TestSignBehindGate(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("WARDEN_PASSWORD", "pw")
	if _, stderr, code := runWardenCmd(t, "keygen", "--output-key-prefix", filepath.Join(dir, "release")); code != 0 {
		t.Fatalf("keygen: %s", stderr)
	}
	writeFile(t, filepath.Join(dir, "policy.yaml"), "version: 1\ndefault: allow\nrules:\n  - name: prod\n    match: [\"registry.test/prod/**\"]\n    signatures: {keys: [release.pub]}\n")
	addr := startServe(t, "--cache-dir", t.TempDir(), "--root", t.TempDir(), "--no-scan", "--policy", filepath.Join(dir, "policy.yaml"), "--host", "registry.test")
	img, err := random.Image(200, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(addr+"/prod/app:1.0", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("push: %v", err)
	}
	mask := func(s string) string {
		s = strings.ReplaceAll(s, addr, "$REGISTRY")
		return strings.ReplaceAll(s, dir, "$DIR")
	}
	for _, r := range []run{
		{"sign-behind-gate", exitError, "refuses to show the image", []string{"sign", "--key", filepath.Join(dir, "release.key"), addr + "/prod/app:1.0"}},
		{"verify-behind-gate", exitError, "refuses to show the image", []string{"verify", "--key", filepath.Join(dir, "release.pub"), addr + "/prod/app:1.0"}},
		{"verify-attestation-behind-gate", exitError, "refuses to show the image", []string{"verify-attestation", "--key", filepath.Join(dir, "release.pub"), addr + "/prod/app:1.0"}},
	} {
		t.Run(r.name, func(t *testing.T) {
			_, stderr := transcriptRun(t, "gate", r, mask)
			for _, want := range []string{"DENIED", "docs/registry.md", "--htpasswd"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			if strings.Contains(stderr, "HEAD responses have no body") {
				t.Errorf("stderr still shows the bodiless HEAD error:\n%s", stderr)
			}
		})
	}
}
