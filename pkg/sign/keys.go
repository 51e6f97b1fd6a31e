// Package sign makes and reads cosign-compatible keys and signs container images in the
// formats the ecosystem reads: the simple-signing payload as a layer of the
// "sha256-<hex>.sig" manifest, in-toto attestations as DSSE envelopes in the ".att"
// manifest, and Sigstore bundles (v0.3) attached as OCI 1.1 referrers.
//
// Signing is offline: no transparency log and no certificate authority are used.
package sign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/scrypt"
)

// PEM block types of private keys, as cosign writes and reads them.
const (
	PEMSigstorePrivateKey = "ENCRYPTED SIGSTORE PRIVATE KEY" // cosign ≥ 2.0 writes this
	PEMCosignPrivateKey   = "ENCRYPTED COSIGN PRIVATE KEY"   // older cosign; still read
	PEMPublicKey          = "PUBLIC KEY"
)

// ErrWrongPassword is returned (wrapped) when an encrypted key does not open with the password.
var ErrWrongPassword = errors.New("wrong password (or the key file is corrupt)")

// scryptParams are the KDF parameters of the encrypted-key envelope.
type scryptParams struct {
	N int `json:"N"`
	R int `json:"r"`
	P int `json:"p"`
}

// The parameter sets go-securesystemslib (and so cosign) accepts; anything else is refused so
// that a hostile key file cannot make us spend unbounded memory or time.
var (
	scryptLegacy   = scryptParams{N: 1 << 15, R: 8, P: 1}
	scryptStandard = scryptParams{N: 1 << 16, R: 8, P: 1} // what cosign writes
	scryptOWASP    = scryptParams{N: 1 << 17, R: 8, P: 1}
)

// encryptedKey is the JSON envelope inside the PEM block (go-securesystemslib "encrypted").
type encryptedKey struct {
	KDF struct {
		Name   string       `json:"name"`
		Params scryptParams `json:"params"`
		Salt   []byte       `json:"salt"`
	} `json:"kdf"`
	Cipher struct {
		Name  string `json:"name"`
		Nonce []byte `json:"nonce"`
	} `json:"cipher"`
	Ciphertext []byte `json:"ciphertext"`
}

// GenerateKeyPair makes a new ECDSA P-256 key pair and returns the private key encrypted with
// password (PEM "ENCRYPTED SIGSTORE PRIVATE KEY") and the public key (PKIX PEM).
func GenerateKeyPair(password []byte) (privPEM, pubPEM []byte, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating ECDSA P-256 key: %w", err)
	}
	return MarshalKeyPair(k, password)
}

// MarshalKeyPair encrypts a private key as cosign does (PKCS#8 DER, scrypt N=2^16 r=8 p=1,
// NaCl secretbox) and returns it with its public key in PKIX PEM.
func MarshalKeyPair(k crypto.Signer, password []byte) (privPEM, pubPEM []byte, err error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding private key as PKCS#8: %w", err)
	}
	env, err := encryptKey(der, password, scryptStandard)
	if err != nil {
		return nil, nil, err
	}
	privPEM = pem.EncodeToMemory(&pem.Block{Type: PEMSigstorePrivateKey, Bytes: env})
	pubPEM, err = MarshalPublicKey(k.Public())
	if err != nil {
		return nil, nil, err
	}
	return privPEM, pubPEM, nil
}

// MarshalPublicKey encodes a public key as PKIX PEM ("PUBLIC KEY").
func MarshalPublicKey(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: PEMPublicKey, Bytes: der}), nil
}

func encryptKey(plain, password []byte, p scryptParams) ([]byte, error) {
	var e encryptedKey
	e.KDF.Name, e.KDF.Params = "scrypt", p
	e.KDF.Salt = make([]byte, 32)
	e.Cipher.Name = "nacl/secretbox"
	e.Cipher.Nonce = make([]byte, 24)
	if _, err := io.ReadFull(rand.Reader, e.KDF.Salt); err != nil {
		return nil, fmt.Errorf("reading random salt: %w", err)
	}
	if _, err := io.ReadFull(rand.Reader, e.Cipher.Nonce); err != nil {
		return nil, fmt.Errorf("reading random nonce: %w", err)
	}
	k, n, err := e.secretboxKey(password)
	if err != nil {
		return nil, err
	}
	e.Ciphertext = secretbox.Seal(nil, plain, n, k)
	return json.Marshal(&e)
}

// secretboxKey derives the secretbox key from password with the envelope's scrypt salt and
// parameters, and returns it with the envelope's nonce.
func (e *encryptedKey) secretboxKey(password []byte) (*[32]byte, *[24]byte, error) {
	key, err := scrypt.Key(password, e.KDF.Salt, e.KDF.Params.N, e.KDF.Params.R, e.KDF.Params.P, 32)
	if err != nil {
		return nil, nil, fmt.Errorf("deriving key with scrypt: %w", err)
	}
	var k [32]byte
	var n [24]byte
	copy(k[:], key)
	copy(n[:], e.Cipher.Nonce)
	return &k, &n, nil
}

