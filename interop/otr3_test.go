package interop

import (
	"bytes"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otrgo/otr"
	"github.com/otrgo/otr/interop/libotrpeer"
)

// These tests run otr against libotr 4.1.1 (through libotrpeer) over an
// in-memory relay. libotr picks its own randomness; our side is seeded.

const (
	ourName   = "alice@example.org" // our account, as libotr knows it
	theirName = "bob@example.org"   // the libotr account
)

func seeded(seed uint64) *mrand.ChaCha8 {
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	return mrand.NewChaCha8(s)
}

var (
	ourKeysOnce sync.Once
	ourKeys     *otr.PrivateKeys
	ourKeysErr  error
)

func keysForUs(t testing.TB) *otr.PrivateKeys {
	t.Helper()
	ourKeysOnce.Do(func() { ourKeys, ourKeysErr = otr.GenerateKeys(seeded(42)) })
	if ourKeysErr != nil {
		t.Fatalf("otr.GenerateKeys: %v", ourKeysErr)
	}
	return ourKeys
}

// wire is one message carried by the relay.
type wire struct {
	fromUs bool
	from   uint32 // libotr sender's instance tag when !fromUs
	text   string
}

// ours is our side: one account, one session with the libotr account.
type ours struct {
	acct    *otr.Account
	sess    *otr.Session
	events  []otr.Event
	errs    []error
	trouble []string // OTR errors and unreadable messages we received
}

// theirs is one libotr instance (user state) of the libotr account.
type theirs struct {
	p   *libotrpeer.Peer
	got []libotrpeer.Received // deliveries
}

// relay connects our session with one or more libotr instances of one
// account: what we send reaches every instance (as on a transport without
// per-client addressing); what an instance sends reaches us.
type relay struct {
	t     testing.TB
	us    *ours
	them  []*theirs
	wires []wire
}

type setup struct {
	ourPolicy   otr.Policy
	ourMaxSize  int
	theirPolicy uint32
	theirMax    int
	instances   int              // libotr instances of the account; 0 means 1
	now         func() time.Time // our clock; nil means the real one
	expireAfter time.Duration    // our Options.ExpireAfter
}

func newRelay(t testing.TB, c setup) *relay {
	t.Helper()
	acct, err := otr.NewAccount(ourName, keysForUs(t), &otr.MemoryHost{MaxSize: c.ourMaxSize},
		&otr.Options{Rand: seeded(7), Policy: c.ourPolicy, Now: c.now, ExpireAfter: c.expireAfter})
	if err != nil {
		t.Fatalf("otr.NewAccount: %v", err)
	}
	r := &relay{t: t, us: &ours{acct: acct, sess: acct.Session(theirName)}}
	n := max(c.instances, 1)
	var keyFile string
	for range n {
		p, err := libotrpeer.New(libotrpeer.Options{Account: theirName, Policy: c.theirPolicy,
			MaxMessageSize: c.theirMax, KeyFile: keyFile})
		if err != nil {
			t.Fatalf("libotrpeer.New: %v", err)
		}
		t.Cleanup(p.Close)
		keyFile = p.KeyFile() // every instance shares the account's key
		r.them = append(r.them, &theirs{p: p})
	}
	// Runs before the Peers are closed: neither side may have seen an
	// error from the other during the test.
	t.Cleanup(r.checkNoTrouble)
	return r
}

// checkNoTrouble fails the test if libotr reported a broken, unreadable or
// error message from us, or if we got an OTR error or unreadable message.
func (r *relay) checkNoTrouble() {
	r.t.Helper()
	for _, th := range r.them {
		for _, e := range th.p.Events() {
			r.us.trouble = append(r.us.trouble, libotrTrouble(e)...)
		}
	}
	for _, s := range r.us.trouble {
		r.t.Errorf("trouble: %s", s)
	}
	r.us.trouble = nil
}

// libotrEvents drains libotr instance i's events, keeping any trouble for
// checkNoTrouble.
func (r *relay) libotrEvents(i int) []libotrpeer.Event {
	evs := r.them[i].p.Events()
	for _, e := range evs {
		r.us.trouble = append(r.us.trouble, libotrTrouble(e)...)
	}
	return evs
}

func libotrTrouble(e libotrpeer.Event) []string {
	if e.Kind == libotrpeer.EventSMP && (e.SMP == libotrpeer.SMPEventError || e.SMP == libotrpeer.SMPEventCheated) {
		return []string{"libotr: " + e.String()}
	}
	if e.Kind != libotrpeer.EventMessage {
		return nil
	}
	switch e.Msg {
	case libotrpeer.MsgEventSetupError, libotrpeer.MsgEventRcvdMsgUnreadable,
		libotrpeer.MsgEventRcvdMsgMalformed, libotrpeer.MsgEventRcvdMsgGeneralErr,
		libotrpeer.MsgEventRcvdMsgUnrecognized, libotrpeer.MsgEventRcvdMsgNotInPrivate,
		libotrpeer.MsgEventEncryptionError, libotrpeer.MsgEventMsgReflected:
		return []string{"libotr: " + e.String()}
	}
	return nil
}

