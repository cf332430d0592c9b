package dake

// Prekey profiles and prekey messages, the values a party publishes so that
// others can start a conversation with it while it is offline (OTRv4 spec,
// "Prekey Profile", "Prekey Message"). Names follow the spec: D (the public
// shared prekey), sym_d (symD), Y and y, B and b. Every layout below is
// written from the section named at it; the readings chosen where the spec
// is open are in docs/offline.md.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"golang.org/x/crypto/cryptobyte"

	otrcrypto "github.com/otrgo/otr/crypto"
	otrencoding "github.com/otrgo/otr/encoding"
)

// MsgPrekey is the type byte of a Prekey message (OTRv4 spec, "Prekey
// Message"). A Prekey message has no receiver instance tag, so it is not
// read with encoding.ParseHeader.
const MsgPrekey otrencoding.MsgType = 0x0F

// pubkeyTypeSharedPrekey is the type code of an ED448-SHARED-PREKEY (OTRv4
// spec, "Public keys, Shared Prekeys, Forging keys and Fingerprints").
const pubkeyTypeSharedPrekey = 0x0011

// Sizes of the fixed-size values of this file.
const (
	// PrekeyProfileSize is the size of an encoded prekey profile: INT
	// instance tag, 8-byte expiration, 2-byte key type and POINT D, and
	// the 114-byte EdDSA signature.
	PrekeyProfileSize = 4 + 8 + 2 + otrcrypto.PointSize + otrcrypto.EdDSASignatureSize
	// SharedPrekeySecretSize is the size of the shared prekey's symmetric
	// key sym_d, from which its secret scalar is derived.
	SharedPrekeySecretSize = otrcrypto.ECDHRandomSize
	// PrekeySecretsSize is the size of the encoding of PrekeySecrets: INT
	// prekey message id, INT instance tag, the 57 random bytes y is made
	// from and the 80-byte DH secret b.
	PrekeySecretsSize = 4 + 4 + otrcrypto.ECDHRandomSize + otrcrypto.DH3072SecretSize
	// prekeyMessageFixedSize is the part of a Prekey message before B:
	// SHORT version, BYTE type, INT id, INT instance tag, POINT Y.
	prekeyMessageFixedSize = 2 + 1 + 4 + 4 + otrcrypto.PointSize
)

var (
	// ErrInvalidPrekeyProfile is wrapped by every error Validate and
	// NewPrekeyProfile return for a prekey profile that is well formed but
	// not acceptable (bad signature, expired, wrong instance tag).
	ErrInvalidPrekeyProfile = errors.New("dake: invalid prekey profile")
)

func invalidPrekeyProfile(what string) error {
	return fmt.Errorf("%w: %s", ErrInvalidPrekeyProfile, what)
}

func malformedPrekey(what string) error {
	return fmt.Errorf("%w: dake: %s", otrencoding.ErrMalformed, what)
}

// PrekeyProfile is an OTRv4 prekey profile (PREKEY-PROF). It is immutable
// once made by [NewPrekeyProfile] or [ParsePrekeyProfile], and safe for
// concurrent use. A parsed profile is only well formed: call
// [PrekeyProfile.Validate] before trusting it.
type PrekeyProfile struct {
	instanceTag  uint32
	expiration   int64
	sharedPrekey otrcrypto.Point // D
	encoded      [PrekeyProfileSize]byte
}

// InstanceTag returns the profile owner's instance tag.
func (p *PrekeyProfile) InstanceTag() uint32 { return p.instanceTag }

// Expiration returns the expiration time (whole seconds, UTC).
func (p *PrekeyProfile) Expiration() time.Time { return time.Unix(p.expiration, 0).UTC() }

// SharedPrekey returns the public shared prekey D.
func (p *PrekeyProfile) SharedPrekey() otrcrypto.Point { return p.sharedPrekey }

// Bytes returns the profile's encoding. The caller owns the returned slice.
func (p *PrekeyProfile) Bytes() []byte { return bytes.Clone(p.encoded[:]) }

