package crypto

// OTRv4 Ed448-Goldilocks points and scalars (OTRv4 spec, "Elliptic Curve
// Parameters", "Data Types", "Encoding and Decoding"). Names follow the spec:
// G is the base point, q the order of the prime-order subgroup.

import (
	"crypto/sha3"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"math/big"

	"github.com/cloudflare/circl/ecc/goldilocks"
)

const (
	// PointSize is the size of an encoded Ed448 point (POINT) in bytes.
	PointSize = 57
	// ScalarSize is the size of an encoded Ed448 scalar (SCALAR) in bytes.
	// circl's scalars are 56 bytes; the OTRv4 wire carries 57.
	ScalarSize = 57
)

var (
	// ErrInvalidPoint is returned for a POINT encoding that is not exactly
	// 57 bytes, not canonical, not on the curve, the identity, or outside the
	// prime-order subgroup.
	ErrInvalidPoint = errors.New("crypto: invalid ed448 point")
	// ErrInvalidScalar is returned for a SCALAR encoding that is not exactly
	// 57 bytes, is zero, or is not below q.
	ErrInvalidScalar = errors.New("crypto: invalid ed448 scalar")
)

// ed448Q is q, the order of the prime-order subgroup, as 57 bytes
// little-endian. The ring-signature challenge hashes it unreduced
// (docs/interop.md, "Ring signature challenge").
var ed448Q = [ScalarSize]byte{
	0xf3, 0x44, 0x58, 0xab, 0x92, 0xc2, 0x78, 0x23, 0x55, 0x8f, 0xc5, 0x8d,
	0x72, 0xc2, 0x6c, 0x21, 0x90, 0x36, 0xd6, 0xae, 0x49, 0xdb, 0x4e, 0xc4,
	0xe9, 0x23, 0xca, 0x7c, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x00,
}

// ed448SubgroupC holds the bits (least significant first) of
// c = 2^446 - q, about 2^223. [q]P is the identity exactly when
// [2^446]P == [c]P.
var ed448SubgroupC = func() []bool {
	q := new(big.Int).SetBytes(ed448Reverse(ed448Q[:]))
	c := new(big.Int).Lsh(big.NewInt(1), 446)
	c.Sub(c, q)
	bits := make([]bool, c.BitLen())
	for i := range bits {
		bits[i] = c.Bit(i) == 1
	}
	return bits
}()

// ed448Reverse returns a reversed copy of b (little- to big-endian).
func ed448Reverse(b []byte) []byte {
	r := make([]byte, len(b))
	for i, v := range b {
		r[len(b)-1-i] = v
	}
	return r
}

// Point is a point of the prime-order subgroup of Ed448-Goldilocks.
//
// Every Point this package hands out lies in the prime-order subgroup: it was
// validated by [ParsePoint] or computed from such points. The zero value is
// the identity. A Point may be copied by value; compare points with Equal,
// not ==. Methods that take a receiver to set (Add, ScalarMult...) write
// only the receiver: a Point that is not being written is safe for
// concurrent use.
type Point struct {
	p  goldilocks.Point
	ok bool // p is set; false means the identity
}

// ed448Identity is the identity as a circl point.
var ed448Identity = *goldilocks.Curve{}.Identity()

// inner returns the circl point behind p (the identity for the zero value).
func (p *Point) inner() *goldilocks.Point {
	if !p.ok {
		return &ed448Identity
	}
	return &p.p
}

func (p *Point) set(q *goldilocks.Point) *Point {
	p.p = *q
	p.ok = true
	return p
}

// NewIdentityPoint returns the identity element.
func NewIdentityPoint() *Point {
	return new(Point).set(goldilocks.Curve{}.Identity())
}

// NewGeneratorPoint returns the base point G.
func NewGeneratorPoint() *Point {
	return new(Point).set(goldilocks.Curve{}.Generator())
}

