package crypto

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"sync"

	"filippo.io/bigmod"
)

// The OTR3 Diffie-Hellman group: the 1536-bit MODP group of RFC 3526 (OTR3
// spec, "Encoded messages"), generator 2. p is a safe prime, p = 2q + 1 with
// q prime, and p ≡ 7 (mod 8), so 2 is a quadratic residue and generates the
// subgroup of order q: the quadratic residues. Every honest g^x is therefore
// a quadratic residue, and CheckDHPublic can demand subgroup membership
// (TestOTR3GroupConstants checks all of this with math/big).
const otr3PHex = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1" +
	"29024E088A67CC74020BBEA63B139B22514A08798E3404DD" +
	"EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245" +
	"E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
	"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D" +
	"C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F" +
	"83655D23DCA3AD961C62F356208552BB9ED529077096966D" +
	"670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF"

var (
	otr3PBig       = otr3HexInt(otr3PHex)
	otr3QBig       = new(big.Int).Rsh(otr3PBig, 1) // (p-1)/2
	otr3PMinus2Big = new(big.Int).Sub(otr3PBig, big.NewInt(2))
	otr3P          = otr3Modulus(otr3PBig)
	otr3Q          = otr3Modulus(otr3QBig)
	otr3PMont      = montModulus(otr3P)
	otr3PLen       = (otr3PBig.BitLen() + 7) / 8 // 192
)

func otr3HexInt(s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 16)
	if !ok {
		panic("otr: internal error: bad constant")
	}
	return v
}

// otr3G returns the generator 2 as a Nat sized for p.
func otr3G() *bigmod.Nat {
	return otr3MustNat([]byte{2}, otr3P)
}

// otr3GTable returns the comb table for g = 2 and 320-bit exponents, built
// on first use (about 400 KiB, a few milliseconds).
var otr3GTable = sync.OnceValue(func() *fixedBase {
	return newFixedBase(otr3G(), otr3P, 8*dhSecretLen, 5)
})

// ErrInvalidDHKey is returned for a Diffie-Hellman public value that is not
// a minimal encoding of an element of the order-q subgroup in [2, p-2].
var ErrInvalidDHKey = errors.New("crypto: invalid OTR3 Diffie-Hellman public value")

// otr3RandErr wraps the error of a failing random source.
func otr3RandErr(err error) error {
	return fmt.Errorf("crypto: reading randomness: %w", err)
}

// dhSecretLen is the length of an OTR3 DH exponent: the spec asks for "at
// least 320 bits" (OTR3 spec, "Authenticated Key Exchange"), libotr uses 320.
const dhSecretLen = 40

// DHPrivateKey is an OTR3 Diffie-Hellman key pair in the 1536-bit group:
// a 320-bit secret exponent x and the public value g^x. Its methods are safe
// for concurrent use, except Wipe.
type DHPrivateKey struct {
	x   [dhSecretLen]byte
	pub []byte // g^x, minimal big-endian
}

// GenerateDHKey reads 40 bytes from rand for the secret exponent and
// computes g^x in constant time.
func GenerateDHKey(rand io.Reader) (*DHPrivateKey, error) {
	k := new(DHPrivateKey)
	var zero [dhSecretLen]byte
	for {
		if _, err := io.ReadFull(rand, k.x[:]); err != nil {
			k.Wipe()
			return nil, otr3RandErr(err)
		}
		// A zero exponent would give g^x = 1 (probability 2^-320).
		if subtle.ConstantTimeCompare(k.x[:], zero[:]) == 0 {
			break
		}
	}
	y := otr3GTable().exp(k.x[:])
	k.pub = otr3Bytes(y, otr3P)
	return k, nil
}

// Public returns g^x as a minimal big-endian value; the caller owns the
// copy.
func (k *DHPrivateKey) Public() []byte {
	return append([]byte(nil), k.pub...)
}

// DHPublicKey is an OTR3 Diffie-Hellman public value that passed
// CheckDHPublic: validated once, used for many shared secrets.
type DHPublicKey struct{ y []byte }

