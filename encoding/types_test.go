package encoding

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"testing"

	"golang.org/x/crypto/cryptobyte"
)

func TestReadData(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   string
		rest   string
		wantOK bool
	}{
		{"empty value", "00000000", "", "", true},
		{"three bytes", "00000003abcdef", "abcdef", "", true},
		{"trailing left", "00000001ab01", "ab", "01", true},
		{"short length", "000000", "", "", false},
		{"length past end", "00000004abcdef", "", "", false},
		{"huge length", "ffffffffab", "", "", false},
		{"nothing", "", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, _ := hex.DecodeString(tc.in)
			s := cryptobyte.String(in)
			var got []byte
			ok := ReadData(&s, &got)
			if ok != tc.wantOK {
				t.Fatalf("ReadData(%s) ok = %v, want %v", tc.in, ok, tc.wantOK)
			}
			if !ok {
				return
			}
			if hex.EncodeToString(got) != tc.want || hex.EncodeToString(s) != tc.rest {
				t.Errorf("ReadData(%s) = %x rest %x, want %s rest %s", tc.in, got, []byte(s), tc.want, tc.rest)
			}
			if len(got) > 0 && &got[0] == &in[4] {
				t.Errorf("ReadData result aliases its input")
			}
		})
	}
}

func TestReadMPI(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   string
		wantOK bool
	}{
		{"zero", "00000000", "", true},
		{"one", "0000000101", "01", true},
		{"minimal", "0000000280ff", "80ff", true},
		{"leading zero", "000000020001", "", false},
		{"zero byte", "0000000100", "", false},
		{"truncated", "0000000201", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, _ := hex.DecodeString(tc.in)
			s := cryptobyte.String(in)
			var got []byte
			ok := ReadMPI(&s, &got)
			if ok != tc.wantOK {
				t.Fatalf("ReadMPI(%s) ok = %v, want %v", tc.in, ok, tc.wantOK)
			}
			if ok && hex.EncodeToString(got) != tc.want {
				t.Errorf("ReadMPI(%s) = %x, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestAddMPIStripsLeadingZeros(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "00000000"},
		{"00", "00000000"},
		{"0000", "00000000"},
		{"0001", "0000000101"},
		{"00ff00", "00000002ff00"},
		{"c0", "00000001c0"},
	}
	for _, tc := range tests {
		in, _ := hex.DecodeString(tc.in)
		var b cryptobyte.Builder
		AddMPI(&b, in)
		if got := hex.EncodeToString(b.BytesOrPanic()); got != tc.want {
			t.Errorf("AddMPI(%s) wrote %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestDSAPublicKeyRoundTrip(t *testing.T) {
	r := newRand(1)
	for i := range 50 {
		k := randDSAPublicKey(r)
		enc := k.Bytes()
		s := cryptobyte.String(enc)
		var got DSAPublicKey
		if !ReadDSAPublicKey(&s, &got) || !s.Empty() {
			t.Fatalf("%d: ReadDSAPublicKey(%x) failed", i, enc)
		}
		if !got.Equal(&k) || !bytes.Equal(got.Bytes(), enc) {
			t.Fatalf("%d: ReadDSAPublicKey = %+v, want %+v", i, got, k)
		}
		for n := range len(enc) {
			s := cryptobyte.String(enc[:n])
			if ReadDSAPublicKey(&s, &got) {
				t.Fatalf("%d: ReadDSAPublicKey accepted the %d-byte prefix", i, n)
			}
		}
	}
}

func TestReadDSAPublicKeyRejects(t *testing.T) {
	tests := []struct{ name, in string }{
		{"wrong type", "0001" + "0000000101" + "0000000102" + "0000000103" + "0000000104"},
		{"non-minimal q", "0000" + "0000000101" + "000000020002" + "0000000103" + "0000000104"},
		{"missing y", "0000" + "0000000101" + "0000000102" + "0000000103"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, _ := hex.DecodeString(tc.in)
			s := cryptobyte.String(in)
			k := DSAPublicKey{P: []byte{9}}
			if ReadDSAPublicKey(&s, &k) {
				t.Fatalf("ReadDSAPublicKey(%s) succeeded", tc.in)
			}
			if k.P != nil || k.Q != nil || k.G != nil || k.Y != nil {
				t.Errorf("ReadDSAPublicKey left a partial value %+v", k)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	k := DSAPublicKey{P: []byte{1}, Q: []byte{2}, G: []byte{3}, Y: []byte{4}}
	body, _ := hex.DecodeString("0000000101" + "0000000102" + "0000000103" + "0000000104")
	if got, want := k.Fingerprint(), sha1.Sum(body); got != want {
		t.Errorf("Fingerprint() = %x, want %x", got, want)
	}
}
