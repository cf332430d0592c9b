package dake

// The interactive DAKE state machine (OTRv4 spec, "Interactive DAKE
// Overview", "Receiving an Identity Message", "Receiving an Auth-R Message",
// "Receiving an Auth-I Message"). Names follow the spec: bob sends the
// Identity message (y, Y, b, B), alice answers with Auth-R (x, X, a, A), bob
// finishes with Auth-I.

import (
	"bytes"
	"crypto/sha3"
	"errors"
	"fmt"
	"io"
	"time"

	otrcrypto "github.com/otrgo/otr/crypto"
	otrencoding "github.com/otrgo/otr/encoding"
	"golang.org/x/crypto/cryptobyte"
)

var (
	// ErrUnexpectedMessage is returned for a DAKE message that the current
	// state does not expect (or addressed to another instance); the state is
	// unchanged.
	ErrUnexpectedMessage = errors.New("dake: unexpected message")
	// ErrAuthFailed is returned when the ring signature of an Auth-R or
	// Auth-I message does not verify.
	ErrAuthFailed = errors.New("dake: authentication failed")
)

// State is the state of a DAKE.
type State int

// The DAKE states (OTRv4 spec, "Protocol States").
const (
	StateStart State = iota
	StateWaitingAuthR
	StateWaitingAuthI
)

