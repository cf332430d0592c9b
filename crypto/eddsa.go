package crypto

import (
	"errors"
	"io"
	"log/slog"

	"github.com/cloudflare/circl/sign/ed448"
)

const (
	// EdDSASeedSize is the size of an Ed448 EdDSA private key (the RFC 8032
	// seed, the spec's sym_h) in bytes.
	EdDSASeedSize = 57
	// EdDSASignatureSize is the size of an Ed448 EdDSA signature (R || S).
	EdDSASignatureSize = 114
)

// EdDSAPrivateKey is a long-term Ed448 key (an identity or forging key) for
// pure Ed448 (RFC 8032, empty context), as OTRv4 and otr4j use it. It prints
// as "[redacted]". Its methods are safe for concurrent use, except Wipe.
type EdDSAPrivateKey struct {
	priv ed448.PrivateKey // seed || public key, 114 bytes
	s    Scalar           // secret scalar: used by the ring signature
	pub  Point
}

// GenerateEdDSAKey reads a 57-byte seed from rand and returns its key.
func GenerateEdDSAKey(rand io.Reader) (*EdDSAPrivateKey, error) {
	var seed [EdDSASeedSize]byte
	defer clear(seed[:])
	if _, err := io.ReadFull(rand, seed[:]); err != nil {
		return nil, err
	}
	return NewEdDSAPrivateKey(seed[:])
}

// NewEdDSAPrivateKey returns the key of the 57-byte seed (the RFC 8032
// private key). The secret scalar is SHAKE-256(seed, 114)[0:57] pruned, read
// little-endian mod q (OTRv4 spec, "Public keys, Shared Prekeys, Forging keys
// and Fingerprints"; ed448.json secret_scalar).
func NewEdDSAPrivateKey(seed []byte) (*EdDSAPrivateKey, error) {
	if len(seed) != EdDSASeedSize {
		return nil, errors.New("crypto: eddsa seed must be 57 bytes")
	}
	k := &EdDSAPrivateKey{
		priv: ed448.NewKeyFromSeed(seed),
		s:    ed448SecretFromSymmetric(seed),
	}
	k.pub.ScalarBaseMult(&k.s)
	return k, nil
}

// Seed returns the 57-byte seed, from which NewEdDSAPrivateKey rebuilds the
// key. The caller should clear it.
func (k *EdDSAPrivateKey) Seed() [EdDSASeedSize]byte {
	var s [EdDSASeedSize]byte
	copy(s[:], k.priv[:EdDSASeedSize])
	return s
}

// Public returns the public key H = G * s.
func (k *EdDSAPrivateKey) Public() Point { return k.pub }

// SecretScalar returns a copy of the secret scalar s (the ring signature's
// secret). The caller should Wipe it.
func (k *EdDSAPrivateKey) SecretScalar() Scalar { return k.s }

// Sign returns the pure Ed448 signature (RFC 8032, empty context) of
// message. It is deterministic.
func (k *EdDSAPrivateKey) Sign(message []byte) [EdDSASignatureSize]byte {
	return eddsaSign(k.priv, message, "")
}

func eddsaSign(priv ed448.PrivateKey, message []byte, ctx string) [EdDSASignatureSize]byte {
	var sig [EdDSASignatureSize]byte
	copy(sig[:], ed448.Sign(priv, message, ctx))
	return sig
}

// VerifyEdDSA reports whether sig is a valid pure Ed448 signature (RFC 8032,
// empty context) of message by pub. pub must come from [ParsePoint] (or a
// key of this package). S must be below q.
func VerifyEdDSA(pub *Point, message, sig []byte) bool {
	return eddsaVerify(pub, message, sig, "")
}

func eddsaVerify(pub *Point, message, sig []byte, ctx string) bool {
	if len(sig) != EdDSASignatureSize || pub.IsIdentity() {
		return false
	}
	b := pub.Bytes()
	return ed448.Verify(ed448.PublicKey(b[:]), message, sig, ctx)
}

// Wipe clears the key.
func (k *EdDSAPrivateKey) Wipe() {
	clear(k.priv)
	k.s.Wipe()
}

// String returns "[redacted]".
func (k EdDSAPrivateKey) String() string { return "[redacted]" }

// GoString returns "[redacted]", for %#v.
func (k EdDSAPrivateKey) GoString() string { return "[redacted]" }

// LogValue returns "[redacted]" for log/slog.
func (k EdDSAPrivateKey) LogValue() slog.Value { return slog.StringValue("[redacted]") }
