package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newVerifyCmd is a placeholder until the command is built; it fails loudly.
func newVerifyCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "verify",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("verify: not implemented yet")
		},
	}
}
