package otr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/otrgo/otr/dake"
	otrencoding "github.com/otrgo/otr/encoding"
	"github.com/otrgo/otr/fragment"
	"github.com/otrgo/otr/internal/ratchet4"
	"github.com/otrgo/otr/smp"
)

// OTRv4 in the session: the interactive DAKE (dake), the double ratchet
// (internal/ratchet4) and SMP over Ed448, next to OTR3 in the same
// session, per instance.

// OTRv4 error codes (OTRv4 spec, "OTR Error Messages").
const (
	errorUnreadable = "ERROR_1: Unreadable message"
	errorNotPrivate = "ERROR_2: Not in private state message"
)

// canV4 reports whether this call may speak OTRv4.
func (s *Session) canV4() bool { return s.policy&AllowV4 != 0 && s.prof != nil }

// encoded4 queues an encoded OTRv4 message to receiver, fragmented to the
// contact's max message size with a random fragment identifier.
func (o *out) encoded4(receiver uint32, payload []byte) error {
	msg := otrencoding.EncodeMessage(payload)
	var id uint32
	if o.max > 0 && len(msg) > o.max {
		var b [4]byte
		if _, err := io.ReadFull(o.s.acct.rand, b[:]); err != nil {
			return fmt.Errorf("otr: reading randomness: %w", err)
		}
		id = binary.BigEndian.Uint32(b[:])
	}
	parts, err := fragment.Split(msg, o.max, otrencoding.Version4, id, o.s.acct.tag, receiver)
	if err != nil {
		return fmt.Errorf("otr: fragmenting: %w", err)
	}
	for _, p := range parts {
		o.res.Send = append(o.res.Send, Message{Contact: o.s.contact, Instance: receiver, Text: p, IsOTR: true})
	}
	return nil
}

func (s *Session) newDAKE() (*dake.DAKE, error) {
	return dake.New(dake.Config{
		InstanceTag:   s.acct.tag,
		AccountID:     s.acct.localID,
		PeerAccountID: s.contact,
		Profile:       s.prof,
		Identity:      s.acct.keys.identity,
		Rand:          s.acct.rand,
	})
}

// startDAKE sends an Identity message to no particular instance (OTRv4 spec,
// "Starting a conversation interactively": the receiver of the query
// starts).
func (s *Session) startDAKE(o *out) error {
	if s.master4 != nil {
		if id := s.master4.PendingIdentity(s.prof); id != nil {
			// Our Identity is still unanswered: send it again rather than
			// make new keys for every query (same exchange).
			return o.encoded4(0, id)
		}
	}
	d, err := s.newDAKE()
	if err != nil {
		return err
	}
	r, err := d.Start()
	if err != nil {
		return err
	}
	if s.master4 != nil {
		s.master4.Wipe()
	}
	s.master4 = d
	s.exchangeAt = s.acct.now()
	return o.encoded4(0, r.Send)
}

