package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/wardensec/warden/pkg/verify"
)

func newVerifyBlobCmd(g *globals) *cobra.Command {
	var (
		keys       []string
		bundlePath string
		sigPath    string
		output     string
		trust      trustFlags
	)
	cmd := &cobra.Command{
		Use:   "verify-blob FILE (--bundle B (--key PUB | --certificate-identity ID --certificate-oidc-issuer URL --trusted-root FILE) | --key PUB --signature FILE.sig)",
		Short: "Verify a Sigstore bundle (v0.1–v0.3) for a file that is not an image, as cosign verify-blob does",
		Long: `Checks the Sigstore bundle B for FILE: a keyless bundle (Fulcio certificate, Rekor entry,
SCTs when the root lists CT logs) offline against --trusted-root and the identity flags, or a
key-signed bundle with --key (and its Rekor entry with --require-tlog). A DSSE bundle must name
FILE's sha256 among its statement's subjects. Without a bundle, --signature checks a base64
signature made by warden sign-blob or cosign sign-blob --key with the one --key.

Exit status: 0 verified; 1 error (bad arguments, unreadable file); 11 the bundle does not verify.`,
		Example: `  warden verify-blob app.tar.gz --bundle app.tar.gz.sigstore.json --certificate-identity ID --certificate-oidc-issuer https://token.actions.githubusercontent.com --trusted-root trusted_root.json
  warden verify-blob warden-linux-amd64 --key release.pub --signature warden-linux-amd64.sig`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if sigPath != "" && bundlePath == "" {
				if len(keys) != 1 {
					return errors.New("verify-blob: --signature needs exactly one --key")
				}
				return verifyBlobSignature(cmd, keys[0], sigPath, args[0])
			}
			if bundlePath == "" {
				return errors.New("verify-blob: --bundle is required (or --signature with one --key)")
			}
			if output != "text" && output != "json" {
				return fmt.Errorf("verify-blob: unknown output %q (want text or json)", output)
			}
			ids, err := trust.identities()
			if err != nil {
				return fmt.Errorf("verify-blob: %w", err)
			}
			ks, err := verify.LoadKeys(keys...)
			if err != nil {
				return fmt.Errorf("verify-blob: %w", err)
			}
			tr, err := trust.root()
			if err != nil {
				return fmt.Errorf("verify-blob: %w", err)
			}
			if len(ids) > 0 && tr == nil {
				return errors.New("verify-blob: keyless verification needs --trusted-root")
			}
			if trust.requireTlog && tr == nil {
				return errors.New("verify-blob: --require-tlog needs --trusted-root")
			}
			b, err := os.ReadFile(bundlePath)
			if err != nil {
				return fmt.Errorf("verify-blob: %w", err)
			}
			f, err := os.Open(args[0])
			if err != nil {
				return fmt.Errorf("verify-blob: %w", err)
			}
			defer f.Close()
			res, err := verify.VerifyBlob(f, b, verify.BlobOptions{Keys: ks, Identities: ids, TrustedRoot: tr, RequireTlog: trust.requireTlog, Revoked: trust.revoked})
			if err != nil {
				if errors.Is(err, verify.ErrNotVerified) {
					return withCode(exitBadSignature, fmt.Errorf("%s (bundle %s): %w", args[0], bundlePath, err))
				}
				return fmt.Errorf("verify-blob: %s (bundle %s): %w", args[0], bundlePath, err)
			}
			out := cmd.OutOrStdout()
			if output == "json" {
				return printJSON(out, res)
			}
			fmt.Fprintf(out, "Verified %s\n", args[0])
			if res.Subject != "" {
				fmt.Fprintf(out, "  signed by %s, issuer %s (keyless), logged %s\n", res.Subject, res.Issuer, res.Timestamp.UTC().Format("2006-01-02T15:04:05Z"))
			} else {
				fmt.Fprintf(out, "  signed by %s\n", res.Signer)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&keys, "key", nil, "trusted public key file (repeatable)")
	cmd.Flags().StringVar(&bundlePath, "bundle", "", "the Sigstore bundle (JSON) for FILE")
	cmd.Flags().StringVar(&sigPath, "signature", "", "a base64 signature of FILE (sign-blob's output), checked with --key")
	cmd.Flags().StringVar(&output, "output", "text", "output: text or json")
	trust.add(cmd)
	return cmd
}
