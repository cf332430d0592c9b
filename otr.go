// Package otr implements Off-the-Record messaging, OTR protocol version 3
// and OTRv4 (interactive), for chat clients: end-to-end encrypted,
// deniable conversations that interoperate with libotr (OTR3) and otr4j
// (OTRv4). It is sans-IO: every call returns the wire messages to send and
// the events to show; the caller owns the transport and the clock.
//
// # Getting started
//
// Create an [Account] with [NewAccount] from your identity [PrivateKeys]
// (made once with [GenerateKeys] and stored with
// [PrivateKeys.MarshalBinary]) and a [Host] you implement ([MemoryHost]
// keeps everything in memory). Take one [Session] per contact with
// [Account.Session]. Feed every message that arrives from the contact to
// [Session.Receive], send user text with [Session.Send], and transmit
// every [Message] in the returned [Result.Send]; show the [Result.Events]
// to the user. Call [Account.Expire] when [Account.NextDeadline] says.
//
//	res, err := sess.Receive(incoming)
//	for _, m := range res.Send {
//		transport.Send(m.Contact, m.Text)
//	}
//	for _, ev := range res.Events {
//		switch ev := ev.(type) {
//		case otr.MessageEvent:
//			ui.Show(ev.Text)
//		case otr.SecureEvent:
//			ui.ShowSecure(ev.Fingerprint, ev.Version)
//		case otr.InstanceChangedEvent:
//			ui.Warn(ev.String())
//		}
//	}
//
// A non-nil error from Receive means the message was rejected (a
// [*ProtocolError] that unwraps to a sentinel such as [ErrBadMAC]) and
// the session is unchanged; the Result may still carry an OTR error
// message for the contact.
//
// # Instances and trust
//
// A contact may be logged in several times; each client is an instance
// with its own keys. [Session.Send] with instance 0 picks one by a
// documented rule (encrypted, then trusted, then OTRv4, then the most
// recent), and every change of it is an [InstanceChangedEvent]. With a
// [TrustHost], fingerprints are recorded and trusted by SMP
// ([Session.StartSMP]) or by the user ([Session.SetTrust]).
//
// # Concurrency
//
// Every exported method of [Account] and [Session] is safe for concurrent
// use: a network reader, a UI and a timer may call them at once. Host
// methods are never called while a session's lock is held.
//
// # Security
//
// Long-term DSA signatures and every exponentiation with a secret exponent
// run in constant time; MACs are compared in constant time; keys are
// wiped when a state ends. A message that fails verification is rejected
// without changing the session, and nothing is delivered as encrypted
// unless its MAC verified. What a contact can make us compute or hold is
// bounded by Options with safe defaults (key exchanges, forged ratchet
// steps, fragments, error replies, owed MAC keys). Randomness comes only
// from [Options.Rand] and time only from [Options.Now]. See SECURITY.md in
// the repository.
//
// # Compatibility
//
// OTR version 3 as libotr 4.1.1 speaks it (Pidgin, irssi, bitlbee), and
// OTRv4's interactive DAKE, double ratchet, SMP and fragments as otr4j
// implements them; OTRv4 is preferred when both sides allow it. The
// readings of the specifications that interoperability forced are in the
// repository's docs/interop.md. Offline conversations (OTRv4's
// non-interactive DAKE: [Account.MakePrekeys], [Session.StartOffline])
// follow the spec (no other implementation interoperates; the readings
// chosen are in docs/offline.md). The three OTRv4 modes are offered
// ([Options.Mode]). Not implemented: the prekey server protocol (the
// application moves the ensembles); OTR versions 1 and 2 (their queries
// are recognised and answered only if version 3 is offered too).
package otr

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors; compare with errors.Is.
var (
	ErrMalformed          = errors.New("otr: malformed message")
	ErrBadMAC             = errors.New("otr: message authentication failed")
	ErrReplay             = errors.New("otr: replayed or old message")
	ErrUnexpectedMessage  = errors.New("otr: unexpected message")
	ErrUnsupportedVersion = errors.New("otr: unsupported protocol version")
	ErrNotEncrypted       = errors.New("otr: no encrypted session")
	ErrSessionFinished    = errors.New("otr: session finished by the contact")
	ErrSMPInProgress      = errors.New("otr: SMP already in progress")
	ErrUnknownInstance    = errors.New("otr: unknown instance")
	ErrEncryptionRequired = errors.New("otr: policy requires encryption")
	ErrWrongInstance      = errors.New("otr: message for another instance")
	ErrTooManyInstances   = errors.New("otr: too many instances for this contact")
	ErrNoKey              = errors.New("otr: no key for this protocol version")
	ErrInvalidText        = errors.New("otr: text is not UTF-8 or contains U+0000")
	ErrReservedTLV        = errors.New("otr: TLV type reserved by the protocol")
	ErrAmbiguousInstance  = errors.New("otr: several instances match; name one")
	ErrNoTrustHost        = errors.New("otr: the host keeps no trust (not a TrustHost)")
	ErrThrottled          = errors.New("otr: too many key exchanges from this contact; try later")
	ErrForgotten          = errors.New("otr: session forgotten (Account.Forget): take a new one from Account.Session")
	ErrEmptyID            = errors.New("otr: empty account or contact identifier")
	ErrNilKeys            = errors.New("otr: nil private keys")
	ErrKeysWiped          = errors.New("otr: private keys were wiped")
	ErrNoVersion          = errors.New("otr: the policy allows no protocol version our keys can speak")
)