// fromUs delivers a Result of ours and runs the relay until quiet.
func (r *relay) fromUs(res otr.Result, err error) {
	r.t.Helper()
	if err != nil {
		r.t.Fatalf("our call: %v", err)
	}
	r.us.events = append(r.us.events, res.Events...)
	var q []wire
	for _, m := range res.Send {
		if m.Contact != theirName {
			r.t.Fatalf("we sent to %q, want %q", m.Contact, theirName)
		}
		q = append(q, wire{fromUs: true, text: m.Text})
	}
	r.run(q)
}

// fromThem delivers messages sent by libotr instance i.
func (r *relay) fromThem(i int, msgs []string, err error) {
	r.t.Helper()
	if err != nil {
		r.t.Fatalf("libotr call: %v", err)
	}
	var q []wire
	for _, m := range msgs {
		q = append(q, wire{from: r.them[i].p.InstanceTag(), text: m})
	}
	r.run(q)
}

func (r *relay) run(q []wire) {
	r.t.Helper()
	for steps := 0; len(q) > 0; steps++ {
		if steps > 10000 {
			r.t.Fatalf("relay does not settle; next message %.60q", q[0].text)
		}
		w := q[0]
		q = q[1:]
		r.wires = append(r.wires, w)
		if w.fromUs {
			for _, th := range r.them {
				got, err := th.p.Receive(ourName, w.text)
				if err != nil {
					r.t.Fatal(err)
				}
				if got.Delivered {
					th.got = append(th.got, got)
				}
				for _, m := range got.Inject {
					q = append(q, wire{from: th.p.InstanceTag(), text: m})
				}
			}
			continue
		}
		res, err := r.us.sess.Receive(w.text)
		if err != nil {
			r.us.errs = append(r.us.errs, err)
		}
		for _, e := range res.Events {
			switch e.(type) {
			case otr.ErrorEvent:
				r.us.trouble = append(r.us.trouble, "ours: "+e.String())
			}
		}
		r.us.events = append(r.us.events, res.Events...)
		for _, m := range res.Send {
			q = append(q, wire{fromUs: true, text: m.Text})
		}
	}
}

// noErrors fails the test if our side rejected anything.
func (r *relay) noErrors() {
	r.t.Helper()
	for _, err := range r.us.errs {
		r.t.Errorf("our Receive rejected a libotr message: %v", err)
	}
	r.us.errs = nil
}

// takeEvents returns and forgets our events.
func (r *relay) takeEvents() []otr.Event {
	ev := r.us.events
	r.us.events = nil
	return ev
}

func (th *theirs) take() []libotrpeer.Received {
	g := th.got
	th.got = nil
	return g
}

func messages(evs []otr.Event) []otr.MessageEvent {
	var ms []otr.MessageEvent
	for _, e := range evs {
		if m, ok := e.(otr.MessageEvent); ok {
			ms = append(ms, m)
		}
	}
	return ms
}

// checkSecure checks that our session and libotr instance i agree on an
// encrypted OTR3 session: state, fingerprints and SSID.
func (r *relay) checkSecure(i int) {
	r.t.Helper()
	th := r.them[i]
	tag := th.p.InstanceTag()
	info, ok := r.us.sess.Instance(tag)
	if !ok || info.Status != otr.Encrypted || info.Version != 3 {
		r.t.Fatalf("our instance %#x: %+v (known %v), want encrypted v3; our errors %v", tag, info, ok, r.us.errs)
	}
	if !th.p.Secure(ourName) {
		r.t.Fatalf("libotr instance %#x is not secure; our errors %v", tag, r.us.errs)
	}
	if got, want := info.Fingerprint.String(), th.p.Fingerprint(); got != want {
		r.t.Errorf("we see fingerprint %q, libotr's own is %q", got, want)
	}
	if got, want := th.p.TheirFingerprint(ourName), r.us.acct.Fingerprint().String(); got != want {
		r.t.Errorf("libotr sees fingerprint %q, ours is %q", got, want)
	}
	if got, want := th.p.SSID(ourName), info.SSID[:]; !bytes.Equal(got, want) {
		r.t.Errorf("libotr SSID %x, ours %x", got, want)
	}
}

