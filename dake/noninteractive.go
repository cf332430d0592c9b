package dake

// The non-interactive DAKE (OTRv4 spec, "Non-Interactive DAKE Overview",
// "Non-Interactive-Auth Message", "Receiving a Non-Interactive-Auth
// Message"). As the spec names them, bob publishes prekey ensembles and
// alice, who retrieved one, completes the DAKE alone by sending a
// Non-Interactive-Auth message. Names follow the spec: x, X, a, A (alice's
// ephemeral keys), y, Y, b, B (bob's one-time prekeys), D_b (the shared
// prekey, Db) and sk_d, H_a, H_b, F_b (Ha, Hb, Fb), K_ecdh (kECDH), k_dh
// (kDH), brace_key (braceKey), tmp_k (tmpK), auth_mac_k (authMACKey), t,
// phi, sigma, K, SSID. The readings chosen where the spec is open are in
// docs/offline.md.

import (
	"crypto/hmac"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"

	otrcrypto "github.com/otrgo/otr/crypto"
	otrencoding "github.com/otrgo/otr/encoding"
)

// MsgNonInteractiveAuth is the type byte of the Non-Interactive-Auth message
// (OTRv4 spec, "Non-Interactive-Auth Message").
const MsgNonInteractiveAuth otrencoding.MsgType = 0x0D

// AuthMACSize is the size of the Auth MAC of a Non-Interactive-Auth message
// (MAC: 64 bytes).
const AuthMACSize = 64

// ErrUnknownPrekey is returned by ReceiveNonInteractive when the prekey
// message id of a Non-Interactive-Auth message names no prekey message we
// still hold: never made, or already consumed (a replay).
var ErrUnknownPrekey = errors.New("dake: unknown or consumed prekey message")

// NonInteractiveAuthMessage is the body of a Non-Interactive-Auth message
// (type 0x0D), what follows the header (OTRv4 spec, "Non-Interactive-Auth
// Message"): sender's client profile (CLIENT-PROF) || X (POINT) || A (MPI)
// || sigma (RING-SIG) || prekey message identifier (INT) || Auth MAC (MAC,
// 64 bytes) || our_ecdh_first.public (POINT) || our_dh_first.public (MPI).
type NonInteractiveAuthMessage struct {
	Profile         *ClientProfile
	X               otrcrypto.Point
	A               *otrcrypto.DH3072PublicKey
	Sigma           otrcrypto.RingSignature
	PrekeyMessageID uint32
	AuthMAC         [AuthMACSize]byte
	FirstECDH       otrcrypto.Point
	FirstDH         *otrcrypto.DH3072PublicKey
}

// Marshal writes m.
func (m *NonInteractiveAuthMessage) Marshal(b *cryptobyte.Builder) {
	m.Profile.Marshal(b)
	addPoint(b, &m.X)
	otrencoding.AddMPI(b, m.A.Bytes())
	addRingSig(b, &m.Sigma)
	b.AddUint32(m.PrekeyMessageID)
	b.AddBytes(m.AuthMAC[:])
	addPoint(b, &m.FirstECDH)
	otrencoding.AddMPI(b, m.FirstDH.Bytes())
}

// ParseNonInteractiveAuthMessage parses the body of a Non-Interactive-Auth
// message, strictly as the other DAKE messages are parsed: exactly the
// body, valid points, DH values in the group, scalars of sigma in 1..q-1, a
// well-formed client profile (its signature is checked by Validate). Errors
// wrap encoding.ErrMalformed.
func ParseNonInteractiveAuthMessage(body []byte) (*NonInteractiveAuthMessage, error) {
	s := cryptobyte.String(body)
	prof, err := ReadClientProfile(&s)
	if err != nil {
		return nil, err
	}
	m := &NonInteractiveAuthMessage{Profile: prof}
	var mac []byte
	if !readPoint(&s, &m.X) || !readDH(&s, &m.A) || !readRingSig(&s, &m.Sigma) || !s.ReadUint32(&m.PrekeyMessageID) ||
		!s.ReadBytes(&mac, AuthMACSize) || !readPoint(&s, &m.FirstECDH) || !readDH(&s, &m.FirstDH) || !s.Empty() {
		return nil, malformedMessage("Non-Interactive-Auth")
	}
	copy(m.AuthMAC[:], mac)
	return m, nil
}

