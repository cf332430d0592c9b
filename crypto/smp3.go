package crypto

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"sync"

	"filippo.io/bigmod"
)

// Group arithmetic of the OTR3 Socialist Millionaires' Protocol (OTR3 spec,
// "Socialist Millionaires' Protocol"): elements of the 1536-bit group of
// dh.go, exponents mod q = (p-1)/2, g1 = 2. Names follow the spec: g2a, g3b,
// Pa, Qb, cP, D5, and so on.
//
// Every exponentiation and multiplication that involves a secret or a value
// derived from one (a2, a3, b2, b3, the r values, the secret x, g2, g3) uses
// bigmod and is constant-time. Received values are public: their range and
// subgroup checks use math/big, and Div inverts its public divisor with
// bigmod's variable-time inverse.

// ErrInvalidSMP3Value is returned for an SMP group element or exponent that
// is malformed or out of range.
var ErrInvalidSMP3Value = errors.New("crypto: invalid SMP value")

// otr3SMPHashLen is the length of a proof challenge c: a SHA-256 digest.
const otr3SMPHashLen = sha256.Size

// SMP3Element is an element of the order-q subgroup of the OTR3 SMP group.
// The zero value is not valid; values come from ParseSMP3Element,
// SMP3BaseExp and the methods below, which never modify their receiver or
// arguments, so an element may be shared between goroutines. Elements
// derived from secrets (g2, g3) should be wiped when no longer needed.
type SMP3Element struct {
	n *bigmod.Nat
}

// ParseSMP3Element parses a received group element: the minimal big-endian
// encoding of a value with 2 <= v <= p-2 (OTR3 spec, "Check that ... are >=
// 2 and <= modulus-2"). Beyond the spec it also requires v to be a
// quadratic residue, i.e. in the order-q subgroup: g1 = 2 generates that
// subgroup, so every honest value is in it, and a value outside it would let
// a cheater learn the parity of our random exponents.
func ParseSMP3Element(b []byte) (*SMP3Element, error) {
	if err := CheckDHPublic(b); err != nil {
		return nil, ErrInvalidSMP3Value
	}
	return &SMP3Element{otr3MustNat(b, otr3P)}, nil
}

// otr3SMPGTable is the comb table for g1 = 2 and 1536-bit exponents, built
// on first use (308 rows of 32 elements, about 2 MiB, some 15 ms): half of
// the SMP's exponentiations have base g1, and the comb needs about a third
// of the modular multiplications of bigmod's Exp.
var otr3SMPGTable = sync.OnceValue(func() *fixedBase {
	return newFixedBase(otr3G(), otr3P, 8*otr3SMPRandomLen, 5)
})

// SMP3BaseExp returns g1^x with g1 = 2, in constant time.
func SMP3BaseExp(x *SMP3Exponent) *SMP3Element {
	e := x.bytes()
	defer clear(e)
	return &SMP3Element{otr3SMPGTable().exp(e)}
}

// otr3SMPBaseExpPublic returns g1^e for a public exponent (a received D):
// it uses the same table.
func otr3SMPBaseExpPublic(e []byte) *bigmod.Nat {
	return otr3SMPGTable().exp(e)
}

// Bytes returns e as a minimal big-endian value (a fresh copy).
func (e *SMP3Element) Bytes() []byte {
	return otr3Bytes(e.n, otr3P)
}

// Equal reports whether e and o are the same element, in constant time.
func (e *SMP3Element) Equal(o *SMP3Element) bool {
	return e.n.Equal(o.n) == 1
}

// Exp returns e^x mod p in constant time.
func (e *SMP3Element) Exp(x *SMP3Exponent) *SMP3Element {
	return &SMP3Element{otr3SMPExp(e.n, x.bytes())}
}

// Mul returns e·o mod p in constant time.
func (e *SMP3Element) Mul(o *SMP3Element) *SMP3Element {
	return &SMP3Element{otr3SMPMul(e.n, o.n)}
}

