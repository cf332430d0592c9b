package otr

import (
	"fmt"
	"strings"
)

// Result is what a call returns: wire messages to transmit, in order, and
// events for the user. The caller owns both slices.
type Result struct {
	Send   []Message
	Events []Event
}

// Message is one wire message to transmit to Contact.
type Message struct {
	Contact  string
	Instance uint32 // receiver instance tag, 0 if not addressed to one
	Text     string // what to transmit, as is
	IsOTR    bool   // an OTR protocol message (encoded, query, error or fragment) rather than user plaintext
}

// Event is something the user should know about. The concrete types are the
// *Event structs of this package.
type Event interface {
	isEvent()
	String() string
}

// PlaintextEvent is an unencrypted message received while no encryption was
// expected.
type PlaintextEvent struct {
	Text string
}

// UnencryptedEvent is an unencrypted message received while encryption was
// expected (an encrypted or finished instance exists, or the policy requires
// encryption): show it with a warning.
type UnencryptedEvent struct {
	Text string
}

// TLV is a type/length/value record carried in an encrypted message.
type TLV struct {
	Type  uint16
	Value []byte
}

// MessageEvent is a message received encrypted and authenticated.
type MessageEvent struct {
	Instance uint32 // the sender's instance tag
	Text     string // may be empty when only TLVs were sent
	TLVs     []TLV  // TLVs the library did not consume (unknown types)
}

// SecureEvent reports an instance whose key exchange completed.
type SecureEvent struct {
	Instance    uint32
	Version     int
	Fingerprint Fingerprint // the contact's long-term key
	SSID        SSID
	Refreshed   bool  // the instance was encrypted already with the same key; keys were renewed
	Trust       Trust // the fingerprint's trust, from a TrustHost (Untrusted without one)
	// Previous is the fingerprint this instance had before, when the key
	// exchange changed it: the instance tag now belongs to another key, as
	// if it were a new device of the contact (or someone else writing as
	// the contact). Such an exchange is never Refreshed and the instance
	// loses the rank its old fingerprint's trust gave it.
	Previous Fingerprint
}

// FingerprintEvent reports a fingerprint of the contact that the
// [TrustHost] did not know. Changed is set when the contact has another,
// trusted fingerprint: the user should verify this one (SMP or comparison).
type FingerprintEvent struct {
	Instance    uint32
	Fingerprint Fingerprint
	Changed     bool
	Previous    Fingerprint // the instance's fingerprint before this key exchange, if it had another
}

// InstanceChangedEvent reports that the user's words (Send with instance
// 0) now go to another instance of the contact, or to the same instance
// under another key (see [Session.Send] for the rule). Show it: text the
// user types next reaches NewFingerprint.
type InstanceChangedEvent struct {
	OldInstance    uint32
	OldVersion     int
	OldFingerprint Fingerprint
	NewInstance    uint32
	NewVersion     int
	NewFingerprint Fingerprint
}

// HostErrorEvent reports that a [Host] method failed: Op names it (e.g.
// "SetClientProfile", "Fingerprints", "SetTrust"), Err is what it
// returned, and Effect says what the library did instead. Host failures
// are reported this way, never only logged; the few Host calls whose
// failure stops the call itself (InstanceTag and SetInstanceTag in
// NewAccount, SetTrust in Session.SetTrust) return the error instead.
type HostErrorEvent struct {
	Op     string
	Err    error
	Effect string
}

// ResentEvent reports that a message the user sent earlier was sent again,
// encrypted, to Instance over a new key exchange with the same key: the
// contact had reported a message unreadable (Options.ResendWindow).
type ResentEvent struct {
	Instance uint32
	Text     string
}

// ThrottledEvent reports that the contact (or someone writing as the
// contact) started more key exchanges from new instance tags than
// Options.KeyExchangeBurst allows: Refused were refused since the last
// report. It comes at most once per refill period. The encrypted
// conversation is not affected, and a key exchange we start still
// completes.
type ThrottledEvent struct {
	Refused int
}

// PendingSentEvent reports that Count messages queued under
// RequireEncryption were sent, encrypted, to Instance, whose key is
// Fingerprint.
type PendingSentEvent struct {
	Instance    uint32
	Fingerprint Fingerprint
	Count       int
}

