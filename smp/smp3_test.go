package smp

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"math/big"
	"math/rand/v2"
	"testing"

	otrcrypto "github.com/otrgo/otr/crypto"
)

func testRand3(seed byte) *rand.ChaCha8 {
	var s [32]byte
	s[0], s[1] = seed, 0x53
	return rand.NewChaCha8(s)
}

type failingReader3 struct{}

var errTestRand3 = errors.New("test: no randomness")

func (failingReader3) Read([]byte) (int, error) { return 0, errTestRand3 }

// countingReader3 counts the bytes read.
type countingReader3 struct {
	r io.Reader
	n int
}

func (c *countingReader3) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += n
	return n, err
}

var (
	fpA3   = [20]byte{0xAA, 1}
	fpB3   = [20]byte{0xBB, 2}
	fpM3   = [20]byte{0xCC, 3}
	ssid3  = [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	ssid3b = [8]byte{8, 7, 6, 5, 4, 3, 2, 1}
)

const pHex3 = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1" +
	"29024E088A67CC74020BBEA63B139B22514A08798E3404DD" +
	"EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245" +
	"E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
	"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D" +
	"C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F" +
	"83655D23DCA3AD961C62F356208552BB9ED529077096966D" +
	"670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF"

func groupP3() *big.Int {
	p, _ := new(big.Int).SetString(pHex3, 16)
	return p
}

// transcript3 holds the messages of one honest run.
type transcript3 struct {
	m1Type         uint16
	m1, m2, m3, m4 []byte
	alice, bob     Result
}

// run3 runs SMP between two machines and returns the transcript.
func run3(t testing.TB, r io.Reader, alice, bob *SMP3, secretA, secretB []byte, question string) transcript3 {
	t.Helper()
	var tr transcript3
	var err error
	tr.m1Type, tr.m1, err = alice.Start(r, secretA, question)
	if err != nil {
		t.Fatal(err)
	}
	out, err := bob.Receive(r, tr.m1Type, tr.m1)
	if err != nil || out.Result != NeedSecret || out.Reply != nil || out.Question != question {
		t.Fatalf("Bob got message 1: %+v, %v", out, err)
	}
	typ, m2, err := bob.Answer(r, secretB)
	if err != nil || typ != TypeMsg2 {
		t.Fatalf("Answer = %d, %v", typ, err)
	}
	tr.m2 = m2
	out, err = alice.Receive(r, typ, m2)
	if err != nil || out.Result != InProgress || out.Reply == nil || out.Reply.Type != TypeMsg3 {
		t.Fatalf("Alice got message 2: %+v, %v", out, err)
	}
	tr.m3 = out.Reply.Value
	out, err = bob.Receive(r, TypeMsg3, tr.m3)
	if err != nil || out.Reply == nil || out.Reply.Type != TypeMsg4 {
		t.Fatalf("Bob got message 3: %+v, %v", out, err)
	}
	tr.bob, tr.m4 = out.Result, out.Reply.Value
	out, err = alice.Receive(r, TypeMsg4, tr.m4)
	if err != nil || out.Reply != nil {
		t.Fatalf("Alice got message 4: %+v, %v", out, err)
	}
	tr.alice = out.Result
	if alice.InProgress() || bob.InProgress() {
		t.Fatal("a machine is not idle after the run")
	}
	return tr
}

func TestSecret3(t *testing.T) {
	got := Secret3(fpA3, fpB3, ssid3, []byte("pw"))
	var in []byte
	in = append(in, 1)
	in = append(in, fpA3[:]...)
	in = append(in, fpB3[:]...)
	in = append(in, ssid3[:]...)
	in = append(in, "pw"...)
	if want := sha256.Sum256(in); !bytes.Equal(got, want[:]) {
		t.Errorf("Secret3 = %x, want %x", got, want)
	}
	if bytes.Equal(got, Secret3(fpB3, fpA3, ssid3, []byte("pw"))) {
		t.Error("Secret3 ignores the fingerprint order")
	}
}

func TestSMP3Run(t *testing.T) {
	same := Secret3(fpA3, fpB3, ssid3, []byte("correct horse"))
	other := Secret3(fpA3, fpB3, ssid3, []byte("battery staple"))
	tests := []struct {
		name     string
		a, b     []byte
		question string
		want     Result
	}{
		{"equal", same, same, "", Succeeded},
		{"equal with question", same, same, "Where did we meet?", Succeeded},
		{"different", same, other, "", Failed},
		{"different with question", same, other, "q", Failed},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var alice, bob SMP3
			tr := run3(t, testRand3(byte(i)), &alice, &bob, tc.a, tc.b, tc.question)
			if tr.alice != tc.want || tr.bob != tc.want {
				t.Errorf("results = %v, %v; want %v", tr.alice, tr.bob, tc.want)
			}
			wantType := TypeMsg1
			if tc.question != "" {
				wantType = TypeMsg1Q
			}
			if tr.m1Type != wantType {
				t.Errorf("message 1 type = %d, want %d", tr.m1Type, wantType)
			}
			// Role swap on the same machines (docs/threats.md S2).
			swapped := Secret3(fpB3, fpA3, ssid3, []byte("correct horse"))
			tr = run3(t, testRand3(byte(i+100)), &bob, &alice, swapped, swapped, "")
			if tr.alice != Succeeded || tr.bob != Succeeded {
				t.Errorf("role swap results = %v, %v", tr.alice, tr.bob)
			}
		})
	}
}