// ParsePoint decodes a POINT (OTRv4 spec, "Point"). It returns
// [ErrInvalidPoint] unless b is exactly 57 bytes, a canonical encoding of a
// point on the curve, not the identity, and in the prime-order subgroup.
func ParsePoint(b []byte) (Point, error) {
	// Pitfalls in the Go building blocks (docs/interop.md): circl's
	// FromBytes accepts input longer than 57 bytes, so check the length here.
	if len(b) != PointSize {
		return Point{}, ErrInvalidPoint
	}
	// The last byte holds only the sign of x (bit 455): bits 448..454 must
	// be clear. Checked here, not left to circl: v1.6.4 accepts them.
	if b[PointSize-1]&0x7f != 0 {
		return Point{}, ErrInvalidPoint
	}
	// FromBytes rejects y >= p, non-squares and a set sign bit for x = 0:
	// the encoding is canonical once it succeeds.
	g, err := goldilocks.FromBytes(b)
	if err != nil {
		return Point{}, ErrInvalidPoint
	}
	// An identity point from the wire is an error (docs/interop.md, OTRv4).
	if g.IsEqual(&ed448Identity) || !ed448InPrimeOrderSubgroup(g) {
		return Point{}, ErrInvalidPoint
	}
	var p Point
	p.set(g)
	return p, nil
}

// ed448InPrimeOrderSubgroup reports whether [q]P is the identity.
//
// Pitfalls in the Go building blocks (docs/interop.md): circl's ScalarMult
// drops torsion and its Scalar reduces q to 0, so "[q]P == I" through circl
// proves nothing. Instead this computes [2^446]P and [c]P, c = 2^446 - q, by
// right-to-left double-and-add with circl's point addition, which is complete
// on the untwisted curve (a = 1, d non-square) and so exact for every point,
// torsion included. q is public: the branches depend on it alone.
func ed448InPrimeOrderSubgroup(P *goldilocks.Point) bool {
	D := *P
	R := ed448Identity
	for i := range 446 {
		if i < len(ed448SubgroupC) && ed448SubgroupC[i] {
			R.Add(&D)
		}
		D.Double()
	}
	return D.IsEqual(&R)
}

// Bytes returns the 57-byte POINT encoding of p.
func (p *Point) Bytes() [PointSize]byte {
	var out [PointSize]byte
	g := *p.inner() // ToBytes normalizes its receiver: work on a copy.
	if err := g.ToBytes(out[:]); err != nil {
		panic("otr: internal error: " + err.Error())
	}
	return out
}

// String returns the hex encoding of p.
func (p Point) String() string {
	b := p.Bytes()
	return hex.EncodeToString(b[:])
}

// Equal reports whether p and q are the same point.
func (p *Point) Equal(q *Point) bool {
	return p.inner().IsEqual(q.inner())
}

// IsIdentity reports whether p is the identity element.
func (p *Point) IsIdentity() bool {
	return p.inner().IsEqual(&ed448Identity)
}

// Add sets p = a + b and returns p.
func (p *Point) Add(a, b *Point) *Point {
	r := *a.inner()
	r.Add(b.inner())
	return p.set(&r)
}

// Negate sets p = -a and returns p.
func (p *Point) Negate(a *Point) *Point {
	r := *a.inner()
	r.Neg()
	return p.set(&r)
}

// Subtract sets p = a - b and returns p.
func (p *Point) Subtract(a, b *Point) *Point {
	nb := *b.inner()
	nb.Neg()
	r := *a.inner()
	r.Add(&nb)
	return p.set(&r)
}

// ScalarMult sets p = k * a and returns p. It runs in constant time. circl's
// ScalarMult is exact only on the prime-order subgroup, where every Point
// lies.
func (p *Point) ScalarMult(k *Scalar, a *Point) *Point {
	return p.set(goldilocks.Curve{}.ScalarMult(&k.s, a.inner()))
}

// ScalarBaseMult sets p = k * G and returns p. It runs in constant time.
func (p *Point) ScalarBaseMult(k *Scalar) *Point {
	return p.set(goldilocks.Curve{}.ScalarBaseMult(&k.s))
}

// VarTimeDoubleScalarBaseMult sets p = a*A + b*G and returns p. It is not
// constant time: use it only where a, A and b are public (verification).
func (p *Point) VarTimeDoubleScalarBaseMult(a *Scalar, A *Point, b *Scalar) *Point {
	return p.set(goldilocks.Curve{}.CombinedMult(&b.s, &a.s, A.inner()))
}

