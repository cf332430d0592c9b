package otr

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/otrgo/otr/dake"
	"github.com/otrgo/otr/fragment"
	"github.com/otrgo/otr/internal/ratchet4"
)

// Options are an account's tunables. The zero value (or a nil *Options)
// gives the safe defaults.
type Options struct {
	// Rand is the source of all randomness; nil means crypto/rand.Reader.
	// It is called under the account's lock, so it need not be safe for
	// concurrent use.
	Rand io.Reader
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives diagnostics (never secrets); nil means no logging.
	Logger *slog.Logger
	// Policy is the account's policy; zero means DefaultPolicy.
	Policy Policy
	// Mode is the OTRv4 operating mode (zero: ModeOTRv3Compatible). The
	// always-encrypted modes override any policy that conflicts with them
	// (the account's, a PolicyHost's, Session.SetPolicy's): see Mode.
	Mode Mode
	// MaxBufferedFragments caps the bytes of incomplete fragmented messages
	// buffered across all sessions of the account; 0 means 32 MiB. When it
	// is full, the contact holding the most loses its oldest incomplete
	// message: a newcomer is never refused for it.
	MaxBufferedFragments int64
	// MaxContactFragments caps the bytes of incomplete fragmented messages
	// buffered for one contact, and so the size of a fragmented message; 0
	// means 4 MiB. Past it, the contact's oldest other incomplete message
	// is dropped.
	MaxContactFragments int
	// MaxInstances caps the instances (clients of one contact) a session
	// keeps; 0 means 16.
	MaxInstances int
	// HeartbeatInterval: when a data message arrives and we have sent
	// nothing to that instance for this long, an empty heartbeat message
	// goes out so that keys rotate (as libotr does). 0 means 60 seconds; a
	// negative value disables heartbeats.
	HeartbeatInterval time.Duration
	// ExpireAfter: Account.Expire ends encrypted sessions idle (nothing sent
	// or received) for this long, sending the disconnected TLV and wiping
	// their keys. 0 means never.
	ExpireAfter time.Duration
	// MaxSkippedKeys bounds the OTRv4 message keys kept per session for
	// messages that have not arrived yet (out-of-order delivery); 0 means
	// 1000, like otr4j. MaxSkipAhead bounds how many keys one message may
	// make us skip (0: 1000); MaxSkippedAge drops stored keys older than
	// this (0: kept until the session ends or the bound pushes them out).
	MaxSkippedKeys int
	MaxSkipAhead   int
	MaxSkippedAge  time.Duration
	// QueryRetryInterval: while text waits under RequireEncryption for a
	// key exchange we started (a query, D-H Commit or Identity message),
	// more text only queues; another query goes out once this long has
	// passed, from the next Send or Account.Expire (NextDeadline includes
	// it), or at once on Session.Start. The interval doubles with every
	// query that goes unanswered (up to about an hour). 0 means 30
	// seconds.
	QueryRetryInterval time.Duration
	// KeyExchangeBurst and KeyExchangeRefill bound the key exchanges a
	// contact may make us compute from instance tags that have not
	// authenticated in this session (each costs us exponentiations and the
	// contact almost nothing): a token bucket of KeyExchangeBurst tokens
	// (0 means 8), one more every KeyExchangeRefill (0 means 15 seconds).
	// Replies to key exchanges we started, exchanges from instances that
	// authenticated, and encrypted conversations never draw on it; a start
	// refused for it returns ErrThrottled and, at most once per
	// KeyExchangeBurst x KeyExchangeRefill, a ThrottledEvent.
	KeyExchangeBurst  int
	KeyExchangeRefill time.Duration
	// MaxUnverifiedRatchets and UnverifiedRatchetInterval bound the work a
	// forged OTRv4 data message that turns the ratchet can make us do
	// before its authenticator fails (an ECDH, a 3072-bit DH and chain
	// steps): one derivation per new (ratchet id, ECDH key, DH key) is
	// cached, and at most MaxUnverifiedRatchets (0 means 8) of them that
	// fail verification are computed per instance per
	// UnverifiedRatchetInterval (0 means one minute); beyond that such
	// messages are unreadable without computation until the interval
	// passes or a message verifies. Messages of the current chain are
	// never refused for it.
	MaxUnverifiedRatchets     int
	UnverifiedRatchetInterval time.Duration
	// MaxPendingMACKeys: an OTRv4 receiver owes the contact the MAC key of
	// every message it read (revealed in its next message: the deniability
	// of the transcript depends on it). When this many are owed, an empty
	// heartbeat reveals them, so that a receiver that never writes does
	// not grow; 0 means 100.
	MaxPendingMACKeys int
	// ErrorReplyInterval: an unreadable data message is answered with an
	// "?OTR Error:" message (which makes a client with ERROR_START_AKE start
	// a new key exchange) at most once per instance per this interval, and
	// at most three times per contact, whatever instance tags the messages
	// claim; 0 means 10 seconds, a negative value answers every one.
	ErrorReplyInterval time.Duration
	// FragmentTimeout: a fragmented message that receives no piece for
	// this long is dropped by Account.Expire (between this and twice this
	// after its last piece); 0 means one minute.
	FragmentTimeout time.Duration
	// ResendWindow: when the contact reports a message unreadable, what
	// the user sent within this long after the contact last showed it read
	// our newest keys is resent once a new key exchange with the same key
	// completes on that instance (a ResentEvent per message; each at most
	// once, never in plaintext, never to another instance or key). 0 means
	// one minute; a negative value turns resending off.
	ResendWindow time.Duration
	// MaxResendBytes bounds the user text an instance keeps for that;
	// 0 means 64 KiB.
	MaxResendBytes int
}

