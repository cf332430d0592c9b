package otr

import (
	"bytes"
	"time"
)

// No user message silently lost. A data message the contact could not
// read (it reports so with an OTR error message) or that a restarted
// session never saw is resent once a new key exchange with the same key
// completes on the same instance. Only what the user sent within
// Options.ResendWindow after the contact last showed it had read our
// newest keys is kept for it; each message is resent at most once ever,
// only encrypted, only to the instance and fingerprint it was first sent
// to. The error message is not authenticated, so a forged one can cause
// one duplicate of each such message at most.

// sentText is a user message kept for a possible resend.
type sentText struct {
	text []byte // a copy the instance owns; wiped when dropped
	at   time.Time
}

// noteSent keeps a copy of text sent to in for a possible resend.
func (s *Session) noteSent(in *instance, text []byte) {
	if s.acct.resendWindow <= 0 {
		return
	}
	now := s.acct.now()
	s.pruneSent(in, now)
	if len(text) > s.acct.maxResendBytes {
		return
	}
	for in.sentBytes+len(text) > s.acct.maxResendBytes && len(in.sent) > 0 {
		in.dropSent(1)
	}
	in.sent = append(in.sent, sentText{text: bytes.Clone(text), at: now})
	in.sentBytes += len(text)
}

// pruneSent drops the kept messages older than the resend window.
func (s *Session) pruneSent(in *instance, now time.Time) {
	n := 0
	for n < len(in.sent) && now.Sub(in.sent[n].at) > s.acct.resendWindow {
		n++
	}
	in.dropSent(n)
}

// ackSent drops the kept messages: the contact showed it read our newest
// keys, so it read what we sent before (at the latest) now.
func (in *instance) ackSent() { in.dropSent(len(in.sent)) }

// dropSent wipes and drops the n oldest kept messages.
func (in *instance) dropSent(n int) {
	for i := range n {
		clear(in.sent[i].text)
		in.sentBytes -= len(in.sent[i].text)
	}
	in.sent = append(in.sent[:0], in.sent[n:]...)
	if len(in.sent) == 0 {
		in.sent, in.sentBytes = nil, 0
	}
}

// wipeSent drops every kept message and any pending resend.
func (in *instance) wipeSent() {
	in.dropSent(len(in.sent))
	in.resendFP = nil
}

// armResend marks the kept messages of every encrypted instance for a
// resend over the next key exchange with the same key: the contact
// reported a message unreadable (the report names no instance).
func (s *Session) armResend() {
	now := s.acct.now()
	for _, in := range s.instances {
		s.pruneSent(in, now)
		if len(in.sent) > 0 && in.status == Encrypted {
			in.resendFP = in.fingerprint()
		}
	}
}

// resend sends the kept messages of in again after a key exchange
// completed on it, if a resend is armed and the key is the same; a new
// key drops them unsent.
func (s *Session) resend(o *out, in *instance) error {
	if in.resendFP == nil {
		return nil
	}
	fp := in.resendFP
	in.resendFP = nil
	s.pruneSent(in, s.acct.now())
	sent := in.sent
	in.sent, in.sentBytes = nil, 0
	defer func() {
		for _, m := range sent {
			clear(m.text)
		}
	}()
	if !bytes.Equal(fp, in.fingerprint()) {
		return nil
	}
	for _, m := range sent {
		if err := s.encrypt(o, in, 0, m.text, nil); err != nil {
			return err
		}
		o.event(ResentEvent{Instance: in.tag, Text: string(m.text)})
	}
	return nil
}

// sentDeadline returns when the oldest kept message of any instance leaves
// the resend window.
func (s *Session) sentDeadline() (t time.Time, ok bool) {
	for _, in := range s.instances {
		if len(in.sent) > 0 {
			if d := in.sent[0].at.Add(s.acct.resendWindow + 1); !ok || d.Before(t) {
				t, ok = d, true
			}
		}
	}
	return t, ok
}