// exchange sends n messages each way between us and libotr instance i,
// alternating with bursts so that both sides rotate keys, and checks
// every delivery.
func (r *relay) exchange(i, n int) {
	r.t.Helper()
	th := r.them[i]
	tag := th.p.InstanceTag()
	texts := []string{"hello", "grüße, ünïcödé", "日本語のテキスト", "emoji 🔐🗝️", "<b>markup</b> & \"quotes\"", strings.Repeat("long ", 200)}
	for k := range n {
		for _, ourTurn := range []bool{k%3 != 1, k%3 == 1} {
			text := fmt.Sprintf("%d %s", k, texts[k%len(texts)])
			if ourTurn {
				r.fromUs(r.us.sess.Send(tag, text))
				got := th.take()
				if len(got) != 1 || got[0].Text != text || !got[0].Encrypted {
					r.t.Fatalf("message %d from us: libotr delivered %+v, want %.30q encrypted", k, got, text)
				}
				continue
			}
			msgs, err := th.p.Send(ourName, text)
			r.fromThem(i, msgs, err)
			ms := messages(r.takeEvents())
			if len(ms) != 1 || ms[0].Text != text || ms[0].Instance != tag {
				r.t.Fatalf("message %d from libotr: we delivered %v, want %.30q from %#x; our errors %v", k, ms, text, tag, r.us.errs)
			}
		}
	}
	r.noErrors()
}

// a. libotr sends the query; AKE; 100 messages each way.
func TestLibotrQueries(t *testing.T) {
	r := newRelay(t, setup{})
	r.fromThem(0, []string{r.them[0].p.Query()}, nil)
	r.checkSecure(0)
	r.noErrors()
	r.exchange(0, 100)
}

// b. We start, with a query and with a whitespace-tagged message.
func TestWeStart(t *testing.T) {
	t.Run("query", func(t *testing.T) {
		r := newRelay(t, setup{})
		r.fromUs(r.us.sess.Start())
		r.checkSecure(0)
		r.noErrors()
		r.exchange(0, 10)
	})
	t.Run("whitespace tag", func(t *testing.T) {
		r := newRelay(t, setup{})
		const text = "hi, do you speak OTR"
		r.fromUs(r.us.sess.Send(0, text))
		if len(r.wires) == 0 || !strings.HasPrefix(r.wires[0].text, text+" \t  \t\t\t\t \t \t \t  ") {
			t.Fatalf("wire messages %+v, want the text with a whitespace tag first", r.wires)
		}
		got := r.them[0].take()
		if len(got) != 1 || got[0].Text != text || got[0].Encrypted {
			t.Errorf("libotr delivered %+v, want the untagged plaintext", got)
		}
		r.checkSecure(0)
		r.noErrors()
		r.exchange(0, 10)
	})
}

// c. Fragmentation both ways at 150 bytes, the AKE included.
func TestFragmentation150(t *testing.T) {
	const mms = 150
	for _, starter := range []string{"us", "libotr"} {
		t.Run(starter, func(t *testing.T) {
			r := newRelay(t, setup{ourMaxSize: mms, theirMax: mms})
			if starter == "us" {
				r.fromUs(r.us.sess.Start())
			} else {
				// The query itself is plaintext and is not fragmented.
				r.fromThem(0, []string{"?OTRv3?"}, nil)
			}
			r.checkSecure(0)
			r.exchange(0, 10)
			big := strings.Repeat("large fragmented message ✓ ", 800) // ~22 KB
			r.fromUs(r.us.sess.Send(0, big))
			if got := r.them[0].take(); len(got) != 1 || got[0].Text != big {
				t.Errorf("libotr did not reassemble our %d-byte message", len(big))
			}
			msgs, err := r.them[0].p.Send(ourName, big)
			r.fromThem(0, msgs, err)
			if ms := messages(r.takeEvents()); len(ms) != 1 || ms[0].Text != big {
				t.Errorf("we did not reassemble libotr's %d-byte message; errors %v", len(big), r.us.errs)
			}
			var frags [2]int
			for _, w := range r.wires {
				if len(w.text) > mms {
					t.Errorf("wire message of %d bytes (from us %v), want <= %d: %.40q", len(w.text), w.fromUs, mms, w.text)
				}
				if strings.HasPrefix(w.text, "?OTR|") {
					if w.fromUs {
						frags[0]++
					} else {
						frags[1]++
					}
				}
			}
			if frags[0] < 10 || frags[1] < 10 {
				t.Errorf("fragments from us %d, from libotr %d; want both fragmenting", frags[0], frags[1])
			}
		})
	}
}

