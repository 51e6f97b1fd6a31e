package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newSignCmd is a placeholder until the command is built; it fails loudly.
func newSignCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "sign",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("sign: not implemented yet")
		},
	}
}
