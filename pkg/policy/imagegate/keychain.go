package imagegate

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// DockerConfig is a keychain of registry credentials from a Docker config:
// config.json and Kubernetes' .dockerconfigjson ({"auths": {HOST: {...}}})
// or the older .dockercfg ({HOST: {...}}).
type DockerConfig map[string]authn.AuthConfig

// ParseDockerConfig parses either form; what names the source in errors.
func ParseDockerConfig(what string, b []byte) (DockerConfig, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: not a Docker config: %w", what, err)
	}
	entries := doc
	if raw, ok := doc["auths"]; ok {
		entries = nil
		if err := json.Unmarshal(raw, &entries); err != nil {
			return nil, fmt.Errorf("%s: auths: %w", what, err)
		}
	}
	out := DockerConfig{}
	for host, raw := range entries {
		var e struct {
			Username, Password, Auth, IdentityToken, RegistryToken string
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			if _, ok := doc["auths"]; !ok {
				continue // a config.json key other than auths (credHelpers, ...)
			}
			return nil, fmt.Errorf("%s: auths[%q]: %w", what, host, err)
		}
		if e.Auth != "" && e.Username == "" {
			dec, err := base64.StdEncoding.DecodeString(e.Auth)
			if err != nil {
				return nil, fmt.Errorf("%s: auths[%q].auth is not base64: %w", what, host, err)
			}
			u, p, ok := strings.Cut(string(dec), ":")
			if !ok {
				return nil, fmt.Errorf("%s: auths[%q].auth is not user:password", what, host)
			}
			e.Username, e.Password = u, p
		}
		out[normHost(host)] = authn.AuthConfig{Username: e.Username, Password: e.Password,
			IdentityToken: e.IdentityToken, RegistryToken: e.RegistryToken}
	}
	return out, nil
}

// normHost reduces "https://index.docker.io/v1/" and the like to a host.
func normHost(h string) string {
	h = strings.TrimPrefix(strings.TrimPrefix(h, "https://"), "http://")
	if i := strings.Index(h, "/"); i >= 0 {
		h = h[:i]
	}
	switch h {
	case "docker.io", "registry-1.docker.io":
		return name.DefaultRegistry
	}
	return h
}

// Resolve implements authn.Keychain.
func (c DockerConfig) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if a, ok := c[normHost(r.RegistryStr())]; ok {
		return authn.FromConfig(a), nil
	}
	return authn.Anonymous, nil
}