// ParseDHPublic validates y with CheckDHPublic and returns it as a
// DHPublicKey (holding a copy).
func ParseDHPublic(y []byte) (*DHPublicKey, error) {
	if err := CheckDHPublic(y); err != nil {
		return nil, err
	}
	return &DHPublicKey{y: append([]byte(nil), y...)}, nil
}

// Bytes returns the value, minimal big-endian (the caller must not modify
// it).
func (k *DHPublicKey) Bytes() []byte { return k.y }

// SharedSecret checks peer with CheckDHPublic and returns s = peer^x mod p
// as a minimal big-endian value (the caller owns it and should wipe it). It
// is constant-time in x.
func (k *DHPrivateKey) SharedSecret(peer []byte) ([]byte, error) {
	pub, err := ParseDHPublic(peer)
	if err != nil {
		return nil, err
	}
	return k.SharedSecretWith(pub)
}

// SharedSecretWith is SharedSecret for an already validated public value.
func (k *DHPrivateKey) SharedSecretWith(pub *DHPublicKey) ([]byte, error) {
	peer := pub.y
	y := otr3MustNat(peer, otr3P)
	s := montExp(otr3PMont, otr3P, y, k.x[:])
	out := otr3Bytes(s, otr3P)
	otr3WipeNat(s)
	return out, nil
}

// Wipe clears the secret exponent. k must not be used afterwards.
func (k *DHPrivateKey) Wipe() {
	clear(k.x[:])
	k.pub = nil
}

// String returns "[redacted]".
func (k *DHPrivateKey) String() string { return "[redacted]" }

// GoString returns "[redacted]".
func (k *DHPrivateKey) GoString() string { return "[redacted]" }

// LogValue implements slog.LogValuer; it returns "[redacted]".
func (k *DHPrivateKey) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// CheckDHPublic returns ErrInvalidDHKey unless y is the minimal big-endian
// encoding (no leading zero byte) of a value with 2 <= y <= p-2 that lies in
// the order-q subgroup. Since 2 is a quadratic residue mod p (see the group
// constants above), honest peers only ever send quadratic residues, and the
// Jacobi symbol decides membership far faster than y^q. y is public:
// math/big's variable time is fine here.
func CheckDHPublic(y []byte) error {
	v, err := checkDHRange(y)
	if err != nil {
		return err
	}
	if jacobi(v, otr3PBig) != 1 {
		return ErrInvalidDHKey
	}
	return nil
}

// checkDHRange is the OTR3 spec's check: minimal, 2 <= y <= p-2.
func checkDHRange(y []byte) (*big.Int, error) {
	if !otr3IsMinimal(y) || len(y) > otr3PLen {
		return nil, ErrInvalidDHKey
	}
	v := new(big.Int).SetBytes(y)
	if v.Cmp(big.NewInt(2)) < 0 || v.Cmp(otr3PMinus2Big) > 0 {
		return nil, ErrInvalidDHKey
	}
	return v, nil
}

// ParseAuthenticatedDHPublic validates y with the OTR3 spec's check only
// (minimal, 2 <= y <= p-2), without the subgroup test. It is for the next
// D-H key carried inside a data message whose MAC already verified: only
// the authenticated peer chose it, and the peer learns the shared secret
// anyway, so a value outside the subgroup could at most reveal to that peer
// the parity of our ephemeral exponent. Unauthenticated values (the AKE's)
// go through ParseDHPublic.
func ParseAuthenticatedDHPublic(y []byte) (*DHPublicKey, error) {
	if _, err := checkDHRange(y); err != nil {
		return nil, err
	}
	return &DHPublicKey{y: append([]byte(nil), y...)}, nil
}

// CompareMPI compares two unsigned big-endian values and returns -1, 0 or
// +1 as a < b, a == b or a > b. Leading zero bytes are ignored. The values
// are public (OTR3 compares DH public keys to choose the sendbyte and
// recvbyte), so it is not constant-time.
func CompareMPI(a, b []byte) int {
	a, b = otr3Minimal(a), otr3Minimal(b)
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	for i := range a {
		switch {
		case a[i] < b[i]:
			return -1
		case a[i] > b[i]:
			return 1
		}
	}
	return 0
}
