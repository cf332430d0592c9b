package otr

import (
	"errors"
	"fmt"
	"time"

	"github.com/otrgo/otr/dake"
	otrencoding "github.com/otrgo/otr/encoding"
	"github.com/otrgo/otr/internal/ratchet4"
)

// Offline conversations: OTRv4's non-interactive DAKE (OTRv4 spec,
// "Offline Conversation Initialization", "Non-interactive Deniable
// Authenticated Key Exchange (DAKE)"; docs/offline.md). Bob publishes
// prekey ensembles (his client profile, his prekey profile and one prekey
// message each) on a prekey server; Alice takes one while Bob is offline
// and sends a Non-Interactive-Auth message followed by her first encrypted
// messages; Bob reads them when he is back.

// PrekeyHost is an optional ability of a [Host]: it keeps the secrets of
// what we publish for offline conversations. Each prekey message we make
// has a secret part (with the shared prekey of the prekey profile it was
// published with) stored under the message's identifier; it is deleted
// when a Non-Interactive-Auth message consumes it, and after its profile's
// expiry plus one day of extra validity ([Account.Expire]). Our current
// prekey profile and its shared prekey secret are stored too, so that
// ensembles made at different times share it.
type PrekeyHost interface {
	Host
	// StorePrekey keeps secret under id until deleteAfter.
	StorePrekey(id uint32, secret []byte, deleteAfter time.Time) error
	// Prekey returns the secret stored under id, nil if none.
	Prekey(id uint32) ([]byte, error)
	// DeletePrekey securely deletes the secret stored under id and
	// returns nil only once it is gone (a missing id is not an error).
	DeletePrekey(id uint32) error
	// Prekeys lists the stored identifiers with their deletion times.
	Prekeys() (map[uint32]time.Time, error)
	// SharedPrekey returns our stored prekey profile and its shared prekey
	// secret, nil if none.
	SharedPrekey() (profile, secret []byte, err error)
	// SetSharedPrekey stores a new prekey profile and its secret.
	SetSharedPrekey(profile, secret []byte) error
}

// Offline errors; compare with errors.Is.
var (
	ErrNoPrekeyHost      = errors.New("otr: the host keeps no prekeys (not a PrekeyHost)")
	ErrOfflineNotAllowed = errors.New("otr: offline conversations are not allowed (mode or policy)")
	ErrUntrustedEnsemble = errors.New("otr: the ensemble's key is not the contact's trusted one")
)

const (
	// prekeyProfileLifetime: the OTRv4 spec recommends one week.
	prekeyProfileLifetime = 7 * 24 * time.Hour
	// prekeyProfileRenewBefore: a prekey profile expiring sooner is replaced
	// when new prekeys are made.
	prekeyProfileRenewBefore = 2 * 24 * time.Hour
	// prekeyExtraValidity: OTRv4 spec, "Prekey Profile": "A recommended
	// amount of time for this extra validity time is of 1 day."
	prekeyExtraValidity = 24 * time.Hour
	// maxPrekeysPerCall bounds MakePrekeys.
	maxPrekeysPerCall = 1000
)

// offlineAllowed reports whether the account may take part in offline
// conversations.
func (a *Account) offlineAllowed() bool {
	return a.mode != ModeOTRv4InteractiveOnly && a.policy&AllowV4 != 0 && a.keys.HasV4()
}

