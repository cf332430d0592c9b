// Package fragment splits encoded OTR messages into OTR3 and OTRv4 fragments
// and reassembles received fragments under memory limits.
//
// It serves the github.com/otrgo/otr package; its API may change.
//
// Formats (OTR3 spec and OTRv4 spec, "Fragmentation"):
//
//	OTR3:  ?OTR|sender|receiver,k,n,piece,
//	OTRv4: ?OTR|identifier|sender|receiver,k,n,piece,
//
// This package does not check instance tags against the local instance:
// that is the caller's job (docs/threats.md P6), done before [Assembler.Add].
package fragment

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors, compared with errors.Is.
var (
	// ErrMalformed reports a fragment that does not follow the wire format
	// or carries illegal numbers (k == 0, n == 0, k > n), or an empty piece
	// anywhere but in the last fragment of several.
	ErrMalformed = errors.New("fragment: malformed fragment")
	// ErrLimit reports that a fragment, a message or the shared budget
	// exceeded its limit; the affected message was dropped.
	ErrLimit = errors.New("fragment: limit exceeded")
	// ErrClosed reports a fragment given to a closed Assembler.
	ErrClosed = errors.New("fragment: assembler closed")
	// ErrDiscarded reports a well-formed fragment that does not fit the
	// message being reassembled (OTR3: out of sequence; OTRv4: a changed
	// total); the fragment and the affected buffered message were dropped.
	ErrDiscarded = errors.New("fragment: fragment discarded")
)

// MaxFragments is the largest number of fragments of one message: k and n
// are unsigned 16-bit numbers on the wire.
const MaxFragments = 65535

const (
	prefix = "?OTR|"
	// Lengths of the canonical headers, up to and including the comma after n:
	// "?OTR|" 8 "|" 8 "," 5 "," 5 "," and OTRv4 adds 8 "|".
	headerLen3 = len(prefix) + 8 + 1 + 8 + 1 + 5 + 1 + 5 + 1
	headerLen4 = headerLen3 + 8 + 1
)

// Fragment is one parsed fragment.
type Fragment struct {
	// Version is 3 (OTR3, no identifier) or 4 (OTRv4).
	Version int
	// ID is the OTRv4 identifier; always 0 for OTR3.
	ID uint32
	// Sender and Receiver are the instance tags as written in the fragment.
	Sender, Receiver uint32
	// K is the 1-based index of this fragment and N the total, 1 <= K <= N.
	K, N uint16
	// Piece is this fragment's part of the encoded message, without commas.
	// It is non-empty, except that the last fragment of several (K == N > 1)
	// may carry an empty piece (twstrike/otr3 sends one).
	Piece string
}

// Parse parses one fragment. The whole of s must be the fragment: it starts
// with "?OTR|" and ends with the comma after the piece. Any other input, the
// OTR2 form "?OTR,k,n,piece," included, gives an error wrapping ErrMalformed.
func Parse(s string) (Fragment, error) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return Fragment{}, malformed("missing prefix")
	}
	var tags [3]uint32
	nt := 0
	for {
		if nt == len(tags) {
			return Fragment{}, malformed("too many header fields")
		}
		v, r, ok := parseHex(rest)
		if !ok {
			return Fragment{}, malformed("bad instance tag or identifier")
		}
		tags[nt] = v
		nt++
		if r == "" {
			return Fragment{}, malformed("truncated header")
		}
		sep := r[0]
		rest = r[1:]
		if sep == ',' {
			break
		}
		if sep != '|' {
			return Fragment{}, malformed("bad separator")
		}
	}
	var f Fragment
	switch nt {
	case 2:
		f.Version = 3
		f.Sender, f.Receiver = tags[0], tags[1]
	case 3:
		f.Version = 4
		f.ID, f.Sender, f.Receiver = tags[0], tags[1], tags[2]
	default:
		return Fragment{}, malformed("wrong number of header fields")
	}
	k, rest, ok := parseDec(rest)
	if !ok || !strings.HasPrefix(rest, ",") {
		return Fragment{}, malformed("bad fragment index")
	}
	n, rest, ok := parseDec(rest[1:])
	if !ok || !strings.HasPrefix(rest, ",") {
		return Fragment{}, malformed("bad fragment total")
	}
	rest = rest[1:]
	// The piece runs to the next comma, which must end the message: encoded
	// OTR messages are base64 and never contain a comma. Whether it may be
	// empty is check's business.
	i := strings.IndexByte(rest, ',')
	switch {
	case i < 0:
		return Fragment{}, malformed("missing trailing comma")
	case i != len(rest)-1:
		return Fragment{}, malformed("data after the piece")
	}
	f.K, f.N, f.Piece = k, n, rest[:i]
	if err := f.check(); err != nil {
		return Fragment{}, err
	}
	return f, nil
}

// check reports whether the numbers and piece of f are legal (OTR3 spec,
// "Receiving Fragments": k == 0, n == 0 or k > n is an illegal fragment;
// "Transmitting Fragments": "each piece[k] must be non-empty", but see the
// leniency below).
func (f *Fragment) check() error {
	switch {
	case f.Version != 3 && f.Version != 4:
		return malformed("unsupported version")
	case f.K == 0 || f.N == 0:
		return malformed("zero index or total")
	case f.K > f.N:
		return malformed("index above total")
	case f.Piece == "" && (f.K != f.N || f.N == 1):
		// Leniency for twstrike/otr3 (CoyIM's library), which ends a
		// fragmented message with an empty last piece when the message
		// length is a multiple of the piece size, e.g.
		// "?OTR|48f4f279|d66418fc,00068,00068,,". libotr refuses it, and
		// every long message from twstrike/otr3 would be lost; an empty last
		// piece adds nothing to the message, so it is accepted there only.
		// An empty piece elsewhere, or as a whole message (n == 1), is not.
		return malformed("empty piece")
	case strings.IndexByte(f.Piece, ',') >= 0:
		return malformed("comma in piece")
	}
	return nil
}

