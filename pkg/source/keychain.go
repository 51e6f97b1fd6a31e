package source

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// DockerConfigKeychain returns registry credentials as `docker login` stores
// them: config.json in dir, with its auths, credsStore and credHelpers.
//
// dir "" means the process's Docker config, located at each resolve:
// $DOCKER_CONFIG, else $HOME/.docker; without a config.json there, Podman's
// auth file ($REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json,
// $XDG_CONFIG_HOME or ~/.config/containers/auth.json); without any, anonymous.
//
// authn.DefaultKeychain is not used: it loads through docker/cli's config.Dir,
// which fixes the directory once per process, so a later change of HOME or
// DOCKER_CONFIG (a test's, a server's) was silently ignored and another
// config's credentials were sent.
func DockerConfigKeychain(dir string) authn.Keychain { return configKeychain{dir: dir} }

type configKeychain struct{ dir string }

func (k configKeychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	cf, where, err := k.load()
	if err != nil {
		return nil, err
	}
	if cf == nil {
		return authn.Anonymous, nil
	}
	// The registry's full name first, then its host, as docker does; Docker
	// Hub's credentials are stored under its legacy key.
	for _, key := range []string{target.String(), target.RegistryStr()} {
		if key == name.DefaultRegistry {
			key = authn.DefaultAuthKey
		}
		cfg, err := cf.GetAuthConfig(key)
		if err != nil {
			return nil, fmt.Errorf("registry credentials for %s from %s: %w", key, where, err)
		}
		cfg.ServerAddress = "" // set by GetAuthConfig; not a credential
		if cfg != (types.AuthConfig{}) {
			return authn.FromConfig(authn.AuthConfig{
				Username: cfg.Username, Password: cfg.Password, Auth: cfg.Auth,
				IdentityToken: cfg.IdentityToken, RegistryToken: cfg.RegistryToken,
			}), nil
		}
	}
	return authn.Anonymous, nil
}

// load reads the config file; nil without error means there is none.
func (k configKeychain) load() (*configfile.ConfigFile, string, error) {
	dir := k.dir
	if dir == "" {
		dir = os.Getenv(config.EnvOverrideConfigDir)
	}
	if dir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".docker")
		}
	}
	if dir != "" {
		p := filepath.Join(dir, config.ConfigFileName)
		if exists(p) {
			// An explicit directory: config.Load never consults config.Dir.
			cf, err := config.Load(dir)
			if err != nil {
				return nil, "", fmt.Errorf("reading Docker config %s: %w", p, err)
			}
			return cf, p, nil
		}
	}
	if k.dir != "" {
		return nil, "", nil // an explicit directory is the only place looked at
	}
	for _, p := range podmanAuthFiles() {
		if !exists(p) {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, "", fmt.Errorf("reading registry auth file %s: %w", p, err)
		}
		cf, err := config.LoadFromReader(f)
		f.Close()
		if err != nil {
			return nil, "", fmt.Errorf("reading registry auth file %s: %w", p, err)
		}
		return cf, p, nil
	}
	return nil, "", nil
}

func podmanAuthFiles() []string {
	var out []string
	if p := os.Getenv("REGISTRY_AUTH_FILE"); p != "" {
		out = append(out, p)
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		out = append(out, filepath.Join(d, "containers", "auth.json"))
	}
	conf := os.Getenv("XDG_CONFIG_HOME")
	if conf == "" {
		if home, err := os.UserHomeDir(); err == nil {
			conf = filepath.Join(home, ".config")
		}
	}
	if conf != "" {
		out = append(out, filepath.Join(conf, "containers", "auth.json"))
	}
	return out
}

func exists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() || err != nil && !errors.Is(err, fs.ErrNotExist)
}
