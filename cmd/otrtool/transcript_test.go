package main

import (
	mrand "math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otrgo/otr"
	otrencoding "github.com/otrgo/otr/encoding"
)

// The tests run the tool on real transcripts: two accounts of the otr
// package talking through memory. With seeded randomness and a fixed
// clock a conversation is deterministic, so it can be replayed byte for
// byte and a message swapped for a forgery on the way.

func seeded(seed uint64) *mrand.ChaCha8 {
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	s[2] = 'o'
	return mrand.NewChaCha8(s)
}

var (
	keysOnce sync.Once
	testKeys [2]*otr.PrivateKeys
)

// testKey returns alice's (0) or bob's (1) identity keys, generated once
// per test binary.
func testKey(t testing.TB, i int) *otr.PrivateKeys {
	t.Helper()
	keysOnce.Do(func() {
		for j := range testKeys {
			k, err := otr.GenerateKeys(seeded(uint64(700 + j)))
			if err != nil {
				panic(err)
			}
			testKeys[j] = k
		}
	})
	return testKeys[i]
}

// testNow is the clock of every test conversation.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// policies of the test conversations, by protocol version.
var policies = map[int]otr.Policy{
	3: otr.DefaultPolicy &^ otr.AllowV4,
	4: otr.DefaultPolicy,
}

type party struct {
	name   string
	sess   *otr.Session
	tag    uint32
	events []otr.Event
	errs   []error
}

// wireMessage is one message carried between the parties.
type wireMessage struct {
	from, to string
	text     string
}

// conversation is a finished test conversation.
type conversation struct {
	alice, bob *party
	wire       []wireMessage
}

// lines returns the wire messages, one per line, as parse reads them.
func (c *conversation) lines() string {
	var b strings.Builder
	for _, m := range c.wire {
		b.WriteString(m.text)
		b.WriteByte('\n')
	}
	return b.String()
}

func newParty(t testing.TB, name, contact string, key int, version int, maxSize int) (*party, *otr.Account) {
	t.Helper()
	opts := &otr.Options{
		Rand:   seeded(uint64(10*version + key)),
		Now:    func() time.Time { return testNow },
		Policy: policies[version],
	}
	a, err := otr.NewAccount(name, testKey(t, key), &otr.MemoryHost{MaxSize: maxSize}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &party{name: name, sess: a.Session(contact), tag: a.InstanceTag()}, a
}

// script lines are "alice: text" or "bob: text"; "/start" sends a query
// message, "/end" ends the encrypted session (its last message reveals
// every MAC key still owed).
var defaultScript = []string{
	"alice: /start",
	"alice: Hello Bob, it is Alice.",
	"bob: Hi Alice! Meet me at noon.",
	"alice: Noon it is.",
	"bob: Bring the documents.",
	"alice: I will bring them.",
	"bob: See you there.",
	"alice: Bye for now.",
	"bob: Bye.",
	"bob: /end",
}

// converse runs script in protocol version 3 or 4 with the transport's
// message size limit maxSize (0: none). deliver, if not nil, is given the
// index and text of every wire message and returns what to deliver
// instead; a conversation that delivers the same texts is the same
// conversation, byte for byte.
func converse(t testing.TB, version, maxSize int, script []string, deliver func(i int, text string) string) *conversation {
	t.Helper()
	alice, _ := newParty(t, "alice@example.org", "bob@example.org", 0, version, maxSize)
	bob, _ := newParty(t, "bob@example.org", "alice@example.org", 1, version, maxSize)
	alice.name, bob.name = "alice", "bob"
	c := &conversation{alice: alice, bob: bob}
	pump := func(from, to *party, msgs []otr.Message) {
		for round := 0; len(msgs) > 0; round++ {
			if round > 20 {
				t.Fatal("messages never stop")
			}
			var replies []otr.Message
			for _, m := range msgs {
				text := m.Text
				if deliver != nil {
					text = deliver(len(c.wire), text)
				}
				c.wire = append(c.wire, wireMessage{from: from.name, to: to.name, text: text})
				res, err := to.sess.Receive(text)
				if err != nil {
					to.errs = append(to.errs, err)
				}
				to.events = append(to.events, res.Events...)
				replies = append(replies, res.Send...)
			}
			from, to, msgs = to, from, replies
		}
	}
	for _, line := range script {
		who, text, _ := strings.Cut(line, ": ")
		from, to := alice, bob
		if who == "bob" {
			from, to = bob, alice
		}
		var res otr.Result
		var err error
		switch text {
		case "/start":
			res, err = from.sess.Start()
		case "/end":
			res, err = from.sess.End(0)
		default:
			res, err = from.sess.Send(0, text)
		}
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		pump(from, to, res.Send)
	}
	return c
}

// received returns the texts a party received encrypted.
func (p *party) received() []string {
	var out []string
	for _, ev := range p.events {
		if m, ok := ev.(otr.MessageEvent); ok {
			out = append(out, m.Text)
		}
	}
	return out
}

// secureVersion returns the protocol version of p's first SecureEvent.
func (p *party) secureVersion() int {
	for _, ev := range p.events {
		if s, ok := ev.(otr.SecureEvent); ok {
			return s.Version
		}
	}
	return 0
}

func TestConversationIsDeterministic(t *testing.T) {
	for _, v := range []int{3, 4} {
		a := converse(t, v, 0, defaultScript, nil)
		b := converse(t, v, 0, defaultScript, nil)
		if a.lines() != b.lines() {
			t.Fatalf("v%d: two runs of the same conversation differ", v)
		}
		if got := a.bob.secureVersion(); got != v {
			t.Fatalf("v%d: conversation secured with version %d", v, got)
		}
		if len(a.alice.errs)+len(a.bob.errs) > 0 {
			t.Fatalf("v%d: errors: %v %v", v, a.alice.errs, a.bob.errs)
		}
		if got := a.bob.received(); len(got) != 4 {
			t.Fatalf("v%d: bob received %q, want alice's 4 messages", v, got)
		}
	}
}

// runTool runs otrtool with args and stdin as the command line would,
// with a seeded random source, and returns its output and exit status.
func runTool(t testing.TB, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb strings.Builder
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, rand: seeded(99)}
	code = runEnv(e, args)
	return out.String(), errb.String(), code
}

// payloadOf decodes an encoded wire message.
func payloadOf(t testing.TB, text string) []byte {
	t.Helper()
	env, err := otrencoding.ParseEnvelope(text)
	if err != nil || env.Kind != otrencoding.KindEncoded {
		t.Fatalf("ParseEnvelope(%.40q) = %v, %v; want an encoded message", text, env.Kind, err)
	}
	return env.Payload
}

// dataIndexes returns the positions in c.wire of the data messages sent
// by from, in order.
func (c *conversation) dataIndexes(t testing.TB, from string) []int {
	t.Helper()
	var out []int
	for i, m := range c.wire {
		if m.from != from || !strings.HasPrefix(m.text, "?OTR:") {
			continue
		}
		h, _, err := otrencoding.ParseHeader(payloadOf(t, m.text))
		if err == nil && h.Type == otrencoding.MsgData {
			out = append(out, i)
		}
	}
	return out
}
