package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/wardensec/warden/pkg/verify"
)

// sigVerifyFlags are the flags verify and verify-attestation share.
type sigVerifyFlags struct {
	keys      []string
	threshold int
	ann       []string
	output    string
	reg       sigRegistryFlags
}

func (f *sigVerifyFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.keys, "key", nil, "trusted public key file (repeatable)")
	cmd.Flags().IntVar(&f.threshold, "threshold", 1, "how many distinct keys must have signed")
	cmd.Flags().StringArrayVarP(&f.ann, "annotations", "a", nil, "key=value that must be in the signed payload (repeatable)")
	cmd.Flags().StringVar(&f.output, "output", "text", "output format: text or json (cosign's --output; no short form: -o is an output file elsewhere)")
	f.reg.add(cmd)
}

func (f *sigVerifyFlags) options(cmd *cobra.Command, g *globals) (verify.Options, error) {
	if len(f.keys) == 0 {
		return verify.Options{}, errors.New("--key is required")
	}
	if f.output != "text" && f.output != "json" {
		return verify.Options{}, fmt.Errorf("unknown output %q (want text or json)", f.output)
	}
	if f.threshold < 1 {
		return verify.Options{}, fmt.Errorf("--threshold %d: must be at least 1", f.threshold)
	}
	keys, err := verify.LoadKeys(f.keys...)
	if err != nil {
		return verify.Options{}, err
	}
	ann, err := sigAnnotations(f.ann)
	if err != nil {
		return verify.Options{}, err
	}
	return verify.Options{Keys: keys, Threshold: f.threshold, Annotations: ann, RemoteOptions: f.reg.remote(cmd), Logger: g.logger}, nil
}

// sigExit maps a verification error to the documented exit status and message.
func sigExit(typed, what string, err error) error {
	switch {
	case errors.Is(err, verify.ErrUnsigned):
		return withCode(exitUnsigned, fmt.Errorf("no %s found for %s: the image is not signed", what, typed))
	case errors.Is(err, verify.ErrNotVerified):
		return withCode(exitBadSignature, fmt.Errorf("%s: %w", typed, err))
	}
	return withCode(exitError, err)
}

// report prints the outcome of verify or verify-attestation: res as JSON with --output json; otherwise,
// when verified, what printVerified writes (to stdout and stderr), and the invalid signatures on
// stderr. err, the verification's, becomes the exit status (sigExit); typed is the image as the
// user wrote it, what "signature" or "attestation".
func (f *sigVerifyFlags) report(cmd *cobra.Command, typed, what string, res any, verified bool, invalid []verify.Problem, err error, printVerified func(out, errw io.Writer)) error {
	out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if f.output == "json" {
		if jerr := printJSON(out, res); jerr != nil {
			return jerr
		}
	} else if verified {
		printVerified(out, errw)
	}
	if f.output == "text" && len(invalid) > 0 {
		printProblems(errw, invalid)
	}
	if err != nil {
		return sigExit(typed, what, err)
	}
	return nil
}

func printProblems(w io.Writer, ps []verify.Problem) {
	for _, p := range ps {
		fmt.Fprintf(w, "  invalid (%s) %s\n", p.Format, p)
	}
}

func newVerifyCmd(g *globals) *cobra.Command {
	var f sigVerifyFlags
	cmd := &cobra.Command{
		Use:   "verify --key PUB [--key PUB2 ... --threshold N] [-a k=v] IMAGE",
		Short: "Verify an image's signatures (cosign .sig tag and Sigstore bundle referrers)",
		Long: `Finds the signatures of IMAGE in both places cosign stores them and checks each one: the
signature with the given public keys (ECDSA, Ed25519, RSA), that the signed payload names this
image's digest, and the annotations asked for with -a. The image passes when at least --threshold
distinct keys signed it validly. Signatures that are not valid are reported and ignored.

Exit status: 0 verified; 1 error (bad arguments, unreadable key, unreachable registry);
10 the image has no signature at all; 11 signatures exist but not enough are valid for the keys.`,
		Example: `  warden verify --key release.pub localhost:5000/app:1.0
  warden verify --key release.pub --key security.pub --threshold 2 localhost:5000/app@sha256:…
  warden verify --key release.pub -a pipeline=release --output json localhost:5000/app:1.0`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt, err := f.options(cmd, g)
			if err != nil {
				return fmt.Errorf("verify: %w", err)
			}
			ref, err := f.reg.parse(args[0])
			if err != nil {
				return fmt.Errorf("verify: %w", err)
			}
			res, err := verify.Image(cmd.Context(), ref, opt)
			if res == nil {
				// Exit 1: a registry that refuses to show the image hides
				// whether it is signed (neither 10 nor 11).
				return fmt.Errorf("verify: %w", registryRefusal(cmd.Context(), ref, opt.RemoteOptions, "verify", err))
			}
			return f.report(cmd, args[0], "signature", res, res.Verified, res.Invalid, err, func(out, _ io.Writer) {
				fmt.Fprintf(out, "Verified %s\n", res.Digest)
				for _, s := range res.Signers {
					fmt.Fprintf(out, "  signed by %s (%s) at %s\n", s.Key, s.Format, s.Location)
				}
			})
		},
	}
	f.add(cmd)
	return cmd
}
