package libotr

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// The S-expression reader accepts the advanced and canonical transport
// syntaxes that libgcrypt's gcry_sexp_new reads (libotr reads
// otr.private_key with it): tokens, "quoted strings" with C-like escapes,
// #hex#, |base64|, and length-prefixed values (3:abc, 3"abc", 3#616263#,
// 4|YWJj|). It is stricter than libgcrypt: a length prefix must match the
// value, base64 must be canonical, and display hints ([...]) and anything
// after the outer list are rejected.

const (
	// maxSexpDepth bounds nesting; a key file needs 4 levels.
	maxSexpDepth = 8
	// maxSexpElements bounds the number of lists and values; an account
	// takes 27.
	maxSexpElements = 1 << 16
)

// tokenSpecials are the non-alphanumeric characters of a token (libgcrypt's
// TOKEN_SPECIALS).
const tokenSpecials = "-./_:*+="

// sexp is a list or a value (libgcrypt makes no difference between a token,
// a string and hex: all are data).
type sexp struct {
	isList bool
	list   []sexp
	data   []byte
}

// wipe clears every value, the key's secret among them.
func (s *sexp) wipe() {
	clear(s.data)
	for i := range s.list {
		s.list[i].wipe()
	}
}

// isToken reports whether s is the value tok.
func (s *sexp) isToken(tok string) bool {
	return !s.isList && string(s.data) == tok
}

type sexpParser struct {
	in    []byte
	pos   int
	elems int
}

func sexpErr(pos int, format string, args ...any) error {
	return fmt.Errorf("%w: offset %d: "+format, append([]any{ErrMalformed, pos}, args...)...)
}

// parseSexp parses in, which must hold one list and optional white space
// around it. The values of the result are copies: in may be wiped.
func parseSexp(in []byte) (sexp, error) {
	p := &sexpParser{in: in}
	p.skipSpace()
	if p.pos >= len(in) || in[p.pos] != '(' {
		return sexp{}, sexpErr(p.pos, "expected an S-expression list")
	}
	s, err := p.parseList(1)
	if err != nil {
		return sexp{}, err
	}
	p.skipSpace()
	if p.pos != len(in) {
		s.wipe()
		return sexp{}, sexpErr(p.pos, "trailing data after the S-expression")
	}
	return s, nil
}

func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\v', '\f', '\r', '\n':
		return true
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isTokenChar(c byte) bool {
	return isAlpha(c) || isDigit(c) || strings.IndexByte(tokenSpecials, c) >= 0
}