// String returns f in the canonical form libotr writes: instance tags and
// identifier as 8 lower-case hex digits, k and n as 5 decimal digits.
// A Version of 4 gives the OTRv4 form, any other value the OTR3 form.
func (f Fragment) String() string {
	n := headerLen3
	if f.Version == 4 {
		n = headerLen4
	}
	return string(appendFragment(make([]byte, 0, n+len(f.Piece)+1), f.Version == 4, f.ID, f.Sender, f.Receiver, f.K, f.N, f.Piece))
}

// Split cuts msg, a whole encoded OTR message ("?OTR:...."), into fragments
// of at most maxSize bytes each, in the canonical format of version (3 or 4).
// id is the OTRv4 identifier (the caller draws it at random, OTRv4 spec
// "Transmitting Fragments"); it is ignored for version 3.
//
// If maxSize <= 0 or len(msg) <= maxSize, Split returns []string{msg}
// unchanged. Otherwise every fragment carries a non-empty piece
// (docs/interop.md: never send an empty piece, even when len(msg) is a
// multiple of the piece size). Split returns an error wrapping ErrLimit if
// maxSize cannot carry one byte of payload or more than [MaxFragments]
// fragments would be needed, and one wrapping ErrMalformed if msg contains
// a comma or is itself a fragment. The caller owns the returned slice.
func Split(msg string, maxSize int, version int, id, sender, receiver uint32) ([]string, error) {
	var hdr int
	switch version {
	case 3:
		hdr = headerLen3
	case 4:
		hdr = headerLen4
	default:
		return nil, fmt.Errorf("fragment: unsupported version %d", version)
	}
	if maxSize <= 0 || len(msg) <= maxSize {
		return []string{msg}, nil
	}
	if strings.HasPrefix(msg, prefix) {
		return nil, fmt.Errorf("%w: cannot fragment a fragment", ErrMalformed)
	}
	if strings.IndexByte(msg, ',') >= 0 {
		return nil, fmt.Errorf("%w: message contains a comma", ErrMalformed)
	}
	room := maxSize - hdr - 1 // the trailing comma
	if room < 1 {
		return nil, fmt.Errorf("%w: maximum size %d leaves no room for payload", ErrLimit, maxSize)
	}
	n := len(msg) / room
	if len(msg)%room != 0 {
		n++
	}
	if n > MaxFragments {
		return nil, fmt.Errorf("%w: message needs %d fragments", ErrLimit, n)
	}
	// Build all fragments in one string and slice it: one allocation.
	ends := make([]int, n)
	buf := make([]byte, 0, n*(hdr+1)+len(msg))
	for i := range n {
		piece := msg[i*room : min((i+1)*room, len(msg))]
		buf = appendFragment(buf, version == 4, id, sender, receiver, uint16(i+1), uint16(n), piece)
		ends[i] = len(buf)
	}
	all := string(buf)
	out := make([]string, n)
	start := 0
	for i, end := range ends {
		out[i] = all[start:end]
		start = end
	}
	return out, nil
}

// appendFragment appends the canonical form
// "?OTR|%08x|%08x[|%08x],%05d,%05d,piece," to b.
func appendFragment(b []byte, v4 bool, id, sender, receiver uint32, k, n uint16, piece string) []byte {
	b = append(b, prefix...)
	if v4 {
		b = appendHex8(b, id)
		b = append(b, '|')
	}
	b = appendHex8(b, sender)
	b = append(b, '|')
	b = appendHex8(b, receiver)
	b = append(b, ',')
	b = appendDec5(b, k)
	b = append(b, ',')
	b = appendDec5(b, n)
	b = append(b, ',')
	b = append(b, piece...)
	return append(b, ',')
}

func appendHex8(b []byte, v uint32) []byte {
	const digits = "0123456789abcdef"
	for shift := 28; shift >= 0; shift -= 4 {
		b = append(b, digits[(v>>shift)&0xf])
	}
	return b
}

func appendDec5(b []byte, v uint16) []byte {
	return append(b,
		byte('0'+v/10000),
		byte('0'+v/1000%10),
		byte('0'+v/100%10),
		byte('0'+v/10%10),
		byte('0'+v%10))
}

// parseHex reads 1 to 8 hex digits (either case) from the start of s.
// docs/interop.md: libotr pads to 8 digits, otr.js does not pad; accept both.
func parseHex(s string) (v uint32, rest string, ok bool) {
	i := 0
	for ; i < len(s); i++ {
		d, isHex := hexValue(s[i])
		if !isHex {
			break
		}
		if i == 8 {
			return 0, s, false
		}
		v = v<<4 | uint32(d)
	}
	if i == 0 {
		return 0, s, false
	}
	return v, s[i:], true
}

func hexValue(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// parseDec reads 1 to 5 decimal digits with a value of at most 65535 from
// the start of s. docs/interop.md: libotr writes %05u, otr.js does not pad;
// accept both. No sign is allowed, and a 16-bit range check replaces the
// wrapping of a %hu conversion (docs/threats.md F2).
func parseDec(s string) (v uint16, rest string, ok bool) {
	var x uint32
	i := 0
	for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
		if i == 5 {
			return 0, s, false
		}
		x = x*10 + uint32(s[i]-'0')
	}
	if i == 0 || x > MaxFragments {
		return 0, s, false
	}
	return uint16(x), s[i:], true
}

func malformed(why string) error {
	return fmt.Errorf("%w: %s", ErrMalformed, why)
}
