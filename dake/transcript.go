package dake

// Values the interactive DAKE derives and signs (OTRv4 spec, "Shared
// Session State", "Auth-R Message", "Auth-I Message", "Shared Secrets").
// Names follow the spec: phi, t, K_ecdh (kECDH), k_dh (kDH), brace_key
// (braceKey), K, SSID. "bob" is the party that sends the Identity message,
// "alice" the one that answers with Auth-R.

import (
	"golang.org/x/crypto/cryptobyte"

	otrcrypto "github.com/otrgo/otr/crypto"
	otrencoding "github.com/otrgo/otr/encoding"
)

// phiInput builds the shared session state phi is hashed from.
// docs/interop.md, "DAKE": by role, not sorted: sender's instance tag,
// receiver's instance tag, sender's first ECDH public key, sender's first DH
// public key (MPI), receiver's first ECDH, receiver's first DH, then
// DATA(sender's account id) and DATA(receiver's account id). The sender is
// the party that sends the Auth message being built or verified.
func phiInput(senderTag, receiverTag uint32, senderECDH *otrcrypto.Point, senderDH []byte,
	receiverECDH *otrcrypto.Point, receiverDH []byte, senderAccount, receiverAccount string) []byte {
	var b cryptobyte.Builder
	b.AddUint32(senderTag)
	b.AddUint32(receiverTag)
	se, re := senderECDH.Bytes(), receiverECDH.Bytes()
	b.AddBytes(se[:])
	otrencoding.AddMPI(&b, senderDH)
	b.AddBytes(re[:])
	otrencoding.AddMPI(&b, receiverDH)
	otrencoding.AddData(&b, []byte(senderAccount))
	otrencoding.AddData(&b, []byte(receiverAccount))
	return b.BytesOrPanic()
}

// phi returns HWC(usage || phi_input, 64): usage is UsageAuthRPhi for Auth-R
// and UsageAuthIPhi for Auth-I.
func phi(usage otrcrypto.KDFUsage, input []byte) [64]byte {
	var out [64]byte
	otrcrypto.KDF(out[:], usage, input)
	return out
}

// authT returns the message t the ring signature of Auth-R (authI false)
// or Auth-I (authI true) covers: BYTE 0x00 or 0x01 || HWC(0x05 or 0x08 ||
// bob's client profile, 64) || HWC(0x06 or 0x09 || alice's client profile,
// 64) || Y || X || MPI(B) || MPI(A) || phi. Y and B are bob's ephemeral keys,
// X and A alice's, in this order for both messages.
func authT(authI bool, bobProfile, aliceProfile []byte, Y, X *otrcrypto.Point, B, A []byte, phi *[64]byte) []byte {
	first, usageBob, usageAlice := byte(0x00), otrcrypto.UsageAuthRBobClientProfile, otrcrypto.UsageAuthRAliceClientProfile
	if authI {
		first, usageBob, usageAlice = 0x01, otrcrypto.UsageAuthIBobClientProfile, otrcrypto.UsageAuthIAliceClientProfile
	}
	var hb, ha [64]byte
	otrcrypto.KDF(hb[:], usageBob, bobProfile)
	otrcrypto.KDF(ha[:], usageAlice, aliceProfile)
	var b cryptobyte.Builder
	b.AddUint8(first)
	b.AddBytes(hb[:])
	b.AddBytes(ha[:])
	y, x := Y.Bytes(), X.Bytes()
	b.AddBytes(y[:])
	b.AddBytes(x[:])
	otrencoding.AddMPI(&b, B)
	otrencoding.AddMPI(&b, A)
	b.AddBytes(phi[:])
	return b.BytesOrPanic()
}

// sharedSecret mixes the ECDH and DH shared secrets (OTRv4 spec, "Shared
// Secrets"): brace_key = KDF(usage_third_brace_key || k_dh, 32), with k_dh
// the minimal big-endian integer (docs/interop.md, "Double ratchet"), and
// K = KDF(usage_shared_secret || K_ecdh || brace_key, 64).
func sharedSecret(kECDH *[otrcrypto.PointSize]byte, kDH []byte) (K [64]byte, braceKey [32]byte) {
	otrcrypto.KDF(braceKey[:], otrcrypto.UsageThirdBraceKey, kDH)
	otrcrypto.KDF(K[:], otrcrypto.UsageSharedSecret, kECDH[:], braceKey[:])
	return K, braceKey
}

// ssid returns the secure session ID, HWC(usage_SSID || K, 8).
func ssid(K *[64]byte) [8]byte {
	var out [8]byte
	otrcrypto.KDF(out[:], otrcrypto.UsageSSID, K[:])
	return out
}

// firstRootKey returns prev_root_key = KDF(usage_first_root_key || K, 64).
func firstRootKey(K *[64]byte) [64]byte {
	var out [64]byte
	otrcrypto.KDF(out[:], otrcrypto.UsageFirstRootKey, K[:])
	return out
}

// AuthPhi returns phi = HWC(usage || phi_input, 64) as an Auth-R (authI
// false) or Auth-I message of the interactive DAKE signs it, from the
// sender's and receiver's instance tags, first ECDH and DH public keys
// (the DH ones as minimal big-endian values) and account ids: the sender
// is the party sending that Auth message. It serves tools that rebuild a
// transcript (cmd/otrtool's deniability demonstration).
func AuthPhi(authI bool, senderTag, receiverTag uint32, senderECDH *otrcrypto.Point, senderDH []byte,
	receiverECDH *otrcrypto.Point, receiverDH []byte, senderAccount, receiverAccount string) [64]byte {
	usage := otrcrypto.UsageAuthRPhi
	if authI {
		usage = otrcrypto.UsageAuthIPhi
	}
	return phi(usage, phiInput(senderTag, receiverTag, senderECDH, senderDH, receiverECDH, receiverDH, senderAccount, receiverAccount))
}

// AuthT returns the message t the ring signature of an Auth-R (authI
// false) or Auth-I message covers (see authT), for tools that rebuild a
// transcript.
func AuthT(authI bool, bobProfile, aliceProfile []byte, Y, X *otrcrypto.Point, B, A []byte, phi *[64]byte) []byte {
	return authT(authI, bobProfile, aliceProfile, Y, X, B, A, phi)
}
