package otr_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/otrgo/otr"
	otrencoding "github.com/otrgo/otr/encoding"
	"golang.org/x/crypto/cryptobyte"
)

// Key file formats (keys.go): format 2, written by earlier versions, holds
// the DSA key and the two OTRv4 seeds; format 3 adds the OTRv4 public keys
// and a SHA-256 checksum.

const (
	keyFileMagicV2 = "otrgo-keys-v2\x00"
	keyFileMagicV3 = "otrgo-keys-v3\x00"
)

// keyFileFormat2 was written by MarshalBinary of commit 6d1ca1e (before
// format 3) for GenerateKeys(ChaCha8("format2")); that code showed the
// fingerprints below.
const (
	keyFileFormat2 = "" +
		"6f7472676f2d6b6579732d763200000001bc00000080dbd2f44e468459a8499ea90f63335743563a0f7c77cdf5c9ef44" +
		"c91a06ad24ad91fe50819b5ff690e0ad6bf1edb4b9c3584712c9ee34e559c643b6d17f7997c94965508473f6e07e1bd9" +
		"6860441f4728981c58c6b9c12d861ee42b67ef3bbbbc3733bad72f3a15e81cf4fd5ba4c87fc164c0721ab7dd8e3e1047" +
		"11bb4a2acd5700000014f5f87a97222e5781e7dcb957ce3dfaa0f839020d000000800dfb0bae97ade6a4e8f9538be3f5" +
		"e24264c391dd1561eccc24f1ef4b853034e11805901bcb4d87863371dbb60b6b49693ba212b772d8ac66434f00a4628c" +
		"cff8e0104707c2b767b7b00199ffc1989dbc2393b17a099bd67e25e21799e613c5aa3bd6c363fb375bb1d92d2ae9cefb" +
		"cb31ad86d0573bb0a14256bb8dab42cd175300000080b729c080ab7e262e445b4eb6c77e47de430aba7fe31a9b86fe24" +
		"fb4dfe592154123586c61f23ea9aac87dba3b6b3bf6c4f2a930bb11634a05e42f8ecf69738c7ce066107b02b91093f36" +
		"ddadfc60e9c972b1997d8e337fc6c2ace3d8f1233f918c360aa3f6390bf2bb6b4f2d3a5d667cdf9aa61fdc2c019f1e2e" +
		"d74ef309db10000000146171a19e96b235305441a0c6798bc7f37bbb29c900000039ce5694408e7fc1ce883669af3652" +
		"4e51d61fc87831b6924ad678a31deaddb0a3c0191875bd5be1183407cac99ec7ca8924a4f26a34ee8c788f00000039f4" +
		"76795d352e936928a6b9ab6dd79c4aacf392ab1fb044c28b8c40e0312269174919b0198c62e104872617464673dd4bbd" +
		"bfd06c8bdda499ab"
	keyFileFormat2FP3 = "A6734CA7 3C3636F3 C500B6B1 E68733C0 39CEBEE4"
	keyFileFormat2FP4 = "794D4D2E4C40F82328DC458BAA0167343EA4E702585156884C48F2E62F9BB1FFC7F3C4CE3ECD91DB8BBE7C05DB4ACE5C56EB758E7EA34346"
)

// keyFileParts splits a format 3 file into its five DATA fields.
func keyFileParts(t testing.TB, b []byte) [5][]byte {
	t.Helper()
	if !bytes.HasPrefix(b, []byte(keyFileMagicV3)) || len(b) < len(keyFileMagicV3)+sha256.Size {
		t.Fatalf("MarshalBinary() = %q..., want the format 3 magic", b[:min(len(b), 14)])
	}
	s := cryptobyte.String(b[len(keyFileMagicV3) : len(b)-sha256.Size])
	var parts [5][]byte
	for i := range parts {
		if !otrencoding.ReadData(&s, &parts[i]) {
			t.Fatalf("format 3 file: field %d unreadable", i)
		}
	}
	if !s.Empty() {
		t.Fatal("format 3 file: trailing bytes")
	}
	return parts
}

// keyFile builds a key file: the magic, the fields as DATA, and for format
// 3 a correct checksum.
func keyFile(magic string, fields ...[]byte) []byte {
	b := cryptobyte.NewBuilder([]byte(magic))
	for _, f := range fields {
		otrencoding.AddData(b, f)
	}
	out := b.BytesOrPanic()
	if magic == keyFileMagicV3 {
		sum := sha256.Sum256(out)
		out = append(out, sum[:]...)
	}
	return out
}

// keysWithoutDSA returns a copy of k without its DSA key (OTRv4-only keys,
// which no exported function makes): k's key file with the DSA field
// emptied.
func keysWithoutDSA(t testing.TB, k *otr.PrivateKeys) *otr.PrivateKeys {
	t.Helper()
	p := keyFileParts(t, mustMarshal(t, k))
	v4, err := otr.ParsePrivateKeys(keyFile(keyFileMagicV3, nil, p[1], p[2], p[3], p[4]))
	if err != nil {
		t.Fatalf("ParsePrivateKeys(OTRv4 only) error = %v", err)
	}
	return v4
}

