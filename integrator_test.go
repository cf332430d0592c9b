package otr_test

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otrgo/otr"
)

// What an integrator relies on: our fingerprint in the version the contact
// sees, host failures reported, a way to forget a contact, the truth about
// SMP, clear misuse errors.

// Finding 2: our fingerprint on an instance is the one the contact sees.
func TestOurFingerprintPerVersion(t *testing.T) { bothVersions(t, testOurFingerprintPerVersion) }

func testOurFingerprintPerVersion(t *testing.T) {
	alice := newPeer(t, "alice", "bob", 0, 701, nil, 0)
	bob := newPeer(t, "bob", "alice", 1, 702, nil, 0)
	secure(t, alice, bob)
	v := wantVersion()
	if got := alice.sess.OurFingerprint(0); !bytes.Equal(got, alice.fingerprint(v)) || got.Version() != v {
		t.Fatalf("OurFingerprint(0) = %v (v%d), want alice's v%d fingerprint", got, got.Version(), v)
	}
	// It is what bob authenticated.
	if theirs := bob.sess.TheirFingerprint(0); !bytes.Equal(theirs, alice.sess.OurFingerprint(0)) {
		t.Fatalf("bob sees %v, alice shows %v", theirs, alice.sess.OurFingerprint(0))
	}
	info, _ := alice.sess.Instance(0)
	if !bytes.Equal(info.OurFingerprint, alice.fingerprint(v)) || info.Fingerprint.Version() != v {
		t.Fatalf("InstanceInfo %+v", info)
	}
}

// failingHost is a MemoryHost whose methods can be made to fail.
type failingHost struct {
	otr.MemoryHost
	mu                               sync.Mutex
	failSetProfile, failFingerprints bool
	failSetTrust                     bool
}

var errHostDown = errors.New("host: disk full")

func (h *failingHost) set(f func(h *failingHost)) { h.mu.Lock(); f(h); h.mu.Unlock() }

func (h *failingHost) SetClientProfile(p []byte) error {
	h.mu.Lock()
	fail := h.failSetProfile
	h.mu.Unlock()
	if fail {
		return errHostDown
	}
	return h.MemoryHost.SetClientProfile(p)
}

func (h *failingHost) Fingerprints(c string) ([]otr.KnownFingerprint, error) {
	h.mu.Lock()
	fail := h.failFingerprints
	h.mu.Unlock()
	if fail {
		return nil, errHostDown
	}
	return h.MemoryHost.Fingerprints(c)
}

func (h *failingHost) SetTrust(c string, fp otr.Fingerprint, tr otr.Trust) error {
	h.mu.Lock()
	fail := h.failSetTrust
	h.mu.Unlock()
	if fail {
		return errHostDown
	}
	return h.MemoryHost.SetTrust(c, fp, tr)
}

func hostErrors(evs []otr.Event, op string) []otr.HostErrorEvent {
	var out []otr.HostErrorEvent
	for _, e := range eventsOf[otr.HostErrorEvent](evs) {
		if e.Op == op && errors.Is(e.Err, errHostDown) {
			out = append(out, e)
		}
	}
	return out
}

