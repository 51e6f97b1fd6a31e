package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newLintCmd is a placeholder until the command is built; it fails loudly.
func newLintCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "lint",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("lint: not implemented yet")
		},
	}
}
