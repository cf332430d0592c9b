package libotrpeer

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestAKEByQuery(t *testing.T) {
	n, a, b := pair(t, Options{}, Options{})
	q := a.p.Query()
	if !strings.HasPrefix(q, "?OTRv23?") {
		t.Errorf("Query() = %.20q, want prefix %q", q, "?OTRv23?")
	}
	secure(t, n, a, b)

	if got, want := a.p.TheirFingerprint(b.name), b.p.Fingerprint(); got != want || len(got) != 44 {
		t.Errorf("alice sees fingerprint %q, bob's is %q", got, want)
	}
	if got, want := b.p.TheirFingerprint(a.name), a.p.Fingerprint(); got != want {
		t.Errorf("bob sees fingerprint %q, alice's is %q", got, want)
	}
	sa, sb := a.p.SSID(b.name), b.p.SSID(a.name)
	if len(sa) != 8 || !bytes.Equal(sa, sb) {
		t.Errorf("SSIDs %x and %x, want equal, 8 bytes", sa, sb)
	}
	for _, nd := range []*node{a, b} {
		evs := nd.p.Events()
		if !hasEvent(evs, func(e Event) bool { return e.Kind == EventGoneSecure }) {
			t.Errorf("%s events %v, want GoneSecure", nd.name, evs)
		}
		if !hasEvent(evs, func(e Event) bool { return e.Kind == EventNewFingerprint && e.Text != "" }) {
			t.Errorf("%s events %v, want NewFingerprint", nd.name, evs)
		}
	}
	infos := a.p.Contexts(b.name)
	if len(infos) != 2 || infos[0].Instance != 0 || infos[1].Instance != b.p.InstanceTag() || infos[1].Version != 3 {
		t.Errorf("alice's contexts %+v, want master and bob's instance %#x at version 3", infos, b.p.InstanceTag())
	}
}

func TestMessages(t *testing.T) {
	n, a, b := pair(t, Options{}, Options{})
	secure(t, n, a, b)
	texts := []string{"hello", "grüße, ünïcödé", "日本語のテキスト", "emoji 🔐🗝️", "<b>markup</b> & \"quotes\"", strings.Repeat("long ", 200)}
	for i := range 100 {
		// Alternate senders most of the time, with some bursts, so keys
		// rotate the way they do in a conversation.
		from, to := a, b
		if i%3 == 1 {
			from, to = b, a
		}
		for dir := range 2 {
			if dir == 1 {
				from, to = to, from
			}
			text := fmt.Sprintf("%d %s", i, texts[i%len(texts)])
			n.send(from, to.name, text)
			got := to.take()
			if len(got) != 1 || got[0].Text != text || !got[0].Encrypted {
				t.Fatalf("message %d from %s: delivered %+v, want %.30q encrypted", i, from.name, got, text)
			}
		}
	}
}

func TestFragmentation(t *testing.T) {
	const mms = 150
	n, a, b := pair(t, Options{MaxMessageSize: mms}, Options{MaxMessageSize: mms})
	n.deliver(a, []string{a.p.Query()})
	if !a.p.Secure(b.name) {
		t.Fatal("no session with fragmented AKE messages")
	}
	var frags int
	for _, w := range n.wires[1:] { // [0] is the query, sent as it is
		if len(w) > mms {
			t.Errorf("AKE message of %d bytes, want <= %d", len(w), mms)
		}
		if strings.HasPrefix(w, "?OTR|") {
			frags++
		}
	}
	if frags < 8 {
		t.Errorf("%d fragments in the AKE, want the AKE messages fragmented", frags)
	}
	text := strings.Repeat("fragment ünïcode ", 40)
	for _, pr := range [][2]*node{{a, b}, {b, a}} {
		msgs, err := pr[0].p.Send(pr[1].name, text)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) < 2 {
			t.Fatalf("%s sent %d messages, want fragments", pr[0].name, len(msgs))
		}
		for _, m := range msgs {
			if len(m) > mms || !strings.HasPrefix(m, "?OTR|") {
				t.Errorf("fragment %.40q: length %d, want <= %d and ?OTR| prefix", m, len(m), mms)
			}
		}
		n.deliver(pr[0], msgs)
		got := pr[1].take()
		if len(got) != 1 || got[0].Text != text || !got[0].Encrypted {
			t.Errorf("%s got %d deliveries, want the text once", pr[1].name, len(got))
		}
	}
}

