package ratchet4

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	otrencoding "github.com/otrgo/otr/encoding"
	"github.com/otrgo/otr/internal/vectors"
)

type ratchetFile struct {
	AfterDAKE struct {
		Alice snapshot `json:"alice"`
		Bob   snapshot `json:"bob"`
	} `json:"after_dake"`
	Conversation []messageVector `json:"conversation"`
	Schedules    []struct {
		Name     string   `json:"name"`
		Comment  string   `json:"comment"`
		Events   []event  `json:"events"`
		BobFinal snapshot `json:"bob_final_state"`
	} `json:"schedules"`
	Bound struct {
		Max      int             `json:"max_stored_message_keys"`
		Sent     int             `json:"messages_sent_by_alice_in_ratchet_0"`
		Messages []messageVector `json:"messages"`
		Events   []event         `json:"events"`
	} `json:"stored_key_bound"`
}

type event struct {
	Comment            string      `json:"comment"`
	Action             string      `json:"action"`
	Sender             string      `json:"sender"`
	Message            int         `json:"message"`
	Variant            string      `json:"variant"`
	Result             string      `json:"result"`
	PlaintextText      string      `json:"plaintext_text"`
	Identical          *bool       `json:"identical_to_conversation"`
	RevealedMACKeys    vectors.Hex `json:"revealed_mac_keys"`
	RevealedMACKeysOf  []string    `json:"revealed_mac_keys_of"`
	Encoded            vectors.Hex `json:"encoded"`
	Authenticator      vectors.Hex `json:"authenticator"`
	Delivered          string      `json:"delivered_to_alice_immediately"`
	SenderStateAfter   *snapshot   `json:"sender_state_after"`
	ReceiverStateAfter *snapshot   `json:"receiver_state_after"`
}

// labelIndex returns n of a conversation label "#n alice i=.. j=..".
func labelIndex(t *testing.T, label string) int {
	t.Helper()
	f := strings.Fields(label)
	if len(f) == 0 || !strings.HasPrefix(f[0], "#") {
		t.Fatalf("bad label %q", label)
	}
	n, err := strconv.Atoi(f[0][1:])
	if err != nil {
		t.Fatalf("bad label %q", label)
	}
	return n
}

// run replays events against the parties: msgs[index] are the message
// records, sent[index] what our sender produced.
type run struct {
	t    *testing.T
	p    *parties
	msgs map[int]*messageVector
	sent map[int][]byte

	// Where we knowingly differ from otr4j (see the out_of_order schedule):
	// messages we decrypted that otr4j rejected; their MAC keys are queued
	// after otr4j's until bob's next ratchet step reveals them.
	extraPending []int
	notStored    map[int]bool
	// bulk: alice's ratchet 0 holds the numbered bulk messages.
	bulk bool
}

// indexOfMAC finds the message whose MAC key is k.
func (r *run) indexOfMAC(k [64]byte) int {
	for i, m := range r.msgs {
		if bytes.Equal(m.MKMAC, k[:]) {
			return i
		}
	}
	return -1
}

func (r *run) indexOfStored(ratchetID, messageID uint32) int {
	for i, m := range r.msgs {
		if m.Sender == "alice" && m.RatchetID == ratchetID && m.MessageID == messageID {
			return i
		}
	}
	if r.bulk && ratchetID == 0 {
		return int(messageID) // bulk message n has message id n
	}
	return -1
}

func (r *run) checkBob(t *testing.T, want *snapshot) {
	t.Helper()
	bob := r.p.bob
	checkSnapshot(t, "bob", bob, want)
	if want.Stored != nil {
		var got []int
		for _, e := range bob.skipped {
			got = append(got, r.indexOfStored(e.ratchetID, e.messageID))
		}
		if want.Stored.List != nil || want.Stored.Count == 0 {
			var exp []int
			for _, e := range want.Stored.List {
				if n := labelIndex(t, e.KeysOf); !r.notStored[n] {
					exp = append(exp, n)
				}
			}
			if !slices.Equal(got, exp) {
				t.Errorf("stored keys of messages %v, want %v", got, exp)
			}
		} else if len(got) != want.Stored.Count || got[0] != labelIndex(t, want.Stored.First.KeysOf) ||
			got[len(got)-1] != labelIndex(t, want.Stored.Last.KeysOf) {
			t.Errorf("stored %d keys (first #%d, last #%d), want %d (%s, %s)", len(got), got[0], got[len(got)-1],
				want.Stored.Count, want.Stored.First.KeysOf, want.Stored.Last.KeysOf)
		}
	}
	if want.Pending != nil {
		var got, exp []int
		for _, k := range bob.pending {
			got = append(got, r.indexOfMAC(k))
		}
		for _, l := range want.Pending {
			exp = append(exp, labelIndex(t, l))
		}
		exp = append(exp, r.extraPending...)
		if !slices.Equal(got, exp) {
			t.Errorf("pending MAC reveals of messages %v, want %v", got, exp)
		}
	}
}

