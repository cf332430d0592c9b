package crypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"math/big"
	mrand "math/rand/v2"
	"testing"

	"filippo.io/bigmod"
)

// TestFixedBase compares the comb against math/big's Exp.
func TestFixedBase(t *testing.T) {
	r := mrand.NewChaCha8([32]byte{9})
	for _, tc := range []struct {
		name string
		p    *big.Int
		g    int64
		bits int
		w    uint
	}{
		{"otr3-w5", otr3PBig, 2, 320, 5},
		{"otr3-w4", otr3PBig, 2, 64, 4},
		{"small", big.NewInt(1000003), 5, 20, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := otr3Modulus(tc.p)
			g := otr3MustNat(big.NewInt(tc.g).Bytes(), m)
			f := newFixedBase(g, m, tc.bits, tc.w)
			for i := range 50 {
				e := make([]byte, (tc.bits+7)/8)
				r.Read(e)
				switch i {
				case 0:
					clear(e)
				case 1:
					for j := range e {
						e[j] = 0xff
					}
				}
				if extra := len(e)*8 - tc.bits; extra > 0 {
					e[0] &= 0xff >> extra
				}
				got := f.exp(e).Bytes(m)
				want := new(big.Int).Exp(big.NewInt(tc.g), new(big.Int).SetBytes(e), tc.p)
				if !bytes.Equal(new(big.Int).SetBytes(got).Bytes(), want.Bytes()) {
					t.Fatalf("g^%x: got %x, want %x", e, got, want)
				}
			}
		})
	}
}

func BenchmarkFixedBaseOTR3(b *testing.B) {
	e := make([]byte, dhSecretLen)
	e[3] = 7
	otr3GTable()
	for b.Loop() {
		otr3GTable().exp(e)
	}
}

func BenchmarkExpOTR3(b *testing.B) {
	e := make([]byte, dhSecretLen)
	e[3] = 7
	for b.Loop() {
		bigmod.NewNat().Exp(otr3G(), e, otr3P)
	}
}

func BenchmarkFixedBaseDH3072(b *testing.B) {
	e := make([]byte, DH3072SecretSize)
	e[3] = 7
	dh3072GTable()
	for b.Loop() {
		dh3072GTable().exp(e)
	}
}

func BenchmarkExpDH3072(b *testing.B) {
	e := make([]byte, DH3072SecretSize)
	e[3] = 7
	g := bigmod.NewNat().SetUint(2).ExpandFor(dh3072Mod)
	for b.Loop() {
		bigmod.NewNat().Exp(g, e, dh3072Mod)
	}
}

// TestAES128CTR checks AES128.CTR (and so AESCTR), both its block-by-block
// path for short messages and the stream path, against crypto/cipher's CTR.
func TestAES128CTR(t *testing.T) {
	key := []byte("0123456789abcdef")
	a := NewAES128(key)
	top := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	for n := 0; n <= smallCTR+40; n++ {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(i * 7)
		}
		want := make([]byte, n)
		block, _ := aes.NewCipher(key)
		iv := make([]byte, aes.BlockSize)
		copy(iv, top[:])
		cipher.NewCTR(block, iv).XORKeyStream(want, src)
		got := make([]byte, n)
		a.CTR(top, got, src)
		if !bytes.Equal(got, want) {
			t.Fatalf("length %d: CTR differs", n)
		}
		a.CTR(top, src, src) // in place
		if !bytes.Equal(src, want) {
			t.Fatalf("length %d: in-place CTR differs", n)
		}
	}
}
