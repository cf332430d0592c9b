package interop

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otrgo/otr"
	"github.com/otrgo/otr/interop/libotrpeer"
)

// Mixed versions: one account of ours talks OTRv4 to another account of
// ours (in memory) and OTR3 to libotr at the same time, and an OTR3 key
// exchange never replaces an OTRv4 session.

// carolName is a contact of our account that runs our library too.
const carolName = "carol@example.org"

var (
	carolKeysOnce sync.Once
	carolKeys     *otr.PrivateKeys
	carolKeysErr  error
)

func keysForCarol(t testing.TB) *otr.PrivateKeys {
	t.Helper()
	carolKeysOnce.Do(func() { carolKeys, carolKeysErr = otr.GenerateKeys(seeded(43)) })
	if carolKeysErr != nil {
		t.Fatalf("otr.GenerateKeys: %v", carolKeysErr)
	}
	return carolKeys
}

// mixedNow is the clock of our accounts in these tests: fixed, so that no
// heartbeat of ours interferes. libotr keeps real time.
func mixedNow() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) }

// client is one client (instance) of a contact of our main account.
type client interface {
	tag() uint32
	// receive handles a wire message from our account and returns the
	// wire messages the client sends back.
	receive(text string) []string
	// send encrypts text for our account and returns the wire messages.
	send(text string) []string
	// read returns the texts delivered encrypted since the last read.
	read() []string
}

// ourClient is a client of another account of ours.
type ourClient struct {
	n      *mixedNet
	acct   *otr.Account
	sess   *otr.Session // with our main account
	events []otr.Event
	errs   []error
}

func (n *mixedNet) newOurClient(name string, keys *otr.PrivateKeys, policy otr.Policy, seed uint64) *ourClient {
	n.t.Helper()
	acct, err := otr.NewAccount(name, keys, &otr.MemoryHost{}, &otr.Options{Rand: seeded(seed), Policy: policy, Now: mixedNow})
	if err != nil {
		n.t.Fatalf("otr.NewAccount: %v", err)
	}
	c := &ourClient{n: n, acct: acct, sess: acct.Session(ourName)}
	n.t.Cleanup(func() {
		c.take()
		for _, err := range c.errs {
			n.t.Errorf("%s rejected a message: %v", name, err)
		}
	})
	return c
}

func (c *ourClient) tag() uint32 { return c.acct.InstanceTag() }

func (c *ourClient) receive(text string) []string { return c.result(c.sess.Receive(text)) }

func (c *ourClient) send(text string) []string {
	return c.result(c.sess.Send(c.n.acct.InstanceTag(), text))
}

// result records a Result of the client's session and returns its wire
// messages.
func (c *ourClient) result(res otr.Result, err error) []string {
	c.n.t.Helper()
	if err != nil {
		c.errs = append(c.errs, err)
	}
	c.events = append(c.events, res.Events...)
	var out []string
	for _, m := range res.Send {
		if m.Contact != ourName {
			c.n.t.Fatalf("%s sent to %q, want %q", c.acct.LocalID(), m.Contact, ourName)
		}
		out = append(out, m.Text)
	}
	return out
}

// take returns and forgets the client's events, keeping any trouble.
func (c *ourClient) take() []otr.Event {
	evs := c.events
	c.events = nil
	c.n.ourTrouble(c.acct.LocalID(), evs)
	return evs
}

func (c *ourClient) read() []string {
	var texts []string
	for _, m := range messages(c.take()) {
		if m.Instance != c.n.acct.InstanceTag() {
			c.n.t.Errorf("%s got %q from instance %#x, want %#x", c.acct.LocalID(), m.Text, m.Instance, c.n.acct.InstanceTag())
		}
		texts = append(texts, m.Text)
	}
	return texts
}

// libClient is a libotr instance.
type libClient struct {
	n   *mixedNet
	p   *libotrpeer.Peer
	got []libotrpeer.Received
}

func (n *mixedNet) newLibClient() *libClient {
	n.t.Helper()
	p, err := libotrpeer.New(libotrpeer.Options{Account: theirName})
	if err != nil {
		n.t.Fatalf("libotrpeer.New: %v", err)
	}
	n.t.Cleanup(p.Close)
	c := &libClient{n: n, p: p}
	n.t.Cleanup(func() { c.events() }) // runs before Close
	return c
}

func (c *libClient) tag() uint32 { return c.p.InstanceTag() }

