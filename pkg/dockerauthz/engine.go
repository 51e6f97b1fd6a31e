package dockerauthz

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// EngineAPI reads image metadata from a Docker Engine's API.
type EngineAPI struct {
	client *http.Client
	base   string
}

// NewEngineAPI returns a client of the Engine at host: "unix:///path" or
// "tcp://host:port" (DOCKER_HOST's forms).
func NewEngineAPI(host string) (*EngineAPI, error) {
	switch {
	case strings.HasPrefix(host, "unix://"):
		sock := strings.TrimPrefix(host, "unix://")
		tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}
		return &EngineAPI{client: &http.Client{Transport: tr, Timeout: 30 * time.Second}, base: "http://docker"}, nil
	case strings.HasPrefix(host, "tcp://"):
		return &EngineAPI{client: &http.Client{Timeout: 30 * time.Second}, base: "http://" + strings.TrimPrefix(host, "tcp://")}, nil
	}
	return nil, fmt.Errorf("Engine address %q: want unix:///PATH or tcp://HOST:PORT", host)
}

// RepoDigests implements Engine with GET /images/{name}/json.
func (e *EngineAPI) RepoDigests(ctx context.Context, image string) ([]string, bool, error) {
	u := url.URL{Path: "/images/" + image + "/json"}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.base+u.EscapedPath(), nil)
	if err != nil {
		return nil, false, err
	}
	res, err := e.client.Do(req)
	if err != nil {
		return nil, false, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return nil, false, err
	}
	switch res.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, false, nil
	default:
		return nil, false, fmt.Errorf("GET /images/%s/json: %s: %s", image, res.Status, strings.TrimSpace(string(body)))
	}
	var out struct{ RepoDigests []string }
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, false, fmt.Errorf("decoding the Engine's inspect of %s: %w", image, err)
	}
	return out.RepoDigests, true, nil
}
