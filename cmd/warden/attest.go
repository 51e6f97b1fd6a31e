package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardensec/warden/pkg/sign"
)

func newAttestCmd(g *globals) *cobra.Command {
	var keyPath, format, typ, predicatePath string
	var ann []string
	var reg sigRegistryFlags
	cmd := &cobra.Command{
		Use:   "attest --key KEY --type cyclonedx|spdx|vuln|custom|URI --predicate FILE IMAGE",
		Short: "Attach a signed in-toto attestation (DSSE) to an image, where cosign stores them",
		Long: `Wraps the predicate in an in-toto Statement v1 whose subject is the image digest, signs it
in a DSSE envelope and stores it as a layer of the sha256-<hex>.att manifest and/or as a Sigstore
bundle referrer (--store legacy|bundle|both, default both).

--type cyclonedx (https://cyclonedx.org/bom), spdx (https://spdx.dev/Document),
vuln (https://cosign.sigstore.dev/attestation/vuln/v1), custom
(https://cosign.sigstore.dev/attestation/v1; the file is wrapped as {"Data": ..., "Timestamp": ...}
as cosign does), or any predicate type URI. For all but custom the file must be JSON.`,
		Example: `  warden sbom registry:localhost:5000/app:1.0 --format cyclonedx-json --output app.cdx.json
  warden attest --key release.key --type cyclonedx --predicate app.cdx.json localhost:5000/app:1.0
  warden attest --key release.key --type vuln --predicate scan.json --store bundle localhost:5000/app@sha256:…`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyPath == "" {
				return errors.New("attest: --key is required")
			}
			if predicatePath == "" {
				return errors.New("attest: --predicate is required")
			}
			f, err := sign.ParseFormat(format)
			if err != nil {
				return fmt.Errorf("attest: %w", err)
			}
			uri, err := sign.PredicateTypeURI(typ)
			if err != nil {
				return fmt.Errorf("attest: %w", err)
			}
			data, err := os.ReadFile(predicatePath)
			if err != nil {
				return fmt.Errorf("attest: reading predicate: %w", err)
			}
			if uri == sign.PredicateCosignCustom {
				data = sign.CustomPredicate(data, time.Now())
			} else if !json.Valid(data) {
				return fmt.Errorf("attest: predicate %s is not JSON (a %s predicate must be)", predicatePath, typ)
			}
			ref, key, opt, err := sigPrepare(cmd, g, &reg, args[0], keyPath, ann, f)
			if err != nil {
				return fmt.Errorf("attest: %w", err)
			}
			res, err := sign.Attest(cmd.Context(), ref, key, uri, data, opt)
			if err != nil {
				return fmt.Errorf("attest: %w", registryRefusal(cmd.Context(), ref, opt.RemoteOptions, "attest", err))
			}
			printSigned(cmd, res, args[0], "Attested")
			return nil
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "private key file")
	cmd.Flags().StringVar(&typ, "type", "custom", "predicate type: cyclonedx, spdx, vuln, custom or a URI")
	cmd.Flags().StringVar(&predicatePath, "predicate", "", "predicate file")
	storeFlag(cmd, &format, "attestation")
	cmd.Flags().StringArrayVarP(&ann, "annotations", "a", nil, "key=value to put on the statement's subject (repeatable)")
	reg.add(cmd)
	return cmd
}

// sigAttestScan is for `warden scan --attest --key K`: it signs and attaches, to the image the
// scan read (image must name a registry image), the SBOM (CycloneDX JSON, predicate
// https://cyclonedx.org/bom) and the scan report (cosign's vuln predicate,
// https://cosign.sigstore.dev/attestation/vuln/v1, with the report as scanner.result), in both
// the .att and the bundle formats.
func sigAttestScan(cmd *cobra.Command, g *globals, keyPath, image string, sbomCycloneDX []byte, report any,
	started, finished time.Time, scannerVersion, dbVersion string) error {
	ref, err := (&sigRegistryFlags{}).parse(image)
	if err != nil {
		return fmt.Errorf("attest: %w", err)
	}
	key, err := sigLoadPrivateKey(cmd, keyPath)
	if err != nil {
		return fmt.Errorf("attest: %w", err)
	}
	var vp sign.VulnPredicate
	vp.Scanner.URI = "pkg:golang/github.com/wardensec/warden"
	vp.Scanner.Version = scannerVersion
	vp.Scanner.DB.Version = dbVersion
	vp.Scanner.Result = report
	vp.Metadata.ScanStartedOn, vp.Metadata.ScanFinishedOn = started.UTC(), finished.UTC()
	vuln, err := json.Marshal(&vp)
	if err != nil {
		return fmt.Errorf("attest: encoding the scan report: %w", err)
	}
	opt := sign.Options{RemoteOptions: (&sigRegistryFlags{}).remote(cmd), Logger: g.logger}
	for _, a := range []struct {
		typ  string
		data []byte
	}{{sign.PredicateCycloneDX, sbomCycloneDX}, {sign.PredicateCosignVuln, vuln}} {
		if len(a.data) == 0 {
			continue
		}
		res, err := sign.Attest(cmd.Context(), ref, key, a.typ, a.data, opt)
		if err != nil {
			return fmt.Errorf("attest %s: %w", a.typ, err)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "Attested %s to %s\n", a.typ, res.Digest)
	}
	return nil
}
