package smp

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	otrcrypto "github.com/otrgo/otr/crypto"
)

func testRand4(seed byte) *rand.ChaCha8 {
	var s [32]byte
	s[0], s[1] = seed, 0x54
	return rand.NewChaCha8(s)
}

type failingReader4 struct{}

var errTestRand4 = errors.New("test: no randomness")

func (failingReader4) Read([]byte) (int, error) { return 0, errTestRand4 }

// countingReader4 counts the bytes read.
type countingReader4 struct {
	r io.Reader
	n int
}

func (c *countingReader4) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += n
	return n, err
}

var (
	fpA4   = [56]byte{0xAA, 1}
	fpB4   = [56]byte{0xBB, 2}
	fpM4   = [56]byte{0xCC, 3}
	ssid4  = [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	ssid4b = [8]byte{8, 7, 6, 5, 4, 3, 2, 1}
)

func secret4(initiator, responder [56]byte, ssid [8]byte, s string) *otrcrypto.Scalar {
	x := SMP4Secret(initiator, responder, ssid, []byte(s))
	return &x
}

// transcript4 is one run: the four messages and both verdicts.
type transcript4 struct {
	m1, m2, m3, m4 []byte
	alice, bob     Result
}

// run4 runs SMP between two machines, alice initiating, and fails the test
// on any deviation from the honest message flow.
func run4(t testing.TB, r io.Reader, alice, bob *SMP4, x, y *otrcrypto.Scalar, question string) transcript4 {
	t.Helper()
	var tr transcript4
	typ, m1, err := alice.Start(r, x, question)
	if err != nil || typ != TypeMsg1 {
		t.Fatalf("Start = %d, %v", typ, err)
	}
	out, err := bob.Receive(r, typ, m1)
	if err != nil || out.Result != NeedSecret || out.Question != question || out.Reply != nil {
		t.Fatalf("Receive(message 1) = %+v, %v", out, err)
	}
	typ, m2, err := bob.Answer(r, y)
	if err != nil || typ != TypeMsg2 {
		t.Fatalf("Answer = %d, %v", typ, err)
	}
	out, err = alice.Receive(r, typ, m2)
	if err != nil || out.Result != InProgress || out.Reply == nil || out.Reply.Type != TypeMsg3 {
		t.Fatalf("Receive(message 2) = %+v, %v", out, err)
	}
	m3 := out.Reply.Value
	out, err = bob.Receive(r, TypeMsg3, m3)
	if err != nil || out.Reply == nil || out.Reply.Type != TypeMsg4 {
		t.Fatalf("Receive(message 3) = %+v, %v", out, err)
	}
	tr.bob = out.Result
	m4 := out.Reply.Value
	out, err = alice.Receive(r, TypeMsg4, m4)
	if err != nil || out.Reply != nil {
		t.Fatalf("Receive(message 4) = %+v, %v", out, err)
	}
	tr.alice = out.Result
	tr.m1, tr.m2, tr.m3, tr.m4 = m1, m2, m3, m4
	if alice.InProgress() || bob.InProgress() {
		t.Fatal("a run is still in progress after message 4")
	}
	return tr
}

func TestSMP4Secret(t *testing.T) {
	base := SMP4Secret(fpA4, fpB4, ssid4, []byte("secret"))
	tests := []struct {
		name string
		got  otrcrypto.Scalar
		same bool
	}{
		{"same inputs", SMP4Secret(fpA4, fpB4, ssid4, []byte("secret")), true},
		{"fingerprints swapped", SMP4Secret(fpB4, fpA4, ssid4, []byte("secret")), false},
		{"other initiator", SMP4Secret(fpM4, fpB4, ssid4, []byte("secret")), false},
		{"other ssid", SMP4Secret(fpA4, fpB4, ssid4b, []byte("secret")), false},
		{"other secret", SMP4Secret(fpA4, fpB4, ssid4, []byte("Secret")), false},
		{"empty secret", SMP4Secret(fpA4, fpB4, ssid4, nil), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.got.Equal(&base); got != tc.same {
				t.Errorf("equal to the base secret = %v, want %v", got, tc.same)
			}
		})
	}
	// The user secret is length-prefixed (DATA): moving a byte between it
	// and the SSID cannot give the same input.
	if in := smp4SecretInput(fpA4, fpB4, ssid4, []byte("ab")); len(in) != 1+56+56+8+4+2 || !bytes.Equal(in[121:125], []byte{0, 0, 0, 2}) {
		t.Errorf("secret input = %x", in)
	}
}

