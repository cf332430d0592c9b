package filehost

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/otrgo/otr"
)

// fileFormat is the "format" member of every JSON file.
const fileFormat = 1

// testHookBeforeRename, if set (by tests), runs after a new file's
// content is written and synced and before it is renamed into place; an
// error stops the write there, leaving the temporary file as a crash
// would.
var testHookBeforeRename func(tmp string) error

// writeFile replaces the directory's file name with data atomically: a
// temporary file in dir (mode 0600), synced, renamed over name, then dir
// synced.
func writeFile(dir, name string, data []byte) error {
	tmp, err := writeTemp(dir, name, data)
	if err != nil {
		return err
	}
	if testHookBeforeRename != nil {
		if err := testHookBeforeRename(tmp); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("filehost: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("filehost: syncing %s: %w", dir, err)
	}
	return nil
}

// writeTemp writes data to a new temporary file in dir named after name,
// syncs and closes it, and returns its path.
func writeTemp(dir, name string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("filehost: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("filehost: writing %s: %w", filepath.Join(dir, name), err)
	}
	return tmp, nil
}

// decodeStrict decodes the JSON value b into v: unknown members and
// anything after the value are errors. A truncated file is never a valid
// value (its closing brace is missing).
func decodeStrict(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

func checkFormat(f *int) error {
	if f == nil {
		return errors.New(`no "format" member`)
	}
	if *f != fileFormat {
		return fmt.Errorf("format %d, want %d (written by a newer version?)", *f, fileFormat)
	}
	return nil
}

func marshalFile(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("filehost: %w", err)
	}
	return append(b, '\n'), nil
}

// account.json

type accountJSON struct {
	Format        *int   `json:"format"`
	InstanceTag   string `json:"instance_tag,omitempty"`
	ClientProfile []byte `json:"client_profile,omitempty"`
}

func marshalAccount(tag uint32, profile []byte) ([]byte, error) {
	f := fileFormat
	a := accountJSON{Format: &f, ClientProfile: profile}
	if tag != 0 {
		a.InstanceTag = fmt.Sprintf("%08x", tag)
	}
	return marshalFile(a)
}

func parseAccount(b []byte) (tag uint32, profile []byte, err error) {
	var a accountJSON
	if err := decodeStrict(b, &a); err != nil {
		return 0, nil, err
	}
	if err := checkFormat(a.Format); err != nil {
		return 0, nil, err
	}
	if a.InstanceTag != "" {
		t, err := parseTag(a.InstanceTag)
		if err != nil {
			return 0, nil, err
		}
		tag = t
	}
	if len(a.ClientProfile) == 0 {
		a.ClientProfile = nil
	}
	return tag, a.ClientProfile, nil
}

// parseTag reads an instance tag as libotr writes it: 8 hex digits, at
// least 0x100.
func parseTag(s string) (uint32, error) {
	if len(s) != 8 {
		return 0, fmt.Errorf("instance tag %q is not 8 hex digits", s)
	}
	if _, err := hex.DecodeString(s); err != nil {
		return 0, fmt.Errorf("instance tag %q is not 8 hex digits", s)
	}
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("instance tag %q is not 8 hex digits", s)
	}
	if v < minInstanceTag {
		return 0, fmt.Errorf("instance tag %#x below 0x100", v)
	}
	return uint32(v), nil
}

// trust.json

type trustJSON struct {
	Format   *int                   `json:"format"`
	Contacts map[string][]knownJSON `json:"contacts"`
}

type knownJSON struct {
	Fingerprint *string    `json:"fingerprint"`
	Trust       *otr.Trust `json:"trust"`
}

func marshalTrust(trust map[string][]otr.KnownFingerprint) ([]byte, error) {
	f := fileFormat
	t := trustJSON{Format: &f, Contacts: make(map[string][]knownJSON, len(trust))}
	for c, list := range trust {
		out := make([]knownJSON, len(list))
		for i, k := range list {
			fp, level := k.Fingerprint.String(), k.Trust
			out[i] = knownJSON{Fingerprint: &fp, Trust: &level}
		}
		t.Contacts[c] = out
	}
	return marshalFile(t)
}

