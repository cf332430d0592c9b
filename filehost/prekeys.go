package filehost

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/otrgo/otr"
)

// The secrets of offline conversations ([otr.PrekeyHost]) live in
// prekeys.json. Each change rewrites the whole file before memory
// changes, so a deleted prekey is gone from the file (the new file
// replaced the old one and the directory was synced) before DeletePrekey
// returns.

var _ otr.PrekeyHost = (*Host)(nil)

const prekeysName = "prekeys.json"

// storedPrekey is one prekey message's secret and when it may be
// deleted (in UTC, without a monotonic reading, as it reads back).
type storedPrekey struct {
	secret      []byte
	deleteAfter time.Time
}

// prekeyState is what prekeys.json holds.
type prekeyState struct {
	prekeys map[uint32]storedPrekey
	profile []byte // our prekey profile, nil if none
	shared  []byte // its shared prekey secret, nil if none
}

func (p *prekeyState) wipe() {
	for _, s := range p.prekeys {
		clear(s.secret)
	}
	clear(p.shared)
	*p = prekeyState{}
}

// StorePrekey implements [otr.PrekeyHost]: it stores a copy of secret
// (not empty) under id until deleteAfter (a year from 0 to 9999). An id
// stored already is an error: its secret is not replaced.
func (h *Host) StorePrekey(id uint32, secret []byte, deleteAfter time.Time) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lock == nil {
		return ErrClosed
	}
	if len(secret) == 0 {
		return errors.New("filehost: empty prekey secret")
	}
	if y := deleteAfter.UTC().Year(); y < 0 || y > 9999 {
		return fmt.Errorf("filehost: prekey deletion time in the year %d", y)
	}
	if _, dup := h.pre.prekeys[id]; dup {
		return fmt.Errorf("filehost: prekey %08x stored already", id)
	}
	next := h.pre
	next.prekeys = maps.Clone(h.pre.prekeys)
	if next.prekeys == nil {
		next.prekeys = make(map[uint32]storedPrekey)
	}
	s := storedPrekey{bytes.Clone(secret), deleteAfter.UTC()}
	next.prekeys[id] = s
	if err := h.writePrekeys(next); err != nil {
		clear(s.secret)
		return err
	}
	return nil
}

// Prekey implements [otr.PrekeyHost]: a copy of the secret stored under
// id, which the caller owns (and should clear), or nil if none is.
func (h *Host) Prekey(id uint32) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lock == nil {
		return nil, ErrClosed
	}
	return bytes.Clone(h.pre.prekeys[id].secret), nil
}

// DeletePrekey implements [otr.PrekeyHost]: it returns nil once
// prekeys.json without the secret has replaced the old file and the
// directory is synced; only then is the copy in memory cleared. A
// missing id is not an error. The old file is unlinked, not overwritten:
// whether its blocks can still be read from the disk depends on the file
// system and the device.
func (h *Host) DeletePrekey(id uint32) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lock == nil {
		return ErrClosed
	}
	old, ok := h.pre.prekeys[id]
	if !ok {
		return nil
	}
	next := h.pre
	next.prekeys = maps.Clone(h.pre.prekeys)
	delete(next.prekeys, id)
	if err := h.writePrekeys(next); err != nil {
		return err
	}
	clear(old.secret)
	return nil
}

// Prekeys implements [otr.PrekeyHost]: the stored identifiers with their
// deletion times (in UTC), in a map the caller owns.
func (h *Host) Prekeys() (map[uint32]time.Time, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lock == nil {
		return nil, ErrClosed
	}
	out := make(map[uint32]time.Time, len(h.pre.prekeys))
	for id, s := range h.pre.prekeys {
		out[id] = s.deleteAfter
	}
	return out, nil
}

// SharedPrekey implements [otr.PrekeyHost]: copies of the stored prekey
// profile and its shared prekey secret, which the caller owns; both nil
// if none is stored.
func (h *Host) SharedPrekey() (profile, secret []byte, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lock == nil {
		return nil, nil, ErrClosed
	}
	return bytes.Clone(h.pre.profile), bytes.Clone(h.pre.shared), nil
}

