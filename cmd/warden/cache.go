package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardensec/warden/pkg/cachedir"
	"github.com/wardensec/warden/pkg/layercache"
)

// defaultPruneAge is how long `cache prune` keeps layer results nobody used.
const defaultPruneAge = 30 * 24 * time.Hour

func newCacheCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Manage the per-layer cache (status, prune)",
	}
	cmd.AddCommand(newCacheStatusCmd(g), newCachePruneCmd(g))
	return cmd
}

func openLayerCache(g *globals) (*layercache.Cache, error) {
	dir, err := g.stateDir()
	if err != nil {
		return nil, err
	}
	return layercache.Open(cachedir.LayerCachePath(dir))
}

func newCacheStatusCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "status",
		Short:   "Show the layer cache's file, size and entries",
		Example: "  warden cache status\n  warden cache status --json --cache-dir /var/cache/warden",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := openLayerCache(g)
			if err != nil {
				return err
			}
			st, err := c.Stats()
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), st)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "layer cache: %s\nsize: %.1f MB\nlayer results: %d\nremembered archive digests: %d\n",
				st.Path, float64(st.Size)/1e6, st.Results, st.Digests)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return cmd
}

func newCachePruneCmd(g *globals) *cobra.Command {
	var olderThan time.Duration
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove layer results not used for a while (--older-than, default 720h)",
		Example: `  warden cache prune
  warden cache prune --older-than 168h
  warden cache prune --older-than 0   # everything`,
		Long: `Remove the layer results that no scan stored or used for longer than
--older-than, and the remembered digests of archive files older than that.
--older-than 0 empties the cache. The next scan of a pruned layer reads it again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if olderThan < 0 {
				return fmt.Errorf("--older-than %s: must not be negative", olderThan)
			}
			c, err := openLayerCache(g)
			if err != nil {
				return err
			}
			res, err := c.Prune(olderThan)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %d layer results (%d kept) and %d archive digests (%d kept)\n",
				res.Removed, res.Kept, res.RemovedDigests, res.KeptDigests)
			return nil
		},
	}
	cmd.Flags().DurationVar(&olderThan, "older-than", defaultPruneAge, "remove results not used for this long (0: all)")
	return cmd
}
