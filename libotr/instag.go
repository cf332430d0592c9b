package libotr

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
)

// minInstanceTag is the smallest valid instance tag (OTR3 spec, "Instance
// Tags"; libotr's OTRL_MIN_VALID_INSTAG).
const minInstanceTag = 0x100

// instagWarning is the comment libotr writes first in otr.instance_tags.
const instagWarning = "# WARNING! You shouldn't copy this file to another computer. It is unnecessary and can cause problems.\n"

// InstanceTag is one line of libotr's otr.instance_tags file: the OTR3
// instance tag of one of our accounts.
type InstanceTag struct {
	// Account is the account name, e.g. "alice@example.org".
	Account string
	// Protocol is the client's protocol identifier, e.g. "prpl-jabber".
	Protocol string
	// Tag is the instance tag, at least 0x100.
	Tag uint32
}

// ReadInstanceTags reads libotr's otr.instance_tags file from r: lines
// "account\tprotocol\t8 hex digits"; lines starting with '#' are comments.
// It returns the entries in file order; the caller owns the slice. An error
// wraps [ErrMalformed] for a line libotr would not have written (libotr
// skips it silently): an empty field, a tag of other than 8 hex digits or
// below 0x100, a repeated account and protocol, a line of more than 999
// bytes.
func ReadInstanceTags(r io.Reader) ([]InstanceTag, error) {
	var tags []InstanceTag
	seen := make(map[[2]string]bool)
	err := readLines(r, func(n int, line []byte) error {
		if len(line) > 0 && line[0] == '#' {
			return nil
		}
		fields := bytes.Split(line, []byte{'\t'})
		if len(fields) != 3 {
			return fmt.Errorf("%w: line %d: %d fields, want 3", ErrMalformed, n, len(fields))
		}
		t := InstanceTag{Account: string(fields[0]), Protocol: string(fields[1])}
		if len(fields[2]) != 8 || !isHex(fields[2]) {
			return fmt.Errorf("%w: line %d: tag is not 8 hex digits", ErrMalformed, n)
		}
		v, err := strconv.ParseUint(string(fields[2]), 16, 32)
		if err != nil {
			return fmt.Errorf("%w: line %d: tag is not 8 hex digits", ErrMalformed, n)
		}
		t.Tag = uint32(v)
		if err := t.check(); err != nil {
			return fmt.Errorf("%w: line %d: %w", ErrMalformed, n, err)
		}
		id := [2]string{t.Account, t.Protocol}
		if seen[id] {
			return fmt.Errorf("%w: line %d: repeated account and protocol", ErrMalformed, n)
		}
		seen[id] = true
		tags = append(tags, t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return tags, nil
}

func isHex(b []byte) bool {
	for _, c := range b {
		if _, ok := hexValue(c); !ok {
			return false
		}
	}
	return true
}

func (t *InstanceTag) check() error {
	if err := checkField(t.Account, false); err != nil {
		return fmt.Errorf("account %w", err)
	}
	if t.Account[0] == '#' {
		// libotr would read it, but it reads as a comment here.
		return fmt.Errorf("account starts with '#'")
	}
	if err := checkField(t.Protocol, false); err != nil {
		return fmt.Errorf("protocol %w", err)
	}
	if t.Tag < minInstanceTag {
		return fmt.Errorf("instance tag %#x below 0x100", t.Tag)
	}
	return nil
}

// WriteInstanceTags writes tags to w as libotr writes otr.instance_tags:
// its warning comment, then one line each, in order, the tag as 8
// lower-case hex digits. Fields must not be empty nor contain tabs, line
// ends or NUL bytes, an account must not start with '#', tags must be at
// least 0x100, lines at most 999 bytes, and no account and protocol may
// repeat; otherwise nothing is written.
func WriteInstanceTags(w io.Writer, tags []InstanceTag) error {
	b := []byte(instagWarning)
	seen := make(map[[2]string]bool)
	for i, t := range tags {
		if err := t.check(); err != nil {
			return fmt.Errorf("libotr: instance tag %d: %w", i, err)
		}
		id := [2]string{t.Account, t.Protocol}
		if seen[id] {
			return fmt.Errorf("libotr: instance tag %d: repeated account and protocol", i)
		}
		seen[id] = true
		start := len(b)
		b = fmt.Appendf(b, "%s\t%s\t%08x\n", t.Account, t.Protocol, t.Tag)
		if len(b)-start > maxLine {
			return fmt.Errorf("libotr: instance tag %d: line longer than %d bytes", i, maxLine)
		}
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("libotr: writing instance tags: %w", err)
	}
	return nil
}
