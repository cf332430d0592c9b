package crypto

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/otrgo/otr/internal/vectors"
)

// TestEd448SMPVectors checks that this package's primitives reproduce the
// values of smp.json that are pure Ed448 arithmetic: fingerprints, the
// secret derivation (64-byte KDF output reduced mod q, not pruned:
// docs/interop.md, "Double ratchet"), the random scalars, and SMP message
// 1 (G2a = G*a2, c2 = HashToScalar(0x01 || G*r2), d2 = r2 - a2*c2, and the
// same for G3a with 0x02). The SMP state machine itself lives elsewhere.
func TestEd448SMPVectors(t *testing.T) {
	var f struct {
		Vectors []struct {
			Comment          string      `json:"comment"`
			AliceIdentity    vectors.Hex `json:"alice_identity_public_key"`
			AliceForging     vectors.Hex `json:"alice_forging_public_key"`
			AliceFingerprint vectors.Hex `json:"alice_fingerprint"`
			AliceSecretInput vectors.Hex `json:"alice_secret_input"`
			AliceSecretHash  vectors.Hex `json:"alice_secret_hash"`
			X                vectors.Hex `json:"x"`
			Messages         []struct {
				TLVType       int                    `json:"tlv_type"`
				Fields        map[string]any         `json:"fields"`
				RandomDraws   []vectors.Hex          `json:"random_draws"`
				RandomScalars map[string]vectors.Hex `json:"random_scalars"`
			} `json:"messages"`
		} `json:"vectors"`
	}
	vectors.Load(t, "otrv4/smp.json", &f)
	for i, v := range f.Vectors {
		t.Run(fmt.Sprintf("%d", i), func(t *testing.T) {
			fp := NewFingerprint4(v4MustPoint(t, v.AliceIdentity), v4MustPoint(t, v.AliceForging))
			if !bytes.Equal(fp[:], v.AliceFingerprint) {
				t.Errorf("fingerprint = %x, want %x", fp, []byte(v.AliceFingerprint))
			}
			h := make([]byte, 64)
			KDF(h, UsageSMPSecret, v.AliceSecretInput)
			if !bytes.Equal(h, v.AliceSecretHash) {
				t.Errorf("secret hash = %x, want %x", h, []byte(v.AliceSecretHash))
			}
			if x := new(Scalar).SetBytesModQ(h).Bytes(); !bytes.Equal(x[:], v.X) {
				t.Errorf("x = %x, want %x", x, []byte(v.X))
			}
			m := v.Messages[0]
			if m.TLVType != 2 {
				t.Fatalf("first message has TLV type %d", m.TLVType)
			}
			names := []string{"a2", "a3", "r2", "r3"}
			sc := map[string]*Scalar{}
			for j, name := range names {
				var r [57]byte
				copy(r[:], m.RandomDraws[j])
				s := ed448ScalarFromRandom(&r)
				if b := s.Bytes(); !bytes.Equal(b[:], m.RandomScalars[name]) {
					t.Errorf("%s = %x, want %x", name, b, []byte(m.RandomScalars[name]))
				}
				sc[name] = &s
			}
			field := func(name string) []byte {
				s, _ := m.Fields[name].(string)
				var hx vectors.Hex
				if err := hx.UnmarshalJSON([]byte(`"` + s + `"`)); err != nil {
					t.Fatal(err)
				}
				return hx
			}
			for k, c := range []struct {
				a, r, G, c, d string
			}{{"a2", "r2", "g2a", "c2", "d2"}, {"a3", "r3", "g3a", "c3", "d3"}} {
				var Ga, Gr Point
				Ga.ScalarBaseMult(sc[c.a])
				if b := Ga.Bytes(); !bytes.Equal(b[:], field(c.G)) {
					t.Errorf("%s = %x, want %x", c.G, b, field(c.G))
				}
				Gr.ScalarBaseMult(sc[c.r])
				gr := Gr.Bytes()
				ch := HashToScalar(KDFUsage(k+1), gr[:])
				if b := ch.Bytes(); !bytes.Equal(b[:], field(c.c)) {
					t.Errorf("%s = %x, want %x", c.c, b, field(c.c))
				}
				var d Scalar
				d.Multiply(sc[c.a], &ch)
				d.Subtract(sc[c.r], &d)
				if b := d.Bytes(); !bytes.Equal(b[:], field(c.d)) {
					t.Errorf("%s = %x, want %x", c.d, b, field(c.d))
				}
			}
		})
	}
}
