package otr_test

import (
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/otrgo/otr"
)

// seeded returns a deterministic randomness source.
func seeded(seed uint64) *mrand.ChaCha8 {
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	return mrand.NewChaCha8(s)
}

var (
	keysOnce sync.Once
	testKeys [3]*otr.PrivateKeys
)

// keys returns one of three identity keys, generated once per test binary.
func keys(t testing.TB, i int) *otr.PrivateKeys {
	t.Helper()
	keysOnce.Do(func() {
		for j := range testKeys {
			k, err := otr.GenerateKeys(seeded(uint64(100 + j)))
			if err != nil {
				panic(err)
			}
			testKeys[j] = k
		}
	})
	return testKeys[i]
}

// peer is one side of a test conversation.
type peer struct {
	policy otr.Policy
	host   *otr.MemoryHost
	name   string
	acct   *otr.Account
	sess   *otr.Session
	events []otr.Event
	errs   []error
}

func newPeer(t testing.TB, name, contact string, key int, seed uint64, opts *otr.Options, maxSize int) *peer {
	t.Helper()
	o := otr.Options{}
	if opts != nil {
		o = *opts
	}
	o.Rand = seeded(seed)
	if o.Policy == 0 {
		o.Policy = testPolicy
	} else if o.Policy&(otr.AllowV3|otr.AllowV4) == 0 {
		o.Policy |= testPolicy & (otr.AllowV3 | otr.AllowV4)
	}
	host := &otr.MemoryHost{MaxSize: maxSize}
	a, err := otr.NewAccount(name, keys(t, key), host, &o)
	if err != nil {
		t.Fatal(err)
	}
	return &peer{policy: o.Policy, host: host, name: name, acct: a, sess: a.Session(contact)}
}

// pump delivers msgs from one peer to the other and the replies back, until
// quiet. It returns every wire message carried.
func pump(t testing.TB, from, to *peer, msgs []otr.Message) []string {
	t.Helper()
	var wire []string
	for round := 0; len(msgs) > 0; round++ {
		if round > 20 {
			t.Fatal("messages never stop")
		}
		var replies []otr.Message
		for _, m := range msgs {
			wire = append(wire, m.Text)
			res, err := to.sess.Receive(m.Text)
			if err != nil {
				to.errs = append(to.errs, err)
			}
			to.events = append(to.events, res.Events...)
			replies = append(replies, res.Send...)
		}
		from, to, msgs = to, from, replies
	}
	return wire
}

func (p *peer) lastMessage(t testing.TB) otr.MessageEvent {
	t.Helper()
	for i := len(p.events) - 1; i >= 0; i-- {
		if m, ok := p.events[i].(otr.MessageEvent); ok {
			return m
		}
	}
	t.Fatalf("%s received no encrypted message", p.name)
	return otr.MessageEvent{}
}

// testPolicy is the policy of peers made without one; bothVersions runs a
// test once with OTR3 only and once with OTRv4 preferred.
var testPolicy = otr.DefaultPolicy

func bothVersions(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, v := range []struct {
		name string
		p    otr.Policy
	}{{"v3", otr.DefaultPolicy &^ otr.AllowV4}, {"v4", otr.DefaultPolicy}} {
		t.Run(v.name, func(t *testing.T) {
			saved := testPolicy
			testPolicy = v.p
			defer func() { testPolicy = saved }()
			f(t)
		})
	}
}

// wantVersion is the protocol version peers made with testPolicy reach.
func wantVersion() int {
	if testPolicy&otr.AllowV4 != 0 {
		return 4
	}
	return 3
}

func secure(t testing.TB, a, b *peer) {
	t.Helper()
	res, err := a.sess.Start()
	if err != nil {
		t.Fatal(err)
	}
	pump(t, a, b, res.Send)
	if a.sess.Status(0) != otr.Encrypted || b.sess.Status(0) != otr.Encrypted {
		t.Fatalf("after AKE: %s %v, %s %v (errors %v %v)", a.name, a.sess.Status(0), b.name, b.sess.Status(0), a.errs, b.errs)
	}
	want := 3
	if a.policy&b.policy&otr.AllowV4 != 0 {
		want = 4
	}
	if got, _ := a.sess.Instance(0); got.Version != want {
		t.Fatalf("version %d, want %d", got.Version, want)
	}
}

