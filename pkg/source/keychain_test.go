package source

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/cli/cli/config"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// hostileConfig is a Docker config as a developer's machine may have one: the
// credentials of another registry and a credsStore whose helper is not
// installed (issue #19: the package's tests read the machine's config).
const hostileConfig = `{"auths":{"other.example":{"auth":"b3RoZXI6c2VjcmV0"}},"credsStore":"warden-test-missing"}`

// TestMain runs every test of the package with a HOME whose ~/.docker holds
// hostileConfig, and DOCKER_CONFIG pointing at an empty directory: a test that
// reached the HOME config would fail on the missing credential helper. Tests
// that need credentials give their own directory (Options.DockerConfig).
func TestMain(m *testing.M) {
	os.Exit(func() int {
		top, err := os.MkdirTemp("", "warden-source-home-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(top)
		home := filepath.Join(top, "home")
		if err := writeConfig(filepath.Join(home, ".docker"), hostileConfig); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		empty := filepath.Join(top, "docker-config")
		os.MkdirAll(empty, 0o700)
		os.Setenv("HOME", home)
		os.Setenv("DOCKER_CONFIG", empty)
		for _, v := range []string{"REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME"} {
			os.Unsetenv(v)
		}
		return m.Run()
	}())
}

func writeConfig(dir, content string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.json"), []byte(content), 0o600)
}

func basicConfig(host, user, pass string) string {
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	return fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, auth)
}

func resolveBasic(t *testing.T, kc authn.Keychain, reg string) (*authn.AuthConfig, error) {
	t.Helper()
	r, err := name.NewRegistry(reg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := kc.Resolve(r)
	if err != nil {
		return nil, err
	}
	return a.Authorization()
}

func TestDockerConfigKeychain(t *testing.T) {
	const reg = "registry.test:5000"
	withCreds := t.TempDir()
	if err := writeConfig(withCreds, basicConfig(reg, "alice", "pw")); err != nil {
		t.Fatal(err)
	}

	// An explicit directory is the only place read, whatever HOME holds.
	got, err := resolveBasic(t, DockerConfigKeychain(withCreds), reg)
	if err != nil || got.Username != "alice" || got.Password != "pw" {
		t.Errorf("explicit config: %+v, %v", got, err)
	}
	got, err = resolveBasic(t, DockerConfigKeychain(t.TempDir()), reg)
	if err != nil || *got != (authn.AuthConfig{}) {
		t.Errorf("explicit empty directory: %+v, %v, want anonymous", got, err)
	}

	// The default reads HOME when it resolves: the hostile config's missing
	// helper is reported, naming the file.
	t.Setenv("DOCKER_CONFIG", "")
	_, err = resolveBasic(t, DockerConfigKeychain(""), reg)
	if err == nil || !strings.Contains(err.Error(), "warden-test-missing") || !strings.Contains(err.Error(), filepath.Join(".docker", "config.json")) {
		t.Errorf("HOME config with a missing credsStore: %v", err)
	}

	// docker/cli fixes its config directory once per process (config.Dir);
	// the default keychain must not: pin it to HOME now, then move HOME.
	_ = config.Dir()
	home := t.TempDir()
	if err := writeConfig(filepath.Join(home, ".docker"), basicConfig(reg, "bob", "pw2")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	got, err = resolveBasic(t, DockerConfigKeychain(""), reg)
	if err != nil || got.Username != "bob" {
		t.Errorf("after HOME moved: %+v, %v, want bob's credentials", got, err)
	}
	// $DOCKER_CONFIG wins over HOME, as for docker.
	t.Setenv("DOCKER_CONFIG", withCreds)
	if got, err = resolveBasic(t, DockerConfigKeychain(""), reg); err != nil || got.Username != "alice" {
		t.Errorf("DOCKER_CONFIG: %+v, %v, want alice's credentials", got, err)
	}

	// Without any Docker config, Podman's auth file.
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	podman := filepath.Join(t.TempDir(), "auth.json")
	os.WriteFile(podman, []byte(basicConfig(reg, "carol", "pw3")), 0o600)
	t.Setenv("REGISTRY_AUTH_FILE", podman)
	if got, err = resolveBasic(t, DockerConfigKeychain(""), reg); err != nil || got.Username != "carol" {
		t.Errorf("REGISTRY_AUTH_FILE: %+v, %v, want carol's credentials", got, err)
	}

	// Docker Hub's credentials are stored under the legacy index key.
	hub := t.TempDir()
	writeConfig(hub, basicConfig(authn.DefaultAuthKey, "dave", "pw4"))
	if got, err = resolveBasic(t, DockerConfigKeychain(hub), name.DefaultRegistry); err != nil || got.Username != "dave" {
		t.Errorf("Docker Hub: %+v, %v, want dave's credentials", got, err)
	}

	// A config that does not parse is an error naming it, not anonymous access.
	bad := t.TempDir()
	writeConfig(bad, "{not json")
	if _, err = resolveBasic(t, DockerConfigKeychain(bad), reg); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("unparsable config: %v", err)
	}
}
