package crypto

import (
	"encoding/binary"
	"math/big"

	"filippo.io/bigmod"
)

// Helpers shared by the OTR3 files (dsa.go, dh.go, smp3.go). Their names
// carry an otr3 prefix so that they cannot clash with the OTRv4 files of this
// package.

// otr3Minimal returns b without its leading zero bytes (a subslice of b).
// Stripping a secret's zeros leaks its length only, which the minimal MPI
// encoding of the OTR3 wire format reveals anyway.
func otr3Minimal(b []byte) []byte {
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

// otr3IsMinimal reports whether b is a minimal, non-empty big-endian value
// (zero, which has the empty minimal encoding, is never a valid value here).
func otr3IsMinimal(b []byte) bool {
	return len(b) > 0 && b[0] != 0
}

// otr3AppendMPI appends the OTR3 MPI encoding of v (4-byte big-endian length,
// then the minimal big-endian value) to dst.
func otr3AppendMPI(dst, v []byte) []byte {
	v = otr3Minimal(v)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(v)))
	return append(dst, v...)
}

// otr3ReadMPI reads one MPI from the front of *s, strictly: the value must
// be minimal (a zero value, encoded with length 0, is accepted here and
// rejected by the range checks of the caller) and at most maxLen bytes.
func otr3ReadMPI(s *[]byte, maxLen int) ([]byte, bool) {
	if len(*s) < 4 {
		return nil, false
	}
	n := binary.BigEndian.Uint32(*s)
	if uint64(n) > uint64(maxLen) || uint64(n) > uint64(len(*s)-4) {
		return nil, false
	}
	v := (*s)[4 : 4+n]
	if n > 0 && v[0] == 0 {
		return nil, false
	}
	*s = (*s)[4+n:]
	return v, true
}

// otr3Modulus returns the bigmod modulus for the public value v, panicking
// on an internal error (it is only called on package constants and on
// values already checked to be odd and greater than one).
func otr3Modulus(v *big.Int) *bigmod.Modulus {
	m, err := bigmod.NewModulus(v.Bytes())
	if err != nil {
		panic("otr: internal error: " + err.Error())
	}
	return m
}

// otr3Nat returns b as a Nat sized for m; ok is false if b >= m.
func otr3Nat(b []byte, m *bigmod.Modulus) (*bigmod.Nat, bool) {
	n, err := bigmod.NewNat().SetBytes(otr3Minimal(b), m)
	return n, err == nil
}

// otr3MustNat is otr3Nat for values known to be reduced.
func otr3MustNat(b []byte, m *bigmod.Modulus) *bigmod.Nat {
	n, ok := otr3Nat(b, m)
	if !ok {
		panic("otr: internal error: value not reduced")
	}
	return n
}

// otr3Bytes returns n as a minimal big-endian value (a fresh slice).
func otr3Bytes(n *bigmod.Nat, m *bigmod.Modulus) []byte {
	b := n.Bytes(m)
	v := otr3Minimal(b)
	out := append([]byte(nil), v...)
	clear(b)
	return out
}

// otr3WipeNat clears the limbs of n (bigmod's reset clears the storage it
// reuses).
func otr3WipeNat(n *bigmod.Nat) {
	if n != nil {
		n.SetUint(0)
	}
}

// otr3ReduceBytes returns b, read as a big-endian unsigned integer of any
// length, reduced modulo m, in time that depends only on len(b) and m. It
// folds b in chunks that are each smaller than m (Horner's rule in base
// 2^(8c)), so it needs no wider Nat than m.
func otr3ReduceBytes(b []byte, m *bigmod.Modulus) *bigmod.Nat {
	c := (m.BitLen() - 1) / 8 // 2^(8c) < m for an odd modulus > 1
	if c < 1 {
		panic("otr: internal error: modulus too small")
	}
	one := make([]byte, c+1)
	one[0] = 1
	shift := otr3MustNat(one, m) // 2^(8c)
	acc := bigmod.NewNat().ExpandFor(m)
	chunk := bigmod.NewNat()
	first := len(b) % c
	if first == 0 {
		first = c
	}
	for len(b) > 0 {
		n := min(first, len(b))
		first = c
		if _, err := chunk.SetBytes(b[:n], m); err != nil {
			panic("otr: internal error: chunk not reduced")
		}
		acc.Mul(shift, m)
		acc.Add(chunk, m)
		b = b[n:]
	}
	otr3WipeNat(chunk)
	return acc
}
