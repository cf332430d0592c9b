package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"hash"
)

// MACSHA1 is HMAC-SHA1 keyed once and reused for many messages: OTR3 data
// messages of one key pair all use the same MAC key, and keying HMAC costs
// more than MACing a short message. Not safe for concurrent use.
type MACSHA1 struct{ h hash.Hash }

// NewMACSHA1 keys HMAC-SHA1 with key.
func NewMACSHA1(key []byte) *MACSHA1 { return &MACSHA1{hmac.New(sha1.New, key)} }

// Sum returns the MAC of the concatenation of parts.
func (m *MACSHA1) Sum(parts ...[]byte) [20]byte {
	m.h.Reset()
	for _, p := range parts {
		m.h.Write(p)
	}
	var out [20]byte
	m.h.Sum(out[:0])
	return out
}

// AES128 is an AES-128 key schedule reused for many OTR3 data messages.
type AES128 struct{ b cipher.Block }

// NewAES128 expands a 16-byte key.
func NewAES128(key []byte) *AES128 {
	if len(key) != 16 {
		panic("otr: internal error: AES-128 key is not 16 bytes")
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		panic("otr: internal error: " + err.Error())
	}
	return &AES128{b}
}

// CTR runs AES-128 in counter mode from the counter block top8||0^8 over
// src into dst (which may be src itself).
func (a *AES128) CTR(top8 [8]byte, dst, src []byte) {
	var iv [aes.BlockSize]byte
	copy(iv[:8], top8[:])
	cipher.NewCTR(a.b, iv[:]).XORKeyStream(dst, src)
}
