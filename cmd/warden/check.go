package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"

	"github.com/wardensec/warden/pkg/cachedir"
	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/policy"
	"github.com/wardensec/warden/pkg/policy/facts"
	"github.com/wardensec/warden/pkg/sign"
	"github.com/wardensec/warden/pkg/source"
)

// checkNow is the clock of check (exception expiry, database and attestation ages); tests pin it.
var checkNow = time.Now

func newCheckCmd(g *globals) *cobra.Command {
	var (
		inv        invFlags
		policyPath string
		format     string
		keyPaths   []string
		refName    string
		dbRepo     dbRepoFlags
	)
	cmd := &cobra.Command{
		Use:   "check IMAGE --policy FILE",
		Short: "Decide whether an image is allowed by a policy (signatures, vulnerabilities, hygiene)",
		Long: `Evaluate IMAGE against a policy (docs/policy.md): the rule whose pattern matches the image's
reference most specifically applies, and every check of that rule is evaluated and printed with its
reasons — which key did not sign, which CVEs broke the limit, which file holds a secret.

It fails closed: a missing or too-old vulnerability database, an unreachable registry or
signature store give "denied" with the reason, never "allowed". A policy that cannot be used
(unreadable, an unknown field, a bad pattern, a key file that does not parse) is an error: it
is printed on stderr as file:line, nothing is printed on stdout, and the exit status is 1.

Exit status (docs/exit-codes.md): 0 allowed; 3 denied by the policy; 1 an unusable policy,
bad arguments or flags.`,
		Example: `  warden check registry:registry.example.com/prod/app:1.4.2 --policy policy.yaml
  warden check docker-archive:app.tar --ref registry.example.com/prod/app:1.4.2 --policy policy.yaml --format json
  warden check registry:localhost:5000/dev/tool:2.0 --policy policy.yaml --key keys/release.pub`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			defer softMemoryLimit()()
			if policyPath == "" {
				return errors.New("--policy FILE is required")
			}
			// A failed pull is not an error here: without a database the
			// policy's vulnerability checks deny (fail closed), with the reason.
			if err := dbRepo.ensure(cmd, g); err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", err)
			}
			if format != "table" && format != "json" {
				return fmt.Errorf("--format %q: want table or json", format)
			}
			var extraKeys []policy.Key
			for _, p := range keyPaths {
				pub, err := sign.LoadPublicKey(p)
				if err != nil {
					return fmt.Errorf("--key: %w", err)
				}
				extraKeys = append(extraKeys, policy.Key{Path: p, Public: pub, ID: sign.KeyID(pub)})
			}
			// An unusable policy is an error (exit 1), not a denial (exit 3):
			// CI must tell a misconfiguration from a refused image. Nothing
			// is printed on stdout, so nothing reads as a verdict.
			pol, err := policy.Load(policyPath)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			d := runCheck(ctx, g, args[0], refName, pol, &inv, extraKeys)
			out := cmd.OutOrStdout()
			if format == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				err = enc.Encode(d)
			} else {
				err = writeDecision(out, d)
			}
			if err != nil {
				return err
			}
			if !d.Allow {
				return withCode(exitFail, nil)
			}
			return nil
		},
	}
	inv.add(cmd)
	cmd.Flags().StringVarP(&policyPath, "policy", "p", "", "policy file (YAML, docs/policy.md)")
	cmd.Flags().StringVarP(&format, "format", "f", "table", "output format: table or json")
	cmd.Flags().StringArrayVar(&keyPaths, "key", nil, "trusted public key for rules whose signatures/attestations list no keys (repeatable)")
	dbRepo.add(cmd, nil)
	cmd.Flags().StringVar(&refName, "ref", "", "the reference the policy's patterns see (default: the image's own reference or tag)")
	return cmd
}

// runCheck opens the image and evaluates the policy; every failure along
// the way is a denial carrying the reason.
func runCheck(ctx context.Context, g *globals, arg, refName string, pol *policy.Policy, inv *invFlags, keys []policy.Key) policy.Decision {
	subj := checkSubject(arg, refName, nil, "")
	img, err := invOpen(ctx, g, arg, inv)
	if err != nil {
		return policy.Deny(subj, "image", err)
	}
	defer img.Close()
	digest := ""
	if h, err := img.Digest(); err == nil {
		digest = h.String()
	}
	subj = checkSubject(arg, refName, img, digest)
	provider := &checkFacts{g: g, img: img, inv: inv}
	return policy.Evaluate(ctx, pol, subj, policy.Facts{
		Signatures: provider, Attestations: provider, Vulnerabilities: provider, Image: provider,
		Keys: keys, Now: checkNow(),
	})
}

