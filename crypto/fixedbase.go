package crypto

import (
	"crypto/subtle"

	"filippo.io/bigmod"
)

// fixedBase computes g^e for one fixed base g with a precomputed comb
// table, in constant time with respect to e: every window multiplies by an
// entry chosen with a masked scan of its whole row (no secret-dependent
// memory access or branch), and multiplies even when the window is zero.
// It needs one modular multiplication per w exponent bits, against about
// w+1 for bigmod's generic Exp, which is what makes D-H key generation
// several times faster.
type fixedBase struct {
	m    *bigmod.Modulus
	w    uint
	bits int
	rows [][]*bigmod.Nat // rows[i][d] = g^(d * 2^(w*i))
}

// newFixedBase precomputes the table for exponents of up to bits bits.
func newFixedBase(g *bigmod.Nat, m *bigmod.Modulus, bits int, w uint) *fixedBase {
	f := &fixedBase{m: m, w: w, bits: bits}
	n := (bits + int(w) - 1) / int(w)
	base := bigmod.NewNat().ExpandFor(m).Add(g, m) // a copy of g, sized for m
	for range n {
		row := make([]*bigmod.Nat, 1<<w)
		row[0] = otr3MustNat([]byte{1}, m)
		for d := 1; d < len(row); d++ {
			row[d] = bigmod.NewNat().ExpandFor(m).Add(row[d-1], m).Mul(base, m)
		}
		f.rows = append(f.rows, row)
		base = bigmod.NewNat().ExpandFor(m).Add(row[len(row)-1], m).Mul(base, m)
	}
	return f
}

// exp returns g^e mod m; e is big-endian with at most f.bits significant
// bits (longer input must have zero high bytes). Constant time in e's value
// (its length is public).
func (f *fixedBase) exp(e []byte) *bigmod.Nat {
	acc := otr3MustNat([]byte{1}, f.m)
	sel := bigmod.NewNat().ExpandFor(f.m)
	limbs := sel.Bits()
	mask := uint(1)<<f.w - 1
	for i, row := range f.rows {
		d := window(e, i*int(f.w), f.w) & mask
		clear(limbs)
		for j, entry := range row {
			on := -uint(subtle.ConstantTimeEq(int32(j), int32(d)))
			for k, l := range entry.Bits() {
				limbs[k] |= l & on
			}
		}
		acc.Mul(sel, f.m)
	}
	clear(limbs)
	return acc
}

// window returns the w bits of the big-endian number e starting at bit pos
// (0 is the least significant). The positions read depend only on pos.
func window(e []byte, pos int, w uint) uint {
	var v uint
	for b := range int(w) {
		bit := pos + b
		idx := len(e) - 1 - bit/8
		if idx < 0 {
			break
		}
		v |= uint(e[idx]>>(bit%8)&1) << b
	}
	return v
}
