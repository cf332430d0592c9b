package crypto

import (
	"bytes"
	"fmt"
	"testing"

	"golang.org/x/crypto/chacha20"

	"github.com/otrgo/otr/internal/vectors"
)

// kdfVectorFile is the layout of testdata/vectors/otrv4/kdf.json.
type kdfVectorFile struct {
	KDF []struct {
		Comment   string        `json:"comment"`
		UsageName string        `json:"usage_name"`
		UsageID   int           `json:"usage_id"`
		Inputs    []vectors.Hex `json:"inputs"`
		OutputLen int           `json:"output_len"`
		Output    vectors.Hex   `json:"output"`
	} `json:"kdf"`
	HashToScalar []struct {
		Comment   string      `json:"comment"`
		UsageName string      `json:"usage_name"`
		UsageID   int         `json:"usage_id"`
		Input     vectors.Hex `json:"input"`
		H         vectors.Hex `json:"h"`
		Scalar    vectors.Hex `json:"scalar"`
	} `json:"hash_to_scalar"`
	Fingerprint []struct {
		Comment     string      `json:"comment"`
		Identity    vectors.Hex `json:"identity_public_key"`
		Forging     vectors.Hex `json:"forging_public_key"`
		Fingerprint vectors.Hex `json:"fingerprint"`
	} `json:"fingerprint"`
	ExtraSymmetricKey []struct {
		Comment string      `json:"comment"`
		Index   int         `json:"index"`
		Context vectors.Hex `json:"context"`
		Key     vectors.Hex `json:"extra_symmetric_key"`
		Derived vectors.Hex `json:"derived_key"`
	} `json:"extra_symmetric_key_derivation"`
	ChaCha20 []struct {
		Comment    string      `json:"comment"`
		MKEnc      vectors.Hex `json:"mk_enc"`
		KeyUsed    vectors.Hex `json:"key_used"`
		Nonce      vectors.Hex `json:"nonce"`
		Plaintext  vectors.Hex `json:"plaintext"`
		Ciphertext vectors.Hex `json:"ciphertext"`
	} `json:"chacha20"`
	RandomValueInZq []struct {
		Comment     string      `json:"comment"`
		RandomBytes vectors.Hex `json:"random_bytes"`
		Shake       vectors.Hex `json:"shake256_57"`
		Scalar      vectors.Hex `json:"scalar"`
	} `json:"random_value_in_zq"`
}

func v4LoadKDF(t *testing.T) *kdfVectorFile {
	t.Helper()
	var f kdfVectorFile
	vectors.Load(t, "otrv4/kdf.json", &f)
	return &f
}

// TestKDFVectors runs kdf.json: KDF for every usage ID, HashToScalar,
// fingerprints, otr4j's extra-symmetric-key derivation (the KDF with the
// index as usage byte), the random-scalar derivation, and (as a check of
// the recorded layout for the data-message layer) ChaCha20 with a zero nonce.
func TestKDFVectors(t *testing.T) {
	f := v4LoadKDF(t)
	for i, v := range f.KDF {
		t.Run(fmt.Sprintf("kdf/%d_%s", i, v.UsageName), func(t *testing.T) {
			got := make([]byte, v.OutputLen)
			ins := make([][]byte, len(v.Inputs))
			for j, in := range v.Inputs {
				ins[j] = in
			}
			KDF(got, KDFUsage(v.UsageID), ins...)
			if !bytes.Equal(got, v.Output) {
				t.Errorf("%s: KDF = %x, want %x", v.Comment, got, []byte(v.Output))
			}
		})
	}
	for i, v := range f.HashToScalar {
		t.Run(fmt.Sprintf("hash_to_scalar/%d_%s", i, v.UsageName), func(t *testing.T) {
			h := make([]byte, 57)
			KDF(h, KDFUsage(v.UsageID), v.Input)
			if !bytes.Equal(h, v.H) {
				t.Errorf("HWC = %x, want %x", h, []byte(v.H))
			}
			s := HashToScalar(KDFUsage(v.UsageID), v.Input)
			if b := s.Bytes(); !bytes.Equal(b[:], v.Scalar) {
				t.Errorf("HashToScalar = %x, want %x", b, []byte(v.Scalar))
			}
		})
	}
	for i, v := range f.Fingerprint {
		t.Run(fmt.Sprintf("fingerprint/%d", i), func(t *testing.T) {
			fp := NewFingerprint4(v4MustPoint(t, v.Identity), v4MustPoint(t, v.Forging))
			if !bytes.Equal(fp[:], v.Fingerprint) {
				t.Errorf("NewFingerprint4 = %x, want %x", fp, []byte(v.Fingerprint))
			}
		})
	}
	for i, v := range f.ExtraSymmetricKey {
		t.Run(fmt.Sprintf("extra_symmetric_key/%d", i), func(t *testing.T) {
			got := make([]byte, 64)
			KDF(got, KDFUsage(v.Index), v.Context, v.Key)
			if !bytes.Equal(got, v.Derived) {
				t.Errorf("derived = %x, want %x", got, []byte(v.Derived))
			}
		})
	}
	for i, v := range f.ChaCha20 {
		t.Run(fmt.Sprintf("chacha20/%d", i), func(t *testing.T) {
			if !bytes.Equal(v.KeyUsed, v.MKEnc[:32]) || !bytes.Equal(v.Nonce, make([]byte, 12)) {
				t.Fatalf("key is not MKenc[0:32] or nonce not zero")
			}
			c, err := chacha20.NewUnauthenticatedCipher(v.KeyUsed, v.Nonce)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(v.Plaintext))
			c.XORKeyStream(got, v.Plaintext)
			if !bytes.Equal(got, v.Ciphertext) {
				t.Errorf("ciphertext = %x, want %x", got, []byte(v.Ciphertext))
			}
		})
	}
	for i, v := range f.RandomValueInZq {
		t.Run(fmt.Sprintf("random_value_in_zq/%d", i), func(t *testing.T) {
			var r [57]byte
			copy(r[:], v.RandomBytes)
			s := ed448ScalarFromRandom(&r)
			if b := s.Bytes(); !bytes.Equal(b[:], v.Scalar) {
				t.Errorf("scalar = %x, want %x", b, []byte(v.Scalar))
			}
			h := make([]byte, 57)
			ed448Shake(h, v.RandomBytes)
			if !bytes.Equal(h, v.Shake) {
				t.Errorf("SHAKE-256(r, 57) = %x, want %x", h, []byte(v.Shake))
			}
		})
	}
}

func TestKDFUsageIDs(t *testing.T) {
	// The spec's list is contiguous from 0x00 to 0x1A.
	ids := []KDFUsage{UsageFingerprint, UsageThirdBraceKey, UsageBraceKey, UsageSharedSecret,
		UsageSSID, UsageAuthRBobClientProfile, UsageAuthRAliceClientProfile, UsageAuthRPhi,
		UsageAuthIBobClientProfile, UsageAuthIAliceClientProfile, UsageAuthIPhi, UsageFirstRootKey,
		UsageTmpKey, UsageAuthMACKey, UsageNonIntAuthBobClientProfile, UsageNonIntAuthAliceClientProfile,
		UsageNonIntAuthPhi, UsageAuthMAC, UsageRootKey, UsageChainKey, UsageNextChainKey,
		UsageMessageKey, UsageMACKey, UsageExtraSymmKey, UsageAuthenticator, UsageSMPSecret, UsageAuth}
	for i, id := range ids {
		if int(id) != i {
			t.Errorf("usage #%d = %#x", i, byte(id))
		}
	}
}
