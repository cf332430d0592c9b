package smp

import (
	"testing"

	otrcrypto "github.com/otrgo/otr/crypto"
)

// BenchmarkSMP4Run runs one full SMP (both sides, in process, matching
// secrets). A run costs 14 fixed-base multiplications (ScalarBaseMult), 28
// variable-base ones (ScalarMult, constant time) and 8 double
// multiplications a*A + b*G (VarTimeDoubleScalarBaseMult, verification of
// public values only), plus 10 point validations (ParsePoint) and 34 point
// encodings: compare with the benchmarks below.
func BenchmarkSMP4Run(b *testing.B) {
	x := secret4(fpA4, fpB4, ssid4, "Password!")
	r := testRand4(1)
	var alice, bob SMP4
	for b.Loop() {
		tr := run4(b, r, &alice, &bob, x, x, "question")
		if tr.alice != Succeeded || tr.bob != Succeeded {
			b.Fatal("run failed")
		}
	}
}

func benchScalar4(b *testing.B, seed byte) *otrcrypto.Scalar {
	b.Helper()
	k, err := otrcrypto.GenerateScalar(testRand4(seed))
	if err != nil {
		b.Fatal(err)
	}
	return &k
}

// BenchmarkSMP4ScalarMult is one constant-time variable-base multiplication.
func BenchmarkSMP4ScalarMult(b *testing.B) {
	k := benchScalar4(b, 1)
	var p otrcrypto.Point
	p.ScalarBaseMult(benchScalar4(b, 2))
	for b.Loop() {
		p.ScalarMult(k, &p)
	}
}

// BenchmarkSMP4ScalarBaseMult is one constant-time fixed-base multiplication.
func BenchmarkSMP4ScalarBaseMult(b *testing.B) {
	k := benchScalar4(b, 1)
	var p otrcrypto.Point
	for b.Loop() {
		p.ScalarBaseMult(k)
	}
}

// BenchmarkSMP4DoubleScalarMult is one variable-time a*A + b*G.
func BenchmarkSMP4DoubleScalarMult(b *testing.B) {
	k1, k2 := benchScalar4(b, 1), benchScalar4(b, 2)
	var p otrcrypto.Point
	p.ScalarBaseMult(benchScalar4(b, 3))
	for b.Loop() {
		p.VarTimeDoubleScalarBaseMult(k1, &p, k2)
	}
}

// BenchmarkSMP4ParsePoint is the validation of one received point (10 per
// run): decoding plus the prime-order-subgroup check.
func BenchmarkSMP4ParsePoint(b *testing.B) {
	var p otrcrypto.Point
	p.ScalarBaseMult(benchScalar4(b, 1))
	enc := p.Bytes()
	for b.Loop() {
		if _, err := otrcrypto.ParsePoint(enc[:]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSMP4PointBytes is the encoding of one point (34 per run: 10 on
// the wire, 24 hashed).
func BenchmarkSMP4PointBytes(b *testing.B) {
	var p otrcrypto.Point
	p.ScalarBaseMult(benchScalar4(b, 1))
	for b.Loop() {
		p.Bytes()
	}
}
