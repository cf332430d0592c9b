package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"testing"
)

func TestDHAgreement(t *testing.T) {
	r := otr3TestRand(2)
	a, err := GenerateDHKey(r)
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateDHKey(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckDHPublic(a.Public()); err != nil {
		t.Fatalf("CheckDHPublic(own key) = %v", err)
	}
	sa, err := a.SharedSecret(b.Public())
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.SharedSecret(a.Public())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sa, sb) {
		t.Fatal("shared secrets differ")
	}
	// Differential check against math/big.
	x := new(big.Int).SetBytes(a.x[:])
	wantPub := new(big.Int).Exp(big.NewInt(2), x, otr3PBig)
	if !bytes.Equal(a.Public(), wantPub.Bytes()) {
		t.Error("Public() differs from math/big")
	}
	want := new(big.Int).Exp(new(big.Int).SetBytes(b.Public()), x, otr3PBig)
	if !bytes.Equal(sa, want.Bytes()) {
		t.Error("SharedSecret differs from math/big")
	}
	if len(a.Public()) == 0 || a.Public()[0] == 0 {
		t.Error("Public() is not minimal")
	}
}

func TestDHKeyDeterministic(t *testing.T) {
	a, _ := GenerateDHKey(otr3TestRand(3))
	b, _ := GenerateDHKey(otr3TestRand(3))
	if !bytes.Equal(a.Public(), b.Public()) {
		t.Error("same rand gave different keys")
	}
	if _, err := GenerateDHKey(otr3FailingReader{}); !errors.Is(err, errOTR3TestRand) {
		t.Errorf("GenerateDHKey(failing rand) error = %v, want %v", err, errOTR3TestRand)
	}
}

func TestCheckDHPublic(t *testing.T) {
	p := otr3PBig
	add := func(d int64) []byte { return new(big.Int).Add(p, big.NewInt(d)).Bytes() }
	k, _ := GenerateDHKey(otr3TestRand(4))
	nonResidue := big.NewInt(3)
	for big.Jacobi(nonResidue, p) != -1 {
		nonResidue.Add(nonResidue, big.NewInt(1))
	}
	tests := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"empty", nil, false},
		{"zero", []byte{0}, false},
		{"one", []byte{1}, false},
		{"two", []byte{2}, true},
		{"four", []byte{4}, true},
		{"small non-residue", nonResidue.Bytes(), false},
		{"p-2 non-residue", add(-2), false},
		{"p-1", add(-1), false},
		{"p", add(0), false},
		{"p+1", add(1), false},
		{"p+4", add(4), false},
		{"valid key", k.Public(), true},
		{"non-minimal", append([]byte{0}, k.Public()...), false},
		{"non-minimal two", []byte{0, 2}, false},
		{"too long", bytes.Repeat([]byte{1}, 193), false},
		{"2^1536", append([]byte{1}, make([]byte, 192)...), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckDHPublic(tc.in)
			if got := err == nil; got != tc.ok {
				t.Errorf("CheckDHPublic(%x) = %v, want ok %v", tc.in, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidDHKey) {
				t.Errorf("error %v is not ErrInvalidDHKey", err)
			}
			if _, err := k.SharedSecret(tc.in); (err == nil) != tc.ok {
				t.Errorf("SharedSecret(%x) error = %v, want ok %v", tc.in, err, tc.ok)
			}
		})
	}
}

func FuzzCheckDHPublic(f *testing.F) {
	k, _ := GenerateDHKey(otr3TestRand(5))
	f.Add(k.Public())
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add([]byte{2})
	f.Add(new(big.Int).Sub(otr3PBig, big.NewInt(1)).Bytes())
	f.Add(otr3PBig.Bytes())
	f.Fuzz(func(t *testing.T, y []byte) {
		err := CheckDHPublic(y)
		v := new(big.Int).SetBytes(y)
		want := len(y) > 0 && y[0] != 0 && v.Cmp(big.NewInt(1)) > 0 &&
			v.Cmp(otr3PMinus2Big) <= 0 && big.Jacobi(v, otr3PBig) == 1
		if (err == nil) != want {
			t.Fatalf("CheckDHPublic(%x) = %v, want ok %v", y, err, want)
		}
	})
}

func TestCompareMPI(t *testing.T) {
	tests := []struct {
		a, b []byte
		want int
	}{
		{nil, nil, 0},
		{[]byte{0}, nil, 0},
		{[]byte{1}, []byte{0, 1}, 0},
		{[]byte{1}, []byte{2}, -1},
		{[]byte{2}, []byte{1}, 1},
		{[]byte{1, 0}, []byte{0xFF}, 1},
		{[]byte{0xFF}, []byte{1, 0}, -1},
		{[]byte{1, 2, 3}, []byte{1, 2, 4}, -1},
	}
	for _, tc := range tests {
		if got := CompareMPI(tc.a, tc.b); got != tc.want {
			t.Errorf("CompareMPI(%x, %x) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestDHRedacted(t *testing.T) {
	k, _ := GenerateDHKey(otr3TestRand(6))
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(f, k); got != "[redacted]" {
			t.Errorf("Sprintf(%q) = %q", f, got)
		}
	}
	if got := k.LogValue().String(); got != "[redacted]" {
		t.Errorf("LogValue() = %q", got)
	}
	k.Wipe()
	if k.x != [dhSecretLen]byte{} {
		t.Error("Wipe left the exponent")
	}
}

func BenchmarkDHGenerate(b *testing.B) {
	r := otr3TestRand(7)
	for b.Loop() {
		if _, err := GenerateDHKey(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDHSharedSecret(b *testing.B) {
	r := otr3TestRand(8)
	k, _ := GenerateDHKey(r)
	peer, _ := GenerateDHKey(r)
	pub := peer.Public()
	for b.Loop() {
		if _, err := k.SharedSecret(pub); err != nil {
			b.Fatal(err)
		}
	}
}
