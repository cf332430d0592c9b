package crypto

import (
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
)

// ECDHRandomSize is the number of random bytes an ECDH key pair is made from.
const ECDHRandomSize = 57

// ErrECDHIdentity is returned when an ECDH shared secret is the identity
// (a non-contributory exchange).
var ErrECDHIdentity = errors.New("crypto: ecdh shared secret is the identity")

// ECDHPrivateKey is an ephemeral OTRv4 ECDH key pair on Ed448 (OTRv4 spec,
// "Generating ECDH and DH keys"). It prints as "[redacted]". Wipe it when it
// is no longer needed. Not safe for concurrent use with Wipe.
type ECDHPrivateKey struct {
	s   Scalar
	pub Point
}

// GenerateECDHKey reads 57 bytes from rand and derives a key pair from them
// as [NewECDHPrivateKey] does.
func GenerateECDHKey(rand io.Reader) (*ECDHPrivateKey, error) {
	var r [ECDHRandomSize]byte
	defer clear(r[:])
	if _, err := io.ReadFull(rand, r[:]); err != nil {
		return nil, err
	}
	return NewECDHPrivateKey(r[:])
}

// NewECDHPrivateKey derives a key pair from the 57 random bytes r:
// h = SHAKE-256(r, 114)[0:57], pruned, read little-endian mod q, is the
// secret s, and G*s the public key (OTRv4 spec, "Generating ECDH and DH
// keys"; otr4j reduces mod q, see ed448.json ecdh_keygen).
func NewECDHPrivateKey(r []byte) (*ECDHPrivateKey, error) {
	if len(r) != ECDHRandomSize {
		return nil, errors.New("crypto: ecdh random value must be 57 bytes")
	}
	k := &ECDHPrivateKey{s: ed448SecretFromSymmetric(r)}
	k.pub.ScalarBaseMult(&k.s)
	return k, nil
}

// Public returns the public key G*s.
func (k *ECDHPrivateKey) Public() Point { return k.pub }

// SecretScalar returns a copy of the secret scalar s. The caller should Wipe
// it.
func (k *ECDHPrivateKey) SecretScalar() Scalar { return k.s }

// SharedSecret returns K_ecdh = s * pub, encoded as a POINT (OTRv4 spec,
// "Generating Shared Secrets"). pub must come from [ParsePoint]. It returns
// [ErrECDHIdentity] if the result is the identity; the check does not branch
// on the secret's bytes.
func (k *ECDHPrivateKey) SharedSecret(pub *Point) ([PointSize]byte, error) {
	var P Point
	P.ScalarMult(&k.s, pub)
	out := P.Bytes()
	id := NewIdentityPoint().Bytes()
	if subtle.ConstantTimeCompare(out[:], id[:]) == 1 {
		clear(out[:])
		return out, ErrECDHIdentity
	}
	return out, nil
}

// Wipe clears the secret scalar.
func (k *ECDHPrivateKey) Wipe() { k.s.Wipe() }

// String returns "[redacted]".
func (k ECDHPrivateKey) String() string { return "[redacted]" }

// GoString returns "[redacted]", for %#v.
func (k ECDHPrivateKey) GoString() string { return "[redacted]" }

// LogValue returns "[redacted]" for log/slog.
func (k ECDHPrivateKey) LogValue() slog.Value { return slog.StringValue("[redacted]") }
