package crypto

import (
	"bytes"
	//lint:ignore SA1019 crypto/dsa is the reference implementation for differential tests
	"crypto/dsa"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"testing"
)

var (
	otr3DSAKeyOnce sync.Once
	otr3DSAKey     *DSAPrivateKey
	otr3DSAKeyErr  error
)

// otr3TestDSAKey returns a DSA key generated once from a seeded rand.
func otr3TestDSAKey(tb testing.TB) *DSAPrivateKey {
	tb.Helper()
	otr3DSAKeyOnce.Do(func() {
		otr3DSAKey, otr3DSAKeyErr = GenerateDSAKey(otr3TestRand(42))
	})
	if otr3DSAKeyErr != nil {
		tb.Fatal(otr3DSAKeyErr)
	}
	return otr3DSAKey
}

func otr3StdDSA(k *DSAPublicKey) *dsa.PublicKey {
	p, q, g, y := k.ints()
	return &dsa.PublicKey{Parameters: dsa.Parameters{P: p, Q: q, G: g}, Y: y}
}

func otr3StdVerify(k *DSAPublicKey, msg, sig []byte) bool {
	if len(sig) != 40 {
		return false
	}
	return dsa.Verify(otr3StdDSA(k), msg, new(big.Int).SetBytes(sig[:20]), new(big.Int).SetBytes(sig[20:]))
}

func TestDSAKeyShape(t *testing.T) {
	k := otr3TestDSAKey(t)
	pub := k.Public()
	if err := pub.Check(); err != nil {
		t.Fatalf("Check() = %v", err)
	}
	p, q, _, _ := pub.ints()
	if p.BitLen() != 1024 || q.BitLen() != 160 || !p.ProbablyPrime(20) || !q.ProbablyPrime(20) {
		t.Error("bad domain parameters")
	}
	k2, err := GenerateDSAKey(otr3TestRand(42))
	if err != nil {
		t.Fatal(err)
	}
	if !k2.Public().Equal(pub) {
		t.Error("GenerateDSAKey is not deterministic given rand")
	}
	if _, err := GenerateDSAKey(otr3FailingReader{}); !errors.Is(err, errOTR3TestRand) {
		t.Errorf("GenerateDSAKey(failing rand) error = %v", err)
	}
}

func TestDSASignVerify(t *testing.T) {
	k := otr3TestDSAKey(t)
	pub := k.Public()
	r := otr3TestRand(9)
	msgs := [][]byte{
		nil,
		{0},
		bytes.Repeat([]byte{0xFF}, 32),    // an OTR3 HMAC-sized message
		bytes.Repeat([]byte{0xA5}, 20),    // exactly q's length
		bytes.Repeat([]byte{0x5A}, 1000),  // a long OTRv4 transitional message
		append([]byte{0, 0, 0}, pub.Q...), // == q: reduces to 0
		new(big.Int).Lsh(big.NewInt(1), 159).Bytes(),
	}
	for i, msg := range msgs {
		sig, err := k.Sign(r, msg)
		if err != nil {
			t.Fatal(err)
		}
		if len(sig) != 40 {
			t.Fatalf("len(sig) = %d", len(sig))
		}
		if !pub.Verify(msg, sig) {
			t.Errorf("msg %d: Verify = false", i)
		}
		if !otr3StdVerify(pub, msg, sig) {
			t.Errorf("msg %d: dsa.Verify = false", i)
		}
		wrong := append(append([]byte(nil), msg...), 1)
		if pub.Verify(wrong, sig) || otr3StdVerify(pub, wrong, sig) {
			t.Errorf("msg %d: signature verifies for another message", i)
		}
		for j := range sig {
			bad := append([]byte(nil), sig...)
			bad[j] ^= 0x40
			if pub.Verify(msg, bad) {
				t.Errorf("msg %d: tampered byte %d verifies", i, j)
			}
		}
		if pub.Verify(msg, sig[:39]) || pub.Verify(msg, append(sig, 0)) {
			t.Errorf("msg %d: wrong-length signature verifies", i)
		}
	}
	// A message and the same message plus a multiple of q are the same z.
	msg := []byte{7}
	sig, _ := k.Sign(r, msg)
	q := new(big.Int).SetBytes(pub.Q)
	if !pub.Verify(new(big.Int).Add(q, big.NewInt(7)).Bytes(), sig) {
		t.Error("z is not int(msg) mod q")
	}
}