// Account is one local identity: keys, policy and the sessions with its
// contacts. It is safe for concurrent use.
type Account struct {
	localID string
	keys    *PrivateKeys
	host    Host
	rand    io.Reader
	now     func() time.Time
	log     *slog.Logger
	policy  Policy
	mode    Mode
	tag     uint32
	budget  *fragment.Budget
	fp3     Fingerprint // ours, OTR3 (nil without a DSA key)
	fp4     Fingerprint // ours, OTRv4 (nil without OTRv4 keys)
	fragLim fragment.Limits
	maxInst int

	heartbeat      time.Duration
	expireAfter    time.Duration
	queryRetry     time.Duration
	kxBurst        int
	maxPendingMAC  int
	errInterval    time.Duration
	fragTimeout    time.Duration
	resendWindow   time.Duration
	maxResendBytes int
	kxRefill       time.Duration
	ratchetOpts    ratchet4.Options

	mu       sync.Mutex
	sessions map[string]*Session

	prekeyMu sync.Mutex // serializes the use and deletion of stored prekeys

	profMu     sync.Mutex
	prof       *dake.ClientProfile   // our current OTRv4 client profile
	profFailed time.Time             // when storing a renewed profile last failed
	oldProfs   []*dake.ClientProfile // replaced profiles that published ensembles may still carry
}

// lockedReader serializes reads from a caller's Rand.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

