// Package smp implements the Socialist Millionaires' Protocol of OTR as
// sans-IO state machines: TLV payloads in, TLV payloads and a result out.
// It never performs I/O, reads the clock or logs; randomness comes from the
// io.Reader passed to each call.
//
// It serves github.com/otrgo/otr; its API may change in any release.
package smp

import (
	"crypto/sha256"
	"errors"
	"io"
	"strings"
	"sync"

	otrcrypto "github.com/otrgo/otr/crypto"
)

// The OTR3 SMP (OTR3 spec, "Socialist Millionaires' Protocol" and "The SMP
// state machine"). Names follow the spec: g2a, g3b, Pa, Qb, cP, D5; qab is
// Qa/Qb and pab is Pa/Pb.

// TLV types of the SMP (OTR3 spec, "Data Message").
const (
	TypeMsg1  uint16 = 2 // SMP message 1
	TypeMsg2  uint16 = 3 // SMP message 2
	TypeMsg3  uint16 = 4 // SMP message 3
	TypeMsg4  uint16 = 5 // SMP message 4
	TypeAbort uint16 = 6 // SMP abort
	TypeMsg1Q uint16 = 7 // SMP message 1 with a question
)

// Errors returned by SMP3. They are caller errors or a failing random
// source: invalid peer messages are not errors but an Outcome with a
// Cheated or Unexpected result.
var (
	// ErrInProgress: Start was called while a run is in progress; call
	// Abort first to restart.
	ErrInProgress = errors.New("smp: SMP already in progress")
	// ErrNothingToAnswer: Answer was called without a pending request.
	ErrNothingToAnswer = errors.New("smp: no SMP request to answer")
	// ErrInvalidSecret: the secret is not the 32-byte combined secret (see
	// Secret3).
	ErrInvalidSecret = errors.New("smp: secret must be the 32-byte combined secret")
	// ErrInvalidQuestion: the question contains a NUL byte or is too long.
	ErrInvalidQuestion = errors.New("smp: invalid question")
	// ErrNotSMP: Receive was given a TLV type that is not an SMP type.
	ErrNotSMP = errors.New("smp: not an SMP TLV type")
)

// maxQuestionLen3 keeps a type 7 TLV within the 16-bit TLV length.
const maxQuestionLen3 = 60000

// Secret3 returns the secret OTR3 SMP compares (OTR3 spec, "Secret
// information"): SHA-256 over the version byte 1, the fingerprint of the
// party that started this SMP run, the responder's fingerprint, the secure
// session ID and the user's secret, taken as raw bytes (any normalisation
// is the host's choice). Both sides pass the initiator first.
func Secret3(initiatorFP, responderFP [20]byte, ssid [8]byte, userSecret []byte) []byte {
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(initiatorFP[:])
	h.Write(responderFP[:])
	h.Write(ssid[:])
	h.Write(userSecret)
	return h.Sum(nil)
}

// Result says what a received TLV did.
type Result int

const (
	// InProgress: the run continues; send the reply.
	InProgress Result = iota
	// NeedSecret: the peer started a run; call Answer with the secret.
	// Outcome.Question holds the peer's question, if any.
	NeedSecret
	// Succeeded: both secrets are equal. This side's run is over.
	Succeeded
	// Failed: the secrets differ. This side's run is over.
	Failed
	// Aborted: the peer aborted the run in progress (TLV 6).
	Aborted
	// Cheated: a value or proof in the message failed its check, or the
	// message was malformed. The run is reset; send the reply (an abort).
	Cheated
	// Unexpected: the message is not the one the current state expects
	// (out of order, replayed, or both sides started at once). The run is
	// reset; send the reply (an abort).
	Unexpected
	// Ignored: an abort arrived while no run was in progress.
	Ignored
)

var resultNames = [...]string{"in progress", "need secret", "succeeded", "failed", "aborted", "cheated", "unexpected", "ignored"}

// String returns the result's name.
func (r Result) String() string {
	if r >= 0 && int(r) < len(resultNames) {
		return resultNames[r]
	}
	return "unknown"
}

// TLV is a TLV record to send. Its layout matches encoding.TLV, so the
// caller can convert it directly.
type TLV struct {
	Type  uint16
	Value []byte
}

