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

// String returns the fingerprint as 112 upper-case hex digits in fourteen
// groups of eight separated by spaces, the way libotr prints OTR3
// fingerprints.
func (f Fingerprint4) String() string {
	h := strings.ToUpper(hex.EncodeToString(f[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 8 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(h[i : i+8])
	}
	return b.String()
}
