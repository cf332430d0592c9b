package otr

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/otrgo/otr/ake3"
	otrcrypto "github.com/otrgo/otr/crypto"
	"github.com/otrgo/otr/dake"
	otrencoding "github.com/otrgo/otr/encoding"
	"github.com/otrgo/otr/fragment"
	"github.com/otrgo/otr/internal/keys3"
	"github.com/otrgo/otr/internal/ratchet4"
	"github.com/otrgo/otr/smp"
)

// Session is the conversation with one contact, over all of the contact's
// instances (clients). It is safe for concurrent use.
type Session struct {
	acct    *Account
	contact string

	mu             sync.Mutex
	policy         Policy
	master         *ake3.AKE           // our D-H Commit sent to no particular instance
	masterAnswered bool                // an instance took a copy of master's exchange
	master4        *dake.DAKE          // our Identity message sent to no particular instance
	prof           *dake.ClientProfile // our client profile for the current call
	instances      map[uint32]*instance
	recvSeq        uint64 // counts authenticated messages received, for the instance rule
	offerSent      bool   // whitespace tag sent since entering plaintext
	sawPlaintext   bool   // untagged plaintext received: stop offering
	pending        []string
	exchangeAt     time.Time // when we last started a key exchange (query, D-H Commit, Identity)
	queryTries     int       // queries since Start or the last completed key exchange
	sweepAt        time.Time // when Expire next sweeps stale fragments; zero: none buffered
	forgotten      bool      // Account.Forget dropped the session
	frag           *fragment.Assembler

	// trust is the TrustHost's record of the contact's fingerprints
	// (string(fingerprint) -> trust), read once per session and kept
	// current by the library's own trust changes and Session.SetTrust.
	trust       map[string]Trust
	trustLoaded atomic.Bool

	// Budgets (budget.go).
	kx               bucket               // key exchanges the contact starts from unauthenticated tags
	throttled        int                  // refused since the last ThrottledEvent
	throttleReported time.Time            // when the last ThrottledEvent went out
	answered         []answeredStart      // key-exchange starts answered, newest last
	errSent          map[uint32]time.Time // error replies in the current window, by instance
	errWindow        time.Time            // start of the current error-reply window
	errCount         int                  // error replies in it
	created          uint64               // counts instances created
}

// maxPending bounds the user messages queued while REQUIRE_ENCRYPTION waits
// for the key exchange.
const maxPending = 64

// instance is one client of the contact, known by its instance tag. Its
// secrets are reachable from nowhere else.
type instance struct {
	tag           uint32
	status        Status
	version       int
	ake           *ake3.AKE
	keys          *keys3.State
	theirKey      *otrcrypto.DSAPublicKey
	ssid          SSID
	sentRevealSig bool
	smp           *smp.SMP3
	smpAnswering  bool                // the current SMP run answers the contact's question
	dake          *dake.DAKE          // OTRv4 key exchange in progress with this instance
	r4            *ratchet4.State     // OTRv4 double ratchet
	smp4          *smp.SMP4           // OTRv4 SMP
	theirProfile  *dake.ClientProfile // OTRv4: the contact's profile, from the DAKE
	fp            Fingerprint         // cache of fingerprint(); reset by each key exchange
	lastSent      time.Time           // last data message sent
	lastActive    time.Time           // last data message sent or received
	recvSeq       uint64              // Session.recvSeq at the last authenticated message received
	created       uint64              // Session.created when the instance was added
	verifiedSince bool                // a data message verified since the last key exchange
	restarted     bool                // restartFresh ran since the last data message verified
	securedAt     time.Time           // when the last key exchange completed
	restartDAKE   *dake.DAKE          // the exchange restartFresh started, if in.dake still is it
	sent          []sentText          // user messages kept for a possible resend (resend.go)
	sentBytes     int                 // their total length
	resendFP      Fingerprint         // set: resend them over the next key exchange with this key
}

