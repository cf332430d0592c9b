// Package ratchet4 keeps the encrypted-message state of one OTRv4
// conversation: the double ratchet with its 3072-bit DH brace key, the
// skipped-message-key store and the MAC keys waiting to be revealed
// (OTRv4 spec, "Key Management", "The double ratchet algorithm", "Data
// Exchange", "Revealing MAC Keys", "Session Expiration").
//
// It serves the otr package (github.com/otrgo/otr); its API may change.
//
// Every received message is processed on temporaries and committed only
// after its authenticator verified: a rejected message leaves the state
// exactly as it was (docs/interop.md, "Double ratchet": "message numbers
// are unauthenticated until then"). Two things outside the ratchet state are
// exempt: the last receiving ratchet step computed for a message that did
// not verify, kept so that a repeat costs nothing, and the count of such
// steps that bounds the work forged messages can cause
// (Options.MaxUnverifiedRatchets). Neither is ever committed to the ratchet.
//
// Names follow the spec: i, j, k, pn, root_key (root), chain_key_s/r
// (chainS, chainR), brace_key (braceKey), K_ecdh (kECDH), k_dh (kDH),
// MKenc, MKmac. The ratchet counter i and the ratchet ids on the wire follow
// otr4j, which docs/interop.md and the vectors make binding: i grows by one
// on every sending and every receiving ratchet step, a message carries
// ratchet id i-1 of its sender (0 for both parties' first chains), and a
// new 3072-bit DH key is made on every ratchet whose id is a multiple of 3.
package ratchet4

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"time"

	otrcrypto "github.com/otrgo/otr/crypto"
	otrencoding "github.com/otrgo/otr/encoding"
	"golang.org/x/crypto/chacha20"
)

// Errors for rejected data messages and misuse, sentinels for errors.Is.
var (
	// ErrMalformed: the message does not parse, or a field contradicts the
	// protocol (a DH key where none belongs, an invalid public key).
	ErrMalformed = errors.New("ratchet4: malformed data message")
	// ErrBadMAC: the authenticator did not verify.
	ErrBadMAC = errors.New("ratchet4: authenticator did not verify")
	// ErrReplay: there is no key for this message any more: it was already
	// received, or its stored key was evicted or expired.
	ErrReplay = errors.New("ratchet4: message key already used or discarded")
	// ErrTooFarAhead: the message would make us derive more skipped keys
	// than Options.MaxSkipAhead. Nothing is derived.
	ErrTooFarAhead = errors.New("ratchet4: message skips too far ahead")
	// ErrUnknownRatchet: the ratchet id is neither a known chain nor the
	// peer's next one.
	ErrUnknownRatchet = errors.New("ratchet4: unexpected ratchet id")
	// ErrWiped: the state was wiped.
	ErrWiped = errors.New("ratchet4: state wiped")
	// ErrExhausted: a counter would overflow; the session must end.
	ErrExhausted = errors.New("ratchet4: ratchet counter exhausted")
	// ErrThrottled: the message announces new ratchet keys, and
	// Options.MaxUnverifiedRatchets receiving ratchet steps computed for
	// messages that did not verify were spent within the current
	// Options.UnverifiedRatchetInterval. Nothing was computed; the message
	// is dropped unread, as if its authenticator had failed.
	ErrThrottled = errors.New("ratchet4: too many unverified ratchet steps")
)

// Role says which side of the interactive DAKE we were, as the spec and
// dake.json name the parties.
type Role int

const (
	// RoleAlice received the Identity message, sent Auth-R and received
	// Auth-I. The first ratchet gives her the sending chain.
	RoleAlice Role = iota + 1
	// RoleBob sent the Identity message and Auth-I. The first ratchet gives
	// him the receiving chain, and he rotates his sending keys at once
	// (docs/interop.md, "Double ratchet").
	RoleBob
)

