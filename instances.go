package otr

import (
	"bytes"
	"time"
)

// Instance choice: which of the contact's instances (clients) gets the
// user's words when the caller names none. The rule is in one place,
// [Session.defaultInstance], and documented on [Session.Send].
//
// A contact's instance tags are not secret (OTR3 tags are not even
// authenticated), so anyone writing as the contact can open a new instance
// or re-key an existing tag with another key. The rule therefore ranks what
// an attacker cannot fake above what they can: a session that is
// encrypted, then a fingerprint the user trusts, then the newer protocol,
// and only last what the contact's traffic says (the most recent
// authenticated message). Every change of the chosen instance, or of the
// key behind it, is reported with an [InstanceChangedEvent].

// rankOf is the sort key of an instance under the rule: compared field by
// field, the greater wins.
type rankOf struct {
	encrypted bool   // Encrypted (over Finished)
	trusted   bool   // the host trusts the instance's fingerprint
	v4        bool   // OTRv4 over OTR3
	recv      uint64 // sequence number of the last authenticated message received
	tag       uint32 // last resort, for a deterministic choice
}

func (r rankOf) above(q rankOf) bool {
	switch {
	case r.encrypted != q.encrypted:
		return r.encrypted
	case r.trusted != q.trusted:
		return r.trusted
	case r.v4 != q.v4:
		return r.v4
	case r.recv != q.recv:
		return r.recv > q.recv
	}
	return r.tag < q.tag
}

func (s *Session) rank(in *instance) rankOf {
	return rankOf{
		encrypted: in.status == Encrypted,
		trusted:   s.trusted(in),
		v4:        in.version == 4,
		recv:      in.recvSeq,
		tag:       in.tag,
	}
}

// defaultInstance returns the instance that [Session.Send] with tag 0 (and
// StartSMP, ExtraSymmetricKey and the flush of queued text) uses: among the
// instances that completed a key exchange and were not ended by us
// (Encrypted or Finished), the highest by, in order: encrypted over
// finished; a fingerprint the TrustHost trusts over one it does not; OTRv4
// over OTR3; the most recent authenticated message received (a completed
// key exchange counts as one). nil if there is none.
func (s *Session) defaultInstance() *instance {
	var best *instance
	var bestRank rankOf
	for _, in := range s.instances {
		if in.status == Plaintext {
			continue
		}
		if r := s.rank(in); best == nil || r.above(bestRank) {
			best, bestRank = in, r
		}
	}
	return best
}

// authenticated records that an authenticated message (a data message
// whose MAC verified, or a completed key exchange) arrived on in.
func (s *Session) authenticated(in *instance) {
	s.recvSeq++
	in.recvSeq = s.recvSeq
}

// choice is what the user's words reach: an instance and the key behind it.
type choice struct {
	tag     uint32
	version int
	fp      Fingerprint
}

func (s *Session) currentChoice() choice {
	in := s.defaultInstance()
	if in == nil {
		return choice{}
	}
	return choice{tag: in.tag, version: in.version, fp: in.fingerprint()}
}

// noteChoice adds an InstanceChangedEvent when the default outgoing
// instance, or the key behind it, differs from before.
func (s *Session) noteChoice(o *out, before choice) {
	if before.tag == 0 {
		return // the first secure instance: its SecureEvent says it all
	}
	after := s.currentChoice()
	if after.tag == 0 || after.tag == before.tag && bytes.Equal(after.fp, before.fp) {
		return
	}
	o.event(InstanceChangedEvent{
		OldInstance: before.tag, OldVersion: before.version, OldFingerprint: before.fp,
		NewInstance: after.tag, NewVersion: after.version, NewFingerprint: after.fp,
	})
}

// trusted reports whether the host trusts the fingerprint authenticated on
// in (from the session's copy of the TrustHost's records).
func (s *Session) trusted(in *instance) bool {
	fp := in.fingerprint()
	if fp == nil {
		return false
	}
	t, ok := s.trust[string(fp)]
	return ok && t != Untrusted
}

