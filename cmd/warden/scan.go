package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newScanCmd is a placeholder until the command is built; it fails loudly.
func newScanCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "scan",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("scan: not implemented yet")
		},
	}
}
