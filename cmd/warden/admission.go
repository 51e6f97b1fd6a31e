package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/wardensec/warden/pkg/admission"
	"github.com/wardensec/warden/pkg/httpserve"
)

// admissionConfig is the --config file of `warden admission`.
type admissionConfig struct {
	WarnNamespaces []string `yaml:"warn_namespaces"`
	DockerConfig   string   `yaml:"docker_config"`
	Timeout        string   `yaml:"timeout"`
	CacheTTL       string   `yaml:"cache_ttl"`
	ResolveTTL     string   `yaml:"resolve_ttl"`
}

func newAdmissionCmd(g *globals) *cobra.Command {
	var (
		gf             gateFlags
		addr           string
		certFile       string
		keyFile        string
		configFile     string
		warnNamespaces []string
		inCluster      bool
	)
	cmd := &cobra.Command{
		Use:   "admission --addr HOST:PORT --tls-cert C --tls-key K --policy FILE",
		Short: "Kubernetes admission webhook: deny workloads whose images the policy refuses, pin the rest to digests",
		Long: `Serve a Kubernetes admission webhook over HTTPS (AdmissionReview admission.k8s.io/v1).
POST /validate denies a Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job or CronJob whose
container, init container or ephemeral container image the policy refuses, naming the image and
each reason; POST /mutate rewrites each allowed image to the digest that was verified (JSONPatch).
Registry credentials come from the pod's imagePullSecrets (read through the API server in a
cluster), else the Docker config. A timeout or an unreachable registry denies. Namespaces given
with --warn-namespace are admitted with warnings. See docs/admission.md.`,
		Example: `  warden admission --addr :8443 --tls-cert tls.crt --tls-key tls.key --policy policy.yaml
  warden admission manifests --image registry.example.com/warden:1 --ca-cert ca.crt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if certFile == "" || keyFile == "" {
				return errors.New("--tls-cert and --tls-key are required: the API server only calls webhooks over HTTPS")
			}
			if configFile != "" {
				b, err := os.ReadFile(configFile)
				if err != nil {
					return fmt.Errorf("--config: %w", err)
				}
				var c admissionConfig
				dec := yaml.NewDecoder(bytes.NewReader(b))
				dec.KnownFields(true)
				if err := dec.Decode(&c); err != nil {
					return fmt.Errorf("--config %s: %w", configFile, err)
				}
				warnNamespaces = append(warnNamespaces, c.WarnNamespaces...)
				if c.DockerConfig != "" && gf.dockerConfig == "" {
					gf.dockerConfig = c.DockerConfig
				}
				for _, d := range []struct {
					s         string
					dst       *time.Duration
					key, flag string
				}{{c.Timeout, &gf.timeout, "timeout", "timeout"}, {c.CacheTTL, &gf.cacheTTL, "cache_ttl", "cache-ttl"},
					{c.ResolveTTL, &gf.resolveTTL, "resolve_ttl", "resolve-ttl"}} {
					if d.s == "" || cmd.Flags().Changed(d.flag) {
						continue
					}
					v, err := time.ParseDuration(d.s)
					if err != nil {
						return fmt.Errorf("--config %s: %s: %w", configFile, d.key, err)
					}
					*d.dst = v
				}
			}
			gate, err := gf.gate(g)
			if err != nil {
				return err
			}
			opt := admission.Options{Gate: gate, WarnNamespaces: warnNamespaces, Logger: g.logger}
			if inCluster || os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
				sec, err := admission.InClusterSecrets()
				if err != nil {
					if inCluster {
						return fmt.Errorf("--in-cluster: %w", err)
					}
				} else {
					opt.Secrets = sec
				}
			}
			return serveAdmission(cmd.Context(), addr, certFile, keyFile, admission.New(opt), g.logger, cmd.ErrOrStderr())
		},
	}
	gf.add(cmd)
	cmd.Flags().StringVar(&addr, "addr", ":8443", "address to listen on")
	cmd.Flags().StringVar(&certFile, "tls-cert", "", "serving certificate (PEM)")
	cmd.Flags().StringVar(&keyFile, "tls-key", "", "its private key (PEM)")
	cmd.Flags().StringVar(&configFile, "config", "", "YAML settings: warn_namespaces, docker_config, timeout, cache_ttl, resolve_ttl")
	cmd.Flags().StringArrayVar(&warnNamespaces, "warn-namespace", nil, "admit with warnings instead of denying in this namespace (repeatable)")
	cmd.Flags().DurationVar(&gf.resolveTTL, "resolve-ttl", 0, "how long a tag's digest is remembered, so a cached decision needs no registry request; /mutate pins that digest (0: ask the registry on every review)")
	cmd.Flags().BoolVar(&inCluster, "in-cluster", false, "read imagePullSecrets through the API server (default: when running in a pod)")
	cmd.AddCommand(newAdmissionManifestsCmd())
	return cmd
}

func newAdmissionManifestsCmd() *cobra.Command {
	var (
		o      admission.ManifestOptions
		caFile string
	)
	cmd := &cobra.Command{
		Use: "manifests --image IMAGE --ca-cert FILE",
		Example: `  warden admission manifests --image registry.example.com/warden:1 --ca-cert ca.crt > warden-admission.yaml
  warden admission manifests --image registry.example.com/warden:1 --ca-cert ca.crt --warn-namespace staging`,
		Short: "Print the Kubernetes YAML that deploys the admission webhook",
		Long: `Print a ServiceAccount, a ClusterRole and binding (get secrets, for imagePullSecrets), a
Deployment and Service running ` + "`warden admission`" + `, and the Mutating- and
ValidatingWebhookConfiguration (failurePolicy Fail, namespaces labelled ` + admission.IgnoreLabel + ` and
kube-system left out). The serving certificate is read from the Secret --tls-secret, the policy
from the ConfigMap --policy-configmap; --ca-cert is the CA that signed the certificate.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if caFile == "" {
				return errors.New("--ca-cert FILE is required: the API server checks the webhook's certificate against it")
			}
			ca, err := os.ReadFile(caFile)
			if err != nil {
				return fmt.Errorf("--ca-cert: %w", err)
			}
			o.CABundle = ca
			b, err := admission.Manifests(o)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	cmd.Flags().StringVar(&o.Image, "image", "", "the warden container image")
	cmd.Flags().StringVar(&caFile, "ca-cert", "", "PEM of the CA that signed the webhook's serving certificate")
	cmd.Flags().StringVar(&o.Namespace, "namespace", "warden", "namespace of the webhook")
	cmd.Flags().StringVar(&o.Name, "name", "warden-admission", "name of its objects")
	cmd.Flags().StringVar(&o.TLSSecret, "tls-secret", "", "Secret with tls.crt and tls.key (default NAME-tls)")
	cmd.Flags().StringVar(&o.PolicyConfigMap, "policy-configmap", "warden-policy", "ConfigMap with policy.yaml")
	cmd.Flags().StringArrayVar(&o.WarnNamespaces, "warn-namespace", nil, "namespace admitted with warnings (repeatable)")
	cmd.Flags().Int32Var(&o.TimeoutSeconds, "webhook-timeout", 15, "seconds the API server waits for an answer (1-30)")
	cmd.Flags().StringVar(&o.URL, "url", "", "call the webhook at this https URL instead of a Service (no Deployment/Service printed)")
	return cmd
}

func serveAdmission(ctx context.Context, addr, cert, key string, h http.Handler, log *slog.Logger, stderr io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	fmt.Fprintf(stderr, "warden admission: listening on https://%s\n", ln.Addr())
	if err := httpserve.Run(ctx, 5*time.Second, httpserve.Listener{Server: srv, Listener: ln, CertFile: cert, KeyFile: key}); err != nil {
		return fmt.Errorf("warden admission: %w", err)
	}
	fmt.Fprintln(stderr, "warden admission: stopped")
	return nil
}
