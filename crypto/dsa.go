package crypto

import (
	"bytes"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"sync"

	"filippo.io/bigmod"

	"github.com/otrgo/otr/crypto/internal/mont"
)

// OTR3 long-term keys are DSA keys with a 1024-bit p and a 160-bit q (OTR3
// spec, "Public keys, signatures, and fingerprints": signatures are 2×20
// bytes).
//
// Message reduction: OTR3 signs a 32-byte HMAC and OTRv4's transitional
// signature signs a long byte string, in both cases without hashing or
// truncating it: the message, read as one big-endian unsigned integer, is
// reduced mod q (z = int(msg) mod q). That is what libotr does through
// libgcrypt (for a plain, non-opaque MPI _gcry_dsa_normalize_hash leaves the
// value unchanged and signing then works mod q), what otr4j does for the
// transitional signature (docs/interop.md, "Client profile"), and what
// crypto/dsa.Verify computes when given the message as its "hash".
const (
	dsaPBits    = 1024
	dsaQBits    = 160
	dsaQLen     = dsaQBits / 8
	dsaSigLen   = 2 * dsaQLen
	dsaMaxPBits = 3072 // bound on keys Verify accepts (work-factor attacks)
)

// ErrInvalidDSAKey is returned for DSA keys whose values are malformed or
// inconsistent.
var ErrInvalidDSAKey = errors.New("crypto: invalid DSA key")

// errDSASign is returned if no valid nonce was found: it only happens with
// a broken key or random source.
var errDSASign = errors.New("crypto: DSA signing failed")

// DSAPublicKey is an OTR3 DSA public key. The values are big-endian unsigned
// integers, as carried in MPIs. A DSAPublicKey is a plain value: its methods
// only read it and are safe for concurrent use.
type DSAPublicKey struct {
	P, Q, G, Y []byte
}

func (k *DSAPublicKey) ints() (p, q, g, y *big.Int) {
	return new(big.Int).SetBytes(k.P), new(big.Int).SetBytes(k.Q),
		new(big.Int).SetBytes(k.G), new(big.Int).SetBytes(k.Y)
}

// Verify reports whether sig, r||s with 20 bytes each, is a valid signature
// of msg under k. msg is reduced mod q without hashing (see the comment at
// the top of this file). Verify also returns false for keys outside the
// bounds it accepts (q of 160 bits, an odd p of at most 3072 bits), so it
// never spends unbounded time on a peer's key.
func (k *DSAPublicKey) Verify(msg, sig []byte) bool {
	if k == nil || len(sig) != dsaSigLen {
		return false
	}
	p, q, g, y := k.ints()
	if p.BitLen() > dsaMaxPBits || p.BitLen() < dsaQBits || p.Bit(0) != 1 || q.BitLen() != dsaQBits {
		return false
	}
	r := new(big.Int).SetBytes(sig[:dsaQLen])
	s := new(big.Int).SetBytes(sig[dsaQLen:])
	if r.Sign() <= 0 || r.Cmp(q) >= 0 || s.Sign() <= 0 || s.Cmp(q) >= 0 {
		return false
	}
	w := new(big.Int).ModInverse(s, q)
	if w == nil {
		return false
	}
	z := new(big.Int).SetBytes(msg)
	u1 := z.Mul(z.Mod(z, q), w)
	u1.Mod(u1, q)
	u2 := new(big.Int).Mul(r, w)
	u2.Mod(u2, q)
	// g^u1 * y^u2 mod p with mont: all public values, but its Montgomery
	// exponentiation is faster than math/big's for these sizes (p has at
	// most dsaMaxPBits = mont.MaxLimbs·64 bits).
	if g.Sign() <= 0 || g.Cmp(p) >= 0 || y.Sign() <= 0 || y.Cmp(p) >= 0 {
		return false
	}
	m, err := mont.NewModulus(p.Bytes())
	if err != nil {
		return false
	}
	a, err1 := m.Exp(g.Bytes(), u1.Bytes())
	b, err2 := m.Exp(y.Bytes(), u2.Bytes())
	if err1 != nil || err2 != nil {
		return false
	}
	v := new(big.Int).Mul(new(big.Int).SetBytes(a), new(big.Int).SetBytes(b))
	v.Mod(v, p)
	return v.Mod(v, q).Cmp(r) == 0
}

// Fingerprint returns the OTR3 fingerprint of k: SHA-1 over the PUBKEY
// encoding without its 2-byte key type, MPI(p) || MPI(q) || MPI(g) ||
// MPI(y) (OTR3 spec, "Public keys, signatures, and fingerprints";
// docs/interop.md). The MPIs are re-encoded minimally, so a value
// with leading zero bytes has the fingerprint of its canonical form.
func (k *DSAPublicKey) Fingerprint() [20]byte {
	return SHA1(k.appendMPIs(nil))
}

