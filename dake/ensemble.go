package dake

// Prekey ensembles: a client profile, a prekey profile and a Prekey message
// of one instance, as a prekey server hands them out (OTRv4 spec,
// "Publishing Prekey Ensembles", "Validating Prekey Ensembles", "Receiving
// Prekey Ensembles"; OTRv4 prekey server draft, "Retrieving Prekey
// Ensembles", "Prekey Ensemble Retrieval Message").

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"

	otrcrypto "github.com/otrgo/otr/crypto"
	otrencoding "github.com/otrgo/otr/encoding"
)

// MsgPrekeyEnsembleRetrieval is the type byte of the prekey server's Prekey
// Ensemble Retrieval message (OTRv4 prekey server draft, "Prekey Ensemble
// Retrieval Message").
const MsgPrekeyEnsembleRetrieval otrencoding.MsgType = 0x13

// ErrInvalidEnsemble is wrapped by every error ValidateEnsemble returns.
// Errors from the validation of one of its parts wrap that part's error
// too ([ErrInvalidClientProfile], [ErrInvalidPrekeyProfile]).
var ErrInvalidEnsemble = errors.New("dake: invalid prekey ensemble")

func invalidEnsemble(what string) error { return fmt.Errorf("%w: %s", ErrInvalidEnsemble, what) }

// Ensemble is a prekey ensemble. It is immutable once parsed and safe for
// concurrent use. A parsed ensemble is only well formed: call
// [ValidateEnsemble] before using it.
type Ensemble struct {
	ClientProfile *ClientProfile
	PrekeyProfile *PrekeyProfile
	PrekeyMessage *PrekeyMessage
}

// InstanceTag returns the instance tag of the Prekey message (after
// ValidateEnsemble, every part's).
func (e *Ensemble) InstanceTag() uint32 { return e.PrekeyMessage.InstanceTag }

// Marshal writes e as the prekey server draft encodes an ensemble ("Prekey
// Ensemble Retrieval Message"): CLIENT-PROF || PREKEY-PROF || the Prekey
// message as the OTRv4 spec encodes it, header included.
func (e *Ensemble) Marshal(b *cryptobyte.Builder) {
	e.ClientProfile.Marshal(b)
	e.PrekeyProfile.Marshal(b)
	e.PrekeyMessage.Marshal(b)
}

// Bytes returns the encoding of e. The caller owns the returned slice.
func (e *Ensemble) Bytes() []byte {
	var b cryptobyte.Builder
	e.Marshal(&b)
	return b.BytesOrPanic()
}

// ParseEnsemble parses one encoded ensemble (as Bytes writes it); b must
// hold exactly one. Errors wrap encoding.ErrMalformed.
func ParseEnsemble(b []byte) (*Ensemble, error) {
	s := cryptobyte.String(b)
	e, err := readEnsemble(&s)
	if err != nil {
		return nil, err
	}
	if !s.Empty() {
		return nil, malformedPrekey("ensemble: trailing bytes")
	}
	return e, nil
}

func readEnsemble(s *cryptobyte.String) (*Ensemble, error) {
	in := *s
	cp, err := ReadClientProfile(&in)
	if err != nil {
		return nil, err
	}
	pp, err := ReadPrekeyProfile(&in)
	if err != nil {
		return nil, err
	}
	pm, err := ReadPrekeyMessage(&in)
	if err != nil {
		return nil, err
	}
	*s = in
	return &Ensemble{ClientProfile: cp, PrekeyProfile: pp, PrekeyMessage: pm}, nil
}

// skipEnsemble advances s past the ensemble at its front without decoding
// anything; false if it is cut short.
func skipEnsemble(s *cryptobyte.String) bool {
	return skipClientProfile(s) && s.Skip(PrekeyProfileSize) && skipPrekeyMessage(s)
}

// ValidateEnsemble checks e as the OTRv4 spec, "Validating Prekey
// Ensembles", lists it, in its order:
//
//  1. the instance tags of the client profile, the prekey profile and the
//     Prekey message are the same;
//  2. the client profile is valid (ClientProfile.Validate with that tag as
//     the sender's: signature, tag, not expired at now, versions);
//  3. the prekey profile is valid (PrekeyProfile.Validate: signature, tag,
//     not expired at now), and
//  4. is signed by the client profile's long-term key (step 3 verifies the
//     signature with that key);
//  5. the Prekey message is valid (version 4, type 0x0F, Y on the curve, B
//     in the group: checked when it was parsed);
//  6. the Prekey message's version, 4, is among the client profile's
//     versions, and
//  7. is one this library supports (4 is the only version with prekeys).
//
// Parts missing (nil) make the ensemble invalid. Errors wrap
// [ErrInvalidEnsemble].
func ValidateEnsemble(e *Ensemble, now time.Time) error {
	if e == nil || e.ClientProfile == nil || e.PrekeyProfile == nil || e.PrekeyMessage == nil || e.PrekeyMessage.B == nil {
		return invalidEnsemble("incomplete")
	}
	tag := e.PrekeyMessage.InstanceTag
	if e.ClientProfile.InstanceTag() != tag || e.PrekeyProfile.InstanceTag() != tag {
		return invalidEnsemble("instance tags differ")
	}
	if err := e.ClientProfile.Validate(tag, now); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidEnsemble, err)
	}
	H := e.ClientProfile.IdentityKey()
	if err := e.PrekeyProfile.Validate(tag, &H, now); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidEnsemble, err)
	}
	// Step 5 for an ensemble built by hand rather than parsed: Y may then be
	// the zero Point (the identity) and B the zero DH3072PublicKey.
	if pm := e.PrekeyMessage; pm.Y.IsIdentity() || otrcrypto.CheckDH3072Public(pm.B.Bytes()) != nil {
		return invalidEnsemble("invalid prekey message keys")
	}
	// Steps 6 and 7: a parsed Prekey message is always version 4.
	if !strings.Contains(e.ClientProfile.Versions(), "4") {
		return invalidEnsemble("client profile lacks version 4")
	}
	return nil
}