// Marshal appends the profile's encoding to b.
func (p *PrekeyProfile) Marshal(b *cryptobyte.Builder) { b.AddBytes(p.encoded[:]) }

// Equal reports whether p and o have the same encoding.
func (p *PrekeyProfile) Equal(o *PrekeyProfile) bool { return p.encoded == o.encoded }

// signedBytes returns m = owner's instance tag || expiration || public
// shared prekey (OTRv4 spec, "Create a Prekey Profile Signature"): the
// encoding without the signature, the shared prekey with its type
// (docs/offline.md, "Prekey profile").
func (p *PrekeyProfile) signedBytes() []byte {
	return p.encoded[:PrekeyProfileSize-otrcrypto.EdDSASignatureSize]
}

// NewPrekeyProfile makes a shared prekey and a prekey profile that
// publishes it, signed with identity (OTRv4 spec, "Creating a Prekey
// Profile"). It reads the 57-byte symmetric key sym_d from rand; the secret
// it returns holds it, for the caller to store until the profile has
// expired and its extra validity is over. Expiration is truncated to whole
// seconds. instanceTag must be the client profile's.
func NewPrekeyProfile(rand io.Reader, instanceTag uint32, identity *otrcrypto.EdDSAPrivateKey,
	expiration time.Time) (*PrekeyProfile, *SharedPrekeySecret, error) {
	if instanceTag < minInstanceTag {
		return nil, nil, invalidPrekeyProfile("instance tag below 0x100")
	}
	var symD [SharedPrekeySecretSize]byte
	defer clear(symD[:])
	if _, err := io.ReadFull(rand, symD[:]); err != nil {
		return nil, nil, err
	}
	secret, err := NewSharedPrekeySecret(symD[:])
	if err != nil {
		return nil, nil, err
	}
	p := &PrekeyProfile{instanceTag: instanceTag, expiration: expiration.Unix(), sharedPrekey: secret.Public()}
	// OTRv4 spec, "Prekey Profile Data Type".
	var b cryptobyte.Builder
	b.AddUint32(p.instanceTag)
	b.AddUint64(uint64(p.expiration)) // PREKEY-PROF-EXP: 8 bytes signed, big-endian
	addSharedPrekey(&b, &p.sharedPrekey)
	m := b.BytesOrPanic()
	sig := identity.Sign(m)
	copy(p.encoded[:], m)
	copy(p.encoded[len(m):], sig[:])
	return p, secret, nil
}

// addSharedPrekey writes an ED448-SHARED-PREKEY: the type 0x0011 as two
// bytes little-endian, as the spec writes it and as the client profile's key
// types are read (docs/interop.md, "Client profile"), then POINT D.
func addSharedPrekey(b *cryptobyte.Builder, D *otrcrypto.Point) {
	b.AddUint8(pubkeyTypeSharedPrekey & 0xff)
	b.AddUint8(pubkeyTypeSharedPrekey >> 8)
	addPoint(b, D)
}

// ParsePrekeyProfile parses a whole prekey profile: b must hold exactly one.
// It checks the structure and that D is a valid point; call Validate to
// check the rest. Errors wrap encoding.ErrMalformed.
func ParsePrekeyProfile(b []byte) (*PrekeyProfile, error) {
	s := cryptobyte.String(b)
	p, err := ReadPrekeyProfile(&s)
	if err != nil {
		return nil, err
	}
	if !s.Empty() {
		return nil, malformedPrekey("prekey profile: trailing bytes")
	}
	return p, nil
}