// SetSharedPrekey implements [otr.PrekeyHost]: it stores copies of
// profile and secret, replacing (and, once written, clearing) the ones
// stored. Both must be given, or both empty to remove them.
func (h *Host) SetSharedPrekey(profile, secret []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lock == nil {
		return ErrClosed
	}
	if (len(profile) == 0) != (len(secret) == 0) {
		return errors.New("filehost: a prekey profile without its shared prekey secret, or the reverse")
	}
	if bytes.Equal(profile, h.pre.profile) && bytes.Equal(secret, h.pre.shared) {
		return nil
	}
	next := h.pre
	next.profile, next.shared = nil, nil
	if len(profile) > 0 {
		next.profile, next.shared = bytes.Clone(profile), bytes.Clone(secret)
	}
	old := h.pre.shared
	if err := h.writePrekeys(next); err != nil {
		clear(next.shared)
		return err
	}
	clear(old)
	return nil
}

// writePrekeys writes prekeys.json with next, then keeps next (whose
// slices it owns, with those it shares with h.pre). The caller holds h.mu.
func (h *Host) writePrekeys(next prekeyState) error {
	b, err := marshalPrekeys(next)
	defer clear(b)
	if err != nil {
		return err
	}
	if err := writeFile(h.dir, prekeysName, b); err != nil {
		return err
	}
	h.pre = next
	return nil
}

// loadPrekeys reads prekeys.json, if any, at Open.
func (h *Host) loadPrekeys() error {
	b, err := h.readFile(prekeysName)
	defer clear(b)
	if err != nil || b == nil {
		return err
	}
	p, err := parsePrekeys(b)
	if err != nil {
		return h.corrupt(prekeysName, err)
	}
	h.pre = p
	return nil
}

// prekeys.json
//
// Only the file's bytes and the state in memory are cleared: the base64
// strings and encoding/json's buffers on the way to and from the file
// are copies this package cannot reach.

type prekeysJSON struct {
	Format             *int                  `json:"format"`
	Prekeys            map[string]prekeyJSON `json:"prekeys"`
	PrekeyProfile      string                `json:"prekey_profile,omitempty"`
	SharedPrekeySecret string                `json:"shared_prekey_secret,omitempty"`
}

type prekeyJSON struct {
	Secret      *string `json:"secret"`
	DeleteAfter *string `json:"delete_after"`
}

// prekeysMembers are the member names allowed, exactly, in the objects of
// prekeys.json by depth (the prekeys object's names are identifiers).
// encoding/json matches names without regard to case, and keeps the last
// of repeated members: checkMembers refuses both.
var prekeysMembers = map[int][]string{
	0: {"format", "prekeys", "prekey_profile", "shared_prekey_secret"},
	2: {"secret", "delete_after"},
}

func marshalPrekeys(p prekeyState) ([]byte, error) {
	f := fileFormat
	j := prekeysJSON{Format: &f, Prekeys: make(map[string]prekeyJSON, len(p.prekeys))}
	for id, s := range p.prekeys {
		secret := base64.StdEncoding.EncodeToString(s.secret)
		t := s.deleteAfter.UTC().Format(time.RFC3339Nano)
		j.Prekeys[fmt.Sprintf("%08x", id)] = prekeyJSON{Secret: &secret, DeleteAfter: &t}
	}
	if len(p.profile) > 0 {
		j.PrekeyProfile = base64.StdEncoding.EncodeToString(p.profile)
		j.SharedPrekeySecret = base64.StdEncoding.EncodeToString(p.shared)
	}
	return marshalFile(j)
}

