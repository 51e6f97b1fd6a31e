package main

import (
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/wardensec/warden/pkg/cachedir"
)

// globals are the flags every command shares.
type globals struct {
	cacheDir string
	verbose  bool
	logger   *slog.Logger
}

// stateDir resolves the state directory (--cache-dir, $WARDEN_CACHE_DIR, user cache dir).
func (g *globals) stateDir() (string, error) { return cachedir.Resolve(g.cacheDir) }

func newRootCmd() *cobra.Command {
	g := &globals{logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	root := &cobra.Command{
		Use:           "warden",
		Short:         "Container image security: vulnerability scanning, SBOMs, signatures, policy, registry",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			if g.verbose {
				g.logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
			}
		},
	}
	root.Version = stampedOr(versionString)
	root.SetVersionTemplate("warden {{.Version}}\n")
	root.PersistentFlags().StringVar(&g.cacheDir, "cache-dir", "", "directory for all of Warden's state (default $WARDEN_CACHE_DIR or the user cache dir)")
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "log progress to stderr")

	// The explicit list of commands.
	root.AddCommand(
		newScanCmd(g),
		newSBOMCmd(g),
		newDBCmd(g),
		newCacheCmd(g),
		newKeygenCmd(g),
		newSignCmd(g),
		newSignBlobCmd(),
		newVerifyCmd(g),
		newVerifyBlobCmd(g),
		newAttestCmd(g),
		newVerifyAttestationCmd(g),
		newCheckCmd(g),
		newLintCmd(g),
		newServeCmd(g),
		newDockerAuthzCmd(g),
		newAdmissionCmd(g),
		newVersionCmd(),
	)
	return root
}