func TestSMP4Run(t *testing.T) {
	tests := []struct {
		name               string
		secretA, secretB   string
		question           string
		wantAlice, wantBob Result
	}{
		{"same secret", "Password!", "Password!", "What is the password?", Succeeded, Succeeded},
		{"same secret, no question", "Password!", "Password!", "", Succeeded, Succeeded},
		{"non-ASCII secret", "pässwörd ✓", "pässwörd ✓", "Ünïcödé?", Succeeded, Succeeded},
		{"different secret", "Password!", "password!", "q", Failed, Failed},
		{"empty against non-empty", "", "x", "", Failed, Failed},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var alice, bob SMP4
			r := testRand4(byte(i))
			tr := run4(t, r, &alice, &bob, secret4(fpA4, fpB4, ssid4, tc.secretA), secret4(fpA4, fpB4, ssid4, tc.secretB), tc.question)
			if tr.alice != tc.wantAlice || tr.bob != tc.wantBob {
				t.Errorf("alice %v, bob %v; want %v, %v", tr.alice, tr.bob, tc.wantAlice, tc.wantBob)
			}
			// docs/threats.md S2, role swap: the responder starts the next run
			// on the same machines (the initiator's fingerprint first).
			tr = run4(t, r, &bob, &alice, secret4(fpB4, fpA4, ssid4, tc.secretB), secret4(fpB4, fpA4, ssid4, tc.secretA), tc.question)
			if tr.alice != tc.wantBob || tr.bob != tc.wantAlice {
				t.Errorf("swapped: bob %v, alice %v; want %v, %v", tr.alice, tr.bob, tc.wantBob, tc.wantAlice)
			}
		})
	}
}

// TestSMP4MITM: Mallory sits between Alice and Bob (two sessions, each with
// Mallory's fingerprint and its own SSID) and relays the SMP TLVs. Alice
// and Bob type the same secret: both must see failure (docs/threats.md S2).
func TestSMP4MITM(t *testing.T) {
	// Alice's session is with Mallory (fpM4, ssid4); Bob's session is with
	// Mallory posing as Alice (fpM4, ssid4b).
	x := secret4(fpA4, fpM4, ssid4, "Password!")
	y := secret4(fpM4, fpB4, ssid4b, "Password!")
	var alice, bob SMP4
	tr := run4(t, testRand4(40), &alice, &bob, x, y, "relayed?")
	if tr.alice != Failed || tr.bob != Failed {
		t.Errorf("relayed run: alice %v, bob %v; want failed, failed", tr.alice, tr.bob)
	}
	// Control: a direct run with the same secret succeeds.
	tr = run4(t, testRand4(41), &alice, &bob, secret4(fpA4, fpB4, ssid4, "Password!"), secret4(fpA4, fpB4, ssid4, "Password!"), "")
	if tr.alice != Succeeded || tr.bob != Succeeded {
		t.Errorf("direct run: alice %v, bob %v; want succeeded", tr.alice, tr.bob)
	}
}

// clone4 deep-copies a machine (tests only).
func clone4(s *SMP4) *SMP4 {
	c := &SMP4{state: s.state}
	if s.pending != nil {
		p := *s.pending
		c.pending = &p
	}
	if s.a2 != nil {
		a := *s.a2
		c.a2 = &a
	}
	if s.b3 != nil {
		b := *s.b3
		c.b3 = &b
	}
	if s.a4 != nil {
		a := *s.a4
		c.a4 = &a
	}
	return c
}

// states4 holds a machine in each state of one honest run and that run's
// messages.
type states4 struct {
	tr       transcript4
	machines map[smp4State]*SMP4
	x, y     *otrcrypto.Scalar
}

