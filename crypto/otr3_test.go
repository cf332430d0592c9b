package crypto

import (
	"bytes"
	"errors"
	"math/big"
	"math/rand/v2"
	"testing"
)

// otr3TestRand returns a deterministic random source for tests.
func otr3TestRand(seed byte) *rand.ChaCha8 {
	var s [32]byte
	s[0] = seed
	s[1] = 0x33
	return rand.NewChaCha8(s)
}

// otr3FailingReader fails every read.
type otr3FailingReader struct{}

func (otr3FailingReader) Read([]byte) (int, error) { return 0, errOTR3TestRand }

var errOTR3TestRand = errors.New("test: no randomness")

func TestOTR3GroupConstants(t *testing.T) {
	p, q := otr3PBig, otr3QBig
	if p.BitLen() != 1536 || !p.ProbablyPrime(20) || !q.ProbablyPrime(20) {
		t.Fatal("p is not a 1536-bit safe prime")
	}
	if got := new(big.Int).Mod(p, big.NewInt(8)).Int64(); got != 7 {
		t.Errorf("p mod 8 = %d, want 7", got)
	}
	// 2 is a quadratic residue: g = 2 generates the order-q subgroup, so
	// CheckDHPublic may demand a Jacobi symbol of 1.
	if got := big.Jacobi(big.NewInt(2), p); got != 1 {
		t.Errorf("Jacobi(2, p) = %d, want 1", got)
	}
	if got := new(big.Int).Exp(big.NewInt(2), q, p); got.Cmp(big.NewInt(1)) != 0 {
		t.Errorf("2^q mod p = %v, want 1", got)
	}
}

func TestOTR3ReduceBytes(t *testing.T) {
	r := otr3TestRand(1)
	moduli := []*big.Int{otr3PBig, otr3QBig, big.NewInt(0xFFFFFFFB), mustDSAQ(t)}
	for _, m := range moduli {
		mod := otr3Modulus(m)
		for _, n := range []int{0, 1, 2, 19, 20, 21, 63, 64, 65, 191, 192, 193, 200, 400} {
			b := make([]byte, n)
			r.Read(b)
			if n > 0 && n%3 == 0 {
				clear(b[:n/2]) // leading zeros
			}
			got := new(big.Int).SetBytes(otr3ReduceBytes(b, mod).Bytes(mod))
			want := new(big.Int).Mod(new(big.Int).SetBytes(b), m)
			if got.Cmp(want) != 0 {
				t.Errorf("otr3ReduceBytes(%d bytes) mod %d bits = %x, want %x", n, m.BitLen(), got, want)
			}
		}
	}
}

func mustDSAQ(t *testing.T) *big.Int {
	t.Helper()
	return new(big.Int).SetBytes(otr3TestDSAKey(t).pub.Q)
}

func TestOTR3ReadMPI(t *testing.T) {
	tests := []struct {
		in     []byte
		max    int
		want   []byte
		wantOK bool
	}{
		{[]byte{0, 0, 0, 0}, 4, []byte{}, true},
		{[]byte{0, 0, 0, 1, 5}, 4, []byte{5}, true},
		{[]byte{0, 0, 0, 1, 0}, 4, nil, false},             // non-minimal zero
		{[]byte{0, 0, 0, 2, 0, 5}, 4, nil, false},          // leading zero
		{[]byte{0, 0, 0, 2, 5}, 4, nil, false},             // truncated
		{[]byte{0, 0, 0}, 4, nil, false},                   // short length
		{[]byte{0, 0, 0, 3, 1, 2, 3}, 2, nil, false},       // too long
		{[]byte{0xFF, 0xFF, 0xFF, 0xFF, 1}, 4, nil, false}, // huge length
	}
	for _, tc := range tests {
		s := tc.in
		got, ok := otr3ReadMPI(&s, tc.max)
		if ok != tc.wantOK || !bytes.Equal(got, tc.want) {
			t.Errorf("otr3ReadMPI(%x) = %x, %v; want %x, %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
	}
}