func send(t testing.TB, from, to *peer, text string) []string {
	t.Helper()
	res, err := from.sess.Send(0, text)
	if err != nil {
		t.Fatalf("%s Send: %v", from.name, err)
	}
	return pump(t, from, to, res.Send)
}

func TestConversation(t *testing.T) { bothVersions(t, testConversation) }

func testConversation(t *testing.T) {
	for _, maxSize := range []int{0, 150} {
		t.Run(fmt.Sprintf("max%d", maxSize), func(t *testing.T) {
			alice := newPeer(t, "alice", "bob", 0, 1, nil, maxSize)
			bob := newPeer(t, "bob", "alice", 1, 2, nil, maxSize)
			secure(t, alice, bob)
			sa, _ := alice.sess.SSID(0)
			sb, _ := bob.sess.SSID(0)
			if sa != sb {
				t.Errorf("SSIDs differ: %v %v", sa, sb)
			}
			if got, want := alice.sess.TheirFingerprint(0).String(), bob.fingerprint(alice.sess.Instances()[0].Version).String(); got != want {
				t.Errorf("alice sees fingerprint %s, want %s", got, want)
			}
			for i := range 30 {
				from, to := alice, bob
				if i%3 == 1 {
					from, to = bob, alice
				}
				text := fmt.Sprintf("message %d: héllo wörld ✓ %s", i, strings.Repeat("x", i*10))
				wire := send(t, from, to, text)
				if got := to.lastMessage(t).Text; got != text {
					t.Fatalf("message %d: got %q, want %q", i, got, text)
				}
				for _, w := range wire {
					if strings.Contains(w, "héllo") {
						t.Fatalf("plaintext on the wire: %q", w)
					}
					if maxSize > 0 && len(w) > maxSize {
						t.Fatalf("wire message of %d bytes exceeds %d", len(w), maxSize)
					}
				}
			}
			if len(alice.errs)+len(bob.errs) > 0 {
				t.Fatalf("errors: %v %v", alice.errs, bob.errs)
			}
			res, err := alice.sess.End(0)
			if err != nil {
				t.Fatal(err)
			}
			pump(t, alice, bob, res.Send)
			if alice.sess.Status(0) != otr.Plaintext || bob.sess.Status(0) != otr.Finished {
				t.Fatalf("after End: alice %v, bob %v", alice.sess.Status(0), bob.sess.Status(0))
			}
			if _, err := bob.sess.Send(0, "hello?"); !errors.Is(err, otr.ErrSessionFinished) {
				t.Fatalf("Send while finished: %v, want ErrSessionFinished", err)
			}
		})
	}
}

func TestSimultaneousStart(t *testing.T) { bothVersions(t, testSimultaneousStart) }

func testSimultaneousStart(t *testing.T) {
	alice := newPeer(t, "alice", "bob", 0, 3, nil, 0)
	bob := newPeer(t, "bob", "alice", 1, 4, nil, 0)
	qa, _ := alice.sess.Start()
	qb, _ := bob.sess.Start()
	// Both queries cross; each side answers with a D-H Commit; those cross too.
	ra, _ := alice.sess.Receive(qb.Send[0].Text)
	rb, _ := bob.sess.Receive(qa.Send[0].Text)
	var toBob, toAlice []otr.Message
	for _, m := range ra.Send {
		r, _ := bob.sess.Receive(m.Text)
		toAlice = append(toAlice, r.Send...)
	}
	for _, m := range rb.Send {
		r, _ := alice.sess.Receive(m.Text)
		toBob = append(toBob, r.Send...)
	}
	pump(t, bob, alice, toAlice)
	pump(t, alice, bob, toBob)
	if alice.sess.Status(0) != otr.Encrypted || bob.sess.Status(0) != otr.Encrypted {
		t.Fatalf("crossed start: alice %v, bob %v", alice.sess.Status(0), bob.sess.Status(0))
	}
	send(t, alice, bob, "after the race")
	if got := bob.lastMessage(t).Text; got != "after the race" {
		t.Fatalf("got %q", got)
	}
}

