package crypto

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/otrgo/otr/internal/vectors"
)

// TestEdDSARFC8032 runs the RFC 8032 section 7.4 Ed448 vectors
// (testdata/vectors/ed448/rfc8032.json).
func TestEdDSARFC8032(t *testing.T) {
	var f struct {
		Vectors []struct {
			TCID      int         `json:"tcId"`
			Comment   string      `json:"comment"`
			SecretKey vectors.Hex `json:"secret_key"`
			PublicKey vectors.Hex `json:"public_key"`
			Context   vectors.Hex `json:"context"`
			Message   vectors.Hex `json:"message"`
			Signature vectors.Hex `json:"signature"`
			Result    string      `json:"result"`
		} `json:"vectors"`
	}
	vectors.Load(t, "ed448/rfc8032.json", &f)
	if len(f.Vectors) != 9 {
		t.Fatalf("got %d vectors, want 9", len(f.Vectors))
	}
	for _, v := range f.Vectors {
		t.Run(fmt.Sprintf("tcId=%d", v.TCID), func(t *testing.T) {
			k, err := NewEdDSAPrivateKey(v.SecretKey)
			if err != nil {
				t.Fatal(err)
			}
			pub := k.Public()
			if b := pub.Bytes(); !bytes.Equal(b[:], v.PublicKey) {
				t.Errorf("%s: public = %x, want %x", v.Comment, b, []byte(v.PublicKey))
			}
			ctx := string(v.Context)
			sig := eddsaSign(k.priv, v.Message, ctx)
			if !bytes.Equal(sig[:], v.Signature) {
				t.Errorf("%s: signature = %x, want %x", v.Comment, sig, []byte(v.Signature))
			}
			if ctx == "" {
				if s := k.Sign(v.Message); s != sig {
					t.Errorf("Sign differs from the empty-context signature")
				}
			}
			p := v4MustPoint(t, v.PublicKey)
			if !eddsaVerify(p, v.Message, v.Signature, ctx) {
				t.Errorf("%s: verify = false", v.Comment)
			}
			if got, want := VerifyEdDSA(p, v.Message, v.Signature), ctx == ""; got != want {
				t.Errorf("%s: VerifyEdDSA (empty context) = %v, want %v", v.Comment, got, want)
			}
		})
	}
}

// TestEdDSAVectors runs ed448.json's rfc8032 and eddsa cases from otr4j.
func ed448JSONEdDSA(t *testing.T) {
	f := v4LoadEd448(t)
	for i, v := range f.RFC8032 {
		t.Run(fmt.Sprintf("rfc8032/%d", i), func(t *testing.T) {
			if !v.Matches {
				t.Fatalf("%s: otr4j did not match the RFC", v.Comment)
			}
			k, err := NewEdDSAPrivateKey(v.SecretKey)
			if err != nil {
				t.Fatal(err)
			}
			v4CheckEdDSAKey(t, k, v.PublicKey, v.SecretScalar)
			if sig := k.Sign(v.Message); !bytes.Equal(sig[:], v.Signature) {
				t.Errorf("Sign = %x, want %x", sig, []byte(v.Signature))
			}
			if !VerifyEdDSA(v4MustPoint(t, v.PublicKey), v.Message, v.Signature) {
				t.Errorf("VerifyEdDSA = false")
			}
		})
	}
	for i, v := range f.EdDSA {
		t.Run(fmt.Sprintf("eddsa/%d", i), func(t *testing.T) {
			k, err := NewEdDSAPrivateKey(v.SecretKey)
			if err != nil {
				t.Fatal(err)
			}
			v4CheckEdDSAKey(t, k, v.PublicKey, v.SecretScalar)
			if sig := k.Sign(v.Message); !bytes.Equal(sig[:], v.Signature) {
				t.Errorf("Sign = %x, want %x", sig, []byte(v.Signature))
			}
			pub := v4MustPoint(t, v.PublicKey)
			for j, c := range v.VerifyCases {
				if got := VerifyEdDSA(pub, c.Message, c.Signature); got != c.Valid {
					t.Errorf("case %d (%s): VerifyEdDSA = %v, want %v", j, c.Comment, got, c.Valid)
				}
			}
		})
	}
}

func v4CheckEdDSAKey(t *testing.T, k *EdDSAPrivateKey, pub, scalar []byte) {
	t.Helper()
	p := k.Public()
	if b := p.Bytes(); !bytes.Equal(b[:], pub) {
		t.Errorf("public = %x, want %x", b, pub)
	}
	s := k.SecretScalar()
	if b := s.Bytes(); !bytes.Equal(b[:], scalar) {
		t.Errorf("secret scalar = %x, want %x", b, scalar)
	}
}

func TestEdDSAKey(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{3})
	k, err := GenerateEdDSAKey(rng)
	if err != nil {
		t.Fatal(err)
	}
	seed := k.Seed()
	k2, err := NewEdDSAPrivateKey(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	p1, p2 := k.Public(), k2.Public()
	if !p1.Equal(&p2) {
		t.Errorf("key from Seed() differs")
	}
	msg := []byte("hello")
	sig := k.Sign(msg)
	if !VerifyEdDSA(&p1, msg, sig[:]) {
		t.Errorf("VerifyEdDSA = false")
	}
	for _, bad := range [][]byte{nil, sig[:113], append(sig[:], 0)} {
		if VerifyEdDSA(&p1, msg, bad) {
			t.Errorf("VerifyEdDSA(%d-byte signature) = true", len(bad))
		}
	}
	if VerifyEdDSA(&Point{}, msg, sig[:]) {
		t.Errorf("VerifyEdDSA(identity) = true")
	}
	if _, err := NewEdDSAPrivateKey(seed[:56]); err == nil {
		t.Errorf("NewEdDSAPrivateKey(56 bytes): no error")
	}
	if _, err := GenerateEdDSAKey(bytes.NewReader(nil)); err == nil {
		t.Errorf("GenerateEdDSAKey(empty reader): no error")
	}
	k.Wipe()
	if s := k.Seed(); s != ([57]byte{}) || !k.s.IsZero() {
		t.Errorf("Wipe left secrets")
	}
}