// checkSubject is what the policy judges: --ref, else a registry or Engine
// reference as typed (scheme stripped), else the image's first full name
// (docker save's RepoTags), else the path as typed (pinned by its digest).
func checkSubject(arg, refName string, img *source.Image, digest string) policy.Subject {
	if refName != "" {
		return policy.NewSubject(refName, digest)
	}
	for _, k := range []string{source.KindRegistry, source.KindDocker} {
		if rest, ok := strings.CutPrefix(arg, k+":"); ok {
			return policy.NewSubject(rest, digest)
		}
	}
	if img != nil {
		if (img.Kind == source.KindRegistry || img.Kind == source.KindDocker) && img.Ref != nil {
			return policy.NewSubject(arg, digest)
		}
		for _, t := range img.RepoTags {
			if strings.ContainsAny(t, ":/") {
				return policy.NewSubject(t, digest)
			}
		}
	}
	return policy.Subject{Ref: arg, Repository: arg, Digest: digest}
}

// checkFacts supplies the facts of one opened image, computing each at most once.
type checkFacts struct {
	g   *globals
	img *source.Image
	inv *invFlags

	invDone bool
	invRes  *inventory.Inventory
	invErr  error
}

func (c *checkFacts) inventory(ctx context.Context) (*inventory.Inventory, error) {
	if !c.invDone {
		c.invRes, c.invErr = invInventory(ctx, c.g, c.img, c.inv)
		c.invDone = true
	}
	return c.invRes, c.invErr
}

// verifier is pkg/verify at the image's registry repository and digest: only
// images opened from a registry have signatures there (--ref only renames
// what the policy sees, not where signatures are looked up).
func (c *checkFacts) verifier(ctx context.Context) (*facts.Verifier, policy.Subject, error) {
	if c.img.Kind != source.KindRegistry || c.img.Ref == nil {
		return nil, policy.Subject{}, fmt.Errorf("signatures live in a registry: open the image as registry:REF to check them (it was opened as %s)", c.img.Kind)
	}
	d, err := c.img.Digest()
	if err != nil {
		return nil, policy.Subject{}, fmt.Errorf("computing the digest of %s: %w", c.img.Name, err)
	}
	at := policy.Subject{Ref: c.img.Ref.String(), Repository: c.img.Ref.Context().Name(), Digest: d.String()}
	v := &facts.Verifier{RemoteOptions: []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(source.DockerConfigKeychain(""))}, Logger: c.g.logger}
	return v, at, nil
}

// VerifySignatures implements policy.SignatureVerifier with pkg/verify.
func (c *checkFacts) VerifySignatures(ctx context.Context, _ policy.Subject, keys []policy.Key, req *policy.Signatures) (*policy.SignatureFacts, error) {
	v, at, err := c.verifier(ctx)
	if err != nil {
		return nil, err
	}
	return v.VerifySignatures(ctx, at, keys, req)
}

// VerifyAttestations implements policy.AttestationVerifier with pkg/verify.
func (c *checkFacts) VerifyAttestations(ctx context.Context, _ policy.Subject, req policy.Attestation, keys []policy.Key) ([]policy.AttestationFact, error) {
	v, at, err := c.verifier(ctx)
	if err != nil {
		return nil, err
	}
	return v.VerifyAttestations(ctx, at, req, keys)
}

// Vulnerabilities implements policy.VulnerabilitySource: the local database and pkg/match.
func (c *checkFacts) Vulnerabilities(ctx context.Context, _ policy.Subject) (*policy.VulnFacts, error) {
	dir, err := c.g.stateDir()
	if err != nil {
		return nil, err
	}
	return facts.Vulnerabilities(ctx, cachedir.DBPath(dir), c.img.Name, c.inventory, c.g.logger)
}

// Inspect implements policy.ImageInspector with pkg/lint and the inventory.
func (c *checkFacts) Inspect(ctx context.Context, _ policy.Subject) (*policy.ImageFacts, error) {
	in, err := c.inventory(ctx)
	if err != nil {
		return nil, err
	}
	return facts.Inspect(ctx, c.img.Image, in, facts.InspectOptions{Reference: lintReference(c.img), Tags: c.img.RepoTags, Logger: c.g.logger})
}

func writeDecision(w io.Writer, d policy.Decision) error {
	verdict := "DENIED"
	if d.Allow {
		verdict = "ALLOWED"
	}
	rule := d.Rule
	if rule == "" {
		rule = "none"
	}
	fmt.Fprintf(w, "%s %s (rule: %s)\n", verdict, d.Subject.Ref, rule)
	if d.Subject.Digest != "" {
		fmt.Fprintf(w, "  digest %s\n", d.Subject.Digest)
	}
	for _, r := range d.Reasons {
		mark := map[string]string{policy.Pass: "ok  ", policy.Fail: "FAIL", policy.Warn: "warn"}[r.Result]
		fmt.Fprintf(w, "  %s %-28s %s\n", mark, r.Check, r.Message)
		for _, x := range r.Details {
			fmt.Fprintf(w, "       - %s\n", x)
		}
	}
	_, err := fmt.Fprintln(w)
	return err
}