// ProtocolError describes rejected peer input. It unwraps to one of the
// sentinel errors.
type ProtocolError struct {
	Version  int    // protocol version of the message, 0 if unknown
	Instance uint32 // the sender's instance tag, 0 if unknown or not checked
	MsgType  string // message type, e.g. "data", "DH-Commit"
	Step     string // what failed
	Err      error  // the sentinel
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("otr: v%d %s message rejected: %s: %v", e.Version, e.MsgType, e.Step, strings.TrimPrefix(e.Err.Error(), "otr: "))
}

// Unwrap returns the sentinel.
func (e *ProtocolError) Unwrap() error { return e.Err }

// Policy is a set of OTR policy flags (OTR3 spec, "Policies").
type Policy uint32

// Policy flags.
const (
	AllowV3            Policy = 1 << iota // speak OTR version 3
	AllowV4                               // speak OTRv4 (needs the OTRv4 keys; preferred over OTR3 when both sides allow it)
	RequireEncryption                     // never send user text unencrypted
	SendWhitespaceTag                     // advertise OTR with a whitespace tag
	WhitespaceStartAKE                    // start the AKE on a received whitespace tag
	ErrorStartAKE                         // start the AKE on a received OTR error message
)

// DefaultPolicy is used when [Options.Policy] is zero: opportunistic OTR.
const DefaultPolicy = AllowV3 | AllowV4 | SendWhitespaceTag | WhitespaceStartAKE | ErrorStartAKE

// String lists the flags, e.g. "ALLOW_V3|REQUIRE_ENCRYPTION".
func (p Policy) String() string {
	names := []string{"ALLOW_V3", "ALLOW_V4", "REQUIRE_ENCRYPTION", "SEND_WHITESPACE_TAG", "WHITESPACE_START_AKE", "ERROR_START_AKE"}
	var parts []string
	for i, n := range names {
		if p&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	if rest := p &^ (1<<len(names) - 1); rest != 0 {
		parts = append(parts, fmt.Sprintf("0x%x", uint32(rest)))
	}
	if len(parts) == 0 {
		return "NEVER"
	}
	return strings.Join(parts, "|")
}

// Status is the message state of one instance (OTR3 spec, "Message state").
type Status int

// Message states.
const (
	Plaintext Status = iota // MSGSTATE_PLAINTEXT
	Encrypted               // MSGSTATE_ENCRYPTED
	Finished                // MSGSTATE_FINISHED: the contact ended the session
)

// String returns the state's name.
func (s Status) String() string {
	switch s {
	case Plaintext:
		return "plaintext"
	case Encrypted:
		return "encrypted"
	case Finished:
		return "finished"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}
