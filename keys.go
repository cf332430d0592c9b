package otr

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	otrcrypto "github.com/otrgo/otr/crypto"
	otrencoding "github.com/otrgo/otr/encoding"
	"golang.org/x/crypto/cryptobyte"
)

// PrivateKeys are an account's long-term identity keys: the DSA key of OTR
// version 3 and the Ed448 identity and forging keys of OTRv4. Store them
// with MarshalBinary; they never appear in logs.
type PrivateKeys struct {
	dsa      *otrcrypto.DSAPrivateKey
	identity *otrcrypto.EdDSAPrivateKey // OTRv4 long-term key
	forging  *otrcrypto.EdDSAPrivateKey // OTRv4 forging key (its public point is published)
}

// GenerateKeys makes new identity keys for both protocol versions from
// rand (nil: crypto/rand).
func GenerateKeys(r io.Reader) (*PrivateKeys, error) {
	if r == nil {
		r = rand.Reader
	}
	k, err := otrcrypto.GenerateDSAKey(r)
	if err != nil {
		return nil, err
	}
	keys := &PrivateKeys{dsa: k}
	if err := keys.generate4(r); err != nil {
		return nil, err
	}
	return keys, nil
}

// generate4 adds OTRv4 keys.
func (k *PrivateKeys) generate4(r io.Reader) error {
	id, err := otrcrypto.GenerateEdDSAKey(r)
	if err != nil {
		return err
	}
	forging, err := otrcrypto.GenerateEdDSAKey(r)
	if err != nil {
		id.Wipe()
		return err
	}
	k.identity, k.forging = id, forging
	return nil
}

// HasV4 reports whether the keys include the OTRv4 Ed448 keys.
func (k *PrivateKeys) HasV4() bool { return k != nil && k.identity != nil && k.forging != nil }

// Fingerprint4 returns the OTRv4 fingerprint (56 bytes) of the identity and
// forging keys, or nil without them.
func (k *PrivateKeys) Fingerprint4() Fingerprint {
	if !k.HasV4() {
		return nil
	}
	id, fo := k.identity.Public(), k.forging.Public()
	fp := otrcrypto.NewFingerprint4(&id, &fo)
	return Fingerprint(fp[:])
}

// NewDSAKeys builds OTR3-only identity keys from raw DSA values
// (big-endian), as read from another program's key file; add OTRv4 keys with
// [PrivateKeys.AddV4].
func NewDSAKeys(p, q, g, y, x []byte) (*PrivateKeys, error) {
	k, err := otrcrypto.NewDSAPrivateKey(p, q, g, y, x)
	if err != nil {
		return nil, err
	}
	return &PrivateKeys{dsa: k}, nil
}

// AddV4 adds newly generated OTRv4 keys (from rand; nil: crypto/rand) to
// keys that have none, such as keys imported from libotr.
func (k *PrivateKeys) AddV4(r io.Reader) error {
	if k.HasV4() {
		return nil
	}
	if r == nil {
		r = rand.Reader
	}
	return k.generate4(r)
}

// keysMagic starts the marshaled form: then DATA(DSA key, may be empty),
// DATA(Ed448 identity seed, 0 or 57 bytes), DATA(forging seed, likewise).
const keysMagic = "otrgo-keys-v2\x00"

// MarshalBinary encodes the keys for storage. The result is secret.
func (k *PrivateKeys) MarshalBinary() ([]byte, error) {
	if k == nil || (k.dsa == nil && !k.HasV4()) {
		return nil, errors.New("otr: no keys")
	}
	var d []byte
	if k.dsa != nil {
		var err error
		if d, err = k.dsa.MarshalBinary(); err != nil {
			return nil, err
		}
		defer clear(d)
	}
	var idSeed, foSeed [otrcrypto.EdDSASeedSize]byte
	defer clear(idSeed[:])
	defer clear(foSeed[:])
	b := cryptobyte.NewBuilder([]byte(keysMagic))
	otrencoding.AddData(b, d)
	if k.HasV4() {
		idSeed, foSeed = k.identity.Seed(), k.forging.Seed()
		otrencoding.AddData(b, idSeed[:])
		otrencoding.AddData(b, foSeed[:])
	} else {
		otrencoding.AddData(b, nil)
		otrencoding.AddData(b, nil)
	}
	return b.Bytes()
}