// d. Each side ends the session; the other sees it finish.
func TestEnd(t *testing.T) {
	t.Run("we end", func(t *testing.T) {
		r := newRelay(t, setup{})
		r.fromUs(r.us.sess.Start())
		r.checkSecure(0)
		th := r.them[0]
		r.fromUs(r.us.sess.End(0))
		if st := r.us.sess.Status(th.p.InstanceTag()); st != otr.Plaintext {
			t.Errorf("our status after End: %v, want plaintext", st)
		}
		if got := th.take(); len(got) != 0 {
			t.Errorf("libotr delivered %+v for the disconnect notice", got)
		}
		if st := th.p.State(ourName, libotrpeer.InstanceBest); st != libotrpeer.StateFinished {
			t.Errorf("libotr state %v, want Finished", st)
		}
		th.p.Events()
		msgs, err := th.p.Send(ourName, "still there?")
		if err != nil || len(msgs) != 0 {
			t.Errorf("libotr Send after the end = %q, %v; want nothing sent", msgs, err)
		}
		r.noErrors()
	})
	t.Run("libotr ends", func(t *testing.T) {
		r := newRelay(t, setup{})
		r.fromUs(r.us.sess.Start())
		r.checkSecure(0)
		th := r.them[0]
		tag := th.p.InstanceTag()
		r.takeEvents()
		r.fromThem(0, th.p.End(ourName), nil)
		r.noErrors()
		finished := false
		for _, e := range r.takeEvents() {
			if f, ok := e.(otr.FinishedEvent); ok && f.Instance == tag {
				finished = true
			}
		}
		if !finished || r.us.sess.Status(tag) != otr.Finished {
			t.Errorf("after libotr's end: finished event %v, status %v; want Finished", finished, r.us.sess.Status(tag))
		}
		if _, err := r.us.sess.Send(0, "still there?"); !errors.Is(err, otr.ErrSessionFinished) {
			t.Errorf("our Send after the end: %v, want ErrSessionFinished", err)
		}
		r.fromUs(r.us.sess.End(0))
		if st := r.us.sess.Status(tag); st != otr.Plaintext {
			t.Errorf("our status after End: %v, want plaintext", st)
		}
	})
}

// e. REQUIRE_ENCRYPTION: nothing we emit before the AKE completes carries
// user plaintext; the held message is sent encrypted afterwards.
func TestRequireEncryption(t *testing.T) {
	const secret = "top secret words"
	t.Run("ours", func(t *testing.T) {
		r := newRelay(t, setup{ourPolicy: otr.AllowV3 | otr.RequireEncryption | otr.WhitespaceStartAKE | otr.ErrorStartAKE})
		res, err := r.us.sess.Send(0, secret)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Send) == 0 {
			t.Fatal("Send under RequireEncryption sent nothing (want a query)")
		}
		for _, m := range res.Send {
			if strings.Contains(m.Text, secret) || !m.IsOTR {
				t.Errorf("before the AKE we emit %q (IsOTR %v)", m.Text, m.IsOTR)
			}
		}
		r.fromUs(res, nil)
		r.checkSecure(0)
		for _, w := range r.wires {
			if w.fromUs && strings.Contains(w.text, secret) {
				t.Errorf("we emitted the plaintext: %q", w.text)
			}
		}
		got := r.them[0].take()
		if len(got) != 1 || got[0].Text != secret || !got[0].Encrypted {
			t.Errorf("libotr delivered %+v, want the held message, encrypted", got)
		}
		// Plaintext from libotr is flagged as unencrypted.
		r.takeEvents()
		r.fromThem(0, []string{"plain words"}, nil)
		var warned bool
		for _, e := range r.takeEvents() {
			if u, ok := e.(otr.UnencryptedEvent); ok && u.Text == "plain words" {
				warned = true
			}
		}
		if !warned {
			t.Error("plaintext after the AKE not reported as UnencryptedEvent")
		}
		r.noErrors()
	})
	t.Run("ours, several held", func(t *testing.T) {
		// The user types three lines before the AKE is done; each Send
		// emits a query, and all are delivered before the AKE finishes.
		r := newRelay(t, setup{ourPolicy: otr.AllowV3 | otr.RequireEncryption})
		texts := []string{secret + " 1", secret + " 2", secret + " 3"}
		var q []wire
		for _, text := range texts {
			res, err := r.us.sess.Send(0, text)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range res.Send {
				if strings.Contains(m.Text, secret) {
					t.Errorf("before the AKE we emit %q", m.Text)
				}
				q = append(q, wire{fromUs: true, text: m.Text})
			}
		}
		r.run(q)
		r.checkSecure(0)
		for _, w := range r.wires {
			if w.fromUs && strings.Contains(w.text, secret) {
				t.Errorf("we emitted the plaintext: %q", w.text)
			}
		}
		var got []string
		for _, g := range r.them[0].take() {
			if !g.Encrypted {
				t.Errorf("libotr delivered %q unencrypted", g.Text)
			}
			got = append(got, g.Text)
		}
		if fmt.Sprint(got) != fmt.Sprint(texts) {
			t.Errorf("libotr delivered %q, want %q in order", got, texts)
		}
		r.noErrors()
	})
	t.Run("libotr's", func(t *testing.T) {
		r := newRelay(t, setup{theirPolicy: libotrpeer.PolicyAlways})
		msgs, err := r.them[0].p.Send(ourName, secret)
		if err != nil || len(msgs) != 1 || strings.Contains(msgs[0], secret) {
			t.Fatalf("libotr Send = %q, %v; want a query only", msgs, err)
		}
		r.fromThem(0, msgs, nil)
		r.checkSecure(0)
		ms := messages(r.takeEvents())
		if len(ms) != 1 || ms[0].Text != secret {
			t.Errorf("we delivered %v, want libotr's held message", ms)
		}
		r.noErrors()
	})
}

