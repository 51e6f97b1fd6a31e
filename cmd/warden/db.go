package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newDBCmd is a placeholder until the command is built; it fails loudly.
func newDBCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "db",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("db: not implemented yet")
		},
	}
}