func TestWhitespaceTag(t *testing.T) {
	n, a, b := pair(t, Options{}, Options{})
	msgs, err := a.p.Send(b.name, "hi there")
	if err != nil || len(msgs) != 1 || !strings.HasPrefix(msgs[0], "hi there \t  \t\t\t\t \t \t \t  ") {
		t.Fatalf("Send = %q, %v; want a whitespace-tagged plaintext", msgs, err)
	}
	n.deliver(a, msgs)
	if got := b.take(); len(got) != 1 || got[0].Text != "hi there" || got[0].Encrypted {
		t.Errorf("bob got %+v, want the untagged plaintext", got)
	}
	if !a.p.Secure(b.name) || !b.p.Secure(a.name) {
		t.Error("the whitespace tag did not start an AKE")
	}
}

func TestEnd(t *testing.T) {
	for _, ender := range []string{"alice", "bob"} {
		t.Run(ender, func(t *testing.T) {
			n, a, b := pair(t, Options{}, Options{})
			secure(t, n, a, b)
			if ender == "bob" {
				a, b = b, a
			}
			msgs := a.p.End(b.name)
			if len(msgs) != 1 {
				t.Fatalf("End sent %d messages, want 1", len(msgs))
			}
			if s := a.p.State(b.name, InstanceBest); s != StatePlaintext {
				t.Errorf("ender state %v, want Plaintext", s)
			}
			n.deliver(a, msgs)
			if got := b.take(); len(got) != 0 {
				t.Errorf("the disconnect notice delivered %+v", got)
			}
			if s := b.p.State(a.name, InstanceBest); s != StateFinished {
				t.Errorf("other state %v, want Finished", s)
			}
			b.p.Events()
			msgs, err := b.p.Send(a.name, "anyone there")
			if err != nil || len(msgs) != 0 {
				t.Errorf("Send after the end = %q, %v; want nothing", msgs, err)
			}
			if evs := b.p.Events(); !hasEvent(evs, func(e Event) bool { return e.Msg == MsgEventConnectionEnded }) {
				t.Errorf("events %v, want ConnectionEnded", evs)
			}
			b.p.End(a.name)
			if s := b.p.State(a.name, InstanceBest); s != StatePlaintext {
				t.Errorf("state after End %v, want Plaintext", s)
			}
		})
	}
}

func TestRequireEncryption(t *testing.T) {
	n, a, b := pair(t, Options{Policy: PolicyAlways}, Options{})
	const secret = "my secret text"
	msgs, err := a.p.Send(b.name, secret)
	if err != nil || len(msgs) != 1 || strings.Contains(msgs[0], secret) || !containsQuery(msgs[0]) {
		t.Fatalf("Send = %q, %v; want a query without the text", msgs, err)
	}
	n.deliver(a, msgs)
	got := b.take()
	if !a.p.Secure(b.name) || len(got) != 1 || got[0].Text != secret || !got[0].Encrypted {
		t.Errorf("bob got %+v, want the stored message resent encrypted", got)
	}
	// A plaintext from bob is not shown to alice.
	n.deliver(b, []string{"plain words"})
	if got := a.take(); len(got) != 0 {
		t.Errorf("alice got %+v, want nothing", got)
	}
}

func TestSMP(t *testing.T) {
	tests := []struct {
		name, question, secretA, secretB string
		want                             SMPEvent
	}{
		{"match", "", "correct horse", "correct horse", SMPEventSuccess},
		{"question", "Where did we meet?", "Berlin", "Berlin", SMPEventSuccess},
		{"mismatch", "", "one", "two", SMPEventFailure},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, a, b := pair(t, Options{}, Options{})
			secure(t, n, a, b)
			a.p.Events()
			b.p.Events()
			msgs, err := a.p.StartSMP(b.name, tc.question, tc.secretA)
			if err != nil {
				t.Fatal(err)
			}
			n.deliver(a, msgs)
			ask := SMPEventAskForSecret
			if tc.question != "" {
				ask = SMPEventAskForAnswer
			}
			if evs := b.p.Events(); !hasEvent(evs, func(e Event) bool { return e.SMP == ask && e.Text == tc.question }) {
				t.Fatalf("bob events %v, want %v with the question", evs, ask)
			}
			msgs, err = b.p.RespondSMP(a.name, tc.secretB)
			if err != nil {
				t.Fatal(err)
			}
			n.deliver(b, msgs)
			for _, nd := range []*node{a, b} {
				if evs := nd.p.Events(); !hasEvent(evs, func(e Event) bool { return e.Kind == EventSMP && e.SMP == tc.want }) {
					t.Errorf("%s events %v, want %v", nd.name, evs, tc.want)
				}
			}
			// libotr trusts the fingerprint after a successful SMP without
			// a question (the asker's side of one with a question).
			wantTrust := ""
			if tc.want == SMPEventSuccess {
				wantTrust = "smp"
			}
			if got := a.p.Trust(b.name); got != wantTrust {
				t.Errorf("alice's trust in bob %q, want %q", got, wantTrust)
			}
		})
	}
}