// Scalar is an integer modulo q, the order of the Ed448 prime-order
// subgroup. It is always reduced. Its arithmetic runs in constant time.
// The zero value is 0. A Scalar may hold a secret: it prints as
// "[redacted]"; call Wipe when done with a secret one. Like Point, a Scalar
// that is not being written is safe for concurrent use.
type Scalar struct {
	s goldilocks.Scalar // little-endian, reduced mod q
}

// ParseScalar decodes a SCALAR: exactly 57 bytes little-endian. Unlike the
// spec's decoding (and otr4j) it does not reduce: it returns
// [ErrInvalidScalar] for zero and for values >= q. docs/interop.md (OTRv4):
// this library rejects both cleanly; otr4j only ever sends reduced scalars,
// so strictness costs no interop.
func ParseScalar(b []byte) (Scalar, error) {
	if len(b) != ScalarSize {
		return Scalar{}, ErrInvalidScalar
	}
	// b < q, computed as the borrow of b - q, without branching on b.
	var borrow int
	for i := range ScalarSize {
		d := int(b[i]) - int(ed448Q[i]) - borrow
		borrow = (d >> 8) & 1
	}
	var zero [ScalarSize]byte
	isZero := subtle.ConstantTimeCompare(b, zero[:])
	if borrow != 1 || isZero == 1 {
		return Scalar{}, ErrInvalidScalar
	}
	var s Scalar
	copy(s.s[:], b[:ScalarSize-1]) // b[56] is 0 since b < q < 2^446.
	return s, nil
}

// NewScalar returns a new zero Scalar.
func NewScalar() *Scalar { return new(Scalar) }

// SetBytesModQ sets s to b, read as a little-endian integer of any length,
// reduced mod q (the spec's "mod q" decoding), and returns s.
func (s *Scalar) SetBytesModQ(b []byte) *Scalar {
	if len(b) == 0 {
		s.s = goldilocks.Scalar{}
		return s
	}
	if len(b) < 8 {
		// circl's FromBytes reads whole 64-bit words.
		var buf [8]byte
		copy(buf[:], b)
		s.s.FromBytes(buf[:])
		return s
	}
	s.s.FromBytes(b)
	return s
}

// SetUint64 sets s = x mod q and returns s.
func (s *Scalar) SetUint64(x uint64) *Scalar {
	var b [8]byte
	for i := range b {
		b[i] = byte(x >> (8 * i))
	}
	return s.SetBytesModQ(b[:])
}

// Set sets s = x and returns s.
func (s *Scalar) Set(x *Scalar) *Scalar {
	*s = *x
	return s
}

// Bytes returns the 57-byte little-endian SCALAR encoding of s.
func (s *Scalar) Bytes() [ScalarSize]byte {
	var out [ScalarSize]byte
	copy(out[:], s.s[:])
	return out
}

// Add sets s = x + y mod q and returns s.
func (s *Scalar) Add(x, y *Scalar) *Scalar { s.s.Add(&x.s, &y.s); return s }

// Subtract sets s = x - y mod q and returns s.
func (s *Scalar) Subtract(x, y *Scalar) *Scalar { s.s.Sub(&x.s, &y.s); return s }

// Multiply sets s = x * y mod q and returns s.
func (s *Scalar) Multiply(x, y *Scalar) *Scalar { s.s.Mul(&x.s, &y.s); return s }

// Negate sets s = -x mod q and returns s.
func (s *Scalar) Negate(x *Scalar) *Scalar {
	var zero goldilocks.Scalar
	s.s.Sub(&zero, &x.s)
	return s
}

// ed448QMinus2 holds the bits (most significant first) of q - 2, the
// exponent of Fermat inversion.
var ed448QMinus2 = func() []bool {
	q := new(big.Int).SetBytes(ed448Reverse(ed448Q[:]))
	e := q.Sub(q, big.NewInt(2))
	bits := make([]bool, e.BitLen())
	for i := range bits {
		bits[i] = e.Bit(len(bits)-1-i) == 1
	}
	return bits
}()

