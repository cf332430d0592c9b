package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"crypto/subtle"
	"encoding"
	"encoding/binary"
	"hash"
)

// MACSHA1 is HMAC-SHA1 keyed once and reused for many messages: OTR3 data
// messages of one key pair all use the same MAC key, and keying HMAC costs
// more than MACing a short message. Unlike crypto/hmac, it keeps the keyed
// states (SHA-1 after the ipad and opad blocks) in memory it owns, so Wipe
// can erase them. Not safe for concurrent use.
type MACSHA1 struct {
	h            hash.Hash // a crypto/sha1 digest, loaded with inner or outer
	inner, outer []byte    // marshaled SHA-1 states after key^ipad, key^opad
	buf          [sha1.Size]byte
}

// NewMACSHA1 keys HMAC-SHA1 with key (RFC 2104).
func NewMACSHA1(key []byte) *MACSHA1 {
	var pad [sha1.BlockSize]byte
	defer clear(pad[:])
	if len(key) > len(pad) {
		sum := sha1.Sum(key)
		copy(pad[:], sum[:])
		clear(sum[:])
	} else {
		copy(pad[:], key)
	}
	m := &MACSHA1{h: sha1.New()}
	for i := range pad {
		pad[i] ^= 0x36
	}
	m.inner = m.marshalAfter(pad[:])
	for i := range pad {
		pad[i] ^= 0x36 ^ 0x5c
	}
	m.outer = m.marshalAfter(pad[:])
	return m
}

// marshalAfter returns the SHA-1 state after the single block b. A whole
// block is hashed straight from b, so the digest keeps no copy of it.
func (m *MACSHA1) marshalAfter(b []byte) []byte {
	m.h.Reset()
	m.h.Write(b)
	st, err := m.h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		panic("otr: internal error: " + err.Error())
	}
	return st
}

func (m *MACSHA1) load(st []byte) {
	if err := m.h.(encoding.BinaryUnmarshaler).UnmarshalBinary(st); err != nil {
		panic("otr: internal error: " + err.Error())
	}
}

// Sum returns the MAC of the concatenation of parts.
func (m *MACSHA1) Sum(parts ...[]byte) [20]byte {
	m.load(m.inner)
	for _, p := range parts {
		m.h.Write(p)
	}
	m.h.Sum(m.buf[:0])
	m.load(m.outer)
	m.h.Write(m.buf[:])
	m.h.Sum(m.buf[:0])
	return m.buf
}

// sha1ZeroState is crypto/sha1's marshaled state (magic "sha\x01", then h,
// the block buffer and the length) with every field zero.
var sha1ZeroState = append([]byte("sha\x01"), make([]byte, 5*4+sha1.BlockSize+8)...)

// Wipe erases the keyed states and the last MAC, and loads an all-zero
// state into the digest: Reset alone would leave the buffered tail of the
// last input and restore SHA-1's initial values rather than zeros. m must
// not be used afterwards.
func (m *MACSHA1) Wipe() {
	if m.h != nil {
		if m.h.(encoding.BinaryUnmarshaler).UnmarshalBinary(sha1ZeroState) != nil {
			m.h.Reset() // an unknown encoding: at least no keyed state
		}
	}
	clear(m.inner)
	clear(m.outer)
	*m = MACSHA1{}
}

// AES128 is an AES-128 key schedule reused for many OTR3 data messages.
// The schedule lives inside a crypto/aes cipher.Block, which offers no way to
// erase it: Wipe drops it, and it stays in memory, unreachable, until the
// garbage collector reuses that memory. Not safe for concurrent use (it keeps
// its counter and key-stream blocks).
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

// Wipe clears a's counter and key-stream blocks and drops its reference to
// the key schedule, which it cannot erase (see AES128). a must not be used
// afterwards.
func (a *AES128) Wipe() {
	*a = AES128{}
}

// smallCTR is the length up to which CTR encrypts block by block.
const smallCTR = 512
