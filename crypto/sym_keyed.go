package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/binary"
	"hash"
)

// MACSHA1 is HMAC-SHA1 keyed once and reused for many messages: OTR3 data
// messages of one key pair all use the same MAC key, and keying HMAC costs
// more than MACing a short message. Not safe for concurrent use.
type MACSHA1 struct {
	h   hash.Hash
	buf [sha1.Size]byte // Sum's output, kept here so it does not escape per call
}

// NewMACSHA1 keys HMAC-SHA1 with key.
func NewMACSHA1(key []byte) *MACSHA1 { return &MACSHA1{h: hmac.New(sha1.New, key)} }

// Sum returns the MAC of the concatenation of parts.
func (m *MACSHA1) Sum(parts ...[]byte) [20]byte {
	m.h.Reset()
	for _, p := range parts {
		m.h.Write(p)
	}
	m.h.Sum(m.buf[:0])
	return m.buf
}

// AES128 is an AES-128 key schedule reused for many OTR3 data messages.
// Not safe for concurrent use (it keeps its counter and key-stream blocks).
type AES128 struct {
	b      cipher.Block
	iv, ks [aes.BlockSize]byte // scratch, here so they do not escape per call
}

// NewAES128 expands a 16-byte key.
func NewAES128(key []byte) *AES128 {
	if len(key) != 16 {
		panic("otr: internal error: AES-128 key is not 16 bytes")
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		panic("otr: internal error: " + err.Error())
	}
	return &AES128{b: b}
}

// CTR runs AES-128 in counter mode from the counter block top8||0^8 over
// src into dst (which may be src itself).
func (a *AES128) CTR(top8 [8]byte, dst, src []byte) {
	iv, ks := a.iv[:], a.ks[:]
	clear(iv)
	copy(iv[:8], top8[:])
	if len(src) > smallCTR {
		cipher.NewCTR(a.b, iv).XORKeyStream(dst, src)
		return
	}
	// Short messages: block by block, without the allocations of a
	// cipher.Stream (the low 64 bits of the counter start at zero and a
	// short message cannot carry into the top half).
	for i := 0; i < len(src); i += aes.BlockSize {
		binary.BigEndian.PutUint64(iv[8:], uint64(i/aes.BlockSize))
		a.b.Encrypt(ks, iv)
		subtle.XORBytes(dst[i:], src[i:], ks)
	}
	clear(ks)
}

// smallCTR is the length up to which CTR encrypts block by block.
const smallCTR = 512