func (in *instance) wipeKeys() {
	if in.keys != nil {
		in.keys.Wipe()
		in.keys = nil
	}
	if in.smp != nil {
		in.smp.Wipe()
		in.smp = nil
	}
	if in.r4 != nil {
		in.r4.Wipe()
		in.r4 = nil
	}
	if in.smp4 != nil {
		in.smp4.Wipe()
		in.smp4 = nil
	}
}

// fingerprint returns the contact's fingerprint as authenticated on in: the
// DSA key's for OTR3, the client profile's for OTRv4; nil before a key
// exchange. It is computed once per key exchange (an OTRv4 fingerprint
// costs point encodings).
func (in *instance) fingerprint() Fingerprint {
	if in.fp == nil {
		in.fp = in.computeFingerprint()
	}
	return in.fp
}

func (in *instance) computeFingerprint() Fingerprint {
	switch {
	case in.version == 4 && in.theirProfile != nil:
		fp := in.theirProfile.Fingerprint()
		return Fingerprint(fp[:])
	case in.theirKey != nil:
		fp := in.theirKey.Fingerprint()
		return Fingerprint(fp[:])
	}
	return nil
}

func newSession(a *Account, contact string, p Policy) *Session {
	return &Session{
		acct:      a,
		contact:   contact,
		policy:    p,
		master:    ake3.New(a.keys.dsa),
		instances: make(map[uint32]*instance),
		frag:      fragment.NewAssembler(a.fragLim, a.budget),
	}
}

// Contact returns the contact's transport identifier.
func (s *Session) Contact() string { return s.contact }

// SetPolicy changes the session's policy from now on, as the account's
// Mode allows it (see Mode).
func (s *Session) SetPolicy(p Policy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.policy = s.acct.mode.constrain(p)
}

// Policy returns the session's policy.
func (s *Session) Policy() Policy {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.policy
}

// call runs f under the session lock with the contact's max message size
// (asked of the Host before locking).
func (s *Session) call(f func(o *out) error) (Result, error) {
	max := s.acct.host.MaxMessageSize(s.contact)
	var prof *dake.ClientProfile
	var hostErrs []Event
	if s.acct.keys.HasV4() && s.Policy()&AllowV4 != 0 {
		p, ev, err := s.acct.clientProfile()
		if err != nil {
			s.acct.log.Warn("otr: no client profile: OTRv4 disabled for this call", "err", err)
		}
		if ev != nil {
			hostErrs = append(hostErrs, *ev)
		}
		prof = p
	}
	if ev := s.loadTrust(); ev != nil {
		hostErrs = append(hostErrs, *ev)
	}
	o := &out{s: s, max: max}
	o.res.Events = hostErrs
	err := func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.forgotten {
			return ErrForgotten
		}
		if s.contact == "" {
			return ErrEmptyID
		}
		s.prof = prof
		before := s.currentChoice()
		err := f(o)
		s.noteChoice(o, before)
		return err
	}()
	if err == nil && o.offline != nil {
		err = s.receiveOffline(o, o.offline)
	}
	s.acct.checkTrust(s, &o.res)
	return o.res, err
}

// out collects one call's results.
type out struct {
	s       *Session
	max     int
	res     Result
	offline []byte // a Non-Interactive-Auth message to handle once the lock is released
}

func (o *out) event(e Event) { o.res.Events = append(o.res.Events, e) }

// plain queues text to transmit as is.
func (o *out) plain(text string, isOTR bool) {
	o.res.Send = append(o.res.Send, Message{Contact: o.s.contact, Text: text, IsOTR: isOTR})
}

// encoded queues an encoded OTR message to receiver, fragmented to the
// contact's max message size.
func (o *out) encoded(receiver uint32, payload []byte) error {
	msg := otrencoding.EncodeMessage(payload)
	parts, err := fragment.Split(msg, o.max, otrencoding.Version3, 0, o.s.acct.tag, receiver)
	if err != nil {
		return fmt.Errorf("otr: fragmenting: %w", err)
	}
	for _, p := range parts {
		o.res.Send = append(o.res.Send, Message{Contact: o.s.contact, Instance: receiver, Text: p, IsOTR: true})
	}
	return nil
}

