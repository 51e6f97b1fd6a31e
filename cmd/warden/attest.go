package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newAttestCmd is a placeholder until the command is built; it fails loudly.
func newAttestCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "attest",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("attest: not implemented yet")
		},
	}
}