// String returns "alice" or "bob".
func (r Role) String() string {
	switch r {
	case RoleAlice:
		return "alice"
	case RoleBob:
		return "bob"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// Defaults of [Options].
const (
	DefaultMaxSkipped                = 1000
	DefaultMaxSkipAhead              = 1000
	DefaultMaxUnverifiedRatchets     = 8
	DefaultUnverifiedRatchetInterval = time.Minute
)

// Options tunes the skipped-message-key store (OTRv4 spec, "Deletion of
// Stored Message Keys") and the work spent on messages not yet verified.
// The zero value means the defaults.
type Options struct {
	// MaxSkipped bounds the stored skipped message keys of all ratchets
	// together (0: DefaultMaxSkipped, like otr4j). After a message is
	// accepted, the oldest keys beyond it are deleted and their MAC keys
	// queued for revelation.
	MaxSkipped int
	// MaxSkipAhead is the spec's max_skip: the most keys one chain may
	// skip for one message (0: DefaultMaxSkipAhead). A message asking for
	// more (a huge message id or pn, which are unauthenticated) is rejected
	// with ErrTooFarAhead before any key is derived. otr4j has no such
	// bound.
	MaxSkipAhead int
	// MaxSkippedAge, if positive, deletes stored skipped keys older than
	// this (measured with the now passed to Decrypt and Expire) and queues
	// their MAC keys for revelation.
	MaxSkippedAge time.Duration
	// MaxUnverifiedRatchets bounds the receiving ratchet steps attempted for
	// messages that then fail to verify or carry invalid public keys (0:
	// DefaultMaxUnverifiedRatchets).
	// A message announcing new ratchet keys makes us validate its ECDH key,
	// compute an ECDH and, on every third ratchet, a 3072-bit DH shared
	// secret, and walk up to MaxSkipAhead chain keys, all before its
	// authenticator can be checked: anyone able to put a message into the
	// conversation can make us do this. Once this many such steps were
	// attempted within UnverifiedRatchetInterval (counted from the first
	// of them), a message asking for one more is rejected with ErrThrottled
	// before any of that work, until the interval has passed or a message
	// verifies (any message: that resets the count). A message with the ratchet id and public keys of the last
	// step computed reuses it and is not counted; messages of the current
	// receiving chain or with a stored skipped key never need a step and are
	// never throttled.
	//
	// The throttle can delay the genuine peer: while it is spent, the
	// peer's next ratchet is refused like a forgery (ErrThrottled), and its
	// messages are lost until the interval ends. A forger that keeps us
	// throttled must inject messages into this conversation under the
	// peer's instance tag, interval after interval; on an IM network that
	// usually takes control of the transport, which could drop the peer's
	// messages anyway. One burst blocks the peer for at most one interval.
	MaxUnverifiedRatchets int
	// UnverifiedRatchetInterval is the window of MaxUnverifiedRatchets,
	// measured with the now passed to Decrypt (0:
	// DefaultUnverifiedRatchetInterval). A now earlier than the window's
	// start (a clock set back) starts a new window.
	UnverifiedRatchetInterval time.Duration
}

func (o Options) withDefaults() Options {
	if o.MaxSkipped <= 0 {
		o.MaxSkipped = DefaultMaxSkipped
	}
	if o.MaxSkipAhead <= 0 {
		o.MaxSkipAhead = DefaultMaxSkipAhead
	}
	if o.MaxUnverifiedRatchets <= 0 {
		o.MaxUnverifiedRatchets = DefaultMaxUnverifiedRatchets
	}
	if o.UnverifiedRatchetInterval <= 0 {
		o.UnverifiedRatchetInterval = DefaultUnverifiedRatchetInterval
	}
	return o
}

// Config is what the DAKE hands over to start the double ratchet (OTRv4 spec,
// "Interactive DAKE Overview", the double ratchet initialization; dake.json
// double_ratchet_init).
type Config struct {
	Role Role
	// SharedSecret is the DAKE's mixed shared secret K. The first root key
	// (prev_root_key) is KDF(usage_first_root_key || K, 64).
	SharedSecret [64]byte
	// OurECDH and OurDH are our first ECDH and DH key pairs (sent in the
	// Identity or Auth-R message, not the DAKE's ephemeral Y/B or X/A). New
	// takes ownership of them and wipes them when they are used up.
	OurECDH *otrcrypto.ECDHPrivateKey
	OurDH   *otrcrypto.DH3072PrivateKey
	// TheirECDH and TheirDH are the peer's first public keys, validated
	// (crypto.ParsePoint, crypto.ParseDH3072PublicKey).
	TheirECDH otrcrypto.Point
	TheirDH   *otrcrypto.DH3072PublicKey
	// Rand is the source of the ECDH and DH keys of our ratchet steps.
	Rand    io.Reader
	Options Options
}

// skippedKey is a stored message key of a message that has not arrived yet:
// MKenc and the extra symmetric key (OTRv4 spec, "When you receive a Data
// Message": "Store MKenc, extra_sym_key"). The chain key itself is never
// kept, so a compromised store reveals no later message.
type skippedKey struct {
	ratchetID, messageID uint32
	mkEnc                [64]byte
	extra                [64]byte
	stored               time.Time
}

func (e *skippedKey) wipe() { *e = skippedKey{} }

// State is one OTRv4 conversation's data-message keys. It is not safe for
// concurrent use: the session that owns it serializes calls.
type State struct {
	rand  io.Reader
	opts  Options
	wiped bool

	i     uint32 // ratchet counter (otr4j's)
	j, k  uint32 // next sending / receiving message id
	pn    uint32 // number of messages in our previous sending chain
	sendI uint32 // ratchet id our messages carry
	recvI uint32 // ratchet id of the receiving chain
	// haveRecv: chainR exists (Alice has none until Bob's first message).
	haveRecv bool
	// rotate: a sending ratchet step comes before our next message (we
	// have received the peer's new keys since our last step).
	rotate bool

	root     [64]byte
	chainS   [64]byte
	chainR   [64]byte
	braceKey [32]byte

	ourECDH   *otrcrypto.ECDHPrivateKey   // nil once its secret is used up
	ourDH     *otrcrypto.DH3072PrivateKey // nil once its secret is used up
	ourDHPub  []byte                      // public value of the newest DH key we made
	theirECDH otrcrypto.Point
	// Encodings of our and their current ECDH public keys, kept because
	// encoding a point costs a field inversion.
	ourECDHBytes, theirECDHBytes [otrcrypto.PointSize]byte
	theirDH                      *otrcrypto.DH3072PublicKey

	skipped []skippedKey // in insertion order, oldest first
	pending [][64]byte   // MAC keys of received messages, revealed at our next ratchet step
	reveal  [][64]byte   // MAC keys the next message we send carries

	// Not ratchet state: a rejected message may change these (see the
	// package doc).
	pre      *preRatchet // last receiving ratchet step not yet verified; nil: none
	throttle throttle
	work     work
}

// work counts the costly operations done for received messages, for tests.
type work struct {
	ratchets    uint64 // receiving ratchet steps computed before verification (ECDH, maybe DH)
	chainSteps  uint64 // chain keys walked before verification, in any chain
	skippedKeys uint64 // keys derived for the skipped-key store (only once a message verified)
}

// New starts the double ratchet after the interactive DAKE. Both roles
// derive the first ratchet from the first ECDH and DH keys: K_ecdh, k_dh,
// brace_key = KDF(usage_third_brace_key || k_dh, 32), K = KDF(
// usage_shared_secret || K_ecdh || brace_key, 64), then root_key and one
// chain key from prev_root_key = KDF(usage_first_root_key || SharedSecret,
// 64). Alice's chain is her sending chain, Bob's his receiving chain; Bob
// then makes his first sending ratchet step at once, reading fresh keys from
// cfg.Rand (docs/interop.md, "Double ratchet"; dake.json).
func New(cfg Config) (*State, error) {
	if cfg.Role != RoleAlice && cfg.Role != RoleBob {
		return nil, errors.New("ratchet4: unknown role")
	}
	if cfg.OurECDH == nil || cfg.OurDH == nil || cfg.TheirDH == nil || cfg.Rand == nil {
		return nil, errors.New("ratchet4: missing key or random source")
	}
	if cfg.TheirECDH.IsIdentity() {
		return nil, fmt.Errorf("%w: invalid ECDH key", ErrMalformed)
	}
	var prevRoot [64]byte
	otrcrypto.KDF(prevRoot[:], otrcrypto.UsageFirstRootKey, cfg.SharedSecret[:])
	defer clear(prevRoot[:])

	s := &State{
		rand:      cfg.Rand,
		opts:      cfg.Options.withDefaults(),
		ourECDH:   cfg.OurECDH,
		ourDH:     cfg.OurDH,
		ourDHPub:  cfg.OurDH.Public().Bytes(),
		theirECDH: cfg.TheirECDH,
		theirDH:   cfg.TheirDH,
	}
	s.ourECDHBytes = ourECDHPub(s.ourECDH)
	s.theirECDHBytes = pointBytes(&s.theirECDH)
	K, braceKey, err := mix(s.ourECDH, &s.theirECDH, s.ourDH, s.theirDH, nil)
	if err != nil {
		return nil, err
	}
	defer clear(K[:])
	s.braceKey = braceKey
	var chain [64]byte
	s.root, chain = deriveRatchetKeys(&prevRoot, &K)
	if cfg.Role == RoleAlice {
		s.chainS = chain
		return s, nil
	}
	s.chainR = chain
	s.haveRecv = true
	s.rotate = true
	if err := s.rotateSending(); err != nil {
		s.Wipe()
		return nil, err
	}
	return s, nil
}

// NewNonInteractive starts the double ratchet after the non-interactive
// DAKE (OTRv4 spec, "Non-Interactive DAKE Overview", "Initializes the
// double-ratchet"; docs/offline.md, "Double ratchet"): both sides set the
// root key KDF(usage_root_key || K, 64) and one chain key
// KDF(usage_chain_key || K, 64), alice's sending chain and bob's receiving
// chain; there is no first root key and no mix of first keys. Alice
// (RoleAlice) passes her first key pairs as OurECDH and OurDH and sends at
// once on her chain; bob (RoleBob) passes none (his prekeys are used up)
// and makes a DH ratchet step before his first message. Their keys are the
// peer's: bob's prekeys for alice, alice's first public keys for bob.
func NewNonInteractive(cfg Config) (*State, error) {
	switch {
	case cfg.Role != RoleAlice && cfg.Role != RoleBob:
		return nil, errors.New("ratchet4: unknown role")
	case cfg.TheirDH == nil || cfg.Rand == nil:
		return nil, errors.New("ratchet4: missing key or random source")
	case cfg.Role == RoleAlice && (cfg.OurECDH == nil || cfg.OurDH == nil):
		return nil, errors.New("ratchet4: alice needs her first keys")
	case cfg.Role == RoleBob && (cfg.OurECDH != nil || cfg.OurDH != nil):
		return nil, errors.New("ratchet4: bob has no first keys after a non-interactive DAKE")
	case cfg.TheirECDH.IsIdentity():
		return nil, fmt.Errorf("%w: invalid ECDH key", ErrMalformed)
	}
	s := &State{
		rand:      cfg.Rand,
		opts:      cfg.Options.withDefaults(),
		theirECDH: cfg.TheirECDH,
		theirDH:   cfg.TheirDH,
	}
	s.theirECDHBytes = pointBytes(&s.theirECDH)
	var chain [64]byte
	otrcrypto.KDF(s.root[:], otrcrypto.UsageRootKey, cfg.SharedSecret[:])
	otrcrypto.KDF(chain[:], otrcrypto.UsageChainKey, cfg.SharedSecret[:])
	defer clear(chain[:])
	if cfg.Role == RoleAlice {
		s.ourECDH, s.ourDH = cfg.OurECDH, cfg.OurDH
		s.ourDHPub = cfg.OurDH.Public().Bytes()
		s.ourECDHBytes = ourECDHPub(s.ourECDH)
		s.chainS = chain
		return s, nil
	}
	s.chainR = chain
	s.haveRecv = true
	s.rotate = true
	if err := s.rotateSending(); err != nil {
		s.Wipe()
		return nil, err
	}
	return s, nil
}

// mix computes K = KDF(usage_shared_secret || K_ecdh || brace_key, 64) and
// the new brace key: KDF(usage_third_brace_key || k_dh, 32) when a DH pair
// is given, else KDF(usage_brace_key || prevBrace, 32) (OTRv4 spec, "Shared
// Secrets"; k_dh enters as a minimal big-endian integer, docs/interop.md,
// "Double ratchet").
func mix(ourECDH *otrcrypto.ECDHPrivateKey, theirECDH *otrcrypto.Point, ourDH *otrcrypto.DH3072PrivateKey,
	theirDH *otrcrypto.DH3072PublicKey, prevBrace *[32]byte) (K [64]byte, braceKey [32]byte, err error) {
	kECDH, err := ourECDH.SharedSecret(theirECDH)
	defer clear(kECDH[:])
	if err != nil {
		return K, braceKey, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if ourDH != nil {
		kDH, err := ourDH.SharedSecret(theirDH)
		if err != nil {
			return K, braceKey, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		otrcrypto.KDF(braceKey[:], otrcrypto.UsageThirdBraceKey, kDH)
		clear(kDH)
	} else {
		otrcrypto.KDF(braceKey[:], otrcrypto.UsageBraceKey, prevBrace[:])
	}
	otrcrypto.KDF(K[:], otrcrypto.UsageSharedSecret, kECDH[:], braceKey[:])
	return K, braceKey, nil
}

// deriveRatchetKeys is the spec's derive_ratchet_keys: curr_root_key =
// KDF(usage_root_key || prev_root_key || K, 64), chain key =
// KDF(usage_chain_key || prev_root_key || K, 64).
func deriveRatchetKeys(prevRoot, K *[64]byte) (root, chain [64]byte) {
	otrcrypto.KDF(root[:], otrcrypto.UsageRootKey, prevRoot[:], K[:])
	otrcrypto.KDF(chain[:], otrcrypto.UsageChainKey, prevRoot[:], K[:])
	return root, chain
}

// messageKeys is derive_enc_mac_keys plus the extra symmetric key, all from
// chain key ck.
func messageKeys(ck *[64]byte) (mkEnc, mkMAC, extra [64]byte) {
	otrcrypto.KDF(mkEnc[:], otrcrypto.UsageMessageKey, ck[:])
	otrcrypto.KDF(mkMAC[:], otrcrypto.UsageMACKey, mkEnc[:])
	extra = extraKey(ck)
	return
}

// extraKey is KDF(usage_extra_symm_key || 0xFF || chain_key, 64)
// (docs/interop.md, "Double ratchet").
func extraKey(ck *[64]byte) (extra [64]byte) {
	otrcrypto.KDF(extra[:], otrcrypto.UsageExtraSymmKey, []byte{0xff}, ck[:])
	return extra
}

func macKey(mkEnc *[64]byte) (mkMAC [64]byte) {
	otrcrypto.KDF(mkMAC[:], otrcrypto.UsageMACKey, mkEnc[:])
	return mkMAC
}

// nextChainKey replaces ck by KDF(usage_next_chain_key || ck, 64).
func nextChainKey(ck *[64]byte) {
	var next [64]byte
	otrcrypto.KDF(next[:], otrcrypto.UsageNextChainKey, ck[:])
	*ck = next
	clear(next[:])
}

// xorChaCha20 encrypts or decrypts with ChaCha20 (IETF) keyed with the first
// 32 bytes of MKenc and a zero nonce: every message key is used once, so the
// fixed nonce is safe (OTRv4 spec, "When you send a Data Message").
func xorChaCha20(mkEnc *[64]byte, in []byte) []byte {
	var nonce [chacha20.NonceSize]byte
	c, err := chacha20.NewUnauthenticatedCipher(mkEnc[:chacha20.KeySize], nonce[:])
	if err != nil {
		panic("otr: internal error: " + err.Error())
	}
	out := make([]byte, len(in))
	c.XORKeyStream(out, in)
	return out
}

// authenticator is KDF(usage_authenticator || MKmac || authenticated, 64).
func authenticator(mkMAC *[64]byte, authenticated []byte) (tag [64]byte) {
	otrcrypto.KDF(tag[:], otrcrypto.UsageAuthenticator, mkMAC[:], authenticated)
	return tag
}

// rotateSending is the sending ratchet step (OTRv4 spec, "Rotating ECDH Keys
// and Brace Key as sender", "When you send a Data Message": "Given a new DH
// Ratchet"). On error the state is unchanged.
func (s *State) rotateSending() error {
	if s.i == math.MaxUint32 {
		return ErrExhausted
	}
	newECDH, err := otrcrypto.GenerateECDHKey(s.rand)
	if err != nil {
		return err
	}
	var newDH *otrcrypto.DH3072PrivateKey
	if s.i%3 == 0 {
		if newDH, err = otrcrypto.GenerateDH3072Key(s.rand); err != nil {
			newECDH.Wipe()
			return err
		}
	}
	K, braceKey, err := mix(newECDH, &s.theirECDH, newDH, s.theirDH, &s.braceKey)
	defer clear(K[:])
	if err != nil {
		newECDH.Wipe()
		if newDH != nil {
			newDH.Wipe()
		}
		return err
	}
	root, chain := deriveRatchetKeys(&s.root, &K)

	// Commit.
	if s.ourECDH != nil {
		s.ourECDH.Wipe()
	}
	s.ourECDH = newECDH
	s.ourECDHBytes = ourECDHPub(newECDH)
	if newDH != nil {
		if s.ourDH != nil {
			s.ourDH.Wipe()
		}
		s.ourDH = newDH
		s.ourDHPub = newDH.Public().Bytes()
	}
	s.braceKey, s.root, s.chainS = braceKey, root, chain
	s.dropPre() // computed from the old root key
	clear(braceKey[:])
	clear(root[:])
	clear(chain[:])
	s.sendI = s.i
	s.i++
	// pn is the length of our previous sending chain (otr4j sets it at the
	// sending step; the spec's "Set pn as j" at the receiving step gives
	// the same value).
	s.pn = s.j
	s.j = 0
	s.rotate = false
	// OTRv4 spec, "Revealing MAC Keys": "The first data message sent every
	// ratchet reveals them". otr4j collects them at the ratchet step.
	s.reveal = append(s.reveal, s.pending...)
	s.pending = nil
	return nil
}

// Encrypt builds the data message carrying plaintext (the message with its
// NUL and TLVs already appended) under header h, whose version and type it
// sets to 4 and Data (OTRv4 spec, "When you send a Data Message"). If we have
// received the peer's new keys since our last ratchet step, it first makes a
// sending ratchet step with fresh keys from the Rand of New. It returns the
// encoded message (header included) and the extra symmetric key of the
// message, which the caller should clear when it has no use for it. The
// first message after a ratchet step carries the MAC keys to reveal. On
// error the state is unchanged.
func (s *State) Encrypt(h otrencoding.Header, flags uint8, plaintext []byte) ([]byte, [64]byte, error) {
	if s.wiped {
		return nil, [64]byte{}, ErrWiped
	}
	if s.rotate {
		if err := s.rotateSending(); err != nil {
			return nil, [64]byte{}, err
		}
	}
	if s.j == math.MaxUint32 {
		return nil, [64]byte{}, ErrExhausted
	}
	mkEnc, mkMAC, extra := messageKeys(&s.chainS)
	defer clear(mkEnc[:])
	defer clear(mkMAC[:])

	m := otrencoding.DataMessage4{
		Flags:      flags,
		PN:         s.pn,
		RatchetID:  s.sendI,
		MessageID:  s.j,
		ECDH:       s.ourECDHBytes,
		Ciphertext: xorChaCha20(&mkEnc, plaintext),
	}
	// A message carries our DH public key exactly when its ratchet id is a
	// multiple of 3 (docs/interop.md, "Double ratchet"; dake.json).
	if s.sendI%3 == 0 {
		m.DH = s.ourDHPub
	}
	for _, k := range s.reveal {
		m.RevealedMACKeys = append(m.RevealedMACKeys, k[:]...)
	}
	h.Version = otrencoding.Version4
	h.Type = otrencoding.MsgData
	out := otrencoding.Marshal(h, &m)
	clear(m.RevealedMACKeys)
	authLen := len(out) - otrencoding.AuthenticatorLen - 4 - len(m.RevealedMACKeys)
	tag := authenticator(&mkMAC, out[:authLen])
	copy(out[authLen:], tag[:])

	nextChainKey(&s.chainS)
	s.j++
	wipeKeys(s.reveal)
	s.reveal = nil
	return out, extra, nil
}

// Decrypted is a verified and decrypted data message.
type Decrypted struct {
	Header otrencoding.Header
	Flags  uint8
	// RatchetID is the message's ratchet id.
	RatchetID uint32
	// Plaintext is the decrypted message with its NUL and TLVs; the caller
	// owns it.
	Plaintext []byte
	// ExtraKey is the message's extra symmetric key; clear it when unused.
	ExtraKey [64]byte
}

// Decrypt verifies and decrypts payload, a whole encoded OTRv4 Data message
// as received (OTRv4 spec, "When you receive a Data Message"). Instance tags
// are the caller's business. now dates the skipped keys stored and expires
// old ones (Options.MaxSkippedAge) and the window of
// Options.MaxUnverifiedRatchets. The state changes only if the
// authenticator verified; on error it is exactly as before (but for what
// the package doc exempts).
func (s *State) Decrypt(now time.Time, payload []byte) (Decrypted, error) {
	out, err := s.decrypt(now, payload)
	if err == nil {
		// The peer is talking to us: whatever failed before, a forger
		// starts again from nothing.
		s.throttle = throttle{}
	}
	return out, err
}

func (s *State) decrypt(now time.Time, payload []byte) (Decrypted, error) {
	if s.wiped {
		return Decrypted{}, ErrWiped
	}
	h, m, authLen, err := otrencoding.ParseDataMessage4(payload)
	if err != nil {
		return Decrypted{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	// A DH key is carried exactly when the ratchet id is a multiple of 3.
	if (m.RatchetID%3 == 0) != (len(m.DH) > 0) {
		return Decrypted{}, fmt.Errorf("%w: DH key presence does not match the ratchet id", ErrMalformed)
	}
	auth := payload[:authLen]
	out := Decrypted{Header: h, Flags: m.Flags, RatchetID: m.RatchetID}

	// "Try to decrypt the message with a stored skipped message key".
	if idx := s.findSkipped(m.RatchetID, m.MessageID); idx >= 0 {
		e := &s.skipped[idx]
		mkMAC := macKey(&e.mkEnc)
		if !verify(&mkMAC, auth, &m.Authenticator) {
			clear(mkMAC[:])
			return Decrypted{}, ErrBadMAC
		}
		out.Plaintext = xorChaCha20(&e.mkEnc, m.Ciphertext)
		out.ExtraKey = e.extra
		e.wipe()
		s.skipped = slices.Delete(s.skipped, idx, idx+1) // clears the vacated slot
		s.pending = append(s.pending, mkMAC)
		s.evict(now)
		return out, nil
	}

	switch {
	case s.haveRecv && m.RatchetID == s.recvI:
		return s.decryptCurrent(now, &m, auth, out)
	case !s.rotate && m.RatchetID == s.i:
		return s.decryptNewRatchet(now, &m, auth, out)
	case m.RatchetID < s.i:
		// A past chain whose key is gone: "a duplicated message from a past
		// DH ratchet. Discard the message."
		return Decrypted{}, ErrReplay
	}
	return Decrypted{}, ErrUnknownRatchet
}

// decryptCurrent handles a message of the current receiving chain ("When
// receiving a data message in the same DH Ratchet").
func (s *State) decryptCurrent(now time.Time, m *otrencoding.DataMessage4, auth []byte, out Decrypted) (Decrypted, error) {
	if m.MessageID < s.k {
		return Decrypted{}, ErrReplay
	}
	if m.MessageID == math.MaxUint32 {
		return Decrypted{}, ErrExhausted // k would wrap around
	}
	if uint64(m.MessageID-s.k) > uint64(s.opts.MaxSkipAhead) {
		return Decrypted{}, ErrTooFarAhead
	}
	// Every message of the chain carries the sender's same keys.
	if m.ECDH != s.theirECDHBytes || (len(m.DH) > 0 && !bytes.Equal(m.DH, s.theirDH.Bytes())) {
		return Decrypted{}, fmt.Errorf("%w: public keys differ from the chain's", ErrMalformed)
	}
	// Walk to the message's chain key alone; the keys of the messages it
	// skips are derived and stored only once it verified, so that a forged
	// message id costs one KDF per step, not three.
	chain := s.chainR
	defer clear(chain[:])
	for range m.MessageID - s.k {
		nextChainKey(&chain)
		s.work.chainSteps++
	}
	mkEnc, mkMAC, extra := messageKeys(&chain)
	defer clear(mkEnc[:])
	if !verify(&mkMAC, auth, &m.Authenticator) {
		clear(mkMAC[:])
		clear(extra[:])
		return Decrypted{}, ErrBadMAC
	}
	out.Plaintext = xorChaCha20(&mkEnc, m.Ciphertext)
	out.ExtraKey = extra

	// "Store any message keys from the current DH Ratchet that correspond
	// to messages that have not yet arrived".
	walk := s.chainR
	stored := s.skip(&walk, s.recvI, s.k, m.MessageID, now)
	clear(walk[:])
	nextChainKey(&chain)
	s.chainR = chain
	s.k = m.MessageID + 1
	s.skipped = append(s.skipped, stored...)
	s.pending = append(s.pending, mkMAC)
	s.evict(now)
	return out, nil
}

// decryptNewRatchet handles the first message seen of the peer's next
// ratchet ("Given a new ratchet"): make the receiving ratchet step with the
// message's keys and verify the message within the new chain; once it
// verified, store the rest of the current receiving chain up to pn and the
// new chain's keys before the message, and commit. The ratchet step is the
// costly part: it comes from receivingStep, which caches and throttles it.
func (s *State) decryptNewRatchet(now time.Time, m *otrencoding.DataMessage4, auth []byte, out Decrypted) (Decrypted, error) {
	if s.i == math.MaxUint32 {
		return Decrypted{}, ErrExhausted
	}
	// Bound the work before deriving anything: pn and the message id are
	// unauthenticated.
	if s.haveRecv && m.PN > s.k && uint64(m.PN-s.k) > uint64(s.opts.MaxSkipAhead) {
		return Decrypted{}, ErrTooFarAhead
	}
	if uint64(m.MessageID) > uint64(s.opts.MaxSkipAhead) {
		return Decrypted{}, ErrTooFarAhead
	}
	if m.RatchetID%3 == 0 && s.ourDH == nil {
		return Decrypted{}, fmt.Errorf("%w: no DH key pair for this ratchet", ErrUnknownRatchet)
	}
	if s.ourECDH == nil {
		return Decrypted{}, fmt.Errorf("%w: no ECDH key pair for this ratchet", ErrUnknownRatchet)
	}
	p, err := s.receivingStep(now, m)
	if err != nil {
		return Decrypted{}, err
	}
	ck := p.chainKey(m.MessageID, &s.work.chainSteps)
	defer clear(ck[:])
	mkEnc, mkMAC, extra := messageKeys(&ck)
	defer clear(mkEnc[:])
	if !verify(&mkMAC, auth, &m.Authenticator) {
		clear(mkMAC[:])
		clear(extra[:])
		return Decrypted{}, ErrBadMAC
	}
	out.Plaintext = xorChaCha20(&mkEnc, m.Ciphertext)
	out.ExtraKey = extra

	// "Store any message keys from the previous DH Ratchet that correspond
	// to messages that have not yet arrived", then those the new chain
	// skips. Only a verified message gets this far, so walking the new
	// chain again from its start costs the peer's own messages only.
	var stored []skippedKey
	if s.haveRecv && m.PN > s.k {
		old := s.chainR
		stored = s.skip(&old, s.recvI, s.k, m.PN, now)
		clear(old[:])
	}
	chain := p.marks[0]
	defer clear(chain[:])
	stored = append(stored, s.skip(&chain, m.RatchetID, 0, m.MessageID, now)...)

	// Commit.
	nextChainKey(&chain)
	s.theirECDH = p.theirECDH
	s.theirECDHBytes = m.ECDH
	if p.theirDH != nil {
		s.theirDH = p.theirDH
		// "Securely delete our_dh.secret": its one receiving use is done.
		s.ourDH.Wipe()
		s.ourDH = nil
	}
	// "Securely delete our_ecdh.secret": the next send makes a new pair.
	s.ourECDH.Wipe()
	s.ourECDH = nil
	s.braceKey = p.braceKey
	s.root = p.root
	s.chainR = chain
	s.dropPre()
	s.recvI = m.RatchetID
	s.haveRecv = true
	s.k = m.MessageID + 1
	s.i++
	s.rotate = true
	s.skipped = append(s.skipped, stored...)
	// otr4j verifies this message on the new ratchet and appends the older
	// queue after it, so its key is revealed first (ratchet.json, "otr4j
	// behaviour shown" (1)). The order carries no meaning; it is kept so
	// that our messages match otr4j's byte for byte.
	s.pending = append([][64]byte{mkMAC}, s.pending...)
	s.evict(now)
	return out, nil
}

// markStride is the distance between the chain keys a preRatchet keeps.
const markStride = 32

// preRatchet is a receiving ratchet step computed for a message not yet
// verified: "Rotate the ECDH keys and brace key" as receiver and
// derive_ratchet_keys, on copies, plus the walk along the new chain. It
// depends only on the ratchet id, the peer's new public keys and what stays
// fixed while we expect that ratchet id (root key, brace key, our key
// pairs), so a later message with the same three reuses it; it is dropped
// whenever the root key changes. A verified message commits its keys.
type preRatchet struct {
	// The message's ratchet id and public keys as received (dh nil when
	// it carries none): the cache key.
	ratchetID uint32
	ecdh      [otrcrypto.PointSize]byte
	dh        []byte

	theirECDH otrcrypto.Point
	theirDH   *otrcrypto.DH3072PublicKey // nil when the message carries none
	root      [64]byte
	braceKey  [32]byte
	// marks[n] is the chain key of message n*markStride of the new chain
	// (marks[0] from derive_ratchet_keys), farKey that of message far, the
	// furthest walked to. A message id is thus reached walking either only
	// past far, or fewer than markStride steps from a mark: no stretch of
	// the chain is walked twice, for at most MaxSkipAhead/markStride+2 keys.
	marks  [][64]byte
	far    uint32
	farKey [64]byte
}

func (p *preRatchet) wipe() {
	clear(p.root[:])
	clear(p.braceKey[:])
	wipeKeys(p.marks)
	clear(p.farKey[:])
	*p = preRatchet{}
}

// matches reports whether m asks for the ratchet step p holds.
func (p *preRatchet) matches(m *otrencoding.DataMessage4) bool {
	return p.ratchetID == m.RatchetID && p.ecdh == m.ECDH && bytes.Equal(p.dh, m.DH)
}

// chainKey returns the chain key of message n of the new chain, adding the
// steps it walks to *steps.
func (p *preRatchet) chainKey(n uint32, steps *uint64) (ck [64]byte) {
	if n >= p.far {
		for p.far < n {
			nextChainKey(&p.farKey)
			p.far++
			*steps++
			if p.far%markStride == 0 {
				p.marks = append(p.marks, p.farKey)
			}
		}
		return p.farKey
	}
	ck = p.marks[n/markStride]
	for range n % markStride {
		nextChainKey(&ck)
		*steps++
	}
	return ck
}

// dropPre wipes and forgets the cached ratchet step.
func (s *State) dropPre() {
	if s.pre != nil {
		s.pre.wipe()
		s.pre = nil
	}
}

// receivingStep returns the receiving ratchet step m asks for: the cached
// one if m carries its ratchet id and public keys, else a new one, which
// replaces it, if the throttle allows. The caller has checked that m's
// ratchet id is the one we expect and that we hold the key pairs it needs.
// Nothing of the ratchet state changes.
func (s *State) receivingStep(now time.Time, m *otrencoding.DataMessage4) (*preRatchet, error) {
	if s.pre != nil && s.pre.matches(m) {
		return s.pre, nil
	}
	// Charged before parsing: validating the point is costly too. A
	// message that verifies gives the charge back (Decrypt).
	if !s.throttle.spend(now, &s.opts) {
		return nil, ErrThrottled
	}
	theirECDH, err := otrcrypto.ParsePoint(m.ECDH[:])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if theirECDH.Equal(&s.theirECDH) {
		return nil, fmt.Errorf("%w: new ratchet without a new ECDH key", ErrMalformed)
	}
	var theirDH *otrcrypto.DH3072PublicKey
	var ourDH *otrcrypto.DH3072PrivateKey
	if m.RatchetID%3 == 0 {
		if theirDH, err = otrcrypto.ParseDH3072PublicKey(m.DH); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		if theirDH.Equal(s.theirDH) {
			return nil, fmt.Errorf("%w: new ratchet without a new DH key", ErrMalformed)
		}
		ourDH = s.ourDH
	}
	// "Rotate the ECDH keys and brace key" as receiver, then
	// derive_ratchet_keys(receiving, prev_root_key, K).
	s.work.ratchets++
	K, braceKey, err := mix(s.ourECDH, &theirECDH, ourDH, theirDH, &s.braceKey)
	defer clear(K[:])
	defer clear(braceKey[:])
	if err != nil {
		return nil, err
	}
	root, chain := deriveRatchetKeys(&s.root, &K)
	defer clear(root[:])
	defer clear(chain[:])
	p := &preRatchet{
		ratchetID: m.RatchetID,
		ecdh:      m.ECDH,
		theirECDH: theirECDH,
		theirDH:   theirDH,
		root:      root,
		braceKey:  braceKey,
		// Room for every mark up front: a growing slice would leave copies
		// of chain keys behind, unwiped.
		marks:  append(make([][64]byte, 0, s.opts.MaxSkipAhead/markStride+1), chain),
		farKey: chain,
	}
	if theirDH != nil {
		p.dh = bytes.Clone(m.DH) // m.DH may point into the caller's buffer
	}
	s.dropPre()
	s.pre = p
	return p, nil
}

// throttle counts the receiving ratchet steps computed for messages not
// (yet) verified, in windows of Options.UnverifiedRatchetInterval.
type throttle struct {
	n     int       // steps in the window
	start time.Time // first step of the window
}

// spend takes one step from the budget at now, starting a new window if the
// last one is over. It reports false, taking nothing, if none is left.
func (t *throttle) spend(now time.Time, o *Options) bool {
	if t.n == 0 || now.Before(t.start) || now.Sub(t.start) >= o.UnverifiedRatchetInterval {
		t.n, t.start = 0, now
	}
	if t.n >= o.MaxUnverifiedRatchets {
		return false
	}
	t.n++
	return true
}

// skip derives and returns the keys of messages from..to-1 of a chain whose
// key for message from is ck, leaving ck at message to.
func (s *State) skip(ck *[64]byte, ratchetID, from, to uint32, now time.Time) []skippedKey {
	if to <= from {
		return nil
	}
	s.work.skippedKeys += uint64(to - from)
	out := make([]skippedKey, 0, to-from)
	for n := from; n < to; n++ {
		e := skippedKey{ratchetID: ratchetID, messageID: n, stored: now}
		otrcrypto.KDF(e.mkEnc[:], otrcrypto.UsageMessageKey, ck[:])
		e.extra = extraKey(ck)
		out = append(out, e)
		nextChainKey(ck)
	}
	return out
}

func verify(mkMAC *[64]byte, auth []byte, tag *[64]byte) bool {
	want := authenticator(mkMAC, auth)
	ok := otrcrypto.Equal(want[:], tag[:])
	clear(want[:])
	return ok
}

func (s *State) findSkipped(ratchetID, messageID uint32) int {
	for n := range s.skipped {
		if s.skipped[n].ratchetID == ratchetID && s.skipped[n].messageID == messageID {
			return n
		}
	}
	return -1
}

// evict deletes stored keys older than MaxSkippedAge and the oldest beyond
// MaxSkipped, queueing their MAC keys for revelation (OTRv4 spec, "Revealing
// MAC Keys": "when the storage of message keys gets deleted").
func (s *State) evict(now time.Time) int {
	dropped := 0
	if s.opts.MaxSkippedAge > 0 {
		keep := s.skipped[:0]
		for n := range s.skipped {
			e := s.skipped[n]
			if now.Sub(e.stored) > s.opts.MaxSkippedAge {
				s.pending = append(s.pending, macKey(&e.mkEnc))
				dropped++
			} else {
				keep = append(keep, e)
			}
			e.wipe()
		}
		wipeSkipped(s.skipped[len(keep):])
		s.skipped = keep
	}
	if extra := len(s.skipped) - s.opts.MaxSkipped; extra > 0 {
		s.dropOldest(s.skipped[:extra])
		s.skipped = deleteFront(s.skipped, extra)
		dropped += extra
	}
	return dropped
}

func (s *State) dropOldest(es []skippedKey) {
	for n := range es {
		s.pending = append(s.pending, macKey(&es[n].mkEnc))
		es[n].wipe()
	}
}

// deleteFront removes the first n entries, wiping the slots left behind.
func deleteFront(es []skippedKey, n int) []skippedKey {
	m := copy(es, es[n:])
	wipeSkipped(es[m:])
	return es[:m]
}

func wipeSkipped(es []skippedKey) {
	for n := range es {
		es[n].wipe()
	}
}

func wipeKeys(ks [][64]byte) {
	for n := range ks {
		clear(ks[n][:])
	}
}

// Expire deletes the stored skipped message keys older than
// Options.MaxSkippedAge at now and queues their MAC keys for revelation. It
// returns how many keys it deleted.
func (s *State) Expire(now time.Time) int {
	if s.wiped {
		return 0
	}
	return s.evict(now)
}

// Clone returns an independent copy of s, secrets included, that takes its
// randomness from rand. It serves tests and fuzzers that start many runs
// from one established state; the copy must be wiped like the original.
func (s *State) Clone(rand io.Reader) *State {
	c := *s
	c.rand = rand
	if s.ourECDH != nil {
		k := *s.ourECDH
		c.ourECDH = &k
	}
	if s.ourDH != nil {
		k := *s.ourDH
		c.ourDH = &k
	}
	c.ourDHPub = slices.Clone(s.ourDHPub)
	c.skipped = slices.Clone(s.skipped)
	c.pending = slices.Clone(s.pending)
	c.reveal = slices.Clone(s.reveal)
	if s.pre != nil {
		p := *s.pre
		p.dh = slices.Clone(s.pre.dh)
		p.marks = append(make([][64]byte, 0, cap(s.pre.marks)), s.pre.marks...)
		c.pre = &p
	}
	return &c
}

// AcksOurLatest reports whether a received message of ratchetID could
// only have been sent after the peer read a message of our newest sending
// chain: its ratchet id is past the one our messages carry.
func (s *State) AcksOurLatest(ratchetID uint32) bool { return ratchetID > s.sendI }

// NextExpiry returns when Expire next has a stored skipped key to delete
// (the oldest one's time plus Options.MaxSkippedAge, strictly after which
// it goes); ok is false without MaxSkippedAge or stored keys.
func (s *State) NextExpiry() (t time.Time, ok bool) {
	if s.wiped || s.opts.MaxSkippedAge <= 0 || len(s.skipped) == 0 {
		return time.Time{}, false
	}
	oldest := s.skipped[0].stored
	for _, e := range s.skipped[1:] {
		if e.stored.Before(oldest) {
			oldest = e.stored
		}
	}
	return oldest.Add(s.opts.MaxSkippedAge + 1), true
}

// Stored returns the number of stored skipped message keys.
func (s *State) Stored() int { return len(s.skipped) }

// PendingMACCount returns how many MAC keys of received messages wait to
// be revealed (those the next message carries and those queued for our
// next ratchet step).
func (s *State) PendingMACCount() int { return len(s.reveal) + len(s.pending) }

// RevealPending makes the next message we send carry every MAC key not yet
// revealed, without waiting for our next ratchet step. Revealing the MAC
// key of a message already verified is always safe; a receiver that never
// writes would otherwise hold one key per message read. (OTRv4 spec,
// "Revealing MAC Keys", reveals them with the first message of each
// ratchet; a heartbeat that reveals them earlier changes nothing for the
// peer, which only publishes what it receives.)
func (s *State) RevealPending() {
	s.reveal = append(s.reveal, s.pending...)
	s.pending = nil
}

// PendingMACKeys returns the MAC keys not yet revealed, concatenated: those
// the next message carries, then those queued for our next ratchet step.
// Keys of stored skipped messages are not included (see RevealAll). The
// caller owns the result.
func (s *State) PendingMACKeys() []byte {
	var out []byte
	for _, k := range s.reveal {
		out = append(out, k[:]...)
	}
	for _, k := range s.pending {
		out = append(out, k[:]...)
	}
	return out
}

// RevealAll prepares the last message of the session (OTRv4 spec, "Session
// Expiration", step 1, the Disconnected TLV): it derives the MAC keys of all
// stored skipped message keys, deletes those keys, and makes the next
// message Encrypt produces carry every MAC key not yet revealed. It returns
// the number of MAC keys that message will carry.
func (s *State) RevealAll() int {
	if s.wiped {
		return 0
	}
	s.dropOldest(s.skipped)
	s.skipped = nil
	s.reveal = append(s.reveal, s.pending...)
	s.pending = nil
	return len(s.reveal)
}

// Wipe erases every key. Afterwards every method fails with ErrWiped.
func (s *State) Wipe() {
	if s.ourECDH != nil {
		s.ourECDH.Wipe()
	}
	if s.ourDH != nil {
		s.ourDH.Wipe()
	}
	wipeSkipped(s.skipped)
	wipeKeys(s.pending)
	wipeKeys(s.reveal)
	s.dropPre()
	*s = State{wiped: true}
}

func ourECDHPub(k *otrcrypto.ECDHPrivateKey) [otrcrypto.PointSize]byte {
	p := k.Public()
	return p.Bytes()
}

func pointBytes(p *otrcrypto.Point) [otrcrypto.PointSize]byte { return p.Bytes() }

// String returns "[redacted]": a State holds secrets.
func (s *State) String() string { return "[redacted]" }

// GoString returns "[redacted]", for %#v.
func (s *State) GoString() string { return "[redacted]" }

// LogValue returns "[redacted]" for log/slog.
func (s *State) LogValue() slog.Value { return slog.StringValue("[redacted]") }
