package dake

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"

	otrcrypto "github.com/otrgo/otr/crypto"
	otrencoding "github.com/otrgo/otr/encoding"
)

// Client profile field types (OTRv4 spec, "Client Profile Data Type").
const (
	fieldInstanceTag  = 0x0001
	fieldIdentityKey  = 0x0002
	fieldForgingKey   = 0x0003
	fieldVersions     = 0x0004
	fieldExpiration   = 0x0005
	fieldDSAKey       = 0x0006
	fieldTransitional = 0x0007
	fieldMax          = fieldTransitional
)

// Public key type codes inside fields 2 and 3 (OTRv4 spec, "Public keys,
// Shared Prekeys, Forging keys and Fingerprints").
const (
	pubkeyTypeEd448   = 0x0010
	pubkeyTypeForging = 0x0012
)

// transitionalSigSize is the size of the OTR3 DSA transitional signature:
// r and s of 20 bytes each.
const transitionalSigSize = 40

// minInstanceTag is the smallest valid instance tag.
const minInstanceTag = 0x100

var (
	// ErrInvalidClientProfile is wrapped by every error Validate and
	// NewClientProfile return for a profile that is well formed but not
	// acceptable (bad signature, expired, wrong instance tag, versions).
	ErrInvalidClientProfile = errors.New("dake: invalid client profile")
)

// malformedProfile returns a parse error: it wraps encoding.ErrMalformed.
func malformedProfile(what string) error {
	return fmt.Errorf("%w: client profile: %s", otrencoding.ErrMalformed, what)
}

func invalidProfile(what string) error {
	return fmt.Errorf("%w: %s", ErrInvalidClientProfile, what)
}

// ClientProfile is an OTRv4 client profile (CLIENT-PROF). It is immutable
// once made by [NewClientProfile] or [ParseClientProfile], and safe for
// concurrent use. A parsed profile is only well formed: call
// [ClientProfile.Validate] before trusting it.
type ClientProfile struct {
	instanceTag  uint32
	identityKey  otrcrypto.Point
	forgingKey   otrcrypto.Point
	versions     string
	expiration   int64
	dsaKey       *otrcrypto.DSAPublicKey // nil when absent
	transitional []byte                  // nil when absent
	signature    [otrcrypto.EdDSASignatureSize]byte

	// fields holds each field's encoding (SHORT type || value), indexed by
	// type; encoded is the whole profile as made or as received.
	fields  [fieldMax + 1][]byte
	encoded []byte
}

// InstanceTag returns the profile owner's instance tag.
func (p *ClientProfile) InstanceTag() uint32 { return p.instanceTag }

// IdentityKey returns the Ed448 long-term public key H.
func (p *ClientProfile) IdentityKey() otrcrypto.Point { return p.identityKey }

// ForgingKey returns the Ed448 forging public key F.
func (p *ClientProfile) ForgingKey() otrcrypto.Point { return p.forgingKey }

// Versions returns the versions string, for example "4" or "34".
func (p *ClientProfile) Versions() string { return p.versions }

// Expiration returns the expiration time (whole seconds, UTC).
func (p *ClientProfile) Expiration() time.Time { return time.Unix(p.expiration, 0).UTC() }

// DSAKey returns a copy of the OTR3 DSA public key, or nil if the profile
// has none.
func (p *ClientProfile) DSAKey() *otrcrypto.DSAPublicKey {
	if p.dsaKey == nil {
		return nil
	}
	k := *p.dsaKey
	k.P, k.Q, k.G, k.Y = bytes.Clone(k.P), bytes.Clone(k.Q), bytes.Clone(k.G), bytes.Clone(k.Y)
	return &k
}

// TransitionalSignature returns a copy of the 40-byte OTR3 transitional
// signature, or nil if the profile has none.
func (p *ClientProfile) TransitionalSignature() []byte { return bytes.Clone(p.transitional) }

// Fingerprint returns the OTRv4 fingerprint of the profile's identity and
// forging keys.
func (p *ClientProfile) Fingerprint() otrcrypto.Fingerprint4 {
	return otrcrypto.NewFingerprint4(&p.identityKey, &p.forgingKey)
}

// Bytes returns the profile's encoding: INT number of fields || fields ||
// EdDSA signature. For a parsed profile these are exactly the bytes received
// (fields in the order they arrived). The caller owns the returned slice.
func (p *ClientProfile) Bytes() []byte { return bytes.Clone(p.encoded) }