// NewAccount returns the account localID (our own transport identifier,
// e.g. "alice@example.org"), with identity keys and host. It loads the
// instance tag from host, or generates one (random, >= 0x100) and stores it.
func NewAccount(localID string, keys *PrivateKeys, host Host, opts *Options) (*Account, error) {
	if host == nil {
		return nil, errors.New("otr: nil host")
	}
	if localID == "" {
		return nil, ErrEmptyID
	}
	if keys == nil {
		return nil, ErrNilKeys
	}
	if keys.wiped {
		return nil, ErrKeysWiped
	}
	if keys.dsa == nil && !keys.HasV4() {
		return nil, ErrNoKey
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	a := &Account{localID: localID, keys: keys, host: host, sessions: make(map[string]*Session)}
	a.rand = rand.Reader
	if o.Rand != nil {
		a.rand = &lockedReader{r: o.Rand}
	}
	a.now = time.Now
	if o.Now != nil {
		a.now = o.Now
	}
	a.log = slog.New(slog.DiscardHandler)
	if o.Logger != nil {
		a.log = o.Logger
	}
	a.policy = o.Policy
	if a.policy == 0 {
		a.policy = DefaultPolicy
	}
	switch o.Mode {
	case ModeOTRv3Compatible, ModeOTRv4Standalone, ModeOTRv4InteractiveOnly:
	default:
		return nil, fmt.Errorf("otr: unknown mode %v", o.Mode)
	}
	if o.Mode.alwaysEncrypted() && !keys.HasV4() {
		return nil, fmt.Errorf("%w: %v needs the OTRv4 keys", ErrNoKey, o.Mode)
	}
	a.mode = o.Mode
	a.policy = a.mode.constrain(a.policy)
	max := o.MaxBufferedFragments
	if max <= 0 {
		max = 32 << 20
	}
	a.budget = fragment.NewBudget(max)
	a.fragLim = fragment.Limits{MaxContactBytes: o.MaxContactFragments}
	a.maxInst = o.MaxInstances
	if a.maxInst <= 0 {
		a.maxInst = 16
	}
	a.heartbeat = o.HeartbeatInterval
	if a.heartbeat == 0 {
		a.heartbeat = 60 * time.Second
	}
	a.expireAfter = o.ExpireAfter
	a.queryRetry = o.QueryRetryInterval
	a.kxBurst, a.kxRefill = o.KeyExchangeBurst, o.KeyExchangeRefill
	if a.kxBurst <= 0 {
		a.kxBurst = 8
	}
	if a.kxRefill <= 0 {
		a.kxRefill = 15 * time.Second
	}
	if a.queryRetry <= 0 {
		a.queryRetry = 30 * time.Second
	}
	a.ratchetOpts = ratchet4.Options{
		MaxSkipped: o.MaxSkippedKeys, MaxSkipAhead: o.MaxSkipAhead, MaxSkippedAge: o.MaxSkippedAge,
		MaxUnverifiedRatchets: o.MaxUnverifiedRatchets, UnverifiedRatchetInterval: o.UnverifiedRatchetInterval,
	}
	a.resendWindow = o.ResendWindow
	if a.resendWindow == 0 {
		a.resendWindow = time.Minute
	}
	a.maxResendBytes = o.MaxResendBytes
	if a.maxResendBytes <= 0 {
		a.maxResendBytes = 64 << 10
	}
	a.fragTimeout = o.FragmentTimeout
	if a.fragTimeout <= 0 {
		a.fragTimeout = time.Minute
	}
	a.errInterval = o.ErrorReplyInterval
	if a.errInterval == 0 {
		a.errInterval = 10 * time.Second
	}
	a.maxPendingMAC = o.MaxPendingMACKeys
	if a.maxPendingMAC <= 0 {
		a.maxPendingMAC = 100
	}
	tag, err := host.InstanceTag()
	if err != nil {
		return nil, fmt.Errorf("otr: loading instance tag: %w", err)
	}
	if tag < minInstanceTag {
		if tag, err = newInstanceTag(a.rand); err != nil {
			return nil, err
		}
		if err := host.SetInstanceTag(tag); err != nil {
			return nil, fmt.Errorf("otr: storing instance tag: %w", err)
		}
	}
	a.tag = tag
	a.fp3, a.fp4 = keys.Fingerprint(), keys.Fingerprint4()
	if keys.dsa == nil {
		a.policy &^= AllowV3 // no OTR3 without a DSA key
	}
	if !keys.HasV4() {
		a.policy &^= AllowV4
	}
	if a.policy&RequireEncryption != 0 && a.policy&(AllowV3|AllowV4) == 0 {
		return nil, ErrNoVersion
	}
	if a.policy&AllowV4 != 0 {
		p, ev, err := a.clientProfile()
		if err != nil {
			return nil, err
		}
		if p == nil && ev != nil {
			return nil, fmt.Errorf("otr: storing client profile: %w", ev.Err)
		}
	}
	return a, nil
}

// minInstanceTag is the smallest valid instance tag (OTR3 spec, "Instance Tags").
const minInstanceTag = 0x100

// newInstanceTag returns a random tag >= 0x100; every value up to
// 0xFFFFFFFF is valid (docs/interop.md, "OTR3").
func newInstanceTag(r io.Reader) (uint32, error) {
	var b [4]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, fmt.Errorf("otr: reading randomness: %w", err)
		}
		if t := binary.BigEndian.Uint32(b[:]); t >= minInstanceTag {
			return t, nil
		}
	}
}

// InstanceTag returns our instance tag.
func (a *Account) InstanceTag() uint32 { return a.tag }

// LocalID returns our transport identifier as given to NewAccount.
func (a *Account) LocalID() string { return a.localID }