// Div returns e/o mod p. The inverse of o is computed in variable time:
// o must be public (in the protocol only Pb and Qb, or Pa and Qa, which were
// sent over the wire, are divisors).
func (e *SMP3Element) Div(o *SMP3Element) *SMP3Element {
	inv, ok := bigmod.NewNat().InverseVarTime(o.n, otr3P)
	if !ok {
		panic("otr: internal error: SMP element not invertible")
	}
	return &SMP3Element{inv.Mul(e.n, otr3P)}
}

// Wipe clears e. It must not be used afterwards.
func (e *SMP3Element) Wipe() {
	if e != nil {
		otr3WipeNat(e.n)
	}
}

// SMP3Exponent is a secret exponent mod q: a random exponent (a2, a3, b2,
// b3, r2, ...) or the secret x. Its methods only read it except Wipe.
type SMP3Exponent struct {
	n *bigmod.Nat
}

// otr3SMPRandomLen is the length of a random SMP exponent: the spec asks for
// 1536-bit random exponents. Read as a 192-byte integer and reduced mod q it
// is uniform up to a bias below 2^-63, because 2^1536 - 2q < 2^1473.
const otr3SMPRandomLen = 192

// GenerateSMP3Exponent reads 192 bytes from rand and returns them reduced
// mod q, rejecting zero, in constant time.
func GenerateSMP3Exponent(rand io.Reader) (*SMP3Exponent, error) {
	var buf [otr3SMPRandomLen]byte
	defer clear(buf[:])
	for {
		if _, err := io.ReadFull(rand, buf[:]); err != nil {
			return nil, otr3RandErr(err)
		}
		n := otr3ReduceBytes(buf[:], otr3Q)
		if n.IsZero() == 0 {
			return &SMP3Exponent{n}, nil
		}
	}
}

// NewSMP3Secret returns the SMP secret (the 32-byte SHA-256 combination of
// the OTR3 spec, "Secret information") read as a big-endian integer, which
// is how libotr uses it. Longer inputs are reduced mod q.
func NewSMP3Secret(secret []byte) *SMP3Exponent {
	return &SMP3Exponent{otr3ReduceBytes(secret, otr3Q)}
}

// bytes returns x as a 192-byte big-endian exponent: a fixed length, so an
// exponentiation's time does not depend on x.
func (x *SMP3Exponent) bytes() []byte {
	return x.n.Bytes(otr3Q)
}

// Wipe clears x. It must not be used afterwards.
func (x *SMP3Exponent) Wipe() {
	if x != nil {
		otr3WipeNat(x.n)
	}
}

// String returns "[redacted]".
func (x *SMP3Exponent) String() string { return "[redacted]" }

// GoString returns "[redacted]".
func (x *SMP3Exponent) GoString() string { return "[redacted]" }

// LogValue implements slog.LogValuer; it returns "[redacted]".
func (x *SMP3Exponent) LogValue() slog.Value { return slog.StringValue("[redacted]") }

func otr3SMPExp(base *bigmod.Nat, e []byte) *bigmod.Nat {
	out := montExp(otr3PMont, otr3P, base, e)
	clear(e)
	return out
}

func otr3SMPMul(a, b *bigmod.Nat) *bigmod.Nat {
	out := bigmod.NewNat().Mod(a, otr3P) // a copy of a, sized for p
	return out.Mul(b, otr3P)
}

// SMP3Hash returns the SMP hash function of the OTR3 spec ("SMP Hash
// function"): SHA-256 over the version byte, MPI(a) and, if b is not nil,
// MPI(b).
func SMP3Hash(version byte, a, b *SMP3Element) [32]byte {
	buf := make([]byte, 0, 1+2*(4+otr3PLen))
	buf = append(buf, version)
	buf = otr3AppendMPI(buf, a.Bytes())
	if b != nil {
		buf = otr3AppendMPI(buf, b.Bytes())
	}
	return sha256.Sum256(buf)
}

