package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newSBOMCmd is a placeholder until the command is built; it fails loudly.
func newSBOMCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "sbom",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("sbom: not implemented yet")
		},
	}
}
