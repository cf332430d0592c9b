package crypto

import (
	"filippo.io/bigmod"

	"github.com/otrgo/otr/crypto/internal/mont"
)

// fixedBase computes g^e for one fixed base g with a precomputed comb table
// (mont.FixedBase), in constant time with respect to e: every window
// multiplies by an entry chosen with a masked scan of its whole row, and
// multiplies even when the window is zero. It needs one Montgomery
// multiplication per w exponent bits, against about 1.2 multiplications and
// squarings per bit for a windowed Exp, which is what makes D-H key
// generation several times faster.
type fixedBase struct {
	m *bigmod.Modulus
	t *mont.FixedBase
}

// newFixedBase precomputes the table for exponents of up to bits bits.
func newFixedBase(g *bigmod.Nat, m *bigmod.Modulus, bits int, w uint) *fixedBase {
	mm := montModulus(m)
	gb := g.Bytes(m)
	t, err := mont.NewFixedBase(mm, gb, bits, w)
	if err != nil {
		panic("otr: internal error: " + err.Error())
	}
	return &fixedBase{m: m, t: t}
}

// exp returns g^e mod m; e is big-endian with at most the table's bits
// significant bits. Constant time in e's value (its length is public).
func (f *fixedBase) exp(e []byte) *bigmod.Nat {
	b, err := f.t.Exp(e)
	if err != nil {
		panic("otr: internal error: exponent longer than the comb table")
	}
	n := otr3MustNat(b, f.m)
	clear(b)
	return n
}

// montModulus returns the mont form of a bigmod modulus (whose value is
// public: every modulus of the module is).
func montModulus(m *bigmod.Modulus) *mont.Modulus {
	mm, err := mont.NewModulus(m.Nat().Bytes(m))
	if err != nil {
		panic("otr: internal error: " + err.Error())
	}
	return mm
}

// montExp returns base^e mod m as a Nat, in constant time with respect to
// base and e (mont.Modulus.Exp, with a squaring of its own: about 25%
// faster than bigmod's Exp at 1536 bits).
func montExp(mm *mont.Modulus, m *bigmod.Modulus, base *bigmod.Nat, e []byte) *bigmod.Nat {
	b := base.Bytes(m)
	s, err := mm.Exp(b, e)
	clear(b)
	if err != nil {
		panic("otr: internal error: " + err.Error())
	}
	n := otr3MustNat(s, m)
	clear(s)
	return n
}
