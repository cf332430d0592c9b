package encoding

import (
	"bytes"

	"golang.org/x/crypto/cryptobyte"
)

// TLV is a type/length/value record carried after the NUL in the plaintext
// of a data message (OTR3 spec, "Data Message").
type TLV struct {
	Type  uint16
	Value []byte
}

// TLV types of OTR3 (OTR3 spec, "Data Message").
const (
	TLVPadding      = 0
	TLVDisconnected = 1
	TLVSMP1         = 2
	TLVSMP2         = 3
	TLVSMP3         = 4
	TLVSMP4         = 5
	TLVSMPAbort     = 6
	TLVSMP1Q        = 7
	TLVExtraSymKey  = 8
)

// ParsePlaintext splits a decrypted data message into the human-readable
// message, which ends at the first NUL, and the TLV records after that NUL.
// A truncated TLV is an error wrapping ErrMalformed. The returned slices are
// fresh copies; tlvs is nil if there are none.
func ParsePlaintext(decrypted []byte) (msg []byte, tlvs []TLV, err error) {
	msg, tlvs, err = ParsePlaintextInPlace(decrypted)
	if err != nil {
		return nil, nil, err
	}
	for i := range tlvs {
		tlvs[i].Value = append([]byte{}, tlvs[i].Value...)
	}
	return append([]byte{}, msg...), tlvs, nil
}

// ParsePlaintextInPlace is ParsePlaintext without the copies: msg and the
// TLV values are subslices of decrypted, which the caller must not reuse
// while they are in use. It saves copying large messages on the receive
// path.
func ParsePlaintextInPlace(decrypted []byte) (msg []byte, tlvs []TLV, err error) {
	i := bytes.IndexByte(decrypted, 0)
	if i < 0 {
		return decrypted, nil, nil
	}
	s := cryptobyte.String(decrypted[i+1:])
	for !s.Empty() {
		var t TLV
		var v cryptobyte.String
		if !s.ReadUint16(&t.Type) || !s.ReadUint16LengthPrefixed(&v) {
			return nil, nil, malformed("truncated TLV")
		}
		t.Value = v
		tlvs = append(tlvs, t)
	}
	return decrypted[:i], tlvs, nil
}

// MarshalPlaintext returns the plaintext of a data message: msg, then, if
// there are TLVs, a NUL and the TLVs. msg must not contain a NUL. It panics
// if a TLV value is longer than 65535 bytes.
func MarshalPlaintext(msg []byte, tlvs []TLV) []byte {
	n := len(msg)
	for _, t := range tlvs {
		n += 5 + len(t.Value)
	}
	b := cryptobyte.NewBuilder(make([]byte, 0, n))
	b.AddBytes(msg)
	if len(tlvs) > 0 {
		b.AddUint8(0)
	}
	for _, t := range tlvs {
		b.AddUint16(t.Type)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddBytes(t.Value)
		})
	}
	return bytesOf(b)
}
