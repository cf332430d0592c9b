package crypto

import (
	"bytes"
	"errors"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/otrgo/otr/internal/vectors"
)

func TestDH3072Params(t *testing.T) {
	if dh3072P.BitLen() != 3072 || !dh3072P.ProbablyPrime(4) {
		t.Fatalf("dh_p is not a 3072-bit prime")
	}
	q := new(big.Int).Rsh(dh3072P, 1)
	if !q.ProbablyPrime(4) {
		t.Fatalf("dh_q is not prime")
	}
	wantQ := "7FFFFFFFFFFFFFFFE487ED5110B4611A62633145C06E0E68"
	if got := q.Text(16); got[:len(wantQ)] != "7fffffffffffffffe487ed5110b4611a62633145c06e0e68" {
		t.Errorf("dh_q starts %s, want %s", got[:len(wantQ)], wantQ)
	}
}

// TestDH3072JacobiMatchesExp checks the Jacobi-symbol subgroup test against
// the spec's x^q mod p == 1 on random and edge values.
func TestDH3072JacobiMatchesExp(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	q := new(big.Int).Rsh(dh3072P, 1)
	one := big.NewInt(1)
	vals := []*big.Int{big.NewInt(0), big.NewInt(1), big.NewInt(2), big.NewInt(3), big.NewInt(4),
		new(big.Int).Sub(dh3072P, big.NewInt(1)), new(big.Int).Sub(dh3072P, big.NewInt(2)),
		new(big.Int).Set(dh3072P), new(big.Int).Add(dh3072P, one)}
	for range 20 {
		b := make([]byte, 384)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		x := new(big.Int).SetBytes(b)
		vals = append(vals, x.Mod(x, dh3072P))
	}
	for _, x := range vals {
		want := x.Cmp(big.NewInt(2)) >= 0 && x.Cmp(new(big.Int).Sub(dh3072P, big.NewInt(2))) <= 0 &&
			new(big.Int).Exp(x, q, dh3072P).Cmp(one) == 0
		err := CheckDH3072Public(x.Bytes())
		if (err == nil) != want {
			t.Errorf("CheckDH3072Public(%x...) = %v, want valid %v", x.Bytes()[:min(8, len(x.Bytes()))], err, want)
		}
	}
	for _, b := range [][]byte{nil, {0, 2}, make([]byte, 385)} {
		if err := CheckDH3072Public(b); !errors.Is(err, ErrInvalidDH3072Key) {
			t.Errorf("CheckDH3072Public(%d bytes) = %v", len(b), err)
		}
	}
}