func parsePrekeys(b []byte) (prekeyState, error) {
	var j prekeysJSON
	if err := decodeStrict(b, &j); err != nil {
		return prekeyState{}, err
	}
	if err := checkFormat(j.Format); err != nil {
		return prekeyState{}, err
	}
	// decodeStrict accepted b as the shape above: checkMembers walks at
	// most three levels of objects.
	if err := checkMembers(json.NewDecoder(bytes.NewReader(b)), 0, prekeysMembers); err != nil {
		return prekeyState{}, err
	}
	var p prekeyState
	fail := func(err error) (prekeyState, error) {
		p.wipe()
		return prekeyState{}, err
	}
	if len(j.Prekeys) > 0 {
		p.prekeys = make(map[uint32]storedPrekey, len(j.Prekeys))
	}
	for name, e := range j.Prekeys {
		id, err := parsePrekeyID(name)
		if err != nil {
			return fail(err)
		}
		if e.Secret == nil || e.DeleteAfter == nil {
			return fail(fmt.Errorf("prekey %s lacks its secret or deletion time", name))
		}
		secret, err := parseBase64(*e.Secret)
		if err != nil || len(secret) == 0 {
			return fail(fmt.Errorf("prekey %s: secret is not canonical base64 of some bytes", name))
		}
		t, err := time.Parse(time.RFC3339Nano, *e.DeleteAfter)
		if err != nil || t.UTC().Format(time.RFC3339Nano) != *e.DeleteAfter {
			clear(secret)
			return fail(fmt.Errorf("prekey %s: deletion time %q is not as written (RFC 3339 in UTC)", name, *e.DeleteAfter))
		}
		p.prekeys[id] = storedPrekey{secret, t.UTC()}
	}
	if (j.PrekeyProfile == "") != (j.SharedPrekeySecret == "") {
		return fail(errors.New("a prekey profile without its shared prekey secret, or the reverse"))
	}
	if j.PrekeyProfile != "" {
		var err error
		if p.profile, err = parseBase64(j.PrekeyProfile); err != nil {
			return fail(errors.New("prekey profile is not canonical base64"))
		}
		if p.shared, err = parseBase64(j.SharedPrekeySecret); err != nil {
			return fail(errors.New("shared prekey secret is not canonical base64"))
		}
	}
	return p, nil
}

// parsePrekeyID reads an identifier as marshalPrekeys writes it: 8
// lower-case hex digits, so that one identifier has one name.
func parsePrekeyID(s string) (uint32, error) {
	ok := len(s) == 8
	for i := 0; ok && i < len(s); i++ {
		ok = '0' <= s[i] && s[i] <= '9' || 'a' <= s[i] && s[i] <= 'f'
	}
	if !ok {
		return 0, fmt.Errorf("prekey identifier %q is not 8 lower-case hex digits", s)
	}
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("prekey identifier %q: %w", s, err)
	}
	return uint32(v), nil
}

// parseBase64 decodes s, which must be what base64.StdEncoding writes
// (padded, no line breaks, unused bits zero).
func parseBase64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || base64.StdEncoding.EncodedLen(len(b)) != len(s) {
		clear(b)
		return nil, errors.New("not canonical base64")
	}
	return b, nil
}

// checkMembers reads one JSON value from d and refuses an object in it
// that repeats a member name, or, at a depth that allowed lists, has a
// name not exactly in the list.
func checkMembers(d *json.Decoder, depth int, allowed map[int][]string) error {
	tok, err := d.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		seen := make(map[string]bool)
		for d.More() {
			tok, err := d.Token()
			if err != nil {
				return err
			}
			name, _ := tok.(string)
			if seen[name] {
				return fmt.Errorf("member %q repeated", name)
			}
			seen[name] = true
			if names, ok := allowed[depth]; ok && !slices.Contains(names, name) {
				return fmt.Errorf("unknown member %q", name)
			}
			if err := checkMembers(d, depth+1, allowed); err != nil {
				return err
			}
		}
	case json.Delim('['):
		for d.More() {
			if err := checkMembers(d, depth+1, allowed); err != nil {
				return err
			}
		}
	default:
		return nil
	}
	_, err = d.Token() // the closing delimiter
	return err
}
