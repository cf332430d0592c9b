package otr

import (
	"bytes"
	"fmt"
	"sync"
	"time"
)

// Host is implemented by the chat client: what the library cannot know or
// keep by itself. Its methods are never called with a session lock held, but
// may be called from several goroutines at once.
type Host interface {
	// InstanceTag returns the persisted instance tag of this account, or 0
	// if none was stored yet.
	InstanceTag() (uint32, error)
	// SetInstanceTag persists a newly generated instance tag.
	SetInstanceTag(tag uint32) error
	// ClientProfile returns the persisted OTRv4 client profile, or nil.
	ClientProfile() ([]byte, error)
	// SetClientProfile persists a new OTRv4 client profile.
	SetClientProfile(profile []byte) error
	// MaxMessageSize returns the largest message the transport carries to
	// contact, in bytes; 0 means no limit. Longer OTR messages are fragmented.
	MaxMessageSize(contact string) int
}

// PolicyHost is an optional ability of a [Host]: a policy per contact,
// consulted when a session is created. [Session.SetPolicy] overrides it.
type PolicyHost interface {
	Host
	// Policy returns the policy for contact; ok false means the account's.
	Policy(contact string) (p Policy, ok bool)
}

// Trust is how far the user trusts a contact's fingerprint.
type Trust int

// Trust levels, as libotr's fingerprints file records them.
const (
	Untrusted   Trust = iota // seen, not verified
	Verified                 // verified by the user (compared out of band)
	SMPVerified              // verified by a successful SMP run
)

// String returns the level's name: "untrusted", "verified" or "smp".
// (libotr's fingerprints file writes "" for untrusted and the other two
// names as they are.)
func (t Trust) String() string {
	switch t {
	case Untrusted:
		return "untrusted"
	case Verified:
		return "verified"
	case SMPVerified:
		return "smp"
	}
	return fmt.Sprintf("Trust(%d)", int(t))
}

// MarshalText implements [encoding.TextMarshaler]: the level's name as
// String gives it. Unknown levels are an error.
func (t Trust) MarshalText() ([]byte, error) {
	switch t {
	case Untrusted, Verified, SMPVerified:
		return []byte(t.String()), nil
	}
	return nil, fmt.Errorf("otr: unknown trust level %d", int(t))
}

// UnmarshalText implements [encoding.TextUnmarshaler]: it accepts the names
// MarshalText writes and nothing else.
func (t *Trust) UnmarshalText(b []byte) error {
	for _, l := range []Trust{Untrusted, Verified, SMPVerified} {
		if string(b) == l.String() {
			*t = l
			return nil
		}
	}
	return fmt.Errorf("otr: unknown trust level %q", sanitize(string(b)))
}

// KnownFingerprint is a contact's fingerprint as a TrustHost stores it.
type KnownFingerprint struct {
	Fingerprint Fingerprint
	Trust       Trust
}

// TrustHost is an optional ability of a [Host]: it keeps the fingerprints
// seen for each contact and how far each is trusted. With it, a
// [SecureEvent] carries the fingerprint's trust, a [FingerprintEvent] tells
// of a new fingerprint, and a successful SMP run records [SMPVerified].
type TrustHost interface {
	Host
	// Fingerprints returns the fingerprints known for contact.
	Fingerprints(contact string) ([]KnownFingerprint, error)
	// SetTrust records fp for contact with trust t, adding it if new.
	SetTrust(contact string, fp Fingerprint, t Trust) error
}

// MemoryHost is a [Host], [TrustHost], [PolicyHost] and [PrekeyHost]
// that keeps everything in memory, for tests and examples. Its zero value
// is ready to use and has no message size limit.
type MemoryHost struct {
	mu       sync.Mutex
	tag      uint32
	profile  []byte
	trust    map[string][]KnownFingerprint
	policies map[string]Policy
	prekeys  map[uint32]memoryPrekey
	shared   [2][]byte // prekey profile, shared prekey secret
	// MaxSize is returned by MaxMessageSize for every contact.
	MaxSize int
}

// InstanceTag implements [Host].
func (h *MemoryHost) InstanceTag() (uint32, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.tag, nil
}

// SetInstanceTag implements [Host].
func (h *MemoryHost) SetInstanceTag(tag uint32) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tag = tag
	return nil
}

// ClientProfile implements [Host].
func (h *MemoryHost) ClientProfile() ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]byte(nil), h.profile...), nil
}

// SetClientProfile implements [Host].
func (h *MemoryHost) SetClientProfile(p []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.profile = append([]byte(nil), p...)
	return nil
}

// MaxMessageSize implements [Host].
func (h *MemoryHost) MaxMessageSize(string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.MaxSize
}

type memoryPrekey struct {
	secret      []byte
	deleteAfter time.Time
}

// StorePrekey implements [PrekeyHost].
func (h *MemoryHost) StorePrekey(id uint32, secret []byte, deleteAfter time.Time) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.prekeys == nil {
		h.prekeys = make(map[uint32]memoryPrekey)
	}
	if _, dup := h.prekeys[id]; dup {
		return fmt.Errorf("otr: prekey %08x stored already", id)
	}
	h.prekeys[id] = memoryPrekey{bytes.Clone(secret), deleteAfter}
	return nil
}

// Prekey implements [PrekeyHost].
func (h *MemoryHost) Prekey(id uint32) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return bytes.Clone(h.prekeys[id].secret), nil
}

// DeletePrekey implements [PrekeyHost].
func (h *MemoryHost) DeletePrekey(id uint32) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p, ok := h.prekeys[id]; ok {
		clear(p.secret)
		delete(h.prekeys, id)
	}
	return nil
}

// Prekeys implements [PrekeyHost].
func (h *MemoryHost) Prekeys() (map[uint32]time.Time, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[uint32]time.Time, len(h.prekeys))
	for id, p := range h.prekeys {
		out[id] = p.deleteAfter
	}
	return out, nil
}

// SharedPrekey implements [PrekeyHost].
func (h *MemoryHost) SharedPrekey() (profile, secret []byte, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return bytes.Clone(h.shared[0]), bytes.Clone(h.shared[1]), nil
}

// SetSharedPrekey implements [PrekeyHost].
func (h *MemoryHost) SetSharedPrekey(profile, secret []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.shared[1])
	h.shared = [2][]byte{bytes.Clone(profile), bytes.Clone(secret)}
	return nil
}

// Policy implements [PolicyHost]: the policy set with SetPolicy.
func (h *MemoryHost) Policy(contact string) (Policy, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, ok := h.policies[contact]
	return p, ok
}

// SetPolicy sets the policy for contact, used by sessions created after it
// (see [PolicyHost]).
func (h *MemoryHost) SetPolicy(contact string, p Policy) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.policies == nil {
		h.policies = make(map[string]Policy)
	}
	h.policies[contact] = p
}

// Fingerprints implements [TrustHost].
func (h *MemoryHost) Fingerprints(contact string) ([]KnownFingerprint, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]KnownFingerprint(nil), h.trust[contact]...), nil
}

// SetTrust implements [TrustHost].
func (h *MemoryHost) SetTrust(contact string, fp Fingerprint, t Trust) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.trust == nil {
		h.trust = make(map[string][]KnownFingerprint)
	}
	list := h.trust[contact]
	for i := range list {
		if bytes.Equal(list[i].Fingerprint, fp) {
			list[i].Trust = t
			return nil
		}
	}
	h.trust[contact] = append(list, KnownFingerprint{Fingerprint: append(Fingerprint(nil), fp...), Trust: t})
	return nil
}
