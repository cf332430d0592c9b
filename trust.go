package otr

import "bytes"

// checkTrust consults the TrustHost, if any, for every SecureEvent in res:
// it fills in the event's Trust, records new fingerprints and adds a
// FingerprintEvent for them. It runs without the session lock (Host methods
// are never called with it held).
func (a *Account) checkTrust(contact string, res *Result) {
	th, ok := a.host.(TrustHost)
	if !ok {
		return
	}
	for i := 0; i < len(res.Events); i++ {
		switch ev := res.Events[i].(type) {
		case SMPSucceededEvent:
			// Answering the contact's question authenticates us, not them.
			if !ev.AnsweredQuestion {
				if err := th.SetTrust(contact, ev.Fingerprint, SMPVerified); err != nil {
					a.log.Warn("otr: trust store", "err", err)
				}
			}
			continue
		case SMPFailedEvent:
			if !ev.Protocol && ev.Fingerprint != nil {
				if err := th.SetTrust(contact, ev.Fingerprint, Untrusted); err != nil {
					a.log.Warn("otr: trust store", "err", err)
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
			a.log.Warn("otr: trust store", "err", err)
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
		if found {
			continue
		}
		if err := th.SetTrust(contact, ev.Fingerprint, Untrusted); err != nil {
			a.log.Warn("otr: trust store", "err", err)
		}
		fe := FingerprintEvent{Instance: ev.Instance, Fingerprint: ev.Fingerprint, Changed: otherTrusted}
		res.Events = append(res.Events[:i+1], append([]Event{fe}, res.Events[i+1:]...)...)
		i++
	}
}