func TestSMPAbort(t *testing.T) {
	n, a, b := pair(t, Options{}, Options{})
	secure(t, n, a, b)
	msgs, _ := a.p.StartSMP(b.name, "", "x")
	n.deliver(a, msgs)
	msgs, err := b.p.AbortSMP(a.name)
	if err != nil {
		t.Fatal(err)
	}
	a.p.Events()
	n.deliver(b, msgs)
	if evs := a.p.Events(); !hasEvent(evs, func(e Event) bool { return e.SMP == SMPEventAbort }) {
		t.Errorf("alice events %v, want Abort", evs)
	}
}

func TestSymKey(t *testing.T) {
	n, a, b := pair(t, Options{}, Options{})
	secure(t, n, a, b)
	n.send(b, a.name, "a reply so that keys have moved on")
	key, msgs, err := a.p.SymKey(b.name, 7, []byte("file.txt"))
	if err != nil {
		t.Fatal(err)
	}
	b.p.Events()
	n.deliver(a, msgs)
	evs := b.p.Events()
	if !hasEvent(evs, func(e Event) bool {
		return e.Kind == EventSymKey && e.Use == 7 && string(e.UseData) == "file.txt" && e.Key == key
	}) {
		t.Errorf("bob events %v, want SymKey with use 7 and alice's key", evs)
	}
	if key == [32]byte{} {
		t.Error("zero key")
	}
}

func TestInstancesOfOneAccount(t *testing.T) {
	n := &network{t: t}
	a := n.add("alice@example.org", newPeer(t, Options{Account: "alice@example.org"}))
	// Two devices of bob: one account, one key, two user states.
	b1p := newPeer(t, Options{Account: "bob@example.org"})
	b2p := newPeer(t, Options{Account: "bob@example.org", KeyFile: b1p.KeyFile()})
	b1 := n.add("bob@example.org", b1p)
	b2 := n.add("bob@example.org", b2p)
	if b1p.Fingerprint() != b2p.Fingerprint() || b1p.InstanceTag() == b2p.InstanceTag() {
		t.Fatalf("devices: fingerprints %s, %s; tags %#x, %#x", b1p.Fingerprint(), b2p.Fingerprint(), b1p.InstanceTag(), b2p.InstanceTag())
	}
	n.deliver(a, []string{a.p.Query()})
	for _, b := range []*node{b1, b2} {
		if st := a.p.State(b.name, b.p.InstanceTag()); st != StateEncrypted {
			t.Fatalf("alice's context for instance %#x: %v, want Encrypted", b.p.InstanceTag(), st)
		}
		if !b.p.Secure(a.name) {
			t.Fatalf("device %#x not secure", b.p.InstanceTag())
		}
	}
	for i, b := range []*node{b1, b2} {
		text := fmt.Sprintf("to device %d", i)
		msgs, err := a.p.SendTo(b.name, b.p.InstanceTag(), text)
		if err != nil {
			t.Fatal(err)
		}
		n.deliver(a, msgs)
		g1, g2 := b1.take(), b2.take()
		mine, other := g1, g2
		if i == 1 {
			mine, other = g2, g1
		}
		if len(mine) != 1 || mine[0].Text != text || len(other) != 0 {
			t.Errorf("message to device %d: delivered %+v and %+v", i, mine, other)
		}
	}
	// Each device's reply arrives on its own context at alice.
	n.send(b2, a.name, "from two")
	if got := a.take(); len(got) != 1 || got[0].Text != "from two" {
		t.Errorf("alice got %+v", got)
	}
}

func TestFingerprintStore(t *testing.T) {
	n, a, b := pair(t, Options{}, Options{})
	secure(t, n, a, b)
	path := t.TempDir() + "/otr.fingerprints"
	if err := a.p.WriteFingerprints(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	hexfp := strings.ToLower(strings.ReplaceAll(b.p.Fingerprint(), " ", ""))
	// libotr ends the line with a tab and the (empty) trust.
	want := fmt.Sprintf("%s\t%s\t%s\t%s\t\n", b.name, a.name, "otrgo", hexfp)
	if !strings.Contains(string(data), want) {
		t.Errorf("fingerprint file %q, want the line %q", data, want)
	}
	// A fresh peer of the same account reads it back.
	c := newPeer(t, Options{Account: a.name, KeyFile: a.p.KeyFile()})
	if err := c.ReadFingerprints(path); err != nil {
		t.Fatal(err)
	}
	if got := c.Contexts(b.name); len(got) != 1 {
		t.Errorf("contexts after reading the store: %+v, want the master", got)
	}
	if got := a.p.InstagFile(); got == "" {
		t.Error("no instance tag file")
	}
}
