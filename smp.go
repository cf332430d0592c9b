package otr

import (
	"errors"

	otrencoding "github.com/otrgo/otr/encoding"
	"github.com/otrgo/otr/smp"
)

// The Socialist Millionaires' Protocol (OTR3 spec, "Socialist Millionaires'
// Protocol"): both users prove they know the same secret without revealing
// it; success authenticates the contact's fingerprint. The API is
// asynchronous: StartSMP sends the first message; the contact's client
// returns an SMPQuestionEvent, its user answers with AnswerSMP; results
// arrive as events.

// StartSMP starts an SMP run on the instance (0: the default instance, see
// [Session.Send]) with the user's secret and an optional question shown to
// the contact. The question must be UTF-8 without U+0000
// ([ErrInvalidText]).
func (s *Session) StartSMP(instanceTag uint32, secret []byte, question string) (Result, error) {
	if err := checkText(question); err != nil {
		return Result{}, err
	}
	return s.call(func(o *out) error {
		in, err := s.smpInstance(instanceTag, nil)
		if err != nil {
			return err
		}
		var t uint16
		var payload []byte
		if in.version == 4 {
			ours, theirs := s.fingerprints4(in)
			sec := smp.SMP4Secret(ours, theirs, in.ssid, secret)
			t, payload, err = in.smp4.Start(s.acct.rand, &sec, question)
			sec.Wipe()
		} else {
			ours, theirs := s.fingerprints(in)
			sec := smp.Secret3(ours, theirs, in.ssid, secret)
			t, payload, err = in.smp.Start(s.acct.rand, sec, question)
			clear(sec)
		}
		if errors.Is(err, smp.ErrInProgress) {
			return ErrSMPInProgress
		}
		in.smpAnswering = false
		if err != nil {
			return err
		}
		return s.sendSMP(o, in, t, payload)
	})
}

// AnswerSMP answers the contact's SMP request (announced by an
// SMPQuestionEvent) on the instance with the user's secret. Tag 0 means
// the one instance whose request waits for an answer
// ([ErrAmbiguousInstance] if several do; the default instance if none).
func (s *Session) AnswerSMP(instanceTag uint32, secret []byte) (Result, error) {
	return s.call(func(o *out) error {
		in, err := s.smpInstance(instanceTag, (*instance).smpAwaitingSecret)
		if err != nil {
			return err
		}
		var t uint16
		var payload []byte
		if in.version == 4 {
			ours, theirs := s.fingerprints4(in)
			sec := smp.SMP4Secret(theirs, ours, in.ssid, secret)
			t, payload, err = in.smp4.Answer(s.acct.rand, &sec)
			sec.Wipe()
		} else {
			ours, theirs := s.fingerprints(in)
			sec := smp.Secret3(theirs, ours, in.ssid, secret)
			t, payload, err = in.smp.Answer(s.acct.rand, sec)
			clear(sec)
		}
		if err != nil {
			return &ProtocolError{Version: in.version, MsgType: "SMP", Step: "answer", Err: ErrUnexpectedMessage}
		}
		return s.sendSMP(o, in, t, payload)
	})
}

// AbortSMP aborts the SMP run on the instance and tells the contact. Tag 0
// means the one instance with a run in progress ([ErrAmbiguousInstance] if
// several have one; the default instance if none).
func (s *Session) AbortSMP(instanceTag uint32) (Result, error) {
	return s.call(func(o *out) error {
		in, err := s.smpInstance(instanceTag, (*instance).smpInProgress)
		if err != nil {
			return err
		}
		var t uint16
		var payload []byte
		if in.version == 4 {
			t, payload = in.smp4.Abort()
		} else {
			t, payload = in.smp.Abort()
		}
		o.event(SMPAbortedEvent{Instance: in.tag})
		return s.sendSMP(o, in, t, payload)
	})
}