// TestSMP3MITM: Mallory relays SMP TLVs between an Alice–Mallory and a
// Mallory–Bob session; Alice and Bob type the same secret (docs/threats.md S2).
func TestSMP3MITM(t *testing.T) {
	r := testRand3(50)
	// Alice thinks she talks to Mallory's key in session ssid3; Bob sees
	// Mallory as the initiator in session ssid3b.
	secretA := Secret3(fpA3, fpM3, ssid3, []byte("shared"))
	secretB := Secret3(fpM3, fpB3, ssid3b, []byte("shared"))
	var alice, bob SMP3
	tr := run3(t, r, &alice, &bob, secretA, secretB, "")
	if tr.alice == Succeeded || tr.bob == Succeeded {
		t.Errorf("MITM relay succeeded: %v, %v", tr.alice, tr.bob)
	}
	// Control: the direct session with the same secret succeeds.
	s := Secret3(fpA3, fpB3, ssid3, []byte("shared"))
	if tr := run3(t, r, &alice, &bob, s, s, ""); tr.alice != Succeeded || tr.bob != Succeeded {
		t.Errorf("direct run: %v, %v", tr.alice, tr.bob)
	}
}

// states3 prepares a machine in each state, using honest messages.
type states3 struct {
	secret []byte
	tr     transcript3 // an honest run whose messages fit the prepared machines
	other  transcript3 // an honest run of other machines
}

func newStates3(t testing.TB) *states3 {
	t.Helper()
	s := &states3{secret: Secret3(fpA3, fpB3, ssid3, []byte("pw"))}
	var a, b SMP3
	s.tr = run3(t, testRand3(60), &a, &b, s.secret, s.secret, "")
	s.other = run3(t, testRand3(61), &a, &b, s.secret, s.secret, "q?")
	return s
}

// machine returns a machine in state st; Alice's machines replay seed 60,
// so s.tr's messages fit them.
func (s *states3) machine(t testing.TB, st state3) *SMP3 {
	t.Helper()
	// Replay the randomness of run3 with seed 60 step by step.
	r := testRand3(60)
	alice, bob := new(SMP3), new(SMP3)
	if _, _, err := alice.Start(r, s.secret, ""); err != nil {
		t.Fatal(err)
	}
	switch st {
	case expect1:
		return new(SMP3)
	case expect2:
		return alice
	}
	if _, err := bob.Receive(r, TypeMsg1, s.tr.m1); err != nil {
		t.Fatal(err)
	}
	if st == expect1Pending {
		return bob
	}
	if _, _, err := bob.Answer(r, s.secret); err != nil {
		t.Fatal(err)
	}
	if st == expect3 {
		return bob
	}
	if out, err := alice.Receive(r, TypeMsg2, s.tr.m2); err != nil || out.Result != InProgress {
		t.Fatalf("prepare expect4: %+v %v", out, err)
	}
	return alice
}