// tamper flips bit 0 of the authenticator's first byte.
func tamper(t testing.TB, enc []byte) []byte {
	t.Helper()
	_, _, authLen, err := otrencoding.ParseDataMessage4(enc)
	if err != nil {
		t.Fatal(err)
	}
	out := bytes.Clone(enc)
	out[authLen] ^= 0x01
	return out
}

func (r *run) event(t *testing.T, e *event, lateFault bool) {
	t.Helper()
	v := r.msgs[e.Message]
	if v == nil {
		t.Fatalf("no record of message %d", e.Message)
	}
	switch e.Action {
	case "send":
		out, _ := r.p.send(t, v)
		r.sent[e.Message] = out
		_, m, authLen, err := otrencoding.ParseDataMessage4(out)
		if err != nil {
			t.Fatal(err)
		}
		var wantReveal []byte
		for _, l := range e.RevealedMACKeysOf {
			wantReveal = append(wantReveal, r.msgs[labelIndex(t, l)].MKMAC...)
		}
		if !bytes.Equal(wantReveal, e.RevealedMACKeys) {
			t.Fatalf("vector: revealed MAC keys do not match their labels")
		}
		if e.Sender == "bob" {
			for _, n := range r.extraPending {
				wantReveal = append(wantReveal, r.msgs[n].MKMAC...)
			}
		}
		var got []string
		for k := range slices.Chunk(m.RevealedMACKeys, 64) {
			got = append(got, fmt.Sprintf("#%d", r.indexOfMAC([64]byte(k))))
		}
		if !bytes.Equal(m.RevealedMACKeys, wantReveal) {
			t.Errorf("revealed MAC keys of %v, want %v (+ %v)", got, e.RevealedMACKeysOf, r.extraPending)
		}
		switch {
		case e.Sender == "bob" && len(r.extraPending) > 0:
			// Only the revealed keys differ: compare the authenticated part.
			if !bytes.Equal(out[:authLen], v.AuthenticatedBytes) || !bytes.Equal(m.Authenticator[:], v.Authenticator) {
				t.Errorf("authenticated part or authenticator differ from otr4j's")
			}
			r.extraPending = nil
		case e.Identical == nil || *e.Identical:
			if !bytes.Equal(out, v.Encoded) {
				t.Errorf("%s: encoded\n%x\nwant\n%x", e.Comment, out, []byte(v.Encoded))
			}
		default:
			if !bytes.Equal(out, e.Encoded) {
				t.Errorf("%s: encoded\n%x\nwant\n%x", e.Comment, out, []byte(e.Encoded))
			}
		}
		if e.SenderStateAfter != nil {
			s := r.p.alice
			if e.Sender == "bob" {
				s = r.p.bob
			}
			checkSnapshot(t, e.Sender, s, e.SenderStateAfter)
		}
		if e.Sender == "bob" {
			// Every bob message reaches alice at once, in order.
			got, err := r.p.alice.Decrypt(testNow, out)
			if err != nil || !bytes.Equal(got.Plaintext, v.Plaintext) {
				t.Fatalf("alice: Decrypt(#%d) = %q, %v", e.Message, got.Plaintext, err)
			}
		}
	case "deliver":
		in := r.sent[e.Message]
		if in == nil {
			t.Fatalf("message %d delivered before it was sent", e.Message)
		}
		if e.Variant == "tampered" {
			in = tamper(t, in)
		}
		before := digest(r.p.bob)
		got, err := r.p.bob.Decrypt(testNow, in)
		switch {
		case lateFault:
			// otr4j stored this message's key under the wrong ratchet id
			// (ratchet.json, "otr4j behaviour shown" (3)) and rejects it.
			// The spec stores the skipped keys of the previous chain under
			// that chain, so a spec-following receiver decrypts it.
			if e.Result != "rejected" {
				t.Fatalf("vector: expected otr4j to reject this message")
			}
			if err != nil || !bytes.Equal(got.Plaintext, v.Plaintext) {
				t.Fatalf("%s: Decrypt = %q, %v; want the plaintext", e.Comment, got.Plaintext, err)
			}
			r.extraPending = append(r.extraPending, e.Message)
			r.notStored[e.Message] = true
		case e.Result == "decrypted":
			if err != nil {
				t.Fatalf("%s: Decrypt error = %v", e.Comment, err)
			}
			if string(bytes.TrimRight(got.Plaintext, "\x00")) != e.PlaintextText || !bytes.Equal(got.Plaintext, v.Plaintext) {
				t.Errorf("Decrypt = %q, want %q", got.Plaintext, e.PlaintextText)
			}
			if !bytes.Equal(got.ExtraKey[:], v.ExtraSymmetricKey) {
				t.Errorf("extra key %x, want %x", got.ExtraKey, []byte(v.ExtraSymmetricKey))
			}
		case e.Result == "rejected":
			want := ErrReplay
			if e.Variant == "tampered" {
				want = ErrBadMAC
			}
			if !errors.Is(err, want) {
				t.Errorf("%s: Decrypt error = %v, want %v", e.Comment, err, want)
			}
			if digest(r.p.bob) != before {
				t.Errorf("rejected message changed the state")
			}
		default:
			t.Fatalf("vector: result %q", e.Result)
		}
		if e.ReceiverStateAfter != nil {
			r.checkBob(t, e.ReceiverStateAfter)
		}
	default:
		t.Fatalf("vector: action %q", e.Action)
	}
}

