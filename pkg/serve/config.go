package serve

import (
	"bytes"
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/wardensec/warden/pkg/registry/auth"
)

// Config is the configuration of `warden serve`: the --config file (YAML,
// docs/registry.md), which the command's flags override.
type Config struct {
	Addr string `yaml:"addr"`
	Root string `yaml:"root"`
	// Storage is where blobs live: a directory (default Root) or
	// s3://BUCKET/PREFIX?endpoint=URL&region=R (credentials from AWS_* variables).
	Storage string `yaml:"storage"`
	// StorageRedirect answers blob GETs with a presigned URL of the object store.
	StorageRedirect bool `yaml:"storageRedirect"`
	// Meta is the metadata database: SQLite in Root (default) or postgres://... ,
	// which several replicas share.
	Meta string `yaml:"meta"`
	// MetricsAddr serves /metrics on its own listener (no authentication)
	// instead of on the registry port (where it needs the same login as the API).
	MetricsAddr string `yaml:"metricsAddr"`
	// GC runs online garbage collection every Interval (one replica per
	// interval), keeping blobs younger than Grace (default 1h).
	GC struct {
		Interval string `yaml:"interval"`
		Grace    string `yaml:"grace"`
	} `yaml:"gc"`
	// Upstream turns on gateway mode (pull-through cache with the same scanning and policy).
	Upstream string `yaml:"upstream"`
	TLS      struct {
		Cert string `yaml:"cert"`
		Key  string `yaml:"key"`
	} `yaml:"tls"`
	Auth struct {
		Htpasswd      string      `yaml:"htpasswd"`
		Token         bool        `yaml:"token"`
		TokenKeyFile  string      `yaml:"tokenKeyFile"`
		TokenTTL      string      `yaml:"tokenTTL"`
		AnonymousPull bool        `yaml:"anonymousPull"`
		Access        []auth.Rule `yaml:"access"`
	} `yaml:"auth"`
	Scan struct {
		Disabled bool `yaml:"disabled"`
		Workers  int  `yaml:"workers"`
		// Webhook receives new findings when a database update re-matches stored images.
		Webhook string `yaml:"webhook"`
		// DBCheck is how often the database is checked for updates (default 1m).
		DBCheck string `yaml:"dbCheck"`
	} `yaml:"scan"`
	// Policy is a policy file (docs/policy.md) enforced on pull: the same
	// policy.Evaluate as `warden check`.
	Policy string `yaml:"policy"`
	// TrustedKeys are public key files (PEM) the UI and API verify signatures
	// against in every repository, besides the covering policy rule's keys.
	TrustedKeys []string `yaml:"trustedKeys"`
	// Host is the registry's name as clients write it; policy patterns see
	// Host/repository (default: the listen address).
	Host string `yaml:"host"`
	// Gate is a simpler built-in gate (severity only), for use without a policy.
	Gate struct {
		Repos          []string `yaml:"repos"`
		MaxSeverity    string   `yaml:"maxSeverity"`
		AllowUnscanned bool     `yaml:"allowUnscanned"`
	} `yaml:"gate"`
}

// LoadConfig reads a configuration file; unknown keys are errors. An empty
// file name gives the zero Config.
func LoadConfig(file string) (*Config, error) {
	c := &Config{}
	if file == "" {
		return c, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("--config %s: %w", file, err)
	}
	return c, nil
}