// nonInteractivePhiInput builds the shared session state of the
// non-interactive DAKE, as the interactive one's by role (docs/interop.md,
// "DAKE") with the values that exist here (docs/offline.md, "phi"):
// alice's (the sender's) instance tag, bob's (the receiver's), alice's
// first ECDH public key, MPI(alice's first DH public key), DATA(alice's
// account id), DATA(bob's account id). Bob has no first keys.
func nonInteractivePhiInput(aliceTag, bobTag uint32, firstECDH *otrcrypto.Point, firstDH []byte, aliceAccount, bobAccount string) []byte {
	var b cryptobyte.Builder
	b.AddUint32(aliceTag)
	b.AddUint32(bobTag)
	addPoint(&b, firstECDH)
	otrencoding.AddMPI(&b, firstDH)
	otrencoding.AddData(&b, []byte(aliceAccount))
	otrencoding.AddData(&b, []byte(bobAccount))
	return b.BytesOrPanic()
}

// nonInteractiveT returns t = HWC(usage_non_int_auth_bob_client_profile ||
// Bob_Client_Profile, 64) || HWC(usage_non_int_auth_alice_client_profile ||
// Alice_Client_Profile, 64) || Y || X || B || A || D_b ||
// HWC(usage_non_int_auth_phi || phi, 64) (OTRv4 spec, "Non-Interactive-Auth
// Message"). Y, X, D_b are POINTs, B and A MPIs, as in the interactive t
// (docs/offline.md, "t").
func nonInteractiveT(bobProfile, aliceProfile []byte, Y, X *otrcrypto.Point, B, A []byte, Db *otrcrypto.Point, phiInput []byte) []byte {
	var hb, ha, hphi [64]byte
	otrcrypto.KDF(hb[:], otrcrypto.UsageNonIntAuthBobClientProfile, bobProfile)
	otrcrypto.KDF(ha[:], otrcrypto.UsageNonIntAuthAliceClientProfile, aliceProfile)
	otrcrypto.KDF(hphi[:], otrcrypto.UsageNonIntAuthPhi, phiInput)
	var b cryptobyte.Builder
	b.AddBytes(hb[:])
	b.AddBytes(ha[:])
	addPoint(&b, Y)
	addPoint(&b, X)
	otrencoding.AddMPI(&b, B)
	otrencoding.AddMPI(&b, A)
	addPoint(&b, Db)
	b.AddBytes(hphi[:])
	return b.BytesOrPanic()
}

// nonInteractiveSecrets computes, from the three ECDH shared secrets and
// the DH one, brace_key = KDF(usage_third_brace_key || k_dh, 32), tmp_k =
// KDF(usage_tmp_key || K_ecdh || ECDH(., D_b) || ECDH(., H_b) || brace_key,
// 64), auth_mac_k = KDF(usage_auth_MAC_key || tmp_k, 64) and K =
// KDF(usage_shared_secret || tmp_k, 64) (OTRv4 spec, "Non-Interactive-Auth
// Message", "Non-Interactive DAKE Overview"). k_dh is the minimal
// big-endian integer, as everywhere (docs/interop.md, "Double ratchet").
func nonInteractiveSecrets(kECDH, kDb, kHb *[otrcrypto.PointSize]byte, kDH []byte) (authMACKey, K [64]byte) {
	var braceKey [32]byte
	var tmpK [64]byte
	otrcrypto.KDF(braceKey[:], otrcrypto.UsageThirdBraceKey, kDH)
	otrcrypto.KDF(tmpK[:], otrcrypto.UsageTmpKey, kECDH[:], kDb[:], kHb[:], braceKey[:])
	otrcrypto.KDF(authMACKey[:], otrcrypto.UsageAuthMACKey, tmpK[:])
	otrcrypto.KDF(K[:], otrcrypto.UsageSharedSecret, tmpK[:])
	clear(braceKey[:])
	clear(tmpK[:])
	return authMACKey, K
}