func TestDSAVerifyDifferential(t *testing.T) {
	k := otr3TestDSAKey(t)
	pub := k.Public()
	_, q, _, _ := pub.ints()
	r := otr3TestRand(10)
	for i := range 200 {
		msg := make([]byte, r.Uint64()%70)
		r.Read(msg)
		var sig []byte
		switch i % 4 {
		case 0: // random garbage
			sig = make([]byte, 40)
			r.Read(sig)
		case 1: // valid
			sig, _ = k.Sign(r, msg)
		case 2: // r or s out of range
			sig, _ = k.Sign(r, msg)
			copy(sig[20*(i/4%2):], q.FillBytes(make([]byte, 20)))
		case 3: // zero r or s
			sig, _ = k.Sign(r, msg)
			clear(sig[20*(i/4%2) : 20*(i/4%2)+20])
		}
		got, want := pub.Verify(msg, sig), otr3StdVerify(pub, msg, sig)
		if got != want {
			t.Errorf("case %d: Verify = %v, dsa.Verify = %v", i, got, want)
		}
		if i%4 == 1 && !got {
			t.Errorf("case %d: valid signature rejected", i)
		}
	}
}

func TestDSASignHedged(t *testing.T) {
	k := otr3TestDSAKey(t)
	msg := []byte("message")
	a, _ := k.Sign(otr3TestRand(11), msg)
	b, _ := k.Sign(otr3TestRand(11), msg)
	c, _ := k.Sign(otr3TestRand(12), msg)
	d, _ := k.Sign(otr3TestRand(11), []byte("other"))
	if !bytes.Equal(a, b) {
		t.Error("Sign is not deterministic given rand")
	}
	if bytes.Equal(a[:20], c[:20]) || bytes.Equal(a[:20], d[:20]) {
		t.Error("nonce did not change with rand or message")
	}
	if _, err := k.Sign(otr3FailingReader{}, msg); !errors.Is(err, errOTR3TestRand) {
		t.Errorf("Sign(failing rand) error = %v", err)
	}
}

func TestDSAFingerprint(t *testing.T) {
	pub := otr3TestDSAKey(t).Public()
	var enc []byte
	for _, v := range [][]byte{pub.P, pub.Q, pub.G, pub.Y} {
		enc = binary.BigEndian.AppendUint32(enc, uint32(len(v)))
		enc = append(enc, v...)
	}
	if got, want := pub.Fingerprint(), sha1.Sum(enc); got != want {
		t.Errorf("Fingerprint() = %x, want %x", got, want)
	}
	padded := &DSAPublicKey{P: append([]byte{0}, pub.P...), Q: pub.Q, G: pub.G, Y: append([]byte{0, 0}, pub.Y...)}
	if padded.Fingerprint() != pub.Fingerprint() || !padded.Equal(pub) {
		t.Error("leading zeros change the fingerprint or equality")
	}
	if padded.Check() == nil {
		t.Error("Check accepts a non-minimal key")
	}
}