func (o *out) ake(receiver uint32, r ake3.Reply) error {
	h := otrencoding.Header{Version: otrencoding.Version3, Type: r.Type, Sender: o.s.acct.tag, Receiver: receiver}
	return o.encoded(receiver, otrencoding.Marshal(h, r.Body))
}

// versions returns the protocol versions the policy lets us speak.
func (s *Session) versions() otrencoding.Versions {
	var v otrencoding.Versions
	if s.canV3() {
		v |= otrencoding.V3
	}
	if s.canV4() {
		v |= otrencoding.V4
	}
	return v
}

// Start asks the contact to begin OTR by sending a query message
// (OTR3 spec, "User requests to start an OTR conversation").
func (s *Session) Start() (Result, error) {
	return s.call(func(o *out) error {
		s.queryTries = 0
		return s.query(o)
	})
}

func (s *Session) query(o *out) error {
	v := s.versions()
	if v == 0 {
		return ErrNoVersion
	}
	if s.acct.mode.alwaysEncrypted() {
		// OTRv4-standalone: no query messages; a conversation begins with
		// an Identity message.
		s.queryTries++
		return s.startDAKE(o)
	}
	o.plain(otrencoding.QueryMessage(v, ""), true)
	s.exchangeAt = s.acct.now()
	s.queryTries++
	return nil
}

// maxQueryBackoff caps the doubling of the query retry interval.
const maxQueryBackoff = 7 // 2^7 x 30 s: about an hour

// queryRetryAfter is how long after the last query another may go out for
// queued text: Options.QueryRetryInterval, doubled for every query since
// the user last asked or a key exchange completed.
func (s *Session) queryRetryAfter() time.Duration {
	return s.acct.queryRetry << min(max(s.queryTries-1, 0), maxQueryBackoff)
}

// retryQuery sends a query for queued text unless a key exchange we
// started is still outstanding (younger than Options.QueryRetryInterval)
// or an encrypted instance exists (the text then waits for trust, not for
// a key exchange): one key exchange at a time.
func (s *Session) retryQuery(o *out) error {
	if s.anyEncrypted() || !s.exchangeAt.IsZero() && s.acct.now().Sub(s.exchangeAt) < s.queryRetryAfter() {
		return nil
	}
	return s.query(o)
}

// checkText enforces that user text is text: UTF-8 without U+0000. OTR
// puts TLVs after a NUL in the plaintext, so a NUL in user text would let
// whoever wrote it steer the contact's library (SMP steps, the end of the
// session); libotr cannot send one either (its API takes C strings).
func checkText(text string) error {
	if strings.IndexByte(text, 0) >= 0 || !utf8.ValidString(text) {
		return ErrInvalidText
	}
	return nil
}

