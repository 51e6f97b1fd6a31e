package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wardensec/warden/pkg/lint"
	"github.com/wardensec/warden/pkg/source"
)

func newLintCmd(g *globals) *cobra.Command {
	var (
		inv         invFlags
		format      string
		failOn      string
		maxSizeMB   int64
		maxPackages int
		noFiles     bool
	)
	cmd := &cobra.Command{
		Use:   "lint IMAGE",
		Short: "Check an image against best practices (CIS Docker Benchmark image items)",
		Long: `Check an image against best practices: the user it runs as, secrets in its environment,
build history and files (a secret deleted by a later layer still counts), setuid/setgid files,
package-manager caches, ADD of remote URLs and curl|sh in its history, a missing HEALTHCHECK,
the latest tag, its size and its package count. Each finding has an id, a severity, why it
matters and how to fix it.

Exit status: 0, or 3 when a finding is at or above --fail-on; 1 on error.`,
		Example: `  warden lint registry:localhost:5000/app:1.0
  warden lint docker-archive:app.tar --format json --fail-on high --max-size-mb 200`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			defer softMemoryLimit()()
			if format != "table" && format != "json" {
				return fmt.Errorf("--format %q: want table or json", format)
			}
			failOn = strings.ToUpper(failOn)
			if failOn != "" && lint.SeverityRank(failOn) == 0 {
				return fmt.Errorf("--fail-on %q: want one of %s", failOn, strings.Join(lint.Severities, ", "))
			}
			ctx := cmd.Context()
			img, err := invOpen(ctx, g, args[0], &inv)
			if err != nil {
				return err
			}
			defer img.Close()
			opt := lint.Options{
				Reference: lintReference(img), Tags: img.RepoTags,
				MaxSizeMB: maxSizeMB, MaxPackages: maxPackages, Packages: -1,
				NoFiles: noFiles, Logger: g.logger,
			}
			if maxPackages > 0 {
				in, err := invInventory(ctx, g, img, &inv)
				if err != nil {
					return err
				}
				opt.Packages = len(in.Packages)
			}
			rep, err := lint.Lint(ctx, img.Image, opt)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				err = writeLintJSON(out, img.Name, rep)
			} else {
				err = writeLintTable(out, img.Name, rep)
			}
			if err != nil {
				return err
			}
			if failOn != "" {
				if bad := rep.AtLeast(failOn); len(bad) > 0 {
					return withCode(exitFail, fmt.Errorf("%d finding(s) at or above %s", len(bad), failOn))
				}
			}
			return nil
		},
	}
	inv.add(cmd)
	cmd.Flags().StringVarP(&format, "format", "f", "table", "output format: table or json")
	cmd.Flags().StringVar(&failOn, "fail-on", "", "exit 3 when a finding has this severity or higher ("+strings.Join(lint.Severities, ", ")+")")
	cmd.Flags().Int64Var(&maxSizeMB, "max-size-mb", 0, "report an image larger than this many MB uncompressed (0: no limit)")
	cmd.Flags().IntVar(&maxPackages, "max-packages", 0, "report an image with more installed packages than this (0: no limit)")
	cmd.Flags().BoolVar(&noFiles, "no-files", false, "check only the config and history, not the layers' files")
	return cmd
}

// lintReference is the reference to judge for the tag check: only registry
// and Docker Engine images have tags in their reference.
func lintReference(img *source.Image) string {
	switch img.Kind {
	case source.KindRegistry, source.KindDocker:
		return img.Name
	}
	return ""
}

type lintJSON struct {
	Image string `json:"image"`
	*lint.Report
}

func writeLintJSON(w io.Writer, name string, rep *lint.Report) error {
	if rep.Findings == nil {
		rep.Findings = []lint.Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(lintJSON{Image: name, Report: rep})
}

func writeLintTable(w io.Writer, name string, rep *lint.Report) error {
	counts := map[string]int{}
	for _, f := range rep.Findings {
		counts[f.Severity]++
	}
	var parts []string
	for _, s := range lint.Severities {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	summary := "no findings"
	if len(parts) > 0 {
		summary = fmt.Sprintf("%d finding(s): %s", len(rep.Findings), strings.Join(parts, ", "))
	}
	fmt.Fprintf(w, "%s — %d layers, %.1f MB — %s\n", name, rep.Layers, float64(max(rep.SizeBytes, rep.CompressedBytes))/(1<<20), summary)
	if len(rep.Findings) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSEVERITY\tTITLE\tDETAIL")
	seen := map[string]bool{}
	var ids []string
	for _, f := range rep.Findings {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.ID, f.Severity, f.Title, f.Detail)
		if !seen[f.ID] {
			seen[f.ID] = true
			ids = append(ids, f.ID)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	sort.Strings(ids)
	fmt.Fprintln(w)
	for _, id := range ids {
		r, _ := lint.RuleByID(id)
		cis := ""
		if r.CIS != "" {
			cis = " (CIS Docker Benchmark " + r.CIS + ")"
		}
		fmt.Fprintf(w, "%s %s%s\n  why: %s\n  fix: %s\n", r.ID, r.Title, cis, r.Why, r.Fix)
	}
	return nil
}
