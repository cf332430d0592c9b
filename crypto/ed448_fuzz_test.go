package crypto

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/otrgo/otr/internal/vectors"
)

func v4FuzzHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzParsePoint: no panic; an accepted point re-encodes to its input and
// lies in the prime-order subgroup.
func FuzzParsePoint(f *testing.F) {
	g := NewGeneratorPoint().Bytes()
	f.Add(g[:])
	f.Add(make([]byte, 57))
	f.Add(v4FuzzHex("030000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"))
	f.Add(v4FuzzHex("fefffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffffffffffffffffffffffffffffffffffffffffffffffffff00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePoint(b)
		if err != nil {
			return
		}
		enc := p.Bytes()
		if !bytes.Equal(enc[:], b) {
			t.Fatalf("ParsePoint(%x) re-encodes as %x", b, enc)
		}
		if p.IsIdentity() || !ed448InPrimeOrderSubgroup(p.inner()) {
			t.Fatalf("ParsePoint(%x) accepted a point outside the subgroup", b)
		}
	})
}

// FuzzParseScalar: no panic; an accepted scalar is nonzero, below q and
// re-encodes to its input.
func FuzzParseScalar(f *testing.F) {
	f.Add(make([]byte, 57))
	f.Add(ed448Q[:])
	f.Add(append([]byte{1}, make([]byte, 56)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseScalar(b)
		if err != nil {
			return
		}
		enc := s.Bytes()
		if !bytes.Equal(enc[:], b) || s.IsZero() {
			t.Fatalf("ParseScalar(%x) = %x", b, enc)
		}
		if r := new(Scalar).SetBytesModQ(b); !r.Equal(&s) {
			t.Fatalf("ParseScalar(%x) is not reduced", b)
		}
	})
}

// FuzzRingVerify: no panic on arbitrary ring members, signature and message.
func FuzzRingVerify(f *testing.F) {
	var file ringsigVectorFile
	vectors.Load(f, "otrv4/ringsig.json", &file)
	for _, v := range file.Vectors {
		for _, c := range v.VerifyCases {
			ring := bytes.Join([][]byte{c.A1, c.A2, c.A3}, nil)
			f.Add(ring, []byte(c.Sigma), []byte(c.Message))
		}
	}
	f.Fuzz(func(t *testing.T, ring, sigma, m []byte) {
		if len(ring) < 3*PointSize {
			return
		}
		_, _ = v4RingVerifyBytes(ring[:57], ring[57:114], ring[114:171], sigma, m)
	})
}
