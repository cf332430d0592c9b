package crypto

// The 3072-bit Diffie-Hellman group of OTRv4 (OTRv4 spec, "3072-bit
// Diffie-Hellman Parameters"; RFC 3526 group 15): dhP is the safe prime
// dh_p = 2*dh_q + 1, the generator g3 is 2.

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"sync"

	"filippo.io/bigmod"
)

const (
	// DH3072SecretSize is the size of a 3072-bit DH secret exponent in bytes:
	// 80 random bytes (docs/interop.md, OTRv4: "The DH secret is 80 random
	// bytes").
	DH3072SecretSize = 80
	// DH3072Size is the size of the 3072-bit modulus in bytes.
	DH3072Size = 384
)

var (
	// ErrInvalidDH3072Key is returned for a 3072-bit DH public value that is
	// not minimal or not in the prime-order subgroup (1 < x < p-1, a
	// quadratic residue).
	ErrInvalidDH3072Key = errors.New("crypto: invalid 3072-bit dh public key")
	// ErrInvalidDH3072Secret is returned for a secret exponent that is not 80
	// bytes or is zero.
	ErrInvalidDH3072Secret = errors.New("crypto: invalid 3072-bit dh secret")
)

var dh3072PBytes = func() []byte {
	const h = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1" +
		"29024E088A67CC74020BBEA63B139B22514A08798E3404DD" +
		"EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245" +
		"E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
		"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D" +
		"C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F" +
		"83655D23DCA3AD961C62F356208552BB9ED529077096966D" +
		"670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B" +
		"E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9" +
		"DE2BCBF6955817183995497CEA956AE515D2261898FA0510" +
		"15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64" +
		"ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7" +
		"ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6B" +
		"F12FFA06D98A0864D87602733EC86A64521F2B18177B200C" +
		"BBE117577A615D6C770988C0BAD946E208E24FA074E5AB31" +
		"43DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"
	p, ok := new(big.Int).SetString(h, 16)
	if !ok {
		panic("otr: internal error: bad dh3072 prime")
	}
	return p.Bytes()
}()

var (
	dh3072P   = new(big.Int).SetBytes(dh3072PBytes)
	dh3072PM2 = new(big.Int).Sub(dh3072P, big.NewInt(2))
	dh3072Mod = func() *bigmod.Modulus {
		m, err := bigmod.NewModulus(dh3072PBytes)
		if err != nil {
			panic("otr: internal error: " + err.Error())
		}
		return m
	}()
	dh3072Mont = montModulus(dh3072Mod)
)

// DH3072PublicKey is a validated 3072-bit DH public value. The zero value is
// not valid. It is immutable and safe for concurrent use.
type DH3072PublicKey struct {
	b []byte // minimal big-endian
}

// CheckDH3072Public reports whether b, a minimal big-endian integer (the
// value of an MPI), is a valid public value: 2 <= x <= p-2 and x a quadratic
// residue mod p, which for the safe prime p = 2q + 1 is exactly membership in
// the order-q subgroup (the spec's "x ^ dh_q mod dh_p == 1"). The Jacobi
// symbol decides it far faster than the exponentiation (docs/interop.md,
// "Pitfalls in the Go building blocks"). x is public: math/big is fine here.
func CheckDH3072Public(b []byte) error {
	if len(b) == 0 || b[0] == 0 || len(b) > DH3072Size {
		return ErrInvalidDH3072Key
	}
	x := new(big.Int).SetBytes(b)
	if x.Cmp(big.NewInt(2)) < 0 || x.Cmp(dh3072PM2) > 0 || jacobi(x, dh3072P) != 1 {
		return ErrInvalidDH3072Key
	}
	return nil
}

// ParseDH3072PublicKey validates b as [CheckDH3072Public] does and returns
// the public key. It keeps a copy of b.
func ParseDH3072PublicKey(b []byte) (*DH3072PublicKey, error) {
	if err := CheckDH3072Public(b); err != nil {
		return nil, err
	}
	return &DH3072PublicKey{b: bytes.Clone(b)}, nil
}

// Bytes returns the public value as a minimal big-endian integer (the value
// of its MPI). The caller owns the returned slice.
func (k *DH3072PublicKey) Bytes() []byte { return bytes.Clone(k.b) }