// otr3SMPChallenge returns the digest as an exponent mod q (it is below
// 2^256 < q) and as its minimal encoding, as it is sent in an MPI.
func otr3SMPChallenge(h [32]byte) (*bigmod.Nat, []byte) {
	return otr3MustNat(h[:], otr3Q), append([]byte(nil), otr3Minimal(h[:])...)
}

// otr3SMPResponse returns D = r - x·c mod q as a minimal value, in constant
// time.
func otr3SMPResponse(r, x *SMP3Exponent, c *bigmod.Nat) []byte {
	t := bigmod.NewNat().Mod(x.n, otr3Q)
	t.Mul(c, otr3Q)
	d := bigmod.NewNat().Mod(r.n, otr3Q)
	d.Sub(t, otr3Q)
	out := otr3Bytes(d, otr3Q)
	otr3WipeNat(t)
	otr3WipeNat(d)
	return out
}

// otr3SMPCheckResponse returns the received exponent D as a 192-byte
// exponent if it is minimal and 1 <= D < q (libotr's check_expon).
func otr3SMPCheckResponse(d []byte) ([]byte, bool) {
	if !otr3IsMinimal(d) || len(d) > otr3PLen {
		return nil, false
	}
	v := new(big.Int).SetBytes(d)
	if v.Cmp(otr3QBig) >= 0 {
		return nil, false
	}
	return v.FillBytes(make([]byte, otr3PLen)), true
}

// otr3SMPCheckChallenge reports whether c is a minimal value of at most 32
// bytes, and returns it as an exponent.
func otr3SMPCheckChallenge(c []byte) ([]byte, bool) {
	if !otr3IsMinimal(c) || len(c) > otr3SMPHashLen {
		return nil, false
	}
	return c, true
}

// otr3SMPMatch reports whether the received challenge c equals the digest h
// (both as integers), in constant time.
func otr3SMPMatch(c []byte, h [32]byte) bool {
	m := otr3Minimal(h[:])
	return len(m) == len(c) && subtle.ConstantTimeCompare(m, c) == 1
}

// SMP3ProveLog returns a proof of knowledge of x for g1^x (OTR3 spec, "User
// requests to begin SMP", steps 5-6, and SMP message 2, steps 5-6):
// c = h(version, g1^r) and D = r - x·c mod q, with a fresh random r.
func SMP3ProveLog(rand io.Reader, version byte, x *SMP3Exponent) (c, d []byte, err error) {
	r, err := GenerateSMP3Exponent(rand)
	if err != nil {
		return nil, nil, err
	}
	defer r.Wipe()
	cn, c := otr3SMPChallenge(SMP3Hash(version, SMP3BaseExp(r), nil))
	return c, otr3SMPResponse(r, x, cn), nil
}

// SMP3VerifyLog checks a proof made by SMP3ProveLog for gx: c must equal
// h(version, g1^D gx^c), and D must be in [1, q-1].
func SMP3VerifyLog(version byte, gx *SMP3Element, c, d []byte) bool {
	cE, ok1 := otr3SMPCheckChallenge(c)
	dE, ok2 := otr3SMPCheckResponse(d)
	if !ok1 || !ok2 {
		return false
	}
	t := &SMP3Element{otr3SMPMul(otr3SMPBaseExpPublic(dE), otr3SMPExp(gx.n, append([]byte(nil), cE...)))}
	return otr3SMPMatch(c, SMP3Hash(version, t, nil))
}