func decryptKey(envelope, password []byte) ([]byte, error) {
	var e encryptedKey
	if err := json.Unmarshal(envelope, &e); err != nil {
		return nil, fmt.Errorf("reading the encrypted-key envelope: %w", err)
	}
	if e.KDF.Name != "scrypt" {
		return nil, fmt.Errorf("unsupported key-derivation function %q (want scrypt)", e.KDF.Name)
	}
	if e.Cipher.Name != "nacl/secretbox" {
		return nil, fmt.Errorf("unsupported cipher %q (want nacl/secretbox)", e.Cipher.Name)
	}
	switch e.KDF.Params {
	case scryptLegacy, scryptStandard, scryptOWASP:
	default:
		return nil, fmt.Errorf("unsupported scrypt parameters N=%d r=%d p=%d", e.KDF.Params.N, e.KDF.Params.R, e.KDF.Params.P)
	}
	if len(e.Cipher.Nonce) != 24 {
		return nil, fmt.Errorf("secretbox nonce has %d bytes, want 24", len(e.Cipher.Nonce))
	}
	if len(e.Ciphertext) < secretbox.Overhead {
		return nil, fmt.Errorf("ciphertext is %d bytes, shorter than the secretbox tag", len(e.Ciphertext))
	}
	k, n, err := e.secretboxKey(password)
	if err != nil {
		return nil, err
	}
	plain, ok := secretbox.Open(nil, e.Ciphertext, n, k)
	if !ok {
		return nil, ErrWrongPassword
	}
	return plain, nil
}

// ParsePrivateKey reads a private key: cosign's encrypted formats (decrypted with password) or,
// for import, a plain PEM "PRIVATE KEY" (PKCS#8), "EC PRIVATE KEY" or "RSA PRIVATE KEY".
func ParsePrivateKey(data, password []byte) (crypto.Signer, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		if len(data) == 0 {
			return nil, errors.New("empty key file")
		}
		return nil, errors.New("no PEM block found (truncated or not a key file)")
	}
	_ = rest
	var key any
	var err error
	switch block.Type {
	case PEMSigstorePrivateKey, PEMCosignPrivateKey:
		der, derr := decryptKey(block.Bytes, password)
		if derr != nil {
			return nil, fmt.Errorf("decrypting %s: %w", block.Type, derr)
		}
		key, err = x509.ParsePKCS8PrivateKey(der)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("unsupported PEM block %q (want %q)", block.Type, PEMSigstorePrivateKey)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", block.Type, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", key)
	}
	if err := checkKey(signer.Public()); err != nil {
		return nil, err
	}
	return signer, nil
}

// checkKey refuses key types and sizes we cannot sign or verify with.
func checkKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		}
		return fmt.Errorf("unsupported ECDSA curve %s", k.Curve.Params().Name)
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("RSA key of %d bits is too small (want at least 2048)", k.N.BitLen())
		}
		return nil
	case ed25519.PublicKey:
		return nil
	}
	return fmt.Errorf("unsupported public key type %T", pub)
}

// LoadPrivateKey reads and decrypts a private key file.
func LoadPrivateKey(path string, password []byte) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading private key: %w", err)
	}
	k, err := ParsePrivateKey(data, password)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	return k, nil
}

// ParsePublicKey reads a PKIX PEM public key (ECDSA P-256/384/521, Ed25519 or RSA ≥ 2048 bits).
// A PEM certificate is accepted too; its public key is used.
func ParsePublicKey(data []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		if len(data) == 0 {
			return nil, errors.New("empty public key file")
		}
		return nil, errors.New("no PEM block found (truncated or not a public key)")
	}
	var pub any
	var err error
	switch block.Type {
	case PEMPublicKey:
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var c *x509.Certificate
		if c, err = x509.ParseCertificate(block.Bytes); err == nil {
			pub = c.PublicKey
		}
	default:
		return nil, fmt.Errorf("unsupported PEM block %q (want %q)", block.Type, PEMPublicKey)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", block.Type, err)
	}
	if err := checkKey(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// LoadPublicKey reads a public key file.
func LoadPublicKey(path string) (crypto.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading public key: %w", err)
	}
	k, err := ParsePublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	return k, nil
}

// KeyID is the identifier of a public key that Sigstore bundles carry as the public-key hint:
// base64(SHA-256(PKIX DER)). Equal keys have equal IDs.
func KeyID(pub crypto.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return base64.StdEncoding.EncodeToString(sum[:])
}
