package otr

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
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
	wiped    bool                       // Wipe ran: the keys are zero and unusable
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

// The key file formats. Each begins with its own magic string; the
// version in it is the format's, not the protocol's.
//
// Format 2 (written until format 3 replaced it; read only):
//
//	"otrgo-keys-v2\x00"
//	DATA(DSA key: MPI p, q, g, y, x; empty without a DSA key)
//	DATA(Ed448 identity seed, 0 or 57 bytes)
//	DATA(Ed448 forging seed, 0 or 57 bytes)
//
// Format 3 (written by MarshalBinary):
//
//	"otrgo-keys-v3\x00"
//	DATA(DSA key, as in format 2)
//	DATA(identity seed, 0 or 57 bytes)
//	DATA(identity public key, a 57-byte POINT with the seed, else empty)
//	DATA(forging seed, 0 or 57 bytes)
//	DATA(forging public key, likewise)
//	SHA-256 of every byte before it (32 bytes)
//
// Format 2 stores the OTRv4 keys as seeds alone, and every 57-byte seed is
// a valid key: a flipped bit there gives other keys (another OTRv4
// fingerprint) without any error, and nothing in a format 2 file can tell.
// Format 3 covers every byte with a SHA-256 checksum, checked before
// anything is parsed, so a damaged or truncated file is refused (a random
// corruption passes with probability 2^-256); and it checks each stored
// public key against the one its seed gives, so a file that a faulty
// writer made inconsistent is refused too. The DSA key needs no public key
// beside it: y is part of it, and parsing checks y = g^x.
const (
	keysMagicV2 = "otrgo-keys-v2\x00"
	keysMagicV3 = "otrgo-keys-v3\x00"
)

// MarshalBinary encodes the keys for storage in key file format 3: a magic
// string naming the format, the DSA key (with its public value y), each
// OTRv4 seed beside its public key, and a SHA-256 checksum of all of it,
// so that [ParsePrivateKeys] refuses a damaged file. The encoding is
// deterministic. The result is secret and owned by the caller, who should
// clear it after use.
func (k *PrivateKeys) MarshalBinary() ([]byte, error) {
	if k == nil || (k.dsa == nil && !k.HasV4()) {
		return nil, errors.New("otr: no keys")
	}
	if k.wiped {
		return nil, ErrKeysWiped
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
	b := cryptobyte.NewBuilder([]byte(keysMagicV3))
	otrencoding.AddData(b, d)
	if k.HasV4() {
		idSeed, foSeed = k.identity.Seed(), k.forging.Seed()
		id, fo := k.identity.Public(), k.forging.Public()
		idPub, foPub := id.Bytes(), fo.Bytes()
		otrencoding.AddData(b, idSeed[:])
		otrencoding.AddData(b, idPub[:])
		otrencoding.AddData(b, foSeed[:])
		otrencoding.AddData(b, foPub[:])
	} else {
		for range 4 {
			otrencoding.AddData(b, nil)
		}
	}
	out, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(out)
	return append(out, sum[:]...), nil
}

// ParsePrivateKeys decodes keys made by [PrivateKeys.MarshalBinary]: the
// current key file format 3, and format 2, which earlier versions wrote
// (marshal the keys again to rewrite such a file as format 3).
//
// A format 3 file is refused, with an error saying it is corrupted, when
// its checksum does not match (a flipped bit, a truncation, an edit) or a
// stored public key is not the one its seed gives; nothing is returned
// from a refused file. Format 2 has no checksum and stores seeds alone: a
// corruption of its OTRv4 seeds cannot be detected and loads as other
// OTRv4 keys.
func ParsePrivateKeys(b []byte) (*PrivateKeys, error) {
	switch {
	case strings.HasPrefix(string(b), keysMagicV3):
		return parseKeysV3(b)
	case strings.HasPrefix(string(b), keysMagicV2):
		return parseKeysV2(b[len(keysMagicV2):])
	}
	return nil, errors.New("otr: not a key file (or of an unknown format)")
}

// parseKeysV3 parses a whole format 3 file, magic included.
func parseKeysV3(b []byte) (*PrivateKeys, error) {
	if len(b) < len(keysMagicV3)+sha256.Size {
		return nil, errors.New("otr: key file corrupted: truncated")
	}
	body, stored := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	// The checksum comes first: a corrupted file is refused before any of
	// it is parsed (and before the slow DSA key validation).
	sum := sha256.Sum256(body)
	if subtle.ConstantTimeCompare(sum[:], stored) != 1 {
		return nil, errors.New("otr: key file corrupted: checksum mismatch (the file was truncated, damaged or edited)")
	}
	s := cryptobyte.String(body[len(keysMagicV3):])
	var d, idSeed, idPub, foSeed, foPub []byte
	defer func() { clear(d); clear(idSeed); clear(foSeed) }()
	if !otrencoding.ReadData(&s, &d) || !otrencoding.ReadData(&s, &idSeed) || !otrencoding.ReadData(&s, &idPub) ||
		!otrencoding.ReadData(&s, &foSeed) || !otrencoding.ReadData(&s, &foPub) || !s.Empty() {
		return nil, errors.New("otr: malformed key file")
	}
	k, err := newKeysFromParts(d, idSeed, foSeed)
	if err != nil {
		return nil, err
	}
	if k.HasV4() {
		id, fo := k.identity.Public(), k.forging.Public()
		idWant, foWant := id.Bytes(), fo.Bytes()
		if !bytes.Equal(idPub, idWant[:]) || !bytes.Equal(foPub, foWant[:]) {
			k.Wipe()
			return nil, errors.New("otr: key file corrupted: a stored OTRv4 public key does not match its seed")
		}
	} else if len(idPub) != 0 || len(foPub) != 0 {
		k.Wipe()
		return nil, errors.New("otr: malformed key file: OTRv4 public keys without seeds")
	}
	return k, nil
}

// parseKeysV2 parses a format 2 file after its magic.
func parseKeysV2(b []byte) (*PrivateKeys, error) {
	s := cryptobyte.String(b)
	var d, idSeed, foSeed []byte
	defer func() { clear(d); clear(idSeed); clear(foSeed) }()
	if !otrencoding.ReadData(&s, &d) || !otrencoding.ReadData(&s, &idSeed) || !otrencoding.ReadData(&s, &foSeed) || !s.Empty() {
		return nil, errors.New("otr: malformed key file")
	}
	return newKeysFromParts(d, idSeed, foSeed)
}

// newKeysFromParts builds keys from an encoded DSA key and the two Ed448
// seeds, each possibly empty (both seeds or neither).
func newKeysFromParts(d, idSeed, foSeed []byte) (*PrivateKeys, error) {
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
			k.Wipe()
			return nil, fmt.Errorf("otr: parsing keys: %w", err)
		}
		if k.forging, err = otrcrypto.NewEdDSAPrivateKey(foSeed); err != nil {
			k.Wipe()
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
	k.wiped = true
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