// f. Two libotr instances of one account (same key, two user states,
// different instance tags) talk to our one session, routed by instance tag.
func TestTwoLibotrInstances(t *testing.T) {
	for _, starter := range []string{"us", "libotr"} {
		t.Run(starter, func(t *testing.T) {
			r := newRelay(t, setup{instances: 2})
			t1, t2 := r.them[0].p.InstanceTag(), r.them[1].p.InstanceTag()
			if t1 == t2 || r.them[0].p.Fingerprint() != r.them[1].p.Fingerprint() {
				t.Fatalf("libotr instances %#x, %#x with fingerprints %s, %s", t1, t2, r.them[0].p.Fingerprint(), r.them[1].p.Fingerprint())
			}
			if starter == "us" {
				// Our query reaches both; each starts its own AKE.
				r.fromUs(r.us.sess.Start())
			} else {
				// One instance asks; our D-H Commit (to no instance)
				// reaches both, and both answer it.
				r.fromThem(0, []string{r.them[0].p.Query()}, nil)
			}
			r.checkSecure(0)
			r.checkSecure(1)
			if n := len(r.us.sess.Instances()); n != 2 {
				t.Errorf("we know %d instances, want 2: %+v", n, r.us.sess.Instances())
			}
			r.noErrors()
			for i, th := range r.them {
				tag := th.p.InstanceTag()
				text := fmt.Sprintf("to instance %d", i)
				r.fromUs(r.us.sess.Send(tag, text))
				g0, g1 := r.them[0].take(), r.them[1].take()
				mine, other := g0, g1
				if i == 1 {
					mine, other = g1, g0
				}
				if len(mine) != 1 || mine[0].Text != text || !mine[0].Encrypted || len(other) != 0 {
					t.Errorf("our message to %#x: instance %d delivered %+v, the other %+v", tag, i, mine, other)
				}
				reply := fmt.Sprintf("reply from instance %d", i)
				msgs, err := th.p.Send(ourName, reply)
				r.fromThem(i, msgs, err)
				ms := messages(r.takeEvents())
				if len(ms) != 1 || ms[0].Text != reply || ms[0].Instance != tag {
					t.Errorf("reply from %#x: we delivered %v", tag, ms)
				}
			}
			// Keys rotate independently per instance.
			r.exchange(0, 5)
			r.exchange(1, 5)
			r.noErrors()
		})
	}
}

// The extra symmetric key (TLV 8) agrees both ways.
func TestExtraSymmetricKey(t *testing.T) {
	data := []byte("file-transfer-1")
	t.Run("ours", func(t *testing.T) {
		r := newRelay(t, setup{})
		r.fromUs(r.us.sess.Start())
		r.exchange(0, 3) // keys have rotated
		r.libotrEvents(0)
		key, res, err := r.us.sess.ExtraSymmetricKey(0, 7, data)
		r.fromUs(res, err)
		var found bool
		for _, e := range r.libotrEvents(0) {
			if e.Kind == libotrpeer.EventSymKey {
				found = true
				if !bytes.Equal(e.Key[:], key) || e.Use != 7 || !bytes.Equal(e.UseData, data) {
					t.Errorf("libotr got key %x use %d data %q; we have key %x use 7 data %q", e.Key, e.Use, e.UseData, key, data)
				}
			}
		}
		if !found {
			t.Error("libotr reported no received symmetric key")
		}
		if got := r.them[0].take(); len(got) != 0 {
			t.Errorf("libotr delivered %+v for the TLV-only message", got)
		}
	})
	t.Run("libotr's", func(t *testing.T) {
		r := newRelay(t, setup{})
		r.fromUs(r.us.sess.Start())
		r.exchange(0, 3)
		r.takeEvents()
		key, msgs, err := r.them[0].p.SymKey(ourName, 9, data)
		r.fromThem(0, msgs, err)
		r.noErrors()
		var found bool
		for _, e := range r.takeEvents() {
			switch e := e.(type) {
			case otr.ExtraKeyEvent:
				found = true
				if !bytes.Equal(e.Key, key[:]) || e.Use != 9 || !bytes.Equal(e.Data, data) || e.Instance != r.them[0].p.InstanceTag() {
					t.Errorf("we got key %x use %d data %q from %#x; libotr has key %x use 9 data %q", e.Key, e.Use, e.Data, e.Instance, key, data)
				}
			case otr.MessageEvent:
				t.Errorf("the TLV-only message delivered %v", e)
			}
		}
		if !found {
			t.Error("no ExtraKeyEvent")
		}
	})
}

