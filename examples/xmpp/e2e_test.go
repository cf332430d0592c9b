package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/otrgo/otr"
	"mellium.im/xmpp/jid"
)

// The end-to-end test: clients of this package, over real XMPP
// connections, through a prosody server started for the test (see
// prosody_test.go). Each scenario uses its own accounts, so that all but
// the server restart run in parallel.

// timeout bounds every wait for something the server or a peer does.
const timeout = 30 * time.Second

var transcript = flag.Bool("transcript", false, "log every client's lines (shortened) at the end of each scenario")

// Policies of the scenarios: whitespace tags only where the scenario
// wants them, so that every key exchange is the one the test starts.
const (
	policy4 = otr.AllowV3 | otr.AllowV4 | otr.ErrorStartAKE
	policy3 = otr.AllowV3 | otr.ErrorStartAKE
)

func TestOverProsody(t *testing.T) {
	start := time.Now()
	srv := startProsody(t,
		"alice4", "bob4", "alice3", "bob3", "alice-multi", "bob-multi",
		"alice-mam", "bob-mam", "alice-restart", "bob-restart")
	t.Logf("prosody up on %s after %v", srv.addr(), time.Since(start).Round(time.Millisecond))
	t.Run("parallel", func(t *testing.T) {
		t.Run("OTRv4", func(t *testing.T) {
			t.Parallel()
			testConversation(t, srv, "alice4", "bob4", policy4, 4)
		})
		t.Run("OTR3", func(t *testing.T) {
			t.Parallel()
			testConversation(t, srv, "alice3", "bob3", policy3, 3)
		})
		t.Run("TwoResources", func(t *testing.T) {
			t.Parallel()
			testTwoResources(t, srv)
		})
		t.Run("ArchiveHoldsNoPlaintext", func(t *testing.T) {
			t.Parallel()
			testArchive(t, srv)
		})
	})
	// Last and alone: it stops the server.
	t.Run("ServerRestart", func(t *testing.T) { testRestart(t, srv) })
	t.Logf("end-to-end wall time %v", time.Since(start).Round(time.Millisecond))
}

