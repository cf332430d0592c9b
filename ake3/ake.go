// Package ake3 implements the OTR version 3 authenticated key exchange
// (a SIGMA variant) as a sans-IO state machine: parsed messages in, reply
// messages and a result out. It never performs I/O, never reads the clock and
// never logs.
//
// Package ake3 serves github.com/otrgo/otr; its API may change.
//
// Variable names follow the OTR3 spec ("Authenticated Key Exchange"): x, gx, y, gy,
// r, c, c', m1, m2, m1', m2', M_B, X_B.
package ake3

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	otrcrypto "github.com/otrgo/otr/crypto"
	otrencoding "github.com/otrgo/otr/encoding"
	"golang.org/x/crypto/cryptobyte"
)

// State is the authentication state of OTR3 spec, "Authentication state".
type State int

// The authentication states.
const (
	StateNone State = iota
	StateAwaitingDHKey
	StateAwaitingRevealSig
	StateAwaitingSig
)

// String returns the spec's name of the state.
func (s State) String() string {
	switch s {
	case StateNone:
		return "AUTHSTATE_NONE"
	case StateAwaitingDHKey:
		return "AUTHSTATE_AWAITING_DHKEY"
	case StateAwaitingRevealSig:
		return "AUTHSTATE_AWAITING_REVEALSIG"
	case StateAwaitingSig:
		return "AUTHSTATE_AWAITING_SIG"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Errors returned for rejected input. They are sentinels for errors.Is.
var (
	// ErrIgnored means the spec says to ignore this message in this state.
	ErrIgnored = errors.New("ake3: message ignored in this state")
	// ErrMalformed means the message could not be parsed.
	ErrMalformed = errors.New("ake3: malformed message")
	// ErrVerify means a hash, MAC or signature did not verify.
	ErrVerify = errors.New("ake3: verification failed")
)

// KeyID is the key id we give our first D-H key: the spec starts our_keyid at
// 2 once two keys exist, so the AKE key is number 1.
const KeyID = 1

// Reply is a message to send: its type and a body marshaler.
type Reply struct {
	Type otrencoding.MsgType
	Body interface{ Marshal(*cryptobyte.Builder) }
}

// Bytes returns the body's encoding.
func (r Reply) Bytes() []byte {
	var b cryptobyte.Builder
	r.Body.Marshal(&b)
	return b.BytesOrPanic()
}

// Keys is the outcome of a completed AKE. The receiver owns it and must call
// Wipe when done.
type Keys struct {
	SSID          [8]byte
	OurDH         *otrcrypto.DHPrivateKey // our D-H key of the AKE, key id OurKeyID
	OurKeyID      uint32
	TheirDH       *otrcrypto.DHPublicKey // their g^x or g^y, validated
	TheirKeyID    uint32
	TheirKey      *otrcrypto.DSAPublicKey
	SentRevealSig bool // we sent the Reveal Signature message (bold first half of the SSID)
}

// Wipe erases the keys' secrets.
func (k *Keys) Wipe() {
	if k.OurDH != nil {
		k.OurDH.Wipe()
	}
	clear(k.SSID[:])
}

// AKE holds one key exchange's state. The zero value is not usable; call New.
// It is not safe for concurrent use.
type AKE struct {
	key   *otrcrypto.DSAPrivateKey
	state State

	// Our side: x (our D-H key), r and the commit we sent.
	ourDH  *otrcrypto.DHPrivateKey
	r      [16]byte
	commit *otrencoding.DHCommit // sent in AWAITING_DHKEY

	// Their side.
	theirCommit *otrencoding.DHCommit  // received D-H Commit (AWAITING_REVEALSIG)
	dhKeySent   *otrencoding.DHKey     // our D-H Key message, for retransmission
	gy          *otrcrypto.DHPublicKey // their g^y (AWAITING_SIG)
	revealSent  *otrencoding.RevealSig

	// origin is the D-H Commit of the AKE this one was cloned from: the
	// exchange began with that commit. It is public and survives Wipe.
	origin *otrencoding.DHCommit
}

// New returns an AKE in StateNone that signs with key.
func New(key *otrcrypto.DSAPrivateKey) *AKE {
	return &AKE{key: key}
}

// State returns the current authentication state.
func (a *AKE) State() State { return a.state }

// Clone returns an independent copy of a, secrets included, that began with
// a's current D-H Commit (see ClonedFrom). libotr copies the master
// context's commit into each instance that answers it (several clients of
// one contact may answer the same D-H Commit).
func (a *AKE) Clone() *AKE {
	c := &AKE{key: a.key, state: a.state, r: a.r, origin: a.commit}
	if a.ourDH != nil {
		c.ourDH = a.ourDH.Clone()
	}
	c.commit = a.commit
	c.theirCommit = a.theirCommit
	c.dhKeySent = a.dhKeySent
	c.gy = a.gy
	c.revealSent = a.revealSent
	return c
}

// Copy returns an independent copy of a, secrets included, that is the
// same exchange (Clone begins a new one from a's commit). It serves tests
// and fuzzers that start many runs from one established state.
func (a *AKE) Copy() *AKE {
	c := a.Clone()
	c.origin = a.origin
	return c
}

// ClonedFrom reports whether a was cloned from m since m last started: its
// exchange, whatever its state now, began with m's current D-H Commit. It
// is false if m is in StateNone.
func (a *AKE) ClonedFrom(m *AKE) bool {
	return m.commit != nil && a.origin == m.commit
}

// Wipe erases all secrets and returns to StateNone. What a was cloned from
// stays known.
func (a *AKE) Wipe() {
	if a.ourDH != nil {
		a.ourDH.Wipe()
	}
	clear(a.r[:])
	key, origin := a.key, a.origin
	*a = AKE{key: key, origin: origin}
}

// Start begins a new exchange: OTR3 spec, "D-H Commit Message". It forgets any
// exchange in progress and returns the D-H Commit message to send.
func (a *AKE) Start(rand io.Reader) (Reply, error) {
	dh, err := otrcrypto.GenerateDHKey(rand)
	if err != nil {
		return Reply{}, err
	}
	r, err := drawR(rand)
	if err != nil {
		dh.Wipe()
		return Reply{}, err
	}
	a.Wipe()
	a.ourDH, a.r = dh, r
	gxmpi := mpi(dh.Public())
	enc := make([]byte, len(gxmpi))
	otrcrypto.AESCTR(r[:], [8]byte{}, enc, gxmpi)
	h := otrcrypto.SHA256(gxmpi)
	a.commit = &otrencoding.DHCommit{EncryptedGX: enc, HashedGX: h[:]}
	a.state = StateAwaitingDHKey
	return Reply{otrencoding.MsgDHCommit, a.commit}, nil
}

// drawR draws the AKE's r (OTR3 spec, "D-H Commit Message": a random 128-bit
// value), again as long as its top four bits are zero. otr.js 0.2.16 turns
// the r we reveal into its AES key through a hex string without leading
// zeros (see otrjsKey), so for r < 2^124 it decrypts our g^x under another
// key and refuses the exchange ("Hashed g^x does not match"), one exchange
// in 16. Avoiding those r costs nothing measurable: r is uniform over
// 15*2^124 values, 127.9 bits instead of 128, and it only hides g^x until
// the peer's D-H Key message arrives; one start in 16 reads 16 more random
// bytes.
func drawR(rand io.Reader) ([16]byte, error) {
	var r [16]byte
	for {
		if _, err := io.ReadFull(rand, r[:]); err != nil {
			clear(r[:])
			return r, fmt.Errorf("ake3: reading randomness: %w", err)
		}
		if r[0]>>4 != 0 {
			return r, nil
		}
	}
}

// PendingCommit returns our D-H Commit while its answer is awaited
// (AUTHSTATE_AWAITING_DHKEY), to send again; ok is false in other states.
func (a *AKE) PendingCommit() (r Reply, ok bool) {
	if a.state != StateAwaitingDHKey || a.commit == nil {
		return Reply{}, false
	}
	return Reply{otrencoding.MsgDHCommit, a.commit}, true
}

// Receive processes one AKE message body of type t. It returns the replies
// to send (zero or one) and, when the exchange completed, its keys. On error
// the state is unchanged, except where the spec moves to AUTHSTATE_NONE
// regardless of the outcome (a failed signature check).
func (a *AKE) Receive(rand io.Reader, t otrencoding.MsgType, body []byte) ([]Reply, *Keys, error) {
	switch t {
	case otrencoding.MsgDHCommit:
		var m otrencoding.DHCommit
		if err := m.Unmarshal(body); err != nil || len(m.HashedGX) != 32 {
			return nil, nil, ErrMalformed
		}
		return a.receiveDHCommit(rand, &m)
	case otrencoding.MsgDHKey:
		var m otrencoding.DHKey
		if err := m.Unmarshal(body); err != nil {
			return nil, nil, ErrMalformed
		}
		return a.receiveDHKey(rand, &m)
	case otrencoding.MsgRevealSig:
		var m otrencoding.RevealSig
		if err := m.Unmarshal(body); err != nil {
			return nil, nil, ErrMalformed
		}
		return a.receiveRevealSig(rand, &m)
	case otrencoding.MsgSig:
		var m otrencoding.Sig
		if err := m.Unmarshal(body); err != nil {
			return nil, nil, ErrMalformed
		}
		return a.receiveSig(&m)
	}
	return nil, nil, ErrMalformed
}

// OTR3 spec, "Receiving a D-H Commit Message".
func (a *AKE) receiveDHCommit(rand io.Reader, m *otrencoding.DHCommit) ([]Reply, *Keys, error) {
	switch a.state {
	case StateAwaitingDHKey:
		// Crossed commits: the higher hashed g^x, as a 32-byte big-endian
		// value, keeps its commit and resends it.
		if bytes.Compare(a.commit.HashedGX, m.HashedGX) > 0 {
			return []Reply{{otrencoding.MsgDHCommit, a.commit}}, nil, nil
		}
	case StateAwaitingRevealSig:
		// Retransmit the same D-H Key message; use the new commit.
		a.theirCommit = m
		return []Reply{{otrencoding.MsgDHKey, a.dhKeySent}}, nil, nil
	}
	// NONE, AWAITING_DHKEY (lost the comparison), AWAITING_SIG: reply with a
	// new D-H Key message.
	dh, err := otrcrypto.GenerateDHKey(rand)
	if err != nil {
		return nil, nil, err
	}
	a.Wipe()
	a.ourDH = dh
	a.theirCommit = m
	a.dhKeySent = &otrencoding.DHKey{GY: dh.Public()}
	a.state = StateAwaitingRevealSig
	return []Reply{{otrencoding.MsgDHKey, a.dhKeySent}}, nil, nil
}

// OTR3 spec, "Receiving a D-H Key Message".
func (a *AKE) receiveDHKey(rand io.Reader, m *otrencoding.DHKey) ([]Reply, *Keys, error) {
	switch a.state {
	case StateAwaitingDHKey:
		gx := a.ourDH.Public()
		gy, err := otrcrypto.ParseDHPublic(m.GY) // checks 2 <= g^y <= p-2
		if err != nil {
			return nil, nil, ErrVerify
		}
		s, err := a.ourDH.SharedSecretWith(gy)
		if err != nil {
			return nil, nil, ErrVerify
		}
		ks := deriveAKEKeys(s)
		otrcrypto.Wipe(s)
		defer ks.wipe()
		enc, mac, err := a.signedKey(rand, ks.c[:], ks.m1[:], ks.m2[:], gx, m.GY)
		if err != nil {
			return nil, nil, err
		}
		a.revealSent = &otrencoding.RevealSig{RevealedKey: append([]byte(nil), a.r[:]...), EncryptedSig: enc, MAC: mac}
		a.gy = gy
		a.state = StateAwaitingSig
		return []Reply{{otrencoding.MsgRevealSig, a.revealSent}}, nil, nil
	case StateAwaitingSig:
		if bytes.Equal(a.gy.Bytes(), m.GY) {
			return []Reply{{otrencoding.MsgRevealSig, a.revealSent}}, nil, nil
		}
	}
	return nil, nil, ErrIgnored
}

// OTR3 spec, "Receiving a Reveal Signature Message".
func (a *AKE) receiveRevealSig(rand io.Reader, m *otrencoding.RevealSig) ([]Reply, *Keys, error) {
	if a.state != StateAwaitingRevealSig {
		return nil, nil, ErrIgnored
	}
	gxmpi, ok := a.openCommit(m.RevealedKey)
	if !ok {
		return nil, nil, ErrVerify
	}
	s := cryptobyte.String(gxmpi)
	var gx []byte
	if !otrencoding.ReadMPI(&s, &gx) || !s.Empty() {
		return nil, nil, ErrVerify
	}
	gxPub, err := otrcrypto.ParseDHPublic(gx) // checks 2 <= g^x <= p-2
	if err != nil {
		return nil, nil, ErrVerify
	}
	sec, err := a.ourDH.SharedSecretWith(gxPub)
	if err != nil {
		return nil, nil, ErrVerify
	}
	ks := deriveAKEKeys(sec)
	otrcrypto.Wipe(sec)
	defer ks.wipe()
	gy := a.ourDH.Public()
	theirKey, theirKeyID, err := verifySignedKey(m.EncryptedSig, m.MAC, ks.c[:], ks.m1[:], ks.m2[:], gx, gy)
	if err != nil {
		return nil, nil, err
	}
	enc, mac, err := a.signedKey(rand, ks.cp[:], ks.m1p[:], ks.m2p[:], gy, gx)
	if err != nil {
		return nil, nil, err
	}
	keys := &Keys{SSID: ks.ssid, OurDH: a.ourDH, OurKeyID: KeyID, TheirDH: gxPub, TheirKeyID: theirKeyID, TheirKey: theirKey}
	a.ourDH = nil // handed over to keys
	a.Wipe()
	return []Reply{{otrencoding.MsgSig, &otrencoding.Sig{EncryptedSig: enc, MAC: mac}}}, keys, nil
}

// openCommit decrypts the g^x committed in their D-H Commit with the
// revealed key r and returns it if it matches the committed hash (OTR3 spec,
// "Receiving a Reveal Signature Message": "Uses r to decrypt the value of
// g^x sent earlier" and "Verifies that HASH(g^x) matches the value sent
// earlier").
func (a *AKE) openCommit(r []byte) ([]byte, bool) {
	enc := a.theirCommit.EncryptedGX
	if len(enc) > 4+1536/8+1 {
		return nil, false
	}
	gxmpi := make([]byte, len(enc))
	if len(r) == 16 {
		otrcrypto.AESCTR(r, [8]byte{}, gxmpi, enc)
		if a.matchesCommit(gxmpi) {
			return gxmpi, true
		}
	}
	// Leniency for otr.js 0.2.16, which encrypts g^x under a function of r
	// other than r itself when r < 2^124 (see otrjsKey). Only after the
	// spec's check failed, only for such r, and exactly one other key: the
	// one otr.js uses. The commitment stays binding: the g^x decrypted this
	// way is accepted only if its SHA-256 is the hash the peer committed to
	// before it saw our g^y, so the peer can no more choose g^x after the
	// fact than with r itself (that would need a SHA-256 second preimage).
	// What the other key weakens is the hiding of the peer's own g^x
	// before the reveal, which is otr.js's business, not a check of ours.
	if !otrjsDecrypt(r, gxmpi, enc) || !a.matchesCommit(gxmpi) {
		return nil, false
	}
	return gxmpi, true
}

// matchesCommit reports whether SHA-256(gxmpi) is their committed hash.
func (a *AKE) matchesCommit(gxmpi []byte) bool {
	h := otrcrypto.SHA256(gxmpi)
	return otrcrypto.Equal(h[:], a.theirCommit.HashedGX)
}

// OTR3 spec, "Receiving a Signature Message".
func (a *AKE) receiveSig(m *otrencoding.Sig) ([]Reply, *Keys, error) {
	if a.state != StateAwaitingSig {
		return nil, nil, ErrIgnored
	}
	sec, err := a.ourDH.SharedSecretWith(a.gy)
	if err != nil {
		return nil, nil, ErrVerify
	}
	ks := deriveAKEKeys(sec)
	otrcrypto.Wipe(sec)
	defer ks.wipe()
	gx := a.ourDH.Public()
	theirKey, theirKeyID, err := verifySignedKey(m.EncryptedSig, m.MAC, ks.cp[:], ks.m1p[:], ks.m2p[:], a.gy.Bytes(), gx)
	if err != nil {
		return nil, nil, err
	}
	keys := &Keys{SSID: ks.ssid, OurDH: a.ourDH, OurKeyID: KeyID, TheirDH: a.gy, TheirKeyID: theirKeyID, TheirKey: theirKey, SentRevealSig: true}
	a.ourDH = nil
	a.Wipe()
	return nil, keys, nil
}

// signedKey builds AES_c(X_B) and MAC_m2(AES_c(X_B)) for our side, where
// M_B = MAC_m1(ourPub, theirPub, pub_B, keyid_B).
func (a *AKE) signedKey(rand io.Reader, c, m1, m2, ourPub, theirPub []byte) ([]byte, [20]byte, error) {
	pub := a.key.Public()
	epub := otrencoding.DSAPublicKey{P: pub.P, Q: pub.Q, G: pub.G, Y: pub.Y}
	mb := otrencoding.MarshalMB(ourPub, theirPub, &epub, KeyID)
	M := otrcrypto.HMACSHA256(m1, mb)
	sig, err := a.key.Sign(rand, M[:])
	if err != nil {
		return nil, [20]byte{}, err
	}
	xb := otrencoding.SignedKey{PublicKey: epub, KeyID: KeyID, Sig: sig}
	var b cryptobyte.Builder
	xb.Marshal(&b)
	plain := b.BytesOrPanic()
	enc := make([]byte, len(plain))
	otrcrypto.AESCTR(c, [8]byte{}, enc, plain)
	var d cryptobyte.Builder
	otrencoding.AddData(&d, enc)
	full := otrcrypto.HMACSHA256(m2, d.BytesOrPanic())
	var mac [20]byte
	copy(mac[:], full[:20])
	return enc, mac, nil
}

// verifySignedKey checks MAC_m2(enc), decrypts X with c and verifies the
// signature over M = MAC_m1(theirPub, ourPub, pub, keyid).
func verifySignedKey(enc []byte, mac [20]byte, c, m1, m2, theirPub, ourPub []byte) (*otrcrypto.DSAPublicKey, uint32, error) {
	var d cryptobyte.Builder
	otrencoding.AddData(&d, enc)
	full := otrcrypto.HMACSHA256(m2, d.BytesOrPanic())
	if !otrcrypto.Equal(full[:20], mac[:]) {
		return nil, 0, ErrVerify
	}
	plain := make([]byte, len(enc))
	otrcrypto.AESCTR(c, [8]byte{}, plain, enc)
	var x otrencoding.SignedKey
	if err := x.Unmarshal(plain); err != nil || x.KeyID == 0 {
		return nil, 0, ErrVerify
	}
	pub := &otrcrypto.DSAPublicKey{P: x.PublicKey.P, Q: x.PublicKey.Q, G: x.PublicKey.G, Y: x.PublicKey.Y}
	if err := pub.Check(); err != nil {
		return nil, 0, ErrVerify
	}
	mb := otrencoding.MarshalMB(theirPub, ourPub, &x.PublicKey, x.KeyID)
	M := otrcrypto.HMACSHA256(m1, mb)
	if !pub.Verify(M[:], x.Sig) {
		return nil, 0, ErrVerify
	}
	return pub, x.KeyID, nil
}

// akeKeys are the values of OTR3 spec, "Computing AES keys, MAC keys, and the
// secure session id": h2(b) = SHA256(b || secbytes).
type akeKeys struct {
	ssid             [8]byte
	c, cp            [16]byte
	m1, m2, m1p, m2p [32]byte
}

func deriveAKEKeys(s []byte) *akeKeys {
	secbytes := mpi(s)
	defer otrcrypto.Wipe(secbytes)
	h2 := func(b byte) [32]byte { return otrcrypto.SHA256([]byte{b}, secbytes) }
	var k akeKeys
	h := h2(0x00)
	copy(k.ssid[:], h[:8])
	h = h2(0x01)
	copy(k.c[:], h[:16])
	copy(k.cp[:], h[16:])
	k.m1, k.m2, k.m1p, k.m2p = h2(0x02), h2(0x03), h2(0x04), h2(0x05)
	clear(h[:])
	return &k
}

func (k *akeKeys) wipe() { *k = akeKeys{} }

// mpi returns v as an OTR MPI.
func mpi(v []byte) []byte {
	var b cryptobyte.Builder
	otrencoding.AddMPI(&b, v)
	return b.BytesOrPanic()
}