func TestSMP3StateMatrix(t *testing.T) {
	s := newStates3(t)
	type msg struct {
		name string
		typ  uint16
		val  []byte
	}
	own := []msg{ // messages of the run the machines belong to
		{"m1", TypeMsg1, s.tr.m1}, {"m2", TypeMsg2, s.tr.m2},
		{"m3", TypeMsg3, s.tr.m3}, {"m4", TypeMsg4, s.tr.m4},
	}
	foreign := []msg{ // valid messages of another run
		{"other m1q", TypeMsg1Q, s.other.m1},
		{"other m2", TypeMsg2, s.other.m2},
		{"other m3", TypeMsg3, s.other.m3},
		{"other m4", TypeMsg4, s.other.m4},
	}
	abort := msg{"abort", TypeAbort, nil}
	stateNames := map[state3]string{expect1: "EXPECT1", expect1Pending: "EXPECT1+pending", expect2: "EXPECT2", expect3: "EXPECT3", expect4: "EXPECT4"}
	type row struct {
		state     state3
		in        msg
		want      Result
		wantState state3
	}
	rows := []row{
		{expect1, own[0], NeedSecret, expect1Pending},
		{expect1, foreign[0], NeedSecret, expect1Pending},
		{expect1, own[1], Unexpected, expect1},
		{expect1, own[2], Unexpected, expect1},
		{expect1, own[3], Unexpected, expect1},
		{expect1, abort, Ignored, expect1},
		{expect1Pending, own[0], NeedSecret, expect1Pending},
		{expect1Pending, own[1], Unexpected, expect1},
		{expect1Pending, own[2], Unexpected, expect1},
		{expect1Pending, own[3], Unexpected, expect1},
		{expect1Pending, abort, Aborted, expect1},
		{expect2, own[0], Unexpected, expect1},
		{expect2, own[1], InProgress, expect4},
		{expect2, foreign[1], Cheated, expect1},
		{expect2, own[2], Unexpected, expect1},
		{expect2, own[3], Unexpected, expect1},
		{expect2, abort, Aborted, expect1},
		{expect3, own[0], Unexpected, expect1},
		{expect3, own[1], Unexpected, expect1},
		{expect3, own[2], Succeeded, expect1},
		{expect3, foreign[2], Cheated, expect1},
		{expect3, own[3], Unexpected, expect1},
		{expect3, abort, Aborted, expect1},
		{expect4, own[0], Unexpected, expect1},
		{expect4, own[1], Unexpected, expect1},
		{expect4, own[2], Unexpected, expect1},
		{expect4, own[3], Succeeded, expect1},
		{expect4, foreign[3], Cheated, expect1},
		{expect4, abort, Aborted, expect1},
	}
	for _, tc := range rows {
		t.Run(stateNames[tc.state]+"/"+tc.in.name, func(t *testing.T) {
			m := s.machine(t, tc.state)
			out, err := m.Receive(testRand3(70), tc.in.typ, tc.in.val)
			if err != nil {
				t.Fatalf("Receive error = %v", err)
			}
			if out.Result != tc.want || m.state != tc.wantState {
				t.Errorf("Receive = %v, state %s; want %v, %s", out.Result, stateNames[m.state], tc.want, stateNames[tc.wantState])
			}
			wantAbort := tc.want == Cheated || tc.want == Unexpected
			if gotAbort := out.Reply != nil && out.Reply.Type == TypeAbort; gotAbort != wantAbort {
				t.Errorf("reply = %+v, want abort %v", out.Reply, wantAbort)
			}
			if tc.in.typ == TypeAbort && out.Reply != nil {
				t.Error("an abort was answered")
			}
		})
	}
	// A type that is not SMP is an error and leaves the state unchanged.
	for _, typ := range []uint16{0, 1, 8, 0xFFFF} {
		m := s.machine(t, expect2)
		if _, err := m.Receive(testRand3(71), typ, nil); !errors.Is(err, ErrNotSMP) || m.state != expect2 {
			t.Errorf("Receive(type %d) = %v, state %v", typ, err, m.state)
		}
	}
}

// replaceMPI3 returns payload (count + MPIs) with MPI i replaced by v.
func replaceMPI3(t testing.TB, payload []byte, n, i int, v []byte) []byte {
	t.Helper()
	vals, ok := parseMPIs3(payload, n)
	if !ok {
		t.Fatal("cannot parse payload")
	}
	out := make([][]byte, n)
	copy(out, vals)
	out[i] = v
	b := binary.BigEndian.AppendUint32(nil, uint32(n))
	for _, x := range out {
		b = binary.BigEndian.AppendUint32(b, uint32(len(x)))
		b = append(b, x...)
	}
	return b
}