func TestDSACheck(t *testing.T) {
	pub := otr3TestDSAKey(t).Public()
	p, q, _, _ := pub.ints()
	one := big.NewInt(1)
	pm1 := new(big.Int).Sub(p, one).Bytes()
	mod := func(f func(k *DSAPublicKey)) *DSAPublicKey {
		k := pub.clone()
		f(k)
		return k
	}
	tests := []struct {
		name string
		key  *DSAPublicKey
		ok   bool
	}{
		{"valid", pub, true},
		{"nil", nil, false},
		{"empty y", mod(func(k *DSAPublicKey) { k.Y = nil }), false},
		{"y=1", mod(func(k *DSAPublicKey) { k.Y = []byte{1} }), false},
		{"y=p-1", mod(func(k *DSAPublicKey) { k.Y = pm1 }), false},
		{"y=p", mod(func(k *DSAPublicKey) { k.Y = k.P }), false},
		// Accepted: the order of y is not checked (see Check); verification
		// with such a key fails for everyone but its owner anyway.
		{"y=2 not in subgroup", mod(func(k *DSAPublicKey) { k.Y = []byte{2} }), true},
		{"g=1", mod(func(k *DSAPublicKey) { k.G = []byte{1} }), false},
		{"g=p-1", mod(func(k *DSAPublicKey) { k.G = pm1 }), false},
		{"q does not divide p-1", mod(func(k *DSAPublicKey) { k.Q = new(big.Int).Add(q, big.NewInt(2)).Bytes() }), false},
		{"short q", mod(func(k *DSAPublicKey) { k.Q = k.Q[1:] }), false},
		{"short p", mod(func(k *DSAPublicKey) { k.P = k.P[1:] }), false},
		{"non-minimal g", mod(func(k *DSAPublicKey) { k.G = append([]byte{0}, k.G...) }), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.key.Check()
			if (err == nil) != tc.ok {
				t.Errorf("Check() = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidDSAKey) {
				t.Errorf("Check() = %v, want ErrInvalidDSAKey", err)
			}
		})
	}
}

func TestDSAMarshal(t *testing.T) {
	k := otr3TestDSAKey(t)
	b, err := k.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := ParseDSAPrivateKey(b)
	if err != nil {
		t.Fatalf("ParseDSAPrivateKey = %v", err)
	}
	b2, _ := k2.MarshalBinary()
	if !bytes.Equal(b, b2) || !k2.Public().Equal(k.Public()) {
		t.Error("marshal round trip differs")
	}
	for i := range b {
		if _, err := ParseDSAPrivateKey(b[:i]); err == nil {
			t.Fatalf("prefix of %d bytes parsed", i)
		}
	}
	if _, err := ParseDSAPrivateKey(append(b, 0)); err == nil {
		t.Error("trailing byte accepted")
	}
	p, q, g, y, x := k.Values()
	k3, err := NewDSAPrivateKey(append([]byte{0}, p...), q, g, append([]byte{0}, y...), append([]byte{0}, x...))
	if err != nil {
		t.Fatalf("NewDSAPrivateKey with leading zeros = %v", err)
	}
	if b3, _ := k3.MarshalBinary(); !bytes.Equal(b, b3) {
		t.Error("NewDSAPrivateKey(Values()) differs")
	}
	qInt := new(big.Int).SetBytes(q)
	xInt := new(big.Int).SetBytes(x)
	bad := []struct {
		name          string
		p, q, g, y, x []byte
	}{
		{"x=0", p, q, g, y, nil},
		{"x=q", p, q, g, y, q},
		{"x+q", p, q, g, y, new(big.Int).Add(xInt, qInt).Bytes()},
		{"y!=g^x", p, q, g, y, new(big.Int).Add(xInt, big.NewInt(1)).Bytes()},
		{"bad g", p, q, []byte{1}, y, x},
	}
	for _, tc := range bad {
		if _, err := NewDSAPrivateKey(tc.p, tc.q, tc.g, tc.y, tc.x); !errors.Is(err, ErrInvalidDSAKey) {
			t.Errorf("%s: NewDSAPrivateKey error = %v, want ErrInvalidDSAKey", tc.name, err)
		}
		enc := (&DSAPublicKey{tc.p, tc.q, tc.g, tc.y}).appendMPIs(nil)
		enc = otr3AppendMPI(enc, tc.x)
		if _, err := ParseDSAPrivateKey(enc); !errors.Is(err, ErrInvalidDSAKey) {
			t.Errorf("%s: ParseDSAPrivateKey error = %v, want ErrInvalidDSAKey", tc.name, err)
		}
	}
	// A non-minimal MPI in our own format is rejected.
	nm := otr3AppendMPI(nil, p)
	nm = binary.BigEndian.AppendUint32(nm, uint32(len(q)+1))
	nm = append(append(nm, 0), q...)
	nm = otr3AppendMPI(otr3AppendMPI(otr3AppendMPI(nm, g), y), x)
	if _, err := ParseDSAPrivateKey(nm); err == nil {
		t.Error("non-minimal MPI accepted")
	}
}

