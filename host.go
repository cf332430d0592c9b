package otr

import "sync"

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

// MemoryHost is a [Host] that keeps everything in memory, for tests and
// examples. Its zero value is ready to use and has no message size limit.
type MemoryHost struct {
	mu      sync.Mutex
	tag     uint32
	profile []byte
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