// Outcome is the result of Receive.
type Outcome struct {
	Result Result
	// Reply is the TLV to send to the peer, or nil.
	Reply *TLV
	// Question is the peer's question with NeedSecret from a type 7 TLV:
	// untrusted text, not necessarily valid UTF-8.
	Question string
}

// state3 is the SMP state of the OTR3 spec ("Expected Message").
type state3 int

const (
	expect1        state3 = iota // SMPSTATE_EXPECT1, idle
	expect1Pending               // SMPSTATE_EXPECT1 with a verified message 1 waiting for Answer
	expect2                      // SMPSTATE_EXPECT2 (initiator)
	expect3                      // SMPSTATE_EXPECT3 (responder)
	expect4                      // SMPSTATE_EXPECT4 (initiator)
)

// pending3: the responder received message 1 and waits for the secret.
type pending3 struct {
	g2a, g3a *otrcrypto.SMP3Element
	question string
}

// Wipe drops the references; the values are public (they came over the
// wire) and g3a lives on in bob3.
func (p *pending3) Wipe() {
	if p != nil {
		*p = pending3{}
	}
}

// alice2: the initiator sent message 1 (spec step 7: x, a2, a3).
type alice2 struct {
	x, a2, a3 *otrcrypto.SMP3Exponent
}

func (a *alice2) Wipe() {
	if a != nil {
		a.x.Wipe()
		a.a2.Wipe()
		a.a3.Wipe()
	}
}

// bob3: the responder sent message 2 (spec step 10).
type bob3 struct {
	g3a, g2, g3, pb, qb *otrcrypto.SMP3Element
	b3                  *otrcrypto.SMP3Exponent
}

func (b *bob3) Wipe() {
	if b != nil {
		b.g2.Wipe()
		b.g3.Wipe()
		b.b3.Wipe()
	}
}

// alice4: the initiator sent message 3 (spec step 7).
type alice4 struct {
	g3b, pab, qab *otrcrypto.SMP3Element
	a3            *otrcrypto.SMP3Exponent
}

func (a *alice4) Wipe() {
	if a != nil {
		a.a3.Wipe()
	}
}

// SMP3 is the OTR3 SMP state of one session. The zero value is ready: no
// run in progress. Its methods are safe for concurrent use. The owner must
// call Wipe (or Abort) when the session leaves the encrypted state (OTR3
// spec, "The SMP state machine").
type SMP3 struct {
	mu      sync.Mutex
	state   state3
	pending *pending3
	a2      *alice2
	b3      *bob3
	a4      *alice4
}

// reset wipes every state's data and returns to EXPECT1.
func (s *SMP3) reset() {
	s.pending.Wipe()
	s.a2.Wipe()
	s.b3.Wipe()
	s.a4.Wipe()
	s.state, s.pending, s.a2, s.b3, s.a4 = expect1, nil, nil, nil, nil
}

// Wipe clears all secrets and returns to the idle state.
func (s *SMP3) Wipe() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reset()
}

// InProgress reports whether a run is in progress (including a request
// waiting for Answer).
func (s *SMP3) InProgress() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state != expect1
}

// AwaitingSecret reports whether a verified message 1 from the contact
// waits for Answer.
func (s *SMP3) AwaitingSecret() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == expect1Pending
}

// Abort resets the state and returns the abort TLV to send (OTR3 spec, "User
// requests to abort SMP": in all cases).
func (s *SMP3) Abort() (tlvType uint16, payload []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reset()
	return TypeAbort, nil
}

func checkSecret3(secret []byte) error {
	if len(secret) != sha256.Size {
		return ErrInvalidSecret
	}
	return nil
}