func (k *DSAPublicKey) appendMPIs(b []byte) []byte {
	b = otr3AppendMPI(b, k.P)
	b = otr3AppendMPI(b, k.Q)
	b = otr3AppendMPI(b, k.G)
	return otr3AppendMPI(b, k.Y)
}

// Equal reports whether k and o hold the same values (ignoring leading zero
// bytes). Two nil keys are equal.
func (k *DSAPublicKey) Equal(o *DSAPublicKey) bool {
	if k == nil || o == nil {
		return k == o
	}
	return bytes.Equal(otr3Minimal(k.P), otr3Minimal(o.P)) &&
		bytes.Equal(otr3Minimal(k.Q), otr3Minimal(o.Q)) &&
		bytes.Equal(otr3Minimal(k.G), otr3Minimal(o.G)) &&
		bytes.Equal(otr3Minimal(k.Y), otr3Minimal(o.Y))
}

// Check returns ErrInvalidDSAKey unless k is a sane OTR3 DSA key: minimal
// encodings, p of 1024 bits, q of 160 bits dividing p-1, 1 < g < p-1
// and 1 < y < p-1. The primality of p and q and the orders of g and y are not
// checked here (they cost exponentiations and protect nothing for a peer's
// key: whoever chose the key can sign with it anyway); private keys are
// checked fully.
func (k *DSAPublicKey) Check() error {
	if k == nil || !otr3IsMinimal(k.P) || !otr3IsMinimal(k.Q) || !otr3IsMinimal(k.G) || !otr3IsMinimal(k.Y) {
		return ErrInvalidDSAKey
	}
	p, q, g, y := k.ints()
	if p.BitLen() != dsaPBits || q.BitLen() != dsaQBits || p.Bit(0) != 1 {
		return ErrInvalidDSAKey
	}
	one := big.NewInt(1)
	pm1 := new(big.Int).Sub(p, one)
	// No primality test of q either: like the orders below, it protects only
	// the key's owner (a weak key is theirs to lose), and it would cost a
	// Baillie-PSW test on every AKE. Private keys are checked fully.
	if new(big.Int).Mod(pm1, q).Sign() != 0 {
		return ErrInvalidDSAKey
	}
	// Ranges only: g^q = 1 and y^q = 1 would cost two exponentiations on
	// every AKE and, like p's primality, protect only the key's owner.
	for _, v := range []*big.Int{g, y} {
		if v.Cmp(one) <= 0 || v.Cmp(pm1) >= 0 {
			return ErrInvalidDSAKey
		}
	}
	return nil
}

func (k *DSAPublicKey) clone() *DSAPublicKey {
	return &DSAPublicKey{
		P: append([]byte(nil), otr3Minimal(k.P)...),
		Q: append([]byte(nil), otr3Minimal(k.Q)...),
		G: append([]byte(nil), otr3Minimal(k.G)...),
		Y: append([]byte(nil), otr3Minimal(k.Y)...),
	}
}

// DSAPrivateKey is an OTR3 DSA private key with its public key. Sign,
// Public, Values and MarshalBinary are safe for concurrent use; Wipe is not.
type DSAPrivateKey struct {
	pub     *DSAPublicKey
	p, q    *bigmod.Modulus
	qMinus2 []byte
	x       [dsaQLen]byte // big-endian, zero-padded
	wiped   bool

	gOnce sync.Once
	gTab  *fixedBase // comb table for g^k, built on the first Sign
}

// gTable returns the comb table for the key's generator and 160-bit
// exponents (about 130 KiB).
func (k *DSAPrivateKey) gTable() *fixedBase {
	k.gOnce.Do(func() {
		k.gTab = newFixedBase(otr3MustNat(k.pub.G, k.p), k.p, 8*dsaQLen, 5)
	})
	return k.gTab
}