// ReadPrekeyProfile parses one prekey profile from the front of s, as
// ParsePrekeyProfile does, and advances s past it. On error s is left
// unchanged.
func ReadPrekeyProfile(s *cryptobyte.String) (*PrekeyProfile, error) {
	in := *s
	var enc []byte
	if !in.ReadBytes(&enc, PrekeyProfileSize) {
		return nil, malformedPrekey("prekey profile: short")
	}
	// OTRv4 spec, "Prekey Profile Data Type": INT tag, PREKEY-PROF-EXP,
	// ED448-SHARED-PREKEY, PREKEY-EDDSA-SIG.
	f := cryptobyte.String(enc)
	p := new(PrekeyProfile)
	var exp uint64
	var lo, hi uint8
	var D []byte
	if !f.ReadUint32(&p.instanceTag) || !f.ReadUint64(&exp) || !f.ReadUint8(&lo) || !f.ReadUint8(&hi) ||
		!f.ReadBytes(&D, otrcrypto.PointSize) {
		return nil, malformedPrekey("prekey profile: short")
	}
	if uint16(lo)|uint16(hi)<<8 != pubkeyTypeSharedPrekey {
		return nil, malformedPrekey("prekey profile: wrong shared prekey type")
	}
	pt, err := otrcrypto.ParsePoint(D)
	if err != nil {
		return nil, malformedPrekey("prekey profile: invalid shared prekey")
	}
	p.expiration = int64(exp)
	p.sharedPrekey = pt
	copy(p.encoded[:], enc)
	*s = in
	return p, nil
}

// Validate checks a received prekey profile (OTRv4 spec, "Validating a
// Prekey Profile"), in the spec's order: the EdDSA signature by
// identityKey, the long-term key of the client profile it came with (which
// makes the check "signed by the same long-term public key stated in the
// Client Profile" of "Validating Prekey Ensembles"); the owner's instance
// tag (at least 0x100 and equal to instanceTag, the ensemble's); that it has
// not expired at now. D was validated by the parser. Errors wrap
// [ErrInvalidPrekeyProfile].
func (p *PrekeyProfile) Validate(instanceTag uint32, identityKey *otrcrypto.Point, now time.Time) error {
	sig := p.encoded[PrekeyProfileSize-otrcrypto.EdDSASignatureSize:]
	if !otrcrypto.VerifyEdDSA(identityKey, p.signedBytes(), sig) {
		return invalidPrekeyProfile("bad signature")
	}
	if p.instanceTag < minInstanceTag {
		return invalidPrekeyProfile("instance tag below 0x100")
	}
	if p.instanceTag != instanceTag {
		return invalidPrekeyProfile("instance tag differs")
	}
	if now.Unix() >= p.expiration {
		return invalidPrekeyProfile("expired")
	}
	return nil
}

// SharedPrekeySecret is the secret part of a shared prekey: the symmetric
// key sym_d and the secret scalar sk_d derived from it (OTRv4 spec, "Public
// keys, Shared Prekeys, Forging keys and Fingerprints"). It prints as
// "[redacted]". Its methods are safe for concurrent use, except Wipe.
type SharedPrekeySecret struct {
	symD [SharedPrekeySecretSize]byte
	key  *otrcrypto.ECDHPrivateKey
}

// NewSharedPrekeySecret rebuilds a shared prekey from its 57-byte symmetric
// key sym_d (as Bytes returns it): sk_d is SHAKE-256(sym_d, 114)[0:57],
// pruned, and D = G * sk_d.
func NewSharedPrekeySecret(symD []byte) (*SharedPrekeySecret, error) {
	if len(symD) != SharedPrekeySecretSize {
		return nil, errors.New("dake: shared prekey secret must be 57 bytes")
	}
	// Generating an ED448-SHARED-PREKEY is exactly generateECDH() from 57
	// random bytes.
	key, err := otrcrypto.NewECDHPrivateKey(symD)
	if err != nil {
		return nil, err
	}
	k := &SharedPrekeySecret{key: key}
	copy(k.symD[:], symD)
	return k, nil
}

// Bytes returns sym_d, for the caller to store. The caller should clear it.
func (k *SharedPrekeySecret) Bytes() [SharedPrekeySecretSize]byte { return k.symD }

// Public returns the public shared prekey D.
func (k *SharedPrekeySecret) Public() otrcrypto.Point { return k.key.Public() }

// Wipe clears the secret.
func (k *SharedPrekeySecret) Wipe() {
	clear(k.symD[:])
	k.key.Wipe()
}

