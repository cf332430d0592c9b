package crypto

import (
	"math/rand/v2"
	"testing"
)

// Benchmarks of every primitive the DAKE uses.

func BenchmarkECDHGenerate(b *testing.B) {
	rng := rand.NewChaCha8([32]byte{10})
	for b.Loop() {
		if _, err := GenerateECDHKey(rng); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkECDHShared(b *testing.B) {
	rng := rand.NewChaCha8([32]byte{11})
	k1, _ := GenerateECDHKey(rng)
	k2, _ := GenerateECDHKey(rng)
	pub := k2.Public()
	for b.Loop() {
		if _, err := k1.SharedSecret(&pub); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDH3072Generate(b *testing.B) {
	rng := rand.NewChaCha8([32]byte{12})
	for b.Loop() {
		if _, err := GenerateDH3072Key(rng); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDH3072Shared(b *testing.B) {
	rng := rand.NewChaCha8([32]byte{13})
	k1, _ := GenerateDH3072Key(rng)
	k2, _ := GenerateDH3072Key(rng)
	for b.Loop() {
		if _, err := k1.SharedSecret(k2.Public()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDH3072CheckPublic(b *testing.B) {
	rng := rand.NewChaCha8([32]byte{14})
	k, _ := GenerateDH3072Key(rng)
	pub := k.Public().Bytes()
	for b.Loop() {
		if err := CheckDH3072Public(pub); err != nil {
			b.Fatal(err)
		}
	}
}

func v4BenchRing(b *testing.B) (*Scalar, [3]Point, []byte) {
	rng := rand.NewChaCha8([32]byte{15})
	var pubs [3]Point
	var s Scalar
	for i := range pubs {
		k, _ := GenerateEdDSAKey(rng)
		pubs[i] = k.Public()
		if i == 1 {
			s = k.SecretScalar()
		}
	}
	return &s, pubs, []byte("benchmark message t")
}

func BenchmarkRingSign(b *testing.B) {
	s, A, m := v4BenchRing(b)
	rng := rand.NewChaCha8([32]byte{16})
	for b.Loop() {
		if _, err := RingSign(rng, s, &A[0], &A[1], &A[2], m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRingVerify(b *testing.B) {
	s, A, m := v4BenchRing(b)
	sig, _ := RingSign(rand.NewChaCha8([32]byte{17}), s, &A[0], &A[1], &A[2], m)
	for b.Loop() {
		if !RingVerify(&A[0], &A[1], &A[2], &sig, m) {
			b.Fatal("verify failed")
		}
	}
}

func BenchmarkEdDSASign(b *testing.B) {
	k, _ := GenerateEdDSAKey(rand.NewChaCha8([32]byte{18}))
	m := make([]byte, 512)
	for b.Loop() {
		k.Sign(m)
	}
}

func BenchmarkEdDSAVerify(b *testing.B) {
	k, _ := GenerateEdDSAKey(rand.NewChaCha8([32]byte{19}))
	m := make([]byte, 512)
	sig := k.Sign(m)
	pub := k.Public()
	for b.Loop() {
		if !VerifyEdDSA(&pub, m, sig[:]) {
			b.Fatal("verify failed")
		}
	}
}

func BenchmarkKDF64(b *testing.B) {
	in := make([]byte, 64)
	var out [64]byte
	for b.Loop() {
		KDF(out[:], UsageRootKey, in, in)
	}
}

func BenchmarkHashToScalar(b *testing.B) {
	in := make([]byte, 7*57+64)
	for b.Loop() {
		HashToScalar(UsageAuth, in)
	}
}

func BenchmarkParsePoint(b *testing.B) {
	k, _ := GenerateECDHKey(rand.NewChaCha8([32]byte{20}))
	pub := k.Public()
	enc := pub.Bytes()
	for b.Loop() {
		if _, err := ParsePoint(enc[:]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScalarInvert(b *testing.B) {
	s, _ := GenerateScalar(rand.NewChaCha8([32]byte{21}))
	for b.Loop() {
		new(Scalar).Invert(&s)
	}
}