func (s *Session) receiveDAKE(o *out, h otrencoding.Header, payload, body []byte) error {
	if h.Type == otrencoding.MsgIdentity && s.replayedStart(o, payload) {
		return nil
	}
	in := s.instances[h.Sender]
	var d *dake.DAKE
	fromMaster := false
	switch {
	case h.Type == otrencoding.MsgAuthR && in != nil && in.dake != nil && in.dake.State() == dake.StateWaitingAuthI &&
		s.master4 != nil && s.master4.State() == dake.StateWaitingAuthR:
		// Both sides started and the contact does not compare hashed B
		// values (otr4j): it answered our Identity with Auth-R while we
		// answered its Identity with ours, and it will refuse our Auth-R.
		// Complete the exchange we started instead, under conditions that
		// keep it as strong as a plain one (docs/interop.md, "Crossed
		// starts"): the Auth-R verifies against our own pending Identity
		// (the DAKE checks it), it carries the very client profile of the
		// Identity we answered from that instance (checked here, before
		// anything changes), and the branch we abandon is wiped at once, so
		// its Auth-I can never re-key the instance.
		prof, ok := dake.LeadingProfile(body)
		if !ok || !bytes.Equal(prof, in.dake.AnsweredProfile()) {
			return &ProtocolError{Version: 4, MsgType: h.Type.String(), Step: "state", Err: ErrUnexpectedMessage}
		}
		d, fromMaster = s.master4, true
	case in != nil && in.dake != nil && in.dake.State() != dake.StateStart:
		if h.Type == otrencoding.MsgAuthR && in.dake == in.restartDAKE && in.theirProfile != nil {
			// Our restart after ERROR_2 re-keys the session with the key it
			// had, never with another one carrying the same instance tag.
			if prof, ok := dake.LeadingProfile(body); !ok || !bytes.Equal(prof, in.theirProfile.Bytes()) {
				return &ProtocolError{Version: 4, MsgType: h.Type.String(), Step: "restart: another client profile", Err: ErrUnexpectedMessage}
			}
		}
		d = in.dake
	case s.master4 != nil && s.master4.State() == dake.StateWaitingAuthR && h.Type == otrencoding.MsgAuthR:
		// The instance answers our Identity message sent to no instance:
		// the exchange becomes that instance's.
		d, fromMaster = s.master4, true
	case s.master4 != nil && h.Type == otrencoding.MsgIdentity:
		// The Identity crosses ours (both sides started). OTRv4 spec,
		// "Receiving an Identity Message" in WAITING_AUTH_R: the greater
		// hashed B keeps its exchange and resends its Identity; otherwise
		// answer theirs. We answer with a new exchange of that instance's
		// own, charged like any other, so that whoever sends Identity
		// messages cannot take over the exchange we started for all of the
		// contact's instances.
		if wins, ok := s.master4.WinsCrossing(body); ok && wins {
			if id := s.master4.PendingIdentity(s.prof); id != nil {
				return o.encoded4(0, id)
			}
		}
		d = nil
	case h.Type == otrencoding.MsgIdentity:
		d = nil // a new exchange, made below once the checks pass
	default:
		return &ProtocolError{Version: 4, MsgType: h.Type.String(), Step: "state", Err: ErrUnexpectedMessage}
	}
	// Refuse before computing: the instance cap, then the contact's key
	// exchange budget for an Identity we did not ask for.
	room, victim := true, (*instance)(nil)
	if in == nil {
		if room, victim = s.roomFor(); !room {
			return &ProtocolError{Version: 4, MsgType: h.Type.String(), Step: "instance", Err: ErrTooManyInstances}
		}
	}
	if h.Type == otrencoding.MsgIdentity && !fromMaster && !s.chargeKeyExchange(o, h.Sender) {
		return &ProtocolError{Version: 4, MsgType: h.Type.String(), Step: "key exchange budget", Err: ErrThrottled}
	}
	if d == nil {
		var err error
		if d, err = s.newDAKE(); err != nil {
			return err
		}
	}
	from := len(o.res.Send)
	r, err := d.Receive(h, body, s.acct.now())
	switch {
	case errors.Is(err, dake.ErrUnexpectedMessage):
		return &ProtocolError{Version: 4, MsgType: h.Type.String(), Step: "state", Err: ErrUnexpectedMessage}
	case errors.Is(err, dake.ErrAuthFailed):
		return &ProtocolError{Version: 4, MsgType: h.Type.String(), Step: "ring signature", Err: ErrBadMAC}
	case errors.Is(err, dake.ErrInvalidClientProfile):
		return &ProtocolError{Version: 4, MsgType: h.Type.String(), Step: "client profile", Err: ErrMalformed}
	case errors.Is(err, otrencoding.ErrMalformed):
		return &ProtocolError{Version: 4, MsgType: h.Type.String(), Step: "parse", Err: ErrMalformed}
	case err != nil:
		return err
	}
	if fromMaster {
		s.master4 = nil
	}
	if in == nil {
		in = s.newInstance(h.Sender, victim)
	}
	if in.dake != nil && in.dake != d {
		in.dake.Wipe()
	}
	in.dake = d
	if r.Send != nil {
		if err := o.encoded4(h.Sender, r.Send); err != nil {
			return err
		}
	}
	if h.Type == otrencoding.MsgIdentity {
		s.rememberStart(o, payload, h.Sender, from, nil, d)
	}
	if r.Keys != nil {
		return s.secure4(o, in, r.Keys)
	}
	return nil
}

// restartFresh answers an ERROR_2 ("not in private state") that comes
// before any data message of a fresh OTRv4 session verified: the contact
// did not complete the DAKE we completed. This happens when both sides
// started at once with a peer that answers every copy of our Identity with
// a fresh Auth-R (otr4j: docs/interop.md, "Crossed starts"). We send a new
// Identity message addressed to that instance, once per session; the
// contact's answer completes a new DAKE. The error message is not
// authenticated: a forged one costs one such restart per session at most.
//
// The ERROR_2 must answer a data message we sent on the fresh session, and
// come at least restartDelay after the session became secure: on a
// transport that keeps each direction in order (chat servers do) our
// Auth-I reached the contact before that message, so the contact failed
// the DAKE; on one that does not, our message may simply have overtaken
// the Auth-I, and the contact will be secure in a moment.
// restartDelay: see restartFresh.
const restartDelay = time.Second

