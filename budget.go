package otr

import (
	"crypto/sha256"
	"time"

	"github.com/otrgo/otr/ake3"
	"github.com/otrgo/otr/dake"
	otrencoding "github.com/otrgo/otr/encoding"
)

// What a contact can make us compute. Whoever writes as the contact on the
// transport can send key-exchange starts from any instance tag, replay the
// ones they saw, and damage data messages; each costs them a few bytes and
// may cost us exponentiations. The rules here keep that cost small (see
// SECURITY.md, "What a contact can make us spend"):
//
//   - A byte-identical copy of a key-exchange start (Identity, D-H Commit)
//     is answered with the reply we already sent while that exchange is
//     still waiting for its next message, and ignored once the exchange
//     finished or was abandoned: a genuine peer never reuses its ephemeral
//     keys.
//   - Key exchanges the contact starts from instance tags that have not
//     authenticated in this session draw on a token bucket
//     (Options.KeyExchangeBurst, Options.KeyExchangeRefill); replies to an
//     exchange we started never do, nor does anything on an encrypted
//     instance. An empty bucket refuses before any computation and is
//     reported at most once per refill period with a ThrottledEvent.
//   - Error replies to unreadable messages are rate limited per instance
//     and per contact.

// maxErrorReplies bounds the error replies to one contact per
// Options.ErrorReplyInterval, whatever sender tags the messages carry.
const maxErrorReplies = 3

// unreadable reports a data message from instance tag that could not be
// read. The returned *ProtocolError is the one report of it (there is no
// event). An "?OTR Error:" reply (OTR3 spec, "Receiving a Data Message";
// OTRv4 spec, "OTR Error Messages") goes to the contact unless the sender
// flagged the message IGNORE_UNREADABLE, at a human rate: at most one per
// instance and maxErrorReplies per contact per Options.ErrorReplyInterval.
func (s *Session) unreadable(o *out, v int, tag uint32, ignorable bool, text, step string, err error) error {
	if !ignorable && s.errorReplyDue(tag) {
		o.plain(otrencoding.ErrorMessage(text), true)
	}
	return &ProtocolError{Version: v, MsgType: "data", Step: step, Instance: tag, Err: err}
}

// errorReplyDue reports whether an error reply to tag may go out now, and
// if so records it.
func (s *Session) errorReplyDue(tag uint32) bool {
	iv := s.acct.errInterval
	if iv < 0 {
		return true
	}
	now := s.acct.now()
	if last, ok := s.errSent[tag]; ok && now.Sub(last) < iv && !now.Before(last) {
		return false
	}
	if now.Sub(s.errWindow) >= iv || now.Before(s.errWindow) {
		s.errWindow, s.errCount = now, 0
		for t, last := range s.errSent {
			if now.Sub(last) >= iv || now.Before(last) {
				delete(s.errSent, t) // no longer limits anything
			}
		}
	}
	if s.errCount >= maxErrorReplies {
		return false
	}
	s.errCount++
	if s.errSent == nil {
		s.errSent = make(map[uint32]time.Time)
	}
	s.errSent[tag] = now
	return true
}

// bucket is a token bucket: burst tokens, one more per every.
type bucket struct {
	tokens int
	last   time.Time
}

// take spends a token if one is left at now.
func (b *bucket) take(now time.Time, burst int, every time.Duration) bool {
	if b.last.IsZero() {
		b.tokens, b.last = burst, now
	}
	if n := now.Sub(b.last) / every; n > 0 {
		b.tokens = min(burst, b.tokens+int(min(n, time.Duration(burst))))
		b.last = b.last.Add(n * every)
	}
	if b.tokens == 0 {
		return false
	}
	b.tokens--
	return true
}

