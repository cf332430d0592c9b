package filehost

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/otrgo/otr"
)

// Sentinel errors; compare with errors.Is.
var (
	// ErrLocked is wrapped by Open's error when another Host, in this
	// process or another, has the directory open.
	ErrLocked = errors.New("filehost: directory in use")
	// ErrCorrupt is wrapped by the error for a file of the directory that
	// is damaged, truncated or not in its format; nothing of it was used.
	ErrCorrupt = errors.New("filehost: corrupt file")
	// ErrNoKeys is returned by Keys when the directory holds no keys yet.
	ErrNoKeys = errors.New("filehost: no keys stored")
	// ErrClosed is returned by the methods of a closed Host.
	ErrClosed = errors.New("filehost: host closed")
	// ErrConflict is wrapped by ImportLibotr's error when libotr's files
	// hold another key or instance tag than the directory.
	ErrConflict = errors.New("filehost: libotr's files disagree with the directory")
)

// Names of the files in the directory.
const (
	lockName     = "lock"
	keysName     = "private_keys"
	accountName  = "account.json"
	trustName    = "trust.json"
	policiesName = "policies.json"
)

// minInstanceTag is the smallest valid instance tag (OTR3 spec, "Instance
// Tags").
const minInstanceTag = 0x100

// Options configure a [Host]. A nil *Options means the zero value.
type Options struct {
	// MaxMessageSize is what [Host.MaxMessageSize] returns for every
	// contact: the largest message the transport carries, in bytes; 0
	// means no limit. (A client whose transport limit depends on the
	// contact embeds *Host in its own type and overrides MaxMessageSize.)
	MaxMessageSize int
	// Rand is the randomness for the keys [Host.LoadOrGenerateKeys] and
	// [Host.ImportLibotr] generate; nil means crypto/rand.Reader. It is
	// called with the Host's lock held, so it need not be safe for
	// concurrent use.
	Rand io.Reader
}

// Host is an [otr.Host], [otr.PolicyHost], [otr.TrustHost] and
// [otr.PrekeyHost] kept in one directory; it also keeps the account's
// keys. Make one with [Open]. Its methods are safe for concurrent use.
type Host struct {
	dir     string
	maxSize int
	rand    io.Reader

	mu       sync.Mutex
	lock     *os.File // nil once closed
	tag      uint32
	profile  []byte
	trust    map[string][]otr.KnownFingerprint
	policies map[string]otr.Policy
	pre      prekeyState
}

var (
	_ otr.Host       = (*Host)(nil)
	_ otr.PolicyHost = (*Host)(nil)
	_ otr.TrustHost  = (*Host)(nil)
)

// Open opens the Host kept in dir, creating dir (mode 0700) if it does not
// exist, and locks it until [Host.Close]. It reads the instance tag, client
// profile, trust, policies and prekey secrets (the keys are read when
// asked for) and removes temporary files a crash left behind.
//
// Open fails with an error wrapping [ErrLocked] if another Host has dir
// open, in this process or another; wrapping [ErrCorrupt] if a file is
// damaged. On Unix it also refuses a directory that other users may write
// to.
func Open(dir string, opts *Options) (*Host, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxMessageSize < 0 {
		return nil, fmt.Errorf("filehost: negative MaxMessageSize %d", o.MaxMessageSize)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("filehost: %w", err)
	}
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	h := &Host{dir: dir, maxSize: o.MaxMessageSize, rand: o.Rand, lock: lock}
	if h.rand == nil {
		h.rand = rand.Reader
	}
	if err := h.load(); err != nil {
		unlockDir(lock)
		return nil, err
	}
	return h, nil
}

// load reads the directory's state files and removes stray temporary
// files. The caller holds the directory lock.
func (h *Host) load() error {
	entries, err := os.ReadDir(h.dir)
	if err != nil {
		return fmt.Errorf("filehost: %w", err)
	}
	for _, e := range entries {
		// Only this package writes ".NAME.tmp-*", and only with the lock
		// held: any left now is from a write that never finished.
		if strings.HasPrefix(e.Name(), ".") && strings.Contains(e.Name(), ".tmp-") {
			if err := os.Remove(filepath.Join(h.dir, e.Name())); err != nil {
				return fmt.Errorf("filehost: removing a stale temporary file: %w", err)
			}
		}
	}
	if b, err := h.readFile(accountName); err != nil {
		return err
	} else if b != nil {
		if h.tag, h.profile, err = parseAccount(b); err != nil {
			return h.corrupt(accountName, err)
		}
	}
	if b, err := h.readFile(trustName); err != nil {
		return err
	} else if b != nil {
		if h.trust, err = parseTrust(b); err != nil {
			return h.corrupt(trustName, err)
		}
	}
	if b, err := h.readFile(policiesName); err != nil {
		return err
	} else if b != nil {
		if h.policies, err = parsePolicies(b); err != nil {
			return h.corrupt(policiesName, err)
		}
	}
	return h.loadPrekeys()
}

// readFile returns the content of the directory's file name, or nil if it
// does not exist.
func (h *Host) readFile(name string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(h.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("filehost: %w", err)
	}
	return b, nil
}

