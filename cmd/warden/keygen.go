package main

import (
	"crypto"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/wardensec/warden/pkg/outfile"
	"github.com/wardensec/warden/pkg/sign"
	"github.com/wardensec/warden/pkg/source"
)

func newKeygenCmd(g *globals) *cobra.Command {
	var prefix, importPath string
	var force bool
	cmd := &cobra.Command{
		Use:   "keygen [--output-key-prefix P] [--import KEY.pem]",
		Short: "Make a cosign-compatible ECDSA P-256 key pair (P.key encrypted, P.pub)",
		Long: `Writes P.key, the private key encrypted as cosign does (PEM "ENCRYPTED SIGSTORE PRIVATE KEY":
scrypt + NaCl secretbox over PKCS#8), mode 0600, and P.pub, the public key (PKIX PEM).
The password comes from $WARDEN_PASSWORD, else $COSIGN_PASSWORD, else a terminal prompt.
With --import, the key pair is made from an existing plain PEM private key
(PKCS#8 "PRIVATE KEY", "EC PRIVATE KEY" or "RSA PRIVATE KEY") instead of a new one.`,
		Example: `  WARDEN_PASSWORD=... warden keygen                   # warden.key and warden.pub
  warden keygen --output-key-prefix release --force   # release.key and release.pub, overwriting
  warden keygen --import plain.pem --output-key-prefix imported`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			keyPath, pubPath := prefix+".key", prefix+".pub"
			if !force {
				for _, p := range []string{keyPath, pubPath} {
					if _, err := os.Stat(p); err == nil {
						return fmt.Errorf("keygen: %s already exists (use --force to overwrite)", p)
					}
				}
			}
			pw, err := sigPassword(cmd, true)
			if err != nil {
				return fmt.Errorf("keygen: %w", err)
			}
			var priv, pub []byte
			if importPath != "" {
				data, err := os.ReadFile(importPath)
				if err != nil {
					return fmt.Errorf("keygen: %w", err)
				}
				k, err := sign.ParsePrivateKey(data, nil)
				if err != nil {
					return fmt.Errorf("keygen: importing %s: %w", importPath, err)
				}
				priv, pub, err = sign.MarshalKeyPair(k, pw)
				if err != nil {
					return fmt.Errorf("keygen: %w", err)
				}
			} else if priv, pub, err = sign.GenerateKeyPair(pw); err != nil {
				return fmt.Errorf("keygen: %w", err)
			}
			if err := outfile.WriteFile(keyPath, priv, 0o600); err != nil {
				return fmt.Errorf("keygen: %w", err)
			}
			if err := outfile.WriteFile(pubPath, pub, 0o644); err != nil {
				return fmt.Errorf("keygen: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Private key written to %s\nPublic key written to %s\n", keyPath, pubPath)
			return nil
		},
	}
	cmd.Flags().StringVar(&prefix, "output-key-prefix", "warden", "write PREFIX.key and PREFIX.pub")
	cmd.Flags().StringVar(&importPath, "import", "", "encrypt this plain PEM private key instead of generating one")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite existing key files")
	return cmd
}

// sigPassword returns the key password: $WARDEN_PASSWORD, else $COSIGN_PASSWORD (set but empty
// means an empty password), else a prompt on the terminal (twice when confirm is set).
func sigPassword(cmd *cobra.Command, confirm bool) ([]byte, error) {
	for _, env := range []string{"WARDEN_PASSWORD", "COSIGN_PASSWORD"} {
		if v, ok := os.LookupEnv(env); ok {
			return []byte(v), nil
		}
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return nil, errors.New("no password: set WARDEN_PASSWORD (or COSIGN_PASSWORD), or run on a terminal")
	}
	out := cmd.ErrOrStderr()
	read := func(prompt string) ([]byte, error) {
		fmt.Fprint(out, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(out)
		return b, err
	}
	pw, err := read("Enter password for private key: ")
	if err != nil {
		return nil, fmt.Errorf("reading password: %w", err)
	}
	if confirm {
		again, err := read("Enter password for private key again: ")
		if err != nil {
			return nil, fmt.Errorf("reading password: %w", err)
		}
		if string(again) != string(pw) {
			return nil, errors.New("passwords do not match")
		}
	}
	return pw, nil
}

// sigLoadPrivateKey reads a private key file, asking for its password only when it is encrypted.
func sigLoadPrivateKey(cmd *cobra.Command, path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading private key: %w", err)
	}
	var pw []byte
	if strings.Contains(string(data), "ENCRYPTED") {
		if pw, err = sigPassword(cmd, false); err != nil {
			return nil, err
		}
	}
	k, err := sign.ParsePrivateKey(data, pw)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	return k, nil
}

// sigRegistryFlags are the registry flags signing commands share.
type sigRegistryFlags struct{ insecure bool }

func (f *sigRegistryFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.insecure, "allow-insecure-registry", false, "allow plain HTTP to the registry (127.0.0.1 and localhost always may)")
}

func (f *sigRegistryFlags) parse(s string) (name.Reference, error) {
	var opts []name.Option
	if f.insecure {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.ParseReference(s, opts...)
	if err != nil {
		return nil, fmt.Errorf("parsing image reference %q: %w", s, err)
	}
	return ref, nil
}

func (f *sigRegistryFlags) remote(cmd *cobra.Command) []remote.Option {
	return []remote.Option{remote.WithContext(cmd.Context()), remote.WithAuthFromKeychain(source.DockerConfigKeychain(""))}
}

// sigAnnotations parses -a key=value flags.
func sigAnnotations(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("annotation %q is not key=value", kv)
		}
		m[k] = v
	}
	return m, nil
}