// chargeKeyExchange spends one key exchange of the contact's budget for an
// exchange the contact starts from instance tag, unless the tag has
// authenticated in this session. It returns false when the budget is
// spent; a ThrottledEvent reports that at most once per refill period.
func (s *Session) chargeKeyExchange(o *out, tag uint32) bool {
	if in := s.instances[tag]; in != nil && in.version != 0 {
		return true
	}
	now := s.acct.now()
	if s.kx.take(now, s.acct.kxBurst, s.acct.kxRefill) {
		return true
	}
	s.throttled++
	if s.throttleReported.IsZero() || now.Sub(s.throttleReported) >= s.acct.kxRefill*time.Duration(s.acct.kxBurst) {
		o.event(ThrottledEvent{Refused: s.throttled})
		s.throttled = 0
		s.throttleReported = now
	}
	return false
}

// maxAnswered bounds the key-exchange starts a session remembers.
const maxAnswered = 64

// answeredStart is a key-exchange start we answered: its hash, the
// instance and the exchange it began (one of ake, dk) and what we sent
// back.
type answeredStart struct {
	sum   [32]byte
	tag   uint32
	ake   *ake3.AKE
	dk    *dake.DAKE
	reply []Message
}

// live reports whether the exchange a began still waits for its next
// message on its instance: copies of its start then get the same reply.
func (s *Session) live(a *answeredStart) bool {
	in := s.instances[a.tag]
	switch {
	case in == nil:
		return false
	case a.dk != nil:
		return in.dake == a.dk && a.dk.State() == dake.StateWaitingAuthI
	case a.ake != nil:
		return in.ake == a.ake && a.ake.State() == ake3.StateAwaitingRevealSig
	}
	return false
}

// replayedStart looks payload up among the key-exchange starts answered:
// a copy of one whose exchange still waits gets the same reply again (the
// byte-identical messages); a copy of one whose exchange is over is
// ignored. found reports whether payload was one of them.
func (s *Session) replayedStart(o *out, payload []byte) (found bool) {
	sum := sha256.Sum256(payload)
	for i := range s.answered {
		a := &s.answered[i]
		if a.sum != sum {
			continue
		}
		if s.live(a) {
			o.res.Send = append(o.res.Send, a.reply...)
		} else {
			s.acct.log.Debug("otr: replayed key exchange ignored", "contact", s.contact)
		}
		return true
	}
	return false
}

// rememberStart records that payload, a key-exchange start from tag, was
// answered with the messages o queued from index from on, by the exchange
// ak (OTR3) or dk (OTRv4).
func (s *Session) rememberStart(o *out, payload []byte, tag uint32, from int, ak *ake3.AKE, dk *dake.DAKE) {
	a := answeredStart{sum: sha256.Sum256(payload), tag: tag, ake: ak, dk: dk, reply: append([]Message(nil), o.res.Send[from:]...)}
	if len(s.answered) >= maxAnswered {
		copy(s.answered, s.answered[1:])
		s.answered = s.answered[:maxAnswered-1]
	}
	s.answered = append(s.answered, a)
}

// roomFor reports whether a new instance may be added: below the cap
// there is room; at the cap the oldest instance that never completed a key
// exchange gives way (victim), so that starts that never finish cannot
// lock the contact's real clients out; if every instance has
// authenticated, there is no room. Nothing changes until newInstance.
func (s *Session) roomFor() (ok bool, victim *instance) {
	if len(s.instances) < s.acct.maxInst {
		return true, nil
	}
	for _, in := range s.instances {
		if in.version == 0 && (victim == nil || in.created < victim.created) {
			victim = in
		}
	}
	return victim != nil, victim
}

// newInstance adds the instance tag, dropping victim (from roomFor) first.
func (s *Session) newInstance(tag uint32, victim *instance) *instance {
	if victim != nil {
		victim.wipeKeys()
		victim.abandonKeyExchange()
		delete(s.instances, victim.tag)
	}
	s.created++
	in := &instance{tag: tag, created: s.created}
	s.instances[tag] = in
	return in
}