// TestSMP3Cheaters substitutes out-of-range elements and exponents
// (docs/threats.md S1) in every message: the receiver must never succeed and
// must abort.
func TestSMP3Cheaters(t *testing.T) {
	s := newStates3(t)
	p := groupP3()
	q := new(big.Int).Rsh(p, 1)
	badElems := map[string][]byte{
		"0": nil, "1": {1}, "p-1": new(big.Int).Sub(p, big.NewInt(1)).Bytes(),
		"p": p.Bytes(), "p+1": new(big.Int).Add(p, big.NewInt(1)).Bytes(),
	}
	badExps := map[string][]byte{
		"0": nil, "q": q.Bytes(), "q+1": new(big.Int).Add(q, big.NewInt(1)).Bytes(),
	}
	type step struct {
		state       state3
		typ         uint16
		payload     []byte
		n           int
		elems, exps []int
	}
	steps := []step{
		{expect1, TypeMsg1, s.tr.m1, 6, []int{0, 3}, []int{2, 5}},
		{expect2, TypeMsg2, s.tr.m2, 11, []int{0, 3, 6, 7}, []int{2, 5, 9, 10}},
		{expect3, TypeMsg3, s.tr.m3, 8, []int{0, 1, 5}, []int{3, 4, 7}},
		{expect4, TypeMsg4, s.tr.m4, 3, []int{0}, []int{2}},
	}
	check := func(t *testing.T, st step, payload []byte) {
		t.Helper()
		m := s.machine(t, st.state)
		out, err := m.Receive(testRand3(72), st.typ, payload)
		if err != nil {
			t.Fatal(err)
		}
		if out.Result != Cheated || out.Reply == nil || out.Reply.Type != TypeAbort || m.InProgress() {
			t.Errorf("Receive = %+v, in progress %v; want Cheated with an abort", out, m.InProgress())
		}
	}
	for _, st := range steps {
		for _, i := range st.elems {
			for name, v := range badElems {
				t.Run(stateName3(st.state)+"/elem"+string(rune('0'+i))+"="+name, func(t *testing.T) {
					check(t, st, replaceMPI3(t, st.payload, st.n, i, v))
				})
			}
		}
		for _, i := range st.exps {
			for name, v := range badExps {
				t.Run(stateName3(st.state)+"/exp"+string(rune('0'+i))+"="+name, func(t *testing.T) {
					check(t, st, replaceMPI3(t, st.payload, st.n, i, v))
				})
			}
		}
		// Malformed payloads (docs/threats.md P4).
		bad := map[string][]byte{
			"empty":      nil,
			"count 0":    {0, 0, 0, 0},
			"count 1e9":  append([]byte{0x3B, 0x9A, 0xCA, 0x00}, st.payload[4:]...),
			"count +1":   append(binary.BigEndian.AppendUint32(nil, uint32(st.n+1)), st.payload[4:]...),
			"trailing":   append(append([]byte(nil), st.payload...), 0),
			"truncated":  st.payload[:len(st.payload)-1],
			"long MPI":   replaceMPI3(t, st.payload, st.n, 0, bytes.Repeat([]byte{1}, 193)),
			"non-minmal": replaceMPI3(t, st.payload, st.n, 0, append([]byte{0}, mustMPI3(t, st.payload, st.n, 0)...)),
		}
		for name, v := range bad {
			t.Run(stateName3(st.state)+"/"+name, func(t *testing.T) { check(t, st, v) })
		}
	}
	// A type 7 value without its NUL.
	t.Run("m1q without NUL", func(t *testing.T) {
		check(t, step{state: expect1, typ: TypeMsg1Q}, []byte("question"))
	})
}

func mustMPI3(t testing.TB, payload []byte, n, i int) []byte {
	t.Helper()
	v, ok := parseMPIs3(payload, n)
	if !ok {
		t.Fatal("cannot parse")
	}
	return v[i]
}

func stateName3(s state3) string {
	return [...]string{"EXPECT1", "PENDING", "EXPECT2", "EXPECT3", "EXPECT4"}[s]
}