// authMAC returns Auth MAC = HCMAC(usage_auth_MAC || auth_mac_k || t, 64).
func authMAC(authMACKey *[64]byte, t []byte) [AuthMACSize]byte {
	var out [AuthMACSize]byte
	otrcrypto.KDF(out[:], otrcrypto.UsageAuthMAC, authMACKey[:], t)
	return out
}

// nonInteractiveRootKey returns curr_root_key = KDF(usage_root_key || K,
// 64), the root key the double ratchet starts from after the
// non-interactive DAKE (OTRv4 spec, "Non-Interactive DAKE Overview").
func nonInteractiveRootKey(K *[64]byte) [64]byte {
	var out [64]byte
	otrcrypto.KDF(out[:], otrcrypto.UsageRootKey, K[:])
	return out
}

// scalarECDH returns s * P encoded, refusing the identity as
// ECDHPrivateKey.SharedSecret does (OTRv4 spec, "Generating Shared
// Secrets"). It serves ECDH(sk_hb, X), for which no ECDHPrivateKey exists.
func scalarECDH(s *otrcrypto.Scalar, P *otrcrypto.Point) ([otrcrypto.PointSize]byte, error) {
	var R otrcrypto.Point
	R.ScalarMult(s, P)
	out := R.Bytes()
	id := otrcrypto.NewIdentityPoint().Bytes()
	if subtle.ConstantTimeCompare(out[:], id[:]) == 1 {
		clear(out[:])
		return out, otrcrypto.ErrECDHIdentity
	}
	return out, nil
}

// checkConfig checks cfg as New does; needRand false lets Rand be nil.
func checkConfig(cfg *Config, needRand bool) error {
	if cfg.Profile == nil || cfg.Identity == nil || (needRand && cfg.Rand == nil) {
		return errors.New("dake: incomplete config")
	}
	h, ph := cfg.Identity.Public(), cfg.Profile.IdentityKey()
	if !h.Equal(&ph) || cfg.Profile.InstanceTag() != cfg.InstanceTag || cfg.InstanceTag < minInstanceTag {
		return errors.New("dake: profile does not match the identity key or instance tag")
	}
	return nil
}

