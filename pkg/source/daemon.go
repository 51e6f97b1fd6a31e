package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// The Docker Engine source talks to the Engine API directly (two calls:
// GET /images/{name}/json and GET /images/get) instead of importing the Docker
// client, whose dependency tree would weigh more than the rest of Warden. The
// export is streamed to a temporary file, read as a docker-archive, and removed
// by Image.Close.

// errNoEngine: no Docker Engine answers (a bare reference then goes to the registry).
var errNoEngine = errors.New("cannot reach the Docker Engine")

// engineError is what the Engine at host answered (or why it could not be
// reached), for a bare reference's message: "not in the Docker Engine (…)".
type engineError struct {
	host string
	msg  string // the Engine's own message, when it answered
	err  error
}

func (e *engineError) Error() string { return e.err.Error() }
func (e *engineError) Unwrap() error { return e.err }

type dockerClient struct {
	http *http.Client
	base string // "http://docker" for a unix socket, "http://host:port" for tcp
	host string // for messages
}

func newDockerClient(host string) (*dockerClient, error) {
	if host == "" {
		host = os.Getenv("DOCKER_HOST")
	}
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	u, err := url.Parse(host)
	if err != nil {
		return nil, fmt.Errorf("docker host %q: %w", host, err)
	}
	tr := &http.Transport{ResponseHeaderTimeout: 30 * time.Second}
	c := &dockerClient{http: &http.Client{Transport: tr}, host: host}
	switch u.Scheme {
	case "unix":
		sock := u.Path
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}
		c.base = "http://docker"
	case "tcp", "http":
		if os.Getenv("DOCKER_TLS_VERIFY") != "" {
			return nil, fmt.Errorf("docker host %q: TLS to the Docker Engine is not supported; use the unix socket or docker save", host)
		}
		c.base = "http://" + u.Host
	default:
		return nil, fmt.Errorf("docker host %q: unsupported scheme %q (unix or tcp)", host, u.Scheme)
	}
	return c, nil
}

func (c *dockerClient) get(ctx context.Context, path string, query url.Values) (*http.Response, error) {
	u := &url.URL{Path: path, RawQuery: query.Encode()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &engineError{host: c.host, err: fmt.Errorf("%w at %s: %w", errNoEngine, c.host, err)}
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var msg struct {
			Message string `json:"message"`
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &msg) != nil || msg.Message == "" {
			msg.Message = strings.TrimSpace(string(b))
		}
		err := fmt.Errorf("Docker Engine: %s (HTTP %d)", msg.Message, resp.StatusCode)
		if resp.StatusCode == http.StatusNotFound {
			err = fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		return nil, &engineError{host: c.host, msg: msg.Message, err: err}
	}
	return resp, nil
}

func openDaemon(ctx context.Context, ref string, plat platformReq, opt Options) (*Image, error) {
	if ref == "" {
		return nil, fmt.Errorf("%w: docker: no image name", ErrNotFound)
	}
	c, err := newDockerClient(opt.DockerHost)
	if err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	resp, err := c.get(ctx, "/images/"+ref+"/json", nil)
	if err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	var inspect struct {
		ID       string   `json:"Id"`
		RepoTags []string `json:"RepoTags"`
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, maxManifestSize)).Decode(&inspect)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("docker: inspecting: %w", err)
	}
	opt.Logger.Debug("exporting from the Docker Engine", "ref", ref, "id", inspect.ID)

	f, err := os.CreateTemp(opt.TempDir, "warden-docker-*.tar")
	if err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	cleanup := func() error {
		err := f.Close()
		if rerr := os.Remove(f.Name()); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			return rerr
		}
		return err
	}
	img, err := exportDaemon(ctx, c, ref, f, plat)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("docker: %w", err)
	}
	img.onClose(cleanup)
	img.Kind = KindDocker
	img.RepoTags = inspect.RepoTags
	if r, err := name.ParseReference(ref); err == nil {
		img.Ref = r
	}
	return img, nil
}

func exportDaemon(ctx context.Context, c *dockerClient, ref string, f *os.File, plat platformReq) (*Image, error) {
	resp, err := c.get(ctx, "/images/get", url.Values{"names": {ref}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	size, err := io.Copy(f, resp.Body)
	if err != nil {
		return nil, fmt.Errorf("exporting: %w", err)
	}
	return openArchive(f, size, KindDockerArchive, "", plat, nil)
}
