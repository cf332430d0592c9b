package otr

import (
	"encoding/binary"
	"strings"
	"unicode/utf8"

	"github.com/otrgo/otr/dake"
	otrencoding "github.com/otrgo/otr/encoding"
	"github.com/otrgo/otr/fragment"
)

// unreadableText is the error message returned for a data message we cannot
// read, in libotr's wording.
const unreadableText = "You transmitted an unreadable encrypted message."

// Receive processes one message from the contact, exactly as the transport
// delivered it. Messages to transmit in reply are in Result.Send; what the
// user should see is in Result.Events.
//
// A non-nil error means the input was rejected and the session is unchanged;
// the Result may still carry an OTR error message to send to the contact. A
// message addressed to another instance of our own account is ignored
// without error.
func (s *Session) Receive(wire string) (Result, error) {
	return s.call(func(o *out) error { return s.receive(o, wire) })
}

func (s *Session) receive(o *out, wire string) error {
	env, err := otrencoding.ParseEnvelope(wire)
	if err != nil {
		return &ProtocolError{Step: "envelope", MsgType: "encoded", Err: ErrMalformed}
	}
	if env.Kind != otrencoding.KindFragment {
		// OTR3 spec, "Fragmentation": a non-OTR or unfragmented message makes
		// us forget any partial OTR3 message.
		s.frag.ResetOTR3()
	} else {
		f, err := fragment.Parse(wire)
		if err != nil {
			return &ProtocolError{Version: 3, MsgType: "fragment", Step: "parse", Err: ErrMalformed}
		}
		if f.Version == otrencoding.Version3 && !s.canV3() || f.Version == otrencoding.Version4 && !s.canV4() {
			return &ProtocolError{Version: f.Version, MsgType: "fragment", Step: "version", Err: ErrUnsupportedVersion}
		}
		if f.Sender < minInstanceTag || (f.Receiver != 0 && f.Receiver != s.acct.tag) {
			s.acct.log.Debug("otr: fragment for another instance dropped", "contact", s.contact)
			return nil
		}
		msg, complete, err := s.frag.Add(f)
		s.noteFragments(s.acct.now())
		if err != nil {
			s.acct.log.Warn("otr: fragment dropped", "contact", s.contact, "err", err)
			return &ProtocolError{Version: f.Version, MsgType: "fragment", Step: "reassembly", Err: ErrMalformed}
		}
		if !complete {
			return nil
		}
		if env, err = otrencoding.ParseEnvelope(msg); err != nil || env.Kind != otrencoding.KindEncoded {
			return &ProtocolError{Version: f.Version, MsgType: "fragment", Step: "reassembled message", Err: ErrMalformed}
		}
	}
	switch env.Kind {
	case otrencoding.KindPlaintext:
		return s.receivePlaintext(o, env)
	case otrencoding.KindQuery:
		if s.acct.mode.alwaysEncrypted() {
			// OTRv4-standalone mode: "Receiving a Query Message" is ignored.
			s.acct.log.Debug("otr: query ignored in an always-encrypted mode", "contact", s.contact)
			return nil
		}
		// OTR3 spec, "Receiving a Query Message"; docs/interop.md, "Version
		// negotiation": prefer 4 when both sides allow it.
		return s.startBest(o, env.Versions)
	case otrencoding.KindError:
		// OTR3 spec, "Receiving an Error Message".
		code, text := errorCode(env.Text)
		o.event(ErrorEvent{Code: code, Text: sanitize(text)})
		// The contact could not read something we sent: keep what it may
		// have missed for the next key exchange with the same key.
		s.armResend()
		if code == "ERROR_2" && s.canV4() {
			if restarted, err := s.restartFresh(o); restarted || err != nil {
				return err
			}
		}
		if s.policy&ErrorStartAKE != 0 && s.versions() != 0 {
			return s.query(o)
		}
		return nil
	case otrencoding.KindEncoded:
		return s.receiveEncoded(o, env.Payload)
	}
	return &ProtocolError{Step: "envelope", Err: ErrMalformed}
}

