package otr_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/otrgo/otr"
	otrcrypto "github.com/otrgo/otr/crypto"
	"github.com/otrgo/otr/internal/vectors"
)

// fingerprintVector is one vector of testdata/vectors/fingerprints/display.json.
type fingerprintVector struct {
	TCID        int         `json:"tcId"`
	Comment     string      `json:"comment"`
	Version     int         `json:"version"`
	IdentityKey vectors.Hex `json:"identity_public_key"`
	ForgingKey  vectors.Hex `json:"forging_public_key"`
	Fingerprint vectors.Hex `json:"fingerprint"`
	Display     string      `json:"display"`
}

func loadFingerprintVectors(t *testing.T) []fingerprintVector {
	t.Helper()
	var file struct {
		Vectors []fingerprintVector `json:"vectors"`
	}
	vectors.Load(t, "fingerprints/display.json", &file)
	if len(file.Vectors) == 0 {
		t.Fatal("fingerprints/display.json: no vectors")
	}
	return file.Vectors
}

// TestFingerprintVectors pins each version's display form: libotr's for
// OTR3, otr4j's for OTRv4 (see docs/fingerprints.md).
func TestFingerprintVectors(t *testing.T) {
	for _, v := range loadFingerprintVectors(t) {
		t.Run(fmt.Sprintf("tcId=%d", v.TCID), func(t *testing.T) {
			t.Parallel()
			fp := otr.Fingerprint(v.Fingerprint)
			if v.Version == 4 {
				// The fingerprint is otr4j's for these keys: check that we
				// derive the same bytes before checking how they are shown.
				h, err := otrcrypto.ParsePoint(v.IdentityKey)
				if err != nil {
					t.Fatalf("ParsePoint(identity key) error = %v", err)
				}
				f, err := otrcrypto.ParsePoint(v.ForgingKey)
				if err != nil {
					t.Fatalf("ParsePoint(forging key) error = %v", err)
				}
				if got := otrcrypto.NewFingerprint4(&h, &f); !bytes.Equal(got[:], fp) {
					t.Fatalf("NewFingerprint4 = %x, want %x", got, []byte(fp))
				}
			}
			if got := fp.Version(); got != v.Version {
				t.Errorf("Version() = %d, want %d", got, v.Version)
			}
			if got := fp.String(); got != v.Display {
				t.Errorf("String() = %q, want %q", got, v.Display)
			}
			got, err := otr.ParseFingerprint(v.Display)
			if err != nil || !bytes.Equal(got, fp) {
				t.Errorf("ParseFingerprint(%q) = %x, %v; want %x", v.Display, []byte(got), err, []byte(fp))
			}
		})
	}
}

func TestFingerprintString(t *testing.T) {
	seq := func(n int) otr.Fingerprint {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i * 13)
		}
		return b
	}
	tests := []struct {
		name    string
		fp      otr.Fingerprint
		want    string
		version int
	}{
		{"OTR3", seq(20), "000D1A27 34414E5B 6875828F 9CA9B6C3 D0DDEAF7", 3},
		{"OTRv4", seq(56), "000D1A2734414E5B6875828F9CA9B6C3D0DDEAF704111E2B3845525F6C798693A0ADBAC7D4E1EEFB0815222F3C495663707D8A97A4B1BECB", 4},
		{"nil", nil, "", 0},
		{"other length", seq(21), "000d1a2734414e5b6875828f9ca9b6c3d0ddeaf704", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.fp.String(); got != tc.want {
				t.Errorf("Fingerprint(%x).String() = %q, want %q", []byte(tc.fp), got, tc.want)
			}
			if got := tc.fp.Version(); got != tc.version {
				t.Errorf("Fingerprint(%x).Version() = %d, want %d", []byte(tc.fp), got, tc.version)
			}
		})
	}
}

func decodeFingerprintHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseFingerprint(t *testing.T) {
	const (
		v3 = "4FDEAEEF E1AE6782 2A6A7BC7 3631270F 6C74A6DB"
		v4 = "A08BEE86CA008B91C61C092FC4C3EF280B181F70616375D49EB137B2AFC15FBCDCE1617B2FE3F6D0C68A7BE13F3034F3C7DE98F26939B800"
	)
	v3Bytes := otr.Fingerprint(decodeFingerprintHex(t, "4fdeaeefe1ae67822a6a7bc73631270f6c74a6db"))
	v4Bytes := otr.Fingerprint(decodeFingerprintHex(t, "a08bee86ca008b91c61c092fc4c3ef280b181f70616375d49eb137b2afc15fbcdce1617b2fe3f6d0c68a7be13f3034f3c7de98f26939b800"))
	display := map[int]string{3: v3, 4: v4}
	group := func(s string) string { // v4 in groups of eight, as OTR3 is shown
		var b strings.Builder
		for i := 0; i < len(s); i += 8 {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(s[i : i+8])
		}
		return b.String()
	}
	tests := []struct {
		name    string
		in      string
		want    otr.Fingerprint // nil: an error is wanted
		version int
	}{
		{"OTR3 display form", v3, v3Bytes, 3},
		{"OTR3 lower case", strings.ToLower(v3), v3Bytes, 3},
		{"OTR3 without spaces", strings.ReplaceAll(v3, " ", ""), v3Bytes, 3},
		{"OTR3 surrounding white space", "\t" + v3 + "\n", v3Bytes, 3},
		{"OTRv4 display form", v4, v4Bytes, 4},
		{"OTRv4 lower case", strings.ToLower(v4), v4Bytes, 4},
		{"OTRv4 grouped", group(v4), v4Bytes, 4},

		{"empty", "", nil, 0},
		{"spaces only", "   ", nil, 0},
		{"OTR3 short a digit", v3[:len(v3)-1], nil, 0},
		{"OTR3 long a digit", v3 + "0", nil, 0},
		{"OTR3 long a byte", v3 + "00", nil, 0},
		{"OTRv4 short a byte", v4[:len(v4)-2], nil, 0},
		{"32 bytes", strings.Repeat("AB", 32), nil, 0},
		{"non-hex digit", "G" + v3[1:], nil, 0},
		{"colon separated", strings.ReplaceAll(v3, " ", ":"), nil, 0},
		{"tab inside", strings.Replace(v3, " ", "\t", 1), nil, 0},
		{"non-ASCII", "Ａ" + v3[1:], nil, 0},
		{"0x prefix", "0x" + strings.ReplaceAll(v3, " ", ""), nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := otr.ParseFingerprint(tc.in)
			if tc.want == nil {
				if err == nil {
					t.Errorf("ParseFingerprint(%q) = %x, want an error", tc.in, []byte(got))
				} else if got != nil {
					t.Errorf("ParseFingerprint(%q) = %x with error %v, want nil", tc.in, []byte(got), err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("ParseFingerprint(%q) = %x, %v; want %x", tc.in, []byte(got), err, []byte(tc.want))
			}
			if v := got.Version(); v != tc.version {
				t.Errorf("ParseFingerprint(%q).Version() = %d, want %d", tc.in, v, tc.version)
			}
			// Round trip: String gives back the version's display form.
			if s := got.String(); s != display[tc.version] {
				t.Errorf("ParseFingerprint(%q).String() = %q, want %q", tc.in, s, display[tc.version])
			}
		})
	}
}