// keyFileVariants returns format 3 files of keys with both versions' keys,
// with the DSA key only and with the OTRv4 keys only.
func keyFileVariants(t *testing.T) map[string][]byte {
	t.Helper()
	both, err := keys(t, 0).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	dsaOnly, err := dsaOnlyKeys(t, 0).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"DSA and OTRv4": both,
		"DSA only":      dsaOnly,
		"OTRv4 only":    mustMarshal(t, keysWithoutDSA(t, keys(t, 0))),
	}
}

// TestKeyFileBitFlips flips every bit of format 3 key files, one at a
// time: each corrupted file is refused, as corrupted, with no keys. (Format
// 2 accepted 912 of the 4672 flips of such a file, every bit of the two
// OTRv4 seeds, each giving another OTRv4 fingerprint.)
func TestKeyFileBitFlips(t *testing.T) {
	for name, file := range keyFileVariants(t) {
		t.Run(name, func(t *testing.T) {
			if k, err := otr.ParsePrivateKeys(file); err != nil || k == nil {
				t.Fatalf("ParsePrivateKeys(intact) = %v, %v", k, err)
			}
			for bit := range 8 * len(file) {
				c := bytes.Clone(file)
				c[bit/8] ^= 1 << (bit % 8)
				k, err := otr.ParsePrivateKeys(c)
				if err == nil || k != nil {
					t.Errorf("ParsePrivateKeys(bit %d of byte %d flipped) = %v, %v, want an error", bit%8, bit/8, k, err)
					continue
				}
				if bit/8 >= len(keyFileMagicV3) && !strings.Contains(err.Error(), "corrupted") {
					t.Errorf("ParsePrivateKeys(bit %d of byte %d flipped) error = %q, want it to say corrupted", bit%8, bit/8, err)
				}
			}
		})
	}
}

// TestKeyFileTruncated: every strict prefix of a format 3 file is refused.
func TestKeyFileTruncated(t *testing.T) {
	for name, file := range keyFileVariants(t) {
		t.Run(name, func(t *testing.T) {
			for n := range len(file) {
				if k, err := otr.ParsePrivateKeys(file[:n]); err == nil || k != nil {
					t.Errorf("ParsePrivateKeys(first %d of %d bytes) = %v, %v, want an error", n, len(file), k, err)
				}
			}
			if k, err := otr.ParsePrivateKeys(append(bytes.Clone(file), 0)); err == nil || k != nil {
				t.Errorf("ParsePrivateKeys(file and a zero byte) = %v, %v, want an error", k, err)
			}
		})
	}
}

// TestKeyFileRoundTrip: parse then marshal gives the same bytes, and the
// same fingerprints.
func TestKeyFileRoundTrip(t *testing.T) {
	for name, file := range keyFileVariants(t) {
		t.Run(name, func(t *testing.T) {
			k, err := otr.ParsePrivateKeys(file)
			if err != nil {
				t.Fatalf("ParsePrivateKeys() error = %v", err)
			}
			again, err := k.MarshalBinary()
			if err != nil || !bytes.Equal(again, file) {
				t.Errorf("MarshalBinary(ParsePrivateKeys(file)) = %x, %v, want the file %x", again, err, file)
			}
		})
	}
}

// TestKeyFileInconsistent: a format 3 file whose stored public key is not
// its seed's is refused even with a correct checksum, as are fields of the
// wrong sizes or a public key without its seed.
func TestKeyFileInconsistent(t *testing.T) {
	both, err := keys(t, 0).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	p := keyFileParts(t, both)
	q := keyFileParts(t, mustMarshal(t, keys(t, 1)))
	tests := []struct {
		name   string
		fields [][]byte
		want   string
	}{
		{"identity key of other keys", [][]byte{p[0], p[1], q[2], p[3], p[4]}, "does not match"},
		{"forging key of other keys", [][]byte{p[0], p[1], p[2], p[3], q[4]}, "does not match"},
		{"public keys swapped", [][]byte{p[0], p[1], p[4], p[3], p[2]}, "does not match"},
		{"public keys without seeds", [][]byte{p[0], nil, p[2], nil, p[4]}, "malformed"},
		{"no public keys", [][]byte{p[0], p[1], nil, p[3], nil}, "does not match"},
		{"one seed", [][]byte{p[0], p[1], p[2], nil, nil}, "parsing keys"},
		{"short seed", [][]byte{p[0], p[1][:56], p[2], p[3], p[4]}, "parsing keys"},
		{"no key", [][]byte{nil, nil, nil, nil, nil}, "no key"},
		{"four fields", [][]byte{p[0], p[1], p[2], p[3]}, "malformed"},
		{"six fields", [][]byte{p[0], p[1], p[2], p[3], p[4], nil}, "malformed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := otr.ParsePrivateKeys(keyFile(keyFileMagicV3, tc.fields...))
			if err == nil || k != nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParsePrivateKeys() = %v, %v, want an error saying %q", k, err, tc.want)
			}
		})
	}
}