// Our heartbeat (an empty data message after HeartbeatInterval without
// sending) is accepted by libotr and not shown to its user.
func TestHeartbeat(t *testing.T) {
	clock := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	r := newRelay(t, setup{now: func() time.Time { return clock }})
	r.fromUs(r.us.sess.Start())
	r.exchange(0, 2)
	r.libotrEvents(0)
	clock = clock.Add(61 * time.Second)
	before := len(r.wires)
	msgs, err := r.them[0].p.Send(ourName, "are you there")
	r.fromThem(0, msgs, err)
	var fromUs int
	for _, w := range r.wires[before:] {
		if w.fromUs {
			fromUs++
		}
	}
	if fromUs != 1 {
		t.Errorf("we answered with %d messages, want one heartbeat", fromUs)
	}
	if ms := messages(r.takeEvents()); len(ms) != 1 || ms[0].Text != "are you there" {
		t.Errorf("we delivered %v", ms)
	}
	if got := r.them[0].take(); len(got) != 0 {
		t.Errorf("libotr delivered %+v for the heartbeat", got)
	}
	var seen bool
	for _, e := range r.libotrEvents(0) {
		seen = seen || e.Msg == libotrpeer.MsgEventLogHeartbeatRcvd
	}
	if !seen {
		t.Error("libotr did not log a received heartbeat")
	}
	r.exchange(0, 3)
}

// Account.Expire ends an idle session; libotr sees it finish.
func TestExpire(t *testing.T) {
	clock := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	r := newRelay(t, setup{now: func() time.Time { return clock }, expireAfter: 5 * time.Minute})
	r.fromUs(r.us.sess.Start())
	r.exchange(0, 2)
	tag := r.them[0].p.InstanceTag()
	best := libotrpeer.InstanceBest
	clock = clock.Add(4 * time.Minute)
	r.fromUs(r.us.acct.Expire())
	if st := r.them[0].p.State(ourName, best); st != libotrpeer.StateEncrypted {
		t.Fatalf("libotr state %v after 4 idle minutes, want Encrypted", st)
	}
	clock = clock.Add(2 * time.Minute)
	r.fromUs(r.us.acct.Expire())
	if st := r.us.sess.Status(tag); st != otr.Plaintext {
		t.Errorf("our status %v after expiry, want plaintext", st)
	}
	if st := r.them[0].p.State(ourName, best); st != libotrpeer.StateFinished {
		t.Errorf("libotr state %v after our expiry, want Finished", st)
	}
	// A new AKE works after the expiry.
	r.them[0].p.End(ourName)
	r.fromUs(r.us.sess.Start())
	r.checkSecure(0)
	r.exchange(0, 2)
}

// A second AKE on an encrypted session (either side asks again) leaves both
// sides encrypted with fresh keys that work.
func TestReAKE(t *testing.T) {
	for _, asker := range []string{"us", "libotr"} {
		t.Run(asker, func(t *testing.T) {
			r := newRelay(t, setup{})
			r.fromUs(r.us.sess.Start())
			r.exchange(0, 4)
			old := r.them[0].p.SSID(ourName)
			r.takeEvents()
			if asker == "us" {
				r.fromUs(r.us.sess.Start())
			} else {
				r.fromThem(0, []string{r.them[0].p.Query()}, nil)
			}
			r.checkSecure(0)
			var secured bool
			for _, e := range r.takeEvents() {
				if s, ok := e.(otr.SecureEvent); ok {
					secured = true
					if !s.Refreshed {
						t.Errorf("second SecureEvent %v, want Refreshed", s)
					}
				}
			}
			if !secured {
				t.Error("no SecureEvent for the second AKE")
			}
			if bytes.Equal(old, r.them[0].p.SSID(ourName)) {
				t.Error("the SSID did not change with the new AKE")
			}
			r.noErrors()
			r.exchange(0, 4)
		})
	}
}

// Both sides ask at the same time: the crossed D-H Commits resolve to one
// session.
func TestSimultaneousStart(t *testing.T) {
	r := newRelay(t, setup{})
	res, err := r.us.sess.Start()
	if err != nil {
		t.Fatal(err)
	}
	q := []wire{{from: r.them[0].p.InstanceTag(), text: r.them[0].p.Query()}}
	for _, m := range res.Send {
		q = append(q, wire{fromUs: true, text: m.Text})
	}
	r.run(q)
	r.checkSecure(0)
	r.noErrors()
	r.exchange(0, 4)
}

