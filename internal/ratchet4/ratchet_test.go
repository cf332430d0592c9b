package ratchet4

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	otrcrypto "github.com/otrgo/otr/crypto"
	otrencoding "github.com/otrgo/otr/encoding"
)

var (
	hAB = otrencoding.Header{Sender: 0x100, Receiver: 0x200}
	hBA = otrencoding.Header{Sender: 0x200, Receiver: 0x100}
)

// newPair returns alice and bob started from fresh keys drawn from a seeded
// stream, as a DAKE would hand them over.
func newPair(tb testing.TB, seed byte, opts Options) (alice, bob *State) {
	tb.Helper()
	rnd := newSeeded(seed)
	ecdh := func() *otrcrypto.ECDHPrivateKey {
		k, err := otrcrypto.GenerateECDHKey(rnd)
		if err != nil {
			tb.Fatal(err)
		}
		return k
	}
	dh := func() *otrcrypto.DH3072PrivateKey {
		k, err := otrcrypto.GenerateDH3072Key(rnd)
		if err != nil {
			tb.Fatal(err)
		}
		return k
	}
	var K [64]byte
	rnd.Read(K[:])
	aECDH, aDH, bECDH, bDH := ecdh(), dh(), ecdh(), dh()
	var err error
	alice, err = New(Config{Role: RoleAlice, SharedSecret: K, OurECDH: aECDH, OurDH: aDH,
		TheirECDH: bECDH.Public(), TheirDH: bDH.Public(), Rand: newSeeded(seed + 1), Options: opts})
	if err != nil {
		tb.Fatal(err)
	}
	bob, err = New(Config{Role: RoleBob, SharedSecret: K, OurECDH: bECDH, OurDH: bDH,
		TheirECDH: aECDH.Public(), TheirDH: aDH.Public(), Rand: newSeeded(seed + 2), Options: opts})
	if err != nil {
		tb.Fatal(err)
	}
	return alice, bob
}

func mustEncrypt(tb testing.TB, s *State, h otrencoding.Header, text string) []byte {
	tb.Helper()
	out, _, err := s.Encrypt(h, 0, []byte(text))
	if err != nil {
		tb.Fatalf("Encrypt(%q) error = %v", text, err)
	}
	return out
}

func mustDecrypt(tb testing.TB, s *State, in []byte, want string) {
	tb.Helper()
	got, err := s.Decrypt(testNow, in)
	if err != nil || string(got.Plaintext) != want {
		tb.Fatalf("Decrypt = %q, %v; want %q", got.Plaintext, err, want)
	}
}

// clone deep-copies s (test only): key pairs are copied by value so that
// wiping the clone's keys leaves the original intact.
func clone(s *State) *State { return s.Clone(s.rand) }

// TestConversation sends messages both ways through several ratchets,
// including DH ratchets, and checks the ids and DH keys on the wire.
func TestConversation(t *testing.T) {
	alice, bob := newPair(t, 1, Options{})
	type step struct {
		from          string
		n             int
		wantRatchetID uint32
	}
	steps := []step{{"alice", 2, 0}, {"bob", 2, 0}, {"alice", 1, 1}, {"bob", 3, 2}, {"alice", 2, 3},
		{"bob", 1, 4}, {"alice", 1, 5}, {"bob", 1, 6}, {"alice", 1, 7}, {"bob", 1, 8}, {"alice", 1, 9}}
	for n, st := range steps {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			from, to, h := alice, bob, hAB
			if st.from == "bob" {
				from, to, h = bob, alice, hBA
			}
			for m := range st.n {
				text := fmt.Sprintf("%s %d.%d", st.from, n, m)
				out := mustEncrypt(t, from, h, text)
				_, dm, _, err := otrencoding.ParseDataMessage4(out)
				if err != nil {
					t.Fatal(err)
				}
				if dm.RatchetID != st.wantRatchetID || dm.MessageID != uint32(m) || (len(dm.DH) > 0) != (dm.RatchetID%3 == 0) {
					t.Errorf("message ratchet id %d, message id %d, DH %d bytes; want %d, %d", dm.RatchetID, dm.MessageID,
						len(dm.DH), st.wantRatchetID, m)
				}
				mustDecrypt(t, to, out, text)
			}
		})
	}
}