func newStates4(tb testing.TB) *states4 {
	tb.Helper()
	s := &states4{machines: map[smp4State]*SMP4{}}
	s.x = secret4(fpA4, fpB4, ssid4, "Password!")
	s.y = secret4(fpA4, fpB4, ssid4, "Password!")
	r := testRand4(7)
	var alice, bob SMP4
	s.machines[smp4Expect1] = clone4(&alice)
	_, m1, err := alice.Start(r, s.x, "q?")
	if err != nil {
		tb.Fatal(err)
	}
	s.machines[smp4Expect2] = clone4(&alice)
	if out, err := bob.Receive(r, TypeMsg1, m1); err != nil || out.Result != NeedSecret {
		tb.Fatal(out, err)
	}
	s.machines[smp4Expect1Pending] = clone4(&bob)
	_, m2, err := bob.Answer(r, s.y)
	if err != nil {
		tb.Fatal(err)
	}
	s.machines[smp4Expect3] = clone4(&bob)
	out, err := alice.Receive(r, TypeMsg2, m2)
	if err != nil || out.Result != InProgress {
		tb.Fatal(out, err)
	}
	s.machines[smp4Expect4] = clone4(&alice)
	m3 := out.Reply.Value
	out, err = bob.Receive(r, TypeMsg3, m3)
	if err != nil || out.Result != Succeeded {
		tb.Fatal(out, err)
	}
	m4 := out.Reply.Value
	if out, err = alice.Receive(r, TypeMsg4, m4); err != nil || out.Result != Succeeded {
		tb.Fatal(out, err)
	}
	s.tr = transcript4{m1: m1, m2: m2, m3: m3, m4: m4, alice: Succeeded, bob: Succeeded}
	return s
}

func (s *states4) machine(st smp4State) *SMP4 { return clone4(s.machines[st]) }

// msg returns the honest message of a TLV type (nil for other types).
func (s *states4) msg(typ uint16) []byte {
	switch typ {
	case TypeMsg1:
		return s.tr.m1
	case TypeMsg2:
		return s.tr.m2
	case TypeMsg3:
		return s.tr.m3
	case TypeMsg4:
		return s.tr.m4
	}
	return nil
}

func stateName4(s smp4State) string {
	return [...]string{"EXPECT1", "EXPECT1+pending", "EXPECT2", "EXPECT3", "EXPECT4"}[s]
}

