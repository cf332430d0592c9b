package crypto

import (
	"encoding/hex"
	"strings"
)

// Fingerprint4Size is the size of an OTRv4 fingerprint in bytes.
const Fingerprint4Size = 56

// Fingerprint4 is an OTRv4 fingerprint: HWC(usage_fingerprint || byte(H) ||
// byte(F), 56) over the identity key H and the forging key F (OTRv4 spec,
// "Public keys, Shared Prekeys, Forging keys and Fingerprints").
type Fingerprint4 [Fingerprint4Size]byte

// NewFingerprint4 returns the fingerprint of the identity key and the forging
// key.
func NewFingerprint4(identity, forging *Point) Fingerprint4 {
	h, f := identity.Bytes(), forging.Bytes()
	var fp Fingerprint4
	KDF(fp[:], UsageFingerprint, h[:], f[:])
	return fp
}

// String returns the fingerprint as 112 upper-case hex digits without
// separators, the form otr4j displays and otr.Fingerprint.String uses for
// OTRv4 (the repository's docs/fingerprints.md).
func (f Fingerprint4) String() string { return strings.ToUpper(hex.EncodeToString(f[:])) }