// TestRejectLeavesStateUnchanged feeds bob forged and malformed variants of
// genuine messages: each is rejected with the right error and changes
// nothing.
func TestRejectLeavesStateUnchanged(t *testing.T) {
	alice, bob := newPair(t, 2, Options{})
	m0 := mustEncrypt(t, alice, hAB, "a0")
	m1 := mustEncrypt(t, alice, hAB, "a1")
	mustDecrypt(t, bob, m0, "a0")
	b0 := mustEncrypt(t, bob, hBA, "b0")
	mustDecrypt(t, alice, b0, "b0")
	n0 := mustEncrypt(t, alice, hAB, "new ratchet") // ratchet id 1, new to bob

	edit := func(in []byte, f func(m *otrencoding.DataMessage4)) []byte {
		h, m, _, err := otrencoding.ParseDataMessage4(in)
		if err != nil {
			t.Fatal(err)
		}
		f(&m)
		return otrencoding.Marshal(h, &m)
	}
	lowOrder := [57]byte{} // (0, -1) has order 2: y = p-1
	for i := range 56 {
		lowOrder[i] = 0xff
	}
	lowOrder[0], lowOrder[28] = 0xfe, 0xfe
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"truncated", m1[:len(m1)-1], ErrMalformed},
		{"tampered authenticator", tamper(t, m1), ErrBadMAC},
		{"tampered ciphertext", edit(m1, func(m *otrencoding.DataMessage4) { m.Ciphertext[0] ^= 1 }), ErrBadMAC},
		{"tampered flags", edit(m1, func(m *otrencoding.DataMessage4) { m.Flags ^= 1 }), ErrBadMAC},
		{"replay", m0, ErrReplay},
		{"DH key missing", edit(m1, func(m *otrencoding.DataMessage4) { m.DH = nil }), ErrMalformed},
		{"DH key where none belongs", edit(n0, func(m *otrencoding.DataMessage4) { m.DH = []byte{2} }), ErrMalformed},
		{"different ECDH in the current chain", edit(m1, func(m *otrencoding.DataMessage4) { m.ECDH[0] ^= 4 }), ErrMalformed},
		{"new ratchet, identity point", edit(n0, func(m *otrencoding.DataMessage4) { m.ECDH = [57]byte{1} }), ErrMalformed},
		{"new ratchet, point of order 2", edit(n0, func(m *otrencoding.DataMessage4) { m.ECDH = lowOrder }), ErrMalformed},
		{"new ratchet, tampered", tamper(t, n0), ErrBadMAC},
		{"new ratchet, huge pn", edit(n0, func(m *otrencoding.DataMessage4) { m.PN = 1 << 31 }), ErrTooFarAhead},
		{"new ratchet, huge message id", edit(n0, func(m *otrencoding.DataMessage4) { m.MessageID = 1<<32 - 1 }), ErrTooFarAhead},
		{"current chain, huge message id", edit(m1, func(m *otrencoding.DataMessage4) { m.MessageID = 1<<32 - 2 }), ErrTooFarAhead},
		{"current chain, last message id", edit(m1, func(m *otrencoding.DataMessage4) { m.MessageID = 1<<32 - 1 }), ErrExhausted},
		{"current chain, one past the bound", edit(m1, func(m *otrencoding.DataMessage4) { m.MessageID = 1 + DefaultMaxSkipAhead + 1 }), ErrTooFarAhead},
		{"unknown ratchet", edit(n0, func(m *otrencoding.DataMessage4) { m.RatchetID = 7 }), ErrUnknownRatchet},
		{"past ratchet", edit(m1, func(m *otrencoding.DataMessage4) { m.RatchetID = 0; m.MessageID = 9 }), ErrBadMAC},
		{"wrong version", append([]byte{0, 3}, m1[2:]...), ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := digest(bob)
			got, err := bob.Decrypt(testNow, tc.in)
			if !errors.Is(err, tc.want) {
				t.Errorf("Decrypt error = %v, want %v", err, tc.want)
			}
			if got.Plaintext != nil {
				t.Errorf("Decrypt returned plaintext %q with an error", got.Plaintext)
			}
			if digest(bob) != before {
				t.Errorf("rejected message changed the state")
			}
		})
	}
	// The genuine messages still work afterwards.
	mustDecrypt(t, bob, n0, "new ratchet")
	mustDecrypt(t, bob, m1, "a1")
}

// TestBadDHKey checks the 3072-bit DH value of a new DH ratchet.
func TestBadDHKey(t *testing.T) {
	alice, bob := newPair(t, 3, Options{})
	// Reach the point where bob expects alice's ratchet 3 (with a DH key).
	for range 2 {
		mustDecrypt(t, bob, mustEncrypt(t, alice, hAB, "a"), "a")
		mustDecrypt(t, alice, mustEncrypt(t, bob, hBA, "b"), "b")
	}
	n := mustEncrypt(t, alice, hAB, "dh ratchet")
	h, m, _, _ := otrencoding.ParseDataMessage4(n)
	if m.RatchetID != 3 || len(m.DH) == 0 {
		t.Fatalf("ratchet id %d, DH %d bytes", m.RatchetID, len(m.DH))
	}
	for _, bad := range [][]byte{{1}, bytes.Repeat([]byte{0xff}, 384)} {
		m2 := m
		m2.DH = bad
		before := digest(bob)
		if _, err := bob.Decrypt(testNow, otrencoding.Marshal(h, &m2)); !errors.Is(err, ErrMalformed) {
			t.Errorf("DH %x: error = %v, want ErrMalformed", bad[:1], err)
		}
		if digest(bob) != before {
			t.Errorf("rejected message changed the state")
		}
	}
	mustDecrypt(t, bob, n, "dh ratchet")
}