// otr3TestCompositeQParams returns DSA-shaped values around a composite q of
// 160 bits: p is a 1024-bit prime with q | p-1, g = h^((p-1)/q) ≠ 1 (so
// g^q = 1), y = g^x. Only the primality of q is wrong.
func otr3TestCompositeQParams(t *testing.T) (p, q, g, y, x *big.Int) {
	t.Helper()
	r := otr3TestRand(43)
	one := big.NewInt(1)
	qb := make([]byte, dsaQLen)
	q = new(big.Int)
	for {
		r.Read(qb)
		qb[0] |= 0x80
		qb[len(qb)-1] |= 1
		if q.SetBytes(qb); !q.ProbablyPrime(20) {
			break
		}
	}
	twoQ := new(big.Int).Lsh(q, 1)
	pb := make([]byte, dsaPBits/8)
	p, rem := new(big.Int), new(big.Int)
	for {
		r.Read(pb)
		pb[0] |= 0x80
		p.SetBytes(pb)
		p.Sub(p, rem.Mod(p, twoQ)).Add(p, one) // p ≡ 1 (mod 2q)
		if p.BitLen() == dsaPBits && p.ProbablyPrime(20) {
			break
		}
	}
	e := new(big.Int).Div(new(big.Int).Sub(p, one), q)
	g = new(big.Int)
	for h := int64(2); g.Exp(big.NewInt(h), e, p).Cmp(one) == 0; h++ {
	}
	if new(big.Int).Exp(g, q, p).Cmp(one) != 0 {
		t.Fatal("g^q != 1")
	}
	x = new(big.Int).Rsh(q, 1)
	return p, q, g, new(big.Int).Exp(g, x, p), x
}

