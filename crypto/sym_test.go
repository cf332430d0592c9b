package crypto

import (
	"bytes"
	"crypto/aes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"testing"
)

func TestAESCTR(t *testing.T) {
	key := bytes.Repeat([]byte{0x11}, 16)
	top := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	src := bytes.Repeat([]byte("0123456789abcdef"), 3)[:40]
	dst := make([]byte, len(src))
	AESCTR(key, top, dst, src)

	// The keystream is AES(top8 || 0^8), AES(top8 || 0^7 01), ...
	block, _ := aes.NewCipher(key)
	var want []byte
	for i := range 3 {
		var ctr, ks [16]byte
		copy(ctr[:], top[:])
		ctr[15] = byte(i)
		block.Encrypt(ks[:], ctr[:])
		want = append(want, ks[:]...)
	}
	for i := range want[:len(src)] {
		want[i] ^= src[i]
	}
	if !bytes.Equal(dst, want[:len(src)]) {
		t.Errorf("AESCTR = %x, want %x", dst, want[:len(src)])
	}
	AESCTR(key, top, dst, dst) // in place
	if !bytes.Equal(dst, src) {
		t.Error("decryption in place failed")
	}
}

func TestAESCTRBadKeyPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for a 15-byte key")
		}
	}()
	AESCTR(make([]byte, 15), [8]byte{}, nil, nil)
}

func TestHashes(t *testing.T) {
	key := []byte("key")
	parts := [][]byte{[]byte("ab"), nil, []byte("cd")}
	joined := []byte("abcd")
	m := hmac.New(sha256.New, key)
	m.Write(joined)
	if got := HMACSHA256(key, parts...); !bytes.Equal(got[:], m.Sum(nil)) {
		t.Error("HMACSHA256 mismatch")
	}
	m = hmac.New(sha1.New, key)
	m.Write(joined)
	if got := HMACSHA1(key, parts...); !bytes.Equal(got[:], m.Sum(nil)) {
		t.Error("HMACSHA1 mismatch")
	}
	if got, want := SHA256(parts...), sha256.Sum256(joined); got != want {
		t.Error("SHA256 mismatch")
	}
	if got, want := SHA1(parts...), sha1.Sum(joined); got != want {
		t.Error("SHA1 mismatch")
	}
}

func TestEqual(t *testing.T) {
	tests := []struct {
		a, b []byte
		want bool
	}{
		{nil, nil, true},
		{nil, []byte{}, true},
		{[]byte{1}, []byte{1}, true},
		{[]byte{1}, []byte{2}, false},
		{[]byte{1}, []byte{1, 0}, false},
	}
	for _, tc := range tests {
		if got := Equal(tc.a, tc.b); got != tc.want {
			t.Errorf("Equal(%x, %x) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	b := []byte{1, 2}
	Wipe(b)
	if !bytes.Equal(b, []byte{0, 0}) {
		t.Error("Wipe did not clear")
	}
	Wipe(nil)
}