// Equal reports whether k and x are the same public value.
func (k *DH3072PublicKey) Equal(x *DH3072PublicKey) bool { return bytes.Equal(k.b, x.b) }

// DH3072PrivateKey is an ephemeral 3072-bit DH key pair. It prints as
// "[redacted]". Wipe it when done. Safe for concurrent use, except Wipe.
type DH3072PrivateKey struct {
	x   [DH3072SecretSize]byte // secret exponent, big-endian
	pub DH3072PublicKey
}

// GenerateDH3072Key reads an 80-byte secret exponent from rand and returns
// its key pair (OTRv4 spec, "Generating ECDH and DH keys").
func GenerateDH3072Key(rand io.Reader) (*DH3072PrivateKey, error) {
	var r [DH3072SecretSize]byte
	defer clear(r[:])
	if _, err := io.ReadFull(rand, r[:]); err != nil {
		return nil, err
	}
	return NewDH3072PrivateKey(r[:])
}

// NewDH3072PrivateKey returns the key pair whose secret exponent is the 80
// bytes r read big-endian (the random bytes are the secret, as otr4j has it:
// dake.json), with public value g3^r mod dh_p. An all-zero r is rejected.
// The exponentiation is constant time.
func NewDH3072PrivateKey(r []byte) (*DH3072PrivateKey, error) {
	if len(r) != DH3072SecretSize {
		return nil, ErrInvalidDH3072Secret
	}
	var acc byte
	for _, v := range r {
		acc |= v
	}
	if acc == 0 {
		return nil, ErrInvalidDH3072Secret
	}
	k := new(DH3072PrivateKey)
	copy(k.x[:], r)
	y := dh3072GTable().exp(k.x[:])
	k.pub.b = dh3072Minimal(y.Bytes(dh3072Mod))
	return k, nil
}

// dh3072GTable is the comb table for g = 2 and 640-bit exponents, built on
// first use (about 1.6 MiB, a few tens of milliseconds): key generation
// then costs one multiplication per 5 exponent bits instead of about 6/5.
var dh3072GTable = sync.OnceValue(func() *fixedBase {
	g := bigmod.NewNat().SetUint(2).ExpandFor(dh3072Mod)
	return newFixedBase(g, dh3072Mod, 8*DH3072SecretSize, 5)
})

// dh3072Minimal returns b without leading zero bytes, as a new slice.
func dh3072Minimal(b []byte) []byte {
	i := 0
	for i < len(b) && b[i] == 0 {
		i++
	}
	return bytes.Clone(b[i:])
}

// Public returns the public value.
func (k *DH3072PrivateKey) Public() *DH3072PublicKey { return &k.pub }

// SharedSecret returns k_dh = pub^x mod dh_p as a big-endian integer of
// minimal length: that is how it enters the brace-key KDF (docs/interop.md,
// "Double ratchet"). The exponentiation is constant time; the minimal length
// reveals the number of leading zero bytes, as the interop encoding demands.
// The caller owns the result and should clear it.
func (k *DH3072PrivateKey) SharedSecret(pub *DH3072PublicKey) ([]byte, error) {
	if pub == nil || len(pub.b) == 0 {
		return nil, ErrInvalidDH3072Key
	}
	y, err := bigmod.NewNat().SetBytes(pub.b, dh3072Mod)
	if err != nil {
		return nil, ErrInvalidDH3072Key
	}
	s := montExp(dh3072Mont, dh3072Mod, y, k.x[:])
	full := s.Bytes(dh3072Mod)
	out := dh3072Minimal(full)
	clear(full)
	return out, nil
}

// Wipe clears the secret exponent.
func (k *DH3072PrivateKey) Wipe() { clear(k.x[:]) }

// String returns "[redacted]".
func (k DH3072PrivateKey) String() string { return "[redacted]" }

// GoString returns "[redacted]", for %#v.
func (k DH3072PrivateKey) GoString() string { return "[redacted]" }

// LogValue returns "[redacted]" for log/slog.
func (k DH3072PrivateKey) LogValue() slog.Value { return slog.StringValue("[redacted]") }