func hexValue(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func (p *sexpParser) skipSpace() {
	for p.pos < len(p.in) && isSpace(p.in[p.pos]) {
		p.pos++
	}
}

func (p *sexpParser) count() error {
	p.elems++
	if p.elems > maxSexpElements {
		return sexpErr(p.pos, "too many elements")
	}
	return nil
}

// parseList parses a list starting at the '(' at p.pos.
func (p *sexpParser) parseList(depth int) (s sexp, err error) {
	if depth > maxSexpDepth {
		return sexp{}, sexpErr(p.pos, "nested too deeply")
	}
	if err := p.count(); err != nil {
		return sexp{}, err
	}
	s.isList = true
	defer func() {
		if err != nil {
			s.wipe()
			s = sexp{}
		}
	}()
	p.pos++ // '('
	for {
		p.skipSpace()
		if p.pos >= len(p.in) {
			return s, sexpErr(p.pos, "unbalanced parentheses")
		}
		var e sexp
		switch c := p.in[p.pos]; c {
		case ')':
			p.pos++
			return s, nil
		case '(':
			e, err = p.parseList(depth + 1)
		default:
			e, err = p.parseValue()
		}
		if err != nil {
			return s, err
		}
		s.list = append(s.list, e)
	}
}

// parseValue parses a token, string, hex or base64 value, possibly with a
// length prefix.
func (p *sexpParser) parseValue() (sexp, error) {
	if err := p.count(); err != nil {
		return sexp{}, err
	}
	start := p.pos
	c := p.in[p.pos]
	length := -1
	if isDigit(c) {
		if c == '0' {
			return sexp{}, sexpErr(p.pos, "length with a leading zero")
		}
		length = 0
		for p.pos < len(p.in) && isDigit(p.in[p.pos]) {
			length = length*10 + int(p.in[p.pos]-'0')
			if length > len(p.in) {
				return sexp{}, sexpErr(start, "length beyond the end of input")
			}
			p.pos++
		}
		if p.pos >= len(p.in) {
			return sexp{}, sexpErr(p.pos, "unexpected end after a length")
		}
		c = p.in[p.pos]
		if c == ':' {
			p.pos++
			if length > len(p.in)-p.pos {
				return sexp{}, sexpErr(start, "length beyond the end of input")
			}
			v := append([]byte(nil), p.in[p.pos:p.pos+length]...)
			p.pos += length
			return sexp{data: v}, nil
		}
	}
	var v []byte
	var err error
	switch {
	case c == '"':
		v, err = p.parseQuoted()
	case c == '#':
		v, err = p.parseHex()
	case c == '|':
		v, err = p.parseBase64()
	case length < 0 && isTokenChar(c):
		for p.pos < len(p.in) && isTokenChar(p.in[p.pos]) {
			p.pos++
		}
		v = append([]byte(nil), p.in[start:p.pos]...)
	default:
		// Display hints ([...]), braces and other characters.
		return sexp{}, sexpErr(p.pos, "unexpected character %q", c)
	}
	if err != nil {
		return sexp{}, err
	}
	if length >= 0 && len(v) != length {
		clear(v)
		return sexp{}, sexpErr(start, "length prefix %d for a %d-byte value", length, len(v))
	}
	return sexp{data: v}, nil
}

// parseQuoted parses a string starting at the '"' at p.pos.
func (p *sexpParser) parseQuoted() ([]byte, error) {
	start := p.pos
	p.pos++
	// The value is no longer than its quoted form: allocating that once
	// leaves no stray copy of a secret behind a growing slice.
	end := p.pos
	for end < len(p.in) && p.in[end] != '"' {
		if p.in[end] == '\\' {
			end++
		}
		end++
	}
	v := make([]byte, 0, min(end, len(p.in))-p.pos)
	for {
		if p.pos >= len(p.in) {
			clear(v)
			return nil, sexpErr(start, "unterminated string")
		}
		c := p.in[p.pos]
		p.pos++
		switch c {
		case '"':
			return v, nil
		case '\\':
		default:
			v = append(v, c)
			continue
		}
		if p.pos >= len(p.in) {
			clear(v)
			return nil, sexpErr(start, "unterminated string")
		}
		e := p.in[p.pos]
		p.pos++
		switch e {
		case 'b':
			v = append(v, '\b')
		case 't':
			v = append(v, '\t')
		case 'v':
			v = append(v, '\v')
		case 'n':
			v = append(v, '\n')
		case 'f':
			v = append(v, '\f')
		case 'r':
			v = append(v, '\r')
		case '"', '\'', '\\':
			v = append(v, e)
		case '\r', '\n':
			// A line continuation: \ then CR, LF, CR LF or LF CR.
			if p.pos < len(p.in) && p.in[p.pos] != e && (p.in[p.pos] == '\r' || p.in[p.pos] == '\n') {
				p.pos++
			}
		case 'x':
			if p.pos+2 > len(p.in) {
				clear(v)
				return nil, sexpErr(p.pos, "bad \\x escape")
			}
			hi, ok1 := hexValue(p.in[p.pos])
			lo, ok2 := hexValue(p.in[p.pos+1])
			if !ok1 || !ok2 {
				clear(v)
				return nil, sexpErr(p.pos, "bad \\x escape")
			}
			v = append(v, hi<<4|lo)
			p.pos += 2
		default:
			if e < '0' || e > '3' || p.pos+2 > len(p.in) ||
				p.in[p.pos] < '0' || p.in[p.pos] > '7' || p.in[p.pos+1] < '0' || p.in[p.pos+1] > '7' {
				clear(v)
				return nil, sexpErr(p.pos-1, "bad escape in string")
			}
			v = append(v, (e-'0')<<6|(p.in[p.pos]-'0')<<3|(p.in[p.pos+1]-'0'))
			p.pos += 2
		}
	}
}

// parseHex parses #hex# starting at the '#' at p.pos; white space may
// separate the digits.
func (p *sexpParser) parseHex() ([]byte, error) {
	start := p.pos
	p.pos++
	end := p.pos
	for end < len(p.in) && p.in[end] != '#' {
		end++
	}
	v := make([]byte, 0, (end-p.pos)/2) // allocated once, as in parseQuoted
	var hi byte
	half := false
	for {
		if p.pos >= len(p.in) {
			clear(v)
			return nil, sexpErr(start, "unterminated hex value")
		}
		c := p.in[p.pos]
		p.pos++
		if c == '#' {
			break
		}
		if isSpace(c) {
			continue
		}
		n, ok := hexValue(c)
		if !ok {
			clear(v)
			return nil, sexpErr(p.pos-1, "bad character in hex value")
		}
		if half {
			v = append(v, hi<<4|n)
		} else {
			hi = n
		}
		half = !half
	}
	if half {
		clear(v)
		return nil, sexpErr(start, "odd number of hex digits")
	}
	return v, nil
}

// parseBase64 parses |base64| starting at the '|' at p.pos: standard
// alphabet, canonical, padded or not, no white space, not empty (libgcrypt
// rejects || and white space, and is sloppier about the rest).
func (p *sexpParser) parseBase64() ([]byte, error) {
	start := p.pos
	p.pos++
	end := p.pos
	for end < len(p.in) && p.in[end] != '|' {
		end++
	}
	if end >= len(p.in) {
		return nil, sexpErr(start, "unterminated base64 value")
	}
	text := p.in[p.pos:end]
	p.pos = end + 1
	if len(text) == 0 {
		return nil, sexpErr(start, "empty base64 value")
	}
	enc := base64.RawStdEncoding.Strict()
	if text[len(text)-1] == '=' {
		enc = base64.StdEncoding.Strict()
	}
	v := make([]byte, enc.DecodedLen(len(text)))
	n, err := enc.Decode(v, text)
	if err != nil {
		clear(v)
		return nil, sexpErr(start, "bad base64 value")
	}
	return v[:n], nil
}

// appendSexpValue appends v the way libgcrypt's gcry_sexp_sprint writes a
// value in GCRYSEXP_FMT_ADVANCED (libotr writes otr.private_key so): as a
// token when it can be one, else as a string when it is printable, else
// as upper-case #hex#.
func appendSexpValue(b, v []byte) []byte {
	switch valueEncoding(v) {
	case encToken:
		return append(b, v...)
	case encString:
		b = append(b, '"')
		for _, c := range v {
			switch c {
			case '\b':
				b = append(b, '\\', 'b')
			case '\t':
				b = append(b, '\\', 't')
			case '\v':
				b = append(b, '\\', 'v')
			case '\n':
				b = append(b, '\\', 'n')
			case '\f':
				b = append(b, '\\', 'f')
			case '\r':
				b = append(b, '\\', 'r')
			case '"', '\'', '\\':
				b = append(b, '\\', c)
			default:
				b = append(b, c)
			}
		}
		return append(b, '"')
	default:
		const digits = "0123456789ABCDEF"
		b = append(b, '#')
		for _, c := range v {
			b = append(b, digits[c>>4], digits[c&15])
		}
		return append(b, '#')
	}
}

const (
	encHex = iota
	encString
	encToken
)

// valueEncoding chooses as libgcrypt's suitable_encoding does: a leading
// zero byte or set top bit (a signed number), or a control character other
// than the C escapes, or a byte in 0x7F..0xA0, makes hex; a value of token
// characters not starting with a digit makes a token.
func valueEncoding(v []byte) int {
	if len(v) == 0 {
		return encString
	}
	if v[0] == 0 || v[0]&0x80 != 0 {
		return encHex
	}
	token := true
	for _, c := range v {
		if (c < 0x20 || c >= 0x7f && c <= 0xa0) && strings.IndexByte("\b\t\v\n\f\r\"'\\", c) < 0 {
			return encHex
		}
		if token && !isAlpha(c) && !isDigit(c) && strings.IndexByte(tokenSpecials, c) < 0 {
			token = false
		}
	}
	if token && !isDigit(v[0]) {
		return encToken
	}
	return encString
}