// TestRatchetVectors replays ratchet.json: otr4j's 20-message conversation
// over 8 ratchets under three delivery schedules (in order; reversed within
// ratchets with late messages; lost, replayed and forged), then the
// 1000-stored-key bound. Every message we send must equal otr4j's byte for
// byte, and bob must decrypt or reject what otr4j did, with the same
// ratchet state, stored keys and MAC keys queued for revelation, except
// for the one late message otr4j loses to a bug (see below).
func TestRatchetVectors(t *testing.T) {
	var f ratchetFile
	vectors.Load(t, "otrv4/ratchet.json", &f)
	dake := loadDAKE(t)
	if len(f.Conversation) != 20 || len(f.Schedules) != 3 {
		t.Fatalf("ratchet.json: %d messages, %d schedules", len(f.Conversation), len(f.Schedules))
	}
	t.Run("after_dake", func(t *testing.T) {
		p := newParties(t, dake, Options{})
		checkSnapshot(t, "alice", p.alice, &f.AfterDAKE.Alice)
		checkSnapshot(t, "bob", p.bob, &f.AfterDAKE.Bob)
	})
	for _, sc := range f.Schedules {
		t.Run(sc.Name, func(t *testing.T) {
			r := &run{t: t, p: newParties(t, dake, Options{}), msgs: map[int]*messageVector{},
				sent: map[int][]byte{}, notStored: map[int]bool{}}
			for i := range f.Conversation {
				r.msgs[f.Conversation[i].Index] = &f.Conversation[i]
			}
			for n := range sc.Events {
				e := &sc.Events[n]
				// The one message otr4j rejects wrongly: ratchet id 1's last
				// message arriving after alice's ratchet 3 in out_of_order.
				lateFault := sc.Name == "out_of_order" && e.Action == "deliver" && e.Message == 7
				t.Run(fmt.Sprintf("%02d_%s_%s_%d", n, e.Action, e.Variant, e.Message), func(t *testing.T) {
					r.event(t, e, lateFault)
				})
				if t.Failed() {
					return
				}
			}
			t.Run("bob_final_state", func(t *testing.T) { r.checkBob(t, &sc.BobFinal) })
		})
	}
	t.Run("stored_key_bound", func(t *testing.T) {
		// otr4j has no bound on how far one message may skip (no max_skip):
		// lift ours to reproduce its run; TestSkipAheadBound covers ours.
		p := newParties(t, dake, Options{MaxSkipped: f.Bound.Max, MaxSkipAhead: 1 << 20})
		r := &run{t: t, p: p, msgs: map[int]*messageVector{}, sent: map[int][]byte{}, notStored: map[int]bool{}, bulk: true}
		for i := range f.Bound.Messages {
			r.msgs[f.Bound.Messages[i].Index] = &f.Bound.Messages[i]
		}
		for n := range f.Bound.Sent {
			v := r.msgs[n]
			if v == nil {
				v = &messageVector{Sender: "alice", Plaintext: fmt.Appendf(nil, "bulk message #%d\x00", n)}
			}
			out, _ := p.send(t, v)
			if v.Encoded != nil && !bytes.Equal(out, v.Encoded) {
				t.Fatalf("bulk message %d: encoded differs from otr4j's", n)
			}
			r.sent[n] = out
		}
		t.Run("default_max_skip_ahead", func(t *testing.T) {
			// With our default bound (the spec's max_skip, 1000), the
			// message that skips 1002 keys is rejected before any key is
			// derived, and the chain still works.
			q := newParties(t, dake, Options{})
			before := digest(q.bob)
			if _, err := q.bob.Decrypt(testNow, r.sent[1002]); !errors.Is(err, ErrTooFarAhead) {
				t.Fatalf("Decrypt(#1002) error = %v, want ErrTooFarAhead", err)
			}
			if digest(q.bob) != before {
				t.Fatalf("rejected message changed the state")
			}
			mustDecrypt(t, q.bob, r.sent[0], "bulk message #0\x00")
			mustDecrypt(t, q.bob, r.sent[1001], "bulk message #1001\x00") // skips exactly 1000
		})
		for n := range f.Bound.Events {
			e := &f.Bound.Events[n]
			t.Run(fmt.Sprintf("%02d_%s_%s_%d", n, e.Action, e.Variant, e.Message), func(t *testing.T) {
				r.event(t, e, false)
			})
			if t.Failed() {
				return
			}
		}
	})
}