// Send encrypts text for the instance or, when no encrypted session
// exists, sends it as the policy says: as plaintext (with a whitespace tag
// when SendWhitespaceTag is set and not yet sent), or, under
// RequireEncryption, queued until a key exchange has completed.
//
// Text must be UTF-8 without U+0000 ([ErrInvalidText] otherwise, and
// nothing is sent): a NUL would start the TLV part of the message.
//
// # Which instance
//
// instanceTag 0 means the default instance, chosen by one rule (also used
// by StartSMP, ExtraSymmetricKey and the flush of queued text): among the
// contact's instances that completed a key exchange and were not ended by
// us, the highest by, in order,
//
//  1. encrypted over finished by the contact;
//  2. a fingerprint the [TrustHost] trusts (SMP or manual) over one it
//     does not;
//  3. OTRv4 over OTR3;
//  4. the most recent authenticated message received (a data message whose
//     MAC verified, or a completed key exchange).
//
// Instance tags are chosen by whoever writes as the contact and a new key
// exchange costs an attacker little, so the rule puts what they cannot
// fake (trust, then the protocol version) before what they can. When the
// default instance, or the key behind it, changes, the call that changed
// it returns an [InstanceChangedEvent].
//
// Text queued under RequireEncryption goes to the first instance that
// becomes encrypted with a fingerprint the host trusts, or, when the host
// trusts no fingerprint of this contact, to the first that becomes
// encrypted; a [PendingSentEvent] names it. If the host trusts a
// fingerprint of this contact and the instance has another, the text stays
// queued and a [PendingHeldEvent] says so; it is sent once that
// fingerprint is trusted ([Session.SetTrust]) or a trusted instance
// becomes encrypted. While text is queued, more text queues behind it. One
// key exchange at a time: a query goes out with the first queued text, and
// again only after Options.QueryRetryInterval (from a later Send or from
// [Account.Expire]) or on [Session.Start].
func (s *Session) Send(instanceTag uint32, text string) (Result, error) {
	if err := checkText(text); err != nil {
		return Result{}, err
	}
	return s.call(func(o *out) error {
		in, err := s.outgoing(instanceTag)
		if err != nil {
			return err
		}
		if in != nil && (instanceTag != 0 || len(s.pending) == 0) {
			switch in.status {
			case Encrypted:
				if err := s.encrypt(o, in, 0, readOnlyBytes(text), nil); err != nil {
					return err
				}
				s.noteSent(in, readOnlyBytes(text))
				return nil
			case Finished:
				return ErrSessionFinished
			}
		}
		if s.policy&RequireEncryption != 0 || len(s.pending) > 0 {
			if s.versions() == 0 {
				return ErrNoVersion
			}
			if len(s.pending) >= maxPending {
				return ErrEncryptionRequired
			}
			s.pending = append(s.pending, text)
			if err := s.flushPending(o, false); err != nil {
				return err
			}
			if len(s.pending) == 0 {
				return nil
			}
			return s.retryQuery(o)
		}
		if s.policy&SendWhitespaceTag != 0 && !s.offerSent && !s.sawPlaintext && s.versions() != 0 {
			s.offerSent = true
			o.plain(text+otrencoding.WhitespaceTag(s.versions()), false)
			return nil
		}
		o.plain(text, false)
		return nil
	})
}

// SendTLVs sends text with the application's own TLVs, encrypted, to the
// instance (0: the default instance, see [Session.Send]). It never sends
// plaintext and never queues: without an encrypted instance it returns
// [ErrNotEncrypted]. Types 0 to 8 belong to the protocol in OTR3 or OTRv4
// (padding, disconnected, SMP, extra symmetric key) and are refused with
// [ErrReservedTLV]; text follows the rules of Send. The contact receives
// them in [MessageEvent.TLVs].
func (s *Session) SendTLVs(instanceTag uint32, text string, tlvs []TLV) (Result, error) {
	if err := checkText(text); err != nil {
		return Result{}, err
	}
	wire := make([]otrencoding.TLV, len(tlvs))
	for i, t := range tlvs {
		if t.Type <= maxProtocolTLV {
			return Result{}, ErrReservedTLV
		}
		if len(t.Value) > 0xffff {
			return Result{}, fmt.Errorf("otr: TLV of %d bytes (at most 65535)", len(t.Value))
		}
		wire[i] = otrencoding.TLV{Type: t.Type, Value: t.Value}
	}
	return s.call(func(o *out) error {
		in, err := s.outgoing(instanceTag)
		if err != nil {
			return err
		}
		if in == nil || in.status != Encrypted {
			return ErrNotEncrypted
		}
		return s.encrypt(o, in, 0, readOnlyBytes(text), wire)
	})
}

// maxProtocolTLV is the highest TLV type the protocol owns: 0-8 in OTR3
// (8: extra symmetric key), 0-7 in OTRv4.
const maxProtocolTLV = 8

// outgoing returns the instance to send to; nil means none is known (send
// plaintext).
func (s *Session) outgoing(tag uint32) (*instance, error) {
	if tag != 0 {
		in := s.instances[tag]
		if in == nil {
			return nil, ErrUnknownInstance
		}
		return in, nil
	}
	return s.defaultInstance(), nil
}

// encrypt sends plaintext with TLVs as a data message to in.
func (s *Session) encrypt(o *out, in *instance, flags uint8, text []byte, tlvs []otrencoding.TLV) error {
	_, err := s.encryptKey(o, in, flags, text, tlvs)
	return err
}