// trustsAny reports whether the host trusts any fingerprint of the contact.
func (s *Session) trustsAny() bool {
	for _, t := range s.trust {
		if t != Untrusted {
			return true
		}
	}
	return false
}

// loadTrust reads the contact's fingerprints from the TrustHost once per
// session, before the session lock is taken (Host methods are never called
// under it). A failing host is reported and asked again at the next call.
func (s *Session) loadTrust() *HostErrorEvent {
	if s.trustLoaded.Load() {
		return nil
	}
	th, ok := s.acct.host.(TrustHost)
	if !ok {
		s.trustLoaded.Store(true)
		return nil
	}
	known, err := th.Fingerprints(s.contact)
	if err != nil {
		return &HostErrorEvent{Op: "Fingerprints", Err: err, Effect: "the contact's fingerprints count as untrusted"}
	}
	s.mu.Lock()
	s.learnTrust(known)
	s.mu.Unlock()
	s.trustLoaded.Store(true)
	return nil
}

// learnTrust records the TrustHost's view of the contact's fingerprints.
// The caller holds s.mu.
func (s *Session) learnTrust(known []KnownFingerprint) {
	if s.trust == nil {
		s.trust = make(map[string]Trust, len(known))
	}
	for _, k := range known {
		s.trust[string(k.Fingerprint)] = k.Trust
	}
}

// flushPending sends the text queued under RequireEncryption to the
// default instance if it may have it: it is encrypted and its fingerprint
// is trusted, or the host trusts no fingerprint of this contact. held says
// whether to report text that stays queued because the instance's key is
// not the trusted one.
func (s *Session) flushPending(o *out, held bool) error {
	in := s.defaultInstance()
	if len(s.pending) == 0 || in == nil || in.status != Encrypted {
		return nil
	}
	if !s.trusted(in) && s.trustsAny() {
		if held {
			o.event(PendingHeldEvent{Instance: in.tag, Fingerprint: in.fingerprint(), Count: len(s.pending)})
		}
		return nil
	}
	// OTR3 spec: "If there is a recent stored message, encrypt it and send it".
	pending := s.pending
	s.pending = nil
	for i, text := range pending {
		if err := s.encrypt(o, in, 0, readOnlyBytes(text), nil); err != nil {
			s.pending = pending[i:]
			return err
		}
		s.noteSent(in, readOnlyBytes(text))
	}
	o.event(PendingSentEvent{Instance: in.tag, Fingerprint: in.fingerprint(), Count: len(pending)})
	return nil
}

// priorKey is what an instance was before a key exchange completed on it.
type priorKey struct {
	encrypted bool
	fp        Fingerprint // nil if no key exchange had completed
}

func (in *instance) secureState() priorKey {
	return priorKey{encrypted: in.status == Encrypted, fp: in.fingerprint()}
}

// secured finishes a key exchange on in (either version; its keys,
// version and contact key are set): the instance is encrypted, the
// SecureEvent reports whether the key behind the instance tag changed, and
// queued text is flushed under the instance rule.
func (s *Session) secured(o *out, in *instance, before priorKey) error {
	in.status = Encrypted
	in.fp = nil
	in.verifiedSince = false
	now := s.acct.now()
	in.lastSent, in.lastActive, in.securedAt = now, now, now
	s.authenticated(in)
	s.exchangeAt, s.queryTries = time.Time{}, 0
	fp := in.fingerprint()
	ev := SecureEvent{Instance: in.tag, Version: in.version, Fingerprint: fp, SSID: in.ssid}
	switch {
	case before.fp != nil && !bytes.Equal(before.fp, fp):
		// Another key behind a known tag: never a refresh.
		ev.Previous = before.fp
	case before.encrypted:
		ev.Refreshed = true
	}
	o.event(ev)
	if err := s.resend(o, in); err != nil {
		return err
	}
	return s.flushPending(o, true)
}
