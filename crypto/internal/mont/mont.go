// Package mont is constant-time modular exponentiation for the fixed odd
// moduli of the otr module (the OTR3 1536-bit group, the OTRv4 3072-bit
// group, DSA-1024 primes), in Montgomery form with a dedicated squaring.
//
// It exists for speed: filippo.io/bigmod, which the rest of the crypto
// package uses, has no squaring and spends two Montgomery multiplications on
// every plain multiplication, and an OTR3 data message that turns the D-H
// ratchet is dominated by these exponentiations. On amd64 with ADX and BMI2
// the kernels are generated assembly (asm_gen.go); elsewhere, or with the
// purego build tag, they are portable Go. Both are tested against math/big.
//
// Nothing here branches on or indexes memory by a value: the time of every
// operation depends only on the modulus size and the exponent length.
// Temporary buffers are cleared before returning. The package serves
// github.com/otrgo/otr/crypto; its API may change in any release.
package mont

import (
	"crypto/subtle"
	"errors"
	"math/big"
	"math/bits"
)

//go:generate go run asm_gen.go -out mont_amd64.s

// MaxLimbs is the largest modulus supported, in 64-bit limbs (3072 bits).
const MaxLimbs = 48

// Modulus is an odd modulus with its Montgomery constants (R = 2^(64n)).
// It is read-only after NewModulus and safe for concurrent use.
type Modulus struct {
	n     int
	size  int      // bytes in the modulus' big-endian encoding
	m     []uint64 // little-endian limbs
	m0inv uint64   // -m^-1 mod 2^64
	rr    []uint64 // R² mod m
	one   []uint64 // R mod m: 1 in Montgomery form
	asm   bool     // whether the assembly kernels serve this size
}

// NewModulus returns the modulus whose big-endian encoding is b, which must
// be odd, greater than one and at most MaxLimbs limbs long; b must have no
// leading zero byte. It uses math/big: moduli are public.
func NewModulus(b []byte) (*Modulus, error) {
	if len(b) == 0 || b[0] == 0 || b[len(b)-1]&1 == 0 || (len(b) == 1 && b[0] == 1) {
		return nil, errors.New("mont: modulus must be odd, > 1 and minimal")
	}
	n := (len(b) + 7) / 8
	if n > MaxLimbs {
		return nil, errors.New("mont: modulus too large")
	}
	m := &Modulus{n: n, size: len(b), m: make([]uint64, n)}
	setBytes(m.m, b)
	// -m^-1 mod 2^64 by Newton's iteration: each step doubles the correct
	// low bits (m is odd, so m·m ≡ 1 mod 8 starts with three).
	inv := m.m[0]
	for range 5 {
		inv *= 2 - m.m[0]*inv
	}
	m.m0inv = -inv
	m.asm = haveKernels(n)
	// R mod m and R² mod m with math/big: the modulus is public.
	p := new(big.Int).SetBytes(b)
	m.one = make([]uint64, n)
	m.rr = make([]uint64, n)
	r := new(big.Int).Lsh(big.NewInt(1), uint(64*n))
	setBytes(m.one, new(big.Int).Mod(r, p).Bytes())
	setBytes(m.rr, new(big.Int).Mod(r.Mul(r, r), p).Bytes())
	return m, nil
}

// Size returns the length in bytes of the modulus and of every value
// returned by the package for it.
func (m *Modulus) Size() int { return m.size }

// reduceOnce sets z = a - m if a + c·R >= m, else z = a, for a + c·R < 2m.
// z and a may be the same slice.
func (m *Modulus) reduceOnce(z, a []uint64, c uint64) {
	var d [MaxLimbs]uint64
	var b uint64
	for i := range m.n {
		d[i], b = bits.Sub64(a[i], m.m[i], b)
	}
	// Subtract when there was a carry out of a, or no borrow.
	mask := -(c | (b ^ 1))
	for i := range m.n {
		z[i] = a[i] ^ ((a[i] ^ d[i]) & mask)
	}
	clear(d[:m.n])
}

// mul sets z = x·y·R^-1 mod m (the Montgomery product).
func (m *Modulus) mul(z, x, y []uint64) {
	var t [2 * MaxLimbs]uint64
	n := m.n
	if m.asm {
		mulAsm(n, &z[0], &t[0], &x[0], &y[0], &m.m[0], m.m0inv)
	} else {
		mulGeneric(t[:2*n], x[:n], y[:n])
		c := redcGeneric(t[:2*n], m.m, m.m0inv)
		m.reduceOnce(z, t[n:2*n], c)
	}
	clear(t[:2*n])
}