// PendingHeldEvent reports that Count queued messages were not sent to
// the newly encrypted Instance: the host trusts a fingerprint of this
// contact and Instance has another, untrusted one (Fingerprint). They stay
// queued until a trusted instance is encrypted or Fingerprint is trusted
// ([Session.SetTrust]).
type PendingHeldEvent struct {
	Instance    uint32
	Fingerprint Fingerprint
	Count       int
}

// FinishedEvent reports that the contact ended the encrypted session: the
// instance is Finished and nothing more can be sent until [Session.End] or a
// new key exchange.
type FinishedEvent struct {
	Instance uint32
}

// EndedEvent reports that we ended an encrypted session, by [Session.End]
// or, with Expired set, by [Account.Expire].
type EndedEvent struct {
	Instance uint32
	Expired  bool
}

// ExtraKeyEvent reports that the contact sent the extra-symmetric-key TLV:
// Key is the key both sides now hold (secret: wipe it when done), Use and
// Data what the contact said it is for.
type ExtraKeyEvent struct {
	Instance uint32
	Key      []byte // 32 bytes in OTR3, 64 in OTRv4
	Use      uint32
	Data     []byte
}

// ErrorEvent is an OTR error message from the contact. Its text is
// truncated and stripped of control characters.
type ErrorEvent struct {
	Code string // OTRv4 error code such as "ERROR_1", or ""
	Text string
}

func (PlaintextEvent) isEvent()       {}
func (UnencryptedEvent) isEvent()     {}
func (MessageEvent) isEvent()         {}
func (SecureEvent) isEvent()          {}
func (FinishedEvent) isEvent()        {}
func (EndedEvent) isEvent()           {}
func (ErrorEvent) isEvent()           {}
func (ExtraKeyEvent) isEvent()        {}
func (SMPQuestionEvent) isEvent()     {}
func (SMPProgressEvent) isEvent()     {}
func (SMPSucceededEvent) isEvent()    {}
func (SMPFailedEvent) isEvent()       {}
func (SMPAbortedEvent) isEvent()      {}
func (FingerprintEvent) isEvent()     {}
func (InstanceChangedEvent) isEvent() {}
func (PendingSentEvent) isEvent()     {}
func (PendingHeldEvent) isEvent()     {}
func (ThrottledEvent) isEvent()       {}
func (HostErrorEvent) isEvent()       {}
func (ResentEvent) isEvent()          {}

func (e PlaintextEvent) String() string { return fmt.Sprintf("plaintext %q", e.Text) }
func (e UnencryptedEvent) String() string {
	return fmt.Sprintf("unencrypted (expected encryption) %q", e.Text)
}
func (e MessageEvent) String() string {
	return fmt.Sprintf("encrypted from %08x %q (%d TLVs)", e.Instance, e.Text, len(e.TLVs))
}
func (e SecureEvent) String() string {
	s := "secure"
	if e.Refreshed {
		s = "secure (refreshed)"
	}
	if e.Previous != nil {
		s = fmt.Sprintf("secure with a new key (was %s)", e.Previous)
	}
	return fmt.Sprintf("%s v%d with %08x, fingerprint %s, SSID %s", s, e.Version, e.Instance, e.Fingerprint, e.SSID)
}
func (e FingerprintEvent) String() string {
	if e.Changed {
		return fmt.Sprintf("new fingerprint %s from %08x, different from the trusted one", e.Fingerprint, e.Instance)
	}
	return fmt.Sprintf("new fingerprint %s from %08x", e.Fingerprint, e.Instance)
}
func (e InstanceChangedEvent) String() string {
	return fmt.Sprintf("now talking to %08x (v%d, fingerprint %s), was %08x (v%d, fingerprint %s)",
		e.NewInstance, e.NewVersion, e.NewFingerprint, e.OldInstance, e.OldVersion, e.OldFingerprint)
}
func (e PendingSentEvent) String() string {
	return fmt.Sprintf("%d queued messages sent to %08x (fingerprint %s)", e.Count, e.Instance, e.Fingerprint)
}
func (e PendingHeldEvent) String() string {
	return fmt.Sprintf("%d queued messages held: %08x has untrusted fingerprint %s", e.Count, e.Instance, e.Fingerprint)
}
func (e ResentEvent) String() string {
	return fmt.Sprintf("resent to %08x: %q", e.Instance, e.Text)
}
func (e HostErrorEvent) String() string {
	if e.Effect == "" {
		return fmt.Sprintf("host %s failed: %v", e.Op, e.Err)
	}
	return fmt.Sprintf("host %s failed: %v; %s", e.Op, e.Err, e.Effect)
}
func (e ThrottledEvent) String() string {
	return fmt.Sprintf("%d key exchanges from new instances refused (too many)", e.Refused)
}
func (e FinishedEvent) String() string { return fmt.Sprintf("finished by contact (%08x)", e.Instance) }
func (e EndedEvent) String() string {
	if e.Expired {
		return fmt.Sprintf("expired (%08x)", e.Instance)
	}
	return fmt.Sprintf("ended (%08x)", e.Instance)
}
func (e ExtraKeyEvent) String() string {
	return fmt.Sprintf("extra symmetric key from %08x for use %d (%d bytes of data)", e.Instance, e.Use, len(e.Data))
}
func (e ErrorEvent) String() string { return fmt.Sprintf("error from contact %q", e.Text) }

