package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wardensec/warden/pkg/outfile"
	"github.com/wardensec/warden/pkg/sign"
)

func newSignBlobCmd() *cobra.Command {
	var keyPath, output string
	cmd := &cobra.Command{
		Use:     "sign-blob --key KEY [--output-signature FILE] FILE",
		Example: "  WARDEN_PASSWORD=… warden sign-blob --key release.key --output-signature warden-linux-amd64.sig warden-linux-amd64",
		Short:   "Sign a file as cosign sign-blob --key does (base64 signature of its SHA-256)",
		Long: `Signs the contents of FILE with a private key as cosign sign-blob --key does: an ECDSA
(ASN.1 DER), RSA or Ed25519 signature, base64-encoded, verifiable with
cosign verify-blob --key PUB --signature FILE.sig --insecure-ignore-tlog FILE or warden verify-blob.
No transparency log is used.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyPath == "" {
				return errors.New("sign-blob: --key is required")
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("sign-blob: %w", err)
			}
			key, err := sigLoadPrivateKey(cmd, keyPath)
			if err != nil {
				return fmt.Errorf("sign-blob: %w", err)
			}
			sig, err := sign.SignMessage(key, data)
			if err != nil {
				return fmt.Errorf("sign-blob: signing %s: %w", args[0], err)
			}
			b64 := base64.StdEncoding.EncodeToString(sig)
			if output == "" {
				fmt.Fprintln(cmd.OutOrStdout(), b64)
				return nil
			}
			if err := outfile.WriteFile(output, []byte(b64), 0o644); err != nil {
				return fmt.Errorf("sign-blob: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "private key file")
	cmd.Flags().StringVar(&output, "output-signature", "", "write the base64 signature to this file instead of standard output")
	return cmd
}

// verifyBlobSignature checks a base64 signature (cosign sign-blob --key's
// output, or warden sign-blob's) over file with one public key.
func verifyBlobSignature(cmd *cobra.Command, keyPath, sigPath, file string) error {
	pub, err := sign.LoadPublicKey(keyPath)
	if err != nil {
		return fmt.Errorf("verify-blob: %w", err)
	}
	raw, err := os.ReadFile(sigPath)
	if err != nil {
		return fmt.Errorf("verify-blob: %w", err)
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		return fmt.Errorf("verify-blob: signature file %s is not base64: %w", sigPath, err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("verify-blob: %w", err)
	}
	if err := sign.VerifyMessage(pub, data, sig); err != nil {
		return withCode(exitBadSignature, fmt.Errorf("verify-blob: %s with key %s: %w", file, keyPath, err))
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Verified OK: %s\n", file)
	return nil
}
