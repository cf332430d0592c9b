package dake

// The bodies of the interactive DAKE messages (OTRv4 spec, "Identity
// Message", "Auth-R Message", "Auth-I Message"). The header (SHORT version 4,
// BYTE type, INT sender and receiver instance tags) is encoding.Header; these
// types are what follows it. Their parsers are strict: exactly the body,
// valid points (ParsePoint), DH values in the subgroup (ParseDH3072PublicKey),
// scalars of sigma in 1..q-1 (ParseRingSignature), and a well-formed client
// profile (its signature is checked by Validate, not here). Errors wrap
// encoding.ErrMalformed.

import (
	"fmt"

	"golang.org/x/crypto/cryptobyte"

	otrcrypto "github.com/otrgo/otr/crypto"
	otrencoding "github.com/otrgo/otr/encoding"
)

// IdentityMessage is the body of an Identity message (type 0x35): client
// profile || Y (POINT) || B (MPI) || first ECDH public key (POINT) || first
// DH public key (MPI).
type IdentityMessage struct {
	Profile   *ClientProfile
	Y         otrcrypto.Point
	B         *otrcrypto.DH3072PublicKey
	FirstECDH otrcrypto.Point
	FirstDH   *otrcrypto.DH3072PublicKey
}

// AuthRMessage is the body of an Auth-R message (type 0x36): client profile
// || X (POINT) || A (MPI) || sigma (RING-SIG) || first ECDH public key
// (POINT) || first DH public key (MPI).
type AuthRMessage struct {
	Profile   *ClientProfile
	X         otrcrypto.Point
	A         *otrcrypto.DH3072PublicKey
	Sigma     otrcrypto.RingSignature
	FirstECDH otrcrypto.Point
	FirstDH   *otrcrypto.DH3072PublicKey
}

// AuthIMessage is the body of an Auth-I message (type 0x37): sigma.
type AuthIMessage struct {
	Sigma otrcrypto.RingSignature
}

func addPoint(b *cryptobyte.Builder, p *otrcrypto.Point) {
	e := p.Bytes()
	b.AddBytes(e[:])
}

func addRingSig(b *cryptobyte.Builder, s *otrcrypto.RingSignature) {
	e := s.Bytes()
	b.AddBytes(e[:])
}

func readPoint(s *cryptobyte.String, p *otrcrypto.Point) bool {
	var v []byte
	if !s.ReadBytes(&v, otrcrypto.PointSize) {
		return false
	}
	pt, err := otrcrypto.ParsePoint(v)
	if err != nil {
		return false
	}
	*p = pt
	return true
}

func readDH(s *cryptobyte.String, k **otrcrypto.DH3072PublicKey) bool {
	var v []byte
	if !otrencoding.ReadMPI(s, &v) {
		return false
	}
	pub, err := otrcrypto.ParseDH3072PublicKey(v)
	if err != nil {
		return false
	}
	*k = pub
	return true
}

func readRingSig(s *cryptobyte.String, sig *otrcrypto.RingSignature) bool {
	var v []byte
	if !s.ReadBytes(&v, otrcrypto.RingSignatureSize) {
		return false
	}
	r, err := otrcrypto.ParseRingSignature(v)
	if err != nil {
		return false
	}
	*sig = r
	return true
}

// Marshal writes m.
func (m *IdentityMessage) Marshal(b *cryptobyte.Builder) {
	m.Profile.Marshal(b)
	addPoint(b, &m.Y)
	otrencoding.AddMPI(b, m.B.Bytes())
	addPoint(b, &m.FirstECDH)
	otrencoding.AddMPI(b, m.FirstDH.Bytes())
}

// ParseIdentityMessage parses the body of an Identity message.
func ParseIdentityMessage(body []byte) (*IdentityMessage, error) {
	s := cryptobyte.String(body)
	prof, err := ReadClientProfile(&s)
	if err != nil {
		return nil, err
	}
	m := &IdentityMessage{Profile: prof}
	if !readPoint(&s, &m.Y) || !readDH(&s, &m.B) || !readPoint(&s, &m.FirstECDH) || !readDH(&s, &m.FirstDH) || !s.Empty() {
		return nil, malformedMessage("Identity")
	}
	return m, nil
}

// Marshal writes m.
func (m *AuthRMessage) Marshal(b *cryptobyte.Builder) {
	m.Profile.Marshal(b)
	addPoint(b, &m.X)
	otrencoding.AddMPI(b, m.A.Bytes())
	addRingSig(b, &m.Sigma)
	addPoint(b, &m.FirstECDH)
	otrencoding.AddMPI(b, m.FirstDH.Bytes())
}

// ParseAuthRMessage parses the body of an Auth-R message.
func ParseAuthRMessage(body []byte) (*AuthRMessage, error) {
	s := cryptobyte.String(body)
	prof, err := ReadClientProfile(&s)
	if err != nil {
		return nil, err
	}
	m := &AuthRMessage{Profile: prof}
	if !readPoint(&s, &m.X) || !readDH(&s, &m.A) || !readRingSig(&s, &m.Sigma) ||
		!readPoint(&s, &m.FirstECDH) || !readDH(&s, &m.FirstDH) || !s.Empty() {
		return nil, malformedMessage("Auth-R")
	}
	return m, nil
}

// Marshal writes m.
func (m *AuthIMessage) Marshal(b *cryptobyte.Builder) { addRingSig(b, &m.Sigma) }

// ParseAuthIMessage parses the body of an Auth-I message.
func ParseAuthIMessage(body []byte) (*AuthIMessage, error) {
	s := cryptobyte.String(body)
	m := new(AuthIMessage)
	if !readRingSig(&s, &m.Sigma) || !s.Empty() {
		return nil, malformedMessage("Auth-I")
	}
	return m, nil
}

func malformedMessage(name string) error {
	return fmt.Errorf("%w: dake: %s message", otrencoding.ErrMalformed, name)
}