// SMPQuestionEvent: the contact started SMP; ask the user for the secret
// (showing Question if HasQuestion) and call [Session.AnswerSMP], or
// [Session.AbortSMP].
type SMPQuestionEvent struct {
	Instance    uint32
	Question    string // truncated, control characters stripped
	HasQuestion bool
}

// SMPProgressEvent: an SMP run advanced by one message.
type SMPProgressEvent struct {
	Instance uint32
}

// SMPSucceededEvent: both users know the same secret. Fingerprint is the
// contact's fingerprint of the instance.
//
// AnsweredQuestion is set when we answered the contact's question: the
// contact chose the question, so the run proves who we are to the contact
// but does not authenticate the contact to us (anyone can ask "2+2?").
// Like libotr, a TrustHost then records no trust; a run we started, or one
// without a question, records SMPVerified.
type SMPSucceededEvent struct {
	Instance         uint32
	Fingerprint      Fingerprint
	AnsweredQuestion bool
}

// SMPFailedEvent: the secrets differ, or (Protocol) the contact's messages
// were invalid or out of order and the run was aborted. After a run whose
// secrets differed, a TrustHost records the fingerprint as Untrusted, as
// libotr does.
type SMPFailedEvent struct {
	Instance    uint32
	Fingerprint Fingerprint
	Protocol    bool
}

// SMPAbortedEvent: the run was aborted, by us or (ByContact) by the contact.
type SMPAbortedEvent struct {
	Instance  uint32
	ByContact bool
}

func (e SMPQuestionEvent) String() string {
	if e.HasQuestion {
		return fmt.Sprintf("SMP request from %08x: %q", e.Instance, e.Question)
	}
	return fmt.Sprintf("SMP request from %08x", e.Instance)
}
func (e SMPProgressEvent) String() string {
	return fmt.Sprintf("SMP in progress with %08x", e.Instance)
}
func (e SMPSucceededEvent) String() string {
	if e.AnsweredQuestion {
		return fmt.Sprintf("SMP succeeded with %08x: we answered the contact's question (this authenticates us to them, not them to us)", e.Instance)
	}
	return fmt.Sprintf("SMP succeeded with %08x: fingerprint %s verified", e.Instance, e.Fingerprint)
}
func (e SMPFailedEvent) String() string {
	if e.Protocol {
		return fmt.Sprintf("SMP with %08x aborted: invalid message", e.Instance)
	}
	return fmt.Sprintf("SMP failed with %08x: secrets differ", e.Instance)
}
func (e SMPAbortedEvent) String() string {
	if e.ByContact {
		return fmt.Sprintf("SMP aborted by %08x", e.Instance)
	}
	return fmt.Sprintf("SMP with %08x aborted", e.Instance)
}

// maxPeerText bounds peer-supplied text shown in events.
const maxPeerText = 512

// sanitize truncates peer text and strips control characters.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= maxPeerText {
			break
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