func (c *libClient) receive(text string) []string {
	got, err := c.p.Receive(ourName, text)
	if err != nil {
		c.n.t.Fatal(err)
	}
	if got.Delivered {
		c.got = append(c.got, got)
	}
	return got.Inject
}

func (c *libClient) send(text string) []string {
	msgs, err := c.p.Send(ourName, text)
	if err != nil {
		c.n.t.Fatal(err)
	}
	return msgs
}

func (c *libClient) read() []string {
	var texts []string
	for _, g := range c.got {
		if !g.Encrypted {
			c.n.t.Errorf("libotr delivered %q unencrypted", g.Text)
		}
		texts = append(texts, g.Text)
	}
	c.got = nil
	return texts
}

// events returns and forgets libotr's events, keeping any trouble.
func (c *libClient) events() []libotrpeer.Event {
	evs := c.p.Events()
	for _, e := range evs {
		c.n.trouble = append(c.n.trouble, libotrTrouble(e)...)
	}
	return evs
}

// conv is one session of our main account with a contact, and the
// contact's clients.
type conv struct {
	n       *mixedNet
	sess    *otr.Session
	clients []client
	events  []otr.Event
	errs    []error
}

// hop is one wire message in flight: to a client of the conversation's
// contact, or (to == nil) from one of them to our session.
type hop struct {
	c    *conv
	to   client
	text string
}

// mixedNet carries messages between our main account and its contacts'
// clients.
type mixedNet struct {
	t       *testing.T
	acct    *otr.Account
	trouble []string
}

func newMixedNet(t *testing.T) *mixedNet {
	t.Helper()
	acct, err := otr.NewAccount(ourName, keysForUs(t), &otr.MemoryHost{}, &otr.Options{Rand: seeded(11), Now: mixedNow})
	if err != nil {
		t.Fatalf("otr.NewAccount: %v", err)
	}
	n := &mixedNet{t: t, acct: acct}
	// Registered first, so it runs last, after the clients' checks.
	t.Cleanup(func() {
		for _, s := range n.trouble {
			t.Errorf("trouble: %s", s)
		}
	})
	return n
}

// conv returns our session with contact, whose clients are given.
func (n *mixedNet) conv(contact string, clients ...client) *conv {
	c := &conv{n: n, sess: n.acct.Session(contact), clients: clients}
	n.t.Cleanup(func() {
		c.take()
		for _, err := range c.errs {
			n.t.Errorf("our session with %s rejected a message: %v", contact, err)
		}
	})
	return c
}

func (n *mixedNet) ourTrouble(who string, evs []otr.Event) {
	for _, e := range evs {
		switch e.(type) {
		case otr.ErrorEvent:
			n.trouble = append(n.trouble, who+": "+e.String())
		}
	}
}

// out records a Result of our session on c and returns its wire messages
// as hops, each to the client with the receiver instance tag (to every
// client when the message is addressed to no instance).
func (c *conv) out(res otr.Result, err error) []hop {
	c.n.t.Helper()
	if err != nil {
		c.n.t.Fatalf("our call on %s: %v", c.sess.Contact(), err)
	}
	c.events = append(c.events, res.Events...)
	return c.route(res.Send)
}

func (c *conv) route(msgs []otr.Message) []hop {
	var q []hop
	for _, m := range msgs {
		if m.Contact != c.sess.Contact() {
			c.n.t.Fatalf("our session with %s sent to %q", c.sess.Contact(), m.Contact)
		}
		for _, cl := range c.clients {
			if m.Instance == 0 || m.Instance == cl.tag() {
				q = append(q, hop{c: c, to: cl, text: m.Text})
			}
		}
	}
	return q
}

// in returns wire messages from a client of c's contact as hops to us.
func (c *conv) in(msgs []string) []hop {
	var q []hop
	for _, m := range msgs {
		q = append(q, hop{c: c, text: m})
	}
	return q
}

// take returns and forgets our events on c, keeping any trouble.
func (c *conv) take() []otr.Event {
	evs := c.events
	c.events = nil
	c.n.ourTrouble("ours with "+c.sess.Contact(), evs)
	return evs
}

// read returns the texts we received from the client's instance.
func (c *conv) read(from client) []string {
	var texts []string
	for _, m := range messages(c.take()) {
		if m.Instance != from.tag() {
			c.n.t.Errorf("with %s we got %q from %#x, want %#x", c.sess.Contact(), m.Text, m.Instance, from.tag())
		}
		texts = append(texts, m.Text)
	}
	return texts
}