// OTR3 spec, "Receiving plaintext without / with the whitespace tag".
func (s *Session) receivePlaintext(o *out, env otrencoding.Envelope) error {
	if env.Text != "" {
		if s.policy&RequireEncryption != 0 || s.anySecure() {
			o.event(UnencryptedEvent{Text: env.Text})
		} else {
			o.event(PlaintextEvent{Text: env.Text})
		}
	}
	if env.Versions == 0 {
		s.sawPlaintext = true
		return nil
	}
	if s.policy&WhitespaceStartAKE != 0 && !s.anyEncrypted() {
		return s.startBest(o, env.Versions)
	}
	return nil
}

func (s *Session) anySecure() bool {
	for _, in := range s.instances {
		if in.status != Plaintext {
			return true
		}
	}
	return false
}

func (s *Session) anyEncryptedV4() bool {
	for _, in := range s.instances {
		if in.status == Encrypted && in.version == 4 {
			return true
		}
	}
	return false
}

func (s *Session) anyEncrypted() bool {
	for _, in := range s.instances {
		if in.status == Encrypted {
			return true
		}
	}
	return false
}

// startBest starts the key exchange of the highest version offered and
// allowed; nothing if none.
func (s *Session) startBest(o *out, offered otrencoding.Versions) error {
	if !offered.Has(4) && s.anyEncryptedV4() {
		// An OTRv4 session never gives way to OTR3: a query or tag without
		// version 4 may be an attacker's downgrade attempt.
		s.acct.log.Debug("otr: OTR3-only offer ignored during an OTRv4 session", "contact", s.contact)
		return nil
	}
	switch {
	case offered.Has(4) && s.canV4():
		return s.startDAKE(o)
	case offered.Has(3) && s.canV3():
		return s.startAKE(o)
	}
	return nil
}

func (s *Session) receiveEncoded(o *out, payload []byte) error {
	h, body, err := otrencoding.ParseHeader(payload)
	if err != nil {
		return &ProtocolError{Step: "header", Err: ErrMalformed}
	}
	switch {
	case h.Version == otrencoding.Version4 && !s.canV4(), h.Version == otrencoding.Version3 && !s.canV3():
		return &ProtocolError{Version: int(h.Version), Step: "policy", Err: ErrUnsupportedVersion}
	case h.Version != otrencoding.Version3 && h.Version != otrencoding.Version4:
		return &ProtocolError{Version: int(h.Version), Step: "header", Err: ErrUnsupportedVersion}
	}
	v := int(h.Version)
	// OTR3 spec, "Instance Tags": discard messages from invalid senders or for
	// another instance (a D-H Commit may be addressed to no instance).
	if h.Sender < minInstanceTag {
		return &ProtocolError{Version: v, Step: "sender instance tag", Err: ErrMalformed}
	}
	toAny := h.Receiver == 0 && (h.Type == otrencoding.MsgDHCommit || h.Type == otrencoding.MsgIdentity)
	if h.Receiver != s.acct.tag && !toAny {
		if h.Receiver != 0 && h.Receiver < minInstanceTag {
			return &ProtocolError{Version: v, Step: "receiver instance tag", Err: ErrMalformed}
		}
		s.acct.log.Debug("otr: message for another instance dropped", "contact", s.contact)
		return nil
	}
	if v == 4 {
		switch h.Type {
		case otrencoding.MsgIdentity, otrencoding.MsgAuthR, otrencoding.MsgAuthI:
			return s.receiveDAKE(o, h, payload, body)
		case otrencoding.MsgData:
			return s.receiveData4(o, h, payload)
		case dake.MsgNonInteractiveAuth:
			// Needs the PrekeyHost: handled once the lock is released
			// (offline.go).
			o.offline = payload
			return nil
		}
		return &ProtocolError{Version: 4, Step: "message type", Err: ErrMalformed}
	}
	switch h.Type {
	case otrencoding.MsgDHCommit, otrencoding.MsgDHKey, otrencoding.MsgRevealSig, otrencoding.MsgSig:
		// An OTR3 key exchange never replaces an OTRv4 session: that would
		// be a downgrade (otrr crashed here).
		if in := s.instances[h.Sender]; in != nil && in.version == 4 && in.status == Encrypted {
			return &ProtocolError{Version: 3, MsgType: h.Type.String(), Step: "OTRv4 session active", Err: ErrUnexpectedMessage}
		}
		return s.receiveAKE(o, h, payload, body)
	case otrencoding.MsgData:
		return s.receiveData(o, h, payload, body)
	}
	return &ProtocolError{Version: 3, Step: "message type", Err: ErrMalformed}
}