// TestSMP3Replay: replayed and reordered messages never reach Succeeded.
func TestSMP3Replay(t *testing.T) {
	s := newStates3(t)
	var alice, bob SMP3
	r := testRand3(80)
	tr := run3(t, r, &alice, &bob, s.secret, s.secret, "")
	// After the run, replays of every message to either side.
	for _, m := range []*SMP3{&alice, &bob} {
		for _, in := range []struct {
			typ uint16
			val []byte
		}{{TypeMsg2, tr.m2}, {TypeMsg3, tr.m3}, {TypeMsg4, tr.m4}} {
			out, err := m.Receive(r, in.typ, in.val)
			if err != nil || out.Result != Unexpected || out.Reply == nil {
				t.Errorf("replay of type %d: %+v, %v", in.typ, out, err)
			}
		}
	}
	// A replayed message 1 starts a new request, which cannot complete
	// with the old messages.
	if out, _ := bob.Receive(r, tr.m1Type, tr.m1); out.Result != NeedSecret {
		t.Fatalf("replayed m1: %v", out.Result)
	}
	if _, _, err := bob.Answer(r, s.secret); err != nil {
		t.Fatal(err)
	}
	if out, _ := bob.Receive(r, TypeMsg3, tr.m3); out.Result != Cheated {
		t.Errorf("old m3 after a replayed m1: %v", out.Result)
	}
}

func TestSMP3Abort(t *testing.T) {
	s := newStates3(t)
	for _, st := range []state3{expect1, expect1Pending, expect2, expect3, expect4} {
		m := s.machine(t, st)
		if typ, val := m.Abort(); typ != TypeAbort || len(val) != 0 || m.InProgress() {
			t.Errorf("%s: Abort() = %d, %x", stateName3(st), typ, val)
		}
	}
	m := s.machine(t, expect3)
	out, err := m.Receive(nil, TypeAbort, nil)
	if err != nil || out.Result != Aborted || out.Reply != nil || m.InProgress() {
		t.Errorf("Receive(abort) = %+v, %v", out, err)
	}
	m = s.machine(t, expect4)
	m.Wipe()
	if m.InProgress() {
		t.Error("Wipe did not reset")
	}
}

