package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newCheckCmd is a placeholder until the command is built; it fails loudly.
func newCheckCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "check",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("check: not implemented yet")
		},
	}
}