// TestSkippedKeys covers the stored-key store: used once, the MaxSkipped
// bound with MAC keys of evicted keys revealed, and the age limit.
func TestSkippedKeys(t *testing.T) {
	t.Run("bound", func(t *testing.T) {
		alice, bob := newPair(t, 4, Options{MaxSkipped: 5})
		var msgs [][]byte
		for n := range 10 {
			msgs = append(msgs, mustEncrypt(t, alice, hAB, fmt.Sprint(n)))
		}
		mustDecrypt(t, bob, msgs[9], "9") // stores 0..8, keeps 4..8
		if bob.Stored() != 5 || len(bob.pending) != 1+4 {
			t.Fatalf("stored %d, pending %d; want 5, 5", bob.Stored(), len(bob.pending))
		}
		for n := range 4 {
			if _, err := bob.Decrypt(testNow, msgs[n]); !errors.Is(err, ErrReplay) {
				t.Errorf("evicted message %d: error = %v, want ErrReplay", n, err)
			}
		}
		for n := 4; n < 9; n++ {
			mustDecrypt(t, bob, msgs[n], fmt.Sprint(n))
			if _, err := bob.Decrypt(testNow, msgs[n]); !errors.Is(err, ErrReplay) {
				t.Errorf("second delivery of %d: error = %v, want ErrReplay", n, err)
			}
		}
		if bob.Stored() != 0 {
			t.Errorf("stored %d after all arrived", bob.Stored())
		}
	})
	t.Run("age", func(t *testing.T) {
		alice, bob := newPair(t, 5, Options{MaxSkippedAge: time.Hour})
		var msgs [][]byte
		for n := range 4 {
			msgs = append(msgs, mustEncrypt(t, alice, hAB, fmt.Sprint(n)))
		}
		mustDecrypt(t, bob, msgs[3], "3")
		if got := bob.Expire(testNow.Add(time.Hour)); got != 0 || bob.Stored() != 3 {
			t.Fatalf("Expire at the limit deleted %d, stored %d", got, bob.Stored())
		}
		if got := bob.Expire(testNow.Add(time.Hour + 1)); got != 3 || bob.Stored() != 0 || len(bob.pending) != 4 {
			t.Fatalf("Expire deleted %d, stored %d, pending %d; want 3, 0, 4", got, bob.Stored(), len(bob.pending))
		}
		if _, err := bob.Decrypt(testNow, msgs[0]); !errors.Is(err, ErrReplay) {
			t.Errorf("expired key: error = %v, want ErrReplay", err)
		}
	})
}

// TestRevealAll checks the MAC keys of the session's last message: those of
// verified messages and of every stored key.
func TestRevealAll(t *testing.T) {
	alice, bob := newPair(t, 6, Options{})
	var msgs [][]byte
	for n := range 4 {
		msgs = append(msgs, mustEncrypt(t, alice, hAB, fmt.Sprint(n)))
	}
	mustDecrypt(t, bob, msgs[3], "3")
	mustDecrypt(t, bob, msgs[1], "1")
	// Bob's first message was rotated at start-up: it reveals nothing yet.
	if got := len(bob.PendingMACKeys()); got != 2*64 {
		t.Fatalf("PendingMACKeys = %d bytes, want %d", got, 2*64)
	}
	if n := bob.RevealAll(); n != 4 || bob.Stored() != 0 {
		t.Fatalf("RevealAll = %d, stored %d; want 4, 0", n, bob.Stored())
	}
	out := mustEncrypt(t, bob, hBA, "\x00\x00\x01\x00\x00")
	_, m, _, _ := otrencoding.ParseDataMessage4(out)
	if len(m.RevealedMACKeys) != 4*64 {
		t.Fatalf("last message reveals %d bytes, want %d", len(m.RevealedMACKeys), 4*64)
	}
	// Each revealed key is the MAC key of one of alice's messages.
	for _, in := range msgs {
		_, am, authLen, _ := otrencoding.ParseDataMessage4(in)
		found := false
		for k := range slices.Chunk(m.RevealedMACKeys, 64) {
			if tag := authenticator((*[64]byte)(k), in[:authLen]); tag == am.Authenticator {
				found = true
			}
		}
		if !found {
			t.Errorf("MAC key of a message not revealed")
		}
	}
	if len(bob.PendingMACKeys()) != 0 {
		t.Errorf("keys still pending after they were sent")
	}
}

