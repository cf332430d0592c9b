package mont

import "math/bits"

// The portable kernels: the same operations as the assembly, for any n.

// mulGeneric sets t (2n limbs) = x·y (n limbs each).
func mulGeneric(t, x, y []uint64) {
	n := len(x)
	clear(t)
	for i := range n {
		t[i+n] = addMulRow(t[i:i+n], x, y[i])
	}
}

// sqrGeneric sets t (2n limbs) = x²: the products x[i]x[j], i < j, once,
// then doubled, plus the squares.
func sqrGeneric(t, x []uint64) {
	n := len(x)
	clear(t)
	for i := 0; i < n-1; i++ {
		t[i+n] = addMulRow(t[2*i+1:i+n], x[i+1:], x[i])
	}
	var c, cd uint64
	for k := range n {
		hi, lo := bits.Mul64(x[k], x[k])
		a, b := t[2*k], t[2*k+1]
		t[2*k], t[2*k+1], c = a<<1|c, b<<1|a>>63, b>>63
		t[2*k], cd = bits.Add64(t[2*k], lo, cd)
		t[2*k+1], cd = bits.Add64(t[2*k+1], hi, cd)
	}
}

// redcGeneric reduces t (2n limbs) in place: afterwards t[n:] plus the
// returned carry times 2^(64n) is t·R^-1 (mod m), below 2m.
func redcGeneric(t, m []uint64, m0inv uint64) uint64 {
	n := len(m)
	var carry uint64
	for i := range n {
		c := addMulRow(t[i:i+n], m, t[i]*m0inv)
		t[i+n], carry = bits.Add64(t[i+n], c, carry)
	}
	return carry
}

// addMulRow sets z += x·y (len(z) == len(x)) and returns the carry limb.
func addMulRow(z, x []uint64, y uint64) uint64 {
	var carry uint64
	for i := range z {
		hi, lo := bits.Mul64(x[i], y)
		lo, c := bits.Add64(lo, z[i], 0)
		hi += c
		lo, c = bits.Add64(lo, carry, 0)
		hi += c
		z[i] = lo
		carry = hi
	}
	return carry
}
