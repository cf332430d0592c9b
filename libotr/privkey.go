package libotr

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/otrgo/otr"
)

// maxPrivateKeyFileSize bounds otr.private_key: an account takes about
// 1.2 KiB, so this is room for hundreds.
const maxPrivateKeyFileSize = 1 << 20

// PrivateKey is one account's entry of libotr's otr.private_key file.
type PrivateKey struct {
	// Account is the account name, e.g. "alice@example.org".
	Account string
	// Protocol is the client's protocol identifier, e.g. Pidgin's
	// "prpl-jabber".
	Protocol string
	// Keys holds the account's DSA key; the other keys are unset.
	Keys *otr.PrivateKeys
}

// ReadPrivateKeys reads libotr's otr.private_key file from r: an
// S-expression (privkeys (account (name N) (protocol P) (private-key (dsa
// (p P) (q Q) (g G) (y Y) (x X))))...) in the syntax libgcrypt reads. Every
// key is validated. It reads at most 1 MiB.
//
// The result is in file order, owned by the caller, and holds secrets:
// wipe the keys when done. An error wraps [ErrMalformed] when the file is
// not a valid key file, and no keys are returned.
func ReadPrivateKeys(r io.Reader) ([]PrivateKey, error) {
	buf, err := io.ReadAll(io.LimitReader(r, maxPrivateKeyFileSize+1))
	defer clear(buf)
	if err != nil {
		return nil, fmt.Errorf("libotr: reading private keys: %w", err)
	}
	if len(buf) > maxPrivateKeyFileSize {
		return nil, fmt.Errorf("%w: private key file larger than %d bytes", ErrMalformed, maxPrivateKeyFileSize)
	}
	top, err := parseSexp(buf)
	if err != nil {
		return nil, err
	}
	defer top.wipe()
	if len(top.list) == 0 || !top.list[0].isToken("privkeys") {
		return nil, fmt.Errorf("%w: not a privkeys S-expression", ErrMalformed)
	}
	var keys []PrivateKey
	seen := make(map[[2]string]bool)
	for i := range top.list[1:] {
		k, err := parseAccount(&top.list[1+i])
		if err != nil {
			wipeKeys(keys)
			return nil, fmt.Errorf("%w: account %d: %w", ErrMalformed, i+1, err)
		}
		id := [2]string{k.Account, k.Protocol}
		if seen[id] {
			k.Keys.Wipe()
			wipeKeys(keys)
			return nil, fmt.Errorf("%w: account %d: duplicate account and protocol", ErrMalformed, i+1)
		}
		seen[id] = true
		keys = append(keys, k)
	}
	return keys, nil
}

func wipeKeys(keys []PrivateKey) {
	for _, k := range keys {
		k.Keys.Wipe()
	}
}

// parseAccount parses (account (name N) (protocol P) (private-key ...)).
// Like libotr, which looks the three up by name, it takes them in any
// order; unlike libotr, it rejects anything else.
func parseAccount(s *sexp) (PrivateKey, error) {
	if !s.isList || len(s.list) == 0 || !s.list[0].isToken("account") {
		return PrivateKey{}, errors.New("not an account S-expression")
	}
	var name, proto, priv *sexp
	for i := range s.list[1:] {
		e := &s.list[1+i]
		if !e.isList || len(e.list) == 0 || e.list[0].isList {
			return PrivateKey{}, errors.New("unexpected element")
		}
		var dst **sexp
		switch string(e.list[0].data) {
		case "name":
			dst = &name
		case "protocol":
			dst = &proto
		case "private-key":
			dst = &priv
		default:
			return PrivateKey{}, errors.New("unexpected element")
		}
		if *dst != nil {
			return PrivateKey{}, fmt.Errorf("duplicate %s", e.list[0].data)
		}
		*dst = e
	}
	if name == nil || proto == nil || priv == nil {
		return PrivateKey{}, errors.New("missing name, protocol or private-key")
	}
	account, err := stringField(name)
	if err != nil {
		return PrivateKey{}, err
	}
	protocol, err := stringField(proto)
	if err != nil {
		return PrivateKey{}, err
	}
	keys, err := parseDSA(priv)
	if err != nil {
		return PrivateKey{}, err
	}
	return PrivateKey{Account: account, Protocol: protocol, Keys: keys}, nil
}

// stringField returns the value of (label value).
func stringField(s *sexp) (string, error) {
	if len(s.list) != 2 || s.list[1].isList {
		return "", fmt.Errorf("bad %s", s.list[0].data)
	}
	v := string(s.list[1].data)
	if err := checkName(v); err != nil {
		return "", fmt.Errorf("bad %s: %w", s.list[0].data, err)
	}
	return v, nil
}

// checkName rejects what libotr, which keeps names as C strings, cannot
// hold, and empty names.
func checkName(v string) error {
	if v == "" {
		return errors.New("empty")
	}
	if strings.IndexByte(v, 0) >= 0 {
		return errors.New("contains a NUL byte")
	}
	return nil
}

