package otr

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	otrcrypto "github.com/otrgo/otr/crypto"
)

// PrivateKeys are an account's long-term identity keys: the DSA key of OTR
// version 3 (the OTRv4 Ed448 keys will join it). Store them with
// MarshalBinary; they never appear in logs.
type PrivateKeys struct {
	dsa *otrcrypto.DSAPrivateKey
}

// GenerateKeys makes new identity keys from rand (nil: crypto/rand).
func GenerateKeys(r io.Reader) (*PrivateKeys, error) {
	if r == nil {
		r = rand.Reader
	}
	k, err := otrcrypto.GenerateDSAKey(r)
	if err != nil {
		return nil, err
	}
	return &PrivateKeys{dsa: k}, nil
}

// NewDSAKeys builds identity keys from raw DSA values (big-endian), as read
// from another program's key file.
func NewDSAKeys(p, q, g, y, x []byte) (*PrivateKeys, error) {
	k, err := otrcrypto.NewDSAPrivateKey(p, q, g, y, x)
	if err != nil {
		return nil, err
	}
	return &PrivateKeys{dsa: k}, nil
}

// keysMagic starts the marshaled form.
const keysMagic = "otrgo-keys-v1\x00"

// MarshalBinary encodes the keys for storage. The result is secret.
func (k *PrivateKeys) MarshalBinary() ([]byte, error) {
	if k == nil || k.dsa == nil {
		return nil, errors.New("otr: no keys")
	}
	d, err := k.dsa.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return append([]byte(keysMagic), d...), nil
}

// ParsePrivateKeys decodes keys made by [PrivateKeys.MarshalBinary].
func ParsePrivateKeys(b []byte) (*PrivateKeys, error) {
	if !strings.HasPrefix(string(b), keysMagic) {
		return nil, errors.New("otr: not a key file")
	}
	d, err := otrcrypto.ParseDSAPrivateKey(b[len(keysMagic):])
	if err != nil {
		return nil, fmt.Errorf("otr: parsing keys: %w", err)
	}
	return &PrivateKeys{dsa: d}, nil
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
	if k != nil && k.dsa != nil {
		k.dsa.Wipe()
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