func TestSMP3CallerErrors(t *testing.T) {
	s := newStates3(t)
	r := testRand3(90)
	var m SMP3
	if _, _, err := m.Start(r, []byte("short"), ""); !errors.Is(err, ErrInvalidSecret) {
		t.Errorf("Start(short secret) = %v", err)
	}
	if _, _, err := m.Start(r, s.secret, "a\x00b"); !errors.Is(err, ErrInvalidQuestion) {
		t.Errorf("Start(NUL question) = %v", err)
	}
	if _, _, err := m.Start(r, s.secret, string(make([]byte, 70000))); !errors.Is(err, ErrInvalidQuestion) {
		t.Errorf("Start(long question) = %v", err)
	}
	if _, _, err := m.Answer(r, s.secret); !errors.Is(err, ErrNothingToAnswer) {
		t.Errorf("Answer without request = %v", err)
	}
	if _, _, err := m.Start(failingReader3{}, s.secret, ""); !errors.Is(err, errTestRand3) || m.InProgress() {
		t.Errorf("Start(failing rand) = %v", err)
	}
	if _, _, err := m.Start(r, s.secret, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Start(r, s.secret, ""); !errors.Is(err, ErrInProgress) {
		t.Errorf("second Start = %v", err)
	}

	// A failing rand leaves every state unchanged; the run then completes.
	bob := s.machine(t, expect1Pending)
	if _, _, err := bob.Answer(failingReader3{}, s.secret); !errors.Is(err, errTestRand3) || bob.state != expect1Pending {
		t.Errorf("Answer(failing rand) = %v, state %v", err, bob.state)
	}
	alice := s.machine(t, expect2)
	if _, err := alice.Receive(failingReader3{}, TypeMsg2, s.tr.m2); !errors.Is(err, errTestRand3) || alice.state != expect2 {
		t.Errorf("Receive m2 (failing rand) = %v, state %v", err, alice.state)
	}
	if out, err := alice.Receive(r, TypeMsg2, s.tr.m2); err != nil || out.Result != InProgress {
		t.Errorf("Receive m2 after a rand failure = %+v, %v", out, err)
	}
	bob = s.machine(t, expect3)
	if _, err := bob.Receive(failingReader3{}, TypeMsg3, s.tr.m3); !errors.Is(err, errTestRand3) || bob.state != expect3 {
		t.Errorf("Receive m3 (failing rand) = %v, state %v", err, bob.state)
	}
	if out, err := bob.Receive(r, TypeMsg3, s.tr.m3); err != nil || out.Result != Succeeded {
		t.Errorf("Receive m3 after a rand failure = %+v, %v", out, err)
	}
}

// TestSMP3RandomnessUse: every random exponent is 192 bytes (1536 bits,
// docs/threats.md S4).
func TestSMP3RandomnessUse(t *testing.T) {
	secret := Secret3(fpA3, fpB3, ssid3, []byte("pw"))
	var alice, bob SMP3
	c := &countingReader3{r: testRand3(91)}
	typ, m1, _ := alice.Start(c, secret, "")
	if c.n != 4*192 { // a2, a3, r2, r3
		t.Errorf("Start read %d bytes, want %d", c.n, 4*192)
	}
	c.n = 0
	bob.Receive(c, typ, m1)
	if c.n != 0 {
		t.Errorf("Receive(m1) read %d bytes", c.n)
	}
	_, m2, _ := bob.Answer(c, secret)
	if c.n != 7*192 { // b2, b3, r2, r3, r4, r5, r6
		t.Errorf("Answer read %d bytes, want %d", c.n, 7*192)
	}
	c.n = 0
	out, _ := alice.Receive(c, TypeMsg2, m2)
	if c.n != 4*192 { // r4, r5, r6, r7
		t.Errorf("Receive(m2) read %d bytes, want %d", c.n, 4*192)
	}
	c.n = 0
	bob.Receive(c, TypeMsg3, out.Reply.Value)
	if c.n != 192 { // r7
		t.Errorf("Receive(m3) read %d bytes, want 192", c.n)
	}
}

func TestResultString(t *testing.T) {
	for r := InProgress; r <= Ignored; r++ {
		if r.String() == "unknown" {
			t.Errorf("Result(%d) has no name", r)
		}
	}
	if Result(99).String() != "unknown" {
		t.Error("Result(99)")
	}
}

// BenchmarkSMP3Run runs one full SMP, both sides in-process.
func BenchmarkSMP3Run(b *testing.B) {
	secret := Secret3(fpA3, fpB3, ssid3, []byte("pw"))
	r := testRand3(92)
	var alice, bob SMP3
	for b.Loop() {
		if tr := run3(b, r, &alice, &bob, secret, secret, ""); tr.alice != Succeeded {
			b.Fatal(tr.alice)
		}
	}
}

// TestSMP3ZeroExponentResponder: Mallory answers with b2 = 0, so g2b = 1
// with a valid proof, g2 = 1 and Qb = g1^r4 independent of any secret
// (docs/threats.md S1). Without the range check Alice would succeed; she must
// see Cheated.
func TestSMP3ZeroExponentResponder(t *testing.T) {
	r := testRand3(93)
	secret := Secret3(fpA3, fpB3, ssid3, []byte("Alice's secret"))
	var alice SMP3
	_, m1, err := alice.Start(r, secret, "")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := parseMPIs3(m1, 6)
	g3a, err := otrcrypto.ParseSMP3Element(v[3])
	if err != nil {
		t.Fatal(err)
	}
	zero := otrcrypto.NewSMP3Secret(nil)
	c2, d2, _ := otrcrypto.SMP3ProveLog(r, 3, zero)
	b3, _ := otrcrypto.GenerateSMP3Exponent(r)
	r4, _ := otrcrypto.GenerateSMP3Exponent(r)
	c3, d3, _ := otrcrypto.SMP3ProveLog(r, 4, b3)
	g2 := g3a.Exp(zero) // 1
	g3 := g3a.Exp(b3)
	pb, qb := g3.Exp(r4), otrcrypto.SMP3BaseExp(r4)
	cP, d5, d6, _ := otrcrypto.SMP3ProvePQ(r, 5, g2, g3, r4, zero)
	m2 := appendMPIs3(nil, []byte{1}, c2, d2, otrcrypto.SMP3BaseExp(b3).Bytes(), c3, d3, pb.Bytes(), qb.Bytes(), cP, d5, d6)
	out, err := alice.Receive(r, TypeMsg2, m2)
	if err != nil || out.Result != Cheated || out.Reply == nil || out.Reply.Type != TypeAbort {
		t.Errorf("Receive(m2 with g2b = 1) = %+v, %v; want Cheated and an abort", out, err)
	}
}