func TestRejectedMessagesLeaveStateUnchanged(t *testing.T) {
	bothVersions(t, testRejectedMessagesLeaveStateUnchanged)
}

func testRejectedMessagesLeaveStateUnchanged(t *testing.T) {
	alice := newPeer(t, "alice", "bob", 0, 5, nil, 0)
	bob := newPeer(t, "bob", "alice", 1, 6, nil, 0)
	secure(t, alice, bob)
	res, err := alice.sess.Send(0, "first")
	if err != nil {
		t.Fatal(err)
	}
	wire := res.Send[0].Text
	if _, err := bob.sess.Receive(wire); err != nil {
		t.Fatal(err)
	}
	// Replay.
	r, err := bob.sess.Receive(wire)
	if !errors.Is(err, otr.ErrReplay) {
		t.Fatalf("replay: err = %v, want ErrReplay", err)
	}
	for _, ev := range r.Events {
		if _, ok := ev.(otr.MessageEvent); ok {
			t.Fatal("replayed message delivered")
		}
	}
	// Tampered: flip a bit in every position of the encoded body of a fresh message.
	res, _ = alice.sess.Send(0, "second")
	good := res.Send[0].Text
	for i := len("?OTR:") + 16; i < len(good)-1; i += 7 {
		bad := []byte(good)
		bad[i] ^= 0x01
		r, err := bob.sess.Receive(string(bad))
		for _, ev := range r.Events {
			if _, ok := ev.(otr.MessageEvent); ok {
				t.Fatalf("tampered message (byte %d) delivered: %v", i, ev)
			}
		}
		_ = err
	}
	r, err = bob.sess.Receive(good)
	if err != nil {
		t.Fatalf("genuine message after forgeries: %v", err)
	}
	if len(r.Events) != 1 || r.Events[0].(otr.MessageEvent).Text != "second" {
		t.Fatalf("genuine message after forgeries: events %v", r.Events)
	}
}

func TestRequireEncryptionQueues(t *testing.T) { bothVersions(t, testRequireEncryptionQueues) }

func testRequireEncryptionQueues(t *testing.T) {
	opts := &otr.Options{Policy: testPolicy | otr.RequireEncryption}
	alice := newPeer(t, "alice", "bob", 0, 7, opts, 0)
	bob := newPeer(t, "bob", "alice", 1, 8, nil, 0)
	res, err := alice.sess.Send(0, "secret plans")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range res.Send {
		if strings.Contains(m.Text, "secret") {
			t.Fatalf("plaintext sent under REQUIRE_ENCRYPTION: %q", m.Text)
		}
	}
	wire := pump(t, alice, bob, res.Send)
	for _, w := range wire {
		if strings.Contains(w, "secret") {
			t.Fatalf("plaintext on the wire: %q", w)
		}
	}
	if got := bob.lastMessage(t).Text; got != "secret plans" {
		t.Fatalf("queued message: got %q", got)
	}
}

func TestWhitespaceTagStartsAKE(t *testing.T) { bothVersions(t, testWhitespaceTagStartsAKE) }

func testWhitespaceTagStartsAKE(t *testing.T) {
	alice := newPeer(t, "alice", "bob", 0, 9, nil, 0)
	bob := newPeer(t, "bob", "alice", 1, 10, nil, 0)
	res, err := alice.sess.Send(0, "hi")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Send) != 1 || !strings.HasPrefix(res.Send[0].Text, "hi \t  \t\t\t\t \t \t \t  ") ||
		strings.Contains(res.Send[0].Text, " \t\t \t  ") != (wantVersion() == 4) {
		t.Fatalf("no whitespace tag: %+v", res.Send)
	}
	pump(t, alice, bob, res.Send)
	if _, ok := bob.events[0].(otr.PlaintextEvent); !ok {
		t.Fatalf("bob's first event %v, want plaintext", bob.events[0])
	}
	if alice.sess.Status(0) != otr.Encrypted || bob.sess.Status(0) != otr.Encrypted {
		t.Fatalf("alice %v, bob %v", alice.sess.Status(0), bob.sess.Status(0))
	}
}