// testConversation: alice and bob reach the expected protocol version,
// exchange 50 messages each way at once, a 200 KiB message crosses
// fragmented under the stanza limit, SMP with a question succeeds and
// then fails, and alice ends the session.
func testConversation(t *testing.T, srv *prosody, aliceUser, bobUser string, policy otr.Policy, version int) {
	tr := newTranscript(t)
	a := newPeer(t, srv, tr, aliceUser, "laptop", policy)
	b := newPeer(t, srv, tr, bobUser, "phone", policy)

	sa, sb := secure(t, a, b)
	if sa.Version != version || sb.Version != version {
		t.Fatalf("secure as v%d (alice) and v%d (bob), want v%d", sa.Version, sb.Version, version)
	}

	// 50 messages each way, both directions at once.
	var wg sync.WaitGroup
	for _, d := range [][2]*peer{{a, b}, {b, a}} {
		from, to := d[0], d[1]
		wg.Go(func() {
			for i := range 50 {
				if err := from.c.say(to.jid, 0, chatText(from.name, i)); err != nil {
					t.Errorf("%s: say #%d: %v", from.name, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, d := range [][2]*peer{{a, b}, {b, a}} {
		from, to := d[0], d[1]
		got := to.waitTexts(from.jid, 50)
		for i, text := range got {
			if want := chatText(from.name, i); text != want {
				t.Errorf("%s got message %d = %q, want %q", to.name, i, text, want)
			}
		}
	}

	// 200 KiB, fragmented to fit the 16 KiB stanza limit.
	big := bigText(200 << 10)
	mark := a.sentCount()
	if err := a.c.say(b.jid, 0, big); err != nil {
		t.Fatalf("say 200 KiB: %v", err)
	}
	if got := b.waitTexts(a.jid, 1)[0]; got != big {
		t.Fatalf("200 KiB message arrived as %d bytes, not intact", len(got))
	}
	stanzas, largest := a.stanzasSince(mark)
	if stanzas < len(big)/stanzaLimit || largest != stanzaLimit {
		t.Errorf("200 KiB message went as %d stanzas, the largest of %d bytes; want more than %d, the largest exactly the limit %d",
			stanzas, largest, len(big)/stanzaLimit, stanzaLimit)
	}
	t.Logf("v%d: 200 KiB message sent as %d stanzas of at most %d bytes", version, stanzas, largest)

	// SMP with a question: the right answer, then a wrong one.
	const question, secret = "Where did we first meet? (one word)", "Lisboa"
	smp := func(answer string) {
		t.Helper()
		if err := a.c.startSMP(b.jid, 0, question, secret); err != nil {
			t.Fatalf("startSMP: %v", err)
		}
		q := waitEvent(b, a.jid, func(otr.SMPQuestionEvent) bool { return true })
		if !q.HasQuestion || q.Question != question {
			t.Fatalf("bob was asked %q (has question %v), want %q", q.Question, q.HasQuestion, question)
		}
		if err := b.c.answerSMP(a.jid, 0, answer); err != nil {
			t.Fatalf("answerSMP: %v", err)
		}
	}
	smp(secret)
	waitEvent(a, b.jid, func(e otr.SMPSucceededEvent) bool { return !e.AnsweredQuestion })
	waitEvent(b, a.jid, func(e otr.SMPSucceededEvent) bool { return e.AnsweredQuestion })
	if got := a.storedTrust(b.jid, sa.Fingerprint); got != otr.SMPVerified {
		t.Errorf("after SMP succeeded, alice's state directory has bob's fingerprint as %v, want %v", got, otr.SMPVerified)
	}
	smp("Porto")
	waitEvent(a, b.jid, func(e otr.SMPFailedEvent) bool { return !e.Protocol })
	waitEvent(b, a.jid, func(e otr.SMPFailedEvent) bool { return !e.Protocol })
	if got := a.storedTrust(b.jid, sa.Fingerprint); got != otr.Untrusted {
		t.Errorf("after SMP failed, alice's state directory has bob's fingerprint as %v, want %v", got, otr.Untrusted)
	}

	// The end: bob learns it, and his next words are refused, not sent in
	// the clear.
	if err := a.c.end(b.jid, 0); err != nil {
		t.Fatalf("end: %v", err)
	}
	waitEvent(a, b.jid, func(otr.EndedEvent) bool { return true })
	waitEvent(b, a.jid, func(otr.FinishedEvent) bool { return true })
	if err := b.c.say(a.jid, 0, "are you still there?"); !errors.Is(err, otr.ErrSessionFinished) {
		t.Errorf("bob's say after the end: error %v, want %v", err, otr.ErrSessionFinished)
	}
	b.wait("the refused text reported", func() bool { return len(b.undelivered) == 1 })

	for _, p := range []*peer{a, b} {
		p.checkClean()
	}
}

// testTwoResources: bob is logged in from two resources with equal
// priority and alice writes to his bare JID, so that both receive every
// stanza. Alice sees two instances and talks to each on purpose; her
// default instance follows the library's rule; neither of bob's resources
// answers the other's ciphertext with an error.
func testTwoResources(t *testing.T, srv *prosody) {
	tr := newTranscript(t)
	a := newPeer(t, srv, tr, "alice-multi", "desk", policy4)
	phone := newPeer(t, srv, tr, "bob-multi", "phone", policy4)
	laptop := newPeer(t, srv, tr, "bob-multi", "laptop", policy4)
	bob := phone.jid

	// Carbons work: the phone's plaintext to alice is copied to the laptop.
	if err := phone.c.say(a.jid, 0, "plain hello from the phone"); err != nil {
		t.Fatal(err)
	}
	waitEvent(a, bob, func(e otr.PlaintextEvent) bool { return e.Text == "plain hello from the phone" })
	laptop.wait("a carbon of the phone's plaintext", func() bool {
		for _, cb := range laptop.carbons {
			if cb.sent && cb.body == "plain hello from the phone" {
				return true
			}
		}
		return false
	})

	// One query to the bare JID: both resources answer.
	if err := a.c.startOTR(bob); err != nil {
		t.Fatal(err)
	}
	tags := map[uint32]*peer{phone.c.acct.InstanceTag(): phone, laptop.c.acct.InstanceTag(): laptop}
	for range 2 {
		waitEvent(a, bob, func(e otr.SecureEvent) bool { return tags[e.Instance] != nil && e.Version == 4 })
	}
	waitEvent(phone, a.jid, func(otr.SecureEvent) bool { return true })
	waitEvent(laptop, a.jid, func(otr.SecureEvent) bool { return true })
	list, _ := a.c.instances(bob)
	if len(list) != 2 || list[0].Status != otr.Encrypted || list[1].Status != otr.Encrypted {
		t.Fatalf("alice sees bob's instances %+v, want two encrypted", list)
	}
	phoneTag, laptopTag := phone.c.acct.InstanceTag(), laptop.c.acct.InstanceTag()

	// expect checks that text reached exactly one of bob's resources.
	expect := func(to *peer, text string) {
		t.Helper()
		got := to.waitTexts(a.jid, 1)[0]
		if got != text {
			t.Fatalf("%s got %q, want %q", to.name, got, text)
		}
	}
	say := func(from *peer, to string, instance uint32, text string) {
		t.Helper()
		if err := from.c.say(to, instance, text); err != nil {
			t.Fatalf("%s: say %q: %v", from.name, text, err)
		}
	}
	defaultIs := func(want *peer) {
		t.Helper()
		if _, def := a.c.instances(bob); def != want.c.acct.InstanceTag() {
			t.Fatalf("alice's default instance is %08x, want %s's %08x", def, want.name, want.c.acct.InstanceTag())
		}
	}

	// On purpose, by instance tag (/to).
	say(a, bob, phoneTag, "for the phone only")
	expect(phone, "for the phone only")
	say(a, bob, laptopTag, "for the laptop only")
	expect(laptop, "for the laptop only")

	// The rule, among untrusted OTRv4 instances: the most recent
	// authenticated message wins.
	say(laptop, a.jid, 0, "the laptop writes")
	waitEvent(a, bob, func(e otr.MessageEvent) bool { return e.Instance == laptopTag && e.Text == "the laptop writes" })
	defaultIs(laptop)
	say(a, bob, 0, "to the default: the laptop")
	expect(laptop, "to the default: the laptop")
	markUsed[otr.InstanceChangedEvent](a)
	say(phone, a.jid, 0, "the phone writes")
	waitEvent(a, bob, func(e otr.MessageEvent) bool { return e.Instance == phoneTag && e.Text == "the phone writes" })
	waitEvent(a, bob, func(e otr.InstanceChangedEvent) bool { return e.NewInstance == phoneTag && e.OldInstance == laptopTag })
	defaultIs(phone)
	say(a, bob, 0, "to the default: the phone")
	expect(phone, "to the default: the phone")

	// Trust ranks before recency: alice trusts the laptop's fingerprint;
	// the phone writing again does not take the default back.
	markUsed[otr.InstanceChangedEvent](a)
	if _, err := a.c.trust(bob, laptopTag); err != nil {
		t.Fatal(err)
	}
	waitEvent(a, bob, func(e otr.InstanceChangedEvent) bool { return e.NewInstance == laptopTag })
	say(phone, a.jid, 0, "the phone writes again")
	waitEvent(a, bob, func(e otr.MessageEvent) bool { return e.Instance == phoneTag && e.Text == "the phone writes again" })
	defaultIs(laptop)
	say(a, bob, 0, "to the trusted laptop")
	expect(laptop, "to the trusted laptop")

	// Everything each resource decrypted was meant for it: a last message
	// to each, by tag, is the next text each decrypts (the server delivers
	// in order). Neither saw an OTR carbon or answered anything with an
	// OTR error.
	say(a, bob, phoneTag, "last, for the phone")
	say(a, bob, laptopTag, "last, for the laptop")
	expect(phone, "last, for the phone")
	expect(laptop, "last, for the laptop")
	for _, p := range []*peer{a, phone, laptop} {
		p.checkClean()
	}
}

// testArchive: with RequireEncryption, every message body that left
// alice, as she wrote it and as the server archived it (MAM), is an OTR
// message, never her plaintext.
func testArchive(t *testing.T, srv *prosody) {
	tr := newTranscript(t)
	a := newPeer(t, srv, tr, "alice-mam", "desk", policy4|otr.RequireEncryption)
	b := newPeer(t, srv, tr, "bob-mam", "desk", policy4)

	// Bob's plaintext is archived: the archive works.
	if err := b.c.say(a.jid, 0, "bob's plaintext, archived"); err != nil {
		t.Fatal(err)
	}
	waitEvent(a, b.jid, func(e otr.UnencryptedEvent) bool { return e.Text == "bob's plaintext, archived" })

	// Alice's words wait for the key exchange her first Send starts.
	var texts []string
	for i := range 5 {
		texts = append(texts, fmt.Sprintf("alice's secret #%d, never in the clear", i))
		if err := a.c.say(b.jid, 0, texts[i]); err != nil {
			t.Fatal(err)
		}
	}
	waitEvent(a, b.jid, func(otr.PendingSentEvent) bool { return true })
	for i := range 5 {
		texts = append(texts, fmt.Sprintf("alice's secret #%d, encrypted at once", 5+i))
		if err := a.c.say(b.jid, 0, texts[5+i]); err != nil {
			t.Fatal(err)
		}
	}
	got := b.waitTexts(a.jid, 10)
	for i := range texts {
		if got[i] != texts[i] {
			t.Errorf("bob got %q, want %q", got[i], texts[i])
		}
	}
	if err := a.c.end(b.jid, 0); err != nil {
		t.Fatal(err)
	}
	waitEvent(b, a.jid, func(otr.FinishedEvent) bool { return true })

	// What left alice.
	a.mu.Lock()
	sent := append([]sentStanza(nil), a.sent...)
	a.mu.Unlock()
	for _, s := range sent {
		if !s.isOTR || !strings.HasPrefix(s.body, "?OTR") {
			t.Errorf("alice sent a body that is not an OTR message: %q", short(s.body))
		}
	}

	// What the server archived, in alice's archive and in bob's.
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for _, q := range []struct {
		p    *peer
		with string
	}{{a, b.jid}, {b, a.jid}} {
		items, err := q.p.c.archive(ctx, jid.MustParse(q.with))
		if err != nil {
			t.Fatalf("%s: archive query: %v", q.p.name, err)
		}
		fromAlice, otrFromAlice, others := 0, 0, 0
		for _, it := range items {
			from, err := jid.Parse(it.From)
			if err != nil || from.Bare().String() != a.jid {
				others++
				continue
			}
			fromAlice++
			if strings.HasPrefix(it.Body, "?OTR") {
				otrFromAlice++
			} else {
				t.Errorf("%s's archive holds alice's body %q: not an OTR message", q.p.name, short(it.Body))
			}
			for _, text := range texts {
				if strings.Contains(it.Body, text) {
					t.Errorf("%s's archive holds alice's plaintext %q", q.p.name, text)
				}
			}
		}
		if q.p == a && others == 0 {
			t.Errorf("alice's archive is empty of bob's plaintext: is MAM archiving at all?")
		}
		t.Logf("%s's archive with %s: %d messages: %d from alice (%d of them OTR), %d from bob",
			q.p.name, q.with, len(items), fromAlice, otrFromAlice, others)
	}
	for _, p := range []*peer{a, b} {
		p.checkClean()
	}
}

// testRestart: the server restarts during an encrypted conversation; the
// clients reconnect by themselves, the next message each way decrypts
// without a new key exchange (same SSID), and every send that failed
// during the outage is reported to its user, message by message.
func testRestart(t *testing.T, srv *prosody) {
	tr := newTranscript(t)
	a := newPeer(t, srv, tr, "alice-restart", "desk", policy4)
	b := newPeer(t, srv, tr, "bob-restart", "desk", policy4)
	sa, sb := secure(t, a, b)
	exchange := func(label string) {
		t.Helper()
		for _, d := range [][2]*peer{{a, b}, {b, a}} {
			text := fmt.Sprintf("%s, from %s", label, d[0].name)
			if err := d[0].c.say(d[1].jid, 0, text); err != nil {
				t.Fatalf("%s: %v", d[0].name, err)
			}
			if got := d[1].waitTexts(d[0].jid, 1)[0]; got != text {
				t.Fatalf("%s got %q, want %q", d[1].name, got, text)
			}
		}
	}
	exchange("before the restart")

	srv.stop()
	for _, p := range []*peer{a, b} {
		p.waitConnected(false)
	}
	lost := map[*peer][]string{
		a: {"lost 1 from alice", "lost 2 from alice", "lost 3 from alice"},
		b: {"lost 1 from bob", "lost 2 from bob"},
	}
	for p, texts := range lost {
		other := b
		if p == b {
			other = a
		}
		for _, text := range texts {
			if err := p.c.say(other.jid, 0, text); err == nil {
				t.Errorf("%s: say %q during the outage succeeded", p.name, text)
			}
		}
	}
	srv.start()
	for _, p := range []*peer{a, b} {
		p.waitConnected(true)
	}
	for p, texts := range lost {
		p.mu.Lock()
		got := append([]string(nil), p.undelivered...)
		p.mu.Unlock()
		if strings.Join(got, "|") != strings.Join(texts, "|") {
			t.Errorf("%s was told of undelivered %q, want %q", p.name, got, texts)
		}
	}

	exchange("after the restart")
	for _, p := range []*peer{a, b} {
		p.mu.Lock()
		for _, r := range p.events {
			if _, ok := r.ev.(otr.SecureEvent); ok && !r.used {
				t.Errorf("%s: a new key exchange after the restart: %v", p.name, r.ev)
			}
		}
		p.mu.Unlock()
	}
	if got, _ := a.c.acct.Session(b.jid).SSID(0); got != sa.SSID {
		t.Errorf("alice's SSID after the restart %v, want %v", got, sa.SSID)
	}
	if got, _ := b.c.acct.Session(a.jid).SSID(0); got != sb.SSID {
		t.Errorf("bob's SSID after the restart %v, want %v", got, sb.SSID)
	}
	for _, p := range []*peer{a, b} {
		p.checkClean()
	}
}

// secure has alice start OTR with bob and waits until both are secure.
func secure(t *testing.T, a, b *peer) (sa, sb otr.SecureEvent) {
	t.Helper()
	if err := a.c.startOTR(b.jid); err != nil {
		t.Fatalf("startOTR: %v", err)
	}
	sa = waitEvent(a, b.jid, func(otr.SecureEvent) bool { return true })
	sb = waitEvent(b, a.jid, func(otr.SecureEvent) bool { return true })
	if sa.SSID != sb.SSID {
		t.Fatalf("SSIDs differ: alice %v, bob %v", sa.SSID, sb.SSID)
	}
	return sa, sb
}

// chatText is the i-th of the 50 messages from name: unicode, XML's
// special characters, white space and a length that grows.
func chatText(name string, i int) string {
	return fmt.Sprintf("%s #%02d: naïve café, Grüße, Ελληνικά, 日本語, 🔐🦫, ∀x∈ℝ, <b>&amp;</b> \"q\"\n\ttab %s",
		name, i, strings.Repeat("·", 3*i))
}

// bigText returns n bytes of valid UTF-8 text, mixed scripts.
func bigText(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "line %05d: the quick brown fox, der schnelle Fuchs, быстрая лиса, 敏捷的狐狸 🦊\n", i)
	}
	s := b.String()[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// peer is a client under test and everything it reported.
type peer struct {
	t    *testing.T
	name string // user/resource
	jid  string // bare
	dir  string
	c    *client

	mu          sync.Mutex
	changed     chan struct{} // closed and replaced when anything below changes
	events      []eventRecord
	recvErrs    []error
	undelivered []string
	sent        []sentStanza
	carbons     []carbonRecord
}

type eventRecord struct {
	contact string
	ev      otr.Event
	used    bool // matched by a wait
}

type sentStanza struct {
	to, body string
	isOTR    bool
}

type carbonRecord struct {
	sent       bool
	with, body string
}

// newPeer logs user in from resource, with its own state directory, and
// waits until it is connected. It logs out when the test ends.
func newPeer(t *testing.T, srv *prosody, tr *transcriptLog, user, resource string, policy otr.Policy) *peer {
	t.Helper()
	p := &peer{t: t, name: user + "/" + resource, jid: user + "@localhost", dir: t.TempDir(), changed: make(chan struct{})}
	note := func(f func()) {
		p.mu.Lock()
		f()
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
	}
	c, err := newClient(config{
		JID:         jid.MustParse(p.jid + "/" + resource),
		Password:    srv.passwords[user],
		Server:      srv.addr(),
		RootCAs:     srv.pool,
		Dir:         p.dir,
		Policy:      policy,
		StanzaLimit: stanzaLimit,
		Reconnect:   100 * time.Millisecond,
		Timeout:     10 * time.Second,
		Out:         tr.writer(p.name),
		OnEvent: func(contact string, ev otr.Event) {
			note(func() { p.events = append(p.events, eventRecord{contact: contact, ev: ev}) })
		},
		OnReceiveError: func(contact string, err error) { note(func() { p.recvErrs = append(p.recvErrs, err) }) },
		OnUndelivered: func(contact, text string, err error) {
			note(func() { p.undelivered = append(p.undelivered, text) })
		},
		OnSent: func(to, body string, isOTR bool) {
			note(func() { p.sent = append(p.sent, sentStanza{to, body, isOTR}) })
		},
		OnCarbon: func(sent bool, with, body string) {
			note(func() { p.carbons = append(p.carbons, carbonRecord{sent, with, body}) })
		},
		OnConnected:    func(jid.JID) { note(func() {}) },
		OnDisconnected: func(error) { note(func() {}) },
	})
	if err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
	p.c = c
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- c.run(ctx) }()
	t.Cleanup(func() {
		cancel()
		defer c.close()
		if err := <-ran; err != nil {
			t.Errorf("%s: %v", p.name, err)
		}
	})
	up := make(chan error, 1)
	wctx, wcancel := context.WithTimeout(ctx, timeout)
	defer wcancel()
	go func() { up <- c.waitConnected(wctx, true) }()
	select {
	case err := <-ran:
		t.Fatalf("%s: logging in: %v", p.name, err)
	case err := <-up:
		if err != nil {
			t.Fatalf("%s: not connected within %v", p.name, timeout)
		}
	}
	return p
}

// wait waits until cond, called with p.mu held, is true.
func (p *peer) wait(what string, cond func() bool) {
	p.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		ok, ch := cond(), p.changed
		p.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			p.t.Fatalf("%s: no %s within %v", p.name, what, timeout)
		}
	}
}

// waitConnected waits until p is connected (up) or disconnected.
func (p *peer) waitConnected(up bool) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := p.c.waitConnected(ctx, up); err != nil {
		p.t.Fatalf("%s: still not connected=%v after %v", p.name, up, timeout)
	}
}

// waitEvent waits for the first event of type T from contact that match
// accepts and has not been waited for, and marks it used.
func waitEvent[T otr.Event](p *peer, contact string, match func(T) bool) T {
	p.t.Helper()
	var got T
	var zero T
	p.wait(fmt.Sprintf("%T from %s", zero, contact), func() bool {
		for i := range p.events {
			r := &p.events[i]
			if ev, ok := r.ev.(T); ok && !r.used && r.contact == contact && match(ev) {
				r.used, got = true, ev
				return true
			}
		}
		return false
	})
	return got
}

// markUsed marks every event of type T that p has received so far as
// waited for.
func markUsed[T otr.Event](p *peer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.events {
		if _, ok := p.events[i].ev.(T); ok {
			p.events[i].used = true
		}
	}
}

// unusedTexts returns the indexes of the encrypted texts from contact not
// yet waited for. The caller holds p.mu.
func (p *peer) unusedTexts(contact string) []int {
	var idx []int
	for i, r := range p.events {
		if ev, ok := r.ev.(otr.MessageEvent); ok && !r.used && r.contact == contact && ev.Text != "" {
			idx = append(idx, i)
		}
	}
	return idx
}

// waitTexts waits for the next n encrypted texts from contact and returns
// them in order.
func (p *peer) waitTexts(contact string, n int) []string {
	p.t.Helper()
	var out []string
	p.wait(fmt.Sprintf("%d messages from %s", n, contact), func() bool {
		idx := p.unusedTexts(contact)
		if len(idx) < n {
			return false
		}
		for _, i := range idx[:n] {
			p.events[i].used = true
			out = append(out, p.events[i].ev.(otr.MessageEvent).Text)
		}
		return true
	})
	return out
}

// sentCount returns how many stanzas p sent so far.
func (p *peer) sentCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sent)
}

