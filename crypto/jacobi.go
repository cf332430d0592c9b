package crypto

import (
	"math/big"
	"math/bits"
)

// jacobi returns the Jacobi symbol (x/n) for an odd n > 0 and 0 <= x, by
// the binary algorithm (Shallit and Sorenson): shifts and subtractions on
// machine words, no division. math/big.Jacobi divides at every step; for the
// 1536- and 3072-bit public values checked on every received D-H key this is
// several times faster. x and n are public (variable time is fine).
func jacobi(x, n *big.Int) int {
	a := append([]big.Word(nil), new(big.Int).Mod(x, n).Bits()...)
	b := append([]big.Word(nil), n.Bits()...)
	t := 1
	for {
		a = trim(a)
		if len(a) == 0 {
			if len(b) == 1 && b[0] == 1 {
				return t
			}
			return 0
		}
		// Remove factors of 2: (2/b) = -1 when b = 3 or 5 (mod 8).
		if z := trailingZeros(a); z > 0 {
			if z&1 == 1 {
				if r := b[0] & 7; r == 3 || r == 5 {
					t = -t
				}
			}
			shiftRight(a, z)
			a = trim(a)
		}
		// Both odd: make a >= b, flipping by quadratic reciprocity on a swap.
		if cmpWords(a, b) < 0 {
			a, b = b, a
			if a[0]&3 == 3 && b[0]&3 == 3 {
				t = -t
			}
		}
		subWords(a, b) // a - b: even, and (a-b / b) = (a / b)
	}
}

func trim(a []big.Word) []big.Word {
	for len(a) > 0 && a[len(a)-1] == 0 {
		a = a[:len(a)-1]
	}
	return a
}

func trailingZeros(a []big.Word) uint {
	var z uint
	for _, w := range a {
		if w != 0 {
			return z + uint(bits.TrailingZeros(uint(w)))
		}
		z += bits.UintSize
	}
	return z
}

// shiftRight shifts a right by s bits in place.
func shiftRight(a []big.Word, s uint) {
	words, sh := int(s/bits.UintSize), s%bits.UintSize
	if words > 0 {
		copy(a, a[words:])
		clear(a[len(a)-words:])
	}
	if sh == 0 {
		return
	}
	for i := range a {
		a[i] >>= sh
		if i+1 < len(a) {
			a[i] |= a[i+1] << (bits.UintSize - sh)
		}
	}
}

// cmpWords compares two trimmed little-endian numbers.
func cmpWords(a, b []big.Word) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	for i := len(a) - 1; i >= 0; i-- {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// subWords sets a = a - b for a >= b.
func subWords(a, b []big.Word) {
	var borrow uint
	for i := range a {
		var bw uint
		if i < len(b) {
			bw = uint(b[i])
		}
		d, c := bits.Sub(uint(a[i]), bw, borrow)
		a[i], borrow = big.Word(d), c
	}
}