// SMP3ProvePQ returns the proof that P = g3^r4 and Q = g1^r4 g2^secret were
// built as the protocol asks (OTR3 spec, SMP message 2 step 9, version 5;
// SMP message 3 step 4, version 6): cP = h(version, g3^r5, g1^r5 g2^r6),
// D5 = r5 - r4·cP and D6 = r6 - secret·cP mod q, with fresh r5, r6.
func SMP3ProvePQ(rand io.Reader, version byte, g2, g3 *SMP3Element, r4, secret *SMP3Exponent) (c, d5, d6 []byte, err error) {
	r5, err := GenerateSMP3Exponent(rand)
	if err != nil {
		return nil, nil, nil, err
	}
	defer r5.Wipe()
	r6, err := GenerateSMP3Exponent(rand)
	if err != nil {
		return nil, nil, nil, err
	}
	defer r6.Wipe()
	a := g3.Exp(r5)
	b := SMP3BaseExp(r5).Mul(g2.Exp(r6))
	cn, c := otr3SMPChallenge(SMP3Hash(version, a, b))
	a.Wipe()
	b.Wipe()
	return c, otr3SMPResponse(r5, r4, cn), otr3SMPResponse(r6, secret, cn), nil
}

// SMP3VerifyPQ checks a proof made by SMP3ProvePQ: cP must equal
// h(version, g3^D5 P^cP, g1^D5 g2^D6 Q^cP), with D5, D6 in [1, q-1].
func SMP3VerifyPQ(version byte, g2, g3, p, q *SMP3Element, c, d5, d6 []byte) bool {
	cE, ok1 := otr3SMPCheckChallenge(c)
	d5E, ok2 := otr3SMPCheckResponse(d5)
	d6E, ok3 := otr3SMPCheckResponse(d6)
	if !ok1 || !ok2 || !ok3 {
		return false
	}
	cp := func() []byte { return append([]byte(nil), cE...) }
	a := otr3SMPMul(otr3SMPExp(g3.n, append([]byte(nil), d5E...)), otr3SMPExp(p.n, cp()))
	b := otr3SMPMul(otr3SMPBaseExpPublic(d5E), otr3SMPExp(g2.n, d6E))
	b = otr3SMPMul(b, otr3SMPExp(q.n, cp()))
	ok := otr3SMPMatch(c, SMP3Hash(version, &SMP3Element{a}, &SMP3Element{b}))
	otr3WipeNat(a)
	otr3WipeNat(b)
	return ok
}

// SMP3ProveR returns the proof that R = qab^x uses the exponent x of
// g1^x (OTR3 spec, SMP message 3 step 6, version 7, with x = a3; SMP
// message 4 step 3, version 8, with x = b3): cR = h(version, g1^r7,
// qab^r7) and D7 = r7 - x·cR mod q, with a fresh r7.
func SMP3ProveR(rand io.Reader, version byte, qab *SMP3Element, x *SMP3Exponent) (c, d7 []byte, err error) {
	r7, err := GenerateSMP3Exponent(rand)
	if err != nil {
		return nil, nil, err
	}
	defer r7.Wipe()
	a, b := SMP3BaseExp(r7), qab.Exp(r7)
	cn, c := otr3SMPChallenge(SMP3Hash(version, a, b))
	a.Wipe()
	b.Wipe()
	return c, otr3SMPResponse(r7, x, cn), nil
}

// SMP3VerifyR checks a proof made by SMP3ProveR, where g3o is the peer's
// g1^x (g3a or g3b): cR must equal h(version, g1^D7 g3o^cR, qab^D7 R^cR),
// with D7 in [1, q-1].
func SMP3VerifyR(version byte, g3o, qab, r *SMP3Element, c, d7 []byte) bool {
	cE, ok1 := otr3SMPCheckChallenge(c)
	d7E, ok2 := otr3SMPCheckResponse(d7)
	if !ok1 || !ok2 {
		return false
	}
	cp := func() []byte { return append([]byte(nil), cE...) }
	a := otr3SMPMul(otr3SMPBaseExpPublic(d7E), otr3SMPExp(g3o.n, cp()))
	b := otr3SMPMul(otr3SMPExp(qab.n, d7E), otr3SMPExp(r.n, cp()))
	return otr3SMPMatch(c, SMP3Hash(version, &SMP3Element{a}, &SMP3Element{b}))
}
