package main

import (
	"fmt"
	"runtime/debug"

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

// versionInfo is the version, commit and commit date of this binary.
func versionInfo() (v, c, d string) {
	v, c, d = version, commit, date
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return orDevel(v), c, d
	}
	if v == "" && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision" && c == "":
			c = s.Value
		case s.Key == "vcs.time" && d == "":
			d = s.Value
		}
	}
	return orDevel(v), c, d
}

func orDevel(v string) string {
	if v == "" {
		return "(devel)"
	}
	return v
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print Warden's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v, c, d := versionInfo()
			line := "warden " + v
			if c != "" {
				line += " commit " + c
			}
			if d != "" {
				line += " date " + d
			}
			fmt.Fprintln(cmd.OutOrStdout(), line)
			// Which gzip inflater the walk uses here: ISA-L built in
			// (-tags isal), an igzip process, or Go (WARDEN_IGZIP).
			fmt.Fprintln(cmd.OutOrStdout(), "gzip:", inflate.FromEnv().Name())
			return nil
		},
	}
}
