package libotr

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/otrgo/otr"
)

// Trust values that libotr clients store. libotr itself trusts a
// fingerprint whose trust is any non-empty string.
const (
	// TrustVerified is set by a user who compared the fingerprint
	// (Pidgin's "verified").
	TrustVerified = "verified"
	// TrustSMP is set after a successful Socialist Millionaires' Protocol.
	TrustSMP = "smp"
)

// Fingerprint is one line of libotr's otr.fingerprints file: a contact's
// known OTR3 fingerprint, seen from one of our accounts.
type Fingerprint struct {
	// Username is the contact, e.g. "bob@example.com".
	Username string
	// Account is our account name, e.g. "alice@example.org".
	Account string
	// Protocol is the client's protocol identifier, e.g. "prpl-jabber".
	Protocol string
	// Fingerprint is the contact's 20-byte DSA key fingerprint.
	Fingerprint otr.Fingerprint
	// Trust is empty for an unverified fingerprint, else TrustVerified,
	// TrustSMP or another client's word. [TrustFromWord] and
	// [WordFromTrust] convert it from and to an [otr.Trust].
	Trust string
}

// Trusted reports whether libotr considers the fingerprint trusted: its
// trust is not empty.
func (f Fingerprint) Trusted() bool { return f.Trust != "" }

// ReadFingerprints reads libotr's otr.fingerprints file from r: lines
// "username\taccount\tprotocol\t40 hex digits\ttrust", the trust field
// possibly empty or, with its tab, absent. It returns the entries in file
// order; the caller owns the slice. An error wraps [ErrMalformed] for a
// line libotr would not have written (libotr skips it silently): an empty
// field, a fingerprint of other than 40 hex digits, a repeated
// fingerprint, a line of more than 999 bytes.
func ReadFingerprints(r io.Reader) ([]Fingerprint, error) {
	var fps []Fingerprint
	seen := make(map[[4]string]bool)
	err := readLines(r, func(n int, line []byte) error {
		fields := bytes.Split(line, []byte{'\t'})
		if len(fields) != 4 && len(fields) != 5 {
			return fmt.Errorf("%w: line %d: %d fields, want 4 or 5", ErrMalformed, n, len(fields))
		}
		f := Fingerprint{
			Username: string(fields[0]),
			Account:  string(fields[1]),
			Protocol: string(fields[2]),
		}
		if len(fields) == 5 {
			f.Trust = string(fields[4])
		}
		// libotr reads upper-case hex digits too.
		fp := make([]byte, 20)
		if len(fields[3]) != 40 {
			return fmt.Errorf("%w: line %d: fingerprint is not 40 hex digits", ErrMalformed, n)
		}
		if _, err := hex.Decode(fp, fields[3]); err != nil {
			return fmt.Errorf("%w: line %d: fingerprint is not 40 hex digits", ErrMalformed, n)
		}
		f.Fingerprint = fp
		if err := f.check(); err != nil {
			return fmt.Errorf("%w: line %d: %w", ErrMalformed, n, err)
		}
		id := [4]string{f.Username, f.Account, f.Protocol, string(fp)}
		if seen[id] {
			return fmt.Errorf("%w: line %d: repeated fingerprint", ErrMalformed, n)
		}
		seen[id] = true
		fps = append(fps, f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return fps, nil
}

func (f *Fingerprint) check() error {
	if err := checkField(f.Username, false); err != nil {
		return fmt.Errorf("username %w", err)
	}
	if err := checkField(f.Account, false); err != nil {
		return fmt.Errorf("account %w", err)
	}
	if err := checkField(f.Protocol, false); err != nil {
		return fmt.Errorf("protocol %w", err)
	}
	if err := checkField(f.Trust, true); err != nil {
		return fmt.Errorf("trust %w", err)
	}
	if len(f.Fingerprint) != 20 {
		return fmt.Errorf("fingerprint of %d bytes, want 20", len(f.Fingerprint))
	}
	return nil
}

// WriteFingerprints writes fps to w as libotr writes otr.fingerprints:
// one line each, in order, lower-case hex, the trust field always present.
// Fields must not be empty (trust may) nor contain tabs, line ends or NUL
// bytes, fingerprints must be 20 bytes, lines at most 999 bytes, and no
// fingerprint may repeat for the same username, account and protocol;
// otherwise nothing is written.
func WriteFingerprints(w io.Writer, fps []Fingerprint) error {
	var b []byte
	seen := make(map[[4]string]bool)
	for i, f := range fps {
		if err := f.check(); err != nil {
			return fmt.Errorf("libotr: fingerprint %d: %w", i, err)
		}
		id := [4]string{f.Username, f.Account, f.Protocol, string(f.Fingerprint)}
		if seen[id] {
			return fmt.Errorf("libotr: fingerprint %d: repeated", i)
		}
		seen[id] = true
		start := len(b)
		b = append(b, f.Username...)
		b = append(b, '\t')
		b = append(b, f.Account...)
		b = append(b, '\t')
		b = append(b, f.Protocol...)
		b = append(b, '\t')
		b = hex.AppendEncode(b, f.Fingerprint)
		b = append(b, '\t')
		b = append(b, f.Trust...)
		b = append(b, '\n')
		if len(b)-start > maxLine {
			return fmt.Errorf("libotr: fingerprint %d: line longer than %d bytes", i, maxLine)
		}
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("libotr: writing fingerprints: %w", err)
	}
	return nil
}