func TestDH3072Exchange(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{4})
	a, err := GenerateDH3072Key(rng)
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateDH3072Key(rng)
	if err != nil {
		t.Fatal(err)
	}
	// The public value is 2^x mod p, with x the 80 bytes big-endian.
	want := new(big.Int).Exp(big.NewInt(2), new(big.Int).SetBytes(a.x[:]), dh3072P)
	if !bytes.Equal(a.Public().Bytes(), want.Bytes()) {
		t.Fatalf("public = 2^x mod p mismatch")
	}
	pa, err := ParseDH3072PublicKey(a.Public().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	pb, err := ParseDH3072PublicKey(b.Public().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	s1, err1 := a.SharedSecret(pb)
	s2, err2 := b.SharedSecret(pa)
	if err1 != nil || err2 != nil || !bytes.Equal(s1, s2) {
		t.Fatalf("shared secrets differ: %v %v", err1, err2)
	}
	wantS := new(big.Int).Exp(new(big.Int).SetBytes(pb.Bytes()), new(big.Int).SetBytes(a.x[:]), dh3072P)
	if !bytes.Equal(s1, wantS.Bytes()) {
		t.Errorf("shared secret is not the minimal big-endian pub^x mod p")
	}
	if !pa.Equal(a.Public()) || pa.Equal(pb) {
		t.Errorf("Equal wrong")
	}
	if _, err := NewDH3072PrivateKey(make([]byte, 80)); !errors.Is(err, ErrInvalidDH3072Secret) {
		t.Errorf("zero secret: %v", err)
	}
	if _, err := NewDH3072PrivateKey(make([]byte, 79)); !errors.Is(err, ErrInvalidDH3072Secret) {
		t.Errorf("short secret: %v", err)
	}
	if _, err := a.SharedSecret(&DH3072PublicKey{}); !errors.Is(err, ErrInvalidDH3072Key) {
		t.Errorf("zero public: %v", err)
	}
	if _, err := GenerateDH3072Key(bytes.NewReader(make([]byte, 10))); err == nil {
		t.Errorf("short reader: no error")
	}
	a.Wipe()
	if a.x != ([80]byte{}) {
		t.Errorf("Wipe left the secret")
	}
}

// TestDH3072DAKEVectors checks the DH and ECDH key generation and the mixed
// shared secret of the DAKE in dake.json (otr4j): k_dh enters the brace key
// as a minimal big-endian integer (docs/interop.md, "Double ratchet").
func TestDH3072DAKEVectors(t *testing.T) {
	type dhKey struct {
		R      vectors.Hex `json:"r"`
		Secret vectors.Hex `json:"secret"`
		Public vectors.Hex `json:"public"`
	}
	type ecdhKey struct {
		R            vectors.Hex `json:"r"`
		SecretScalar vectors.Hex `json:"secret_scalar"`
		Public       vectors.Hex `json:"public"`
	}
	var f struct {
		Identity struct {
			Y         ecdhKey `json:"y"`
			B         dhKey   `json:"b"`
			FirstECDH ecdhKey `json:"first_ecdh"`
			FirstDH   dhKey   `json:"first_dh"`
		} `json:"identity_message"`
		AuthR struct {
			X         ecdhKey `json:"x"`
			A         dhKey   `json:"a"`
			FirstECDH ecdhKey `json:"first_ecdh"`
			FirstDH   dhKey   `json:"first_dh"`
		} `json:"auth_r"`
		Shared struct {
			KECDH    vectors.Hex `json:"K_ecdh"`
			KDH      vectors.Hex `json:"k_dh"`
			BraceKey vectors.Hex `json:"brace_key"`
			K        vectors.Hex `json:"K"`
		} `json:"shared_secret"`
	}
	vectors.Load(t, "otrv4/dake.json", &f)
	dh := func(name string, v dhKey) *DH3072PrivateKey {
		k, err := NewDH3072PrivateKey(v.R)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(dh3072Minimal(k.x[:]), v.Secret) {
			t.Errorf("%s: secret = %x, want %x", name, k.x, []byte(v.Secret))
		}
		if !bytes.Equal(k.Public().Bytes(), v.Public) {
			t.Errorf("%s: public = %x, want %x", name, k.Public().Bytes(), []byte(v.Public))
		}
		if err := CheckDH3072Public(v.Public); err != nil {
			t.Errorf("%s: CheckDH3072Public = %v", name, err)
		}
		return k
	}
	ecdh := func(name string, v ecdhKey) *ECDHPrivateKey {
		k, err := NewECDHPrivateKey(v.R)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s, p := k.SecretScalar(), k.Public()
		if b := s.Bytes(); !bytes.Equal(b[:], v.SecretScalar) {
			t.Errorf("%s: secret = %x, want %x", name, b, []byte(v.SecretScalar))
		}
		if b := p.Bytes(); !bytes.Equal(b[:], v.Public) {
			t.Errorf("%s: public = %x, want %x", name, b, []byte(v.Public))
		}
		return k
	}
	b := dh("b", f.Identity.B)
	a := dh("a", f.AuthR.A)
	dh("bob first dh", f.Identity.FirstDH)
	dh("alice first dh", f.AuthR.FirstDH)
	y := ecdh("y", f.Identity.Y)
	x := ecdh("x", f.AuthR.X)
	ecdh("bob first ecdh", f.Identity.FirstECDH)
	ecdh("alice first ecdh", f.AuthR.FirstECDH)

	kdh1, err1 := a.SharedSecret(b.Public())
	kdh2, err2 := b.SharedSecret(a.Public())
	if err1 != nil || err2 != nil || !bytes.Equal(kdh1, f.Shared.KDH) || !bytes.Equal(kdh2, f.Shared.KDH) {
		t.Errorf("k_dh = %x / %x (%v, %v), want %x", kdh1, kdh2, err1, err2, []byte(f.Shared.KDH))
	}
	Y, X := y.Public(), x.Public()
	k1, err1 := x.SharedSecret(&Y)
	k2, err2 := y.SharedSecret(&X)
	if err1 != nil || err2 != nil || !bytes.Equal(k1[:], f.Shared.KECDH) || k1 != k2 {
		t.Errorf("K_ecdh = %x / %x, want %x", k1, k2, []byte(f.Shared.KECDH))
	}
	brace := make([]byte, 32)
	KDF(brace, UsageThirdBraceKey, kdh1)
	if !bytes.Equal(brace, f.Shared.BraceKey) {
		t.Errorf("brace_key = %x, want %x", brace, []byte(f.Shared.BraceKey))
	}
	K := make([]byte, 64)
	KDF(K, UsageSharedSecret, k1[:], brace)
	if !bytes.Equal(K, f.Shared.K) {
		t.Errorf("K = %x, want %x", K, []byte(f.Shared.K))
	}
}
