package crypto

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"testing"
)

func otr3TestExp(t testing.TB, seed byte) *SMP3Exponent {
	t.Helper()
	x, err := GenerateSMP3Exponent(otr3TestRand(seed))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func (x *SMP3Exponent) otr3Big() *big.Int {
	return new(big.Int).SetBytes(x.n.Bytes(otr3Q))
}

func TestSMP3Arithmetic(t *testing.T) {
	p := otr3PBig
	a, b := otr3TestExp(t, 20), otr3TestExp(t, 21)
	ab, bb := a.otr3Big(), b.otr3Big()
	if ab.Sign() == 0 || ab.Cmp(otr3QBig) >= 0 {
		t.Fatal("exponent out of range")
	}
	ga := SMP3BaseExp(a)
	if want := new(big.Int).Exp(big.NewInt(2), ab, p); !bytes.Equal(ga.Bytes(), want.Bytes()) {
		t.Error("SMP3BaseExp differs from math/big")
	}
	gab := ga.Exp(b)
	if want := new(big.Int).Exp(new(big.Int).SetBytes(ga.Bytes()), bb, p); !bytes.Equal(gab.Bytes(), want.Bytes()) {
		t.Error("Exp differs from math/big")
	}
	gb := SMP3BaseExp(b)
	if !gb.Exp(a).Equal(gab) {
		t.Error("(g^a)^b != (g^b)^a")
	}
	m := ga.Mul(gb)
	want := new(big.Int).Mul(new(big.Int).SetBytes(ga.Bytes()), new(big.Int).SetBytes(gb.Bytes()))
	if !bytes.Equal(m.Bytes(), want.Mod(want, p).Bytes()) {
		t.Error("Mul differs from math/big")
	}
	if !m.Div(gb).Equal(ga) {
		t.Error("(a*b)/b != a")
	}
	// Operations do not modify their operands.
	if !bytes.Equal(ga.Bytes(), new(big.Int).Exp(big.NewInt(2), ab, p).Bytes()) {
		t.Error("an operation modified its receiver")
	}
	s := NewSMP3Secret(bytes.Repeat([]byte{0xAB}, 32))
	if s.otr3Big().Cmp(new(big.Int).SetBytes(bytes.Repeat([]byte{0xAB}, 32))) != 0 {
		t.Error("NewSMP3Secret is not the integer value")
	}
}

func TestParseSMP3Element(t *testing.T) {
	p := otr3PBig
	add := func(d int64) []byte { return new(big.Int).Add(p, big.NewInt(d)).Bytes() }
	valid := SMP3BaseExp(otr3TestExp(t, 22)).Bytes()
	tests := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"0", nil, false},
		{"1", []byte{1}, false},
		{"2", []byte{2}, true},
		{"p-2 (not in the subgroup)", add(-2), false},
		{"p-1", add(-1), false},
		{"p", add(0), false},
		{"p+1", add(1), false},
		{"valid", valid, true},
		{"non-minimal", append([]byte{0}, valid...), false},
		{"too long", make([]byte, 300), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := ParseSMP3Element(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("ParseSMP3Element(%x) = %v, want ok %v", tc.in, err, tc.ok)
			}
			if err != nil {
				if !errors.Is(err, ErrInvalidSMP3Value) || e != nil {
					t.Errorf("error %v, element %v", err, e)
				}
				return
			}
			if !bytes.Equal(e.Bytes(), tc.in) {
				t.Error("Bytes() does not round-trip")
			}
		})
	}
}

func TestSMP3ExponentChecks(t *testing.T) {
	q := otr3QBig
	tests := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"0", nil, false},
		{"0 non-minimal", []byte{0}, false},
		{"1", []byte{1}, true},
		{"q-1", new(big.Int).Sub(q, big.NewInt(1)).Bytes(), true},
		{"q", q.Bytes(), false},
		{"q+1", new(big.Int).Add(q, big.NewInt(1)).Bytes(), false},
		{"p", otr3PBig.Bytes(), false},
	}
	for _, tc := range tests {
		if _, ok := otr3SMPCheckResponse(tc.in); ok != tc.ok {
			t.Errorf("%s: otr3SMPCheckResponse = %v, want %v", tc.name, ok, tc.ok)
		}
	}
	if _, ok := otr3SMPCheckChallenge(make([]byte, 33)); ok {
		t.Error("33-byte challenge accepted")
	}
}

func TestSMP3Hash(t *testing.T) {
	a := SMP3BaseExp(otr3TestExp(t, 23))
	b := SMP3BaseExp(otr3TestExp(t, 24))
	var buf []byte
	buf = append(buf, 5)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(a.Bytes())))
	buf = append(buf, a.Bytes()...)
	if got, want := SMP3Hash(5, a, nil), sha256.Sum256(buf); got != want {
		t.Error("SMP3Hash with one MPI")
	}
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(b.Bytes())))
	buf = append(buf, b.Bytes()...)
	if got, want := SMP3Hash(5, a, b), sha256.Sum256(buf); got != want {
		t.Error("SMP3Hash with two MPIs")
	}
}

