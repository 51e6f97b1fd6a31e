package admission

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ServiceAccountDir is where a pod finds its service account's token and CA.
const ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// APISecrets reads Secrets through the Kubernetes API server with a bearer
// token (the webhook's service account; RBAC in `warden admission manifests`
// grants it get on secrets).
type APISecrets struct {
	Server    string // https://host:port
	TokenFile string // re-read on every request: projected tokens rotate
	Client    *http.Client
}

// InClusterSecrets configures APISecrets from the pod's environment
// (KUBERNETES_SERVICE_HOST/PORT and the service account directory).
func InClusterSecrets() (*APISecrets, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, fmt.Errorf("not in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set")
	}
	ca, err := os.ReadFile(filepath.Join(ServiceAccountDir, "ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("reading the service account CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("%s/ca.crt holds no certificate", ServiceAccountDir)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	return &APISecrets{Server: "https://" + host + ":" + port, TokenFile: filepath.Join(ServiceAccountDir, "token"),
		Client: &http.Client{Transport: tr, Timeout: 10 * time.Second}}, nil
}

// DockerConfig implements SecretReader.
func (a *APISecrets) DockerConfig(ctx context.Context, ns, name string) ([]byte, error) {
	u := a.Server + "/api/v1/namespaces/" + url.PathEscape(ns) + "/secrets/" + url.PathEscape(name)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if a.TokenFile != "" {
		tok, err := os.ReadFile(a.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("reading the service account token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	req.Header.Set("Accept", "application/json")
	c := a.Client
	if c == nil {
		c = http.DefaultClient
	}
	res, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reading secret %s/%s: %w", ns, name, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("reading secret %s/%s: %w", ns, name, err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("reading secret %s/%s: %s", ns, name, res.Status)
	}
	var sec secret
	if err := json.Unmarshal(b, &sec); err != nil {
		return nil, fmt.Errorf("decoding secret %s/%s: %w", ns, name, err)
	}
	for _, k := range []string{dockerConfigJSONKey, dockerConfigKey} {
		if d, ok := sec.Data[k]; ok {
			return d, nil
		}
	}
	return nil, fmt.Errorf("secret %s/%s (type %s) has no %s", ns, name, sec.Type, dockerConfigJSONKey)
}