func parseTrust(b []byte) (map[string][]otr.KnownFingerprint, error) {
	var t trustJSON
	if err := decodeStrict(b, &t); err != nil {
		return nil, err
	}
	if err := checkFormat(t.Format); err != nil {
		return nil, err
	}
	trust := make(map[string][]otr.KnownFingerprint, len(t.Contacts))
	for c, list := range t.Contacts {
		if len(list) == 0 {
			return nil, fmt.Errorf("contact %q: no fingerprints", c)
		}
		seen := make(map[string]bool, len(list))
		out := make([]otr.KnownFingerprint, len(list))
		for i, k := range list {
			if k.Fingerprint == nil || k.Trust == nil {
				return nil, fmt.Errorf("contact %q: entry %d lacks its fingerprint or trust", c, i)
			}
			fp, err := otr.ParseFingerprint(*k.Fingerprint)
			if err != nil {
				return nil, fmt.Errorf("contact %q: entry %d: %w", c, i, err)
			}
			if seen[string(fp)] {
				return nil, fmt.Errorf("contact %q: fingerprint %s repeated", c, fp)
			}
			seen[string(fp)] = true
			out[i] = otr.KnownFingerprint{Fingerprint: fp, Trust: *k.Trust}
		}
		trust[c] = out
	}
	return trust, nil
}

// policies.json

type policiesJSON struct {
	Format   *int              `json:"format"`
	Policies map[string]string `json:"policies"`
}

func marshalPolicies(policies map[string]otr.Policy) ([]byte, error) {
	f := fileFormat
	p := policiesJSON{Format: &f, Policies: make(map[string]string, len(policies))}
	for c, pol := range policies {
		p.Policies[c] = pol.String()
	}
	return marshalFile(p)
}

func parsePolicies(b []byte) (map[string]otr.Policy, error) {
	var p policiesJSON
	if err := decodeStrict(b, &p); err != nil {
		return nil, err
	}
	if err := checkFormat(p.Format); err != nil {
		return nil, err
	}
	policies := make(map[string]otr.Policy, len(p.Policies))
	for c, s := range p.Policies {
		pol, err := parsePolicy(s)
		if err != nil {
			return nil, fmt.Errorf("contact %q: %w", c, err)
		}
		policies[c] = pol
	}
	return policies, nil
}

// policyNames are the flags' names as otr.Policy.String writes them, in
// bit order; TestPolicyNames checks them against it.
var policyNames = []string{"ALLOW_V3", "ALLOW_V4", "REQUIRE_ENCRYPTION", "SEND_WHITESPACE_TAG", "WHITESPACE_START_AKE", "ERROR_START_AKE"}

// parsePolicy reads what otr.Policy.String writes: flag names joined by
// "|", bits without a name as one hex number "0x…" at the end, "NEVER" for
// none. It accepts that form alone, so that parse then String gives the
// input back.
func parsePolicy(s string) (otr.Policy, error) {
	if s == "NEVER" {
		return 0, nil
	}
	var p otr.Policy
	for _, part := range strings.Split(s, "|") {
		bit := otr.Policy(0)
		for i, n := range policyNames {
			if part == n {
				bit = 1 << i
			}
		}
		if bit == 0 && strings.HasPrefix(part, "0x") {
			v, err := strconv.ParseUint(part[2:], 16, 32)
			if err == nil {
				bit = otr.Policy(v)
			}
		}
		if bit == 0 {
			return 0, fmt.Errorf("policy %q: unknown flag %q", s, part)
		}
		p |= bit
	}
	if p.String() != s {
		return 0, fmt.Errorf("policy %q is not as written (%q)", s, p.String())
	}
	return p, nil
}