// MakePrekeys makes n new prekey ensembles of ours for the application to
// publish on a prekey server (OTRv4 spec, "Publishing Prekey Ensembles"):
// each is our client profile, our prekey profile and one new prekey
// message, encoded as the prekey server draft's ensemble. The secret parts
// go to the PrekeyHost first; an ensemble whose secret could not be stored
// is not returned. The prekey profile is renewed when it expires within two
// days.
func (a *Account) MakePrekeys(n int) ([][]byte, error) {
	ph, ok := a.host.(PrekeyHost)
	switch {
	case !ok:
		return nil, ErrNoPrekeyHost
	case !a.offlineAllowed():
		return nil, ErrOfflineNotAllowed
	case n <= 0 || n > maxPrekeysPerCall:
		return nil, fmt.Errorf("otr: %d prekeys (1 to %d per call)", n, maxPrekeysPerCall)
	}
	prof, ev, err := a.clientProfile()
	if err != nil {
		return nil, err
	}
	if prof == nil {
		return nil, fmt.Errorf("otr: no client profile: %v", ev)
	}
	pp, shared, err := a.prekeyProfile(ph)
	if err != nil {
		return nil, err
	}
	defer shared.Wipe()
	sharedBytes := shared.Bytes()
	defer clear(sharedBytes[:])
	deleteAfter := pp.Expiration().Add(prekeyExtraValidity)
	out := make([][]byte, 0, n)
	for range n {
		m, sec, err := dake.NewPrekeyMessage(a.rand, a.tag)
		if err != nil {
			return out, err
		}
		b := sec.Bytes()
		stored := append(b[:], sharedBytes[:]...)
		sec.Wipe()
		err = ph.StorePrekey(m.ID, stored, deleteAfter)
		clear(stored)
		clear(b[:])
		if err != nil {
			return out, fmt.Errorf("otr: storing a prekey: %w", err)
		}
		e := &dake.Ensemble{ClientProfile: prof, PrekeyProfile: pp, PrekeyMessage: m}
		out = append(out, e.Bytes())
	}
	return out, nil
}

// prekeyProfile returns our current prekey profile and its shared prekey
// secret, from the host or new.
func (a *Account) prekeyProfile(ph PrekeyHost) (*dake.PrekeyProfile, *dake.SharedPrekeySecret, error) {
	now := a.now()
	id := a.keys.identity.Public()
	if pb, sb, err := ph.SharedPrekey(); err == nil && pb != nil {
		if pp, err := dake.ParsePrekeyProfile(pb); err == nil && pp.Validate(a.tag, &id, now) == nil &&
			pp.Expiration().Sub(now) > prekeyProfileRenewBefore {
			if s, err := dake.NewSharedPrekeySecret(sb); err == nil {
				return pp, s, nil
			}
		}
	}
	pp, s, err := dake.NewPrekeyProfile(a.rand, a.tag, a.keys.identity, now.Add(prekeyProfileLifetime))
	if err != nil {
		return nil, nil, err
	}
	sb := s.Bytes()
	defer clear(sb[:])
	if err := ph.SetSharedPrekey(pp.Bytes(), sb[:]); err != nil {
		s.Wipe()
		return nil, nil, fmt.Errorf("otr: storing the prekey profile: %w", err)
	}
	return pp, s, nil
}

// OfflineStart is what [Session.StartOffline] needs.
type OfflineStart struct {
	// Ensemble is one prekey ensemble of the contact, as the prekey server
	// returned it (the draft's encoding), however the application got it.
	Ensemble []byte
	// Texts are the first messages, sent encrypted after the
	// Non-Interactive-Auth message.
	Texts []string
	// AllowUntrusted sends even when the ensemble's key is not the one the
	// TrustHost trusts for this contact while it trusts another: the
	// prekey server is not trusted, and the messages leave at once.
	AllowUntrusted bool
}