// Finding 4: host failures reach the host as events; a failed profile
// renewal keeps the valid profile (OTRv4 stays on), and OTRv4 goes only
// with the last valid profile.
func TestHostFailuresReported(t *testing.T) {
	clk := &clock{t: time.Unix(1_750_000_000, 0)}
	host := &failingHost{}
	acct, err := otr.NewAccount("alice", keys(t, 0), host, &otr.Options{Now: clk.now, Rand: seeded(711)})
	if err != nil {
		t.Fatal(err)
	}
	alice := &peer{host: &host.MemoryHost, name: "alice", acct: acct, sess: acct.Session("bob")}
	bob := newPeer(t, "bob", "alice", 1, 712, &otr.Options{Now: clk.now}, 0)

	// The renewal (3 days before the 14-day expiry) cannot be stored.
	host.set(func(h *failingHost) { h.failSetProfile = true })
	clk.advance(12 * 24 * time.Hour)
	res, err := alice.sess.Start()
	if err != nil {
		t.Fatal(err)
	}
	if evs := hostErrors(res.Events, "SetClientProfile"); len(evs) != 1 || !strings.Contains(evs[0].Effect, "kept") {
		t.Fatalf("events %v, want one SetClientProfile HostErrorEvent keeping the profile", res.Events)
	}
	if q := res.Send[len(res.Send)-1].Text; !strings.Contains(q, "4") {
		t.Fatalf("query %q does not offer OTRv4 while the profile is valid", q)
	}
	pump(t, alice, bob, res.Send)
	if info, _ := alice.sess.Instance(0); info.Version != 4 {
		t.Fatalf("version %d with a still-valid profile, want 4", info.Version)
	}
	// Past its expiry with no renewal stored: OTRv4 goes, and says so.
	clk.advance(3 * 24 * time.Hour)
	s2 := acct.Session("carol")
	res, err = s2.Start()
	if err != nil {
		t.Fatal(err)
	}
	if evs := hostErrors(res.Events, "SetClientProfile"); len(evs) != 1 || !strings.Contains(evs[0].Effect, "not offered") {
		t.Fatalf("events %v, want OTRv4 dropped with an event", res.Events)
	}

	// The trust store fails: reported, never silently untrusted.
	host.set(func(h *failingHost) { h.failSetProfile, h.failFingerprints = false, true })
	clk.advance(time.Minute)
	dave := acct.Session("dave")
	daveP := newPeer(t, "dave", "alice", 2, 713, &otr.Options{Now: clk.now}, 0)
	res, err = dave.Start()
	if err != nil {
		t.Fatal(err)
	}
	d := &peer{name: "alice", acct: acct, sess: dave}
	d.events = append(d.events, res.Events...)
	pump(t, d, daveP, res.Send)
	if len(hostErrors(d.events, "Fingerprints")) == 0 {
		t.Fatalf("no Fingerprints HostErrorEvent in %v", d.events)
	}
	// SetTrust failing after SMP: reported.
	host.set(func(h *failingHost) { h.failFingerprints, h.failSetTrust = false, true })
	d.events = nil
	res, err = dave.StartSMP(0, []byte("s"), "")
	if err != nil {
		t.Fatal(err)
	}
	pump(t, d, daveP, res.Send)
	res, err = daveP.sess.AnswerSMP(0, []byte("s"))
	if err != nil {
		t.Fatal(err)
	}
	pump(t, daveP, d, res.Send)
	if len(eventsOf[otr.SMPSucceededEvent](d.events)) != 1 || len(hostErrors(d.events, "SetTrust")) != 1 {
		t.Fatalf("events %v, want SMP success and one SetTrust HostErrorEvent", d.events)
	}
}

// Finding 5: a contact can be forgotten: the session ends, its keys go,
// the old *Session refuses calls, a new one starts fresh.
func TestForget(t *testing.T) {
	alice := newPeer(t, "alice", "bob", 0, 721, nil, 0)
	bob := newPeer(t, "bob", "alice", 1, 722, nil, 0)
	secure(t, alice, bob)
	res, err := alice.acct.Forget("bob")
	if err != nil {
		t.Fatal(err)
	}
	pump(t, alice, bob, res.Send)
	if bob.sess.Status(0) != otr.Finished {
		t.Fatalf("bob %v after alice forgot him, want finished", bob.sess.Status(0))
	}
	for _, c := range alice.acct.Sessions() {
		if c == "bob" {
			t.Fatal("bob still listed")
		}
	}
	if _, err := alice.sess.Send(0, "hi"); !errors.Is(err, otr.ErrForgotten) {
		t.Fatalf("Send on a forgotten session: %v", err)
	}
	if _, err := alice.sess.Receive("?OTRv4?"); !errors.Is(err, otr.ErrForgotten) {
		t.Fatalf("Receive on a forgotten session: %v", err)
	}
	fresh := alice.acct.Session("bob")
	if fresh == alice.sess || fresh.Status(0) != otr.Plaintext {
		t.Fatal("Session after Forget is not a fresh one")
	}
	alice.sess = fresh
	bob.sess.End(0)
	secure(t, alice, bob)
	if res, err := alice.acct.Forget("nobody"); err != nil || len(res.Send) != 0 {
		t.Fatalf("Forget of an unknown contact: %v %v", res, err)
	}
}

