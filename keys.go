package otr

import (
	"crypto/rand"
	"encoding/hex"
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
// of the DSA key), 56 for OTRv4 (HWC over the Ed448 identity and forging
// keys). The length says the version: see [Fingerprint.Version]. A
// Fingerprint is a plain byte slice: its methods only read it and are safe
// for concurrent use.
type Fingerprint []byte

// Sizes of the fingerprints of each protocol version, in bytes.
const (
	fingerprint3Size = 20 // SHA-1, as crypto.DSAPublicKey.Fingerprint returns
	fingerprint4Size = otrcrypto.Fingerprint4Size
)

// Version returns the protocol version the fingerprint belongs to, told by
// its length: 3 for 20 bytes, 4 for 56 bytes, 0 for any other length
// (including nil).
func (f Fingerprint) Version() int {
	switch len(f) {
	case fingerprint3Size:
		return 3
	case fingerprint4Size:
		return 4
	}
	return 0
}

// String returns the fingerprint in the form users of its protocol version
// know, so that it can be compared by eye with the peer's client:
//
//   - OTR3 (20 bytes): as libotr's otrl_privkey_hash_to_human prints it,
//     40 upper-case hex digits in five groups of eight separated by spaces,
//     e.g. "4FDEAEEF E1AE6782 2A6A7BC7 3631270F 6C74A6DB".
//   - OTRv4 (56 bytes): as otr4j renders it (ByteArrays.toHexString),
//     112 upper-case hex digits without separators.
//
// Any other length is not a fingerprint of either version and comes out as
// plain lower-case hex ("" for nil). [ParseFingerprint] reads both forms.
func (f Fingerprint) String() string {
	switch f.Version() {
	case 3:
		// libotr, otrl_privkey_hash_to_human: "%02X" per byte, a space
		// after every fourth byte but the last.
		h := strings.ToUpper(hex.EncodeToString(f))
		var b strings.Builder
		for i := 0; i < len(h); i += 8 {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(h[i : i+8])
		}
		return b.String()
	case 4:
		// otr4j, ByteArrays.toHexString: upper-case, no grouping. See
		// docs/fingerprints.md for the commits this form was taken from.
		return strings.ToUpper(hex.EncodeToString(f))
	}
	return hex.EncodeToString(f)
}

// ParseFingerprint reads a fingerprint in either display form of
// [Fingerprint.String]: 40 hex digits (OTR3) or 112 hex digits (OTRv4), in
// either case, with spaces anywhere or none (leading and trailing white
// space is ignored too). It returns an error for any other number of
// digits or a character that is neither a hex digit nor a space. The
// returned slice is newly allocated and owned by the caller.
func ParseFingerprint(s string) (Fingerprint, error) {
	digits := strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	notHex := func(r rune) bool {
		return !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F')
	}
	if strings.IndexFunc(digits, notHex) >= 0 {
		return nil, errors.New("otr: fingerprint is not hex")
	}
	if n := len(digits); n != 2*fingerprint3Size && n != 2*fingerprint4Size {
		return nil, fmt.Errorf("otr: fingerprint has %d hex digits, want %d (OTR3) or %d (OTRv4)",
			n, 2*fingerprint3Size, 2*fingerprint4Size)
	}
	fp, err := hex.DecodeString(digits)
	if err != nil {
		panic("otr: internal error: checked hex did not decode")
	}
	return Fingerprint(fp), nil
}

// SSID is the secure session id of an OTR3 session (8 bytes).
type SSID [8]byte

// String returns the SSID as two 32-bit hex values, as libotr shows it.
func (s SSID) String() string { return fmt.Sprintf("%x %x", s[:4], s[4:]) }
