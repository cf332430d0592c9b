package ake3

import (
	"encoding/binary"

	otrcrypto "github.com/otrgo/otr/crypto"
)

// otr.js 0.2.16 (npm "otr") turns the AKE's r into its AES key through a
// hex string. lib/ake.js, AKE.prototype.initiateAKE (sending the D-H
// Commit) and handleAKE case '\x11' (receiving the Reveal Signature) both do
//
//	key = CryptoJS.enc.Hex.parse(BigInt.bigInt2str(this.r, 16))
//	key = CryptoJS.enc.Latin1.stringify(key)
//
// and reveal r as HLP.packMPI(this.r), its minimal big-endian bytes.
// bigInt2str (vendor/bigint.js) writes no leading zeros, so for r < 2^124
// the hex string has fewer than 32 digits. CryptoJS.enc.Hex.parse
// (vendor/crypto.js) reads it in pairs from the left; an odd last digit is
// parsed alone into the low nibble of the last byte, and Latin1.stringify
// keeps ceil(digits/2) bytes. For 2^120 <= r < 2^124 (31 digits) the key is
// 16 bytes, ((r >> 4) << 8) | (r & 0xf): AES-128 under another key than r.
// Below 2^120 it is shorter than 16 bytes and CryptoJS's AES runs its key
// schedule with a fractional key size (cryptojsAESCTR). Both ends of an
// otr.js pair apply the same function, so otr.js works with itself; with a
// peer that follows OTR3 spec it fails whenever r < 2^124, one exchange in 16.

// otrjsKey returns the key otr.js 0.2.16 derives from the revealed key r,
// which is either the 16 bytes OTR3 spec prescribes or, as otr.js sends it, the
// minimal big-endian encoding of r. ok is false when otr.js's key would be
// r itself (r >= 2^124) or r is not in one of those forms (empty, zero,
// longer than 16 bytes, shorter with a leading zero byte).
func otrjsKey(r []byte) (key []byte, ok bool) {
	switch {
	case len(r) == 0 || len(r) > 16:
		return nil, false
	case len(r) < 16 && r[0] == 0:
		return nil, false // HLP.packMPI never writes a leading zero byte
	case len(r) == 16 && r[0] >= 0x10:
		return nil, false // 32 hex digits: the key is r
	}
	for len(r) > 0 && r[0] == 0 {
		r = r[1:]
	}
	if len(r) == 0 {
		return nil, false
	}
	// The hex digits of r without leading zeros, as bigInt2str writes them.
	nibbles := make([]byte, 0, 2*len(r))
	for i, b := range r {
		if i > 0 || b>>4 != 0 {
			nibbles = append(nibbles, b>>4)
		}
		nibbles = append(nibbles, b&0xf)
	}
	// CryptoJS.enc.Hex.parse, then Latin1.stringify.
	key = make([]byte, (len(nibbles)+1)/2)
	for i := range key {
		if 2*i+1 < len(nibbles) {
			key[i] = nibbles[2*i]<<4 | nibbles[2*i+1]
		} else {
			key[i] = nibbles[2*i]
		}
	}
	return key, true
}

// otrjsDecrypt decrypts src into dst (of the same length) as otr.js 0.2.16
// does with the revealed key r: HLP.decryptAes(encrypted, key,
// HLP.packCtr(0)), CryptoJS AES in CTR mode from a zero counter block, under
// otrjsKey(r). It reports false, leaving dst alone, when otrjsKey does.
// CTR is symmetric: the same call encrypts as otr.js's D-H Commit does.
func otrjsDecrypt(r, dst, src []byte) bool {
	key, ok := otrjsKey(r)
	if !ok {
		return false
	}
	if len(key) == 16 {
		otrcrypto.AESCTR(key, [8]byte{}, dst, src)
	} else {
		cryptojsAESCTR(key, dst, src)
	}
	return true
}

