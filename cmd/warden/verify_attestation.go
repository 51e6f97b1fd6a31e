package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newVerifyAttestationCmd is a placeholder until the command is built; it fails loudly.
func newVerifyAttestationCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "verify-attestation",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("verify-attestation: not implemented yet")
		},
	}
}
