package encoding

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"math"

	"golang.org/x/crypto/cryptobyte"
)

// Protocol version numbers as they appear in the header of an encoded message.
const (
	Version3 = 3
	Version4 = 4
)

// ErrMalformed is wrapped by every error this package returns for input that
// does not follow the wire format; compare with errors.Is.
var ErrMalformed = errors.New("encoding: malformed message")

// ErrUnsupportedVersion is wrapped, together with ErrMalformed, by the error
// ParseHeader returns for a protocol version other than 3 or 4.
var ErrUnsupportedVersion = errors.New("encoding: unsupported protocol version")

// malformed returns an error wrapping ErrMalformed that names what failed.
func malformed(what string) error {
	return fmt.Errorf("%w: %s", ErrMalformed, what)
}

// ReadData reads a DATA value (4-byte big-endian length, then that many bytes)
// from s into out, a fresh copy. It reports false if s is too short.
func ReadData(s *cryptobyte.String, out *[]byte) bool {
	var n uint32
	if !s.ReadUint32(&n) || uint64(n) > uint64(len(*s)) {
		return false
	}
	var v []byte
	if !s.ReadBytes(&v, int(n)) {
		return false
	}
	*out = append([]byte{}, v...)
	return true
}

// readDataInPlace is ReadData without the copy: out aliases s.
func readDataInPlace(s *cryptobyte.String, out *[]byte) bool {
	var n uint32
	if !s.ReadUint32(&n) || uint64(n) > uint64(len(*s)) {
		return false
	}
	var v []byte
	if !s.ReadBytes(&v, int(n)) {
		return false
	}
	*out = v
	return true
}

// ReadMPI reads an MPI (a DATA holding an unsigned big-endian integer) into
// out, a fresh copy. It reports false if s is too short or the encoding is not
// minimal: a leading zero byte is rejected, zero itself is the empty value
// (OTR3 spec, "Data types": "MPIs must use the minimum-length encoding").
func ReadMPI(s *cryptobyte.String, out *[]byte) bool {
	var v []byte
	if !ReadData(s, &v) || (len(v) > 0 && v[0] == 0) {
		return false
	}
	*out = v
	return true
}

// AddData writes v as a DATA value. A value longer than 2^32-1 bytes sets an
// error on b.
func AddData(b *cryptobyte.Builder, v []byte) {
	if uint64(len(v)) > math.MaxUint32 {
		b.SetError(errors.New("encoding: DATA value too long"))
		return
	}
	b.AddUint32(uint32(len(v)))
	b.AddBytes(v)
}

// AddMPI writes the unsigned big-endian integer v as an MPI. Leading zero
// bytes of v are stripped, so any big-endian encoding of the value may be
// passed.
func AddMPI(b *cryptobyte.Builder, v []byte) {
	AddData(b, trimLeadingZeros(v))
}

func trimLeadingZeros(v []byte) []byte {
	for len(v) > 0 && v[0] == 0 {
		v = v[1:]
	}
	return v
}

// bytesOf returns the bytes built by b. An error can only come from a value
// longer than the wire format allows, which is a bug of the caller.
func bytesOf(b *cryptobyte.Builder) []byte {
	out, err := b.Bytes()
	if err != nil {
		panic("otr: internal error: " + err.Error())
	}
	return out
}

// PubkeyTypeDSA is the OTR3 public key type of a DSA key.
const PubkeyTypeDSA = 0x0000

// DSAPublicKey is the OTR3 DSA public key, "PUBKEY" in the OTR3 spec: SHORT type
// 0x0000, then MPI p, q, g and y. The fields are unsigned big-endian integers
// of minimal length; nothing here checks that they form a valid DSA key.
type DSAPublicKey struct {
	P, Q, G, Y []byte
}

// Marshal writes k as a PUBKEY.
func (k *DSAPublicKey) Marshal(b *cryptobyte.Builder) {
	b.AddUint16(PubkeyTypeDSA)
	AddMPI(b, k.P)
	AddMPI(b, k.Q)
	AddMPI(b, k.G)
	AddMPI(b, k.Y)
}

// Bytes returns the PUBKEY encoding of k.
func (k *DSAPublicKey) Bytes() []byte {
	var b cryptobyte.Builder
	k.Marshal(&b)
	return bytesOf(&b)
}

// Fingerprint returns the OTR3 fingerprint of k: SHA-1 over its PUBKEY
// encoding without the 2-byte key type (OTR3 spec, "Public keys, signatures,
// and fingerprints"). Formatting it for display is up to the caller.
func (k *DSAPublicKey) Fingerprint() [20]byte {
	return sha1.Sum(k.Bytes()[2:])
}

// Equal reports whether k and o encode the same key.
func (k *DSAPublicKey) Equal(o *DSAPublicKey) bool {
	return string(trimLeadingZeros(k.P)) == string(trimLeadingZeros(o.P)) &&
		string(trimLeadingZeros(k.Q)) == string(trimLeadingZeros(o.Q)) &&
		string(trimLeadingZeros(k.G)) == string(trimLeadingZeros(o.G)) &&
		string(trimLeadingZeros(k.Y)) == string(trimLeadingZeros(o.Y))
}

// ReadDSAPublicKey reads a PUBKEY of type 0x0000 from s into k. It reports
// false for another key type, a short input or a non-minimal MPI; k is then
// left zero.
func ReadDSAPublicKey(s *cryptobyte.String, k *DSAPublicKey) bool {
	*k = DSAPublicKey{}
	var typ uint16
	var v DSAPublicKey
	if !s.ReadUint16(&typ) || typ != PubkeyTypeDSA ||
		!ReadMPI(s, &v.P) || !ReadMPI(s, &v.Q) || !ReadMPI(s, &v.G) || !ReadMPI(s, &v.Y) {
		return false
	}
	*k = v
	return true
}
