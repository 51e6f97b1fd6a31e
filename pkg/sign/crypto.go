package sign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
)

// ErrBadSignature is returned (wrapped) when a signature does not verify with a key.
var ErrBadSignature = errors.New("signature does not verify")

// ecdsaHash is the digest cosign pairs with each curve (P-256/SHA-256, P-384/SHA-384, P-521/SHA-512).
func ecdsaHash(c elliptic.Curve) crypto.Hash {
	switch c {
	case elliptic.P384():
		return crypto.SHA384
	case elliptic.P521():
		return crypto.SHA512
	}
	return crypto.SHA256
}

func digest(h crypto.Hash, msg []byte) []byte {
	switch h {
	case crypto.SHA384:
		s := sha512.Sum384(msg)
		return s[:]
	case crypto.SHA512:
		s := sha512.Sum512(msg)
		return s[:]
	}
	s := sha256.Sum256(msg)
	return s[:]
}

// SignMessage signs msg as cosign does with a key of that type: ECDSA (ASN.1 DER over the
// curve's digest), RSA PKCS#1 v1.5 over SHA-256, pure Ed25519 (what cosign verifies for Ed25519
// keys when no transparency log is used; it uses Ed25519ph only for Rekor uploads).
func SignMessage(k crypto.Signer, msg []byte) ([]byte, error) {
	switch pub := k.Public().(type) {
	case *ecdsa.PublicKey:
		h := ecdsaHash(pub.Curve)
		return k.Sign(rand.Reader, digest(h, msg), h)
	case *rsa.PublicKey:
		return k.Sign(rand.Reader, digest(crypto.SHA256, msg), crypto.SHA256)
	case ed25519.PublicKey:
		return k.Sign(rand.Reader, msg, crypto.Hash(0))
	default:
		return nil, fmt.Errorf("unsupported key type %T", pub)
	}
}

// VerifyMessage checks sig over msg with pub. It accepts what cosign produces now and produced
// before: ECDSA over the curve's digest or SHA-256; RSA PKCS#1 v1.5 or PSS over SHA-256/384/512;
// Ed25519 pure or Ed25519ph.
func VerifyMessage(pub crypto.PublicKey, msg, sig []byte) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		h := ecdsaHash(k.Curve)
		if ecdsa.VerifyASN1(k, digest(h, msg), sig) {
			return nil
		}
		if h != crypto.SHA256 && ecdsa.VerifyASN1(k, digest(crypto.SHA256, msg), sig) {
			return nil
		}
	case *rsa.PublicKey:
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			d := digest(h, msg)
			if rsa.VerifyPKCS1v15(k, h, d, sig) == nil || rsa.VerifyPSS(k, h, d, sig, nil) == nil {
				return nil
			}
		}
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return fmt.Errorf("Ed25519 key has %d bytes", len(k))
		}
		if ed25519.Verify(k, msg, sig) {
			return nil
		}
		if ed25519.VerifyWithOptions(k, digest(crypto.SHA512, msg), sig, &ed25519.Options{Hash: crypto.SHA512}) == nil {
			return nil
		}
	default:
		return fmt.Errorf("unsupported key type %T", pub)
	}
	return ErrBadSignature
}
