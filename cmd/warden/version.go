package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/wardensec/warden/pkg/inflate"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print Warden's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := "(devel)"
			if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
				v = bi.Main.Version
			}
			fmt.Fprintln(cmd.OutOrStdout(), "warden", v)
			// Which gzip inflater the walk uses here: ISA-L built in
			// (-tags isal), an igzip process, or Go (WARDEN_IGZIP).
			fmt.Fprintln(cmd.OutOrStdout(), "gzip:", inflate.FromEnv().Name())
			return nil
		},
	}
}
