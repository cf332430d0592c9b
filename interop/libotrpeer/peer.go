package libotrpeer

/*
#cgo pkg-config: libotr libgcrypt
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/cgo"
	"sync"
	"time"
	"unsafe"
)

// The OTRL_POLICY_* bits of libotr 4.1.1 (proto.h).
const (
	PolicyAllowV2            uint32 = 0x02
	PolicyAllowV3            uint32 = 0x04
	PolicyRequireEncryption  uint32 = 0x08
	PolicySendWhitespaceTag  uint32 = 0x10
	PolicyWhitespaceStartAKE uint32 = 0x20
	PolicyErrorStartAKE      uint32 = 0x40

	// PolicyManual is OTRL_POLICY_MANUAL: versions 2 and 3, nothing
	// automatic.
	PolicyManual = PolicyAllowV2 | PolicyAllowV3
	// PolicyDefault is OTRL_POLICY_DEFAULT (OTRL_POLICY_OPPORTUNISTIC).
	PolicyDefault = PolicyAllowV2 | PolicyAllowV3 | PolicySendWhitespaceTag |
		PolicyWhitespaceStartAKE | PolicyErrorStartAKE
	// PolicyAlways is OTRL_POLICY_ALWAYS.
	PolicyAlways = PolicyAllowV2 | PolicyAllowV3 | PolicyRequireEncryption |
		PolicyWhitespaceStartAKE | PolicyErrorStartAKE
)

// Meta instance tags of libotr (instag.h), accepted by [Peer.SendTo].
const (
	InstanceMaster uint32 = 0 // OTRL_INSTAG_MASTER
	InstanceBest   uint32 = 1 // OTRL_INSTAG_BEST
	InstanceRecent uint32 = 2 // OTRL_INSTAG_RECENT
)

// MsgState is libotr's OtrlMessageState.
type MsgState int

// The message states of a libotr context.
const (
	StatePlaintext MsgState = iota
	StateEncrypted
	StateFinished
)

// String returns the state's name.
func (s MsgState) String() string {
	switch s {
	case StatePlaintext:
		return "Plaintext"
	case StateEncrypted:
		return "Encrypted"
	case StateFinished:
		return "Finished"
	}
	return fmt.Sprintf("MsgState(%d)", int(s))
}

// Options configure a [Peer].
type Options struct {
	Account  string // our account name; required
	Protocol string // libotr's protocol name; "" means "otrgo"
	// Policy is a set of Policy* bits; 0 means PolicyDefault.
	Policy uint32
	// MaxMessageSize makes libotr fragment every outgoing message longer
	// than this many bytes; 0 means no limit.
	MaxMessageSize int
	// KeyFile is an existing libotr otr.private_key file holding a key for
	// Account and Protocol. Empty means a key made by libotr once per
	// process and per account and protocol, so Peers of one account share
	// a key.
	KeyFile string
	// InstagFile is an existing libotr instance tag file. Empty means a
	// fresh random instance tag.
	InstagFile string
}

// Received is the outcome of [Peer.Receive].
type Received struct {
	Text      string   // what libotr would show the user, if Delivered
	Delivered bool     // libotr would show Text to the user
	Encrypted bool     // Text came out of a decrypted data message
	Inject    []string // messages libotr sends back to the contact, in order
	TLVs      []uint16 // types of the TLVs of a data message, in order
}

// ContextInfo describes one libotr ConnContext of a contact.
type ContextInfo struct {
	Instance    uint32 // their_instance; 0 for the master context
	State       MsgState
	Version     int    // protocol_version of the established session
	Fingerprint string // active fingerprint, human form; "" if none
	SSID        []byte // session id; nil if none
}

// Peer is one libotr user state with one account and its private key.
// All Peers share one lock, since libotr is not documented as safe for
// concurrent use: a Peer's methods may be called from any goroutine.
type Peer struct {
	account, protocol *C.char
	opts              Options
	dir               string
	keyFile           string
	instagFile        string
	h                 cgo.Handle
	us                C.OtrlUserState

	// Filled by the callbacks while a method holds lib.
	out       []string
	decrypted bool
	events    []Event
}

var (
	lib      sync.Mutex // serializes every call into libotr
	initErr  error
	initOnce sync.Once
	keyCache = map[[2]string][]byte{} // guarded by lib
)

func initLib() error {
	initOnce.Do(func() {
		if e := C.peer_init(); e != 0 {
			initErr = gcryError("otrl_init", e)
		}
	})
	return initErr
}

func gcryError(op string, e C.gcry_error_t) error {
	return fmt.Errorf("libotrpeer: %s: %s", op, C.GoString(C.gcry_strerror(e)))
}

// errClosed is returned by methods of a closed Peer.
var errClosed = errors.New("libotrpeer: peer is closed")

// New creates a Peer, loading or generating its private key and instance
// tag. libotr generates a key in several seconds; New keeps generated keys
// for the life of the process.
func New(o Options) (*Peer, error) {
	if o.Account == "" {
		return nil, errors.New("libotrpeer: empty account")
	}
	if o.Protocol == "" {
		o.Protocol = "otrgo"
	}
	if o.Policy == 0 {
		o.Policy = PolicyDefault
	}
	if err := initLib(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "libotrpeer-")
	if err != nil {
		return nil, fmt.Errorf("libotrpeer: %w", err)
	}
	lib.Lock()
	defer lib.Unlock()
	p := &Peer{
		account:  C.CString(o.Account),
		protocol: C.CString(o.Protocol),
		opts:     o,
		dir:      dir,
		us:       C.otrl_userstate_create(),
	}
	p.h = cgo.NewHandle(p)
	if err := p.load(); err != nil {
		p.free()
		return nil, err
	}
	return p, nil
}

func (p *Peer) load() error {
	p.keyFile = p.opts.KeyFile
	if p.keyFile == "" {
		key, err := cachedKey(p.opts.Account, p.opts.Protocol)
		if err != nil {
			return err
		}
		p.keyFile = filepath.Join(p.dir, "otr.private_key")
		if err := os.WriteFile(p.keyFile, key, 0o600); err != nil {
			return fmt.Errorf("libotrpeer: %w", err)
		}
	}
	ckey := C.CString(p.keyFile)
	defer C.free(unsafe.Pointer(ckey))
	if e := C.otrl_privkey_read(p.us, ckey); e != 0 {
		return gcryError("otrl_privkey_read", e)
	}
	if C.otrl_privkey_find(p.us, p.account, p.protocol) == nil {
		return fmt.Errorf("libotrpeer: key file has no key for %q/%q", p.opts.Account, p.opts.Protocol)
	}
	if p.opts.InstagFile != "" {
		p.instagFile = p.opts.InstagFile
		cf := C.CString(p.opts.InstagFile)
		defer C.free(unsafe.Pointer(cf))
		if e := C.otrl_instag_read(p.us, cf); e != 0 {
			return gcryError("otrl_instag_read", e)
		}
	} else {
		p.instagFile = filepath.Join(p.dir, "otr.instance_tags")
		cf := C.CString(p.instagFile)
		defer C.free(unsafe.Pointer(cf))
		if e := C.otrl_instag_generate(p.us, cf, p.account, p.protocol); e != 0 {
			return gcryError("otrl_instag_generate", e)
		}
	}
	if C.otrl_instag_find(p.us, p.account, p.protocol) == nil {
		return fmt.Errorf("libotrpeer: no instance tag for %q/%q", p.opts.Account, p.opts.Protocol)
	}
	return nil
}

// cachedKey returns the contents of a libotr private key file for the
// account, generating it on first use. The caller holds lib.
func cachedKey(account, protocol string) ([]byte, error) {
	k := [2]string{account, protocol}
	if b, ok := keyCache[k]; ok {
		return b, nil
	}
	dir, err := os.MkdirTemp("", "libotrpeer-key-")
	if err != nil {
		return nil, fmt.Errorf("libotrpeer: %w", err)
	}
	defer os.RemoveAll(dir)
	b, err := generateKey(filepath.Join(dir, "otr.private_key"), account, protocol)
	if err != nil {
		return nil, err
	}
	keyCache[k] = b
	return b, nil
}

func generateKey(path, account, protocol string) ([]byte, error) {
	us := C.otrl_userstate_create()
	defer C.otrl_userstate_free(us)
	cpath, cacc, cproto := C.CString(path), C.CString(account), C.CString(protocol)
	defer C.free(unsafe.Pointer(cpath))
	defer C.free(unsafe.Pointer(cacc))
	defer C.free(unsafe.Pointer(cproto))
	if e := C.otrl_privkey_generate(us, cpath, cacc, cproto); e != 0 {
		return nil, gcryError("otrl_privkey_generate", e)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("libotrpeer: %w", err)
	}
	return b, nil
}

// GenerateKeyFile makes a new libotr private key for the account and
// writes it to path, for Options.KeyFile. It takes seconds.
func GenerateKeyFile(path, account, protocol string) error {
	if protocol == "" {
		protocol = "otrgo"
	}
	if err := initLib(); err != nil {
		return err
	}
	lib.Lock()
	defer lib.Unlock()
	_, err := generateKey(path, account, protocol)
	return err
}

// Close frees the libotr state and removes the Peer's temporary files.
func (p *Peer) Close() {
	lib.Lock()
	defer lib.Unlock()
	p.free()
}

func (p *Peer) free() {
	if p.us == nil {
		return
	}
	C.otrl_userstate_free(p.us)
	p.us = nil
	p.h.Delete()
	C.free(unsafe.Pointer(p.account))
	C.free(unsafe.Pointer(p.protocol))
	os.RemoveAll(p.dir)
}

// begin resets the per-call buffers; the caller holds lib.
func (p *Peer) begin() {
	p.out = nil
	p.decrypted = false
}

func (p *Peer) take() []string {
	out := p.out
	p.out = nil
	return out
}

// Send passes text through otrl_message_sending to the contact's best
// instance and returns the wire messages to deliver, in order: whatever
// libotr injected (fragments, a query instead of plaintext) or, when
// libotr left the message alone, text itself. A nil slice with a nil error
// means libotr sends nothing (for example in the FINISHED state, see the
// ConnectionEnded event).
func (p *Peer) Send(contact, text string) ([]string, error) {
	return p.SendTo(contact, InstanceBest, text)
}

// SendTo is Send to one instance tag of the contact (or a meta tag such as
// InstanceBest).
func (p *Peer) SendTo(contact string, instance uint32, text string) ([]string, error) {
	lib.Lock()
	defer lib.Unlock()
	if p.us == nil {
		return nil, errClosed
	}
	p.begin()
	cc, ct := C.CString(contact), C.CString(text)
	defer C.free(unsafe.Pointer(cc))
	defer C.free(unsafe.Pointer(ct))
	var out *C.char
	e := C.peer_sending(p.us, C.uintptr_t(p.h), p.account, p.protocol, cc,
		C.otrl_instag_t(instance), ct, &out)
	msgs := p.take()
	if out != nil {
		// With OTRL_FRAGMENT_SEND_ALL libotr has injected *messagep already.
		C.otrl_message_free(out)
	} else if e == 0 {
		msgs = append(msgs, text)
	}
	if e != 0 {
		return msgs, gcryError("otrl_message_sending", e)
	}
	return msgs, nil
}

// Receive passes one wire message from the contact through
// otrl_message_receiving.
func (p *Peer) Receive(contact, wire string) (Received, error) {
	lib.Lock()
	defer lib.Unlock()
	if p.us == nil {
		return Received{}, errClosed
	}
	p.begin()
	cc, cw := C.CString(contact), C.CString(wire)
	defer C.free(unsafe.Pointer(cc))
	defer C.free(unsafe.Pointer(cw))
	var newmsg *C.char
	var tlvs *C.OtrlTLV
	ignore := C.peer_receiving(p.us, C.uintptr_t(p.h), p.account, p.protocol,
		cc, cw, &newmsg, &tlvs)
	r := Received{Inject: p.take()}
	if ignore == 0 {
		r.Delivered = true
		r.Encrypted = p.decrypted
		r.Text = wire
		if newmsg != nil {
			r.Text = C.GoString(newmsg)
		}
	}
	if newmsg != nil {
		C.otrl_message_free(newmsg)
	}
	for t := tlvs; t != nil; t = t.next {
		r.TLVs = append(r.TLVs, uint16(t._type))
	}
	if tlvs != nil {
		C.otrl_tlv_free(tlvs)
	}
	return r, nil
}

// Query returns libotr's query message for the Peer's policy
// (otrl_proto_default_query_msg).
func (p *Peer) Query() string {
	lib.Lock()
	defer lib.Unlock()
	if p.us == nil {
		return ""
	}
	q := C.otrl_proto_default_query_msg(p.account, C.OtrlPolicy(p.opts.Policy))
	if q == nil {
		return ""
	}
	defer C.free(unsafe.Pointer(q))
	return C.GoString(q)
}

// SetPolicy changes the policy used from the next call on.
func (p *Peer) SetPolicy(policy uint32) {
	lib.Lock()
	defer lib.Unlock()
	p.opts.Policy = policy
}

// End ends the private conversation with every instance of the contact
// (otrl_message_disconnect_all_instances) and returns the disconnect
// notices to deliver.
func (p *Peer) End(contact string) []string {
	lib.Lock()
	defer lib.Unlock()
	if p.us == nil {
		return nil
	}
	p.begin()
	cc := C.CString(contact)
	defer C.free(unsafe.Pointer(cc))
	C.peer_disconnect_all(p.us, C.uintptr_t(p.h), p.account, p.protocol, cc)
	return p.take()
}

// EndInstance is End for one instance tag (otrl_message_disconnect).
func (p *Peer) EndInstance(contact string, instance uint32) []string {
	lib.Lock()
	defer lib.Unlock()
	if p.us == nil {
		return nil
	}
	p.begin()
	cc := C.CString(contact)
	defer C.free(unsafe.Pointer(cc))
	C.peer_disconnect(p.us, C.uintptr_t(p.h), p.account, p.protocol, cc, C.otrl_instag_t(instance))
	return p.take()
}

// Forget drops every context of the contact (forcing them to plaintext
// first without notice), so that the next conversation starts afresh.
func (p *Peer) Forget(contact string) {
	lib.Lock()
	defer lib.Unlock()
	if p.us == nil {
		return
	}
	m := p.find(contact, InstanceMaster)
	if m == nil {
		return
	}
	for c := m; c != nil && c.m_context == m; c = c.next {
		C.otrl_context_force_plaintext(c)
	}
	C.otrl_context_forget(m)
}

// Events returns the recorded callbacks since the last call and forgets
// them.
func (p *Peer) Events() []Event {
	lib.Lock()
	defer lib.Unlock()
	ev := p.events
	p.events = nil
	return ev
}

// find returns the contact's context for a real or meta instance tag, or
// nil. The caller holds lib.
func (p *Peer) find(contact string, instance uint32) *C.ConnContext {
	cc := C.CString(contact)
	defer C.free(unsafe.Pointer(cc))
	return C.otrl_context_find(p.us, cc, p.account, p.protocol,
		C.otrl_instag_t(instance), 0, nil, nil, nil)
}

// Secure reports whether the contact's best instance is ENCRYPTED.
func (p *Peer) Secure(contact string) bool {
	return p.State(contact, InstanceBest) == StateEncrypted
}

// State returns the message state of the contact's context for the
// instance tag (real or meta); StatePlaintext if there is none.
func (p *Peer) State(contact string, instance uint32) MsgState {
	lib.Lock()
	defer lib.Unlock()
	if p.us == nil {
		return StatePlaintext
	}
	c := p.find(contact, instance)
	if c == nil {
		return StatePlaintext
	}
	return MsgState(c.msgstate)
}

// Fingerprint returns our own fingerprint in libotr's human form (five
// groups of eight upper-case hex digits).
func (p *Peer) Fingerprint() string {
	lib.Lock()
	defer lib.Unlock()
	if p.us == nil {
		return ""
	}
	var buf [C.OTRL_PRIVKEY_FPRINT_HUMAN_LEN]C.char
	if C.otrl_privkey_fingerprint(p.us, &buf[0], p.account, p.protocol) == nil {
		return ""
	}
	return C.GoString(&buf[0])
}

// TheirFingerprint returns the active fingerprint of the contact's best
// instance in human form, or "" if there is none.
func (p *Peer) TheirFingerprint(contact string) string {
	lib.Lock()
	defer lib.Unlock()
	if p.us == nil {
		return ""
	}
	return contextInfo(p.find(contact, InstanceBest)).Fingerprint
}

// SSID returns the secure session id of the contact's best instance (8
// bytes for OTR3), or nil if there is none.
func (p *Peer) SSID(contact string) []byte {
	lib.Lock()
	defer lib.Unlock()
	if p.us == nil {
		return nil
	}
	return contextInfo(p.find(contact, InstanceBest)).SSID
}

// Contexts describes every context of the contact, master first.
func (p *Peer) Contexts(contact string) []ContextInfo {
	lib.Lock()
	defer lib.Unlock()
	if p.us == nil {
		return nil
	}
	m := p.find(contact, InstanceMaster)
	var infos []ContextInfo
	for c := m; c != nil && c.m_context == m; c = c.next {
		infos = append(infos, contextInfo(c))
	}
	return infos
}

func contextInfo(c *C.ConnContext) ContextInfo {
	if c == nil {
		return ContextInfo{}
	}
	info := ContextInfo{
		Instance: uint32(c.their_instance),
		State:    MsgState(c.msgstate),
		Version:  int(c.protocol_version),
	}
	if fp := c.active_fingerprint; fp != nil && fp.fingerprint != nil {
		var buf [C.OTRL_PRIVKEY_FPRINT_HUMAN_LEN]C.char
		C.otrl_privkey_hash_to_human(&buf[0], fp.fingerprint)
		info.Fingerprint = C.GoString(&buf[0])
	}
	if n := int(c.sessionid_len); n > 0 && n <= len(c.sessionid) {
		info.SSID = C.GoBytes(unsafe.Pointer(&c.sessionid[0]), C.int(n))
	}
	return info
}

// InstanceTag returns our instance tag.
func (p *Peer) InstanceTag() uint32 {
	lib.Lock()
	defer lib.Unlock()
	if p.us == nil {
		return 0
	}
	t := C.otrl_instag_find(p.us, p.account, p.protocol)
	if t == nil {
		return 0
	}
	return uint32(t.instag)
}

// InstagFile returns the path of the instance tag file the Peer read or
// generated; it stays valid until Close when the Peer generated it.
func (p *Peer) InstagFile() string { return p.instagFile }

// WriteFingerprints writes libotr's fingerprint store (otr.fingerprints:
// every contact's fingerprint and its trust) to path
// (otrl_privkey_write_fingerprints).
func (p *Peer) WriteFingerprints(path string) error {
	lib.Lock()
	defer lib.Unlock()
	if p.us == nil {
		return errClosed
	}
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	if e := C.otrl_privkey_write_fingerprints(p.us, cp); e != 0 {
		return gcryError("otrl_privkey_write_fingerprints", e)
	}
	return nil
}

// ReadFingerprints loads a fingerprint store file into the Peer
// (otrl_privkey_read_fingerprints), as libotr clients do at start.
func (p *Peer) ReadFingerprints(path string) error {
	lib.Lock()
	defer lib.Unlock()
	if p.us == nil {
		return errClosed
	}
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	if e := C.otrl_privkey_read_fingerprints(p.us, cp, nil, nil); e != 0 {
		return gcryError("otrl_privkey_read_fingerprints", e)
	}
	return nil
}

// Trust returns the trust string libotr keeps for the contact's active
// fingerprint (best instance): "" if untrusted or unknown, "smp" after a
// successful SMP, or whatever a fingerprint file said.
func (p *Peer) Trust(contact string) string {
	lib.Lock()
	defer lib.Unlock()
	if p.us == nil {
		return ""
	}
	c := p.find(contact, InstanceBest)
	if c == nil || c.active_fingerprint == nil || c.active_fingerprint.trust == nil {
		return ""
	}
	return C.GoString(c.active_fingerprint.trust)
}

// KeyFile returns the path of the private key file the Peer loaded; it
// stays valid until Close when the Peer generated it.
func (p *Peer) KeyFile() string { return p.keyFile }

// encrypted returns the contact's best context if it is ENCRYPTED. The
// caller holds lib.
func (p *Peer) encrypted(contact string) (*C.ConnContext, error) {
	if p.us == nil {
		return nil, errClosed
	}
	c := p.find(contact, InstanceBest)
	if c == nil || c.msgstate != C.OTRL_MSGSTATE_ENCRYPTED {
		return nil, fmt.Errorf("libotrpeer: no encrypted session with %q", contact)
	}
	return c, nil
}

// StartSMP starts the Socialist Millionaires' Protocol with the contact's
// best instance, with a question unless it is empty, and returns the
// messages to deliver.
func (p *Peer) StartSMP(contact, question, secret string) ([]string, error) {
	lib.Lock()
	defer lib.Unlock()
	c, err := p.encrypted(contact)
	if err != nil {
		return nil, err
	}
	p.begin()
	var cq *C.char
	if question != "" {
		cq = C.CString(question)
		defer C.free(unsafe.Pointer(cq))
	}
	cs := C.CBytes([]byte(secret))
	defer C.free(cs)
	C.peer_smp_start(p.us, C.uintptr_t(p.h), c, cq, (*C.uchar)(cs), C.size_t(len(secret)))
	return p.take(), nil
}

// RespondSMP answers the contact's SMP request with the secret.
func (p *Peer) RespondSMP(contact, secret string) ([]string, error) {
	lib.Lock()
	defer lib.Unlock()
	c, err := p.encrypted(contact)
	if err != nil {
		return nil, err
	}
	p.begin()
	cs := C.CBytes([]byte(secret))
	defer C.free(cs)
	C.peer_smp_respond(p.us, C.uintptr_t(p.h), c, (*C.uchar)(cs), C.size_t(len(secret)))
	return p.take(), nil
}

// AbortSMP aborts the SMP with the contact and returns the abort message.
func (p *Peer) AbortSMP(contact string) ([]string, error) {
	lib.Lock()
	defer lib.Unlock()
	c, err := p.encrypted(contact)
	if err != nil {
		return nil, err
	}
	p.begin()
	C.peer_smp_abort(p.us, C.uintptr_t(p.h), c)
	return p.take(), nil
}

// SymKey returns libotr's current extra symmetric key with the contact and
// the data message (TLV 8 with use and usedata) that tells the contact.
func (p *Peer) SymKey(contact string, use uint32, usedata []byte) ([32]byte, []string, error) {
	var key [32]byte
	lib.Lock()
	defer lib.Unlock()
	c, err := p.encrypted(contact)
	if err != nil {
		return key, nil, err
	}
	p.begin()
	var cd unsafe.Pointer
	if len(usedata) > 0 {
		cd = C.CBytes(usedata)
		defer C.free(cd)
	}
	ck := C.malloc(32)
	defer C.free(ck)
	e := C.peer_symkey(p.us, C.uintptr_t(p.h), c, C.uint(use), (*C.uchar)(cd),
		C.size_t(len(usedata)), (*C.uchar)(ck))
	msgs := p.take()
	if e != 0 {
		return key, msgs, gcryError("otrl_message_symkey", e)
	}
	copy(key[:], C.GoBytes(ck, 32))
	return key, msgs, nil
}

// Poll runs otrl_message_poll (expiry of stale AKE keys) and returns what
// it sends, normally nothing.
func (p *Peer) Poll() []string {
	lib.Lock()
	defer lib.Unlock()
	if p.us == nil {
		return nil
	}
	p.begin()
	C.peer_poll(p.us, C.uintptr_t(p.h))
	return p.take()
}

// AgeLastSent moves libotr's record of when it last sent a data message to
// the contact back by d (whole seconds; a fraction is dropped), in the
// master context and in every instance context of the contact
// (context_priv->lastsent of each). libotr sends its heartbeat from Receive
// when it decrypts a data message and lastsent is more than 60 seconds
// old: AgeLastSent lets a test reach that without waiting. It returns how
// many contexts it changed, 0 if libotr knows no context for the contact.
func (p *Peer) AgeLastSent(contact string, d time.Duration) int {
	lib.Lock()
	defer lib.Unlock()
	if p.us == nil {
		return 0
	}
	m := p.find(contact, InstanceMaster)
	if m == nil {
		return 0
	}
	return int(C.peer_age_lastsent(m, C.long(d/time.Second)))
}