// GenerateDSAKey generates a new OTR3 DSA key (L = 1024, N = 160): domain
// parameters in the style of FIPS 186-3 A.1.1 (without the seed) and a
// private value x uniform in [1, q-1]. All randomness comes from rand, so a
// deterministic rand gives a deterministic key.
func GenerateDSAKey(rand io.Reader) (*DSAPrivateKey, error) {
	p, q, g, err := otr3DSAParams(rand)
	if err != nil {
		return nil, err
	}
	k := &DSAPrivateKey{
		p: otr3Modulus(p), q: otr3Modulus(q),
		qMinus2: new(big.Int).Sub(q, big.NewInt(2)).Bytes(),
	}
	var buf [64]byte
	defer clear(buf[:])
	for {
		if _, err := io.ReadFull(rand, buf[:]); err != nil {
			return nil, otr3RandErr(err)
		}
		x := otr3ReduceBytes(buf[:], k.q)
		if x.IsZero() == 1 {
			continue
		}
		xb := x.Bytes(k.q)
		copy(k.x[:], xb)
		clear(xb)
		otr3WipeNat(x)
		break
	}
	y := bigmod.NewNat().Exp(otr3MustNat(g.Bytes(), k.p), k.x[:], k.p)
	k.pub = &DSAPublicKey{P: p.Bytes(), Q: q.Bytes(), G: g.Bytes(), Y: otr3Bytes(y, k.p)}
	return k, nil
}

// otr3DSAParams generates p, q, g with math/big: they are public.
func otr3DSAParams(rand io.Reader) (p, q, g *big.Int, err error) {
	qb := make([]byte, dsaQLen)
	pb := make([]byte, dsaPBits/8)
	q, p, g = new(big.Int), new(big.Int), new(big.Int)
	rem, twoQ := new(big.Int), new(big.Int)
	one := big.NewInt(1)
	for {
		if _, err := io.ReadFull(rand, qb); err != nil {
			return nil, nil, nil, otr3RandErr(err)
		}
		qb[0] |= 0x80
		qb[len(qb)-1] |= 1
		q.SetBytes(qb)
		if !q.ProbablyPrime(20) {
			continue
		}
		twoQ.Lsh(q, 1)
		for range 4 * dsaPBits {
			if _, err := io.ReadFull(rand, pb); err != nil {
				return nil, nil, nil, otr3RandErr(err)
			}
			pb[0] |= 0x80
			p.SetBytes(pb)
			rem.Mod(p, twoQ)
			p.Sub(p, rem).Add(p, one) // p ≡ 1 (mod 2q)
			if p.BitLen() != dsaPBits || !p.ProbablyPrime(20) {
				continue
			}
			e := new(big.Int).Div(new(big.Int).Sub(p, one), q)
			for h := int64(2); ; h++ {
				g.Exp(big.NewInt(h), e, p)
				if g.Cmp(one) != 0 {
					return p, q, g, nil
				}
			}
		}
	}
}

// NewDSAPrivateKey returns the private key with the given values, for
// importing keys from other programs. Leading zero bytes are accepted (key
// files written by libgcrypt carry one before a set top bit). The key is
// validated as by ParseDSAPrivateKey.
func NewDSAPrivateKey(p, q, g, y, x []byte) (*DSAPrivateKey, error) {
	return newDSAPrivateKey(otr3Minimal(p), otr3Minimal(q), otr3Minimal(g), otr3Minimal(y), otr3Minimal(x))
}

func newDSAPrivateKey(p, q, g, y, x []byte) (*DSAPrivateKey, error) {
	pub := (&DSAPublicKey{P: p, Q: q, G: g, Y: y}).clone()
	if err := pub.Check(); err != nil {
		return nil, err
	}
	// What Check leaves out for a peer's key: a key we sign with must be
	// sound, or every signature it makes is invalid. With q prime and
	// 1 < g < p-1 (Check), g^q = 1 means g has order q.
	pInt, qInt, gInt, _ := pub.ints()
	if !pInt.ProbablyPrime(20) || !qInt.ProbablyPrime(20) ||
		new(big.Int).Exp(gInt, qInt, pInt).Cmp(big.NewInt(1)) != 0 {
		return nil, ErrInvalidDSAKey
	}
	k := &DSAPrivateKey{
		pub: pub, p: otr3Modulus(pInt), q: otr3Modulus(qInt),
		qMinus2: new(big.Int).Sub(qInt, big.NewInt(2)).Bytes(),
	}
	if !otr3IsMinimal(x) || len(x) > dsaQLen {
		return nil, ErrInvalidDSAKey
	}
	xn, ok := otr3Nat(x, k.q)
	if !ok || xn.IsZero() == 1 {
		return nil, ErrInvalidDSAKey
	}
	copy(k.x[dsaQLen-len(x):], x)
	gx := bigmod.NewNat().Exp(otr3MustNat(pub.G, k.p), k.x[:], k.p)
	yn := otr3MustNat(pub.Y, k.p)
	eq := gx.Equal(yn)
	otr3WipeNat(xn)
	if eq != 1 {
		k.Wipe()
		return nil, ErrInvalidDSAKey
	}
	return k, nil
}

// Public returns a copy of the public key.
func (k *DSAPrivateKey) Public() *DSAPublicKey {
	return k.pub.clone()
}

