package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardensec/warden/pkg/dockerauthz"
	"github.com/wardensec/warden/pkg/httpserve"
)

func newDockerAuthzCmd(g *globals) *cobra.Command {
	var (
		gf     gateFlags
		socket string
		engine string
	)
	cmd := &cobra.Command{
		Use:   "docker-authz --socket PATH --policy FILE",
		Short: "Docker Engine authorization plugin: refuse pulls and runs of images the policy refuses",
		Long: `Serve Docker's AuthZ plugin protocol on a unix socket. The Engine asks it about every API
call; it denies, with the policy's reasons, a pull (POST /images/create), a container create
(the image resolved through the Engine to its registry digests) and a swarm service create or
update of an image the policy refuses, and allows everything else. An image the policy cannot
verify (no registry digest, an unreachable registry, a timeout) is refused. See docs/docker-authz.md.`,
		Example: `  warden docker-authz --socket /run/docker/plugins/warden.sock --policy /etc/warden/policy.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if socket == "" {
				return errors.New("--socket PATH is required")
			}
			gate, err := gf.gate(g)
			if err != nil {
				return err
			}
			eng, err := dockerauthz.NewEngineAPI(engine)
			if err != nil {
				return fmt.Errorf("--engine: %w", err)
			}
			plugin := dockerauthz.New(dockerauthz.Options{Gate: gate, Engine: eng, Logger: g.logger})
			return serveUnix(cmd.Context(), socket, plugin, g.logger, cmd.ErrOrStderr())
		},
	}
	gf.add(cmd)
	cmd.Flags().StringVar(&socket, "socket", "", "unix socket to listen on (e.g. /run/docker/plugins/warden.sock)")
	cmd.Flags().StringVar(&engine, "engine", "unix:///var/run/docker.sock", "the Engine's API, to resolve a local image to its registry digests")
	return cmd
}

// serveUnix serves h on a unix socket until ctx ends; a stale socket file is replaced.
func serveUnix(ctx context.Context, socket string, h http.Handler, log *slog.Logger, stderr io.Writer) error {
	if err := os.MkdirAll(filepath.Dir(socket), 0o755); err != nil {
		return fmt.Errorf("--socket: %w", err)
	}
	if fi, err := os.Lstat(socket); err == nil && fi.Mode()&os.ModeSocket != 0 {
		_ = os.Remove(socket)
	}
	ln, err := net.Listen("unix", socket)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", socket, err)
	}
	defer os.Remove(socket)
	if err := os.Chmod(socket, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("--socket: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	fmt.Fprintf(stderr, "warden docker-authz: listening on %s\n", socket)
	if err := httpserve.Run(ctx, 5*time.Second, httpserve.Listener{Server: srv, Listener: ln}); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "warden docker-authz: stopped")
	return nil
}
