package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newKeygenCmd is a placeholder until the command is built; it fails loudly.
func newKeygenCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "keygen",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("keygen: not implemented yet")
		},
	}
}
