package crypto

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
)

// AESCTR encrypts or decrypts src into dst with AES-128 in counter mode, as
// OTR3 data messages and the AKE do: the initial 16-byte counter block is
// top8 followed by eight zero bytes (OTR3 spec, "Data Message"; the AKE uses
// an all-zero top8). key must be 16 bytes: the key lengths of OTR3 are fixed
// by the protocol, so any other length is a bug in the caller and panics.
// dst must be at least as long as src; dst and src may be the same slice.
func AESCTR(key []byte, top8 [8]byte, dst, src []byte) {
	NewAES128(key).CTR(top8, dst, src)
}

// HMACSHA256 returns HMAC-SHA-256 under key over the concatenation of parts.
func HMACSHA256(key []byte, parts ...[]byte) [32]byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	var out [32]byte
	m.Sum(out[:0])
	return out
}

// HMACSHA1 returns HMAC-SHA-1 under key over the concatenation of parts
// (OTR3 data-message MACs use HMAC-SHA-1-160).
func HMACSHA1(key []byte, parts ...[]byte) [20]byte {
	m := hmac.New(sha1.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	var out [20]byte
	m.Sum(out[:0])
	return out
}

// SHA256 returns the SHA-256 digest of the concatenation of parts.
func SHA256(parts ...[]byte) [32]byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// SHA1 returns the SHA-1 digest of the concatenation of parts (OTR3
// fingerprints and key derivation still use it).
func SHA1(parts ...[]byte) [20]byte {
	h := sha1.New()
	for _, p := range parts {
		h.Write(p)
	}
	var out [20]byte
	h.Sum(out[:0])
	return out
}

// Equal reports whether a and b hold the same bytes, in time that depends
// only on their lengths. Slices of different lengths are never equal.
func Equal(a, b []byte) bool {
	return len(a) == len(b) && subtle.ConstantTimeCompare(a, b) == 1
}