// Two clients of Bob's account (two instance tags) talk to one session of
// Alice: two independent conversations.
func TestInstancesAreSeparate(t *testing.T) { bothVersions(t, testInstancesAreSeparate) }

func testInstancesAreSeparate(t *testing.T) {
	alice := newPeer(t, "alice", "bob", 0, 11, nil, 0)
	bob1 := newPeer(t, "bob", "alice", 1, 12, nil, 0)
	bob2 := newPeer(t, "bob", "alice", 1, 13, nil, 0)
	if bob1.acct.InstanceTag() == bob2.acct.InstanceTag() {
		t.Fatal("equal instance tags")
	}
	for _, b := range []*peer{bob1, bob2} {
		res, _ := b.sess.Start()
		pump(t, b, alice, res.Send)
	}
	insts := alice.sess.Instances()
	if len(insts) != 2 || insts[0].Status != otr.Encrypted || insts[1].Status != otr.Encrypted {
		t.Fatalf("alice's instances: %+v", insts)
	}
	if insts[0].SSID == insts[1].SSID {
		t.Fatal("two instances share an SSID")
	}
	for _, b := range []*peer{bob1, bob2} {
		tag := b.acct.InstanceTag()
		res, err := alice.sess.Send(tag, fmt.Sprintf("to %08x", tag))
		if err != nil {
			t.Fatal(err)
		}
		pump(t, alice, b, res.Send)
		if got, want := b.lastMessage(t).Text, fmt.Sprintf("to %08x", tag); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
		// The other Bob must not be able to read it.
		other := bob1
		if b == bob1 {
			other = bob2
		}
		if _, err := other.sess.Receive(res.Send[0].Text); err != nil {
			t.Fatalf("a message for another instance must be ignored: %v", err)
		}
	}
	// Ending one leaves the other encrypted.
	res, _ := bob1.sess.End(0)
	pump(t, bob1, alice, res.Send)
	if alice.sess.Status(bob1.acct.InstanceTag()) != otr.Finished || alice.sess.Status(bob2.acct.InstanceTag()) != otr.Encrypted {
		t.Fatalf("after bob1 ends: %+v", alice.sess.Instances())
	}
}

func TestConcurrentUse(t *testing.T) { bothVersions(t, testConcurrentUse) }

func testConcurrentUse(t *testing.T) {
	alice := newPeer(t, "alice", "bob", 0, 14, nil, 0)
	bob := newPeer(t, "bob", "alice", 1, 15, nil, 0)
	secure(t, alice, bob)
	var wg sync.WaitGroup
	msgs := make(chan string, 200)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				res, err := alice.sess.Send(0, fmt.Sprintf("g%d m%d", g, i))
				if err != nil {
					t.Error(err)
					return
				}
				for _, m := range res.Send {
					msgs <- m.Text
				}
				_ = alice.sess.Instances()
			}
		}()
	}
	wg.Wait()
	close(msgs)
	n := 0
	for m := range msgs {
		if _, err := bob.sess.Receive(m); err != nil {
			// Messages sent concurrently may arrive out of counter order.
			if !errors.Is(err, otr.ErrReplay) {
				t.Fatal(err)
			}
			continue
		}
		n++
	}
	if n == 0 {
		t.Fatal("nothing delivered")
	}
}

func otrHost(p *peer) *otr.MemoryHost { return p.host }

// fingerprint returns p's fingerprint for protocol version v.
func (p *peer) fingerprint(v int) otr.Fingerprint {
	if v == 4 {
		return p.acct.Fingerprint4()
	}
	return p.acct.Fingerprint()
}
