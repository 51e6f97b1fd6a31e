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
	trust     trustFlags
	notation  notationFlags
}

// notationFlags trust Notary Project signatures (warden verify only).
type notationFlags struct {
	store, policy     string
	identities        []string
	level, revocation string
}

func (n *notationFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&n.store, "notation-trust-store", "", "Notary Project: directory of trusted CA certificates, or notation's truststore directory (x509/ca/NAME/...)")
	cmd.Flags().StringArrayVar(&n.identities, "notation-identity", nil, `Notary Project: trusted identity, "x509.subject: CN=..., O=..." or "*" (repeatable)`)
	cmd.Flags().StringVar(&n.policy, "notation-trust-policy", "", "Notary Project: notation's trustpolicy.json, instead of --notation-identity")
	cmd.Flags().StringVar(&n.level, "notation-level", "", "Notary Project verification level: strict (default), permissive or audit")
	cmd.Flags().StringVar(&n.revocation, "notation-revocation", "", "Notary Project certificate revocation check: skip (default, offline), log or enforce")
}

func (n *notationFlags) trust() (*verify.NotationTrust, error) {
	if n.store == "" {
		if len(n.identities) > 0 || n.policy != "" {
			return nil, errors.New("--notation-identity and --notation-trust-policy need --notation-trust-store")
		}
		return nil, nil
	}
	return verify.LoadNotationTrust(verify.NotationConfig{TrustStore: n.store, Identities: n.identities, TrustPolicy: n.policy, Level: n.level, Revocation: n.revocation})
}

// trustFlags are the keyless and transparency-log flags (named as cosign names them).
type trustFlags struct {
	identity, identityRegexp, issuer, issuerRegexp string
	trustedRoot                                    string
	requireTlog                                    bool
	revoked                                        []string
}

func (t *trustFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&t.identity, "certificate-identity", "", "keyless: the signer's identity (certificate SAN: email, workflow URI)")
	cmd.Flags().StringVar(&t.identityRegexp, "certificate-identity-regexp", "", "keyless: a regular expression the identity must match (whole value)")
	cmd.Flags().StringVar(&t.issuer, "certificate-oidc-issuer", "", "keyless: the OIDC issuer of the identity")
	cmd.Flags().StringVar(&t.issuerRegexp, "certificate-oidc-issuer-regexp", "", "keyless: a regular expression the OIDC issuer must match")
	cmd.Flags().StringVar(&t.trustedRoot, "trusted-root", "", "Sigstore trusted_root.json (Fulcio CAs, Rekor/CT logs): verification stays offline")
	cmd.Flags().BoolVar(&t.requireTlog, "require-tlog", false, "key signatures count only with a Rekor entry that verifies against --trusted-root")
	cmd.Flags().StringArrayVar(&t.revoked, "revoked", nil, "key ID or certificate serial (hex) whose signatures never count (repeatable)")
}

// identities returns the keyless identity asked for (none when no keyless flag is set).
func (t *trustFlags) identities() ([]verify.Identity, error) {
	if t.identity == "" && t.identityRegexp == "" && t.issuer == "" && t.issuerRegexp == "" {
		return nil, nil
	}
	id := verify.Identity{Subject: t.identity, SubjectRegexp: t.identityRegexp, Issuer: t.issuer, IssuerRegexp: t.issuerRegexp}
	if err := id.Check(); err != nil {
		return nil, fmt.Errorf("%w (--certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp])", err)
	}
	return []verify.Identity{id}, nil
}

func (t *trustFlags) root() (*verify.TrustedRoot, error) {
	if t.trustedRoot == "" {
		return nil, nil
	}
	return verify.LoadTrustedRoot(t.trustedRoot)
}

func (f *sigVerifyFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.keys, "key", nil, "trusted public key file (repeatable)")
	cmd.Flags().IntVar(&f.threshold, "threshold", 1, "how many distinct keys must have signed")
	cmd.Flags().StringArrayVarP(&f.ann, "annotations", "a", nil, "key=value that must be in the signed payload (repeatable)")
	cmd.Flags().StringVar(&f.output, "output", "text", "output format: text or json (cosign's --output; no short form: -o is an output file elsewhere)")
	f.reg.add(cmd)
	f.trust.add(cmd)
}

func (f *sigVerifyFlags) options(cmd *cobra.Command, g *globals) (verify.Options, error) {
	ids, err := f.trust.identities()
	if err != nil {
		return verify.Options{}, err
	}
	nt, err := f.notation.trust()
	if err != nil {
		return verify.Options{}, err
	}
	if len(f.keys) == 0 && len(ids) == 0 && nt == nil {
		return verify.Options{}, errors.New("--key is required (or, keyless, --certificate-identity with --certificate-oidc-issuer)")
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
	tr, err := f.trust.root()
	if err != nil {
		return verify.Options{}, err
	}
	return verify.Options{Keys: keys, Identities: ids, TrustedRoot: tr, RequireTlog: f.trust.requireTlog, Revoked: f.trust.revoked, Notation: nt,
		Threshold: f.threshold, Annotations: ann, RemoteOptions: f.reg.remote(cmd), Logger: g.logger}, nil
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
		Use:   "verify (--key PUB [--key PUB2 ... --threshold N] | --certificate-identity ID --certificate-oidc-issuer URL --trusted-root FILE) [-a k=v] IMAGE",
		Short: "Verify an image's signatures (cosign .sig tag and Sigstore bundle referrers)",
		Long: `Finds the signatures of IMAGE in both places cosign stores them and checks each one: the
signature with the given public keys (ECDSA, Ed25519, RSA), that the signed payload names this
image's digest, and the annotations asked for with -a. The image passes when at least --threshold
distinct keys signed it validly. Signatures that are not valid are reported and ignored.

Keyless signatures (a short-lived Fulcio certificate bound to an OIDC identity, logged in Rekor:
cosign's .sig with certificate annotations, or a Sigstore bundle) are checked offline against
--trusted-root and must match --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp].
With --require-tlog a key signature counts only with a Rekor entry that verifies.

Notary Project signatures (notation's JWS or COSE envelopes attached as OCI referrers) are checked
with notation-go against --notation-trust-store and --notation-identity (or notation's own
--notation-trust-policy); they are reported beside cosign's and count as one signer.

Exit status: 0 verified; 1 error (bad arguments, unreadable key, unreachable registry);
10 the image has no signature at all; 11 signatures exist but not enough are valid for the keys.`,
		Example: `  warden verify --key release.pub localhost:5000/app:1.0
  warden verify --key release.pub --key security.pub --threshold 2 localhost:5000/app@sha256:…
  warden verify --key release.pub -a pipeline=release --output json localhost:5000/app:1.0
  warden verify --notation-trust-store ca/ --notation-identity "x509.subject: CN=release, O=Acme" localhost:5000/app:1.0`,
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
					if s.Format == verify.FormatNotation {
						fmt.Fprintf(out, "  signed by %s, issuer %s (notation, trusted by %s) at %s\n", s.Subject, s.Issuer, s.Key, s.Location)
						continue
					}
					if s.Subject != "" {
						fmt.Fprintf(out, "  signed by %s, issuer %s (keyless, %s) at %s\n", s.Subject, s.Issuer, s.Format, s.Location)
						continue
					}
					fmt.Fprintf(out, "  signed by %s (%s) at %s\n", s.Key, s.Format, s.Location)
				}
			})
		},
	}
	f.add(cmd)
	f.notation.add(cmd)
	return cmd
}