func (s *Session) restartFresh(o *out) (bool, error) {
	restarted := false
	now := s.acct.now()
	for _, t := range s.sortedTags() {
		in := s.instances[t]
		if in.status != Encrypted || in.version != 4 || in.verifiedSince || in.restarted ||
			!in.lastSent.After(in.securedAt) || now.Sub(in.securedAt) < restartDelay ||
			in.dake != nil && in.dake.State() != dake.StateStart {
			continue // not fresh, restarted already, too early, or an exchange is on its way
		}
		d, err := s.newDAKE()
		if err != nil {
			return restarted, err
		}
		r, err := d.Start()
		if err != nil {
			return restarted, err
		}
		// The receiver instance tag of the header (bytes 7-10: version,
		// type, sender, receiver); the DAKE's transcript binds the tags
		// through phi, not through the header.
		binary.BigEndian.PutUint32(r.Send[7:11], in.tag)
		if in.dake != nil {
			in.dake.Wipe()
		}
		in.dake, in.restartDAKE = d, d
		in.restarted = true
		restarted = true
		if err := o.encoded4(in.tag, r.Send); err != nil {
			return restarted, err
		}
	}
	return restarted, nil
}

// secure4 moves in to the encrypted state with the keys of an interactive
// DAKE.
func (s *Session) secure4(o *out, in *instance, k *dake.Keys) error {
	return s.secureV4(o, in, k, ratchet4.New)
}

// secureV4 moves in to the encrypted state with a DAKE's keys and the
// double ratchet newRatchet starts from them (ratchet4.New after the
// interactive DAKE, ratchet4.NewNonInteractive after the non-interactive
// one).
func (s *Session) secureV4(o *out, in *instance, k *dake.Keys, newRatchet func(ratchet4.Config) (*ratchet4.State, error)) error {
	role := ratchet4.RoleBob
	if k.IsAlice {
		role = ratchet4.RoleAlice
	}
	r, err := newRatchet(ratchet4.Config{
		Role:         role,
		SharedSecret: k.SharedSecret,
		OurECDH:      k.OurECDH,
		OurDH:        k.OurDH,
		TheirECDH:    k.TheirECDH,
		TheirDH:      k.TheirDH,
		Rand:         s.acct.rand,
		Options:      s.acct.ratchetOpts,
	})
	clear(k.SharedSecret[:])
	clear(k.RootKey[:])
	if err != nil {
		k.Wipe()
		return err
	}
	before := in.secureState()
	in.wipeKeys()
	in.r4 = r
	in.smp4 = new(smp.SMP4)
	in.version = 4
	in.theirKey = nil
	in.theirProfile = k.TheirProfile
	in.ssid = SSID(k.SSID)
	return s.secured(o, in, before)
}

// receiveData4 handles an OTRv4 data message (OTRv4 spec, "When you receive a
// Data Message").
func (s *Session) receiveData4(o *out, h otrencoding.Header, payload []byte) error {
	in := s.instances[h.Sender]
	ignorable := len(payload) > otrencoding.HeaderLen && payload[otrencoding.HeaderLen]&otrencoding.FlagIgnoreUnreadable != 0
	unreadable := func(step, code string, err error) error {
		return s.unreadable(o, 4, h.Sender, ignorable, code, step, err)
	}
	if in == nil || in.status != Encrypted || in.version != 4 {
		return unreadable("state", errorNotPrivate, ErrNotEncrypted)
	}
	dec, err := in.r4.Decrypt(s.acct.now(), payload)
	switch {
	case errors.Is(err, ratchet4.ErrBadMAC):
		return unreadable("authenticator", errorUnreadable, ErrBadMAC)
	case errors.Is(err, ratchet4.ErrReplay):
		return unreadable("message key", errorUnreadable, ErrReplay)
	case errors.Is(err, ratchet4.ErrThrottled):
		// Too many forged ratchet steps (Options.MaxUnverifiedRatchets):
		// refused without computation.
		return unreadable("ratchet budget", errorUnreadable, ErrBadMAC)
	case errors.Is(err, ratchet4.ErrMalformed):
		return &ProtocolError{Version: 4, MsgType: "data", Step: "parse", Err: ErrMalformed}
	case err != nil:
		return unreadable("ratchet", errorUnreadable, ErrBadMAC)
	}
	if in.r4.AcksOurLatest(dec.RatchetID) {
		in.ackSent() // the contact read a message of our newest chain
	}
	return s.delivered(o, in, dec.Plaintext, dec.ExtraKey[:])
}

// errorCode splits "ERROR_N: text" into the code and the text.
func errorCode(text string) (code, rest string) {
	if strings.HasPrefix(text, "ERROR_") {
		if i := strings.Index(text, ":"); i > 0 && i <= 10 {
			return text[:i], strings.TrimPrefix(text[i+1:], " ")
		}
	}
	return "", text
}