// encryptKey is encrypt, also returning the extra symmetric key of the key
// pair that protected the message.
func (s *Session) encryptKey(o *out, in *instance, flags uint8, text []byte, tlvs []otrencoding.TLV) ([]byte, error) {
	plaintext := text // without TLVs the message is the text itself
	if len(tlvs) > 0 {
		plaintext = otrencoding.MarshalPlaintext(text, tlvs)
	}
	h := otrencoding.Header{Version: uint16(in.version), Sender: s.acct.tag, Receiver: in.tag}
	var key []byte
	if in.version == 4 {
		msg, esk, err := in.r4.Encrypt(h, flags, plaintext)
		if err != nil {
			return nil, err
		}
		key = esk[:]
		err = o.encoded4(in.tag, msg)
		if err != nil {
			return nil, err
		}
	} else {
		msg, esk, err := in.keys.Encrypt(h, flags, plaintext)
		if err != nil {
			return nil, err
		}
		key = esk[:]
		if err := o.encoded(in.tag, msg); err != nil {
			return nil, err
		}
	}
	now := s.acct.now()
	in.lastSent, in.lastActive = now, now
	return key, nil
}

// ExtraSymmetricKey sends the extra-symmetric-key TLV (type 8 in OTR3, 7
// in OTRv4) with use and useData to the instance (0: the default instance,
// see [Session.Send]) and returns
// the key (32 bytes in OTR3, 64 in OTRv4), which the contact derives too and
// receives in an [ExtraKeyEvent] (the OTR3 and OTRv4 specs, "Extra symmetric
// key"). The key is secret: the caller wipes it when done.
func (s *Session) ExtraSymmetricKey(instanceTag uint32, use uint32, useData []byte) ([]byte, Result, error) {
	var key []byte
	res, err := s.call(func(o *out) error {
		in, err := s.outgoing(instanceTag)
		if err != nil {
			return err
		}
		if in == nil || in.status != Encrypted {
			return ErrNotEncrypted
		}
		v := binary.BigEndian.AppendUint32(nil, use)
		v = append(v, useData...)
		key, err = s.encryptKey(o, in, otrencoding.FlagIgnoreUnreadable, nil, []otrencoding.TLV{{Type: extraKeyTLV(in.version), Value: v}})
		return err
	})
	return key, res, err
}

func (s *Session) sortedTags() []uint32 {
	tags := make([]uint32, 0, len(s.instances))
	for t := range s.instances {
		tags = append(tags, t)
	}
	slices.Sort(tags)
	return tags
}

// endInstance sends the disconnected TLV (with every used MAC key revealed)
// on an encrypted instance and returns it to plaintext, keys wiped.
func (s *Session) endInstance(o *out, in *instance, expired bool) error {
	var err error
	if in.status == Encrypted {
		if in.version == 4 {
			in.r4.RevealAll()
		} else {
			in.keys.RevealAll()
		}
		tlv := []otrencoding.TLV{{Type: otrencoding.TLVDisconnected}}
		err = s.encrypt(o, in, otrencoding.FlagIgnoreUnreadable, nil, tlv)
	}
	if in.status != Plaintext {
		o.event(EndedEvent{Instance: in.tag, Expired: expired})
	}
	in.wipeSent()
	in.wipeKeys()
	in.abandonKeyExchange()
	in.status = Plaintext
	return err
}

// abandonKeyExchange drops a key exchange in progress with in, as libotr
// does when a session ends (otrl_context_force_finished clears the AKE): a
// late message of it must not make the instance encrypted again.
func (in *instance) abandonKeyExchange() {
	if in.ake != nil {
		in.ake.Wipe()
	}
	if in.dake != nil {
		in.dake.Wipe()
	}
}

