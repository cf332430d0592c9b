package otr

import (
	"errors"

	"github.com/otrgo/otr/ake3"
	otrencoding "github.com/otrgo/otr/encoding"
	"github.com/otrgo/otr/internal/keys3"
	"github.com/otrgo/otr/smp"
)

// OTR3 in the session: the AKE (ake3), key rotation (internal/keys3) and
// data messages, per instance (OTR3 spec, "The protocol state machine").

// canV3 reports whether this call may speak OTR3.
func (s *Session) canV3() bool { return s.policy&AllowV3 != 0 && s.acct.keys.dsa != nil }

// startAKE sends a D-H Commit to no particular instance: whichever of the
// contact's clients answers gets its own copy of the exchange.
func (s *Session) startAKE(o *out) error {
	if r, ok := s.master.PendingCommit(); ok && !s.masterAnswered {
		// Our commit is still unanswered: send it again rather than make
		// new keys for every query (same exchange).
		return o.ake(0, r)
	}
	r, err := s.master.Start(s.acct.rand)
	if err != nil {
		return err
	}
	s.masterAnswered = false
	s.exchangeAt = s.acct.now()
	return o.ake(0, r)
}

func (s *Session) receiveAKE(o *out, h otrencoding.Header, payload, body []byte) error {
	if h.Type == otrencoding.MsgDHCommit && s.replayedStart(o, payload) {
		return nil
	}
	in := s.instances[h.Sender]
	// Our D-H Commit to no instance began a new exchange with every
	// instance (OTR3 spec, "Receiving a Query Message": send a D-H Commit and
	// move to AUTHSTATE_AWAITING_DHKEY). An instance's exchange that did not
	// begin with it is older: it may still finish, but answers to our
	// commit are the master's. Left to the older exchange they were ignored,
	// and two sides each stuck in AUTHSTATE_AWAITING_REVEALSIG ignored every
	// new AKE of the other, however many errors restarted one.
	own := in != nil && in.ake != nil && (s.master.State() != ake3.StateAwaitingDHKey || in.ake.ClonedFrom(s.master))
	var a *ake3.AKE
	fromMaster := false
	switch {
	case own && in.ake.State() != ake3.StateNone:
		a = in.ake
	case !own && s.master.State() == ake3.StateAwaitingDHKey && (h.Type == otrencoding.MsgDHKey || h.Type == otrencoding.MsgDHCommit):
		// The instance answers (or crosses) our commit to no instance: it
		// gets its own copy, as libotr does.
		fromMaster = true
	case in != nil && in.ake != nil:
		a = in.ake
	case h.Type == otrencoding.MsgDHCommit:
		// a new exchange, made below once the checks pass
	default:
		return &ProtocolError{Version: 3, MsgType: h.Type.String(), Step: "instance", Err: ErrUnexpectedMessage}
	}
	// Refuse before computing: the instance cap, then the contact's key
	// exchange budget for a D-H Commit we did not ask for that makes us
	// generate keys.
	room, victim := true, (*instance)(nil)
	if in == nil {
		if room, victim = s.roomFor(); !room {
			return &ProtocolError{Version: 3, MsgType: h.Type.String(), Step: "instance", Err: ErrTooManyInstances}
		}
	}
	if h.Type == otrencoding.MsgDHCommit && !fromMaster && (a == nil || a.State() == ake3.StateNone) && !s.chargeKeyExchange(o, h.Sender) {
		return &ProtocolError{Version: 3, MsgType: h.Type.String(), Step: "key exchange budget", Err: ErrThrottled}
	}
	switch {
	case fromMaster:
		a = s.master.Clone()
	case a == nil:
		a = ake3.New(s.acct.keys.dsa)
	}
	from := len(o.res.Send)
	replies, keys, err := a.Receive(s.acct.rand, h.Type, body)
	if err != nil && (in == nil || a != in.ake) {
		a.Wipe() // a copy of the master's exchange, or a new one: unused
	}
	switch {
	case errors.Is(err, ake3.ErrIgnored):
		return nil
	case errors.Is(err, ake3.ErrMalformed):
		return &ProtocolError{Version: 3, MsgType: h.Type.String(), Step: "parse", Err: ErrMalformed}
	case errors.Is(err, ake3.ErrVerify):
		return &ProtocolError{Version: 3, MsgType: h.Type.String(), Step: "verify", Err: ErrBadMAC}
	case err != nil:
		return err
	}
	if in == nil {
		in = s.newInstance(h.Sender, victim)
	}
	if in.ake != nil && in.ake != a {
		in.ake.Wipe() // the older exchange the master's replaces
	}
	if fromMaster {
		s.masterAnswered = true
	}
	in.ake = a
	for _, r := range replies {
		if err := o.ake(h.Sender, r); err != nil {
			return err
		}
	}
	if h.Type == otrencoding.MsgDHCommit {
		s.rememberStart(o, payload, h.Sender, from, a, nil)
	}
	if keys != nil {
		return s.secure(o, in, keys)
	}
	return nil
}

// secure moves in to MSGSTATE_ENCRYPTED with the AKE's keys.
func (s *Session) secure(o *out, in *instance, k *ake3.Keys) error {
	ks, err := keys3.New(s.acct.rand, k.OurDH, k.OurKeyID, k.TheirDH, k.TheirKeyID)
	if err != nil {
		k.Wipe()
		return err
	}
	before := in.secureState()
	in.wipeKeys()
	in.keys = ks
	in.smp = new(smp.SMP3)
	in.version = 3
	in.theirKey = k.TheirKey
	in.theirProfile = nil
	in.ssid = SSID(k.SSID)
	in.sentRevealSig = k.SentRevealSig
	return s.secured(o, in, before)
}

// OTR3 spec, "Receiving a Data Message".
func (s *Session) receiveData(o *out, h otrencoding.Header, payload, body []byte) error {
	var m otrencoding.DataMessage
	if err := m.Unmarshal(body); err != nil {
		return &ProtocolError{Version: 3, MsgType: "data", Step: "parse", Err: ErrMalformed}
	}
	in := s.instances[h.Sender]
	unreadable := func(step string, err error) error {
		return s.unreadable(o, 3, h.Sender, m.Flags&otrencoding.FlagIgnoreUnreadable != 0, unreadableText, step, err)
	}
	if in == nil || in.status != Encrypted || in.version != 3 {
		return unreadable("state", ErrNotEncrypted)
	}
	// The MAC covers the message as received, from the header through the
	// encrypted message: the parse is exact, so that is all but the MAC and
	// the old MAC keys at the end.
	auth := payload[:len(payload)-20-4-len(m.OldMACKeys)]
	acked := m.RecipientKeyID == in.keys.OurKeyID()
	dec, err := in.keys.Decrypt(auth, &m)
	switch {
	case errors.Is(err, keys3.ErrBadMAC):
		return unreadable("MAC", ErrBadMAC)
	case errors.Is(err, keys3.ErrReplay):
		return unreadable("counter", ErrReplay)
	case errors.Is(err, keys3.ErrKeyID), errors.Is(err, keys3.ErrBadKey):
		return unreadable("key id", ErrBadMAC)
	case err != nil:
		return err
	}
	if acked {
		in.ackSent() // the contact read a message with our newest key
	}
	return s.delivered(o, in, dec.Plaintext, dec.ExtraKey[:])
}