func mustMarshal(t testing.TB, k *otr.PrivateKeys) []byte {
	t.Helper()
	b, err := k.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestKeyFileFormat2 loads a file the previous code wrote, with the
// fingerprints it showed, and rewrites it as format 3 with the same keys.
func TestKeyFileFormat2(t *testing.T) {
	file, err := hex.DecodeString(keyFileFormat2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(file, []byte(keyFileMagicV2)) {
		t.Fatal("keyFileFormat2 is not format 2")
	}
	k, err := otr.ParsePrivateKeys(file)
	if err != nil {
		t.Fatalf("ParsePrivateKeys(format 2) error = %v", err)
	}
	if got := k.Fingerprint().String(); got != keyFileFormat2FP3 {
		t.Errorf("Fingerprint() = %s, want %s", got, keyFileFormat2FP3)
	}
	if got := k.Fingerprint4().String(); got != keyFileFormat2FP4 {
		t.Errorf("Fingerprint4() = %s, want %s", got, keyFileFormat2FP4)
	}
	v3 := mustMarshal(t, k)
	if !bytes.HasPrefix(v3, []byte(keyFileMagicV3)) {
		t.Fatalf("MarshalBinary() = %q..., want format 3", v3[:14])
	}
	again, err := otr.ParsePrivateKeys(v3)
	if err != nil {
		t.Fatalf("ParsePrivateKeys(rewritten) error = %v", err)
	}
	if !bytes.Equal(again.Fingerprint(), k.Fingerprint()) || !bytes.Equal(again.Fingerprint4(), k.Fingerprint4()) {
		t.Errorf("rewritten as format 3: fingerprints %s, %s, want %s, %s",
			again.Fingerprint(), again.Fingerprint4(), k.Fingerprint(), k.Fingerprint4())
	}
	// Strict as before: every strict prefix and a trailing byte refused.
	for n := range len(file) {
		if k, err := otr.ParsePrivateKeys(file[:n]); err == nil || k != nil {
			t.Errorf("ParsePrivateKeys(first %d of %d bytes of format 2) = %v, %v, want an error", n, len(file), k, err)
		}
	}
	if k, err := otr.ParsePrivateKeys(append(bytes.Clone(file), 0)); err == nil || k != nil {
		t.Errorf("ParsePrivateKeys(format 2 and a zero byte) = %v, %v, want an error", k, err)
	}
}

// TestKeyFileFormat2Unchecked pins the limit documented on
// ParsePrivateKeys: format 2 has no checksum, so a flipped bit in an OTRv4
// seed loads as other keys. Files are safe from it once rewritten as
// format 3.
func TestKeyFileFormat2Unchecked(t *testing.T) {
	file, err := hex.DecodeString(keyFileFormat2)
	if err != nil {
		t.Fatal(err)
	}
	file[len(file)-1] ^= 1 // the last byte of the forging seed
	k, err := otr.ParsePrivateKeys(file)
	if err != nil {
		t.Fatalf("ParsePrivateKeys(format 2, seed bit flipped) error = %v; if format 2 is now checked, update the docs", err)
	}
	if k.Fingerprint4().String() == keyFileFormat2FP4 {
		t.Error("a flipped seed bit kept the OTRv4 fingerprint")
	}
}

func FuzzParsePrivateKeys(f *testing.F) {
	v2, err := hex.DecodeString(keyFileFormat2)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v2)
	k, err := otr.ParsePrivateKeys(v2)
	if err != nil {
		f.Fatal(err)
	}
	v3 := mustMarshal(f, k)
	f.Add(v3)
	p := keyFileParts(f, v3)
	f.Add(keyFile(keyFileMagicV3, nil, p[1], p[2], p[3], p[4]))
	f.Add(keyFile(keyFileMagicV2, nil, p[1], p[3]))
	f.Add(keyFile(keyFileMagicV3, p[0], p[1], p[4], p[3], p[2]))
	f.Fuzz(func(t *testing.T, in []byte) {
		k, err := otr.ParsePrivateKeys(in)
		if err != nil {
			if k != nil {
				t.Fatalf("ParsePrivateKeys() = %v and error %v", k, err)
			}
			return
		}
		out := mustMarshal(t, k)
		if bytes.HasPrefix(in, []byte(keyFileMagicV3)) && !bytes.Equal(out, in) {
			t.Fatalf("MarshalBinary(ParsePrivateKeys(%x)) = %x, want the input", in, out)
		}
		again, err := otr.ParsePrivateKeys(out)
		if err != nil {
			t.Fatalf("ParsePrivateKeys(MarshalBinary()) error = %v", err)
		}
		if !bytes.Equal(again.Fingerprint(), k.Fingerprint()) || !bytes.Equal(again.Fingerprint4(), k.Fingerprint4()) {
			t.Fatal("fingerprints changed in a marshal and parse")
		}
	})
}