// run delivers the hops and everything they cause, in order, until quiet.
func (n *mixedNet) run(q []hop) {
	n.t.Helper()
	for steps := 0; len(q) > 0; steps++ {
		if steps > 10000 {
			n.t.Fatalf("the network does not settle; next message %.60q", q[0].text)
		}
		h := q[0]
		q = q[1:]
		if h.to != nil {
			q = append(q, h.c.in(h.to.receive(h.text))...)
			continue
		}
		res, err := h.c.sess.Receive(h.text)
		if err != nil {
			h.c.errs = append(h.c.errs, err)
		}
		h.c.events = append(h.c.events, res.Events...)
		q = append(q, h.c.route(res.Send)...)
	}
}

// merge interleaves the queues at random, each keeping its order.
func merge(rnd *mrand.ChaCha8, qs ...[]hop) []hop {
	var out []hop
	for {
		var live []int
		for i, q := range qs {
			if len(q) > 0 {
				live = append(live, i)
			}
		}
		if len(live) == 0 {
			return out
		}
		i := live[rnd.Uint64()%uint64(len(live))]
		out = append(out, qs[i][0])
		qs[i] = qs[i][1:]
	}
}

// checkV4 checks that our session c and our client cl agree on an
// encrypted OTRv4 session; it returns the SSID.
func (n *mixedNet) checkV4(c *conv, cl *ourClient) otr.SSID {
	n.t.Helper()
	ours, ok := c.sess.Instance(cl.tag())
	if !ok || ours.Status != otr.Encrypted || ours.Version != 4 {
		n.t.Fatalf("our instance %#x: %+v (known %v), want encrypted v4; our errors %v", cl.tag(), ours, ok, c.errs)
	}
	theirs, ok := cl.sess.Instance(n.acct.InstanceTag())
	if !ok || theirs.Status != otr.Encrypted || theirs.Version != 4 {
		n.t.Fatalf("their instance %#x: %+v (known %v), want encrypted v4; their errors %v", n.acct.InstanceTag(), theirs, ok, cl.errs)
	}
	if !bytes.Equal(ours.Fingerprint, cl.acct.Fingerprint4()) || !bytes.Equal(theirs.Fingerprint, n.acct.Fingerprint4()) {
		n.t.Errorf("fingerprints: we see %s (theirs is %s), they see %s (ours is %s)",
			ours.Fingerprint, cl.acct.Fingerprint4(), theirs.Fingerprint, n.acct.Fingerprint4())
	}
	if ours.SSID != theirs.SSID {
		n.t.Errorf("SSIDs differ: ours %s, theirs %s", ours.SSID, theirs.SSID)
	}
	return ours.SSID
}

// checkV3 checks that our session c and libotr client cl agree on an
// encrypted OTR3 session.
func (n *mixedNet) checkV3(c *conv, cl *libClient) {
	n.t.Helper()
	ours, ok := c.sess.Instance(cl.tag())
	if !ok || ours.Status != otr.Encrypted || ours.Version != 3 {
		n.t.Fatalf("our instance %#x: %+v (known %v), want encrypted v3; our errors %v", cl.tag(), ours, ok, c.errs)
	}
	var theirs *libotrpeer.ContextInfo
	for _, ci := range cl.p.Contexts(ourName) {
		if ci.Instance == n.acct.InstanceTag() {
			theirs = &ci
		}
	}
	if theirs == nil || theirs.State != libotrpeer.StateEncrypted || theirs.Version != 3 {
		n.t.Fatalf("libotr context for %#x: %+v, want encrypted v3", n.acct.InstanceTag(), theirs)
	}
	if got, want := ours.Fingerprint.String(), cl.p.Fingerprint(); got != want {
		n.t.Errorf("we see fingerprint %q, libotr's own is %q", got, want)
	}
	if got, want := theirs.Fingerprint, n.acct.Fingerprint().String(); got != want {
		n.t.Errorf("libotr sees fingerprint %q, ours is %q", got, want)
	}
	if !bytes.Equal(theirs.SSID, ours.SSID[:]) {
		n.t.Errorf("libotr SSID %x, ours %x", theirs.SSID, ours.SSID)
	}
}

