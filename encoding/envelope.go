package encoding

import (
	"encoding/base64"
	"strings"
)

// Versions is a set of OTR protocol versions, one bit per version.
type Versions uint8

// The protocol versions a query message or whitespace tag can offer.
const (
	V1 Versions = 1 << 1
	V2 Versions = 1 << 2
	V3 Versions = 1 << 3
	V4 Versions = 1 << 4
)

// Has reports whether v contains protocol version n.
func (v Versions) Has(n int) bool {
	return n >= 1 && n <= 7 && v&(1<<n) != 0
}

// String returns the versions in v as "v3|v4", or "none".
func (v Versions) String() string {
	var parts []string
	for n := 1; n <= 7; n++ {
		if v.Has(n) {
			parts = append(parts, "v"+string(rune('0'+n)))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// Kind says what an incoming message is.
type Kind int

// The kinds of message ParseEnvelope distinguishes.
const (
	// KindPlaintext is a message without OTR meaning, maybe carrying a
	// whitespace tag.
	KindPlaintext Kind = iota
	// KindQuery is an OTR query message.
	KindQuery
	// KindError is an OTR error message.
	KindError
	// KindEncoded is a base64 "?OTR:" encoded protocol message.
	KindEncoded
	// KindFragment is a fragment of a larger message.
	KindFragment
)

// String returns the name of k.
func (k Kind) String() string {
	switch k {
	case KindPlaintext:
		return "plaintext"
	case KindQuery:
		return "query"
	case KindError:
		return "error"
	case KindEncoded:
		return "encoded"
	case KindFragment:
		return "fragment"
	}
	return "unknown"
}

// Envelope is an incoming message classified by ParseEnvelope.
type Envelope struct {
	Kind Kind
	// Versions holds, for KindQuery, the versions offered; for KindPlaintext,
	// the versions in the whitespace tag, 0 if the message has none.
	Versions Versions
	// Text holds, for KindPlaintext, the message with the whitespace tag
	// removed; for KindError, the text after "?OTR Error:" without one leading
	// space; for KindQuery, whatever follows the query string. It is empty for
	// the other kinds.
	Text string
	// Payload holds, for KindEncoded, the base64-decoded bytes between "?OTR:"
	// and ".". It is nil for the other kinds (a fragment is left whole to the
	// fragment package).
	Payload []byte
}

const (
	queryPrefix    = "?OTR"
	encodedPrefix  = "?OTR:"
	errorPrefix    = "?OTR Error:"
	fragmentPrefix = "?OTR|"
	// fragmentPrefixV2 starts an OTR version 2 fragment; it is classified
	// so the caller can reject it cleanly.
	fragmentPrefixV2 = "?OTR,"

	// whitespaceBase starts every whitespace tag (OTR3 spec, "Tagged plaintext
	// messages").
	whitespaceBase = " \t  \t\t\t\t \t \t \t  "
	whitespaceV1   = " \t \t  \t "
	whitespaceV2   = "  \t\t  \t "
	whitespaceV3   = "  \t\t  \t\t"
	// whitespaceV4 is from OTRv4 spec, "Whitespace Tags".
	whitespaceV4 = "  \t\t \t  "
)

// ParseEnvelope classifies an incoming message. It never panics; an error
// (wrapping ErrMalformed) means the message is an encoded message whose
// base64 is invalid or whose terminating "." is missing.
//
// The checks, in order: a message starting with "?OTR|" or "?OTR," is a
// fragment; one starting with "?OTR Error:" is an error message; one
// containing "?OTR:" is an encoded message; one containing "?OTR?" or "?OTRv"
// is a query; otherwise it is plaintext, maybe with a whitespace tag anywhere
// in it.
func ParseEnvelope(msg string) (Envelope, error) {
	switch {
	case strings.HasPrefix(msg, fragmentPrefix), strings.HasPrefix(msg, fragmentPrefixV2):
		return Envelope{Kind: KindFragment}, nil
	case strings.HasPrefix(msg, errorPrefix):
		// Only at the start: OTRv4 spec, "OTR Error Messages", forbids
		// embedding it in another message, although the OTR3 spec allows it.
		text := strings.TrimPrefix(msg[len(errorPrefix):], " ")
		return Envelope{Kind: KindError, Text: text}, nil
	}
	// Leniency for libotr, which looks for "?OTR:" anywhere in the message and
	// ignores the text around it (some transports wrap messages in markup).
	if i := strings.Index(msg, encodedPrefix); i >= 0 {
		return parseEncoded(msg[i+len(encodedPrefix):])
	}
	if env, ok := parseQuery(msg); ok {
		return env, nil
	}
	text, versions := stripWhitespaceTag(msg)
	return Envelope{Kind: KindPlaintext, Versions: versions, Text: text}, nil
}

func parseEncoded(rest string) (Envelope, error) {
	end := strings.IndexByte(rest, '.')
	if end < 0 {
		return Envelope{}, malformed("encoded message without terminating '.'")
	}
	payload, err := base64.StdEncoding.Strict().DecodeString(rest[:end])
	if err != nil {
		return Envelope{}, malformed("invalid base64 in encoded message")
	}
	return Envelope{Kind: KindEncoded, Payload: payload}, nil
}

// parseQuery finds the first query string in msg: "?OTR" followed by "?"
// (version 1), "v" and a version list ending in "?", or both (OTR3 spec, "OTR
// Query Messages"). Unknown version identifiers are ignored. A version list
// without its closing "?" offers nothing.
func parseQuery(msg string) (Envelope, bool) {
	for off := 0; ; {
		i := strings.Index(msg[off:], queryPrefix)
		if i < 0 {
			return Envelope{}, false
		}
		rest := msg[off+i+len(queryPrefix):]
		if !strings.HasPrefix(rest, "?") && !strings.HasPrefix(rest, "v") {
			off += i + len(queryPrefix)
			continue
		}
		var v Versions
		if rest[0] == '?' {
			v |= V1
			rest = rest[1:]
		}
		if strings.HasPrefix(rest, "v") {
			end := strings.IndexByte(rest, '?')
			if end < 0 {
				return Envelope{Kind: KindQuery, Versions: v, Text: rest[1:]}, true
			}
			for _, c := range []byte(rest[1:end]) {
				switch c {
				case '2':
					v |= V2
				case '3':
					v |= V3
				case '4':
					v |= V4
				}
			}
			rest = rest[end+1:]
		}
		return Envelope{Kind: KindQuery, Versions: v, Text: rest}, true
	}
}

// stripWhitespaceTag removes the first whitespace tag from msg: the base tag
// and the 8-byte groups of spaces and tabs that follow it, whether or not they
// name a known version.
func stripWhitespaceTag(msg string) (string, Versions) {
	start := strings.Index(msg, whitespaceBase)
	if start < 0 {
		return msg, 0
	}
	var v Versions
	end := start + len(whitespaceBase)
	for end+8 <= len(msg) && isTagGroup(msg[end:end+8]) {
		switch msg[end : end+8] {
		case whitespaceV1:
			v |= V1
		case whitespaceV2:
			v |= V2
		case whitespaceV3:
			v |= V3
		case whitespaceV4:
			v |= V4
		}
		end += 8
	}
	return msg[:start] + msg[end:], v
}

func isTagGroup(s string) bool {
	for _, c := range []byte(s) {
		if c != ' ' && c != '\t' {
			return false
		}
	}
	return true
}

// QueryMessage returns a query message offering the versions 3 and 4 that are
// in v (others are not advertised: this library speaks only those), ascending
// as libotr writes them, e.g. "?OTRv34?". A non-empty text, an explanation
// for users without OTR, follows on a new line.
func QueryMessage(v Versions, text string) string {
	var sb strings.Builder
	sb.WriteString("?OTRv")
	if v&V3 != 0 {
		sb.WriteByte('3')
	}
	if v&V4 != 0 {
		sb.WriteByte('4')
	}
	sb.WriteByte('?')
	if text != "" {
		sb.WriteByte('\n')
		sb.WriteString(text)
	}
	return sb.String()
}

// WhitespaceTag returns the whitespace tag offering the versions 3 and 4 that
// are in v, to be appended to a plaintext message. It returns "" if v holds
// neither.
func WhitespaceTag(v Versions) string {
	if v&(V3|V4) == 0 {
		return ""
	}
	tag := whitespaceBase
	if v&V3 != 0 {
		tag += whitespaceV3
	}
	if v&V4 != 0 {
		tag += whitespaceV4
	}
	return tag
}

// ErrorMessage returns the OTR error message carrying text.
func ErrorMessage(text string) string {
	return errorPrefix + " " + text
}

// EncodeMessage returns payload as an encoded message: "?OTR:", the standard
// base64 encoding of payload, and ".".
func EncodeMessage(payload []byte) string {
	// One allocation: base64 straight into the result's buffer.
	var sb strings.Builder
	sb.Grow(len(encodedPrefix) + base64.StdEncoding.EncodedLen(len(payload)) + 1)
	sb.WriteString(encodedPrefix)
	var chunk [3 * 256]byte
	var out [4 * 256]byte
	for len(payload) > 0 {
		n := copy(chunk[:], payload)
		payload = payload[n:]
		base64.StdEncoding.Encode(out[:], chunk[:n])
		sb.Write(out[:base64.StdEncoding.EncodedLen(n)])
	}
	sb.WriteByte('.')
	return sb.String()
}