// TestSMP4StateMatrix: every (state, TLV type) pair, with the honest
// message of that type (docs/threats.md S3).
func TestSMP4StateMatrix(t *testing.T) {
	s := newStates4(t)
	const none = uint16(0xFFFF)
	tests := []struct {
		state     smp4State
		typ       uint16
		wantErr   error
		want      Result
		wantReply uint16
		wantState smp4State
	}{
		{smp4Expect1, 1, ErrNotSMP, 0, none, smp4Expect1},
		{smp4Expect1, TypeMsg1, nil, NeedSecret, none, smp4Expect1Pending},
		{smp4Expect1, TypeMsg2, nil, Unexpected, TypeAbort, smp4Expect1},
		{smp4Expect1, TypeMsg3, nil, Unexpected, TypeAbort, smp4Expect1},
		{smp4Expect1, TypeMsg4, nil, Unexpected, TypeAbort, smp4Expect1},
		{smp4Expect1, TypeAbort, nil, Ignored, none, smp4Expect1},
		{smp4Expect1, 7, ErrNotSMP, 0, none, smp4Expect1},

		{smp4Expect1Pending, 1, ErrNotSMP, 0, none, smp4Expect1Pending},
		{smp4Expect1Pending, TypeMsg1, nil, NeedSecret, none, smp4Expect1Pending},
		{smp4Expect1Pending, TypeMsg2, nil, Unexpected, TypeAbort, smp4Expect1},
		{smp4Expect1Pending, TypeMsg3, nil, Unexpected, TypeAbort, smp4Expect1},
		{smp4Expect1Pending, TypeMsg4, nil, Unexpected, TypeAbort, smp4Expect1},
		{smp4Expect1Pending, TypeAbort, nil, Aborted, none, smp4Expect1},
		{smp4Expect1Pending, 7, ErrNotSMP, 0, none, smp4Expect1Pending},

		{smp4Expect2, 1, ErrNotSMP, 0, none, smp4Expect2},
		{smp4Expect2, TypeMsg1, nil, Unexpected, TypeAbort, smp4Expect1},
		{smp4Expect2, TypeMsg2, nil, InProgress, TypeMsg3, smp4Expect4},
		{smp4Expect2, TypeMsg3, nil, Unexpected, TypeAbort, smp4Expect1},
		{smp4Expect2, TypeMsg4, nil, Unexpected, TypeAbort, smp4Expect1},
		{smp4Expect2, TypeAbort, nil, Aborted, none, smp4Expect1},
		{smp4Expect2, 7, ErrNotSMP, 0, none, smp4Expect2},

		{smp4Expect3, 1, ErrNotSMP, 0, none, smp4Expect3},
		{smp4Expect3, TypeMsg1, nil, Unexpected, TypeAbort, smp4Expect1},
		{smp4Expect3, TypeMsg2, nil, Unexpected, TypeAbort, smp4Expect1},
		{smp4Expect3, TypeMsg3, nil, Succeeded, TypeMsg4, smp4Expect1},
		{smp4Expect3, TypeMsg4, nil, Unexpected, TypeAbort, smp4Expect1},
		{smp4Expect3, TypeAbort, nil, Aborted, none, smp4Expect1},
		{smp4Expect3, 7, ErrNotSMP, 0, none, smp4Expect3},

		{smp4Expect4, 1, ErrNotSMP, 0, none, smp4Expect4},
		{smp4Expect4, TypeMsg1, nil, Unexpected, TypeAbort, smp4Expect1},
		{smp4Expect4, TypeMsg2, nil, Unexpected, TypeAbort, smp4Expect1},
		{smp4Expect4, TypeMsg3, nil, Unexpected, TypeAbort, smp4Expect1},
		{smp4Expect4, TypeMsg4, nil, Succeeded, none, smp4Expect1},
		{smp4Expect4, TypeAbort, nil, Aborted, none, smp4Expect1},
		{smp4Expect4, 7, ErrNotSMP, 0, none, smp4Expect4},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/type %d", stateName4(tc.state), tc.typ), func(t *testing.T) {
			m := s.machine(tc.state)
			before := clone4(m)
			out, err := m.Receive(testRand4(1), tc.typ, s.msg(tc.typ))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Receive error = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				if !reflect.DeepEqual(m, before) {
					t.Error("a rejected TLV changed the state")
				}
				return
			}
			if out.Result != tc.want {
				t.Errorf("result = %v, want %v", out.Result, tc.want)
			}
			gotReply := none
			if out.Reply != nil {
				gotReply = out.Reply.Type
				if gotReply == TypeAbort && len(out.Reply.Value) != 0 {
					t.Errorf("abort TLV value = %x, want empty", out.Reply.Value)
				}
			}
			if gotReply != tc.wantReply {
				t.Errorf("reply type = %d, want %d", gotReply, tc.wantReply)
			}
			if m.state != tc.wantState {
				t.Errorf("state = %s, want %s", stateName4(m.state), stateName4(tc.wantState))
			}
			if tc.want == NeedSecret && out.Question != "q?" {
				t.Errorf("question = %q, want %q", out.Question, "q?")
			}
		})
	}
}

// Encodings that ParsePoint must reject (docs/threats.md D1), computed with
// Python from the curve equation: y = 1, y = p-1, y = 0 with either sign,
// -G (on the curve, order 2q), y = p+1 (non-canonical identity), y = 2 (off
// the curve).
var smp4BadPoints = []struct{ name, hex string }{
	{"identity", "010000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"},
	{"order 2", "fefffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffffffffffffffffffffffffffffffffffffffffffffffffff00"},
	{"order 4", "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"},
	{"order 4, other sign", "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000080"},
	{"order 2q (-G)", "eb05cf0da486f767523728b1d3ec42023bc68319e3002cc5283d5ffae0638778bf675c938c8c15b49d3836a9c8df8977db4349918eb9c09680"},
	{"non-canonical identity", "00000000000000000000000000000000000000000000000000000000ffffffffffffffffffffffffffffffffffffffffffffffffffffffff00"},
	{"off curve", "020000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"},
	{"all ones", strings.Repeat("ff", 57)},
}

// Encodings that ParseScalar must reject: 0, q, q+1, 2^456-1.
var smp4BadScalars = []struct{ name, hex string }{
	{"zero", strings.Repeat("00", 57)},
	{"q", "f34458ab92c27823558fc58d72c26c219036d6ae49db4ec4e923ca7cffffffffffffffffffffffffffffffffffffffffffffffffffffff3f00"},
	{"q+1", "f44458ab92c27823558fc58d72c26c219036d6ae49db4ec4e923ca7cffffffffffffffffffffffffffffffffffffffffffffffffffffff3f00"},
	{"all ones", strings.Repeat("ff", 57)},
}