// Start begins a run as the initiator (OTR3 spec, "User requests to begin
// SMP") and returns SMP message 1 to send: type 2, or type 7 if question
// is not empty. secret is the combined secret from Secret3. It returns
// ErrInProgress unless the state is idle.
func (s *SMP3) Start(rand io.Reader, secret []byte, question string) (tlvType uint16, payload []byte, err error) {
	if err := checkSecret3(secret); err != nil {
		return 0, nil, err
	}
	if strings.IndexByte(question, 0) >= 0 || len(question) > maxQuestionLen3 {
		return 0, nil, ErrInvalidQuestion
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != expect1 {
		return 0, nil, ErrInProgress
	}
	st, vals, err := start3(rand, secret)
	if err != nil {
		return 0, nil, err
	}
	tlvType = TypeMsg1
	if question != "" {
		tlvType = TypeMsg1Q
		payload = append([]byte(question), 0)
	}
	payload = appendMPIs3(payload, vals...)
	s.state, s.a2 = expect2, st
	return tlvType, payload, nil
}

// start3: "User requests to begin SMP", steps 1-8.
func start3(rand io.Reader, secret []byte) (*alice2, [][]byte, error) {
	st := &alice2{x: otrcrypto.NewSMP3Secret(secret)}
	var err error
	fail := func() (*alice2, [][]byte, error) { st.Wipe(); return nil, nil, err }
	if st.a2, err = otrcrypto.GenerateSMP3Exponent(rand); err != nil {
		return fail()
	}
	if st.a3, err = otrcrypto.GenerateSMP3Exponent(rand); err != nil {
		return fail()
	}
	g2a, g3a := otrcrypto.SMP3BaseExp(st.a2), otrcrypto.SMP3BaseExp(st.a3)
	c2, d2, err := otrcrypto.SMP3ProveLog(rand, 1, st.a2)
	if err != nil {
		return fail()
	}
	c3, d3, err := otrcrypto.SMP3ProveLog(rand, 2, st.a3)
	if err != nil {
		return fail()
	}
	return st, [][]byte{g2a.Bytes(), c2, d2, g3a.Bytes(), c3, d3}, nil
}

// Answer answers a pending request (after Receive returned NeedSecret) with
// the combined secret and returns SMP message 2 to send (OTR3 spec,
// "Receiving a type 2 TLV", "Create a type 3 TLV"). On error the request
// stays pending.
func (s *SMP3) Answer(rand io.Reader, secret []byte) (tlvType uint16, payload []byte, err error) {
	if err := checkSecret3(secret); err != nil {
		return 0, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != expect1Pending {
		return 0, nil, ErrNothingToAnswer
	}
	st, vals, err := answer3(rand, s.pending, secret)
	if err != nil {
		return 0, nil, err
	}
	s.pending.Wipe()
	s.pending = nil
	s.state, s.b3 = expect3, st
	return TypeMsg2, appendMPIs3(nil, vals...), nil
}

// answer3: "Create a type 3 TLV (SMP message 2)", steps 1-11.
func answer3(rand io.Reader, p *pending3, secret []byte) (*bob3, [][]byte, error) {
	y := otrcrypto.NewSMP3Secret(secret)
	defer y.Wipe()
	var b2, r4 *otrcrypto.SMP3Exponent
	defer func() { b2.Wipe(); r4.Wipe() }()
	st := &bob3{g3a: p.g3a}
	var err error
	fail := func() (*bob3, [][]byte, error) { st.Wipe(); return nil, nil, err }
	if b2, err = otrcrypto.GenerateSMP3Exponent(rand); err != nil {
		return fail()
	}
	if st.b3, err = otrcrypto.GenerateSMP3Exponent(rand); err != nil {
		return fail()
	}
	if r4, err = otrcrypto.GenerateSMP3Exponent(rand); err != nil {
		return fail()
	}
	g2b, g3b := otrcrypto.SMP3BaseExp(b2), otrcrypto.SMP3BaseExp(st.b3)
	c2, d2, err := otrcrypto.SMP3ProveLog(rand, 3, b2)
	if err != nil {
		return fail()
	}
	c3, d3, err := otrcrypto.SMP3ProveLog(rand, 4, st.b3)
	if err != nil {
		return fail()
	}
	st.g2, st.g3 = p.g2a.Exp(b2), p.g3a.Exp(st.b3)
	st.pb = st.g3.Exp(r4)
	g2y := st.g2.Exp(y)
	st.qb = otrcrypto.SMP3BaseExp(r4).Mul(g2y)
	g2y.Wipe()
	cP, d5, d6, err := otrcrypto.SMP3ProvePQ(rand, 5, st.g2, st.g3, r4, y)
	if err != nil {
		return fail()
	}
	return st, [][]byte{g2b.Bytes(), c2, d2, g3b.Bytes(), c3, d3, st.pb.Bytes(), st.qb.Bytes(), cP, d5, d6}, nil
}

// Receive processes a received SMP TLV (types 2 to 7). Invalid or
// unexpected messages are not errors: they reset the state and the Outcome
// (Cheated or Unexpected) carries the abort TLV to send, as the OTR3 spec's
// state machine asks. An abort TLV is never answered with another one.
// Receive returns an error, leaving the state unchanged, for a TLV type
// that is not an SMP type (ErrNotSMP) and when reading rand fails.
func (s *SMP3) Receive(rand io.Reader, tlvType uint16, payload []byte) (Outcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case expect1, expect1Pending:
		switch tlvType {
		case TypeMsg1, TypeMsg1Q:
			return s.receiveMsg1(tlvType, payload), nil
		}
	case expect2:
		if tlvType == TypeMsg2 {
			return s.receiveMsg2(rand, payload)
		}
	case expect3:
		if tlvType == TypeMsg3 {
			return s.receiveMsg3(rand, payload)
		}
	case expect4:
		if tlvType == TypeMsg4 {
			return s.receiveMsg4(payload), nil
		}
	}
	switch tlvType {
	case TypeAbort:
		// "If you receive a TLV of this type, you should change the SMP
		// state to SMP_EXPECT1"; never answer it with an abort.
		if s.state == expect1 {
			return Outcome{Result: Ignored}, nil
		}
		s.reset()
		return Outcome{Result: Aborted}, nil
	case TypeMsg1, TypeMsg1Q, TypeMsg2, TypeMsg3, TypeMsg4:
		// "If smpstate is not SMPSTATE_EXPECTn: Set smpstate to
		// SMPSTATE_EXPECT1 and send a type 6 TLV (SMP abort)".
		return s.abort(Unexpected), nil
	}
	return Outcome{}, ErrNotSMP
}

func (s *SMP3) abort(r Result) Outcome {
	s.reset()
	return Outcome{Result: r, Reply: &TLV{Type: TypeAbort}}
}

// receiveMsg1: "Receiving a type 2 TLV (SMP message 1)", in EXPECT1. A new
// message 1 while a request is pending replaces it.
func (s *SMP3) receiveMsg1(tlvType uint16, payload []byte) Outcome {
	var question string
	if tlvType == TypeMsg1Q {
		var ok bool
		if question, payload, ok = splitQuestion3(payload); !ok {
			return s.abort(Cheated)
		}
	}
	v, ok := parseMPIs3(payload, 6) // g2a, c2, D2, g3a, c3, D3
	if !ok {
		return s.abort(Cheated)
	}
	g2a, err1 := otrcrypto.ParseSMP3Element(v[0])
	g3a, err2 := otrcrypto.ParseSMP3Element(v[3])
	if err1 != nil || err2 != nil || // step 1
		!otrcrypto.SMP3VerifyLog(1, g2a, v[1], v[2]) || // step 2
		!otrcrypto.SMP3VerifyLog(2, g3a, v[4], v[5]) { // step 3
		return s.abort(Cheated)
	}
	s.reset()
	s.state, s.pending = expect1Pending, &pending3{g2a: g2a, g3a: g3a, question: question}
	return Outcome{Result: NeedSecret, Question: question}
}

// receiveMsg2: "Receiving a type 3 TLV (SMP message 2)", in EXPECT2.
func (s *SMP3) receiveMsg2(rand io.Reader, payload []byte) (Outcome, error) {
	// g2b, c2, D2, g3b, c3, D3, Pb, Qb, cP, D5, D6
	v, ok := parseMPIs3(payload, 11)
	if !ok {
		return s.abort(Cheated), nil
	}
	var el [4]*otrcrypto.SMP3Element // g2b, g3b, Pb, Qb: step 1
	for i, j := range []int{0, 3, 6, 7} {
		var err error
		if el[i], err = otrcrypto.ParseSMP3Element(v[j]); err != nil {
			return s.abort(Cheated), nil
		}
	}
	g2b, g3b, pb, qb := el[0], el[1], el[2], el[3]
	if !otrcrypto.SMP3VerifyLog(3, g2b, v[1], v[2]) || !otrcrypto.SMP3VerifyLog(4, g3b, v[4], v[5]) { // steps 2, 3
		return s.abort(Cheated), nil
	}
	a := s.a2
	g2, g3 := g2b.Exp(a.a2), g3b.Exp(a.a3)
	defer g2.Wipe()
	defer g3.Wipe()
	if !otrcrypto.SMP3VerifyPQ(5, g2, g3, pb, qb, v[8], v[9], v[10]) { // step 4
		return s.abort(Cheated), nil
	}

	// "Create a type 4 TLV (SMP message 3)", steps 1-8.
	r4, err := otrcrypto.GenerateSMP3Exponent(rand)
	if err != nil {
		return Outcome{}, err
	}
	defer r4.Wipe()
	pa := g3.Exp(r4)
	g2x := g2.Exp(a.x)
	qa := otrcrypto.SMP3BaseExp(r4).Mul(g2x)
	g2x.Wipe()
	cP, d5, d6, err := otrcrypto.SMP3ProvePQ(rand, 6, g2, g3, r4, a.x)
	if err != nil {
		return Outcome{}, err
	}
	qab := qa.Div(qb)
	ra := qab.Exp(a.a3)
	cR, d7, err := otrcrypto.SMP3ProveR(rand, 7, qab, a.a3)
	if err != nil {
		return Outcome{}, err
	}
	next := &alice4{g3b: g3b, pab: pa.Div(pb), qab: qab, a3: a.a3}
	a.a3 = nil // moves to the next state
	a.Wipe()
	s.a2 = nil
	s.state, s.a4 = expect4, next
	reply := appendMPIs3(nil, pa.Bytes(), qa.Bytes(), cP, d5, d6, ra.Bytes(), cR, d7)
	return Outcome{Result: InProgress, Reply: &TLV{Type: TypeMsg3, Value: reply}}, nil
}

// receiveMsg3: "Receiving a type 4 TLV (SMP message 3)", in EXPECT3.
func (s *SMP3) receiveMsg3(rand io.Reader, payload []byte) (Outcome, error) {
	// Pa, Qa, cP, D5, D6, Ra, cR, D7
	v, ok := parseMPIs3(payload, 8)
	if !ok {
		return s.abort(Cheated), nil
	}
	var el [3]*otrcrypto.SMP3Element // Pa, Qa, Ra: step 1
	for i, j := range []int{0, 1, 5} {
		var err error
		if el[i], err = otrcrypto.ParseSMP3Element(v[j]); err != nil {
			return s.abort(Cheated), nil
		}
	}
	pa, qa, ra := el[0], el[1], el[2]
	b := s.b3
	if !otrcrypto.SMP3VerifyPQ(6, b.g2, b.g3, pa, qa, v[2], v[3], v[4]) { // step 2
		return s.abort(Cheated), nil
	}
	qab := qa.Div(b.qb)
	if !otrcrypto.SMP3VerifyR(7, b.g3a, qab, ra, v[6], v[7]) { // step 3
		return s.abort(Cheated), nil
	}

	// "Create a type 5 TLV (SMP message 4)", steps 1-4.
	rb := qab.Exp(b.b3)
	cR, d7, err := otrcrypto.SMP3ProveR(rand, 8, qab, b.b3)
	if err != nil {
		return Outcome{}, err
	}
	// "Check whether the protocol was successful".
	rab := ra.Exp(b.b3)
	ok = rab.Equal(pa.Div(b.pb))
	rab.Wipe()
	s.reset()
	reply := &TLV{Type: TypeMsg4, Value: appendMPIs3(nil, rb.Bytes(), cR, d7)}
	if ok {
		return Outcome{Result: Succeeded, Reply: reply}, nil
	}
	return Outcome{Result: Failed, Reply: reply}, nil
}

// receiveMsg4: "Receiving a type 5 TLV (SMP message 4)", in EXPECT4.
func (s *SMP3) receiveMsg4(payload []byte) Outcome {
	v, ok := parseMPIs3(payload, 3) // Rb, cR, D7
	if !ok {
		return s.abort(Cheated)
	}
	rb, err := otrcrypto.ParseSMP3Element(v[0]) // step 1
	a := s.a4
	if err != nil || !otrcrypto.SMP3VerifyR(8, a.g3b, a.qab, rb, v[1], v[2]) { // step 2
		return s.abort(Cheated)
	}
	rab := rb.Exp(a.a3)
	ok = rab.Equal(a.pab)
	rab.Wipe()
	s.reset()
	if ok {
		return Outcome{Result: Succeeded}
	}
	return Outcome{Result: Failed}
}