// Finding 7: the side that answered the contact's question is not told the
// contact was verified.
func TestSMPAnswererTruth(t *testing.T) {
	e := otr.SMPSucceededEvent{Instance: 0x100, Fingerprint: otr.Fingerprint(make([]byte, 20)), AnsweredQuestion: true}
	if s := e.String(); strings.Contains(s, "verified") {
		t.Fatalf("answerer's event says %q", s)
	}
	e.AnsweredQuestion = false
	if s := e.String(); !strings.Contains(s, "verified") {
		t.Fatalf("asker's event says %q", s)
	}
}

// Finding 8: MemoryHost is every optional Host.
func TestMemoryHostPolicy(t *testing.T) {
	var h otr.Host = &otr.MemoryHost{}
	ph, ok := h.(otr.PolicyHost)
	if !ok {
		t.Fatal("MemoryHost is not a PolicyHost")
	}
	if _, ok := h.(otr.TrustHost); !ok {
		t.Fatal("MemoryHost is not a TrustHost")
	}
	h.(*otr.MemoryHost).SetPolicy("bob", otr.AllowV4|otr.RequireEncryption)
	if p, ok := ph.Policy("bob"); !ok || p != otr.AllowV4|otr.RequireEncryption {
		t.Fatalf("Policy = %v %v", p, ok)
	}
	acct, err := otr.NewAccount("alice", keys(t, 0), h, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := acct.Session("bob").Policy(); p != otr.AllowV4|otr.RequireEncryption {
		t.Fatalf("session policy %v", p)
	}
}

// Finding 9: misuse gets errors that say what is wrong.
func TestMisuseErrors(t *testing.T) {
	if _, err := otr.NewAccount("", keys(t, 0), &otr.MemoryHost{}, nil); !errors.Is(err, otr.ErrEmptyID) {
		t.Errorf("empty account name: %v", err)
	}
	if _, err := otr.NewAccount("alice", nil, &otr.MemoryHost{}, nil); !errors.Is(err, otr.ErrNilKeys) {
		t.Errorf("nil keys: %v", err)
	}
	wiped, err := otr.GenerateKeys(seeded(731))
	if err != nil {
		t.Fatal(err)
	}
	wiped.Wipe()
	if _, err := otr.NewAccount("alice", wiped, &otr.MemoryHost{}, nil); !errors.Is(err, otr.ErrKeysWiped) {
		t.Errorf("wiped keys: %v", err)
	}
	if _, err := wiped.MarshalBinary(); !errors.Is(err, otr.ErrKeysWiped) {
		t.Errorf("MarshalBinary of wiped keys: %v", err)
	}
	acct, err := otr.NewAccount("alice", keys(t, 0), &otr.MemoryHost{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acct.Session("").Send(0, "x"); !errors.Is(err, otr.ErrEmptyID) {
		t.Errorf("empty contact: %v", err)
	}
	s := acct.Session("bob")
	s.SetPolicy(otr.RequireEncryption)
	if _, err := s.Send(0, "x"); !errors.Is(err, otr.ErrNoVersion) {
		t.Errorf("RequireEncryption with no version: %v", err)
	}
	if _, err := s.Start(); !errors.Is(err, otr.ErrNoVersion) {
		t.Errorf("Start with no version: %v", err)
	}
	if _, err := otr.NewAccount("alice", keys(t, 0), &otr.MemoryHost{}, &otr.Options{Policy: otr.RequireEncryption}); !errors.Is(err, otr.ErrNoVersion) {
		t.Errorf("account policy RequireEncryption with no version: %v", err)
	}
}
