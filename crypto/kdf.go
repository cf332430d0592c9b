package crypto

// OTRv4 KDF, HWC and HCMAC (OTRv4 spec, "Key Derivation Function, Hash
// Function and MAC Function") and HashToScalar (spec appendix
// "HashToScalar").

// KDFUsage is the one-byte usage ID that separates the uses of the OTRv4 KDF.
type KDFUsage byte

// The usage IDs of the OTRv4 spec, "Key Derivation Function, Hash Function
// and MAC Function". The SMP hashes use the IDs 0x01..0x08 of their own
// section ("SMP Hash Function"), which overlap these.
const (
	UsageFingerprint                  KDFUsage = 0x00
	UsageThirdBraceKey                KDFUsage = 0x01
	UsageBraceKey                     KDFUsage = 0x02
	UsageSharedSecret                 KDFUsage = 0x03
	UsageSSID                         KDFUsage = 0x04
	UsageAuthRBobClientProfile        KDFUsage = 0x05
	UsageAuthRAliceClientProfile      KDFUsage = 0x06
	UsageAuthRPhi                     KDFUsage = 0x07
	UsageAuthIBobClientProfile        KDFUsage = 0x08
	UsageAuthIAliceClientProfile      KDFUsage = 0x09
	UsageAuthIPhi                     KDFUsage = 0x0A
	UsageFirstRootKey                 KDFUsage = 0x0B
	UsageTmpKey                       KDFUsage = 0x0C
	UsageAuthMACKey                   KDFUsage = 0x0D
	UsageNonIntAuthBobClientProfile   KDFUsage = 0x0E
	UsageNonIntAuthAliceClientProfile KDFUsage = 0x0F
	UsageNonIntAuthPhi                KDFUsage = 0x10
	UsageAuthMAC                      KDFUsage = 0x11
	UsageRootKey                      KDFUsage = 0x12
	UsageChainKey                     KDFUsage = 0x13
	UsageNextChainKey                 KDFUsage = 0x14
	UsageMessageKey                   KDFUsage = 0x15
	UsageMACKey                       KDFUsage = 0x16
	UsageExtraSymmKey                 KDFUsage = 0x17
	UsageAuthenticator                KDFUsage = 0x18
	UsageSMPSecret                    KDFUsage = 0x19
	UsageAuth                         KDFUsage = 0x1A
)

// kdfPrefix is the domain separator of every OTRv4 KDF call.
var kdfPrefix = []byte("OTRv4")

// KDF fills dst with SHAKE-256("OTRv4" || usage || values..., len(dst)).
// The values are concatenated as they are, without length prefixes. HWC and
// HCMAC of the spec are the same function.
func KDF(dst []byte, usage KDFUsage, values ...[]byte) {
	parts := make([][]byte, 0, len(values)+2)
	parts = append(parts, kdfPrefix, []byte{byte(usage)})
	parts = append(parts, values...)
	ed448Shake(dst, parts...)
}

// HashToScalar returns HWC(usage || values..., 57) read as a little-endian
// integer and reduced mod q (docs/interop.md, OTRv4: "HashToScalar reads the
// 57-byte SHAKE-256 output little-endian and reduces mod q").
func HashToScalar(usage KDFUsage, values ...[]byte) Scalar {
	var h [57]byte
	KDF(h[:], usage, values...)
	var s Scalar
	s.SetBytesModQ(h[:])
	clear(h[:])
	return s
}