// We lose our state (a restart without persisted sessions) while libotr is
// encrypted: our error message makes libotr ask for a new AKE
// (ERROR_START_AKE), after which the conversation goes on. (libotr 4.1.1
// does not resend the lost message: it marks the master context for
// retransmission, while the message was stored on the instance's context.)
func TestRecoveryAfterOurRestart(t *testing.T) {
	r := newRelay(t, setup{})
	r.fromUs(r.us.sess.Start())
	r.exchange(0, 2)
	tag := r.us.acct.InstanceTag()
	acct, err := otr.NewAccount(ourName, keysForUs(t), &memoryHostWithTag{tag: tag}, &otr.Options{Rand: seeded(8)})
	if err != nil {
		t.Fatal(err)
	}
	r.us.acct, r.us.sess = acct, acct.Session(theirName)

	msgs, err := r.them[0].p.Send(ourName, "lost message")
	r.fromThem(0, msgs, err)
	r.checkSecure(0)
	if ms := messages(r.takeEvents()); len(ms) != 0 {
		t.Errorf("we delivered %v from a message we had no keys for", ms)
	}
	// Expected on the way: we could not read the first message, and libotr
	// got our error message.
	var unreadable bool
	for _, err := range r.us.errs {
		unreadable = unreadable || errors.Is(err, otr.ErrNotEncrypted)
	}
	if !unreadable {
		t.Errorf("our errors %v, want the unreadable message (no encrypted session)", r.us.errs)
	}
	r.us.trouble = nil
	r.us.errs = nil
	var gotErr bool
	for _, e := range r.them[0].p.Events() {
		gotErr = gotErr || e.Msg == libotrpeer.MsgEventRcvdMsgGeneralErr
	}
	if !gotErr {
		t.Error("libotr saw no error message from us")
	}
	r.exchange(0, 3)
}

// Our message is in flight when the session re-keys: libotr cannot read
// it any more and says so; we re-key on its error message and send the
// message again over the new session with the same key. libotr itself
// would drop it (see TestRecoveryAfterOurRestart).
func TestResendToLibotr(t *testing.T) {
	r := newRelay(t, setup{})
	r.fromUs(r.us.sess.Start())
	r.exchange(0, 4)
	before := r.us.sess.TheirFingerprint(0)
	held, err := r.us.sess.Send(0, "lost, then resent")
	if err != nil {
		t.Fatal(err)
	}
	r.fromUs(r.us.sess.Start()) // a re-key overtakes the message
	r.checkSecure(0)
	r.them[0].take()
	r.run([]wire{{fromUs: true, text: held.Send[0].Text}})
	var got []string
	for _, rc := range r.them[0].take() {
		if rc.Encrypted {
			got = append(got, rc.Text)
		}
	}
	if len(got) != 1 || got[0] != "lost, then resent" {
		t.Fatalf("libotr read %q, want the message once, resent", got)
	}
	var resent []otr.ResentEvent
	for _, e := range r.takeEvents() {
		if ev, ok := e.(otr.ResentEvent); ok {
			resent = append(resent, ev)
		}
	}
	if len(resent) != 1 || !bytes.Equal(r.us.sess.TheirFingerprint(0), before) {
		t.Fatalf("ResentEvents %v", resent)
	}
	r.checkSecure(0)
	// Expected on the way: libotr's error message to us, and ours being
	// unreadable to it.
	r.us.trouble, r.us.errs = nil, nil
	r.them[0].p.Events()
	r.exchange(0, 2)
}

// memoryHostWithTag is a MemoryHost that already stored an instance tag.
type memoryHostWithTag struct {
	otr.MemoryHost
	tag uint32
}

func (h *memoryHostWithTag) InstanceTag() (uint32, error) { return h.tag, nil }

// With libotr allowing only version 2 there is no common version: nothing
// starts, nothing breaks, plaintext still flows.
func TestNoCommonVersion(t *testing.T) {
	r := newRelay(t, setup{theirPolicy: libotrpeer.PolicyAllowV2 | libotrpeer.PolicySendWhitespaceTag | libotrpeer.PolicyWhitespaceStartAKE})
	r.fromUs(r.us.sess.Start())
	r.fromThem(0, []string{r.them[0].p.Query()}, nil)
	msgs, err := r.them[0].p.Send(ourName, "plain hello")
	r.fromThem(0, msgs, err)
	r.fromUs(r.us.sess.Send(0, "plain reply"))
	if r.them[0].p.Secure(ourName) || r.us.sess.Status(0) != otr.Plaintext {
		t.Fatal("a session started without a common version")
	}
	var plain bool
	for _, e := range r.takeEvents() {
		if p, ok := e.(otr.PlaintextEvent); ok && p.Text == "plain hello" {
			plain = true
		}
	}
	if got := r.them[0].take(); !plain || len(got) != 1 || got[0].Text != "plain reply" {
		t.Errorf("plaintext: we saw it %v; libotr delivered %+v", plain, got)
	}
	r.noErrors()
}