// Marshal appends the profile's encoding to b.
func (p *ClientProfile) Marshal(b *cryptobyte.Builder) { b.AddBytes(p.encoded) }

// Equal reports whether p and o have the same encoding.
func (p *ClientProfile) Equal(o *ClientProfile) bool { return bytes.Equal(p.encoded, o.encoded) }

// signedBytes returns what the EdDSA profile signature covers: the encoded
// fields in the fixed order 1, 2, 3, 4, 5, (6), (7), without the field count,
// whatever order they arrived in (docs/interop.md, "Client profile": otr4j
// rejects a reordered profile signed in received order).
func (p *ClientProfile) signedBytes() []byte {
	var out []byte
	for typ := fieldInstanceTag; typ <= fieldTransitional; typ++ {
		out = append(out, p.fields[typ]...)
	}
	return out
}

// transitionalSignedBytes returns what the transitional DSA signature
// covers: fields 1 to 6 in order (docs/interop.md, "Client profile").
func (p *ClientProfile) transitionalSignedBytes() []byte {
	var out []byte
	for typ := fieldInstanceTag; typ <= fieldDSAKey; typ++ {
		out = append(out, p.fields[typ]...)
	}
	return out
}

// NewClientProfile makes and signs a client profile (OTRv4 spec, "Creating a
// Client Profile"). versions is the versions string ("4" or "34"); it must
// contain "4". If dsa is not nil the profile carries its public key (field 6)
// and a transitional signature (field 7) made with it, and versions must
// contain "3". rand is used only for the DSA signature. Expiration is
// truncated to whole seconds.
func NewClientProfile(rand io.Reader, instanceTag uint32, identity *otrcrypto.EdDSAPrivateKey,
	forging *otrcrypto.Point, versions string, expiration time.Time, dsa *otrcrypto.DSAPrivateKey) (*ClientProfile, error) {
	if err := checkVersions(versions); err != nil {
		return nil, err
	}
	if instanceTag < minInstanceTag {
		return nil, invalidProfile("instance tag below 0x100")
	}
	if forging.IsIdentity() {
		return nil, invalidProfile("forging key is the identity")
	}
	has3 := strings.Contains(versions, "3")
	if (dsa != nil) != has3 {
		return nil, invalidProfile("a DSA key goes with version 3, and version 3 needs one")
	}
	p := &ClientProfile{
		instanceTag: instanceTag,
		identityKey: identity.Public(),
		forgingKey:  *forging,
		versions:    versions,
		expiration:  expiration.Unix(),
	}
	if dsa != nil {
		p.dsaKey = dsa.Public()
	}
	p.encodeFields()
	if dsa != nil {
		sig, err := dsa.Sign(rand, p.transitionalSignedBytes())
		if err != nil {
			return nil, err
		}
		p.setTransitional(sig)
	}
	p.sign(identity)
	return p, nil
}

// encodeFields fills p.fields 1..6 from p's values.
func (p *ClientProfile) encodeFields() {
	field := func(typ uint16, f func(b *cryptobyte.Builder)) []byte {
		var b cryptobyte.Builder
		b.AddUint16(typ)
		f(&b)
		return b.BytesOrPanic()
	}
	p.fields[fieldInstanceTag] = field(fieldInstanceTag, func(b *cryptobyte.Builder) { b.AddUint32(p.instanceTag) })
	p.fields[fieldIdentityKey] = field(fieldIdentityKey, func(b *cryptobyte.Builder) {
		// docs/interop.md, "Client profile": the key type is little-endian.
		b.AddUint8(pubkeyTypeEd448 & 0xff)
		b.AddUint8(pubkeyTypeEd448 >> 8)
		k := p.identityKey.Bytes()
		b.AddBytes(k[:])
	})
	p.fields[fieldForgingKey] = field(fieldForgingKey, func(b *cryptobyte.Builder) {
		b.AddUint8(pubkeyTypeForging & 0xff)
		b.AddUint8(pubkeyTypeForging >> 8)
		k := p.forgingKey.Bytes()
		b.AddBytes(k[:])
	})
	p.fields[fieldVersions] = field(fieldVersions, func(b *cryptobyte.Builder) { otrencoding.AddData(b, []byte(p.versions)) })
	p.fields[fieldExpiration] = field(fieldExpiration, func(b *cryptobyte.Builder) { b.AddUint64(uint64(p.expiration)) })
	if p.dsaKey != nil {
		p.fields[fieldDSAKey] = field(fieldDSAKey, func(b *cryptobyte.Builder) {
			k := otrencoding.DSAPublicKey{P: p.dsaKey.P, Q: p.dsaKey.Q, G: p.dsaKey.G, Y: p.dsaKey.Y}
			k.Marshal(b)
		})
	}
}