// TestNewDSAPrivateKeyChecks imports keys built from a valid key's values
// with one defect each (y kept equal to g^x where the defect allows it, so
// that only the defect itself can reject the key).
func TestNewDSAPrivateKeyChecks(t *testing.T) {
	k := otr3TestDSAKey(t)
	pb, qb, gb, yb, xb := k.Values()
	p, q, g := new(big.Int).SetBytes(pb), new(big.Int).SetBytes(qb), new(big.Int).SetBytes(gb)
	x := new(big.Int).SetBytes(xb)
	one := big.NewInt(1)
	powX := func(base, x *big.Int) []byte { return new(big.Int).Exp(base, x, p).Bytes() }

	cp, cq, cg, cy, cx := otr3TestCompositeQParams(t)
	gOrder2q := new(big.Int).Sub(p, g) // -g: (-g)^q = -1
	nextPrime := new(big.Int).Add(q, big.NewInt(2))
	for !nextPrime.ProbablyPrime(20) {
		nextPrime.Add(nextPrime, big.NewInt(2))
	}
	xMax := new(big.Int).Sub(new(big.Int).Lsh(one, 8*dsaQLen), one) // 2^160-1 >= q
	qMinus1 := new(big.Int).Sub(q, one)

	tests := []struct {
		name          string
		p, q, g, y, x []byte
		ok            bool
	}{
		{"valid", pb, qb, gb, yb, xb, true},
		{"x=q-1", pb, qb, gb, powX(g, qMinus1), qMinus1.Bytes(), true},
		{"composite q", cp.Bytes(), cq.Bytes(), cg.Bytes(), cy.Bytes(), cx.Bytes(), false},
		{"g of order 2q", pb, qb, gOrder2q.Bytes(), powX(gOrder2q, x), xb, false},
		{"g=2 not of order q", pb, qb, []byte{2}, powX(big.NewInt(2), x), xb, false},
		{"g=1", pb, qb, []byte{1}, []byte{1}, xb, false},
		{"g=p-1", pb, qb, new(big.Int).Sub(p, one).Bytes(), powX(new(big.Int).Sub(p, one), x), xb, false},
		{"q does not divide p-1", pb, nextPrime.Bytes(), gb, yb, xb, false},
		{"x=0", pb, qb, gb, []byte{1}, nil, false},
		{"x=q", pb, qb, gb, powX(g, q), qb, false},
		{"x=2^160-1", pb, qb, gb, powX(g, xMax), xMax.Bytes(), false},
		{"y!=g^x", pb, qb, gb, powX(g, new(big.Int).Add(x, one)), xb, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, err := NewDSAPrivateKey(tc.p, tc.q, tc.g, tc.y, tc.x)
			if tc.ok {
				if err != nil {
					t.Fatalf("NewDSAPrivateKey error = %v, want nil", err)
				}
				sig, err := key.Sign(otr3TestRand(15), []byte("msg"))
				if err != nil || !key.Public().Verify([]byte("msg"), sig) {
					t.Errorf("imported key: Sign error = %v or signature does not verify", err)
				}
			} else if !errors.Is(err, ErrInvalidDSAKey) || key != nil {
				t.Errorf("NewDSAPrivateKey = %v, %v; want nil, ErrInvalidDSAKey", key, err)
			}
			enc := (&DSAPublicKey{tc.p, tc.q, tc.g, tc.y}).appendMPIs(nil)
			enc = otr3AppendMPI(enc, tc.x)
			if _, err := ParseDSAPrivateKey(enc); (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidDSAKey)) {
				t.Errorf("ParseDSAPrivateKey error = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func FuzzParseDSAPrivateKey(f *testing.F) {
	k := otr3TestDSAKey(f)
	b, _ := k.MarshalBinary()
	f.Add(b)
	f.Add(b[:100])
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		k, err := ParseDSAPrivateKey(in)
		if err != nil {
			if k != nil {
				t.Fatal("error with a non-nil key")
			}
			return
		}
		out, _ := k.MarshalBinary()
		if !bytes.Equal(in, out) {
			t.Fatalf("round trip: %x != %x", out, in)
		}
	})
}

func TestDSARedacted(t *testing.T) {
	k, _ := ParseDSAPrivateKey(otr3Must(otr3TestDSAKey(t).MarshalBinary()))
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(f, k); got != "[redacted]" {
			t.Errorf("Sprintf(%q) = %q", f, got)
		}
	}
	if got := k.LogValue().String(); got != "[redacted]" {
		t.Errorf("LogValue() = %q", got)
	}
	k.Wipe()
	if k.x != [dsaQLen]byte{} {
		t.Error("Wipe left x")
	}
	if _, err := k.Sign(otr3TestRand(1), nil); err == nil {
		t.Error("Sign after Wipe succeeded")
	}
}

func otr3Must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func BenchmarkDSASign(b *testing.B) {
	k := otr3TestDSAKey(b)
	r := otr3TestRand(13)
	msg := make([]byte, 32)
	for b.Loop() {
		if _, err := k.Sign(r, msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDSAVerify(b *testing.B) {
	k := otr3TestDSAKey(b)
	pub := k.Public()
	msg := make([]byte, 32)
	sig, _ := k.Sign(otr3TestRand(14), msg)
	for b.Loop() {
		if !pub.Verify(msg, sig) {
			b.Fatal("invalid")
		}
	}
}
