//go:build grypedb

// Command grypedb builds a Grype database (schema v6) offline from vunnel's flat-file provider results, by
// grype/db.Build, so that bench/scan.sh can run Grype with the same advisory data as Warden. The results come from
// bench/cmd/peerdata -vunnel; this adds each provider's listing ("checksums", xxh64) and metadata.json (vunnel's
// provider-workspace-state) and runs the build, hydrated, into OUT (use GRYPE_DB_CACHE_DIR=DIR with OUT=DIR/6).
//
// Grype is never a dependency of Warden's module: the build tag keeps this file out of it, and bench/peers.sh
// builds it in a throwaway module under /tmp/peers that requires github.com/anchore/grype.
//
// Usage: grypedb -results VUNNEL_DIR -out DIR/6
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/OneOfOne/xxhash"

	"github.com/anchore/grype/grype/db"
	"github.com/anchore/grype/grype/db/provider"
)

func main() {
	results := flag.String("results", "", "directory of vunnel providers (PROVIDER/results/...)")
	out := flag.String("out", "", "directory to write vulnerability.db and import.json into")
	flag.Parse()
	if *results == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*results, *out); err != nil {
		fmt.Fprintln(os.Stderr, "grypedb:", err)
		os.Exit(1)
	}
}

func run(root, out string) error {
	dirs, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	var states provider.States
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		pdir := filepath.Join(root, d.Name())
		var files []string
		err := filepath.WalkDir(filepath.Join(pdir, "results"), func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(pdir, p)
			files = append(files, rel)
			return nil
		})
		if err != nil {
			return fmt.Errorf("provider %s: %w", d.Name(), err)
		}
		sort.Strings(files)
		var listing bytes.Buffer
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(pdir, f))
			if err != nil {
				return err
			}
			fmt.Fprintf(&listing, "%x  %s\n", xxhash.Checksum64(b), f)
		}
		if err := os.WriteFile(filepath.Join(pdir, "checksums"), listing.Bytes(), 0o644); err != nil {
			return err
		}
		meta := strings.NewReplacer("{provider}", d.Name(), "{timestamp}", now.Format(time.RFC3339),
			"{digest}", fmt.Sprintf("%x", xxhash.Checksum64(listing.Bytes()))).Replace(`{
  "provider": "{provider}",
  "urls": ["file://{provider}"],
  "store": "flat-file",
  "timestamp": "{timestamp}",
  "version": 1,
  "distribution_version": 1,
  "processor": "warden-bench",
  "listing": {"digest": "{digest}", "path": "checksums", "algorithm": "xxh64"},
  "schema": {"version": "1.0.3", "url": "https://raw.githubusercontent.com/anchore/vunnel/main/schema/provider-workspace-state/schema-1.0.3.json"},
  "stale": false
}`)
		mpath := filepath.Join(pdir, "metadata.json")
		if err := os.WriteFile(mpath, []byte(meta), 0o644); err != nil {
			return err
		}
		st, err := provider.ReadState(mpath)
		if err != nil {
			return fmt.Errorf("provider %s: %w", d.Name(), err)
		}
		fmt.Printf("provider %s: %d result files\n", d.Name(), len(files))
		states = append(states, *st)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	return db.Build(db.BuildConfig{
		SchemaVersion: 6,
		Directory:     out,
		States:        states,
		Timestamp:     now,
		Hydrate:       true,
		BatchSize:     db.DefaultBatchSize,
	})
}