// talk runs rounds of 1 to 3 messages each way in every conversation
// given, all interleaved at random on the wire, and checks that each
// message arrives once, in order, where it was sent.
func (n *mixedNet) talk(rnd *mrand.ChaCha8, rounds int, peers map[*conv][]client) {
	n.t.Helper()
	type leg struct {
		c    *conv
		cl   client
		toUs bool
	}
	var legs []leg
	for c, cls := range peers {
		for _, cl := range cls {
			legs = append(legs, leg{c, cl, false}, leg{c, cl, true})
		}
	}
	// Map order is random: sort the legs for a deterministic wire.
	slices.SortFunc(legs, func(a, b leg) int {
		if c := cmp.Compare(a.cl.tag(), b.cl.tag()); c != 0 {
			return c
		}
		return cmp.Compare(b2i(a.toUs), b2i(b.toUs))
	})
	for round := range rounds {
		var qs [][]hop
		sent := make([][]string, len(legs))
		for i, l := range legs {
			var q []hop
			for k := range 1 + rnd.Uint64()%3 {
				text := fmt.Sprintf("round %d, %d to %#x (us %v): ✓ %s", round, k, l.cl.tag(), l.toUs, strings.Repeat("x", int(rnd.Uint64()%200)))
				sent[i] = append(sent[i], text)
				if l.toUs {
					q = append(q, l.c.in(l.cl.send(text))...)
				} else {
					q = append(q, l.c.out(l.c.sess.Send(l.cl.tag(), text))...)
				}
			}
			qs = append(qs, q)
		}
		n.run(merge(rnd, qs...))
		got := map[*conv][]string{}
		for i, l := range legs {
			var texts []string
			if l.toUs {
				// Messages of every client of the contact arrive on one
				// session: keep those of this client.
				if _, ok := got[l.c]; !ok {
					for _, m := range messages(l.c.take()) {
						got[l.c] = append(got[l.c], fmt.Sprintf("%x|%s", m.Instance, m.Text))
					}
				}
				prefix := fmt.Sprintf("%x|", l.cl.tag())
				for _, s := range got[l.c] {
					if t, ok := strings.CutPrefix(s, prefix); ok {
						texts = append(texts, t)
					}
				}
			} else {
				texts = l.cl.read()
			}
			if fmt.Sprint(texts) != fmt.Sprint(sent[i]) {
				n.t.Fatalf("round %d, to %#x (us %v): delivered %.200q, want %.200q", round, l.cl.tag(), l.toUs, texts, sent[i])
			}
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// One account of ours talks OTRv4 to Carol (our library) and OTR3 to Bob
// (libotr) at once: both key exchanges, messages, SMP and the end are
// interleaved on the wire.
func TestMixedVersions(t *testing.T) {
	n := newMixedNet(t)
	carol := n.newOurClient(carolName, keysForCarol(t), 0, 12)
	bob := n.newLibClient()
	toCarol := n.conv(carolName, carol)
	toBob := n.conv(theirName, bob)
	rnd := seeded(5)

	// Both key exchanges at once; the query offers 3 and 4 to both.
	n.run(merge(rnd, toCarol.out(toCarol.sess.Start()), toBob.out(toBob.sess.Start())))
	n.checkV4(toCarol, carol)
	n.checkV3(toBob, bob)
	for _, w := range []struct {
		c       *conv
		tag     uint32
		version int
	}{{toCarol, carol.tag(), 4}, {toBob, bob.tag(), 3}} {
		var secure []otr.SecureEvent
		for _, e := range w.c.take() {
			if s, ok := e.(otr.SecureEvent); ok {
				secure = append(secure, s)
			}
		}
		if len(secure) != 1 || secure[0].Version != w.version || secure[0].Instance != w.tag {
			t.Errorf("with %s our secure events %v, want one v%d with %#x", w.c.sess.Contact(), secure, w.version, w.tag)
		}
	}
	carol.take()
	bob.events()

	both := map[*conv][]client{toCarol: {carol}, toBob: {bob}}
	n.talk(rnd, 10, both)

	// SMP in both conversations at once, started by us, with a question
	// to Carol and none to Bob; messages travel in between.
	const question = "Our first pet? ✓"
	n.run(merge(rnd,
		toCarol.out(toCarol.sess.StartSMP(carol.tag(), []byte("carol's secret"), question)),
		toBob.out(toBob.sess.StartSMP(bob.tag(), []byte("bob's secret"), "")),
		toCarol.out(toCarol.sess.Send(carol.tag(), "during SMP")),
		toBob.in(bob.send("during SMP too")),
	))
	evs := carol.take()
	if ms := messages(evs); len(ms) != 1 || ms[0].Text != "during SMP" {
		t.Errorf("Carol read %v during SMP", ms)
	}
	if got := toBob.read(bob); len(got) != 1 || got[0] != "during SMP too" {
		t.Errorf("we read %q from Bob during SMP", got)
	}
	if q := ourSMP(evs).question; q == nil || !q.HasQuestion || q.Question != question || q.Instance != n.acct.InstanceTag() {
		t.Fatalf("Carol's SMP question %+v, want %q from %#x", q, question, n.acct.InstanceTag())
	}
	if evs := bob.events(); !hasSMP(evs, libotrpeer.SMPEventAskForSecret) {
		t.Fatalf("Bob's events %v, want AskForSecret", evs)
	}
	n.run(merge(rnd,
		toCarol.in(carol.result(carol.sess.AnswerSMP(n.acct.InstanceTag(), []byte("carol's secret")))),
		toBob.in(mustLib(t)(bob.p.RespondSMP(ourName, "bob's secret"))),
	))
	if o := ourSMP(toCarol.take()); o.succeeded == nil || o.succeeded.Instance != carol.tag() ||
		!bytes.Equal(o.succeeded.Fingerprint, carol.acct.Fingerprint4()) {
		t.Errorf("our SMP with Carol: %+v, want success on %#x for her v4 fingerprint", o, carol.tag())
	}
	if o := ourSMP(toBob.take()); o.succeeded == nil || o.succeeded.Instance != bob.tag() ||
		o.succeeded.Fingerprint.String() != bob.p.Fingerprint() {
		t.Errorf("our SMP with Bob: %+v, want success on %#x for %s", o, bob.tag(), bob.p.Fingerprint())
	}
	if o := ourSMP(carol.take()); o.succeeded == nil {
		t.Errorf("Carol's SMP outcome %+v, want success", o)
	}
	if evs := bob.events(); !hasSMP(evs, libotrpeer.SMPEventSuccess) {
		t.Errorf("Bob's SMP events %v, want success", evs)
	}

	// Both contacts start SMP at once; we answer Carol right and Bob's
	// question wrong.
	const bobQuestion = "Where did we meet?"
	n.run(merge(rnd,
		toCarol.in(carol.result(carol.sess.StartSMP(n.acct.InstanceTag(), []byte("again"), ""))),
		toBob.in(mustLib(t)(bob.p.StartSMP(ourName, bobQuestion, "paris"))),
	))
	if q := ourSMP(toCarol.take()).question; q == nil || q.HasQuestion || q.Instance != carol.tag() {
		t.Fatalf("our SMP request from Carol %+v, want one without a question", q)
	}
	if q := ourSMP(toBob.take()).question; q == nil || !q.HasQuestion || q.Question != bobQuestion || q.Instance != bob.tag() {
		t.Fatalf("our SMP request from Bob %+v, want %q", q, bobQuestion)
	}
	n.run(merge(rnd,
		toCarol.out(toCarol.sess.AnswerSMP(carol.tag(), []byte("again"))),
		toBob.out(toBob.sess.AnswerSMP(bob.tag(), []byte("london"))),
	))
	if o := ourSMP(toCarol.take()); o.succeeded == nil || o.failed != nil {
		t.Errorf("our SMP with Carol: %+v, want success", o)
	}
	if o := ourSMP(toBob.take()); o.failed == nil || o.failed.Protocol || o.succeeded != nil {
		t.Errorf("our SMP with Bob: %+v, want failure (secrets differ)", o)
	}
	if o := ourSMP(carol.take()); o.succeeded == nil {
		t.Errorf("Carol's SMP outcome %+v, want success", o)
	}
	if evs := bob.events(); !hasSMP(evs, libotrpeer.SMPEventFailure) || hasSMP(evs, libotrpeer.SMPEventSuccess) {
		t.Errorf("Bob's SMP events %v, want failure", evs)
	}

	n.talk(rnd, 3, both)
	if v, v3 := toCarol.sess.Status(carol.tag()), toBob.sess.Status(bob.tag()); v != otr.Encrypted || v3 != otr.Encrypted {
		t.Fatalf("statuses %v, %v after SMP, want both encrypted", v, v3)
	}
	if i, _ := toCarol.sess.Instance(carol.tag()); i.Version != 4 {
		t.Errorf("with Carol: version %d, want 4", i.Version)
	}
	if i, _ := toBob.sess.Instance(bob.tag()); i.Version != 3 {
		t.Errorf("with Bob: version %d, want 3", i.Version)
	}

	// We end with Carol while Bob ends with us.
	n.run(merge(rnd, toCarol.out(toCarol.sess.End(carol.tag())), toBob.in(bob.p.End(ourName))))
	if st := toCarol.sess.Status(carol.tag()); st != otr.Plaintext {
		t.Errorf("our status with Carol after End: %v, want plaintext", st)
	}
	var finished bool
	for _, e := range carol.take() {
		if f, ok := e.(otr.FinishedEvent); ok && f.Instance == n.acct.InstanceTag() {
			finished = true
		}
	}
	if st := carol.sess.Status(n.acct.InstanceTag()); !finished || st != otr.Finished {
		t.Errorf("Carol after our End: finished event %v, status %v; want Finished", finished, st)
	}
	finished = false
	for _, e := range toBob.take() {
		if f, ok := e.(otr.FinishedEvent); ok && f.Instance == bob.tag() {
			finished = true
		}
	}
	if st := toBob.sess.Status(bob.tag()); !finished || st != otr.Finished {
		t.Errorf("we after Bob's End: finished event %v, status %v; want Finished", finished, st)
	}
	if st := bob.p.State(ourName, n.acct.InstanceTag()); st != libotrpeer.StatePlaintext {
		t.Errorf("libotr state after its End: %v, want Plaintext", st)
	}
	if q := toBob.out(toBob.sess.End(0)); len(q) != 0 || toBob.sess.Status(bob.tag()) != otr.Plaintext {
		t.Errorf("our End after Bob's: sends %d messages, status %v; want none, plaintext", len(q), toBob.sess.Status(bob.tag()))
	}
	if got := append(carol.read(), bob.read()...); len(got) != 0 {
		t.Errorf("the ends delivered %q", got)
	}
}

// mustLib fails the test on a libotr error, else passes the messages on.
func mustLib(t *testing.T) func([]string, error) []string {
	return func(msgs []string, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatalf("libotr call: %v", err)
		}
		return msgs
	}
}

// OTR3 message types in the encoded header (OTR3 spec, "Protocol messages").
const (
	typeDHCommit = 0x02
	typeDHKey    = 0x0a
)

// retag rewrites the sender and receiver instance tags of an encoded OTR3
// message of type typ.
func retag(t *testing.T, msg string, typ byte, sender, receiver uint32) string {
	t.Helper()
	b64, okPrefix := strings.CutPrefix(msg, "?OTR:")
	b64, okSuffix := strings.CutSuffix(b64, ".")
	if !okPrefix || !okSuffix {
		t.Fatalf("not an encoded OTR message: %.60q", msg)
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	// Header: SHORT version 3, BYTE type, INT sender, INT receiver.
	if err != nil || len(b) < 11 || binary.BigEndian.Uint16(b) != 3 || b[2] != typ {
		t.Fatalf("not an OTR3 message of type %#x (%v): %x", typ, err, b[:min(len(b), 11)])
	}
	binary.BigEndian.PutUint32(b[3:7], sender)
	binary.BigEndian.PutUint32(b[7:11], receiver)
	return "?OTR:" + base64.StdEncoding.EncodeToString(b) + "."
}

// An OTR3 key exchange message that claims to come from the instance we
// talk OTRv4 with is refused without a reply, and the OTRv4 session goes
// on unchanged (no downgrade); the same message from its real, new
// instance starts an independent OTR3 instance next to the OTRv4 one.
// The OTR3 client is Carol's old OTR3-only client (our library, same
// keys) or libotr. It sends a D-H Commit to no instance or to ours, or it
// answers with a D-H Key the D-H Commit we send on an OTR3-only query
// (which Carol's OTRv4 client, getting it too, refuses likewise).
func TestMixedOTR3KeyExchangeDuringOTRv4(t *testing.T) {
	for _, from := range []string{"our v3-only client", "libotr"} {
		for _, kind := range []string{"D-H Commit to any", "D-H Commit to us", "D-H Key"} {
			t.Run(from+"/"+kind, func(t *testing.T) {
				testV3DuringV4(t, from == "libotr", kind)
			})
		}
	}
}

func testV3DuringV4(t *testing.T, fromLibotr bool, kind string) {
	n := newMixedNet(t)
	carol := n.newOurClient(carolName, keysForCarol(t), 0, 12)
	toCarol := n.conv(carolName, carol)
	rnd := seeded(6)
	n.run(toCarol.out(toCarol.sess.Start()))
	ssid := n.checkV4(toCarol, carol)
	toCarol.take()
	carol.take()

	var old client
	var oldFP string
	if fromLibotr {
		lc := n.newLibClient()
		old, oldFP = lc, lc.p.Fingerprint()
	} else {
		oc := n.newOurClient(carolName, keysForCarol(t), otr.AllowV3, 13)
		old, oldFP = oc, oc.acct.Fingerprint().String()
	}
	var first []string // the OTR3 client's first message, as sent
	var forged string  // the same, claiming to come from Carol's OTRv4 instance
	var wantType string
	switch kind {
	case "D-H Commit to any", "D-H Commit to us":
		first = old.receive("?OTRv3?")
		receiver := uint32(0)
		if kind == "D-H Commit to us" {
			receiver = n.acct.InstanceTag()
		}
		if len(first) != 1 {
			t.Fatalf("the OTR3 client answered the query with %q, want one D-H Commit", first)
		}
		forged, wantType = retag(t, first[0], typeDHCommit, carol.tag(), receiver), "DH-Commit"
	case "D-H Key":
		// An OTR3-only query during the OTRv4 session is a downgrade
		// attempt: we do not answer it.
		res, err := toCarol.sess.Receive("?OTRv3?")
		if err != nil || len(res.Send) != 0 {
			t.Fatalf("our answer to an OTR3 query during OTRv4: %+v, %v; want nothing", res.Send, err)
		}
		// A D-H Commit of ours from another conversation of the same
		// account (same instance tag) lets the OTR3 client make a D-H Key.
		res, err = n.acct.Session("someone-else@example.org").Receive("?OTRv3?")
		if err != nil || len(res.Send) != 1 || res.Send[0].Instance != 0 {
			t.Fatalf("our answer to an OTR3 query: %+v, %v; want one D-H Commit to no instance", res.Send, err)
		}
		commit := res.Send[0].Text
		retag(t, commit, typeDHCommit, n.acct.InstanceTag(), 0) // checks the type
		cres, err := carol.sess.Receive(commit)
		var pe *otr.ProtocolError
		if !errors.Is(err, otr.ErrUnexpectedMessage) || !errors.As(err, &pe) || pe.Version != 3 || pe.MsgType != "DH-Commit" {
			t.Errorf("Carol's OTRv4 client on our D-H Commit: error %v, want a v3 DH-Commit ProtocolError for ErrUnexpectedMessage", err)
		}
		if len(cres.Send) != 0 || len(cres.Events) != 0 {
			t.Errorf("Carol's OTRv4 client sent %d messages and reported %v on our D-H Commit", len(cres.Send), cres.Events)
		}
		first = old.receive(commit)
		if len(first) != 1 {
			t.Fatalf("the OTR3 client answered our D-H Commit with %q, want one D-H Key", first)
		}
		forged, wantType = retag(t, first[0], typeDHKey, carol.tag(), n.acct.InstanceTag()), "DH-Key"
	}

	res, err := toCarol.sess.Receive(forged)
	var pe *otr.ProtocolError
	if !errors.Is(err, otr.ErrUnexpectedMessage) || !errors.As(err, &pe) || pe.Version != 3 || pe.MsgType != wantType {
		t.Errorf("the %s from the OTRv4 instance: error %v, want a v3 %s ProtocolError for ErrUnexpectedMessage", wantType, err, wantType)
	}
	if len(res.Send) != 0 || len(res.Events) != 0 {
		t.Errorf("the refused %s made us send %d messages and report %v", wantType, len(res.Send), res.Events)
	}
	if got := n.checkV4(toCarol, carol); got != ssid {
		t.Errorf("SSID %s after the refused %s, was %s", got, wantType, ssid)
	}
	if infos := toCarol.sess.Instances(); len(infos) != 1 {
		t.Errorf("instances after the refused %s: %+v, want only Carol's OTRv4 one", wantType, infos)
	}
	n.talk(rnd, 3, map[*conv][]client{toCarol: {carol}})

	if kind == "D-H Key" {
		// Our D-H Commit came from another conversation (we do not answer
		// an OTR3-only query during OTRv4), so the genuine D-H Key has no
		// exchange to join here.
		return
	}
	// The message as sent, from its own instance: a new OTR3 instance.
	toCarol.clients = append(toCarol.clients, old)
	n.run(toCarol.in(first))
	info, ok := toCarol.sess.Instance(old.tag())
	if !ok || info.Status != otr.Encrypted || info.Version != 3 || info.Fingerprint.String() != oldFP {
		t.Fatalf("the new instance %#x: %+v (known %v), want encrypted v3 with %s; our errors %v", old.tag(), info, ok, oldFP, toCarol.errs)
	}
	switch old := old.(type) {
	case *libClient:
		n.checkV3(toCarol, old)
		old.events()
	case *ourClient:
		if i, ok := old.sess.Instance(n.acct.InstanceTag()); !ok || i.Status != otr.Encrypted || i.Version != 3 || i.SSID != info.SSID {
			t.Fatalf("the OTR3 client's view: %+v (known %v), want encrypted v3 with SSID %s", i, ok, info.SSID)
		}
		old.take()
	}
	if got := n.checkV4(toCarol, carol); got != ssid {
		t.Errorf("the OTRv4 instance's SSID %s after the OTR3 exchange, was %s", got, ssid)
	}
	if infos := toCarol.sess.Instances(); len(infos) != 2 {
		t.Errorf("instances: %+v, want Carol's OTRv4 one and the new OTR3 one", infos)
	}
	toCarol.take()
	n.talk(rnd, 5, map[*conv][]client{toCarol: {carol, old}})
}

// receiveGuarded is sess.Receive, turning a panic into a test failure (a
// panic reachable from input is a bug) and stopping the test, since the
// session's lock may be left held.
func receiveGuarded(t *testing.T, sess *otr.Session, wire string) (res otr.Result, err error) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("Receive panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return sess.Receive(wire)
}

// An OTR3 D-H Commit from the instance of Carol's OTRv4 client while that
// instance is not encrypted (its DAKE in progress, or its session ended by
// either side) is handled without a panic, and OTRv4 with the instance
// then works: the DAKE completes, or a new one does.
func TestMixedOTR3KeyExchangeOnIdleOTRv4Instance(t *testing.T) {
	for _, state := range []string{"DAKE in progress", "ended by us", "finished by Carol"} {
		t.Run(state, func(t *testing.T) {
			n := newMixedNet(t)
			carol := n.newOurClient(carolName, keysForCarol(t), 0, 12)
			toCarol := n.conv(carolName, carol)
			old := n.newOurClient(carolName, keysForCarol(t), otr.AllowV3, 13)
			commits := old.receive("?OTRv3?")
			if len(commits) != 1 {
				t.Fatalf("the OTR3 client answered the query with %q, want one D-H Commit", commits)
			}
			forged := retag(t, commits[0], typeDHCommit, carol.tag(), 0)

			var held []hop // our Auth-R, in the DAKE case
			switch state {
			case "DAKE in progress":
				// Our query; Carol's Identity message; our Auth-R, held.
				for _, h := range toCarol.out(toCarol.sess.Start()) {
					for _, m := range h.to.receive(h.text) {
						res, err := toCarol.sess.Receive(m)
						if err != nil {
							t.Fatalf("Carol's Identity message: %v", err)
						}
						held = append(held, toCarol.out(res, nil)...)
					}
				}
				if info, ok := toCarol.sess.Instance(carol.tag()); !ok || info.Status != otr.Plaintext || len(held) != 1 {
					t.Fatalf("after Carol's Identity message: %+v (known %v), %d messages held; want a plaintext instance and our Auth-R", info, ok, len(held))
				}
			case "ended by us":
				n.run(toCarol.out(toCarol.sess.Start()))
				n.checkV4(toCarol, carol)
				n.run(toCarol.out(toCarol.sess.End(carol.tag())))
			case "finished by Carol":
				n.run(toCarol.out(toCarol.sess.Start()))
				n.checkV4(toCarol, carol)
				n.run(toCarol.in(carol.result(carol.sess.End(0))))
			}
			toCarol.take()
			carol.take()

			res, err := receiveGuarded(t, toCarol.sess, forged)
			t.Logf("the D-H Commit: %d messages, events %v, error %v", len(res.Send), res.Events, err)

			// OTRv4 goes on: the DAKE completes, or a new one does.
			switch state {
			case "DAKE in progress":
				n.run(held)
			case "ended by us":
				carol.result(carol.sess.End(0))
				n.run(toCarol.out(toCarol.sess.Start()))
			case "finished by Carol":
				n.run(toCarol.out(toCarol.sess.End(0)))
				n.run(toCarol.out(toCarol.sess.Start()))
			}
			n.checkV4(toCarol, carol)
			toCarol.take()
			carol.take()
			n.talk(seeded(7), 2, map[*conv][]client{toCarol: {carol}})
		})
	}
}