// delivered handles the verified plaintext of a data message on in (either
// version): the text, the TLVs, the end of the session, the heartbeat.
func (s *Session) delivered(o *out, in *instance, plaintext, extraKey []byte) error {
	// plaintext is ours (decrypted in place): no need to copy its parts.
	text, tlvs, err := otrencoding.ParsePlaintextInPlace(plaintext)
	if err != nil {
		// The message verified; only its TLV part is broken. Deliver the
		// text, drop the TLVs.
		s.acct.log.Debug("otr: malformed TLVs dropped", "contact", s.contact)
		tlvs = nil
	}
	now := s.acct.now()
	in.lastActive = now
	s.authenticated(in)
	in.verifiedSince, in.restarted = true, false
	var rest []TLV
	finished := false
	for _, t := range tlvs {
		switch {
		case t.Type == otrencoding.TLVPadding:
		case t.Type == otrencoding.TLVDisconnected:
			finished = true
		case isSMPTLV(in.version, t.Type):
			if finished {
				continue
			}
			if err := s.receiveSMP(o, in, t); err != nil {
				return err
			}
		case t.Type == extraKeyTLV(in.version):
			if len(t.Value) < 4 {
				continue
			}
			key := append([]byte(nil), extraKey...)
			o.event(ExtraKeyEvent{Instance: in.tag, Key: key, Use: binary.BigEndian.Uint32(t.Value), Data: t.Value[4:]})
		default:
			rest = append(rest, TLV{Type: t.Type, Value: t.Value})
		}
	}
	if len(text) > 0 || len(rest) > 0 {
		// text is the decrypted message's own buffer (decoded for this
		// message, decrypted in place, never written again): view it.
		str := ownedString(text)
		if !utf8.ValidString(str) {
			str = strings.ToValidUTF8(str, "\uFFFD")
		}
		o.event(MessageEvent{Instance: in.tag, Text: str, TLVs: rest})
	}
	if finished {
		in.wipeKeys()
		in.abandonKeyExchange()
		in.status = Finished
		in.wipeSent()
		o.event(FinishedEvent{Instance: in.tag})
		return nil
	}
	// OTR3 spec, "Receiving a Data Message": "If you have not sent a message
	// to this correspondent in some (configurable) time, send a heartbeat"
	// (docs/interop.md: libotr does so after 60 seconds). OTRv4 likewise.
	if s.acct.heartbeat > 0 && now.Sub(in.lastSent) >= s.acct.heartbeat {
		return s.encrypt(o, in, otrencoding.FlagIgnoreUnreadable, nil, nil)
	}
	if in.version == 4 && in.r4.PendingMACCount() >= s.acct.maxPendingMAC {
		// A receiver that never writes owes one MAC key per message read:
		// a heartbeat reveals them (Options.MaxPendingMACKeys).
		in.r4.RevealPending()
		return s.encrypt(o, in, otrencoding.FlagIgnoreUnreadable, nil, nil)
	}
	return nil
}

// isSMPTLV reports whether t is an SMP TLV in protocol version v: types 2-7
// in OTR3 (7 is message 1 with a question), 2-6 in OTRv4.
func isSMPTLV(v int, t uint16) bool {
	if v == 4 {
		return t >= otrencoding.TLVSMP1 && t <= otrencoding.TLVSMPAbort
	}
	return t >= otrencoding.TLVSMP1 && t <= otrencoding.TLVSMP1Q
}

// extraKeyTLV is the extra-symmetric-key TLV type: 8 in OTR3, 7 in OTRv4.
func extraKeyTLV(v int) uint16 {
	if v == 4 {
		return 7
	}
	return otrencoding.TLVExtraSymKey
}