// ParsePrivateKeys decodes keys made by [PrivateKeys.MarshalBinary].
func ParsePrivateKeys(b []byte) (*PrivateKeys, error) {
	if !strings.HasPrefix(string(b), keysMagic) {
		return nil, errors.New("otr: not a key file")
	}
	s := cryptobyte.String(b[len(keysMagic):])
	var d, idSeed, foSeed []byte
	if !otrencoding.ReadData(&s, &d) || !otrencoding.ReadData(&s, &idSeed) || !otrencoding.ReadData(&s, &foSeed) || !s.Empty() {
		return nil, errors.New("otr: malformed key file")
	}
	defer clear(d)
	defer clear(idSeed)
	defer clear(foSeed)
	k := &PrivateKeys{}
	if len(d) > 0 {
		var err error
		if k.dsa, err = otrcrypto.ParseDSAPrivateKey(d); err != nil {
			return nil, fmt.Errorf("otr: parsing keys: %w", err)
		}
	}
	if len(idSeed) > 0 || len(foSeed) > 0 {
		var err error
		if k.identity, err = otrcrypto.NewEdDSAPrivateKey(idSeed); err != nil {
			return nil, fmt.Errorf("otr: parsing keys: %w", err)
		}
		if k.forging, err = otrcrypto.NewEdDSAPrivateKey(foSeed); err != nil {
			return nil, fmt.Errorf("otr: parsing keys: %w", err)
		}
	}
	if k.dsa == nil && !k.HasV4() {
		return nil, errors.New("otr: key file holds no key")
	}
	return k, nil
}

// Fingerprint returns the OTR3 fingerprint of the DSA public key.
// It returns nil for keys without a DSA key.
func (k *PrivateKeys) Fingerprint() Fingerprint {
	if k == nil || k.dsa == nil {
		return nil
	}
	fp := k.dsa.Public().Fingerprint()
	return Fingerprint(fp[:])
}

// DSAValues returns copies of the DSA parameters and secret x, big-endian,
// for export to another program's key file. The result is secret. All are
// nil for keys without a DSA key.
func (k *PrivateKeys) DSAValues() (p, q, g, y, x []byte) {
	if k == nil || k.dsa == nil {
		return nil, nil, nil, nil, nil
	}
	return k.dsa.Values()
}

// Wipe erases the keys.
func (k *PrivateKeys) Wipe() {
	if k == nil {
		return
	}
	if k.dsa != nil {
		k.dsa.Wipe()
	}
	if k.identity != nil {
		k.identity.Wipe()
	}
	if k.forging != nil {
		k.forging.Wipe()
	}
}

// String returns "[redacted]".
func (k *PrivateKeys) String() string { return "[redacted]" }

// LogValue returns "[redacted]".
func (k *PrivateKeys) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Fingerprint identifies a long-term public key: 20 bytes for OTR3 (SHA-1
// of the DSA key), 56 for OTRv4.
type Fingerprint []byte

// String returns the fingerprint as libotr shows it: upper-case hex in
// groups of eight, e.g. "12345678 9ABCDEF0 ...".
func (f Fingerprint) String() string {
	const hexdigits = "0123456789ABCDEF"
	var b strings.Builder
	for i, c := range f {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteByte(hexdigits[c>>4])
		b.WriteByte(hexdigits[c&15])
	}
	return b.String()
}

// SSID is the secure session id of an OTR3 session (8 bytes).
type SSID [8]byte

// String returns the SSID as two 32-bit hex values, as libotr shows it.
func (s SSID) String() string { return fmt.Sprintf("%x %x", s[:4], s[4:]) }
