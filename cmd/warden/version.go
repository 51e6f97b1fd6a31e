package main

import (
	"fmt"
	"regexp"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wardensec/warden/pkg/inflate"
)

// Stamped by scripts/release.sh with -ldflags -X; empty in other builds,
// which fall back to what the Go toolchain recorded (module version, VCS).
var (
	version string
	commit  string
	date    string
)

// stampedOr is the version scripts/release.sh stamped (with its commit and
// the commit's date), else what the Go toolchain recorded, as fromBuild says.
func stampedOr(fromBuild func(*debug.BuildInfo) string) string {
	if version == "" {
		bi, _ := debug.ReadBuildInfo()
		return fromBuild(bi)
	}
	v := version
	if commit != "" {
		v += " commit " + commit
	}
	if date != "" {
		v += " date " + date
	}
	return v
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print Warden's version",
		Long: `Print Warden's version: the module version and the VCS commit it was built from (read from
the binary's build information, so it is right for 'go build' in a clone and for
'go install github.com/wardensec/warden/cmd/warden@VERSION' alike), then the gzip inflater in use.`,
		Example: `  warden version
  warden --version`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "warden", stampedOr(versionString))
			// Which gzip inflater the walk uses here: ISA-L built in
			// (-tags isal), an igzip process, or Go (WARDEN_IGZIP).
			fmt.Fprintln(cmd.OutOrStdout(), "gzip:", inflate.FromEnv().Name())
			return nil
		},
	}
}

// pseudoRev is the commit at the end of a pseudo-version
// (v0.0.0-20261205070000-0123456789ab, v1.2.4-0.20261205070000-0123456789ab).
var pseudoRev = regexp.MustCompile(`[-.]([0-9]{14})-([0-9a-f]{12})(\+incompatible)?$`)

// versionString is the module version and where it was built from: the VCS
// commit, time and "modified" that 'go build' stamps in a clone, or, for
// 'go install …@version' (no VCS data: the module comes from a zip), the
// commit a pseudo-version names.
func versionString(bi *debug.BuildInfo) string {
	if bi == nil {
		return "(unknown: no build information)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	set := map[string]string{}
	for _, s := range bi.Settings {
		set[s.Key] = s.Value
	}
	var extra []string
	if rev := set["vcs.revision"]; rev != "" {
		extra = append(extra, "commit "+rev[:min(12, len(rev))])
		if t := set["vcs.time"]; t != "" {
			extra = append(extra, t)
		}
		if set["vcs.modified"] == "true" {
			extra = append(extra, "modified")
		}
	} else if m := pseudoRev.FindStringSubmatch(v); m != nil {
		extra = append(extra, "commit "+m[2])
	}
	if len(extra) > 0 {
		v += " (" + strings.Join(extra, ", ") + ")"
	}
	return v
}