func TestSMP3Proofs(t *testing.T) {
	r := otr3TestRand(25)
	x := otr3TestExp(t, 26)
	gx := SMP3BaseExp(x)
	other := SMP3BaseExp(otr3TestExp(t, 27))
	tamper := func(b []byte) []byte {
		c := append([]byte(nil), b...)
		c[len(c)-1] ^= 1
		return c
	}

	c, d, err := SMP3ProveLog(r, 1, x)
	if err != nil {
		t.Fatal(err)
	}
	if !SMP3VerifyLog(1, gx, c, d) {
		t.Error("log proof rejected")
	}
	if SMP3VerifyLog(2, gx, c, d) || SMP3VerifyLog(1, other, c, d) ||
		SMP3VerifyLog(1, gx, tamper(c), d) || SMP3VerifyLog(1, gx, c, tamper(d)) {
		t.Error("bad log proof accepted")
	}

	g2, g3 := SMP3BaseExp(otr3TestExp(t, 28)), SMP3BaseExp(otr3TestExp(t, 29))
	r4, y := otr3TestExp(t, 30), NewSMP3Secret(bytes.Repeat([]byte{7}, 32))
	P, Q := g3.Exp(r4), SMP3BaseExp(r4).Mul(g2.Exp(y))
	c, d5, d6, err := SMP3ProvePQ(r, 5, g2, g3, r4, y)
	if err != nil {
		t.Fatal(err)
	}
	if !SMP3VerifyPQ(5, g2, g3, P, Q, c, d5, d6) {
		t.Error("PQ proof rejected")
	}
	if SMP3VerifyPQ(6, g2, g3, P, Q, c, d5, d6) || SMP3VerifyPQ(5, g2, g3, P, other, c, d5, d6) ||
		SMP3VerifyPQ(5, g2, g3, P, Q, c, tamper(d5), d6) || SMP3VerifyPQ(5, g2, g3, P, Q, c, d5, tamper(d6)) {
		t.Error("bad PQ proof accepted")
	}

	a3 := otr3TestExp(t, 31)
	g3a := SMP3BaseExp(a3)
	qab := other
	R := qab.Exp(a3)
	c, d7, err := SMP3ProveR(r, 7, qab, a3)
	if err != nil {
		t.Fatal(err)
	}
	if !SMP3VerifyR(7, g3a, qab, R, c, d7) {
		t.Error("R proof rejected")
	}
	if SMP3VerifyR(8, g3a, qab, R, c, d7) || SMP3VerifyR(7, g3a, qab, gx, c, d7) ||
		SMP3VerifyR(7, g3a, qab, R, c, tamper(d7)) {
		t.Error("bad R proof accepted")
	}

	// A zero exponent gives a valid proof for the element 1, which only the
	// range check of ParseSMP3Element keeps out (docs/threats.md S1).
	zero := NewSMP3Secret(nil)
	c, d, _ = SMP3ProveLog(r, 3, zero)
	one := &SMP3Element{otr3MustNat([]byte{1}, otr3P)}
	if !SMP3VerifyLog(3, one, c, d) {
		t.Error("the zero-exponent proof should verify for 1 without the range check")
	}
	if _, err := ParseSMP3Element([]byte{1}); err == nil {
		t.Error("element 1 accepted")
	}

	if _, _, err := SMP3ProveLog(otr3FailingReader{}, 1, x); !errors.Is(err, errOTR3TestRand) {
		t.Errorf("SMP3ProveLog(failing rand) = %v", err)
	}
}

func TestSMP3Redacted(t *testing.T) {
	x := otr3TestExp(t, 32)
	if got := fmt.Sprintf("%v %+v %#v", x, x, x); got != "[redacted] [redacted] [redacted]" {
		t.Errorf("Sprintf = %q", got)
	}
	x.Wipe()
	if x.n.IsZero() != 1 {
		t.Error("Wipe left the exponent")
	}
}

// BenchmarkSMP3Exp measures one constant-time 1536-bit exponentiation with
// a full-size (192-byte) exponent, the unit cost of the SMP.
func BenchmarkSMP3Exp(b *testing.B) {
	e := SMP3BaseExp(otr3TestExp(b, 33))
	x := otr3TestExp(b, 34)
	for b.Loop() {
		e.Exp(x)
	}
}

// BenchmarkSMP3ExpShort measures an exponentiation by a 32-byte challenge,
// as proof verification does.
func BenchmarkSMP3ExpShort(b *testing.B) {
	e := SMP3BaseExp(otr3TestExp(b, 35))
	c := bytes.Repeat([]byte{0xC3}, 32)
	for b.Loop() {
		otr3SMPExp(e.n, append([]byte(nil), c...))
	}
}

func BenchmarkSMP3ParseElement(b *testing.B) {
	e := SMP3BaseExp(otr3TestExp(b, 36)).Bytes()
	for b.Loop() {
		if _, err := ParseSMP3Element(e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSMP3BaseExp measures g1^x with the comb table.
func BenchmarkSMP3BaseExp(b *testing.B) {
	x := otr3TestExp(b, 37)
	SMP3BaseExp(x) // build the table outside the loop
	for b.Loop() {
		SMP3BaseExp(x)
	}
}
