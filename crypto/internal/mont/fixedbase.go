package mont

import (
	"crypto/subtle"
	"errors"
)

// FixedBase computes g^e for one fixed base g from a precomputed table:
// row i holds g^(d·2^(w·i)) for every w-bit digit d, in Montgomery form, so
// an exponentiation is one multiplication per w exponent bits and no
// squaring. Each multiplication takes its entry with a masked scan of the
// whole row, and multiplies even when the digit is zero: the time depends
// on the table's shape only. It is read-only after NewFixedBase and safe
// for concurrent use.
type FixedBase struct {
	m    *Modulus
	w    uint
	bits int
	rows [][]uint64 // rows[i][d*n : (d+1)*n]
}

// NewFixedBase builds the table for the big-endian base g (reduced mod m)
// and exponents of at most bits bits, with w-bit digits (1 <= w <= 8).
func NewFixedBase(m *Modulus, g []byte, bits int, w uint) (*FixedBase, error) {
	if w < 1 || w > 8 || bits < 1 {
		return nil, errors.New("mont: bad fixed-base table shape")
	}
	if !m.fits(g) {
		return nil, ErrRange
	}
	n := m.n
	f := &FixedBase{m: m, w: w, bits: bits}
	base := make([]uint64, n) // g^(2^(w·i)) in Montgomery form
	m.toMont(base, g)
	for range (bits + int(w) - 1) / int(w) {
		row := make([]uint64, (1<<w)*n)
		copy(row, m.one)
		for d := 1; d < 1<<w; d++ {
			m.mul(row[d*n:(d+1)*n], row[(d-1)*n:d*n], base)
		}
		f.rows = append(f.rows, row)
		m.mul(base, row[((1<<w)-1)*n:], base)
	}
	return f, nil
}

// Exp returns g^e mod m as Size() big-endian bytes. e is big-endian; it
// may be longer than the table's bits only with zero high bits.
func (f *FixedBase) Exp(e []byte) ([]byte, error) {
	var high byte
	for bit := f.bits; bit < 8*len(e); bit++ {
		high |= e[len(e)-1-bit/8] >> (bit % 8) & 1
	}
	if high != 0 {
		return nil, ErrRange
	}
	m := f.m
	n := m.n
	var acc, sel [MaxLimbs]uint64
	copy(acc[:n], m.one)
	mask := uint(1)<<f.w - 1
	for i, row := range f.rows {
		d := window(e, i*int(f.w), f.w) & mask
		clear(sel[:n])
		for j := range 1 << f.w {
			on := -uint64(subtle.ConstantTimeEq(int32(j), int32(d)))
			entry := row[j*n : j*n+n]
			for k := range n {
				sel[k] |= entry[k] & on
			}
		}
		m.mul(acc[:n], acc[:n], sel[:n])
	}
	out := m.fromMont(acc[:n])
	clear(acc[:n])
	clear(sel[:n])
	return out, nil
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