// sqr sets z = x²·R^-1 mod m.
func (m *Modulus) sqr(z, x []uint64) {
	var t [2 * MaxLimbs]uint64
	n := m.n
	if m.asm {
		sqrAsm(n, &z[0], &t[0], &x[0], &m.m[0], m.m0inv)
	} else {
		sqrGeneric(t[:2*n], x[:n])
		c := redcGeneric(t[:2*n], m.m, m.m0inv)
		m.reduceOnce(z, t[n:2*n], c)
	}
	clear(t[:2*n])
}

// toMont sets z to the Montgomery form of the big-endian value b, which may
// have leading zeros and must fit in n limbs (any such value is reduced).
func (m *Modulus) toMont(z []uint64, b []byte) {
	var x [MaxLimbs]uint64
	setBytes(x[:m.n], b)
	m.mul(z, x[:m.n], m.rr)
	clear(x[:m.n])
}

// fromMont returns x out of Montgomery form, big-endian, Size() bytes.
func (m *Modulus) fromMont(x []uint64) []byte {
	var one, z [MaxLimbs]uint64
	one[0] = 1
	m.mul(z[:m.n], x, one[:m.n])
	out := make([]byte, m.size)
	fillBytes(out, z[:m.n])
	clear(z[:m.n])
	return out
}

// fits reports whether the big-endian b fits in n limbs.
func (m *Modulus) fits(b []byte) bool {
	for len(b) > 8*m.n {
		if b[0] != 0 {
			return false
		}
		b = b[1:]
	}
	return true
}

// ErrRange is returned for an input longer than the modulus' limbs.
var ErrRange = errors.New("mont: value too large for the modulus")

// expWindow is the window of Exp: for the 320- to 1536-bit exponents of
// the module, 4 and 5 bits need the same number of multiplications, and 4
// keeps the table and its constant-time scan small.
const expWindow = 4

// Exp returns x^e mod m as Size() big-endian bytes. x is big-endian and is
// reduced mod m first; e is big-endian of any length. The time depends on
// len(e) and the modulus, not on the values.
func (m *Modulus) Exp(x, e []byte) ([]byte, error) {
	if !m.fits(x) {
		return nil, ErrRange
	}
	n := m.n
	var table [1 << expWindow][MaxLimbs]uint64
	var acc, sel [MaxLimbs]uint64
	copy(table[0][:n], m.one)
	m.toMont(table[1][:n], x)
	for i := 2; i < 1<<expWindow; i++ {
		if i%2 == 0 {
			m.sqr(table[i][:n], table[i/2][:n])
		} else {
			m.mul(table[i][:n], table[i-1][:n], table[1][:n])
		}
	}
	copy(acc[:n], m.one)
	first := true
	for _, b := range e {
		for _, d := range [2]byte{b >> 4, b & 0xf} {
			if !first {
				for range expWindow {
					m.sqr(acc[:n], acc[:n])
				}
			}
			first = false
			lookup(sel[:n], table[:], int(d))
			m.mul(acc[:n], acc[:n], sel[:n])
		}
	}
	out := m.fromMont(acc[:n])
	for i := range table {
		clear(table[i][:n])
	}
	clear(acc[:n])
	clear(sel[:n])
	return out, nil
}

// lookup sets z = table[d] reading every entry, in constant time.
func lookup(z []uint64, table [][MaxLimbs]uint64, d int) {
	clear(z)
	for j := range table {
		mask := -uint64(subtle.ConstantTimeEq(int32(j), int32(d)))
		e := table[j][:len(z)]
		for k := range z {
			z[k] |= e[k] & mask
		}
	}
}

// setBytes sets the limbs z to the big-endian b (leading bytes beyond the
// limbs must be zero; the caller checks).
func setBytes(z []uint64, b []byte) {
	clear(z)
	for i := 0; i < len(b) && i < 8*len(z); i++ {
		z[i/8] |= uint64(b[len(b)-1-i]) << (8 * (i % 8))
	}
}

// fillBytes writes the limbs x big-endian into out, which must be long
// enough for the value (higher limb bytes are dropped).
func fillBytes(out []byte, x []uint64) {
	for i := range out {
		out[len(out)-1-i] = byte(x[i/8] >> (8 * (i % 8)))
	}
}