func (h *Host) corrupt(name string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrCorrupt, filepath.Join(h.dir, name), err)
}

// Close unlocks the directory and clears the prekey secrets held in
// memory. Methods called afterwards return [ErrClosed] (MaxMessageSize
// still answers). Closing again does nothing.
func (h *Host) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lock == nil {
		return nil
	}
	err := unlockDir(h.lock)
	h.lock = nil
	h.pre.wipe()
	return err
}

// Dir returns the directory the Host keeps its files in.
func (h *Host) Dir() string { return h.dir }

// Keys returns the stored keys, read from the directory at each call; the
// caller owns them (and may Wipe them). It returns [ErrNoKeys] if none are
// stored, and an error wrapping [ErrCorrupt] if the key file is damaged.
// A key file of the earlier format 2 is rewritten as format 3 when read.
func (h *Host) Keys() (*otr.PrivateKeys, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lock == nil {
		return nil, ErrClosed
	}
	return h.keys()
}

func (h *Host) keys() (*otr.PrivateKeys, error) {
	b, err := h.readFile(keysName)
	defer clear(b)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, ErrNoKeys
	}
	k, err := otr.ParsePrivateKeys(b)
	if err != nil {
		return nil, h.corrupt(keysName, err)
	}
	// Rewrite an older format, which has no checksum, in the current one.
	m, err := k.MarshalBinary()
	defer clear(m)
	if err != nil {
		k.Wipe()
		return nil, err
	}
	if !bytes.Equal(m, b) {
		if err := writeFile(h.dir, keysName, m); err != nil {
			k.Wipe()
			return nil, err
		}
	}
	return k, nil
}

// SetKeys stores k as the account's keys, replacing any stored. It does
// not keep k: the caller still owns it.
func (h *Host) SetKeys(k *otr.PrivateKeys) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lock == nil {
		return ErrClosed
	}
	return h.setKeys(k)
}

func (h *Host) setKeys(k *otr.PrivateKeys) error {
	b, err := k.MarshalBinary()
	defer clear(b)
	if err != nil {
		return fmt.Errorf("filehost: %w", err)
	}
	return writeFile(h.dir, keysName, b)
}

// LoadOrGenerateKeys returns the stored keys, or, if none are stored,
// generates keys for both protocol versions (from [Options.Rand]), stores
// them and returns them. The caller owns the result. A damaged key file
// is an error wrapping [ErrCorrupt], never replaced by new keys.
func (h *Host) LoadOrGenerateKeys() (*otr.PrivateKeys, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lock == nil {
		return nil, ErrClosed
	}
	k, err := h.keys()
	if !errors.Is(err, ErrNoKeys) {
		return k, err
	}
	if k, err = otr.GenerateKeys(h.rand); err != nil {
		return nil, fmt.Errorf("filehost: generating keys: %w", err)
	}
	if err := h.setKeys(k); err != nil {
		k.Wipe()
		return nil, err
	}
	return k, nil
}

// InstanceTag implements [otr.Host]: the stored instance tag, or 0.
func (h *Host) InstanceTag() (uint32, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lock == nil {
		return 0, ErrClosed
	}
	return h.tag, nil
}

// SetInstanceTag implements [otr.Host]: it stores tag, which must be at
// least 0x100.
func (h *Host) SetInstanceTag(tag uint32) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lock == nil {
		return ErrClosed
	}
	if tag < minInstanceTag {
		return fmt.Errorf("filehost: instance tag %#x below 0x100", tag)
	}
	return h.writeAccount(tag, h.profile)
}

// ClientProfile implements [otr.Host]: a copy of the stored client
// profile, or nil.
func (h *Host) ClientProfile() ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lock == nil {
		return nil, ErrClosed
	}
	return bytes.Clone(h.profile), nil
}

// SetClientProfile implements [otr.Host]: it stores a copy of profile
// (nil or empty removes it).
func (h *Host) SetClientProfile(profile []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lock == nil {
		return ErrClosed
	}
	if len(profile) == 0 {
		profile = nil
	}
	return h.writeAccount(h.tag, bytes.Clone(profile))
}

// writeAccount writes account.json, then keeps tag and profile (which it
// owns). The caller holds h.mu.
func (h *Host) writeAccount(tag uint32, profile []byte) error {
	if tag == h.tag && bytes.Equal(profile, h.profile) {
		return nil
	}
	b, err := marshalAccount(tag, profile)
	if err != nil {
		return err
	}
	if err := writeFile(h.dir, accountName, b); err != nil {
		return err
	}
	h.tag, h.profile = tag, profile
	return nil
}

// MaxMessageSize implements [otr.Host]: [Options.MaxMessageSize], for
// every contact.
func (h *Host) MaxMessageSize(string) int { return h.maxSize }

// Policy implements [otr.PolicyHost]: the policy set for contact with
// [Host.SetPolicy]; ok is false if none is (or the Host is closed).
func (h *Host) Policy(contact string) (p otr.Policy, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lock == nil {
		return 0, false
	}
	p, ok = h.policies[contact]
	return p, ok
}

