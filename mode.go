package otr

import "fmt"

// Mode is one of the three operating modes of the OTRv4 spec ("OTRv4
// Modes"; the modes/ documents of the spec). It is set per account with
// Options.Mode and constrains every session's policy: where a policy (the
// account's, a PolicyHost's or Session.SetPolicy's) conflicts with the
// mode, the mode wins.
type Mode int

const (
	// ModeOTRv3Compatible is the default: OTR3 and OTRv4, queries,
	// whitespace tags and plaintext as the policy says. Deniability: OTR3
	// sessions have OTR3's (a shared MAC key revealed, malleable
	// encryption); OTRv4 sessions have the interactive DAKE's full
	// participation and message deniability; a client profile carries a
	// transitional DSA signature that ties the OTRv4 key to the OTR3 key.
	ModeOTRv3Compatible Mode = iota
	// ModeOTRv4Standalone is always encrypted and OTRv4 only: nothing is
	// sent in plaintext, queries and whitespace tags are neither sent nor
	// answered, OTR3 is refused, a conversation begins when a participant
	// sends an Identity message (Session.Start sends one), and the client
	// profile advertises "4" with no transitional signature. Received
	// plaintext is reported as UnencryptedEvent and never answered.
	// Deniability: the interactive DAKE's, and no OTR3 key is linked to
	// the OTRv4 one; conversations started offline (the non-interactive
	// DAKE, Session.StartOffline) give the initiator weaker participation
	// deniability (OTRv4 spec, "Security Properties").
	ModeOTRv4Standalone
	// ModeOTRv4InteractiveOnly is ModeOTRv4Standalone without offline
	// conversations (no prekeys; a Non-Interactive-Auth message is
	// refused). Deniability: the strongest of the three, offline and online
	// deniability for both participants.
	ModeOTRv4InteractiveOnly
)

// String returns the mode's name as the spec writes it.
func (m Mode) String() string {
	switch m {
	case ModeOTRv3Compatible:
		return "OTRv3-compatible"
	case ModeOTRv4Standalone:
		return "OTRv4-standalone"
	case ModeOTRv4InteractiveOnly:
		return "OTRv4-interactive-only"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// alwaysEncrypted reports whether the mode forbids plaintext.
func (m Mode) alwaysEncrypted() bool { return m != ModeOTRv3Compatible }

// constrain returns p as the mode allows it.
func (m Mode) constrain(p Policy) Policy {
	if !m.alwaysEncrypted() {
		return p
	}
	p |= AllowV4 | RequireEncryption
	return p &^ (AllowV3 | SendWhitespaceTag | WhitespaceStartAKE)
}