func (p *ClientProfile) setTransitional(sig []byte) {
	p.transitional = bytes.Clone(sig)
	var b cryptobyte.Builder
	b.AddUint16(fieldTransitional)
	b.AddBytes(sig)
	p.fields[fieldTransitional] = b.BytesOrPanic()
}

// sign makes the EdDSA signature and the encoding, fields in order.
func (p *ClientProfile) sign(identity *otrcrypto.EdDSAPrivateKey) {
	p.signature = identity.Sign(p.signedBytes())
	var b cryptobyte.Builder
	n := 0
	for _, f := range p.fields {
		if f != nil {
			n++
		}
	}
	b.AddUint32(uint32(n))
	b.AddBytes(p.signedBytes())
	b.AddBytes(p.signature[:])
	p.encoded = b.BytesOrPanic()
}

// ParseClientProfile parses a whole client profile: b must hold exactly one.
// It checks the structure only: known field types, no duplicates, the
// required fields 1 to 5 present, valid Ed448 points (on the curve, not the
// identity, in the prime-order subgroup). Call Validate to check the rest.
// Errors wrap encoding.ErrMalformed.
func ParseClientProfile(b []byte) (*ClientProfile, error) {
	s := cryptobyte.String(b)
	p, err := ReadClientProfile(&s)
	if err != nil {
		return nil, err
	}
	if !s.Empty() {
		return nil, malformedProfile("trailing bytes")
	}
	return p, nil
}

// ReadClientProfile parses one client profile from the front of s, as
// ParseClientProfile does, and advances s past it. On error s is left
// unchanged.
func ReadClientProfile(s *cryptobyte.String) (*ClientProfile, error) {
	start := *s
	in := *s
	p := new(ClientProfile)
	var n uint32
	if !in.ReadUint32(&n) {
		return nil, malformedProfile("short field count")
	}
	// Every field type may appear once: more than seven fields is malformed.
	if n > fieldMax {
		return nil, malformedProfile("too many fields")
	}
	for range n {
		fieldStart := in
		var typ uint16
		if !in.ReadUint16(&typ) {
			return nil, malformedProfile("short field type")
		}
		if typ < fieldInstanceTag || typ > fieldMax {
			return nil, malformedProfile("unknown field type")
		}
		if p.fields[typ] != nil {
			return nil, malformedProfile("duplicate field")
		}
		if err := p.readField(&in, typ); err != nil {
			return nil, err
		}
		p.fields[typ] = bytes.Clone(fieldStart[:len(fieldStart)-len(in)])
	}
	for typ := fieldInstanceTag; typ <= fieldExpiration; typ++ {
		if p.fields[typ] == nil {
			return nil, malformedProfile("missing required field")
		}
	}
	var sig []byte
	if !in.ReadBytes(&sig, otrcrypto.EdDSASignatureSize) {
		return nil, malformedProfile("short signature")
	}
	copy(p.signature[:], sig)
	p.encoded = bytes.Clone(start[:len(start)-len(in)])
	*s = in
	return p, nil
}

// peekInstanceTag returns the instance tag of the client profile at the
// front of b when it is the profile's first field (as every implementation
// writes it), without decoding anything else; ok is false otherwise.
func peekInstanceTag(b []byte) (tag uint32, ok bool) {
	s := cryptobyte.String(b)
	var n uint32
	var typ uint16
	if !s.ReadUint32(&n) || n == 0 || !s.ReadUint16(&typ) || typ != fieldInstanceTag || !s.ReadUint32(&tag) {
		return 0, false
	}
	return tag, true
}

// skipClientProfile advances s past the client profile at its front
// without decoding or verifying anything; false if it is cut short.
func skipClientProfile(s *cryptobyte.String) bool {
	var n uint32
	if !s.ReadUint32(&n) || n > fieldMax {
		return false
	}
	for range n {
		var typ uint16
		if !s.ReadUint16(&typ) {
			return false
		}
		ok := false
		switch typ {
		case fieldInstanceTag:
			ok = s.Skip(4)
		case fieldIdentityKey, fieldForgingKey:
			ok = s.Skip(2 + otrcrypto.PointSize)
		case fieldVersions:
			var v []byte
			ok = otrencoding.ReadData(s, &v)
		case fieldExpiration:
			ok = s.Skip(8)
		case fieldDSAKey:
			var k otrencoding.DSAPublicKey
			ok = otrencoding.ReadDSAPublicKey(s, &k)
		case fieldTransitional:
			ok = s.Skip(transitionalSigSize)
		}
		if !ok {
			return false
		}
	}
	return s.Skip(otrcrypto.EdDSASignatureSize)
}