// StartOffline starts a conversation with the contact while the contact is
// offline (OTRv4 spec, "Conversation started by a Non-Interactive DAKE"):
// it validates the contact's ensemble, and returns the Non-Interactive-Auth
// message and the first messages, encrypted, in one Result, with a
// SecureEvent that names the instance and fingerprint they went to. More
// messages can follow with Send before the contact answers. An ensemble
// whose key is not the contact's trusted fingerprint, while the TrustHost
// trusts another one for this contact, is refused with
// [ErrUntrustedEnsemble] unless AllowUntrusted is set. Texts follow the
// rules of Send.
func (s *Session) StartOffline(st OfflineStart) (Result, error) {
	for _, t := range st.Texts {
		if err := checkText(t); err != nil {
			return Result{}, err
		}
	}
	e, err := dake.ParseEnsemble(st.Ensemble)
	if err != nil {
		return Result{}, fmt.Errorf("otr: the ensemble: %w", err)
	}
	return s.call(func(o *out) error {
		if !s.acct.offlineAllowed() || !s.canV4() {
			return ErrOfflineNotAllowed
		}
		now := s.acct.now()
		// The trust check reads the profile before StartNonInteractive
		// validates the whole ensemble: it can only refuse.
		fp := e.ClientProfile.Fingerprint()
		if t, ok := s.trust[string(fp[:])]; (!ok || t == Untrusted) && s.trustsAny() && !st.AllowUntrusted {
			return ErrUntrustedEnsemble
		}
		tag := e.InstanceTag()
		in := s.instances[tag]
		if in != nil && in.status == Encrypted {
			return fmt.Errorf("otr: instance %08x is encrypted already: send to it", tag)
		}
		var victim *instance
		if in == nil {
			room := true
			if room, victim = s.roomFor(); !room {
				return ErrTooManyInstances
			}
		}
		cfg := dake.Config{InstanceTag: s.acct.tag, AccountID: s.acct.localID, PeerAccountID: s.contact,
			Profile: s.prof, Identity: s.acct.keys.identity, Rand: s.acct.rand}
		msg, keys, err := dake.StartNonInteractive(cfg, e, now)
		if err != nil {
			return fmt.Errorf("otr: offline start: %w", err)
		}
		if in == nil {
			in = s.newInstance(tag, victim)
		}
		if err := o.encoded4(tag, msg); err != nil {
			keys.Wipe()
			return err
		}
		if err := s.secureOffline(o, in, keys); err != nil {
			return err
		}
		for _, t := range st.Texts {
			if err := s.encrypt(o, in, 0, readOnlyBytes(t), nil); err != nil {
				return err
			}
			s.noteSent(in, readOnlyBytes(t))
		}
		return nil
	})
}

// secureOffline moves in to the encrypted state with the keys of a
// non-interactive DAKE (an exchange in progress with in is dropped).
func (s *Session) secureOffline(o *out, in *instance, k *dake.Keys) error {
	in.abandonKeyExchange()
	return s.secureV4(o, in, k, ratchet4.NewNonInteractive)
}