// String returns the spec's name of s.
func (s State) String() string {
	switch s {
	case StateStart:
		return "START"
	case StateWaitingAuthR:
		return "WAITING_AUTH_R"
	case StateWaitingAuthI:
		return "WAITING_AUTH_I"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Config is what a DAKE needs to know about its own side.
type Config struct {
	// InstanceTag is our instance tag (at least 0x100).
	InstanceTag uint32
	// AccountID and PeerAccountID are the transport identifiers of our
	// account and of the contact; both enter phi (docs/interop.md, "DAKE"),
	// so both sides must use the same two strings.
	AccountID, PeerAccountID string
	// Profile is our client profile; its identity key must be Identity's.
	Profile *ClientProfile
	// Identity is our long-term Ed448 key.
	Identity *otrcrypto.EdDSAPrivateKey
	// Rand is the source of every random byte.
	Rand io.Reader
}

// Keys is what a completed DAKE hands to the double ratchet. It holds
// secrets: Wipe it once they are moved on.
type Keys struct {
	// IsAlice is true for the party that received the Auth-I message (it
	// sent Auth-R), false for the one that sent the Identity message.
	IsAlice bool
	// SSID is the secure session ID.
	SSID [8]byte
	// SharedSecret is the mixed shared secret K of the DAKE; the double
	// ratchet starts from it.
	SharedSecret [64]byte
	// RootKey is prev_root_key = KDF(usage_first_root_key || K, 64) after
	// the interactive DAKE, curr_root_key = KDF(usage_root_key || K, 64)
	// after the non-interactive one.
	RootKey [64]byte
	// OurECDH, OurDH are our first ECDH and DH key pairs; TheirECDH and
	// TheirDH the peer's first public keys.
	OurECDH   *otrcrypto.ECDHPrivateKey
	OurDH     *otrcrypto.DH3072PrivateKey
	TheirECDH otrcrypto.Point
	TheirDH   *otrcrypto.DH3072PublicKey
	// TheirProfile is the peer's validated client profile, TheirInstanceTag
	// its instance tag.
	TheirProfile     *ClientProfile
	TheirInstanceTag uint32
}

// Wipe clears the secrets of k.
func (k *Keys) Wipe() {
	clear(k.RootKey[:])
	clear(k.SharedSecret[:])
	if k.OurECDH != nil {
		k.OurECDH.Wipe()
	}
	if k.OurDH != nil {
		k.OurDH.Wipe()
	}
}

// Result is what one step of the DAKE produces.
type Result struct {
	// Send is the encoded message to send (binary, header included: wrap it
	// with encoding.EncodeMessage), or nil.
	Send []byte
	// Keys is set when this step completed the DAKE.
	Keys *Keys
}

// ephemeral holds one side's DAKE key material: the ephemeral ECDH and DH
// keys (y, b or x, a) and the first ratchet keys.
type ephemeral struct {
	ecdh      *otrcrypto.ECDHPrivateKey
	dh        *otrcrypto.DH3072PrivateKey
	firstECDH *otrcrypto.ECDHPrivateKey
	firstDH   *otrcrypto.DH3072PrivateKey
}

// generateEphemeral draws, in otr4j's order, the ECDH key (57 bytes), the
// DH key (80), the first ECDH key (57) and the first DH key (80).
func generateEphemeral(rand io.Reader) (*ephemeral, error) {
	e := new(ephemeral)
	var err error
	if e.ecdh, err = otrcrypto.GenerateECDHKey(rand); err == nil {
		if e.dh, err = otrcrypto.GenerateDH3072Key(rand); err == nil {
			if e.firstECDH, err = otrcrypto.GenerateECDHKey(rand); err == nil {
				e.firstDH, err = otrcrypto.GenerateDH3072Key(rand)
			}
		}
	}
	if err != nil {
		e.Wipe()
		return nil, err
	}
	return e, nil
}

// Wipe clears every key of e.
func (e *ephemeral) Wipe() {
	if e == nil {
		return
	}
	for _, k := range []*otrcrypto.ECDHPrivateKey{e.ecdh, e.firstECDH} {
		if k != nil {
			k.Wipe()
		}
	}
	for _, k := range []*otrcrypto.DH3072PrivateKey{e.dh, e.firstDH} {
		if k != nil {
			k.Wipe()
		}
	}
}

// waitingAuthR is bob's state after sending the Identity message.
type waitingAuthR struct {
	our      *ephemeral
	identity []byte // the encoded Identity message, to resend
}

func (w *waitingAuthR) Wipe() { w.our.Wipe() }

// waitingAuthI is alice's state after sending Auth-R.
type waitingAuthI struct {
	our      *ephemeral
	theirTag uint32
	their    *IdentityMessage
	authR    []byte // the encoded Auth-R we sent, to resend for a duplicate
}

func (w *waitingAuthI) Wipe() { w.our.Wipe() }

// DAKE runs the interactive DAKE for one (local instance, remote instance)
// pair. It is sans-IO: callers pass parsed headers, bodies and the time. It
// is not safe for concurrent use: the caller serializes calls.
type DAKE struct {
	cfg    Config
	state  State
	wAuthR *waitingAuthR
	wAuthI *waitingAuthI
}

// New returns a DAKE in state START. The profile must belong to the
// identity key and carry our instance tag.
func New(cfg Config) (*DAKE, error) {
	if cfg.Profile == nil || cfg.Identity == nil || cfg.Rand == nil {
		return nil, errors.New("dake: incomplete config")
	}
	h, ph := cfg.Identity.Public(), cfg.Profile.IdentityKey()
	if !h.Equal(&ph) || cfg.Profile.InstanceTag() != cfg.InstanceTag || cfg.InstanceTag < minInstanceTag {
		return nil, errors.New("dake: profile does not match the identity key or instance tag")
	}
	return &DAKE{cfg: cfg}, nil
}

// State returns the current state.
func (d *DAKE) State() State { return d.state }

// CloneIdle returns a copy of d, which must be in START (no exchange in
// progress, so no secrets), that takes its randomness from rand; nil if d
// is in another state. It serves tests and fuzzers that start many runs
// from one established session.
func (d *DAKE) CloneIdle(rand io.Reader) *DAKE {
	if d.state != StateStart {
		return nil
	}
	c := &DAKE{cfg: d.cfg}
	c.cfg.Rand = rand
	return c
}

// setState leaves the current state, wiping its secrets, and enters s.
func (d *DAKE) setState(s State, wR *waitingAuthR, wI *waitingAuthI) {
	if d.wAuthR != nil && d.wAuthR != wR {
		d.wAuthR.Wipe()
	}
	if d.wAuthI != nil && d.wAuthI != wI {
		d.wAuthI.Wipe()
	}
	d.state, d.wAuthR, d.wAuthI = s, wR, wI
}

// Wipe clears every secret and returns to START.
func (d *DAKE) Wipe() { d.setState(StateStart, nil, nil) }

// Start begins a DAKE as bob (the party that received the query message):
// it returns the Identity message and moves to WAITING_AUTH_R, from any
// state (OTRv4 spec, "Starting a conversation interactively"). Its receiver
// instance tag is 0 (docs/interop.md, "DAKE").
func (d *DAKE) Start() (Result, error) {
	our, err := generateEphemeral(d.cfg.Rand)
	if err != nil {
		return Result{}, err
	}
	Y, FY := our.ecdh.Public(), our.firstECDH.Public()
	m := &IdentityMessage{Profile: d.cfg.Profile, Y: Y, B: our.dh.Public(), FirstECDH: FY, FirstDH: our.firstDH.Public()}
	h := otrencoding.Header{Version: otrencoding.Version4, Type: otrencoding.MsgIdentity, Sender: d.cfg.InstanceTag}
	enc := otrencoding.Marshal(h, m)
	d.setState(StateWaitingAuthR, &waitingAuthR{our: our, identity: enc}, nil)
	return Result{Send: bytes.Clone(enc)}, nil
}

// PendingIdentity returns the Identity message sent by Start while its
// answer is awaited (WAITING_AUTH_R), to send again; nil in other states
// or if it carries a profile other than current.
func (d *DAKE) PendingIdentity(current *ClientProfile) []byte {
	if d.state != StateWaitingAuthR || d.cfg.Profile != current {
		return nil
	}
	return bytes.Clone(d.wAuthR.identity)
}

// AnsweredProfile returns the encoded client profile of the Identity
// message we answered with Auth-R (WAITING_AUTH_I); nil in other states.
func (d *DAKE) AnsweredProfile() []byte {
	if d.state != StateWaitingAuthI {
		return nil
	}
	return d.wAuthI.their.Profile.Bytes()
}

// LeadingProfile returns the encoded client profile at the front of an
// Identity or Auth-R message body, without decoding or verifying it; ok is
// false if the body is cut short.
func LeadingProfile(body []byte) (profile []byte, ok bool) {
	s := cryptobyte.String(body)
	if !skipClientProfile(&s) {
		return nil, false
	}
	return body[:len(body)-len(s)], true
}

// WinsCrossing reports, for an Identity message body that crosses ours
// (we are in WAITING_AUTH_R), whether ours wins the comparison of hashed B
// values of a simultaneous start, so that we keep our exchange and send
// our Identity again (see receiveIdentity). It reads B without validating
// anything; ok is false if the body is cut short or we are in another
// state.
func (d *DAKE) WinsCrossing(body []byte) (wins, ok bool) {
	if d.state != StateWaitingAuthR {
		return false, false
	}
	s := cryptobyte.String(body)
	var B []byte
	if !skipClientProfile(&s) || !s.Skip(otrcrypto.PointSize) || !otrencoding.ReadMPI(&s, &B) {
		return false, false
	}
	return bytes.Compare(hashMPI(d.wAuthR.our.dh.Public()), hashMPIBytes(B)) > 0, true
}

// Receive processes a DAKE message: h is its parsed header, body the rest.
// On error the state is unchanged. Messages of other types, or not
// addressed to our instance tag, are ErrUnexpectedMessage.
func (d *DAKE) Receive(h otrencoding.Header, body []byte, now time.Time) (Result, error) {
	// A message from our own instance tag is our own, reflected.
	if h.Version != otrencoding.Version4 || h.Sender < minInstanceTag || h.Sender == d.cfg.InstanceTag {
		return Result{}, ErrUnexpectedMessage
	}
	switch h.Type {
	case otrencoding.MsgIdentity:
		// The receiver tag of an Identity message is 0 (docs/interop.md).
		if h.Receiver != 0 && h.Receiver != d.cfg.InstanceTag {
			return Result{}, ErrUnexpectedMessage
		}
		// A profile for another instance tag is refused before its points
		// are decoded (cheap for whoever rewrote the header).
		if tag, ok := peekInstanceTag(body); ok && tag != h.Sender {
			return Result{}, fmt.Errorf("%w: instance tag does not match the sender's", ErrInvalidClientProfile)
		}
		m, err := ParseIdentityMessage(body)
		if err != nil {
			return Result{}, err
		}
		return d.receiveIdentity(h, m, now)
	case otrencoding.MsgAuthR:
		if d.state != StateWaitingAuthR || h.Receiver != d.cfg.InstanceTag {
			return Result{}, ErrUnexpectedMessage
		}
		m, err := ParseAuthRMessage(body)
		if err != nil {
			return Result{}, err
		}
		return d.receiveAuthR(h, m, now)
	case otrencoding.MsgAuthI:
		if d.state != StateWaitingAuthI || h.Receiver != d.cfg.InstanceTag || h.Sender != d.wAuthI.theirTag {
			return Result{}, ErrUnexpectedMessage
		}
		m, err := ParseAuthIMessage(body)
		if err != nil {
			return Result{}, err
		}
		return d.receiveAuthI(m)
	}
	return Result{}, ErrUnexpectedMessage
}

// receiveIdentity answers an Identity message with Auth-R (OTRv4 spec,
// "Receiving an Identity Message").
func (d *DAKE) receiveIdentity(h otrencoding.Header, m *IdentityMessage, now time.Time) (Result, error) {
	if err := m.Profile.Validate(h.Sender, now); err != nil {
		return Result{}, err
	}
	if d.state == StateWaitingAuthR {
		// Simultaneous start (docs/interop.md, "DAKE"): as otr4j, compare
		// plain SHAKE-256(MPI(B), 32) of both Identity messages; the greater
		// keeps its own and resends its Identity message, the other answers
		// the peer's.
		ourB := d.wAuthR.our.dh.Public()
		if bytes.Compare(hashMPI(ourB), hashMPI(m.B)) > 0 {
			return Result{Send: bytes.Clone(d.wAuthR.identity)}, nil
		}
	}
	if d.state == StateWaitingAuthI && h.Sender == d.wAuthI.theirTag &&
		m.Y.Equal(&d.wAuthI.their.Y) && m.B.Equal(d.wAuthI.their.B) {
		// The same Identity message again (a transport duplicate, or the
		// resend of the simultaneous-start rule): answer with the same
		// Auth-R. Fresh keys here would orphan the Auth-I the peer sends
		// for the Auth-R it already has.
		return Result{Send: bytes.Clone(d.wAuthI.authR)}, nil
	}
	// A new Identity message in WAITING_AUTH_I is answered with fresh key
	// material rather than the same Auth-R (docs/interop.md, "DAKE").
	our, err := generateEphemeral(d.cfg.Rand)
	if err != nil {
		return Result{}, err
	}
	X, FX := our.ecdh.Public(), our.firstECDH.Public()
	theirFirst := m.FirstECDH
	ph := phi(otrcrypto.UsageAuthRPhi, phiInput(d.cfg.InstanceTag, h.Sender,
		&FX, our.firstDH.Public().Bytes(), &theirFirst, m.FirstDH.Bytes(), d.cfg.AccountID, d.cfg.PeerAccountID))
	t := authT(false, m.Profile.Bytes(), d.cfg.Profile.Bytes(), &m.Y, &X, m.B.Bytes(), our.dh.Public().Bytes(), &ph)
	// sigma = RSig(H_a, sk_ha, {F_b, H_a, Y}, t)
	ska := d.cfg.Identity.SecretScalar()
	defer ska.Wipe()
	Fb, Ha := m.Profile.ForgingKey(), d.cfg.Identity.Public()
	sigma, err := otrcrypto.RingSign(d.cfg.Rand, &ska, &Fb, &Ha, &m.Y, t)
	if err != nil {
		our.Wipe()
		return Result{}, err
	}
	r := &AuthRMessage{Profile: d.cfg.Profile, X: X, A: our.dh.Public(), Sigma: sigma, FirstECDH: FX, FirstDH: our.firstDH.Public()}
	out := otrencoding.Header{Version: otrencoding.Version4, Type: otrencoding.MsgAuthR, Sender: d.cfg.InstanceTag, Receiver: h.Sender}
	enc := otrencoding.Marshal(out, r)
	d.setState(StateWaitingAuthI, nil, &waitingAuthI{our: our, theirTag: h.Sender, their: m, authR: enc})
	return Result{Send: bytes.Clone(enc)}, nil
}

// receiveAuthR verifies Auth-R and answers with Auth-I (OTRv4 spec,
// "Receiving an Auth-R Message", "Sending an Auth-I Message").
func (d *DAKE) receiveAuthR(h otrencoding.Header, m *AuthRMessage, now time.Time) (Result, error) {
	if err := m.Profile.Validate(h.Sender, now); err != nil {
		return Result{}, err
	}
	our := d.wAuthR.our
	Y, FY := our.ecdh.Public(), our.firstECDH.Public()
	B, FB := our.dh.Public().Bytes(), our.firstDH.Public().Bytes()
	ourProfile, theirProfile := d.cfg.Profile.Bytes(), m.Profile.Bytes()

	// Verify sigma = RSig(H_a, sk_ha, {F_b, H_a, Y}, t) with phi built by
	// alice as the sender.
	phR := phi(otrcrypto.UsageAuthRPhi, phiInput(h.Sender, d.cfg.InstanceTag,
		&m.FirstECDH, m.FirstDH.Bytes(), &FY, FB, d.cfg.PeerAccountID, d.cfg.AccountID))
	tR := authT(false, ourProfile, theirProfile, &Y, &m.X, B, m.A.Bytes(), &phR)
	Fb, Ha := d.cfg.Profile.ForgingKey(), m.Profile.IdentityKey()
	if !otrcrypto.RingVerify(&Fb, &Ha, &Y, &m.Sigma, tR) {
		return Result{}, ErrAuthFailed
	}

	K, err := mix(our, &m.X, m.A)
	if err != nil {
		return Result{}, err
	}
	defer clear(K[:])

	// sigma = RSig(H_b, sk_hb, {H_b, F_a, X}, t) with phi built by bob as
	// the sender.
	phI := phi(otrcrypto.UsageAuthIPhi, phiInput(d.cfg.InstanceTag, h.Sender,
		&FY, FB, &m.FirstECDH, m.FirstDH.Bytes(), d.cfg.AccountID, d.cfg.PeerAccountID))
	tI := authT(true, ourProfile, theirProfile, &Y, &m.X, B, m.A.Bytes(), &phI)
	skb := d.cfg.Identity.SecretScalar()
	defer skb.Wipe()
	Hb, Fa := d.cfg.Identity.Public(), m.Profile.ForgingKey()
	sigma, err := otrcrypto.RingSign(d.cfg.Rand, &skb, &Hb, &Fa, &m.X, tI)
	if err != nil {
		return Result{}, err
	}
	out := otrencoding.Header{Version: otrencoding.Version4, Type: otrencoding.MsgAuthI, Sender: d.cfg.InstanceTag, Receiver: h.Sender}
	keys := &Keys{
		IsAlice: false, SSID: ssid(&K), RootKey: firstRootKey(&K), SharedSecret: K,
		OurECDH: our.firstECDH, OurDH: our.firstDH, TheirECDH: m.FirstECDH, TheirDH: m.FirstDH,
		TheirProfile: m.Profile, TheirInstanceTag: h.Sender,
	}
	our.firstECDH, our.firstDH = nil, nil // handed over: not wiped with the state
	d.setState(StateStart, nil, nil)
	return Result{Send: otrencoding.Marshal(out, &AuthIMessage{Sigma: sigma}), Keys: keys}, nil
}

// receiveAuthI verifies Auth-I and completes the DAKE (OTRv4 spec,
// "Receiving an Auth-I Message").
func (d *DAKE) receiveAuthI(m *AuthIMessage) (Result, error) {
	w := d.wAuthI
	our, their := w.our, w.their
	X, FX := our.ecdh.Public(), our.firstECDH.Public()
	A, FA := our.dh.Public().Bytes(), our.firstDH.Public().Bytes()
	phI := phi(otrcrypto.UsageAuthIPhi, phiInput(w.theirTag, d.cfg.InstanceTag,
		&their.FirstECDH, their.FirstDH.Bytes(), &FX, FA, d.cfg.PeerAccountID, d.cfg.AccountID))
	tI := authT(true, their.Profile.Bytes(), d.cfg.Profile.Bytes(), &their.Y, &X, their.B.Bytes(), A, &phI)
	Hb, Fa := their.Profile.IdentityKey(), d.cfg.Profile.ForgingKey()
	if !otrcrypto.RingVerify(&Hb, &Fa, &X, &m.Sigma, tI) {
		return Result{}, ErrAuthFailed
	}
	K, err := mix(our, &their.Y, their.B)
	if err != nil {
		return Result{}, err
	}
	defer clear(K[:])
	keys := &Keys{
		IsAlice: true, SSID: ssid(&K), RootKey: firstRootKey(&K), SharedSecret: K,
		OurECDH: our.firstECDH, OurDH: our.firstDH, TheirECDH: their.FirstECDH, TheirDH: their.FirstDH,
		TheirProfile: their.Profile, TheirInstanceTag: w.theirTag,
	}
	our.firstECDH, our.firstDH = nil, nil
	d.setState(StateStart, nil, nil)
	return Result{Keys: keys}, nil
}

// mix computes K from our ephemeral keys and the peer's: K_ecdh = ECDH(our,
// theirECDH), k_dh = DH(our, theirDH), then sharedSecret.
func mix(our *ephemeral, theirECDH *otrcrypto.Point, theirDH *otrcrypto.DH3072PublicKey) ([64]byte, error) {
	kECDH, err := our.ecdh.SharedSecret(theirECDH)
	if err != nil {
		return [64]byte{}, err
	}
	defer clear(kECDH[:])
	kDH, err := our.dh.SharedSecret(theirDH)
	if err != nil {
		return [64]byte{}, err
	}
	defer clear(kDH)
	K, brace := sharedSecret(&kECDH, kDH)
	clear(brace[:])
	return K, nil
}

// hashMPI returns plain SHAKE-256(MPI(B), 32), without the "OTRv4" prefix
// or a usage ID, as otr4j compares Identity messages (docs/interop.md).
func hashMPI(B *otrcrypto.DH3072PublicKey) []byte { return hashMPIBytes(B.Bytes()) }

func hashMPIBytes(v []byte) []byte {
	mpi := make([]byte, 4, 4+len(v))
	mpi[0], mpi[1], mpi[2], mpi[3] = byte(len(v)>>24), byte(len(v)>>16), byte(len(v)>>8), byte(len(v))
	mpi = append(mpi, v...)
	out := make([]byte, 32)
	h := sha3.NewSHAKE256()
	h.Write(mpi)
	h.Read(out)
	return out
}
