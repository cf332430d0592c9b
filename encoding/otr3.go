package encoding

import (
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// MsgType is the type byte of an encoded protocol message.
type MsgType uint8

// Message types of OTR3 (OTR3 spec) and of the OTRv4 interactive DAKE
// (OTRv4 spec; docs/interop.md, "OTRv4").
const (
	MsgDHCommit  MsgType = 0x02
	MsgData      MsgType = 0x03
	MsgDHKey     MsgType = 0x0a
	MsgRevealSig MsgType = 0x11
	MsgSig       MsgType = 0x12
	MsgIdentity  MsgType = 0x35
	MsgAuthR     MsgType = 0x36
	MsgAuthI     MsgType = 0x37
)

// String returns the name of t.
func (t MsgType) String() string {
	switch t {
	case MsgDHCommit:
		return "DH-Commit"
	case MsgData:
		return "Data"
	case MsgDHKey:
		return "DH-Key"
	case MsgRevealSig:
		return "Reveal-Signature"
	case MsgSig:
		return "Signature"
	case MsgIdentity:
		return "Identity"
	case MsgAuthR:
		return "Auth-R"
	case MsgAuthI:
		return "Auth-I"
	}
	return fmt.Sprintf("MsgType(%#02x)", uint8(t))
}

// HeaderLen is the length of an encoded Header.
const HeaderLen = 11

// Header starts every OTR3 and OTRv4 encoded message: SHORT protocol
// version, BYTE message type, INT sender and INT receiver instance tag.
// Instance tag values are not checked here.
type Header struct {
	Version          uint16
	Type             MsgType
	Sender, Receiver uint32
}

// Marshal writes h.
func (h Header) Marshal(b *cryptobyte.Builder) {
	b.AddUint16(h.Version)
	b.AddUint8(uint8(h.Type))
	b.AddUint32(h.Sender)
	b.AddUint32(h.Receiver)
}

// ParseHeader reads the header at the start of payload and returns it with
// the body that follows (a subslice of payload). A version other than 3 or 4
// is an error wrapping both ErrMalformed and ErrUnsupportedVersion (OTR2
// messages have a different header).
func ParseHeader(payload []byte) (Header, []byte, error) {
	s := cryptobyte.String(payload)
	var h Header
	var typ uint8
	if !s.ReadUint16(&h.Version) {
		return Header{}, nil, malformed("short header")
	}
	if h.Version != Version3 && h.Version != Version4 {
		return Header{}, nil, fmt.Errorf("%w: %w %d", ErrMalformed, ErrUnsupportedVersion, h.Version)
	}
	if !s.ReadUint8(&typ) || !s.ReadUint32(&h.Sender) || !s.ReadUint32(&h.Receiver) {
		return Header{}, nil, malformed("short header")
	}
	h.Type = MsgType(typ)
	return h, []byte(s), nil
}

// Marshal returns the encoded message made of h and body, ready for
// EncodeMessage. It panics if a field is longer than the wire format allows.
func Marshal(h Header, body interface{ Marshal(*cryptobyte.Builder) }) []byte {
	var b cryptobyte.Builder
	h.Marshal(&b)
	body.Marshal(&b)
	return bytesOf(&b)
}

// DHCommit is the body of the OTR3 D-H Commit message (OTR3 spec, "D-H Commit
// Message"): DATA encrypted g^x, DATA hashed g^x (SHA-256, 32 bytes).
type DHCommit struct {
	EncryptedGX []byte
	HashedGX    []byte
}

// Marshal writes the body of m.
func (m *DHCommit) Marshal(b *cryptobyte.Builder) {
	AddData(b, m.EncryptedGX)
	AddData(b, m.HashedGX)
}

// Unmarshal parses body, which must be exactly one D-H Commit body, into m.
func (m *DHCommit) Unmarshal(body []byte) error {
	*m = DHCommit{}
	s := cryptobyte.String(body)
	var v DHCommit
	if !ReadData(&s, &v.EncryptedGX) || !ReadData(&s, &v.HashedGX) || !s.Empty() {
		return malformed("D-H Commit message")
	}
	if len(v.HashedGX) != 32 {
		return malformed("D-H Commit hash is not 32 bytes")
	}
	*m = v
	return nil
}

// DHKey is the body of the OTR3 D-H Key message: MPI g^y.
type DHKey struct {
	GY []byte
}

// Marshal writes the body of m.
func (m *DHKey) Marshal(b *cryptobyte.Builder) {
	AddMPI(b, m.GY)
}

// Unmarshal parses body, which must be exactly one D-H Key body, into m.
func (m *DHKey) Unmarshal(body []byte) error {
	*m = DHKey{}
	s := cryptobyte.String(body)
	var v DHKey
	if !ReadMPI(&s, &v.GY) || !s.Empty() {
		return malformed("D-H Key message")
	}
	*m = v
	return nil
}

// RevealSig is the body of the OTR3 Reveal Signature message: DATA revealed
// key r, DATA encrypted signature, MAC (20 bytes). The length of r (16 bytes
// for AES-128) is left to the AKE to check.
type RevealSig struct {
	RevealedKey  []byte
	EncryptedSig []byte
	MAC          [20]byte
}

// Marshal writes the body of m.
func (m *RevealSig) Marshal(b *cryptobyte.Builder) {
	AddData(b, m.RevealedKey)
	AddData(b, m.EncryptedSig)
	b.AddBytes(m.MAC[:])
}

// Unmarshal parses body, which must be exactly one Reveal Signature body,
// into m.
func (m *RevealSig) Unmarshal(body []byte) error {
	*m = RevealSig{}
	s := cryptobyte.String(body)
	var v RevealSig
	if !ReadData(&s, &v.RevealedKey) || !ReadData(&s, &v.EncryptedSig) ||
		!s.CopyBytes(v.MAC[:]) || !s.Empty() {
		return malformed("Reveal Signature message")
	}
	*m = v
	return nil
}

// Sig is the body of the OTR3 Signature message: DATA encrypted signature,
// MAC (20 bytes).
type Sig struct {
	EncryptedSig []byte
	MAC          [20]byte
}

// Marshal writes the body of m.
func (m *Sig) Marshal(b *cryptobyte.Builder) {
	AddData(b, m.EncryptedSig)
	b.AddBytes(m.MAC[:])
}

// Unmarshal parses body, which must be exactly one Signature body, into m.
func (m *Sig) Unmarshal(body []byte) error {
	*m = Sig{}
	s := cryptobyte.String(body)
	var v Sig
	if !ReadData(&s, &v.EncryptedSig) || !s.CopyBytes(v.MAC[:]) || !s.Empty() {
		return malformed("Signature message")
	}
	*m = v
	return nil
}

// FlagIgnoreUnreadable is the data message flag asking the receiver to drop
// the message silently if it cannot decrypt or verify it.
const FlagIgnoreUnreadable = 0x01

// DataMessage is the body of the OTR3 Data message (OTR3 spec, "Data
// Message"): BYTE flags, INT sender keyid, INT recipient keyid, MPI next DH
// public key, CTR (8 bytes), DATA encrypted message, MAC (20 bytes), DATA old
// MAC keys. Key ids and the counter are not checked here.
type DataMessage struct {
	Flags          uint8
	SenderKeyID    uint32
	RecipientKeyID uint32
	// NextDH is the sender's next DH public key, big-endian.
	NextDH           []byte
	Counter          [8]byte
	EncryptedMessage []byte
	MAC              [20]byte
	// OldMACKeys is the concatenation of revealed 20-byte MAC keys.
	OldMACKeys []byte
}

func (m *DataMessage) marshalAuthenticated(b *cryptobyte.Builder) {
	b.AddUint8(m.Flags)
	b.AddUint32(m.SenderKeyID)
	b.AddUint32(m.RecipientKeyID)
	AddMPI(b, m.NextDH)
	b.AddBytes(m.Counter[:])
	AddData(b, m.EncryptedMessage)
}

// Marshal writes the body of m.
func (m *DataMessage) Marshal(b *cryptobyte.Builder) {
	m.marshalAuthenticated(b)
	b.AddBytes(m.MAC[:])
	AddData(b, m.OldMACKeys)
}

// AuthenticatedPart returns what the data message MAC covers: the header h
// and the fields of m from the flags through the encrypted message ("the
// SHA1-HMAC ... of everything from the Protocol version to the end of the
// encrypted message"). For a received message it equals the corresponding
// prefix of the payload, since parsing is canonical.
func (m *DataMessage) AuthenticatedPart(h Header) []byte {
	var b cryptobyte.Builder
	h.Marshal(&b)
	m.marshalAuthenticated(&b)
	return bytesOf(&b)
}

// Unmarshal parses body, which must be exactly one Data message body, into
// m. OldMACKeys must be a whole number of 20-byte keys (libotr only sends
// those).
//
// Unlike the other fields, EncryptedMessage is a subslice of body (it is
// decrypted in place on the receive path; copying it would cost a large
// message twice).
func (m *DataMessage) Unmarshal(body []byte) error {
	*m = DataMessage{}
	s := cryptobyte.String(body)
	var v DataMessage
	if !s.ReadUint8(&v.Flags) || !s.ReadUint32(&v.SenderKeyID) || !s.ReadUint32(&v.RecipientKeyID) ||
		!ReadMPI(&s, &v.NextDH) || !s.CopyBytes(v.Counter[:]) || !readDataInPlace(&s, &v.EncryptedMessage) ||
		!s.CopyBytes(v.MAC[:]) || !ReadData(&s, &v.OldMACKeys) || !s.Empty() {
		return malformed("Data message")
	}
	if len(v.OldMACKeys)%20 != 0 {
		return malformed("old MAC keys are not a multiple of 20 bytes")
	}
	*m = v
	return nil
}

// SignedKey is the structure X_B (or X_A) that the OTR3 AKE encrypts into
// the Reveal Signature and Signature messages: PUBKEY, INT keyid, SIG. For a
// DSA key, SIG is r and s, each as long as q (20 bytes for a 160-bit q),
// big-endian.
type SignedKey struct {
	PublicKey DSAPublicKey
	KeyID     uint32
	Sig       []byte
}

// Marshal writes m.
func (m *SignedKey) Marshal(b *cryptobyte.Builder) {
	m.PublicKey.Marshal(b)
	b.AddUint32(m.KeyID)
	b.AddBytes(m.Sig)
}

// Unmarshal parses b, which must be exactly one X_B structure, into m. The
// signature must be twice the length of the minimal encoding of q.
func (m *SignedKey) Unmarshal(b []byte) error {
	*m = SignedKey{}
	s := cryptobyte.String(b)
	var v SignedKey
	if !ReadDSAPublicKey(&s, &v.PublicKey) || !s.ReadUint32(&v.KeyID) {
		return malformed("signed key")
	}
	n := len(v.PublicKey.Q)
	if n == 0 || !s.ReadBytes(&v.Sig, 2*n) || !s.Empty() {
		return malformed("signed key signature length")
	}
	v.Sig = append([]byte{}, v.Sig...)
	*m = v
	return nil
}

// MarshalMB returns the input of the AKE's MAC M_B: MPI gx, MPI gy, PUBKEY
// pub, INT keyID (OTR3 spec, "Reveal Signature Message"). For M_A pass g^y
// first and g^x second, as the spec orders them there.
func MarshalMB(gx, gy []byte, pub *DSAPublicKey, keyID uint32) []byte {
	var b cryptobyte.Builder
	AddMPI(&b, gx)
	AddMPI(&b, gy)
	pub.Marshal(&b)
	b.AddUint32(keyID)
	return bytesOf(&b)
}