// receiveOffline handles a complete Non-Interactive-Auth message (payload,
// header included), outside the session lock: the consumed prekey's secret
// is read from the PrekeyHost first, the message verified under the lock,
// the secret deleted through the host (a failed delete delivers nothing)
// and only then the session changed. The account's prekey lock serializes
// this, so that two copies of one message cannot both succeed.
func (s *Session) receiveOffline(o *out, payload []byte) error {
	a := s.acct
	h, body, err := otrencoding.ParseHeader(payload)
	if err != nil {
		return &ProtocolError{Version: 4, MsgType: "Non-Interactive-Auth", Step: "header", Err: ErrMalformed}
	}
	perr := func(step string, err error) error {
		return &ProtocolError{Version: 4, MsgType: "Non-Interactive-Auth", Step: step, Instance: h.Sender, Err: err}
	}
	ph, ok := a.host.(PrekeyHost)
	if !ok || !a.offlineAllowed() {
		return perr("offline conversations refused", ErrUnexpectedMessage)
	}
	id, ok := dake.PeekPrekeyMessageID(body)
	if !ok {
		return perr("parse", ErrMalformed)
	}
	a.prekeyMu.Lock()
	defer a.prekeyMu.Unlock()
	stored, err := ph.Prekey(id)
	if err != nil {
		o.event(HostErrorEvent{Op: "Prekey", Err: err, Effect: "the Non-Interactive-Auth message is refused"})
		return perr("prekey", ErrUnexpectedMessage)
	}
	if len(stored) != dake.PrekeySecretsSize+dake.SharedPrekeySecretSize {
		return perr("unknown or consumed prekey", ErrReplay)
	}
	defer clear(stored)
	earlier := a.earlierProfiles()
	lookup := func(got uint32) (*dake.PrekeySecrets, *dake.SharedPrekeySecret, error) {
		if got != id {
			return nil, nil, dake.ErrUnknownPrekey
		}
		sec, err := dake.ParsePrekeySecrets(stored[:dake.PrekeySecretsSize])
		if err != nil {
			return nil, nil, err
		}
		shared, err := dake.NewSharedPrekeySecret(stored[dake.PrekeySecretsSize:])
		if err != nil {
			sec.Wipe()
			return nil, nil, err
		}
		return sec, shared, nil
	}
	var keys *dake.Keys
	err = func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.forgotten {
			return ErrForgotten
		}
		if s.prof == nil {
			return perr("no client profile", ErrUnexpectedMessage)
		}
		cfg := dake.Config{InstanceTag: a.tag, AccountID: a.localID, PeerAccountID: s.contact,
			Profile: s.prof, Identity: a.keys.identity, Rand: a.rand}
		k, _, err := dake.ReceiveNonInteractive(cfg, h, body, lookup, a.now(), earlier...)
		switch {
		case errors.Is(err, dake.ErrUnknownPrekey):
			return perr("unknown or consumed prekey", ErrReplay)
		case errors.Is(err, dake.ErrAuthFailed):
			return perr("authentication", ErrBadMAC)
		case errors.Is(err, dake.ErrInvalidClientProfile):
			return perr("client profile", ErrMalformed)
		case errors.Is(err, dake.ErrUnexpectedMessage):
			return perr("header", ErrUnexpectedMessage)
		case err != nil:
			return perr("parse", ErrMalformed)
		}
		keys = k
		return nil
	}()
	if err != nil {
		return err
	}
	// The spec: the consumed prekey message's secret "must be securely
	// deleted" before anything under the new keys is delivered.
	if err := ph.DeletePrekey(id); err != nil {
		keys.Wipe()
		o.event(HostErrorEvent{Op: "DeletePrekey", Err: err, Effect: "the Non-Interactive-Auth message is refused"})
		return perr("prekey deletion", ErrUnexpectedMessage)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	before := s.currentChoice()
	defer s.noteChoice(o, before)
	in := s.instances[h.Sender]
	var victim *instance
	if in == nil {
		room := true
		if room, victim = s.roomFor(); !room {
			keys.Wipe()
			return perr("instance", ErrTooManyInstances)
		}
		in = s.newInstance(h.Sender, victim)
	}
	return s.secureOffline(o, in, keys)
}

// deletePrekeys deletes the stored prekey secrets past their time.
func (a *Account) deletePrekeys() []Event {
	ph, ok := a.host.(PrekeyHost)
	if !ok {
		return nil
	}
	list, err := ph.Prekeys()
	if err != nil {
		return []Event{HostErrorEvent{Op: "Prekeys", Err: err, Effect: "expired prekeys not deleted"}}
	}
	var evs []Event
	now := a.now()
	for id, t := range list {
		if now.After(t) {
			if err := ph.DeletePrekey(id); err != nil {
				evs = append(evs, HostErrorEvent{Op: "DeletePrekey", Err: err, Effect: "an expired prekey remains"})
			}
		}
	}
	return evs
}

// prekeyDeadline returns when the next stored prekey secret is due for
// deletion.
func (a *Account) prekeyDeadline() (t time.Time, ok bool) {
	ph, isPH := a.host.(PrekeyHost)
	if !isPH {
		return t, false
	}
	list, err := ph.Prekeys()
	if err != nil {
		return t, false
	}
	for _, d := range list {
		if d = d.Add(time.Nanosecond); !ok || d.Before(t) {
			t, ok = d, true
		}
	}
	return t, ok
}