// expiry is the end of e's validity: the earlier of its two profiles'
// expirations.
func (e *Ensemble) expiry() int64 {
	return min(e.ClientProfile.expiration, e.PrekeyProfile.expiration)
}

// SelectEnsembles applies the OTRv4 spec's "Receiving Prekey Ensembles" to
// the ensembles of one retrieval: it drops those ValidateEnsemble refuses
// at now and duplicates (a second ensemble with the instance tag and prekey
// message id of an earlier one: the owner accepts a prekey message once),
// and returns the rest grouped by instance tag, groups in the order their
// first ensemble arrived, each group by latest expiry first (the prekey
// server draft, "Retrieving Prekey Ensembles", picks "the Prekey Ensemble
// with the latest expiry time from each group"; the expiry of an ensemble
// is the earlier of its profiles'). Whether to send to several instance
// tags, or several messages to one, is the caller's decision. The result
// shares the ensembles of es; nil if none is valid.
func SelectEnsembles(es []*Ensemble, now time.Time) []*Ensemble {
	type key struct{ tag, id uint32 }
	seen := make(map[key]bool)
	order := make(map[uint32]int) // instance tag -> group rank
	var out []*Ensemble
	for _, e := range es {
		if ValidateEnsemble(e, now) != nil {
			continue
		}
		k := key{e.InstanceTag(), e.PrekeyMessage.ID}
		if seen[k] {
			continue
		}
		seen[k] = true
		if _, ok := order[k.tag]; !ok {
			order[k.tag] = len(order)
		}
		out = append(out, e)
	}
	slices.SortStableFunc(out, func(a, b *Ensemble) int {
		if c := cmp.Compare(order[a.InstanceTag()], order[b.InstanceTag()]); c != 0 {
			return c
		}
		return cmp.Compare(b.expiry(), a.expiry())
	})
	return out
}

// EnsembleRetrieval is the prekey server's Prekey Ensemble Retrieval
// message (OTRv4 prekey server draft, "Prekey Ensemble Retrieval Message").
type EnsembleRetrieval struct {
	// ReceiverInstanceTag is the instance tag of the client that asked.
	ReceiverInstanceTag uint32
	// Identity is the identity the ensembles are of ("Participant
	// Identity", for XMPP the bare JID).
	Identity []byte
	// Ensembles are the ensembles that decoded, in the order received.
	Ensembles []*Ensemble
	// Undecodable counts the ensembles whose framing was intact but whose
	// values did not decode (an invalid point, DH value, field): they are
	// left out of Ensembles, as the draft discards invalid ensembles.
	Undecodable int
}

// Marshal writes r: SHORT version 0x0004, BYTE type 0x13, INT receiver
// instance tag, DATA participant identity, INT L (the number of
// ensembles), the ensembles. Undecodable is not encoded; with no
// ensembles L is 0, which ParseEnsembleRetrieval refuses.
func (r *EnsembleRetrieval) Marshal(b *cryptobyte.Builder) {
	b.AddUint16(otrencoding.Version4)
	b.AddUint8(uint8(MsgPrekeyEnsembleRetrieval))
	b.AddUint32(r.ReceiverInstanceTag)
	otrencoding.AddData(b, r.Identity)
	b.AddUint32(uint32(len(r.Ensembles)))
	for _, e := range r.Ensembles {
		e.Marshal(b)
	}
}

// ParseEnsembleRetrieval parses a Prekey Ensemble Retrieval message in
// binary (the caller has removed the draft's base-64 and final "."). It
// checks the version (4), the type (0x13), that L is not zero and that
// exactly L ensembles follow. An ensemble that is framed correctly but
// does not decode is counted in Undecodable rather than failing the whole
// message. The ensembles still need ValidateEnsemble (or SelectEnsembles),
// and the caller must check ReceiverInstanceTag against its own. Errors
// wrap encoding.ErrMalformed.
func ParseEnsembleRetrieval(b []byte) (*EnsembleRetrieval, error) {
	s := cryptobyte.String(b)
	var version uint16
	var typ uint8
	var n uint32
	r := new(EnsembleRetrieval)
	if !s.ReadUint16(&version) || !s.ReadUint8(&typ) || !s.ReadUint32(&r.ReceiverInstanceTag) ||
		!otrencoding.ReadData(&s, &r.Identity) || !s.ReadUint32(&n) {
		return nil, malformedPrekey("ensemble retrieval: short")
	}
	if version != otrencoding.Version4 || otrencoding.MsgType(typ) != MsgPrekeyEnsembleRetrieval {
		return nil, malformedPrekey("ensemble retrieval: wrong version or type")
	}
	if n == 0 {
		return nil, malformedPrekey("ensemble retrieval: no ensembles")
	}
	for range n {
		start := s
		if !skipEnsemble(&s) {
			return nil, malformedPrekey("ensemble retrieval: short ensemble")
		}
		e, err := ParseEnsemble(start[:len(start)-len(s)])
		if err != nil {
			r.Undecodable++
			continue
		}
		r.Ensembles = append(r.Ensembles, e)
	}
	if !s.Empty() {
		return nil, malformedPrekey("ensemble retrieval: trailing bytes")
	}
	return r, nil
}