// Values returns copies of the key's values as minimal big-endian integers,
// for exporting the key to other programs. The caller owns x and should
// wipe it.
func (k *DSAPrivateKey) Values() (p, q, g, y, x []byte) {
	pub := k.pub.clone()
	return pub.P, pub.Q, pub.G, pub.Y, append([]byte(nil), otr3Minimal(k.x[:])...)
}

// MarshalBinary encodes the key in this package's own format: MPI(p) ||
// MPI(q) || MPI(g) || MPI(y) || MPI(x). The caller owns the result, which
// holds the secret and should be wiped after use.
func (k *DSAPrivateKey) MarshalBinary() ([]byte, error) {
	if k.wiped {
		return nil, ErrInvalidDSAKey
	}
	b := k.pub.appendMPIs(make([]byte, 0, 5*4+3*dsaPBits/8+2*dsaQLen))
	return otr3AppendMPI(b, k.x[:]), nil
}

// ParseDSAPrivateKey parses the encoding written by MarshalBinary. It
// accepts only minimal MPIs and exactly five of them, and validates the key
// as NewDSAPrivateKey does: Check (which includes q | p-1 and 1 < g < p-1),
// then p and q prime, g of order q (g^q = 1 mod p), 1 <= x < q and y = g^x.
func ParseDSAPrivateKey(b []byte) (*DSAPrivateKey, error) {
	var v [5][]byte
	s := b
	for i := range v {
		var ok bool
		if v[i], ok = otr3ReadMPI(&s, dsaPBits/8); !ok {
			return nil, ErrInvalidDSAKey
		}
	}
	if len(s) != 0 {
		return nil, ErrInvalidDSAKey
	}
	return newDSAPrivateKey(v[0], v[1], v[2], v[3], v[4])
}

// Sign returns a signature r||s (40 bytes) of msg, which is reduced mod q
// without hashing (see the comment at the top of this file). It runs in
// time independent of x and of the nonce k. The nonce is hedged: k is
// derived with SHA-512 from x, msg and 32 fresh bytes read from rand, so
// neither a weak rand nor a repeated one alone reveals x. A failing rand is
// an error.
func (k *DSAPrivateKey) Sign(rand io.Reader, msg []byte) ([]byte, error) {
	if k.wiped {
		return nil, ErrInvalidDSAKey
	}
	var rnd [32]byte
	defer clear(rnd[:])
	if _, err := io.ReadFull(rand, rnd[:]); err != nil {
		return nil, otr3RandErr(err)
	}
	msgHash := sha512.Sum512(msg)
	z := otr3ReduceBytes(msg, k.q)
	gt := k.gTable()
	var ctr [4]byte
	for i := range uint32(64) {
		binary.BigEndian.PutUint32(ctr[:], i)
		h := sha512.New()
		h.Write([]byte("otrgo OTR3 DSA hedged nonce"))
		h.Write(ctr[:])
		h.Write(k.x[:])
		h.Write(rnd[:])
		h.Write(msgHash[:])
		var hk [sha512.Size]byte
		h.Sum(hk[:0])
		kn := otr3ReduceBytes(hk[:], k.q) // 512 bits mod q: negligible bias
		clear(hk[:])
		if kn.IsZero() == 1 {
			continue
		}
		kb := kn.Bytes(k.q)
		gk := gt.exp(kb)
		clear(kb)
		r := bigmod.NewNat().Mod(gk, k.q)
		otr3WipeNat(gk)
		kinv := bigmod.NewNat().Exp(kn, k.qMinus2, k.q) // Fermat: q is prime
		otr3WipeNat(kn)
		s := otr3MustNat(k.x[:], k.q)
		s.Mul(r, k.q).Add(z, k.q).Mul(kinv, k.q) // k^-1 (z + x r) mod q
		otr3WipeNat(kinv)
		if r.IsZero() == 1 || s.IsZero() == 1 {
			otr3WipeNat(s)
			continue
		}
		sig := append(r.Bytes(k.q), s.Bytes(k.q)...)
		otr3WipeNat(s)
		return sig, nil
	}
	return nil, errDSASign
}

// Wipe clears the private value. k must not be used to sign afterwards.
func (k *DSAPrivateKey) Wipe() {
	clear(k.x[:])
	k.wiped = true
}

// String returns "[redacted]".
func (k *DSAPrivateKey) String() string { return "[redacted]" }

// GoString returns "[redacted]".
func (k *DSAPrivateKey) GoString() string { return "[redacted]" }

// LogValue implements slog.LogValuer; it returns "[redacted]".
func (k *DSAPrivateKey) LogValue() slog.Value { return slog.StringValue("[redacted]") }