// smp4Layout lists the fields of each message: true for a POINT, false for
// a SCALAR. Message 1 starts with its DATA question.
var smp4Layout = map[uint16][]bool{
	TypeMsg1: {true, false, false, true, false, false},
	TypeMsg2: {true, false, false, true, false, false, true, true, false, false, false},
	TypeMsg3: {true, true, false, false, false, true, false, false},
	TypeMsg4: {true, false, false},
}

// smp4Receiver is the state that expects each message type.
var smp4Receiver = map[uint16]smp4State{
	TypeMsg1: smp4Expect1,
	TypeMsg2: smp4Expect2,
	TypeMsg3: smp4Expect3,
	TypeMsg4: smp4Expect4,
}

// smp4FieldOffset returns where field i of an honest message starts.
func smp4FieldOffset(t testing.TB, typ uint16, msg []byte, i int) int {
	t.Helper()
	off := 0
	if typ == TypeMsg1 {
		off = 4 + int(binary.BigEndian.Uint32(msg))
	}
	return off + 57*i
}

func replaceField4(t testing.TB, typ uint16, msg []byte, i int, v []byte) []byte {
	t.Helper()
	out := bytes.Clone(msg)
	copy(out[smp4FieldOffset(t, typ, msg, i):], v)
	return out
}

// parse4 reports whether payload parses as a message of type typ.
func parse4(typ uint16, payload []byte) bool {
	switch typ {
	case TypeMsg1:
		return new(smp4Msg1).parse(payload)
	case TypeMsg2:
		return new(smp4Msg2).parse(payload)
	case TypeMsg3:
		return new(smp4Msg3).parse(payload)
	case TypeMsg4:
		return new(smp4Msg4).parse(payload)
	}
	return false
}

// expectCheated feeds payload to a machine in the state that expects typ
// and checks that it is rejected as Cheated, with an abort TLV and a reset.
func expectCheated(t *testing.T, s *states4, typ uint16, payload []byte) {
	t.Helper()
	m := s.machine(smp4Receiver[typ])
	out, err := m.Receive(testRand4(3), typ, payload)
	if err != nil {
		t.Fatalf("Receive error = %v", err)
	}
	if out.Result != Cheated || out.Reply == nil || out.Reply.Type != TypeAbort || len(out.Reply.Value) != 0 || m.InProgress() {
		t.Fatalf("Receive = %+v (in progress %v), want Cheated with an abort", out, m.InProgress())
	}
}

// TestSMP4InvalidValues puts every invalid point and scalar encoding in
// every field of every message, and truncates and extends every message:
// each is Cheated (docs/threats.md S1, D1, P4).
func TestSMP4InvalidValues(t *testing.T) {
	s := newStates4(t)
	for typ := TypeMsg1; typ <= TypeMsg4; typ++ {
		msg := s.msg(typ)
		for i, isPoint := range smp4Layout[typ] {
			bad := smp4BadScalars
			if isPoint {
				bad = smp4BadPoints
			}
			for _, b := range bad {
				t.Run(fmt.Sprintf("%s/field %d/%s", stateName4(smp4Receiver[typ]), i, b.name), func(t *testing.T) {
					v, _ := hex.DecodeString(b.hex)
					payload := replaceField4(t, typ, msg, i, v)
					if parse4(typ, payload) {
						t.Fatal("the message parses")
					}
					expectCheated(t, s, typ, payload)
				})
			}
		}
		t.Run(stateName4(smp4Receiver[typ])+"/length", func(t *testing.T) {
			for n := range len(msg) {
				expectCheated(t, s, typ, msg[:n])
			}
			expectCheated(t, s, typ, append(bytes.Clone(msg), 0))
		})
	}
	t.Run("question length beyond the payload", func(t *testing.T) {
		m := bytes.Clone(s.tr.m1)
		m[0] = 0xFF
		expectCheated(t, s, TypeMsg1, m)
	})
}

// TestSMP4BadProofs replaces each field by another valid value: every
// value is bound by a proof, so each change is Cheated.
func TestSMP4BadProofs(t *testing.T) {
	s := newStates4(t)
	g := otrcrypto.NewGeneratorPoint().Bytes()
	for typ := TypeMsg1; typ <= TypeMsg4; typ++ {
		msg := s.msg(typ)
		for i, isPoint := range smp4Layout[typ] {
			t.Run(fmt.Sprintf("%s/field %d", stateName4(smp4Receiver[typ]), i), func(t *testing.T) {
				off := smp4FieldOffset(t, typ, msg, i)
				var v []byte
				if isPoint {
					v = g[:]
				} else {
					x := mustScalar4(t, msg[off:off+57])
					one := otrcrypto.NewScalar().SetUint64(1)
					x.Add(&x, one)
					v = scalarBytes4(&x)
				}
				expectCheated(t, s, typ, replaceField4(t, typ, msg, i, v))
			})
		}
	}
}