// StartNonInteractive completes a non-interactive DAKE as alice with bob's
// prekey ensemble e (OTRv4 spec, "Non-Interactive DAKE Overview", alice's
// steps, and "Non-Interactive-Auth Message"). It validates e at now
// (ValidateEnsemble), draws x, a and the first ECDH and DH keys (in that
// order, as the interactive DAKE does), then the ring signature's scalars,
// all from cfg.Rand, and returns the encoded Non-Interactive-Auth message
// (binary, header included, addressed to e's instance tag: wrap it with
// encoding.EncodeMessage) and the keys that start the double ratchet.
//
// cfg.PeerAccountID must be the account e was retrieved for: it enters phi.
// The DAKE is complete for alice once the message is sent; she may encrypt
// at once. The keys hold secrets: Wipe them once moved on. In them,
// IsAlice is true, OurECDH and OurDH are alice's first key pairs (sent in
// the message), TheirECDH and TheirDH are bob's prekeys Y and B (the
// spec's their_ecdh and their_dh; bob has deleted their secrets), and
// RootKey is curr_root_key = KDF(usage_root_key || K, 64), not the
// interactive DAKE's prev_root_key (docs/offline.md, "Double ratchet").
func StartNonInteractive(cfg Config, e *Ensemble, now time.Time) ([]byte, *Keys, error) {
	if err := checkConfig(&cfg, true); err != nil {
		return nil, nil, err
	}
	if err := ValidateEnsemble(e, now); err != nil {
		return nil, nil, err
	}
	bobTag := e.InstanceTag()
	if bobTag == cfg.InstanceTag {
		return nil, nil, invalidEnsemble("our own instance tag")
	}
	our, err := generateEphemeral(cfg.Rand)
	if err != nil {
		return nil, nil, err
	}
	// Wiped on return: x and a now, the first keys only on error (on
	// success they are handed over in the Keys).
	defer func() { our.Wipe() }()

	pm := e.PrekeyMessage
	Y, B := pm.Y, pm.B
	Db, Hb, Fb := e.PrekeyProfile.SharedPrekey(), e.ClientProfile.IdentityKey(), e.ClientProfile.ForgingKey()
	X, FX := our.ecdh.Public(), our.firstECDH.Public()
	A, FA := our.dh.Public(), our.firstDH.Public()

	// K_ecdh = ECDH(x, their_ecdh), ECDH(x, their_shared_prekey), ECDH(x,
	// H_b), k_dh = DH(a, their_dh).
	kECDH, err := our.ecdh.SharedSecret(&Y)
	defer clear(kECDH[:])
	if err != nil {
		return nil, nil, err
	}
	kDb, err := our.ecdh.SharedSecret(&Db)
	defer clear(kDb[:])
	if err != nil {
		return nil, nil, err
	}
	kHb, err := our.ecdh.SharedSecret(&Hb)
	defer clear(kHb[:])
	if err != nil {
		return nil, nil, err
	}
	kDH, err := our.dh.SharedSecret(B)
	if err != nil {
		return nil, nil, err
	}
	authMACKey, K := nonInteractiveSecrets(&kECDH, &kDb, &kHb, kDH)
	clear(kDH)
	defer clear(authMACKey[:])
	defer clear(K[:])

	ph := nonInteractivePhiInput(cfg.InstanceTag, bobTag, &FX, FA.Bytes(), cfg.AccountID, cfg.PeerAccountID)
	t := nonInteractiveT(e.ClientProfile.Bytes(), cfg.Profile.Bytes(), &Y, &X, B.Bytes(), A.Bytes(), &Db, ph)
	// sigma = RSig(H_a, sk_ha, {F_b, H_a, Y}, t).
	ska := cfg.Identity.SecretScalar()
	defer ska.Wipe()
	Ha := cfg.Identity.Public()
	sigma, err := otrcrypto.RingSign(cfg.Rand, &ska, &Fb, &Ha, &Y, t)
	if err != nil {
		return nil, nil, err
	}
	m := &NonInteractiveAuthMessage{
		Profile: cfg.Profile, X: X, A: A, Sigma: sigma, PrekeyMessageID: pm.ID,
		AuthMAC: authMAC(&authMACKey, t), FirstECDH: FX, FirstDH: FA,
	}
	h := otrencoding.Header{Version: otrencoding.Version4, Type: MsgNonInteractiveAuth, Sender: cfg.InstanceTag, Receiver: bobTag}
	enc := otrencoding.Marshal(h, m)
	keys := &Keys{
		IsAlice: true, SSID: ssid(&K), RootKey: nonInteractiveRootKey(&K), SharedSecret: K,
		OurECDH: our.firstECDH, OurDH: our.firstDH, TheirECDH: Y, TheirDH: B,
		TheirProfile: e.ClientProfile, TheirInstanceTag: bobTag,
	}
	our.firstECDH, our.firstDH = nil, nil // handed over: not wiped with x and a
	return enc, keys, nil
}

// PrekeyLookup returns our secrets for the Prekey message with the given id
// and the shared prekey of the prekey profile that message was published
// with. It returns an error (ErrUnknownPrekey or its own) or a nil secret
// when the id is unknown or the message was already consumed. It only
// reads: the caller deletes the consumed secrets once ReceiveNonInteractive
// succeeded. Returning a shared prekey whose profile has expired, within or
// beyond its extra validity (OTRv4 spec, "Prekey Profile"), is its
// decision.
type PrekeyLookup func(prekeyMessageID uint32) (*PrekeySecrets, *SharedPrekeySecret, error)

