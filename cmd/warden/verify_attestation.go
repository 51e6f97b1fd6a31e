package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/wardensec/warden/pkg/sign"
	"github.com/wardensec/warden/pkg/verify"
)

func newVerifyAttestationCmd(g *globals) *cobra.Command {
	var f sigVerifyFlags
	var typ string
	cmd := &cobra.Command{
		Use:   "verify-attestation --key PUB [--type T] IMAGE",
		Short: "Verify an image's in-toto attestations and print their predicates",
		Long: `Finds the attestations of IMAGE (the .att tag and Sigstore bundle referrers) and checks each
DSSE envelope (signature over PAE with the given keys), that the statement's subject is this
image's digest, and the predicate type (--type cyclonedx|spdx|vuln|custom|URI; default: any).
Prints the predicate of every valid attestation as JSON, one per line (with -o json, the full result).

Exit status as for verify: 0, 1, 10 (no attestation at all), 11 (none valid for the keys and type).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt, err := f.options(cmd, g)
			if err != nil {
				return fmt.Errorf("verify-attestation: %w", err)
			}
			aopt := verify.AttestationOptions{Options: opt}
			if typ != "" {
				if aopt.PredicateType, err = sign.PredicateTypeURI(typ); err != nil {
					return fmt.Errorf("verify-attestation: %w", err)
				}
			}
			ref, err := f.reg.parse(args[0])
			if err != nil {
				return fmt.Errorf("verify-attestation: %w", err)
			}
			res, err := verify.Attestations(cmd.Context(), ref, aopt)
			if res == nil {
				return fmt.Errorf("verify-attestation: %w", err)
			}
			return f.report(cmd, args[0], "attestation", res, res.Verified, res.Invalid, err, func(out, errw io.Writer) {
				fmt.Fprintf(errw, "Verified %d attestation(s) of %s\n", len(res.Attestations), res.Digest)
				for _, a := range res.Attestations {
					fmt.Fprintf(errw, "  %s signed by %s (%s) at %s\n", a.PredicateType, a.Key, a.Format, a.Location)
					fmt.Fprintf(out, "%s\n", compactJSON(a.Predicate))
				}
			})
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&typ, "type", "", "predicate type to require: cyclonedx, spdx, vuln, custom or a URI (default any)")
	return cmd
}

func compactJSON(b json.RawMessage) string {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	out, _ := json.Marshal(v)
	return string(out)
}