// TestSMP4ZeroExponentCheater: a mallory that uses a zero exponent (so a
// point is the identity) and builds the matching proof never reaches
// success (docs/threats.md S1).
func TestSMP4ZeroExponentCheater(t *testing.T) {
	s := newStates4(t)
	var zero otrcrypto.Scalar
	rnd := func(seed byte) *otrcrypto.Scalar {
		v, err := otrcrypto.GenerateScalar(testRand4(seed))
		if err != nil {
			t.Fatal(err)
		}
		return &v
	}
	// Mallory as responder, from Alice's message 1.
	var in1 smp4Msg1
	if !in1.parse(s.tr.m1) {
		t.Fatal("message 1 does not parse")
	}
	p := &smp4Pending{g2a: in1.g2a, g3a: in1.g3a}
	anyY := secret4(fpA4, fpB4, ssid4, "guess")
	for _, tc := range []struct {
		name   string
		b2, b3 *otrcrypto.Scalar
	}{
		{"b2 = 0", &zero, rnd(10)},
		{"b3 = 0", rnd(11), &zero},
		{"b2 = b3 = 0", &zero, &zero},
	} {
		t.Run("responder "+tc.name, func(t *testing.T) {
			_, m2 := smp4Make2(p, anyY, tc.b2, tc.b3, rnd(12), rnd(13), rnd(14), rnd(15), rnd(16))
			expectCheated(t, s, TypeMsg2, m2.marshal())
		})
	}
	// Mallory as initiator.
	for _, tc := range []struct {
		name   string
		a2, a3 *otrcrypto.Scalar
	}{
		{"a2 = 0", &zero, rnd(20)},
		{"a3 = 0", rnd(21), &zero},
	} {
		t.Run("initiator "+tc.name, func(t *testing.T) {
			_, m1 := smp4Make1(anyY, tc.a2, tc.a3, rnd(22), rnd(23))
			expectCheated(t, s, TypeMsg1, m1.marshal())
		})
	}
}

// TestSMP4Replay: messages of a finished run, and of an earlier run fed
// into a new one, never reach success.
func TestSMP4Replay(t *testing.T) {
	s := newStates4(t)
	old := s.tr
	r := testRand4(60)
	var alice, bob SMP4
	x, y := s.x, s.y

	// After a run: everything but message 1 is unexpected.
	run4(t, r, &alice, &bob, x, y, "")
	for _, c := range []struct {
		m   *SMP4
		typ uint16
		msg []byte
	}{{&alice, TypeMsg2, old.m2}, {&bob, TypeMsg3, old.m3}, {&alice, TypeMsg4, old.m4}} {
		out, err := c.m.Receive(r, c.typ, c.msg)
		if err != nil || out.Result != Unexpected {
			t.Errorf("replayed type %d after the run = %v, %v; want Unexpected", c.typ, out.Result, err)
		}
	}

	// A new run with the old messages injected at each step.
	step := func(name string, setup func() (*SMP4, uint16, []byte)) {
		t.Run(name, func(t *testing.T) {
			m, typ, msg := setup()
			out, err := m.Receive(r, typ, msg)
			if err != nil || out.Result != Cheated {
				t.Errorf("old message type %d = %v, %v; want Cheated", typ, out.Result, err)
			}
		})
	}
	step("old message 2", func() (*SMP4, uint16, []byte) {
		alice.Wipe()
		if _, _, err := alice.Start(r, x, ""); err != nil {
			t.Fatal(err)
		}
		return &alice, TypeMsg2, old.m2
	})
	step("old message 3", func() (*SMP4, uint16, []byte) {
		alice.Wipe()
		bob.Wipe()
		_, m1, _ := alice.Start(r, x, "")
		bob.Receive(r, TypeMsg1, m1)
		if _, _, err := bob.Answer(r, y); err != nil {
			t.Fatal(err)
		}
		return &bob, TypeMsg3, old.m3
	})
	step("old message 4", func() (*SMP4, uint16, []byte) {
		alice.Wipe()
		bob.Wipe()
		_, m1, _ := alice.Start(r, x, "")
		bob.Receive(r, TypeMsg1, m1)
		_, m2, _ := bob.Answer(r, y)
		if out, err := alice.Receive(r, TypeMsg2, m2); err != nil || out.Result != InProgress {
			t.Fatal(out, err)
		}
		return &alice, TypeMsg4, old.m4
	})
}

