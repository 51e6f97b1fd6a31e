package main

import (
	"fmt"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/spf13/cobra"

	"github.com/wardensec/warden/pkg/cachedir"
	"github.com/wardensec/warden/pkg/policy"
	"github.com/wardensec/warden/pkg/policy/imagegate"
	"github.com/wardensec/warden/pkg/sign"
)

// gateFlags are the flags of the runtime enforcement points (`warden
// admission`, `warden docker-authz`), which decide through imagegate.
type gateFlags struct {
	policyPath   string
	keyPaths     []string
	dockerConfig string
	timeout      time.Duration
	cacheTTL     time.Duration
	resolveTTL   time.Duration // `warden admission --resolve-ttl` only
}

func (f *gateFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.policyPath, "policy", "p", "", "policy file (YAML, docs/policy.md)")
	cmd.Flags().StringArrayVar(&f.keyPaths, "key", nil, "trusted public key for rules whose signatures/attestations list no keys (repeatable)")
	cmd.Flags().StringVar(&f.dockerConfig, "docker-config", "", "Docker config.json with registry credentials (default: $DOCKER_CONFIG, ~/.docker)")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 10*time.Second, "time one decision may take; a slower one denies (fail closed)")
	cmd.Flags().DurationVar(&f.cacheTTL, "cache-ttl", 5*time.Minute, "how long an allowed image digest is remembered (0: never)")
}

// gate loads the policy and keys and returns the decision engine.
func (f *gateFlags) gate(g *globals) (*imagegate.Gate, error) {
	if f.policyPath == "" {
		return nil, fmt.Errorf("--policy FILE is required")
	}
	pol, err := policy.Load(f.policyPath)
	if err != nil {
		return nil, fmt.Errorf("--policy: %w", err)
	}
	var keys []policy.Key
	for _, p := range f.keyPaths {
		pub, err := sign.LoadPublicKey(p)
		if err != nil {
			return nil, fmt.Errorf("--key: %w", err)
		}
		keys = append(keys, policy.Key{Path: p, Public: pub, ID: sign.KeyID(pub)})
	}
	var kc authn.Keychain = authn.DefaultKeychain
	if f.dockerConfig != "" {
		b, err := os.ReadFile(f.dockerConfig)
		if err != nil {
			return nil, fmt.Errorf("--docker-config: %w", err)
		}
		dc, err := imagegate.ParseDockerConfig(f.dockerConfig, b)
		if err != nil {
			return nil, fmt.Errorf("--docker-config: %w", err)
		}
		kc = dc
	}
	opt := imagegate.Options{Policy: pol, Keys: keys, Keychain: kc, Timeout: f.timeout, CacheTTL: f.cacheTTL, ResolveTTL: f.resolveTTL, Logger: g.logger}
	if dir, err := g.stateDir(); err == nil {
		opt.DBPath = cachedir.DBPath(dir)
	}
	return imagegate.New(opt), nil
}