// End ends the encrypted session with the instance (0: every instance):
// an encrypted instance is sent the disconnected TLV and returns to
// plaintext with its keys wiped; a finished one returns to plaintext
// (OTR3 spec, "User requests to end an OTR conversation").
func (s *Session) End(instanceTag uint32) (Result, error) {
	return s.call(func(o *out) error {
		tags := s.sortedTags()
		if instanceTag != 0 {
			if s.instances[instanceTag] == nil {
				return ErrUnknownInstance
			}
			tags = []uint32{instanceTag}
		}
		var errs []error
		for _, t := range tags {
			errs = append(errs, s.endInstance(o, s.instances[t], false))
		}
		if instanceTag == 0 {
			// Our own exchanges addressed to no instance end too.
			s.master.Wipe()
			if s.master4 != nil {
				s.master4.Wipe()
				s.master4 = nil
			}
		}
		s.offerSent, s.sawPlaintext = false, false
		return errors.Join(errs...)
	})
}

// InstanceInfo describes one instance of the contact.
type InstanceInfo struct {
	Tag     uint32
	Status  Status
	Version int // 0 until a key exchange completed
	// Fingerprint is the contact's key as authenticated on the instance
	// (20 bytes in OTR3, 56 in OTRv4: see Fingerprint.Version), nil until
	// a key exchange completed; OurFingerprint is ours in the same
	// version, the one the contact sees.
	Fingerprint    Fingerprint
	OurFingerprint Fingerprint
	SSID           SSID // the secure session id (OTR3 and OTRv4), zero until a key exchange completed
}

// Instances lists the contact's instances seen so far, by tag.
func (s *Session) Instances() []InstanceInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []InstanceInfo
	for _, in := range s.instances {
		out = append(out, s.info(in))
	}
	slices.SortFunc(out, func(a, b InstanceInfo) int { return int(int64(a.Tag) - int64(b.Tag)) })
	return out
}

func (s *Session) info(in *instance) InstanceInfo {
	info := InstanceInfo{Tag: in.tag, Status: in.status, Version: in.version, SSID: in.ssid, Fingerprint: in.fingerprint()}
	switch in.version {
	case 3:
		info.OurFingerprint = s.acct.Fingerprint()
	case 4:
		info.OurFingerprint = s.acct.Fingerprint4()
	}
	return info
}

// Instance describes the instance with tag (0: the default instance, see
// [Session.Send]). ok is false if there is none.
func (s *Session) Instance(tag uint32) (info InstanceInfo, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.instances[tag]
	if tag == 0 {
		in = s.defaultInstance()
	}
	if in == nil {
		return InstanceInfo{}, false
	}
	return s.info(in), true
}

// Status returns the message state of the instance (0: the default
// instance, see [Session.Send]); Plaintext if unknown.
func (s *Session) Status(tag uint32) Status {
	i, _ := s.Instance(tag)
	return i.Status
}

// SSID returns the secure session id of the instance (0: the default
// instance).
func (s *Session) SSID(tag uint32) (SSID, bool) {
	i, ok := s.Instance(tag)
	return i.SSID, ok && i.Version != 0
}

// TheirFingerprint returns the contact's fingerprint as authenticated on the
// instance (0: the default instance), nil if no key exchange completed.
func (s *Session) TheirFingerprint(tag uint32) Fingerprint {
	i, _ := s.Instance(tag)
	return i.Fingerprint
}

// OurFingerprint returns our own fingerprint as the contact sees it on the
// instance (0: the default instance, see Send): the OTRv4 one on an OTRv4
// instance, the OTR3 one on an OTR3 instance. Without such an instance
// (no key exchange completed yet), it is the fingerprint of the highest
// version the session's policy and our keys allow. Show it with the
// contact's fingerprint of the same instance ([Fingerprint.Version] tells
// them apart).
func (s *Session) OurFingerprint(instanceTag uint32) Fingerprint {
	info, ok := s.Instance(instanceTag)
	v := info.Version
	if !ok || v == 0 {
		v = 3
		if s.acct.keys.HasV4() && s.Policy()&AllowV4 != 0 {
			v = 4
		}
	}
	if v == 4 {
		return s.acct.Fingerprint4()
	}
	return s.acct.Fingerprint()
}
