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
	n    int      // limbs per entry
	rows [][]uint // rows[i][d*n : (d+1)*n] = the limbs of g^(d * 2^(w*i)), flat for a fast scan
}

// newFixedBase precomputes the table for exponents of up to bits bits.
func newFixedBase(g *bigmod.Nat, m *bigmod.Modulus, bits int, w uint) *fixedBase {
	f := &fixedBase{m: m, w: w, bits: bits, n: len(bigmod.NewNat().ExpandFor(m).Bits())}
	windows := (bits + int(w) - 1) / int(w)
	base := bigmod.NewNat().ExpandFor(m).Add(g, m) // a copy of g, sized for m
	for range windows {
		row := make([]uint, (1<<w)*f.n)
		e := otr3MustNat([]byte{1}, m)
		for d := range 1 << w {
			if d > 0 {
				e = bigmod.NewNat().ExpandFor(m).Add(e, m).Mul(base, m)
			}
			copy(row[d*f.n:], e.Bits())
		}
		f.rows = append(f.rows, row)
		base = bigmod.NewNat().ExpandFor(m).Add(e, m).Mul(base, m)
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
	n := f.n
	limbs = limbs[:n]
	for i, row := range f.rows {
		d := window(e, i*int(f.w), f.w) & mask
		clear(limbs)
		for j := range 1 << f.w {
			on := -uint(subtle.ConstantTimeEq(int32(j), int32(d)))
			entry := row[j*n : j*n+n]
			for k := range limbs {
				limbs[k] |= entry[k] & on
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