// cryptojsAESCTR is CryptoJS 3.1.2's AES (vendor/crypto.js in otr.js
// 0.2.16, C_algo.AES) in CTR mode from a zero counter block, for a key of
// any length from 1 to 16 bytes. For 16 bytes it is AES-128. For other
// lengths it reproduces what that JavaScript computes, which is not AES:
// _doReset takes keySize = key.sigBytes/4 words, possibly fractional,
// nRounds = keySize+6 and (nRounds+1)*4 schedule rows; a schedule row
// keySize rows back is an undefined array element when keySize is
// fractional, and undefined, like a row past the end of the schedule, acts
// as 0 in JavaScript's bitwise operators.
//
// It is table-based and variable-time. That is harmless here: its only
// use is decrypting a D-H Commit under a function of the revealed r, and r
// is public by then.
func cryptojsAESCTR(key, dst, src []byte) {
	b := len(key) // key.sigBytes
	// Latin1.parse: big-endian words, the last one zero-padded.
	words := make([]uint32, (b+3)/4)
	for i, c := range key {
		words[i/4] |= uint32(c) << (24 - 8*(i%4))
	}
	// _doReset. keySize is b/4; "ksRow < keySize" is 4*ksRow < b and
	// "ksRow % keySize == 0" is 4*ksRow ≡ 0 (mod b), exactly (JavaScript's
	// % is exact on these multiples of 1/4). The keySize > 6 branch needs
	// more than 24 bytes.
	ks := make([]uint32, b+28)
	for row := range ks {
		if 4*row < b {
			ks[row] = words[row]
			continue
		}
		t := ks[row-1]
		if 4*row%b == 0 {
			t = subWord(t<<8 | t>>24)
			if i := 4 * row / b; i < len(rcon) { // RCON[i] is undefined beyond
				t ^= uint32(rcon[i]) << 24
			}
		}
		if b%4 == 0 {
			t ^= ks[row-b/4]
		}
		ks[row] = t
	}
	// _doCryptBlock runs "for (round = 1; round < nRounds; round++)".
	rounds := (b+3)/4 + 5
	roundKey := func(row int) uint32 {
		if row < len(ks) {
			return ks[row]
		}
		return 0
	}
	var ctr, stream [16]byte
	for off, n := 0, uint32(0); off < len(src); off, n = off+16, n+1 {
		binary.BigEndian.PutUint32(ctr[12:], n) // the counter's last word
		cryptojsBlock(&stream, &ctr, roundKey, rounds)
		for i := 0; i < 16 && off+i < len(src); i++ {
			dst[off+i] = src[off+i] ^ stream[i]
		}
	}
}

// cryptojsBlock encrypts one block as CryptoJS's _doCryptBlock does: the
// AES round function (SubBytes, ShiftRows, MixColumns, AddRoundKey) with the
// given number of full rounds and a final round without MixColumns.
func cryptojsBlock(dst, src *[16]byte, roundKey func(int) uint32, rounds int) {
	var s [16]byte
	addRoundKey := func(row int) {
		for c := range 4 {
			binary.BigEndian.PutUint32(s[4*c:], binary.BigEndian.Uint32(s[4*c:])^roundKey(row+c))
		}
	}
	s = *src
	addRoundKey(0)
	for round := 1; round <= rounds+1; round++ {
		var t [16]byte
		for c := range 4 { // SubBytes and ShiftRows: row r moves r columns left
			for r := range 4 {
				t[4*c+r] = sbox[s[4*((c+r)%4)+r]]
			}
		}
		if round <= rounds {
			for c := range 4 { // MixColumns
				a0, a1, a2, a3 := t[4*c], t[4*c+1], t[4*c+2], t[4*c+3]
				t[4*c] = xtime(a0) ^ xtime(a1) ^ a1 ^ a2 ^ a3
				t[4*c+1] = a0 ^ xtime(a1) ^ xtime(a2) ^ a2 ^ a3
				t[4*c+2] = a0 ^ a1 ^ xtime(a2) ^ xtime(a3) ^ a3
				t[4*c+3] = xtime(a0) ^ a0 ^ a1 ^ a2 ^ xtime(a3)
			}
		}
		s = t
		addRoundKey(4 * round)
	}
	*dst = s
}

// rcon is CryptoJS's RCON table.
var rcon = [...]byte{0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1b, 0x36}

func xtime(a byte) byte { return a<<1 ^ (a>>7)*0x1b }

func subWord(w uint32) uint32 {
	return uint32(sbox[w>>24])<<24 | uint32(sbox[w>>16&0xff])<<16 | uint32(sbox[w>>8&0xff])<<8 | uint32(sbox[w&0xff])
}

// sbox is the AES S-box (FIPS 197, 5.1.1): the inverse in GF(2^8) followed
// by the affine map.
var sbox = func() (s [256]byte) {
	// p runs over GF(2^8)* by multiplication by 3, q by division by 3, so
	// that p*q == 1 throughout.
	p, q := byte(1), byte(1)
	for {
		p = p ^ xtime(p)
		q ^= q << 1
		q ^= q << 2
		q ^= q << 4
		if q&0x80 != 0 {
			q ^= 0x09
		}
		x := q ^ (q<<1 | q>>7) ^ (q<<2 | q>>6) ^ (q<<3 | q>>5) ^ (q<<4 | q>>4)
		s[p] = x ^ 0x63
		if p == 1 {
			break
		}
	}
	s[0] = 0x63
	return s
}()
