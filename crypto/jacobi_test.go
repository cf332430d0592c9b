package crypto

import (
	"math/big"
	mrand "math/rand"
	"testing"
)

// TestJacobi compares jacobi with math/big.Jacobi.
func TestJacobi(t *testing.T) {
	r := mrand.New(mrand.NewSource(12))
	moduli := []*big.Int{otr3PBig, dh3072P, big.NewInt(3), big.NewInt(5), big.NewInt(9), big.NewInt(1), big.NewInt(15), big.NewInt(1000003)}
	for i := range 40 {
		n := new(big.Int).Rand(r, new(big.Int).Lsh(big.NewInt(1), uint(8+i*40)))
		moduli = append(moduli, n.SetBit(n, 0, 1))
	}
	for _, n := range moduli {
		xs := []*big.Int{big.NewInt(0), big.NewInt(1), big.NewInt(2), new(big.Int).Sub(n, big.NewInt(1)), n, new(big.Int).Add(n, big.NewInt(2))}
		for range 30 {
			xs = append(xs, new(big.Int).Rand(r, n))
		}
		for _, x := range xs {
			if got, want := jacobi(x, n), big.Jacobi(x, n); got != want {
				t.Fatalf("jacobi(%v, %v) = %d, want %d", x, n, got, want)
			}
		}
	}
}

func BenchmarkJacobi1536(b *testing.B) {
	x := new(big.Int).Rand(mrand.New(mrand.NewSource(3)), otr3PBig)
	b.Run("ours", func(b *testing.B) {
		for b.Loop() {
			jacobi(x, otr3PBig)
		}
	})
	b.Run("math/big", func(b *testing.B) {
		for b.Loop() {
			big.Jacobi(x, otr3PBig)
		}
	})
}

// TestParseAuthenticatedDHPublic: the spec's range check only; the
// subgroup test is ParseDHPublic's.
func TestParseAuthenticatedDHPublic(t *testing.T) {
	pm1 := new(big.Int).Sub(otr3PBig, big.NewInt(1)).Bytes()
	pm2 := new(big.Int).Sub(otr3PBig, big.NewInt(2)).Bytes()
	nonResidue := big.NewInt(2)
	for jacobi(nonResidue, otr3PBig) == 1 {
		nonResidue.Add(nonResidue, big.NewInt(1))
	}
	for _, tc := range []struct {
		name       string
		y          []byte
		auth, full bool // accepted by ParseAuthenticatedDHPublic, ParseDHPublic
	}{
		{"empty", nil, false, false},
		{"1", []byte{1}, false, false},
		{"2", []byte{2}, true, true},
		{"non-residue", nonResidue.Bytes(), true, false},
		{"p-2", pm2, true, jacobi(new(big.Int).SetBytes(pm2), otr3PBig) == 1},
		{"p-1", pm1, false, false},
		{"p", otr3PBig.Bytes(), false, false},
		{"non-minimal", []byte{0, 2}, false, false},
	} {
		_, errA := ParseAuthenticatedDHPublic(tc.y)
		_, errF := ParseDHPublic(tc.y)
		if (errA == nil) != tc.auth || (errF == nil) != tc.full {
			t.Errorf("%s: authenticated %v, full %v; want accepted %v, %v", tc.name, errA, errF, tc.auth, tc.full)
		}
	}
}