// Fingerprint returns our OTR3 fingerprint (of the DSA key), nil without one.
func (a *Account) Fingerprint() Fingerprint { return bytes.Clone(a.fp3) }

// Fingerprint4 returns our OTRv4 fingerprint (of the Ed448 identity and
// forging keys), nil without them.
func (a *Account) Fingerprint4() Fingerprint { return bytes.Clone(a.fp4) }

// Session returns the session with contact (its transport identifier),
// creating it on first use. The same *Session is returned for the same
// contact.
func (a *Account) Session(contact string) *Session {
	a.mu.Lock()
	s := a.sessions[contact]
	a.mu.Unlock()
	if s != nil {
		return s
	}
	policy := a.policy
	if ph, ok := a.host.(PolicyHost); ok {
		if p, ok := ph.Policy(contact); ok {
			policy = a.mode.constrain(p)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if s := a.sessions[contact]; s != nil {
		return s
	}
	s = newSession(a, contact, policy)
	a.sessions[contact] = s
	return s
}

// Sessions returns the contacts that have a session, in no particular order.
func (a *Account) Sessions() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]string, 0, len(a.sessions))
	for c := range a.sessions {
		out = append(out, c)
	}
	return out
}

// Expire does every timed duty that is due by the clock Options.Now (see
// NextDeadline): it ends encrypted sessions idle for longer than
// Options.ExpireAfter (returning the disconnected-TLV messages to send and
// an EndedEvent with Expired set for each; their keys are wiped), drops
// fragmented messages that stopped arriving (Options.FragmentTimeout) and
// OTRv4 skipped keys past Options.MaxSkippedAge, sends another query for
// text queued under RequireEncryption (Options.QueryRetryInterval), and
// renews the OTRv4 client profile before it expires. Call it when
// NextDeadline says.
func (a *Account) Expire() (Result, error) {
	var res Result
	var errs []error
	res.Events = append(res.Events, a.deletePrekeys()...)
	if d, ok := a.profileDeadline(); ok && !a.now().Before(d) {
		if _, ev, err := a.clientProfile(); err != nil {
			errs = append(errs, err)
		} else if ev != nil {
			res.Events = append(res.Events, *ev)
		}
	}
	for _, s := range a.sessionList() {
		r, err := s.expire()
		res.Send = append(res.Send, r.Send...)
		res.Events = append(res.Events, r.Events...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return res, errors.Join(errs...)
}

// NextDeadline returns when Expire has work to do next: the earliest of
// every timed duty of the account and its sessions (see Expire); ok is
// false when there is none.
func (a *Account) NextDeadline() (t time.Time, ok bool) {
	t, ok = a.profileDeadline()
	if d, dok := a.prekeyDeadline(); dok && (!ok || d.Before(t)) {
		t, ok = d, true
	}
	for _, s := range a.sessionList() {
		if d, dok := s.deadline(); dok && (!ok || d.Before(t)) {
			t, ok = d, true
		}
	}
	return t, ok
}

// Forget ends the session with contact and drops it: encrypted instances
// are sent the disconnected TLV (in the returned Result), every key of the
// session is wiped, its buffered fragments are released, and calls on the
// dropped *Session return ErrForgotten. A later Account.Session(contact)
// makes a fresh session. This is how a long-running program (a bot that
// meets many strangers) bounds its memory: forget contacts it no longer
// talks to. Forgetting an unknown contact does nothing.
func (a *Account) Forget(contact string) (Result, error) {
	a.mu.Lock()
	s := a.sessions[contact]
	delete(a.sessions, contact)
	a.mu.Unlock()
	if s == nil {
		return Result{}, nil
	}
	res, err := s.End(0)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, in := range s.instances {
		in.wipeSent()
		in.wipeKeys()
		in.abandonKeyExchange()
	}
	clear(s.instances)
	s.master.Wipe()
	if s.master4 != nil {
		s.master4.Wipe()
		s.master4 = nil
	}
	s.pending, s.answered, s.trust = nil, nil, nil
	s.frag.Close()
	s.forgotten = true
	return res, err
}

func (a *Account) sessionList() []*Session {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*Session, 0, len(a.sessions))
	for _, s := range a.sessions {
		out = append(out, s)
	}
	return out
}