// Invert sets s = 1/x mod q (0 for x = 0) and returns s. It runs in constant
// time: the exponent q-2 is public and fixed.
func (s *Scalar) Invert(x *Scalar) *Scalar {
	base := x.s
	var r goldilocks.Scalar
	r[0] = 1
	for _, bit := range ed448QMinus2 {
		r.Mul(&r, &r)
		if bit {
			r.Mul(&r, &base)
		}
	}
	s.s = r
	clear(base[:])
	return s
}

// Equal reports, in constant time, whether s and x are equal.
func (s *Scalar) Equal(x *Scalar) bool {
	return subtle.ConstantTimeCompare(s.s[:], x.s[:]) == 1
}

// IsZero reports, in constant time, whether s is zero.
func (s *Scalar) IsZero() bool {
	var zero goldilocks.Scalar
	return subtle.ConstantTimeCompare(s.s[:], zero[:]) == 1
}

// ed448Select sets s = a if v == 1 and s = b if v == 0, in constant time.
func (s *Scalar) ed448Select(v int, a, b *Scalar) *Scalar {
	var r goldilocks.Scalar
	copy(r[:], b.s[:])
	subtle.ConstantTimeCopy(v, r[:], a.s[:])
	s.s = r
	return s
}

// Wipe sets s to zero.
func (s *Scalar) Wipe() { clear(s.s[:]) }

// String returns "[redacted]": a Scalar may be secret.
func (s Scalar) String() string { return "[redacted]" }

// GoString returns "[redacted]", for %#v.
func (s Scalar) GoString() string { return "[redacted]" }

// LogValue returns "[redacted]" for log/slog.
func (s Scalar) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// ed448Prune clears the two lowest bits of h[0], all of h[56], and sets the
// highest bit of h[55] (OTRv4 spec, "Considerations while working with
// elliptic curve parameters"; RFC 8032 section 5.2.5).
func ed448Prune(h *[57]byte) {
	h[0] &= 0xfc
	h[56] = 0
	h[55] |= 0x80
}

// ed448SecretFromSymmetric derives the secret scalar of an Ed448 key pair
// from its 57-byte symmetric key: the first 57 bytes of SHAKE-256(sym, 114),
// pruned, little-endian mod q (OTRv4 spec, "Public keys, Shared Prekeys,
// Forging keys and Fingerprints" and "Generating ECDH and DH keys"; otr4j
// reduces mod q, see ed448.json).
func ed448SecretFromSymmetric(sym []byte) Scalar {
	var buf [114]byte
	ed448Shake(buf[:], sym)
	var h [57]byte
	copy(h[:], buf[:57])
	ed448Prune(&h)
	var s Scalar
	s.SetBytesModQ(h[:])
	clear(buf[:])
	clear(h[:])
	return s
}

// GenerateScalar returns a random scalar chosen as the spec says for random
// values in Z_q: 57 bytes r from rand, h = SHAKE-256(r, 57) pruned, read
// little-endian mod q (OTRv4 spec, "Considerations while working with
// elliptic curve parameters"; otr4j's generateRandomValueInZq, kdf.json).
func GenerateScalar(rand io.Reader) (Scalar, error) {
	var r [57]byte
	if _, err := io.ReadFull(rand, r[:]); err != nil {
		return Scalar{}, err
	}
	s := ed448ScalarFromRandom(&r)
	clear(r[:])
	return s, nil
}

// ed448ScalarFromRandom turns 57 random bytes into a scalar, as
// GenerateScalar does.
func ed448ScalarFromRandom(r *[57]byte) Scalar {
	var h [57]byte
	ed448Shake(h[:], r[:])
	ed448Prune(&h)
	var s Scalar
	s.SetBytesModQ(h[:])
	clear(h[:])
	return s
}

// ed448Shake fills dst with SHAKE-256 of the concatenated parts.
func ed448Shake(dst []byte, parts ...[]byte) {
	h := sha3.NewSHAKE256()
	for _, p := range parts {
		h.Write(p)
	}
	h.Read(dst)
}