// String returns "[redacted]".
func (k SharedPrekeySecret) String() string { return "[redacted]" }

// GoString returns "[redacted]", for %#v.
func (k SharedPrekeySecret) GoString() string { return "[redacted]" }

// LogValue returns "[redacted]" for log/slog.
func (k SharedPrekeySecret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// PrekeyMessage is an OTRv4 Prekey message: a prekey message id, the
// owner's instance tag and two one-time prekeys, Y (ECDH) and B (DH). It is
// immutable and safe for concurrent use. A parsed message has valid Y and B.
type PrekeyMessage struct {
	ID          uint32
	InstanceTag uint32
	Y           otrcrypto.Point
	B           *otrcrypto.DH3072PublicKey
}

// Marshal writes m, header included (OTRv4 spec, "Prekey Message"): SHORT
// version 0x0004, BYTE type 0x0F, INT prekey message id, INT owner's
// instance tag, POINT Y, MPI B.
func (m *PrekeyMessage) Marshal(b *cryptobyte.Builder) {
	b.AddUint16(otrencoding.Version4)
	b.AddUint8(uint8(MsgPrekey))
	b.AddUint32(m.ID)
	b.AddUint32(m.InstanceTag)
	addPoint(b, &m.Y)
	otrencoding.AddMPI(b, m.B.Bytes())
}

// Bytes returns the encoding of m. The caller owns the returned slice.
func (m *PrekeyMessage) Bytes() []byte {
	var b cryptobyte.Builder
	m.Marshal(&b)
	return b.BytesOrPanic()
}

// ParsePrekeyMessage parses a whole Prekey message, header included
// (OTRv4 spec, "Prekey Message", "To verify the Prekey message"): version 4,
// type 0x0F, Y a valid point, B in the DH group. Errors wrap
// encoding.ErrMalformed.
func ParsePrekeyMessage(b []byte) (*PrekeyMessage, error) {
	s := cryptobyte.String(b)
	m, err := ReadPrekeyMessage(&s)
	if err != nil {
		return nil, err
	}
	if !s.Empty() {
		return nil, malformedPrekey("prekey message: trailing bytes")
	}
	return m, nil
}

// ReadPrekeyMessage parses one Prekey message from the front of s, as
// ParsePrekeyMessage does, and advances s past it. On error s is left
// unchanged.
func ReadPrekeyMessage(s *cryptobyte.String) (*PrekeyMessage, error) {
	in := *s
	var version uint16
	var typ uint8
	m := new(PrekeyMessage)
	if !in.ReadUint16(&version) || !in.ReadUint8(&typ) {
		return nil, malformedPrekey("prekey message: short")
	}
	if version != otrencoding.Version4 || otrencoding.MsgType(typ) != MsgPrekey {
		return nil, malformedPrekey("prekey message: wrong version or type")
	}
	if !in.ReadUint32(&m.ID) || !in.ReadUint32(&m.InstanceTag) || !readPoint(&in, &m.Y) || !readDH(&in, &m.B) {
		return nil, malformedPrekey("prekey message: short or invalid key")
	}
	*s = in
	return m, nil
}

// skipPrekeyMessage advances s past the Prekey message at its front without
// decoding Y or B; false if it is cut short.
func skipPrekeyMessage(s *cryptobyte.String) bool {
	var B []byte
	return s.Skip(prekeyMessageFixedSize) && otrencoding.ReadMPI(s, &B)
}

// PrekeySecrets holds the secrets of one Prekey message: its id and
// instance tag, y (kept as the 57 random bytes it is derived from) and b.
// It prints as "[redacted]". Its methods are safe for concurrent use,
// except Wipe.
type PrekeySecrets struct {
	id, instanceTag uint32
	r               [otrcrypto.ECDHRandomSize]byte   // y = generateECDH(r)
	b               [otrcrypto.DH3072SecretSize]byte // the DH secret exponent
	ecdh            *otrcrypto.ECDHPrivateKey
	dh              *otrcrypto.DH3072PrivateKey
}

// NewPrekeyMessage makes a Prekey message for instanceTag and returns it
// with its secrets (OTRv4 spec, "Prekey Message"). It reads, in order, the
// 4-byte prekey message id, the 57 random bytes of y and the 80 bytes of b
// from rand. Ids are random and not checked for uniqueness: a caller that
// finds the id already in its store should make another message.
func NewPrekeyMessage(rand io.Reader, instanceTag uint32) (*PrekeyMessage, *PrekeySecrets, error) {
	if instanceTag < minInstanceTag {
		return nil, nil, errors.New("dake: instance tag below 0x100")
	}
	var buf [PrekeySecretsSize]byte
	defer clear(buf[:])
	if _, err := io.ReadFull(rand, buf[:4]); err != nil {
		return nil, nil, err
	}
	binary.BigEndian.PutUint32(buf[4:8], instanceTag)
	if _, err := io.ReadFull(rand, buf[8:]); err != nil {
		return nil, nil, err
	}
	sec, err := ParsePrekeySecrets(buf[:])
	if err != nil {
		return nil, nil, err
	}
	return sec.Message(), sec, nil
}

// ParsePrekeySecrets rebuilds PrekeySecrets from their encoding (as Bytes
// returns it). It recomputes Y and B.
func ParsePrekeySecrets(b []byte) (*PrekeySecrets, error) {
	if len(b) != PrekeySecretsSize {
		return nil, errors.New("dake: prekey secrets must be 145 bytes")
	}
	s := &PrekeySecrets{id: binary.BigEndian.Uint32(b[0:4]), instanceTag: binary.BigEndian.Uint32(b[4:8])}
	if s.instanceTag < minInstanceTag {
		return nil, errors.New("dake: instance tag below 0x100")
	}
	copy(s.r[:], b[8:8+otrcrypto.ECDHRandomSize])
	copy(s.b[:], b[8+otrcrypto.ECDHRandomSize:])
	var err error
	if s.ecdh, err = otrcrypto.NewECDHPrivateKey(s.r[:]); err != nil {
		s.clearRaw()
		return nil, err
	}
	if s.dh, err = otrcrypto.NewDH3072PrivateKey(s.b[:]); err != nil {
		s.ecdh.Wipe()
		s.clearRaw()
		return nil, err
	}
	return s, nil
}

// ID returns the prekey message id.
func (s *PrekeySecrets) ID() uint32 { return s.id }

// InstanceTag returns the instance tag the Prekey message was made for.
func (s *PrekeySecrets) InstanceTag() uint32 { return s.instanceTag }

// Message returns the public Prekey message of s.
func (s *PrekeySecrets) Message() *PrekeyMessage {
	return &PrekeyMessage{ID: s.id, InstanceTag: s.instanceTag, Y: s.ecdh.Public(), B: s.dh.Public()}
}

// Bytes returns the encoding of s, for the caller to store: INT id, INT
// instance tag, the 57 random bytes of y, b. The caller should clear it.
func (s *PrekeySecrets) Bytes() [PrekeySecretsSize]byte {
	var out [PrekeySecretsSize]byte
	binary.BigEndian.PutUint32(out[0:4], s.id)
	binary.BigEndian.PutUint32(out[4:8], s.instanceTag)
	copy(out[8:], s.r[:])
	copy(out[8+otrcrypto.ECDHRandomSize:], s.b[:])
	return out
}

func (s *PrekeySecrets) clearRaw() {
	clear(s.r[:])
	clear(s.b[:])
}

// Wipe clears the secrets.
func (s *PrekeySecrets) Wipe() {
	s.clearRaw()
	s.ecdh.Wipe()
	s.dh.Wipe()
}

// String returns "[redacted]".
func (s PrekeySecrets) String() string { return "[redacted]" }

// GoString returns "[redacted]", for %#v.
func (s PrekeySecrets) GoString() string { return "[redacted]" }

// LogValue returns "[redacted]" for log/slog.
func (s PrekeySecrets) LogValue() slog.Value { return slog.StringValue("[redacted]") }