// ReceiveNonInteractive verifies a Non-Interactive-Auth message as bob, the
// owner of the prekeys (OTRv4 spec, "Receiving a Non-Interactive-Auth
// Message", "Non-Interactive DAKE Overview", bob's steps). h is the parsed
// header, body the rest. It returns the keys that start the double ratchet
// and the id of the prekey message consumed, which the caller must delete
// from its store before it delivers anything decrypted under these keys.
//
// Cheap checks come first, before any point is decoded, signature checked
// or scalar multiplied: the header (version 4, type 0x0D, receiver our
// instance tag, a valid sender tag not ours); a look at the body's
// structure, the instance tag, expiration and versions of alice's client
// profile; then lookup, once, for the prekey message id. Then it decodes
// the message, validates alice's profile, verifies sigma against
// cfg.Profile and, if that fails, against each of earlierProfiles in turn
// (our client profiles of which some published ensemble may still carry
// one: OTRv4 spec, "Non-Interactive-Auth Message", "As multiple client
// profiles can coexist"), computes the shared secrets and checks the Auth
// MAC.
//
// On success it wipes the PrekeySecrets lookup returned (never the shared
// prekey, which serves many prekey messages); on error it leaves them as
// they were, so that a forged message cannot destroy a prekey. It keeps no
// state: the caller serializes it, per prekey store, with the deletion of
// the consumed prekey, or two copies of one message received at once would
// both succeed. cfg.Rand is
// not used. The keys hold secrets: Wipe them once moved on. In them,
// IsAlice is false; OurECDH and OurDH are nil (y and b are used up; bob's
// first sending ratchet step makes new key pairs); TheirECDH and TheirDH
// are alice's first public keys; RootKey is curr_root_key =
// KDF(usage_root_key || K, 64) (docs/offline.md, "Double ratchet").
//
// Errors: ErrUnexpectedMessage (header), encoding.ErrMalformed (body),
// ErrInvalidClientProfile (alice's profile), ErrUnknownPrekey (lookup),
// ErrAuthFailed (sigma or Auth MAC).
func ReceiveNonInteractive(cfg Config, h otrencoding.Header, body []byte, lookup PrekeyLookup, now time.Time,
	earlierProfiles ...*ClientProfile) (*Keys, uint32, error) {
	return receiveNonInteractive(cfg, h, body, lookup, now, nil, earlierProfiles)
}

// Steps of receiveNonInteractive, reported to its trace function (tests).
const (
	traceSkim    = "skim"    // structure of the body read, no value decoded
	traceLookup  = "lookup"  // lookup called
	traceDecode  = "decode"  // points and DH values decoded
	traceProfile = "profile" // alice's client profile validated (EdDSA)
	traceSigma   = "sigma"   // a ring signature verification
	traceECDH    = "ecdh"    // the shared secrets computed
	traceMAC     = "mac"     // the Auth MAC compared
)

// nonInteractiveSkim is what receiveNonInteractive reads from the body
// before decoding anything.
type nonInteractiveSkim struct {
	profileTag uint32
	expiration int64
	versions   string
	prekeyID   uint32
}