func TestSMP4Abort(t *testing.T) {
	s := newStates4(t)
	for st := smp4Expect1; st <= smp4Expect4; st++ {
		t.Run(stateName4(st), func(t *testing.T) {
			m := s.machine(st)
			typ, payload := m.Abort()
			if typ != TypeAbort || payload != nil || m.InProgress() {
				t.Errorf("Abort = %d, %x (in progress %v), want 6, nil", typ, payload, m.InProgress())
			}
			if m.pending != nil || m.a2 != nil || m.b3 != nil || m.a4 != nil {
				t.Error("Abort left state data behind")
			}
		})
	}
}

func TestSMP4CallerErrors(t *testing.T) {
	s := newStates4(t)
	x := s.x
	tests := []struct {
		name    string
		state   smp4State
		call    func(m *SMP4) error
		wantErr error
	}{
		{"start twice", smp4Expect2, func(m *SMP4) error { _, _, err := m.Start(testRand4(1), x, ""); return err }, ErrInProgress},
		{"start while a request is pending", smp4Expect1Pending, func(m *SMP4) error { _, _, err := m.Start(testRand4(1), x, ""); return err }, ErrInProgress},
		{"start while responding", smp4Expect3, func(m *SMP4) error { _, _, err := m.Start(testRand4(1), x, ""); return err }, ErrInProgress},
		{"start nil secret", smp4Expect1, func(m *SMP4) error { _, _, err := m.Start(testRand4(1), nil, ""); return err }, ErrSMP4InvalidSecret},
		{"start invalid UTF-8 question", smp4Expect1, func(m *SMP4) error { _, _, err := m.Start(testRand4(1), x, "\xff"); return err }, ErrInvalidQuestion},
		{"start question too long", smp4Expect1, func(m *SMP4) error {
			_, _, err := m.Start(testRand4(1), x, strings.Repeat("a", maxQuestionLen4+1))
			return err
		}, ErrInvalidQuestion},
		{"start failing rand", smp4Expect1, func(m *SMP4) error { _, _, err := m.Start(failingReader4{}, x, ""); return err }, errTestRand4},
		{"start short rand", smp4Expect1, func(m *SMP4) error {
			_, _, err := m.Start(bytes.NewReader(make([]byte, 3*57+56)), x, "")
			return err
		}, io.ErrUnexpectedEOF},
		{"answer idle", smp4Expect1, func(m *SMP4) error { _, _, err := m.Answer(testRand4(1), x); return err }, ErrNothingToAnswer},
		{"answer as initiator", smp4Expect2, func(m *SMP4) error { _, _, err := m.Answer(testRand4(1), x); return err }, ErrNothingToAnswer},
		{"answer nil secret", smp4Expect1Pending, func(m *SMP4) error { _, _, err := m.Answer(testRand4(1), nil); return err }, ErrSMP4InvalidSecret},
		{"answer failing rand", smp4Expect1Pending, func(m *SMP4) error { _, _, err := m.Answer(failingReader4{}, x); return err }, errTestRand4},
		{"message 2 failing rand", smp4Expect2, func(m *SMP4) error { _, err := m.Receive(failingReader4{}, TypeMsg2, s.tr.m2); return err }, errTestRand4},
		{"message 2 nil rand", smp4Expect2, func(m *SMP4) error { _, err := m.Receive(nil, TypeMsg2, s.tr.m2); return err }, errSMP4NoRand},
		{"start nil rand", smp4Expect1, func(m *SMP4) error { _, _, err := m.Start(nil, x, ""); return err }, errSMP4NoRand},
		{"message 3 failing rand", smp4Expect3, func(m *SMP4) error { _, err := m.Receive(failingReader4{}, TypeMsg3, s.tr.m3); return err }, errTestRand4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := s.machine(tc.state)
			before := clone4(m)
			if err := tc.call(m); !errors.Is(err, tc.wantErr) {
				t.Fatalf("error = %v, want %v", err, tc.wantErr)
			}
			if !reflect.DeepEqual(m, before) {
				t.Error("the failed call changed the state")
			}
		})
	}
	// After a failing rand the run continues with a working one.
	m := s.machine(smp4Expect2)
	if _, err := m.Receive(failingReader4{}, TypeMsg2, s.tr.m2); err == nil {
		t.Fatal("no error from a failing rand")
	}
	if out, err := m.Receive(testRand4(2), TypeMsg2, s.tr.m2); err != nil || out.Result != InProgress {
		t.Errorf("retry = %v, %v; want InProgress", out.Result, err)
	}
}