// readField reads the value of one field of type typ.
func (p *ClientProfile) readField(s *cryptobyte.String, typ uint16) error {
	switch typ {
	case fieldInstanceTag:
		if !s.ReadUint32(&p.instanceTag) {
			return malformedProfile("short instance tag")
		}
	case fieldIdentityKey, fieldForgingKey:
		want := uint16(pubkeyTypeEd448)
		if typ == fieldForgingKey {
			want = pubkeyTypeForging
		}
		var lo, hi uint8
		var enc []byte
		// docs/interop.md, "Client profile": the key type is little-endian.
		if !s.ReadUint8(&lo) || !s.ReadUint8(&hi) || !s.ReadBytes(&enc, otrcrypto.PointSize) {
			return malformedProfile("short public key")
		}
		if uint16(lo)|uint16(hi)<<8 != want {
			return malformedProfile("wrong public key type")
		}
		pt, err := otrcrypto.ParsePoint(enc)
		if err != nil {
			return malformedProfile("invalid public key")
		}
		if typ == fieldIdentityKey {
			p.identityKey = pt
		} else {
			p.forgingKey = pt
		}
	case fieldVersions:
		var v []byte
		if !otrencoding.ReadData(s, &v) {
			return malformedProfile("short versions")
		}
		p.versions = string(v)
	case fieldExpiration:
		var e uint64
		if !s.ReadUint64(&e) {
			return malformedProfile("short expiration")
		}
		p.expiration = int64(e)
	case fieldDSAKey:
		var k otrencoding.DSAPublicKey
		if !otrencoding.ReadDSAPublicKey(s, &k) {
			return malformedProfile("invalid DSA key")
		}
		p.dsaKey = &otrcrypto.DSAPublicKey{P: k.P, Q: k.Q, G: k.G, Y: k.Y}
	case fieldTransitional:
		var sig []byte
		if !s.ReadBytes(&sig, transitionalSigSize) {
			return malformedProfile("short transitional signature")
		}
		p.transitional = bytes.Clone(sig)
	}
	return nil
}

// checkVersions accepts a versions string that contains "4" and neither "1"
// nor "2" (OTRv4 spec, "Establishing Versions"); other characters are
// ignored.
func checkVersions(v string) error {
	if strings.ContainsAny(v, "12") {
		return invalidProfile("versions contain 1 or 2")
	}
	if !strings.Contains(v, "4") {
		return invalidProfile("versions lack 4")
	}
	return nil
}

// Validate checks a received profile (OTRv4 spec, "Validating a Client
// Profile", and docs/interop.md, "Client profile"): the EdDSA signature over
// the fields in canonical order, the instance tag (at least 0x100 and equal
// to senderTag, the sender instance tag of the message that carried the
// profile), that it has not expired at now, that the versions contain "4"
// (and no "1" or "2"), and that a profile listing version 3 or carrying a DSA
// key has a transitional signature, which is verified when the DSA key is
// present. The points were validated by the parser. Errors wrap
// [ErrInvalidClientProfile].
func (p *ClientProfile) Validate(senderTag uint32, now time.Time) error {
	if !otrcrypto.VerifyEdDSA(&p.identityKey, p.signedBytes(), p.signature[:]) {
		return invalidProfile("bad signature")
	}
	if p.instanceTag < minInstanceTag {
		return invalidProfile("instance tag below 0x100")
	}
	if p.instanceTag != senderTag {
		return invalidProfile("instance tag differs from the sender's")
	}
	if now.Unix() >= p.expiration {
		return invalidProfile("expired")
	}
	if err := checkVersions(p.versions); err != nil {
		return err
	}
	if (strings.Contains(p.versions, "3") || p.dsaKey != nil) && p.transitional == nil {
		return invalidProfile("version 3 or a DSA key without a transitional signature")
	}
	if p.dsaKey != nil {
		if p.dsaKey.Check() != nil || !p.dsaKey.Verify(p.transitionalSignedBytes(), p.transitional) {
			return invalidProfile("bad transitional signature")
		}
	}
	return nil
}
