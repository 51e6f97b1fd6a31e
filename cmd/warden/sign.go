package main

import (
	"crypto"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/wardensec/warden/pkg/sign"
)

func newSignCmd(g *globals) *cobra.Command {
	var keyPath, format string
	var ann []string
	var reg sigRegistryFlags
	cmd := &cobra.Command{
		Use:   "sign --key KEY IMAGE",
		Short: "Sign an image's digest as cosign does (.sig tag and Sigstore bundle referrer)",
		Long: `Signs the manifest digest of IMAGE with a private key (cosign's encrypted format, or a plain
PEM key). A tag is resolved to its digest first: the digest, not the tag, is what gets signed.

--store legacy: the simple-signing payload as a layer of the sha256-<hex>.sig manifest
                (appended to the signatures already there);
--store bundle: a Sigstore bundle v0.3 (DSSE in-toto statement) as an OCI 1.1 referrer,
                with the referrers tag fallback when the registry has no referrers API;
--store both:   both (default). No transparency log or certificate authority is used.`,
		Example: `  warden sign --key release.key localhost:5000/app:1.0
  warden sign --key release.key --store bundle -a pipeline=release localhost:5000/app@sha256:…
  COSIGN_PASSWORD=... warden sign --key cosign.key registry.example.com/team/app:2.1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyPath == "" {
				return errors.New("sign: --key is required")
			}
			f, err := sign.ParseFormat(format)
			if err != nil {
				return fmt.Errorf("sign: %w", err)
			}
			ref, key, opt, err := sigPrepare(cmd, g, &reg, args[0], keyPath, ann, f)
			if err != nil {
				return fmt.Errorf("sign: %w", err)
			}
			res, err := sign.Image(cmd.Context(), ref, key, opt)
			if err != nil {
				return fmt.Errorf("sign: %w", registryRefusal(cmd.Context(), ref, opt.RemoteOptions, "sign", err))
			}
			printSigned(cmd, res, args[0], "Signed")
			return nil
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "private key file")
	storeFlag(cmd, &format, "signature")
	cmd.Flags().StringArrayVarP(&ann, "annotations", "a", nil, "key=value to sign into the payload (repeatable)")
	reg.add(cmd)
	return cmd
}

// sigPrepare is what sign and attest do once their flags are checked: parse the annotations
// and the image reference, load the private key, and make the signing options.
func sigPrepare(cmd *cobra.Command, g *globals, reg *sigRegistryFlags, image, keyPath string, ann []string, f sign.Format) (name.Reference, crypto.Signer, sign.Options, error) {
	annotations, err := sigAnnotations(ann)
	if err != nil {
		return nil, nil, sign.Options{}, err
	}
	ref, err := reg.parse(image)
	if err != nil {
		return nil, nil, sign.Options{}, err
	}
	key, err := sigLoadPrivateKey(cmd, keyPath)
	if err != nil {
		return nil, nil, sign.Options{}, err
	}
	return ref, key, sign.Options{Format: f, Annotations: annotations, RemoteOptions: reg.remote(cmd), Logger: g.logger}, nil
}

// storeFlag is --store (where a signature or attestation goes), with the
// old name --format kept as a deprecated alias: --format means the output
// format in every other command.
func storeFlag(cmd *cobra.Command, p *string, what string) {
	cmd.Flags().StringVar(p, "store", "both", "where to store the "+what+": legacy (.sig/.att tag), bundle (OCI referrer) or both")
	cmd.Flags().StringVar(p, "format", "both", "deprecated: use --store")
	_ = cmd.Flags().MarkDeprecated("format", "use --store (--format is the output format in other commands)")
}

func printSigned(cmd *cobra.Command, res *sign.Result, typed, verb string) {
	if res.FromTag {
		fmt.Fprintf(cmd.ErrOrStderr(), "WARNING: %s is a tag; %s the digest it points to now, %s (a tag can be moved, the digest cannot)\n",
			typed, map[string]string{"Signed": "signing", "Attested": "attesting"}[verb], res.Digest.DigestStr())
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "%s %s\n", verb, res.Digest)
	if res.SigTag != (name.Tag{}) {
		note := ""
		if res.Duplicated {
			note = " (already there; nothing appended)"
		}
		fmt.Fprintf(out, "  legacy: %s%s\n", res.SigTag, note)
	}
	if res.Referrer.DigestStr() != "" {
		fmt.Fprintf(out, "  bundle: %s\n", res.Referrer)
	}
}
