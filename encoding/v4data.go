package encoding

import (
	"golang.org/x/crypto/cryptobyte"
)

// Sizes of the fixed-length fields of the OTRv4 Data message.
const (
	// PointLen is the length of an encoded Ed448 point (POINT).
	PointLen = 57
	// AuthenticatorLen is the length of the OTRv4 data message authenticator
	// and of each revealed MAC key.
	AuthenticatorLen = 64
)

// DataMessage4 is the body of the OTRv4 Data message (OTRv4 spec, "Data
// Message Format"; the layout otr4j writes, as in dake.json and
// ratchet.json): BYTE flags, INT previous chain message number (pn), INT
// ratchet id, INT message id, POINT public ECDH key, MPI public DH key
// (zero length when absent), DATA encrypted message, MAC (64 bytes)
// authenticator, DATA old MAC keys to reveal. There is no nonce field: the
// ChaCha20 nonce is zero.
//
// ECDH holds the point's bytes as received: whether they encode a valid
// point is checked by the code that uses them (crypto.ParsePoint), as is
// whether DH is a valid group element.
type DataMessage4 struct {
	Flags     uint8
	PN        uint32
	RatchetID uint32
	MessageID uint32
	ECDH      [PointLen]byte
	// DH is the public DH key, minimal big-endian; empty when absent.
	DH         []byte
	Ciphertext []byte
	// Authenticator is KDF(usage_authenticator || MKmac || the message from
	// the protocol version through the encrypted message, 64).
	Authenticator [AuthenticatorLen]byte
	// RevealedMACKeys is the concatenation of 64-byte MAC keys.
	RevealedMACKeys []byte
}

func (m *DataMessage4) marshalAuthenticated(b *cryptobyte.Builder) {
	b.AddUint8(m.Flags)
	b.AddUint32(m.PN)
	b.AddUint32(m.RatchetID)
	b.AddUint32(m.MessageID)
	b.AddBytes(m.ECDH[:])
	AddMPI(b, m.DH)
	AddData(b, m.Ciphertext)
}

// Marshal writes the body of m.
func (m *DataMessage4) Marshal(b *cryptobyte.Builder) {
	m.marshalAuthenticated(b)
	b.AddBytes(m.Authenticator[:])
	AddData(b, m.RevealedMACKeys)
}

// AuthenticatedPart returns what the authenticator covers: the header h and
// the fields of m from the flags through the encrypted message ("from the
// protocol version to the end of the encrypted message"). For a received
// message it equals the prefix of the payload that [ParseDataMessage4]
// reports, since parsing is canonical.
func (m *DataMessage4) AuthenticatedPart(h Header) []byte {
	var b cryptobyte.Builder
	h.Marshal(&b)
	m.marshalAuthenticated(&b)
	return bytesOf(&b)
}

// Unmarshal parses body, which must be exactly one OTRv4 Data message body,
// into m. The DH key must be a minimal MPI of at most 384 bytes (the size of
// the 3072-bit group) and the revealed MAC keys a whole number of 64-byte
// keys. On error m is left zero.
func (m *DataMessage4) Unmarshal(body []byte) error {
	*m = DataMessage4{}
	s := cryptobyte.String(body)
	var v DataMessage4
	if !s.ReadUint8(&v.Flags) || !s.ReadUint32(&v.PN) || !s.ReadUint32(&v.RatchetID) ||
		!s.ReadUint32(&v.MessageID) || !s.CopyBytes(v.ECDH[:]) || !ReadMPI(&s, &v.DH) ||
		!ReadData(&s, &v.Ciphertext) || !s.CopyBytes(v.Authenticator[:]) ||
		!ReadData(&s, &v.RevealedMACKeys) || !s.Empty() {
		return malformed("OTRv4 Data message")
	}
	if len(v.DH) > 384 {
		return malformed("OTRv4 Data message DH key longer than 384 bytes")
	}
	if len(v.RevealedMACKeys)%AuthenticatorLen != 0 {
		return malformed("revealed MAC keys are not a multiple of 64 bytes")
	}
	// Empty fields are nil, so that equal messages compare equal.
	for _, f := range []*[]byte{&v.DH, &v.Ciphertext, &v.RevealedMACKeys} {
		if len(*f) == 0 {
			*f = nil
		}
	}
	*m = v
	return nil
}

// ParseDataMessage4 parses payload, a whole encoded message (header and
// body), as an OTRv4 Data message. It returns the header, the message and
// authLen, the length of the payload prefix that the authenticator covers
// (payload[:authLen] equals m.AuthenticatedPart(h)). The header must have
// version 4 and type [MsgData]; instance tags are not checked. On error it
// returns zero values and an error wrapping [ErrMalformed].
func ParseDataMessage4(payload []byte) (h Header, m DataMessage4, authLen int, err error) {
	h, body, err := ParseHeader(payload)
	if err != nil {
		return Header{}, DataMessage4{}, 0, err
	}
	if h.Version != Version4 || h.Type != MsgData {
		return Header{}, DataMessage4{}, 0, malformed("not an OTRv4 Data message")
	}
	if err := m.Unmarshal(body); err != nil {
		return Header{}, DataMessage4{}, 0, err
	}
	authLen = len(payload) - AuthenticatorLen - 4 - len(m.RevealedMACKeys)
	return h, m, authLen, nil
}
