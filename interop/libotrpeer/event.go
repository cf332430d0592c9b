package libotrpeer

import "fmt"

// EventKind says which libotr callback produced an [Event].
type EventKind int

// The event kinds, one per libotr callback the harness records.
const (
	EventGoneSecure     EventKind = 1 + iota // gone_secure
	EventGoneInsecure                        // gone_insecure
	EventStillSecure                         // still_secure
	EventNewFingerprint                      // new_fingerprint
	EventMessage                             // handle_msg_event
	EventSMP                                 // handle_smp_event
	EventSymKey                              // received_symkey
)

var eventKindNames = map[EventKind]string{
	EventGoneSecure:     "GoneSecure",
	EventGoneInsecure:   "GoneInsecure",
	EventStillSecure:    "StillSecure",
	EventNewFingerprint: "NewFingerprint",
	EventMessage:        "Message",
	EventSMP:            "SMP",
	EventSymKey:         "SymKey",
}

// String returns the kind's name.
func (k EventKind) String() string {
	if s, ok := eventKindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// MsgEvent is libotr's OtrlMessageEvent.
type MsgEvent int

// The values of OtrlMessageEvent in libotr 4.1.1.
const (
	MsgEventNone MsgEvent = iota
	MsgEventEncryptionRequired
	MsgEventEncryptionError
	MsgEventConnectionEnded
	MsgEventSetupError
	MsgEventMsgReflected
	MsgEventMsgResent
	MsgEventRcvdMsgNotInPrivate
	MsgEventRcvdMsgUnreadable
	MsgEventRcvdMsgMalformed
	MsgEventLogHeartbeatRcvd
	MsgEventLogHeartbeatSent
	MsgEventRcvdMsgGeneralErr
	MsgEventRcvdMsgUnencrypted
	MsgEventRcvdMsgUnrecognized
	MsgEventRcvdMsgForOtherInstance
)

var msgEventNames = []string{
	"None", "EncryptionRequired", "EncryptionError", "ConnectionEnded",
	"SetupError", "MsgReflected", "MsgResent", "RcvdMsgNotInPrivate",
	"RcvdMsgUnreadable", "RcvdMsgMalformed", "LogHeartbeatRcvd",
	"LogHeartbeatSent", "RcvdMsgGeneralErr", "RcvdMsgUnencrypted",
	"RcvdMsgUnrecognized", "RcvdMsgForOtherInstance",
}

// String returns the event's name without the OTRL_MSGEVENT_ prefix.
func (e MsgEvent) String() string {
	if e >= 0 && int(e) < len(msgEventNames) {
		return msgEventNames[e]
	}
	return fmt.Sprintf("MsgEvent(%d)", int(e))
}

// SMPEvent is libotr's OtrlSMPEvent.
type SMPEvent int

// The values of OtrlSMPEvent in libotr 4.1.1.
const (
	SMPEventNone SMPEvent = iota
	SMPEventError
	SMPEventAbort
	SMPEventCheated
	SMPEventAskForAnswer
	SMPEventAskForSecret
	SMPEventInProgress
	SMPEventSuccess
	SMPEventFailure
)

var smpEventNames = []string{
	"None", "Error", "Abort", "Cheated", "AskForAnswer", "AskForSecret",
	"InProgress", "Success", "Failure",
}

// String returns the event's name without the OTRL_SMPEVENT_ prefix.
func (e SMPEvent) String() string {
	if e >= 0 && int(e) < len(smpEventNames) {
		return smpEventNames[e]
	}
	return fmt.Sprintf("SMPEvent(%d)", int(e))
}

// Event is one recorded libotr callback. Only the fields of its Kind are
// set. It is a flat record for tests, not a model for otr's own events.
type Event struct {
	Kind     EventKind
	Contact  string // the context's user name
	Instance uint32 // the context's their_instance (0: the master context)

	Msg  MsgEvent // EventMessage
	Err  uint32   // EventMessage: the gcry_error_t libotr passed
	SMP  SMPEvent // EventSMP
	Done int      // EventSMP: progress in percent
	// Text is the message of an EventMessage (peer error text, received
	// plaintext), the question of an EventSMP, or the fingerprint (human
	// form) of an EventNewFingerprint.
	Text    string
	IsReply bool // EventStillSecure

	Use     uint32   // EventSymKey
	UseData []byte   // EventSymKey
	Key     [32]byte // EventSymKey
}

// String returns a short description for test logs.
func (e Event) String() string {
	switch e.Kind {
	case EventMessage:
		return fmt.Sprintf("%v(%v %q)", e.Kind, e.Msg, e.Text)
	case EventSMP:
		return fmt.Sprintf("%v(%v %d%% %q)", e.Kind, e.SMP, e.Done, e.Text)
	case EventNewFingerprint:
		return fmt.Sprintf("%v(%s)", e.Kind, e.Text)
	case EventSymKey:
		return fmt.Sprintf("%v(use %d)", e.Kind, e.Use)
	}
	return e.Kind.String()
}
