package otr

import "bytes"

// checkTrust consults the TrustHost, if any, for every SecureEvent in res:
// it fills in the event's Trust, records new fingerprints and adds a
// FingerprintEvent for them; it records SMP results. It runs without the
// session lock (Host methods are never called with it held) and keeps the
// session's copy of the trust records current.
func (a *Account) checkTrust(s *Session, res *Result) {
	th, ok := a.host.(TrustHost)
	if !ok {
		return
	}
	contact := s.contact
	for i := 0; i < len(res.Events); i++ {
		switch ev := res.Events[i].(type) {
		case SMPSucceededEvent:
			// Answering the contact's question authenticates us, not them.
			if !ev.AnsweredQuestion {
				if err := th.SetTrust(contact, ev.Fingerprint, SMPVerified); err != nil {
					res.Events = append(res.Events, HostErrorEvent{Op: "SetTrust", Err: err, Effect: "the SMP result was not recorded"})
				}
			}
			continue
		case SMPFailedEvent:
			if !ev.Protocol && ev.Fingerprint != nil {
				if err := th.SetTrust(contact, ev.Fingerprint, Untrusted); err != nil {
					res.Events = append(res.Events, HostErrorEvent{Op: "SetTrust", Err: err, Effect: "the failed SMP run was not recorded"})
				}
			}
			continue
		}
		ev, ok := res.Events[i].(SecureEvent)
		if !ok {
			continue
		}
		known, err := th.Fingerprints(contact)
		if err != nil {
			// Unknown trust: nothing is recorded (an Untrusted record
			// could overwrite the user's trust) and the fingerprint
			// counts as untrusted.
			res.Events = append(res.Events, HostErrorEvent{Op: "Fingerprints", Err: err, Effect: "the fingerprint's trust is unknown: it counts as untrusted and is not recorded"})
			continue
		}
		found, otherTrusted := false, false
		for _, k := range known {
			if bytes.Equal(k.Fingerprint, ev.Fingerprint) {
				found = true
				ev.Trust = k.Trust
			} else if k.Trust != Untrusted {
				otherTrusted = true
			}
		}
		res.Events[i] = ev
		if !found {
			known = append(known, KnownFingerprint{Fingerprint: ev.Fingerprint, Trust: Untrusted})
		}
		s.mu.Lock()
		s.learnTrust(known)
		s.mu.Unlock()
		if found {
			continue
		}
		if err := th.SetTrust(contact, ev.Fingerprint, Untrusted); err != nil {
			res.Events = append(res.Events, HostErrorEvent{Op: "SetTrust", Err: err, Effect: "the new fingerprint was not recorded"})
		}
		fe := FingerprintEvent{Instance: ev.Instance, Fingerprint: ev.Fingerprint, Changed: otherTrusted, Previous: ev.Previous}
		res.Events = append(res.Events[:i+1], append([]Event{fe}, res.Events[i+1:]...)...)
		i++
	}
}

// noteSMPTrust records, in the session's copy of the trust records, what
// checkTrust will store for an SMP result, so that the instance rule sees
// it within the same call. The caller holds s.mu.
func (s *Session) noteSMPTrust(fp Fingerprint, t Trust) {
	if _, ok := s.acct.host.(TrustHost); !ok || fp == nil {
		return
	}
	s.learnTrust([]KnownFingerprint{{Fingerprint: fp, Trust: t}})
}

// SetTrust records, through the [TrustHost], how far the user trusts the
// contact's fingerprint fp (after comparing it out of band, say), and
// applies it to this session at once: the default instance is chosen
// again (see [Session.Send]) and text held for want of a trusted
// instance is sent if fp is now trusted and its instance encrypted. Use it
// rather than the host's own method, which the session does not see until
// its next key exchange. It returns ErrNoTrustHost if the host is not a
// TrustHost.
func (s *Session) SetTrust(fp Fingerprint, t Trust) (Result, error) {
	th, ok := s.acct.host.(TrustHost)
	if !ok {
		return Result{}, ErrNoTrustHost
	}
	if err := th.SetTrust(s.contact, fp, t); err != nil {
		return Result{}, err
	}
	return s.call(func(o *out) error {
		s.learnTrust([]KnownFingerprint{{Fingerprint: fp, Trust: t}})
		return s.flushPending(o, false)
	})
}