// libotr's whitespace-tagged plaintext makes us start the AKE
// (WHITESPACE_START_AKE in our default policy).
func TestLibotrWhitespaceTag(t *testing.T) {
	r := newRelay(t, setup{})
	msgs, err := r.them[0].p.Send(ourName, "hello from libotr")
	if err != nil || len(msgs) != 1 || !strings.HasPrefix(msgs[0], "hello from libotr \t  \t\t\t\t \t \t \t  ") {
		t.Fatalf("libotr Send = %q, %v; want a tagged plaintext", msgs, err)
	}
	r.fromThem(0, msgs, nil)
	var plain bool
	for _, e := range r.takeEvents() {
		if p, ok := e.(otr.PlaintextEvent); ok && p.Text == "hello from libotr" {
			plain = true
		}
	}
	if !plain {
		t.Error("the tagged plaintext was not shown without its tag")
	}
	r.checkSecure(0)
	r.noErrors()
	r.exchange(0, 3)
}

// Both sides send before either receives (messages cross on the wire), for
// several rounds: every message is still read.
func TestCrossingMessages(t *testing.T) {
	r := newRelay(t, setup{})
	r.fromUs(r.us.sess.Start())
	r.checkSecure(0)
	th := r.them[0]
	rnd := seeded(3)
	for round := range 20 {
		var ours, theirs []string
		var qo, qt []wire
		for k := range 1 + rnd.Uint64()%3 {
			text := fmt.Sprintf("round %d, our message %d", round, k)
			res, err := r.us.sess.Send(0, text)
			if err != nil {
				t.Fatal(err)
			}
			ours = append(ours, text)
			for _, m := range res.Send {
				qo = append(qo, wire{fromUs: true, text: m.Text})
			}
		}
		for k := range 1 + rnd.Uint64()%3 {
			text := fmt.Sprintf("round %d, libotr's message %d", round, k)
			msgs, err := th.p.Send(ourName, text)
			if err != nil {
				t.Fatal(err)
			}
			theirs = append(theirs, text)
			for _, m := range msgs {
				qt = append(qt, wire{from: th.p.InstanceTag(), text: m})
			}
		}
		// Merge the two directions at random, each keeping its order.
		var mixed []wire
		for len(qo) > 0 && len(qt) > 0 {
			if rnd.Uint64()%2 == 0 {
				mixed, qo = append(mixed, qo[0]), qo[1:]
			} else {
				mixed, qt = append(mixed, qt[0]), qt[1:]
			}
		}
		mixed = append(append(mixed, qo...), qt...)
		r.run(mixed)
		var gotTheirs []string
		for _, m := range messages(r.takeEvents()) {
			gotTheirs = append(gotTheirs, m.Text)
		}
		var gotOurs []string
		for _, g := range th.take() {
			if g.Encrypted {
				gotOurs = append(gotOurs, g.Text)
			}
		}
		if fmt.Sprint(gotOurs) != fmt.Sprint(ours) || fmt.Sprint(gotTheirs) != fmt.Sprint(theirs) {
			t.Fatalf("round %d: libotr read %q of %q; we read %q of %q; our errors %v", round, gotOurs, ours, gotTheirs, theirs, r.us.errs)
		}
	}
	r.noErrors()
}

// Two libotr instances send fragmented messages at once: their fragments
// interleave on the wire and we reassemble both.
func TestInterleavedFragmentsFromTwoInstances(t *testing.T) {
	const mms = 150
	r := newRelay(t, setup{instances: 2, theirMax: mms})
	r.fromUs(r.us.sess.Start())
	r.checkSecure(0)
	r.checkSecure(1)
	texts := [2]string{strings.Repeat("first device ", 60), strings.Repeat("second device ", 60)}
	var frags [2][]string
	for i := range 2 {
		msgs, err := r.them[i].p.Send(ourName, texts[i])
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) < 3 {
			t.Fatalf("instance %d sent %d fragments, want several", i, len(msgs))
		}
		frags[i] = msgs
	}
	var q []wire
	for k := 0; k < max(len(frags[0]), len(frags[1])); k++ {
		for i := range 2 {
			if k < len(frags[i]) {
				q = append(q, wire{from: r.them[i].p.InstanceTag(), text: frags[i][k]})
			}
		}
	}
	r.run(q)
	got := map[uint32]string{}
	for _, m := range messages(r.takeEvents()) {
		got[m.Instance] = m.Text
	}
	for i := range 2 {
		if tag := r.them[i].p.InstanceTag(); got[tag] != texts[i] {
			t.Errorf("from %#x we read %.30q, want %.30q", tag, got[tag], texts[i])
		}
	}
	r.noErrors()
}