type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, errors.New("no randomness") }

// TestEncryptRandFailure checks that a failing random source leaves the
// state unchanged and is reported.
func TestEncryptRandFailure(t *testing.T) {
	alice, bob := newPair(t, 7, Options{})
	mustDecrypt(t, alice, mustEncrypt(t, bob, hBA, "b"), "b")
	alice.rand = failReader{}
	before := digest(alice)
	if _, _, err := alice.Encrypt(hAB, 0, []byte("x")); err == nil {
		t.Fatal("Encrypt with a failing Rand: no error")
	}
	if digest(alice) != before {
		t.Errorf("failed Encrypt changed the state")
	}
	if _, err := New(Config{Role: RoleBob, Rand: failReader{}}); err == nil {
		t.Errorf("New without keys: no error")
	}
}

func TestWipe(t *testing.T) {
	alice, bob := newPair(t, 8, Options{})
	m := mustEncrypt(t, alice, hAB, "x")
	bob.Wipe()
	if _, err := bob.Decrypt(testNow, m); !errors.Is(err, ErrWiped) {
		t.Errorf("Decrypt after Wipe: %v", err)
	}
	if _, _, err := bob.Encrypt(hBA, 0, nil); !errors.Is(err, ErrWiped) {
		t.Errorf("Encrypt after Wipe: %v", err)
	}
	if bob.root != [64]byte{} || bob.chainR != [64]byte{} || bob.ourECDH != nil {
		t.Errorf("Wipe left keys behind")
	}
}

// TestLossyWire runs two States through a wire that reorders within a
// window, drops and duplicates, for 2,000 messages: every message not
// dropped is delivered exactly once and unaltered, every duplicate is
// rejected as a replay.
func TestLossyWire(t *testing.T) {
	const total = 2000
	const window = 6
	r := rand.New(rand.NewPCG(9, 9))
	alice, bob := newPair(t, 9, Options{})
	type packet struct {
		id  int
		dup bool
		in  []byte
	}
	var toBob, toAlice []packet
	texts := map[int]string{}
	delivered := map[int]int{}
	dropped := map[int]bool{}
	sent := 0
	deliver := func(q *[]packet, s *State) {
		n := r.IntN(min(window, len(*q)))
		p := (*q)[n]
		*q = slices.Delete(*q, n, n+1)
		got, err := s.Decrypt(testNow, p.in)
		switch {
		case err == nil:
			if string(got.Plaintext) != texts[p.id] {
				t.Fatalf("message %d delivered as %q, want %q", p.id, got.Plaintext, texts[p.id])
			}
			delivered[p.id]++
			if delivered[p.id] > 1 {
				t.Fatalf("message %d delivered twice", p.id)
			}
		case errors.Is(err, ErrReplay) && delivered[p.id] == 1:
			// A duplicate of a delivered message.
		default:
			t.Fatalf("message %d (duplicate %v, delivered %d): %v", p.id, p.dup, delivered[p.id], err)
		}
	}
	for sent < total || len(toBob)+len(toAlice) > 0 {
		switch c := r.IntN(10); {
		case sent < total && c < 4:
			// Bursts: the sender is chosen by runs.
			from, q, h := alice, &toBob, hAB
			if (sent/5)%3 == 1 || r.IntN(4) == 0 {
				from, q, h = bob, &toAlice, hBA
			}
			id := sent
			sent++
			texts[id] = fmt.Sprintf("message %d %x", id, r.Uint64())
			out := mustEncrypt(t, from, h, texts[id])
			switch x := r.IntN(100); {
			case x < 5:
				dropped[id] = true
			case x < 10:
				*q = append(*q, packet{id, false, out}, packet{id, true, bytes.Clone(out)})
			default:
				*q = append(*q, packet{id, false, out})
			}
		case c < 7 && len(toBob) > 0:
			deliver(&toBob, bob)
		case len(toAlice) > 0:
			deliver(&toAlice, alice)
		case len(toBob) > 0:
			deliver(&toBob, bob)
		}
	}
	for id := range total {
		if want := map[bool]int{true: 0, false: 1}[dropped[id]]; delivered[id] != want {
			t.Errorf("message %d delivered %d times, want %d", id, delivered[id], want)
		}
	}
	t.Logf("%d messages, %d dropped; alice at ratchet %d, bob at %d; stored keys %d/%d",
		total, len(dropped), alice.i, bob.i, alice.Stored(), bob.Stored())
}

var _ io.Reader = failReader{}