// skimNonInteractiveAuth walks the body of a Non-Interactive-Auth message
// without decoding points, DH values or scalars: it returns the instance
// tag, expiration and versions of the client profile (the last of each if
// a field repeats: the full parse refuses that later) and the prekey
// message id; ok is false if the body is cut short or too long.
func skimNonInteractiveAuth(body []byte) (sk nonInteractiveSkim, ok bool) {
	s := cryptobyte.String(body)
	var n uint32
	if !s.ReadUint32(&n) || n > fieldMax {
		return sk, false
	}
	for range n {
		var typ uint16
		if !s.ReadUint16(&typ) {
			return sk, false
		}
		ok := false
		switch typ {
		case fieldInstanceTag:
			ok = s.ReadUint32(&sk.profileTag)
		case fieldIdentityKey, fieldForgingKey:
			ok = s.Skip(2 + otrcrypto.PointSize)
		case fieldVersions:
			var v []byte
			ok = otrencoding.ReadData(&s, &v)
			sk.versions = string(v)
		case fieldExpiration:
			var e uint64
			ok = s.ReadUint64(&e)
			sk.expiration = int64(e)
		case fieldDSAKey:
			var k otrencoding.DSAPublicKey
			ok = otrencoding.ReadDSAPublicKey(&s, &k)
		case fieldTransitional:
			ok = s.Skip(transitionalSigSize)
		}
		if !ok {
			return sk, false
		}
	}
	var A, FA []byte
	if !s.Skip(otrcrypto.EdDSASignatureSize) || !s.Skip(otrcrypto.PointSize) || !otrencoding.ReadMPI(&s, &A) ||
		!s.Skip(otrcrypto.RingSignatureSize) || !s.ReadUint32(&sk.prekeyID) || !s.Skip(AuthMACSize) ||
		!s.Skip(otrcrypto.PointSize) || !otrencoding.ReadMPI(&s, &FA) || !s.Empty() {
		return sk, false
	}
	return sk, true
}