// dsaNames are the key's values in the order libgcrypt writes them.
var dsaNames = [5]string{"p", "q", "g", "y", "x"}

// parseDSA parses (private-key (dsa (p P) (q Q) (g G) (y Y) (x X))), the
// values in any order. libotr reads the values as unsigned big-endian
// numbers (GCRYMPI_FMT_USG); a leading zero byte, which libgcrypt writes
// before a set top bit, is accepted.
func parseDSA(s *sexp) (*otr.PrivateKeys, error) {
	if len(s.list) != 2 || !s.list[1].isList {
		return nil, errors.New("bad private-key")
	}
	d := &s.list[1]
	if len(d.list) != 1+len(dsaNames) || !d.list[0].isToken("dsa") {
		return nil, errors.New("not a DSA private key")
	}
	var vals [len(dsaNames)][]byte
	for i := range d.list[1:] {
		e := &d.list[1+i]
		if !e.isList || len(e.list) != 2 || e.list[0].isList || e.list[1].isList {
			return nil, errors.New("bad DSA key value")
		}
		j := 0
		for j < len(dsaNames) && string(e.list[0].data) != dsaNames[j] {
			j++
		}
		if j == len(dsaNames) || vals[j] != nil {
			return nil, errors.New("bad DSA key value")
		}
		vals[j] = e.list[1].data
	}
	keys, err := otr.NewDSAKeys(vals[0], vals[1], vals[2], vals[3], vals[4])
	if err != nil {
		return nil, fmt.Errorf("invalid DSA key: %w", err)
	}
	return keys, nil
}

// WritePrivateKeys writes keys to w as libotr writes otr.private_key, byte
// for byte: libgcrypt's advanced S-expression format, the account name
// quoted when it is not a token, the key values in upper-case hex with a
// zero byte before a set top bit. Accounts must have a non-empty name and
// protocol without NUL bytes, DSA keys, and no (account, protocol) pair may
// repeat; otherwise nothing is written.
func WritePrivateKeys(w io.Writer, keys []PrivateKey) error {
	seen := make(map[[2]string]bool)
	vals := make([][5][]byte, len(keys))
	defer func() {
		for _, v := range vals {
			clear(v[4])
		}
	}()
	// Values are at most doubled (hex or escapes) plus their delimiters;
	// a buffer that never grows leaves no stray copy of a secret.
	size := len("(privkeys\n)\n")
	for i, k := range keys {
		if err := checkName(k.Account); err != nil {
			return fmt.Errorf("libotr: key %d: account name: %w", i, err)
		}
		if err := checkName(k.Protocol); err != nil {
			return fmt.Errorf("libotr: key %d: protocol: %w", i, err)
		}
		if k.Keys == nil {
			return fmt.Errorf("libotr: key %d: no keys", i)
		}
		id := [2]string{k.Account, k.Protocol}
		if seen[id] {
			return fmt.Errorf("libotr: key %d: duplicate account and protocol", i)
		}
		seen[id] = true
		// DSAValues panics on keys without DSA; MarshalBinary tells.
		m, err := k.Keys.MarshalBinary()
		clear(m)
		if err != nil {
			return fmt.Errorf("libotr: key %d: no DSA key", i)
		}
		p, q, g, y, x := k.Keys.DSAValues()
		vals[i] = [5][]byte{p, q, g, y, x}
		if len(x) == 0 {
			return fmt.Errorf("libotr: key %d: no DSA key", i)
		}
		size += 128 + 2*len(k.Account) + 2*len(k.Protocol)
		for _, v := range vals[i] {
			size += 16 + 2*len(v)
		}
	}
	b := make([]byte, 0, size)
	defer func() { clear(b) }()
	b = append(b, "(privkeys\n"...)
	for i, k := range keys {
		// The layout is libotr's account_write around gcry_sexp_sprint.
		b = append(b, " (account\n(name "...)
		b = appendSexpValue(b, []byte(k.Account))
		b = append(b, ")\n(protocol "...)
		b = appendSexpValue(b, []byte(k.Protocol))
		b = append(b, ")\n(private-key \n (dsa \n"...)
		for j, v := range vals[i] {
			b = append(b, "  ("...)
			b = append(b, dsaNames[j]...)
			b = append(b, ' ')
			b = appendMPI(b, v)
			b = append(b, ")\n"...)
		}
		b = append(b, "  )\n )\n )\n"...)
	}
	b = append(b, ")\n"...)
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("libotr: writing private keys: %w", err)
	}
	return nil
}

// appendMPI appends the minimal big-endian v as libgcrypt prints a key
// value: in its signed format (GCRYMPI_FMT_STD), which adds a zero byte
// before a set top bit.
func appendMPI(b, v []byte) []byte {
	if len(v) > 0 && v[0]&0x80 != 0 {
		std := make([]byte, 1+len(v))
		copy(std[1:], v)
		b = appendSexpValue(b, std)
		clear(std)
		return b
	}
	return appendSexpValue(b, v)
}