// SetPolicy stores p as contact's policy, used for sessions created
// afterwards ([otr.Session.SetPolicy] changes a session's). contact must
// be valid UTF-8.
func (h *Host) SetPolicy(contact string, p otr.Policy) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lock == nil {
		return ErrClosed
	}
	if err := checkContact(contact); err != nil {
		return err
	}
	if old, ok := h.policies[contact]; ok && old == p {
		return nil
	}
	next := maps.Clone(h.policies)
	if next == nil {
		next = make(map[string]otr.Policy)
	}
	next[contact] = p
	return h.writePolicies(next)
}

// DeletePolicy removes contact's policy: its sessions follow the
// account's policy again.
func (h *Host) DeletePolicy(contact string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lock == nil {
		return ErrClosed
	}
	if _, ok := h.policies[contact]; !ok {
		return nil
	}
	next := maps.Clone(h.policies)
	delete(next, contact)
	return h.writePolicies(next)
}

func (h *Host) writePolicies(next map[string]otr.Policy) error {
	b, err := marshalPolicies(next)
	if err != nil {
		return err
	}
	if err := writeFile(h.dir, policiesName, b); err != nil {
		return err
	}
	h.policies = next
	return nil
}

// Fingerprints implements [otr.TrustHost]: contact's fingerprints, OTR3
// and OTRv4, in the order they were first stored. The caller owns the
// result.
func (h *Host) Fingerprints(contact string) ([]otr.KnownFingerprint, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lock == nil {
		return nil, ErrClosed
	}
	return cloneKnown(h.trust[contact]), nil
}

// SetTrust implements [otr.TrustHost]: it records fp (20 bytes for OTR3,
// 56 for OTRv4) for contact with trust t, adding it if new. contact must
// be valid UTF-8.
func (h *Host) SetTrust(contact string, fp otr.Fingerprint, t otr.Trust) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lock == nil {
		return ErrClosed
	}
	if err := checkContact(contact); err != nil {
		return err
	}
	if fp.Version() == 0 {
		return fmt.Errorf("filehost: fingerprint of %d bytes is neither OTR3's nor OTRv4's", len(fp))
	}
	if _, err := t.MarshalText(); err != nil {
		return fmt.Errorf("filehost: %w", err)
	}
	list := cloneKnown(h.trust[contact])
	i := slices.IndexFunc(list, func(k otr.KnownFingerprint) bool { return bytes.Equal(k.Fingerprint, fp) })
	switch {
	case i < 0:
		list = append(list, otr.KnownFingerprint{Fingerprint: bytes.Clone(fp), Trust: t})
	case list[i].Trust == t:
		return nil
	default:
		list[i].Trust = t
	}
	return h.writeTrust(map[string][]otr.KnownFingerprint{contact: list})
}

// DeleteFingerprint forgets fp for contact, as libotr clients' "forget
// fingerprint" does; nothing happens if it is not stored.
func (h *Host) DeleteFingerprint(contact string, fp otr.Fingerprint) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lock == nil {
		return ErrClosed
	}
	list := h.trust[contact]
	i := slices.IndexFunc(list, func(k otr.KnownFingerprint) bool { return bytes.Equal(k.Fingerprint, fp) })
	if i < 0 {
		return nil
	}
	list = slices.Delete(cloneKnown(list), i, i+1)
	return h.writeTrust(map[string][]otr.KnownFingerprint{contact: list})
}

// writeTrust writes trust.json with the contacts in change replaced by
// their lists (an empty list removes the contact), then keeps the change.
// The caller holds h.mu and owns nothing in change afterwards.
func (h *Host) writeTrust(change map[string][]otr.KnownFingerprint) error {
	next := maps.Clone(h.trust)
	if next == nil {
		next = make(map[string][]otr.KnownFingerprint)
	}
	for c, list := range change {
		if len(list) == 0 {
			delete(next, c)
		} else {
			next[c] = list
		}
	}
	b, err := marshalTrust(next)
	if err != nil {
		return err
	}
	if err := writeFile(h.dir, trustName, b); err != nil {
		return err
	}
	h.trust = next
	return nil
}

// Contacts returns, sorted, the contacts with a stored fingerprint or
// policy. The caller owns the slice.
func (h *Host) Contacts() ([]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lock == nil {
		return nil, ErrClosed
	}
	set := make(map[string]bool)
	for c := range h.trust {
		set[c] = true
	}
	for c := range h.policies {
		set[c] = true
	}
	return slices.Sorted(maps.Keys(set)), nil
}

func cloneKnown(list []otr.KnownFingerprint) []otr.KnownFingerprint {
	if list == nil {
		return nil
	}
	out := make([]otr.KnownFingerprint, len(list))
	for i, k := range list {
		out[i] = otr.KnownFingerprint{Fingerprint: bytes.Clone(k.Fingerprint), Trust: k.Trust}
	}
	return out
}

// checkContact refuses contact names the JSON files cannot hold exactly.
func checkContact(contact string) error {
	if !utf8.ValidString(contact) {
		return errors.New("filehost: contact name is not valid UTF-8")
	}
	return nil
}