// receiveNonInteractive is ReceiveNonInteractive; trace, if not nil, is
// told each step as it begins, so that tests can check their order.
func receiveNonInteractive(cfg Config, h otrencoding.Header, body []byte, lookup PrekeyLookup, now time.Time,
	trace func(string), earlierProfiles []*ClientProfile) (*Keys, uint32, error) {
	step := func(s string) {
		if trace != nil {
			trace(s)
		}
	}
	if err := checkConfig(&cfg, false); err != nil {
		return nil, 0, err
	}
	if lookup == nil {
		return nil, 0, errors.New("dake: incomplete config")
	}
	// "Receiving a Non-Interactive-Auth Message": a receiver tag other than
	// ours is ignored; the spec's "Verify if the message type is 0x0D",
	// "Verify that protocol's version of the message is 0x0004". A sender
	// tag below 0x100 is discarded ("Instance Tags"), one equal to ours is
	// our own message reflected.
	if h.Version != otrencoding.Version4 || h.Type != MsgNonInteractiveAuth || h.Receiver != cfg.InstanceTag ||
		h.Sender < minInstanceTag || h.Sender == cfg.InstanceTag {
		return nil, 0, ErrUnexpectedMessage
	}
	step(traceSkim)
	sk, ok := skimNonInteractiveAuth(body)
	if !ok {
		return nil, 0, malformedMessage("Non-Interactive-Auth")
	}
	// What "Validating a Client Profile" checks without a signature
	// verification, done again in full by Validate below.
	if sk.profileTag != h.Sender {
		return nil, 0, invalidProfile("instance tag differs from the sender's")
	}
	if now.Unix() >= sk.expiration {
		return nil, 0, invalidProfile("expired")
	}
	if !strings.Contains(sk.versions, "4") {
		return nil, 0, invalidProfile("versions lack 4")
	}

	// "Retrieves his corresponding Prekey message from local storage, by
	// using the 'Prekey Indentifier' [...] If this 'Prekey Identifier' does
	// not correspond to any Prekey message on local storage: Aborts the
	// DAKE."
	step(traceLookup)
	sec, shared, err := lookup(sk.prekeyID)
	if err != nil {
		if errors.Is(err, ErrUnknownPrekey) {
			return nil, 0, err
		}
		return nil, 0, fmt.Errorf("%w: %w", ErrUnknownPrekey, err)
	}
	if sec == nil || shared == nil || sec.ID() != sk.prekeyID {
		return nil, 0, ErrUnknownPrekey
	}
	// "Check that the receiver's instance tag matches your prekey message
	// sender's instance tag."
	if sec.InstanceTag() != cfg.InstanceTag {
		return nil, 0, ErrUnknownPrekey
	}

	step(traceDecode)
	m, err := ParseNonInteractiveAuthMessage(body)
	if err != nil {
		return nil, 0, err
	}
	step(traceProfile)
	if err := m.Profile.Validate(h.Sender, now); err != nil {
		return nil, 0, err
	}

	// t and sigma: RVrf({F_b, H_a, Y}, sigma, t), with our current client
	// profile first, then the earlier ones.
	Y, B, Db := sec.ecdh.Public(), sec.dh.Public(), shared.Public()
	Ha := m.Profile.IdentityKey()
	ph := nonInteractivePhiInput(h.Sender, cfg.InstanceTag, &m.FirstECDH, m.FirstDH.Bytes(), cfg.PeerAccountID, cfg.AccountID)
	aliceProfile, A := m.Profile.Bytes(), m.A.Bytes()
	var t []byte
	verified := false
	ourH := cfg.Identity.Public()
	for _, p := range append([]*ClientProfile{cfg.Profile}, earlierProfiles...) {
		// A profile of another identity key could not carry our H_b,
		// and ECDH(sk_hb, X) below is made with ours.
		if p == nil {
			continue
		}
		if pH := p.IdentityKey(); !pH.Equal(&ourH) {
			continue
		}
		step(traceSigma)
		t = nonInteractiveT(p.Bytes(), aliceProfile, &Y, &m.X, B.Bytes(), A, &Db, ph)
		Fb := p.ForgingKey()
		if otrcrypto.RingVerify(&Fb, &Ha, &Y, &m.Sigma, t) {
			verified = true
			break
		}
	}
	if !verified {
		return nil, 0, ErrAuthFailed
	}

	// K_ecdh = ECDH(y, X), ECDH(sk_d, X), ECDH(sk_hb, X), k_dh = DH(b, A).
	step(traceECDH)
	kECDH, err := sec.ecdh.SharedSecret(&m.X)
	defer clear(kECDH[:])
	if err != nil {
		return nil, 0, ErrAuthFailed
	}
	kDb, err := shared.key.SharedSecret(&m.X)
	defer clear(kDb[:])
	if err != nil {
		return nil, 0, ErrAuthFailed
	}
	skb := cfg.Identity.SecretScalar()
	defer skb.Wipe()
	kHb, err := scalarECDH(&skb, &m.X)
	defer clear(kHb[:])
	if err != nil {
		return nil, 0, ErrAuthFailed
	}
	kDH, err := sec.dh.SharedSecret(m.A)
	if err != nil {
		return nil, 0, err
	}
	authMACKey, K := nonInteractiveSecrets(&kECDH, &kDb, &kHb, kDH)
	clear(kDH)
	defer clear(authMACKey[:])
	defer clear(K[:])
	step(traceMAC)
	mac := authMAC(&authMACKey, t)
	if !hmac.Equal(mac[:], m.AuthMAC[:]) {
		return nil, 0, fmt.Errorf("%w: Auth MAC", ErrAuthFailed)
	}

	// Commit: y and b are used up ("Securely deletes our_ecdh.secret",
	// "our_dh.secret").
	sec.Wipe()
	keys := &Keys{
		IsAlice: false, SSID: ssid(&K), RootKey: nonInteractiveRootKey(&K), SharedSecret: K,
		TheirECDH: m.FirstECDH, TheirDH: m.FirstDH,
		TheirProfile: m.Profile, TheirInstanceTag: h.Sender,
	}
	return keys, sk.prekeyID, nil
}

// PeekPrekeyMessageID returns the prekey message identifier of a
// Non-Interactive-Auth message body without decoding anything else, so
// that the caller can fetch that prekey's secrets from its store first;
// ok is false if the body is cut short.
func PeekPrekeyMessageID(body []byte) (id uint32, ok bool) {
	s := cryptobyte.String(body)
	var A []byte
	if !skipClientProfile(&s) || !s.Skip(otrcrypto.PointSize) || !otrencoding.ReadMPI(&s, &A) ||
		!s.Skip(otrcrypto.RingSignatureSize) || !s.ReadUint32(&id) {
		return 0, false
	}
	return id, true
}