// smpInstance returns the encrypted instance an SMP call acts on: the one
// named, or with tag 0 the single encrypted instance for which pending
// holds, or (pending nil, or none holds) the default instance.
func (s *Session) smpInstance(tag uint32, pending func(*instance) bool) (*instance, error) {
	if tag == 0 && pending != nil {
		var found *instance
		for _, in := range s.instances {
			if in.status != Encrypted || !pending(in) {
				continue
			}
			if found != nil {
				return nil, ErrAmbiguousInstance
			}
			found = in
		}
		if found != nil {
			return found, nil
		}
	}
	in, err := s.outgoing(tag)
	if err != nil {
		return nil, err
	}
	if in == nil || in.status != Encrypted {
		return nil, ErrNotEncrypted
	}
	return in, nil
}

func (in *instance) smpAwaitingSecret() bool {
	if in.version == 4 {
		return in.smp4 != nil && in.smp4.AwaitingSecret()
	}
	return in.smp != nil && in.smp.AwaitingSecret()
}

func (in *instance) smpInProgress() bool {
	if in.version == 4 {
		return in.smp4 != nil && in.smp4.InProgress()
	}
	return in.smp != nil && in.smp.InProgress()
}

func (s *Session) fingerprints(in *instance) (ours, theirs [20]byte) {
	copy(ours[:], s.acct.keys.Fingerprint())
	theirs = in.theirKey.Fingerprint()
	return ours, theirs
}

func (s *Session) fingerprints4(in *instance) (ours, theirs [56]byte) {
	copy(ours[:], s.acct.keys.Fingerprint4())
	theirs = in.theirProfile.Fingerprint()
	return ours, theirs
}

// sendSMP sends an SMP TLV in an otherwise empty data message flagged
// IGNORE_UNREADABLE, as libotr does.
func (s *Session) sendSMP(o *out, in *instance, t uint16, payload []byte) error {
	tlv := []otrencoding.TLV{{Type: t, Value: payload}}
	return s.encrypt(o, in, otrencoding.FlagIgnoreUnreadable, nil, tlv)
}

// receiveSMP handles one SMP TLV received on in.
func (s *Session) receiveSMP(o *out, in *instance, t otrencoding.TLV) error {
	var outcome smp.Outcome
	var err error
	if in.version == 4 {
		outcome, err = in.smp4.Receive(s.acct.rand, t.Type, t.Value)
	} else {
		outcome, err = in.smp.Receive(s.acct.rand, t.Type, t.Value)
	}
	if err != nil {
		return err
	}
	switch outcome.Result {
	case smp.InProgress:
		o.event(SMPProgressEvent{Instance: in.tag})
	case smp.NeedSecret:
		// OTRv4 always carries a question, possibly empty.
		hasQ := t.Type == smp.TypeMsg1Q || in.version == 4 && outcome.Question != ""
		in.smpAnswering = hasQ
		o.event(SMPQuestionEvent{Instance: in.tag, Question: sanitize(outcome.Question), HasQuestion: hasQ})
	case smp.Succeeded:
		if !in.smpAnswering {
			s.noteSMPTrust(in.fingerprint(), SMPVerified)
		}
		o.event(SMPSucceededEvent{Instance: in.tag, Fingerprint: in.fingerprint(), AnsweredQuestion: in.smpAnswering})
	case smp.Failed:
		s.noteSMPTrust(in.fingerprint(), Untrusted)
		o.event(SMPFailedEvent{Instance: in.tag, Fingerprint: in.fingerprint()})
	case smp.Cheated, smp.Unexpected:
		o.event(SMPFailedEvent{Instance: in.tag, Protocol: true})
	case smp.Aborted:
		o.event(SMPAbortedEvent{Instance: in.tag, ByContact: true})
	}
	if outcome.Reply != nil {
		if err := s.sendSMP(o, in, outcome.Reply.Type, outcome.Reply.Value); err != nil {
			return err
		}
	}
	if outcome.Result == smp.Succeeded {
		// The run may have made this instance the trusted one that held
		// text waits for.
		return s.flushPending(o, false)
	}
	return nil
}