// TestSMP4MaxQuestion: the longest question fills the 16-bit TLV length.
func TestSMP4MaxQuestion(t *testing.T) {
	var alice, bob SMP4
	q := strings.Repeat("é", maxQuestionLen4/2) + "a"
	_, p, err := alice.Start(testRand4(5), secret4(fpA4, fpB4, ssid4, "s"), q)
	if err != nil || len(p) != 0xFFFF {
		t.Fatalf("Start = %d bytes, %v; want 65535 bytes", len(p), err)
	}
	if out, err := bob.Receive(nil, TypeMsg1, p); err != nil || out.Result != NeedSecret || out.Question != q {
		t.Errorf("Receive = %v, %v; want NeedSecret with the question", out.Result, err)
	}
}

// TestSMP4RandomnessUse: each step reads 57 bytes per random scalar
// (docs/threats.md S4).
func TestSMP4RandomnessUse(t *testing.T) {
	var alice, bob SMP4
	x := secret4(fpA4, fpB4, ssid4, "s")
	counts := make([]int, 0, 4)
	c := &countingReader4{r: testRand4(9)}
	mark := func() { counts = append(counts, c.n); c.n = 0 }
	_, m1, _ := alice.Start(c, x, "")
	mark()
	bob.Receive(c, TypeMsg1, m1)
	_, m2, _ := bob.Answer(c, x)
	mark()
	out, _ := alice.Receive(c, TypeMsg2, m2)
	mark()
	out, _ = bob.Receive(c, TypeMsg3, out.Reply.Value)
	mark()
	alice.Receive(c, TypeMsg4, out.Reply.Value)
	mark()
	if want := []int{4 * 57, 7 * 57, 4 * 57, 57, 0}; !reflect.DeepEqual(counts, want) {
		t.Errorf("bytes read per step = %v, want %v", counts, want)
	}
}

// TestSMP4WireRoundTrip: parse then marshal gives the input back.
func TestSMP4WireRoundTrip(t *testing.T) {
	s := newStates4(t)
	type msg interface {
		parse([]byte) bool
		marshal() []byte
	}
	for _, tc := range []struct {
		name string
		m    msg
		in   []byte
	}{
		{"message 1", &smp4Msg1{}, s.tr.m1},
		{"message 2", &smp4Msg2{}, s.tr.m2},
		{"message 3", &smp4Msg3{}, s.tr.m3},
		{"message 4", &smp4Msg4{}, s.tr.m4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.m.parse(tc.in) {
				t.Fatal("parse failed")
			}
			if got := tc.m.marshal(); !bytes.Equal(got, tc.in) {
				t.Errorf("marshal(parse(m)) = %x, want %x", got, tc.in)
			}
			for n := range len(tc.in) {
				if tc.m.parse(tc.in[:n]) {
					t.Fatalf("parse accepted a %d-byte prefix", n)
				}
			}
			if tc.m.parse(append(bytes.Clone(tc.in), 0)) {
				t.Error("parse accepted a trailing byte")
			}
		})
	}
}

// TestSMP4Concurrent calls every method from several goroutines (run with
// -race).
func TestSMP4Concurrent(t *testing.T) {
	s := newStates4(t)
	m := s.machine(smp4Expect2)
	done := make(chan struct{})
	for i := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			r := testRand4(byte(70 + i))
			m.InProgress()
			m.Receive(r, TypeMsg2, s.tr.m2)
			m.Receive(r, TypeAbort, nil)
			m.Start(r, s.x, "")
			m.Answer(r, s.x)
			m.Abort()
			m.Wipe()
		}()
	}
	for range 4 {
		<-done
	}
	if m.InProgress() {
		t.Error("in progress after Wipe")
	}
}