// stanzasSince returns how many stanzas p sent since the mark, and the
// size of the largest.
func (p *peer) stanzasSince(mark int) (n, largest int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.sent[mark:] {
		size := outMessage{To: s.to, ID: strings.Repeat("0", idLen), Body: s.body, OTR: s.isOTR}.size()
		n, largest = n+1, max(largest, size)
	}
	return n, largest
}

// storedTrust reads p's state directory afresh and returns the trust
// recorded for contact's fingerprint fp (Untrusted if absent).
func (p *peer) storedTrust(contact string, fp otr.Fingerprint) otr.Trust {
	p.t.Helper()
	// filehost's trust.json, read from the disk (the running client holds
	// the directory's lock, so it is read as a file, not opened).
	b, err := os.ReadFile(filepath.Join(p.dir, "trust.json"))
	if err != nil {
		p.t.Fatal(err)
	}
	var file struct {
		Contacts map[string][]struct {
			Fingerprint string    `json:"fingerprint"`
			Trust       otr.Trust `json:"trust"`
		} `json:"contacts"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		p.t.Fatal(err)
	}
	for _, k := range file.Contacts[contact] {
		if f, err := otr.ParseFingerprint(k.Fingerprint); err == nil && bytes.Equal(f, fp) {
			return k.Trust
		}
	}
	return otr.Untrusted
}

// checkClean reports what must never happen over the server: a message
// the library rejected, an OTR error from the contact or one sent to it,
// a carbon copy of an OTR message.
func (p *peer) checkClean() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, err := range p.recvErrs {
		p.t.Errorf("%s: received a message the library rejected: %v", p.name, err)
	}
	for _, r := range p.events {
		if ev, ok := r.ev.(otr.ErrorEvent); ok {
			p.t.Errorf("%s: OTR error from %s: %v", p.name, r.contact, ev)
		}
	}
	for _, s := range p.sent {
		if strings.HasPrefix(s.body, "?OTR Error:") {
			p.t.Errorf("%s: sent an OTR error to %s: %q", p.name, s.to, s.body)
		}
	}
	for _, cb := range p.carbons {
		if strings.HasPrefix(cb.body, "?OTR") {
			p.t.Errorf("%s: got a carbon copy of an OTR message with %s", p.name, cb.with)
		}
	}
}

// transcriptLog collects the lines every client of a scenario prints,
// each with the time since the scenario began and the client's name, and
// logs them when the scenario ends if it failed or -transcript is set.
type transcriptLog struct {
	start time.Time
	mu    sync.Mutex
	lines []string
}

func newTranscript(t *testing.T) *transcriptLog {
	tr := &transcriptLog{start: time.Now()}
	t.Cleanup(func() {
		if !t.Failed() && !*transcript {
			return
		}
		tr.mu.Lock()
		defer tr.mu.Unlock()
		t.Logf("transcript:\n%s", strings.Join(tr.lines, "\n"))
	})
	return tr
}

func (tr *transcriptLog) writer(name string) *lineWriter { return &lineWriter{tr: tr, name: name} }

// lineWriter is one client's output into a transcriptLog.
type lineWriter struct {
	tr   *transcriptLog
	name string
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.tr.mu.Lock()
	defer w.tr.mu.Unlock()
	for line := range strings.Lines(string(b)) {
		line = short(strings.TrimSuffix(line, "\n"))
		w.tr.lines = append(w.tr.lines, fmt.Sprintf("%6.3fs %-20s %s", time.Since(w.tr.start).Seconds(), w.name, line))
	}
	return len(b), nil
}
