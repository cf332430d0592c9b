package smp

import (
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"unicode/utf8"

	otrcrypto "github.com/otrgo/otr/crypto"
)

// The OTRv4 SMP over Ed448 (OTRv4 spec, "Socialist Millionaires Protocol
// (SMP)" and "The SMP State Machine"). Names follow the spec: G2a, G3b, Pa,
// Qb, cp, d5; qab is Qa - Qb and pab is Pa - Pb.
//
// The state machine is the OTR3 one (the spec says so), with SMP message 1
// always carrying a question (possibly empty) and no type 7 (in OTRv4 TLV 7
// is the extra symmetric key, not an SMP message).

// SMP hash usage IDs (OTRv4 spec, "SMP Hash Function" and "SMP Overview").
const (
	smp4UsageC2Alice otrcrypto.KDFUsage = 0x01
	smp4UsageC3Alice otrcrypto.KDFUsage = 0x02
	smp4UsageC2Bob   otrcrypto.KDFUsage = 0x03
	smp4UsageC3Bob   otrcrypto.KDFUsage = 0x04
	smp4UsageCPBob   otrcrypto.KDFUsage = 0x05
	smp4UsageCPAlice otrcrypto.KDFUsage = 0x06
	smp4UsageCRAlice otrcrypto.KDFUsage = 0x07
	smp4UsageCRBob   otrcrypto.KDFUsage = 0x08
)

// smp4SecretVersion is the "Version (BYTE)" of the secret information.
const smp4SecretVersion = 1

// ErrSMP4InvalidSecret is returned by SMP4.Start and SMP4.Answer for a nil
// secret.
var ErrSMP4InvalidSecret = errors.New("smp: missing SMP secret")

// errSMP4NoRand is returned when a step needs randomness and rand is nil.
var errSMP4NoRand = errors.New("smp: no random source")

// smp4SecretInput returns the secret information (OTRv4 spec, "Secret
// Information"): version, initiator fingerprint, responder fingerprint,
// SSID, DATA(user secret).
func smp4SecretInput(initiatorFP, responderFP [56]byte, ssid [8]byte, userSecret []byte) []byte {
	in := make([]byte, 0, 1+56+56+8+4+len(userSecret))
	in = append(in, smp4SecretVersion)
	in = append(in, initiatorFP[:]...)
	in = append(in, responderFP[:]...)
	in = append(in, ssid[:]...)
	in = binary.BigEndian.AppendUint32(in, uint32(len(userSecret)))
	return append(in, userSecret...)
}

// SMP4Secret returns the secret OTRv4 SMP compares (x or y): the OTRv4
// fingerprints of the party that started this run (initiatorFP) and of the
// other party, the 8-byte SSID of the session and the user's secret, taken
// as raw bytes (UTF-8 text in the spec; any normalisation is the host's
// choice). Both sides pass the initiator's fingerprint first.
//
// docs/interop.md (OTRv4): "SMP secret (otr4j): 64 bytes of KDF output, not
// pruned, reduced mod q (the spec says 57 bytes, pruned)": this follows
// otr4j, checked against smp.json. The result is secret: Wipe it when done.
func SMP4Secret(initiatorFP, responderFP [56]byte, ssid [8]byte, userSecret []byte) otrcrypto.Scalar {
	in := smp4SecretInput(initiatorFP, responderFP, ssid, userSecret)
	var h [64]byte
	otrcrypto.KDF(h[:], otrcrypto.UsageSMPSecret, in)
	var x otrcrypto.Scalar
	x.SetBytesModQ(h[:])
	clear(h[:])
	clear(in)
	return x
}

// smp4State is smpstate (OTRv4 spec, "The SMP State Machine").
type smp4State int

const (
	smp4Expect1        smp4State = iota // SMPSTATE_EXPECT1, idle
	smp4Expect1Pending                  // SMPSTATE_EXPECT1 with a verified message 1 waiting for Answer
	smp4Expect2                         // SMPSTATE_EXPECT2 (initiator)
	smp4Expect3                         // SMPSTATE_EXPECT3 (responder)
	smp4Expect4                         // SMPSTATE_EXPECT4 (initiator)
)

// smp4Pending: the responder verified message 1 and waits for its secret.
// The values are public.
type smp4Pending struct {
	g2a, g3a otrcrypto.Point
	question string
}

func (p *smp4Pending) Wipe() {
	if p != nil {
		*p = smp4Pending{}
	}
}

// smp4Alice2: the initiator sent message 1 ("SMP Message 1", step 8: "Store
// the values of x, a2 and a3").
type smp4Alice2 struct {
	x, a2, a3 otrcrypto.Scalar
}

func (a *smp4Alice2) Wipe() {
	if a != nil {
		a.x.Wipe()
		a.a2.Wipe()
		a.a3.Wipe()
	}
}

// smp4Bob3: the responder sent message 2 ("SMP Message 2", last step: "Store
// the values of G3a, G2, G3, b3, Pb and Qb").
type smp4Bob3 struct {
	g3a, g2, g3, pb, qb otrcrypto.Point
	b3                  otrcrypto.Scalar
}

func (b *smp4Bob3) Wipe() {
	if b != nil {
		b.b3.Wipe()
		*b = smp4Bob3{}
	}
}

// smp4Alice4: the initiator sent message 3 ("SMP Message 3", last step:
// "Store the values of G3b, Pa - Pb, Qa - Qb and a3").
type smp4Alice4 struct {
	g3b, pab, qab otrcrypto.Point
	a3            otrcrypto.Scalar
}

func (a *smp4Alice4) Wipe() {
	if a != nil {
		a.a3.Wipe()
		*a = smp4Alice4{}
	}
}

// SMP4 is the OTRv4 SMP state of one session. The zero value is ready: no
// run in progress. Its methods are safe for concurrent use. The owner must
// call Wipe (or Abort) when the session leaves the encrypted state (OTRv4
// spec, "The SMP State Machine").
//
// Receive reports its results with the [Outcome] and [Result] types shared
// with [SMP3].
type SMP4 struct {
	mu      sync.Mutex
	state   smp4State
	pending *smp4Pending
	a2      *smp4Alice2
	b3      *smp4Bob3
	a4      *smp4Alice4
}

// reset wipes every state's data and returns to EXPECT1.
func (s *SMP4) reset() {
	s.pending.Wipe()
	s.a2.Wipe()
	s.b3.Wipe()
	s.a4.Wipe()
	s.state, s.pending, s.a2, s.b3, s.a4 = smp4Expect1, nil, nil, nil, nil
}

// Wipe clears all secrets and returns to the idle state.
func (s *SMP4) Wipe() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reset()
}

// InProgress reports whether a run is in progress (including a request
// waiting for Answer).
func (s *SMP4) InProgress() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state != smp4Expect1
}

// AwaitingSecret reports whether a verified message 1 from the contact
// waits for Answer.
func (s *SMP4) AwaitingSecret() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == smp4Expect1Pending
}

// Abort resets the state and returns the abort TLV to send, type 6 with an
// empty value (OTRv4 spec, "User requests to abort SMP": "In all cases").
func (s *SMP4) Abort() (tlvType uint16, payload []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reset()
	return TypeAbort, nil
}

// smp4DrawScalars reads n random scalars in Z_q from rand, each from 57
// bytes hashed and pruned (OTRv4 spec, "Considerations while working with
// elliptic curve parameters"; otr4j's generateRandomValueInZq).
func smp4DrawScalars(rand io.Reader, n int) ([]otrcrypto.Scalar, error) {
	if rand == nil {
		return nil, errSMP4NoRand
	}
	out := make([]otrcrypto.Scalar, n)
	for i := range out {
		var err error
		if out[i], err = otrcrypto.GenerateScalar(rand); err != nil {
			smp4WipeScalars(out)
			return nil, err
		}
	}
	return out, nil
}

func smp4WipeScalars(v []otrcrypto.Scalar) {
	for i := range v {
		v[i].Wipe()
	}
}

// Start begins a run as the initiator (OTRv4 spec, "User requests to begin
// SMP") and returns SMP message 1 to send (type 2). secret is x from
// SMP4Secret; Start copies it, the caller keeps ownership. question may be
// empty (the message then carries an empty DATA); it must be valid UTF-8 of
// at most 65189 bytes (ErrInvalidQuestion). Start reads 4*57 bytes from
// rand. It returns ErrInProgress unless the state is idle: call Abort first
// to restart.
func (s *SMP4) Start(rand io.Reader, secret *otrcrypto.Scalar, question string) (tlvType uint16, payload []byte, err error) {
	if secret == nil {
		return 0, nil, ErrSMP4InvalidSecret
	}
	if len(question) > maxQuestionLen4 || !utf8.ValidString(question) {
		return 0, nil, ErrInvalidQuestion
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != smp4Expect1 {
		return 0, nil, ErrInProgress
	}
	// "SMP Message 1", steps 2-3: a2, a3, r2, r3, drawn in this order.
	r, err := smp4DrawScalars(rand, 4)
	if err != nil {
		return 0, nil, err
	}
	defer smp4WipeScalars(r)
	st, m := smp4Make1(secret, &r[0], &r[1], &r[2], &r[3])
	m.question = []byte(question)
	s.state, s.a2 = smp4Expect2, st
	return TypeMsg1, m.marshal(), nil
}

// smp4Make1 is "SMP Message 1", steps 5-8, with the random values given.
func smp4Make1(x, a2, a3, r2, r3 *otrcrypto.Scalar) (*smp4Alice2, *smp4Msg1) {
	st := &smp4Alice2{}
	st.x.Set(x)
	st.a2.Set(a2)
	st.a3.Set(a3)
	m := &smp4Msg1{}
	m.g2a.ScalarBaseMult(a2)
	m.g3a.ScalarBaseMult(a3)
	m.c2, m.d2 = smp4ProveLog(smp4UsageC2Alice, r2, a2)
	m.c3, m.d3 = smp4ProveLog(smp4UsageC3Alice, r3, a3)
	return st, m
}

// Answer answers a pending request (after Receive returned NeedSecret) with
// y from SMP4Secret and returns SMP message 2 to send (type 3). Answer copies
// secret. It reads 7*57 bytes from rand. On error the request stays pending.
func (s *SMP4) Answer(rand io.Reader, secret *otrcrypto.Scalar) (tlvType uint16, payload []byte, err error) {
	if secret == nil {
		return 0, nil, ErrSMP4InvalidSecret
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != smp4Expect1Pending {
		return 0, nil, ErrNothingToAnswer
	}
	// "SMP Message 2", steps 3-4: b2, b3, r2, r3, r4, r5, r6.
	r, err := smp4DrawScalars(rand, 7)
	if err != nil {
		return 0, nil, err
	}
	defer smp4WipeScalars(r)
	st, m := smp4Make2(s.pending, secret, &r[0], &r[1], &r[2], &r[3], &r[4], &r[5], &r[6])
	s.pending.Wipe()
	s.pending = nil
	s.state, s.b3 = smp4Expect3, st
	return TypeMsg2, m.marshal(), nil
}

// smp4Make2 is "SMP Message 2", steps 6-13, with the random values given.
func smp4Make2(p *smp4Pending, y, b2, b3, r2, r3, r4, r5, r6 *otrcrypto.Scalar) (*smp4Bob3, *smp4Msg2) {
	st := &smp4Bob3{g3a: p.g3a}
	st.b3.Set(b3)
	m := &smp4Msg2{}
	m.g2b.ScalarBaseMult(b2)
	m.g3b.ScalarBaseMult(b3)
	m.c2, m.d2 = smp4ProveLog(smp4UsageC2Bob, r2, b2)
	m.c3, m.d3 = smp4ProveLog(smp4UsageC3Bob, r3, b3)
	st.g2.ScalarMult(b2, &p.g2a)
	st.g3.ScalarMult(b3, &p.g3a)
	st.pb, st.qb = smp4MakePQ(&st.g2, &st.g3, r4, y)
	m.pb, m.qb = st.pb, st.qb
	m.cp, m.d5, m.d6 = smp4ProvePQ(smp4UsageCPBob, &st.g2, &st.g3, r4, r5, r6, y)
	return st, m
}

// Receive processes a received SMP TLV (types 2 to 6). Every point and
// scalar is validated and every proof verified before the state changes.
// An invalid message (Cheated) or one the state does not expect
// (Unexpected: out of order, replayed, or both sides started at once) is
// not an error: it resets the state and the Outcome carries the abort TLV
// to send, as the spec's state machine asks. An abort TLV is never answered
// with another one. Receive returns an error, leaving the state unchanged,
// for a TLV type that is not an SMP type (ErrNotSMP; type 7 is the extra
// symmetric key in OTRv4) and when reading rand fails. It reads 4*57 bytes
// from rand for message 2 and 57 for message 3.
func (s *SMP4) Receive(rand io.Reader, tlvType uint16, payload []byte) (Outcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case smp4Expect1, smp4Expect1Pending:
		if tlvType == TypeMsg1 {
			return s.receiveMsg1(payload), nil
		}
	case smp4Expect2:
		if tlvType == TypeMsg2 {
			return s.receiveMsg2(rand, payload)
		}
	case smp4Expect3:
		if tlvType == TypeMsg3 {
			return s.receiveMsg3(rand, payload)
		}
	case smp4Expect4:
		if tlvType == TypeMsg4 {
			return s.receiveMsg4(payload), nil
		}
	}
	switch tlvType {
	case TypeAbort:
		// TLV type 6: "If you receive a TLV of this type, you should change
		// the SMP state to 'SMPSTATE_EXPECT1'"; never answer it with an
		// abort (docs/interop.md: two peers would loop forever).
		if s.state == smp4Expect1 {
			return Outcome{Result: Ignored}, nil
		}
		s.reset()
		return Outcome{Result: Aborted}, nil
	case TypeMsg1, TypeMsg2, TypeMsg3, TypeMsg4:
		// "If smpstate is not SMPSTATE_EXPECTn: Set smpstate to
		// SMPSTATE_EXPECT1 and send a SMP abort".
		return s.abort(Unexpected), nil
	}
	return Outcome{}, ErrNotSMP
}

func (s *SMP4) abort(r Result) Outcome {
	s.reset()
	return Outcome{Result: r, Reply: &TLV{Type: TypeAbort}}
}

// receiveMsg1: "Receiving a SMP Message 1", in EXPECT1. A new message 1
// while a request is pending replaces it.
func (s *SMP4) receiveMsg1(payload []byte) Outcome {
	var m smp4Msg1
	if !m.parse(payload) || !m.verify() { // steps 1-3
		return s.abort(Cheated)
	}
	s.reset()
	// The question is untrusted text (docs/threats.md S5): passed on as it came.
	q := string(m.question)
	s.state, s.pending = smp4Expect1Pending, &smp4Pending{g2a: m.g2a, g3a: m.g3a, question: q}
	return Outcome{Result: NeedSecret, Question: q}
}

// verify: "Receiving a SMP Message 1", steps 2-3 (step 1 is parse).
func (m *smp4Msg1) verify() bool {
	ok2 := smp4VerifyLog(smp4UsageC2Alice, &m.g2a, &m.c2, &m.d2)
	ok3 := smp4VerifyLog(smp4UsageC3Alice, &m.g3a, &m.c3, &m.d3)
	return ok2 && ok3
}

// receiveMsg2: "Receiving a SMP Message 2", in EXPECT2.
func (s *SMP4) receiveMsg2(rand io.Reader, payload []byte) (Outcome, error) {
	var m smp4Msg2
	if !m.parse(payload) { // step 1
		return s.abort(Cheated), nil
	}
	g2, g3, ok := s.a2.verify2(&m)
	defer g2.Wipe()
	defer g3.Wipe()
	if !ok {
		return s.abort(Cheated), nil
	}
	// "SMP Message 3", step 2: r4, r5, r6, r7.
	r, err := smp4DrawScalars(rand, 4)
	if err != nil {
		return Outcome{}, err
	}
	defer smp4WipeScalars(r)
	next, reply := smp4Make3(s.a2, &m, &g2, &g3, &r[0], &r[1], &r[2], &r[3])
	s.reset()
	s.state, s.a4 = smp4Expect4, next
	return Outcome{Result: InProgress, Reply: &TLV{Type: TypeMsg3, Value: reply.marshal()}}, nil
}

// smp4SecretPoint is a point derived from secrets (G2, G3, Rab), wiped
// when done.
type smp4SecretPoint struct{ otrcrypto.Point }

// Wipe overwrites the point with the identity.
func (p *smp4SecretPoint) Wipe() { p.Point = otrcrypto.Point{} }

// verify2: "Receiving a SMP Message 2", steps 2-4. It returns G2 and G3.
func (a *smp4Alice2) verify2(m *smp4Msg2) (g2, g3 smp4SecretPoint, ok bool) {
	ok2 := smp4VerifyLog(smp4UsageC2Bob, &m.g2b, &m.c2, &m.d2)
	ok3 := smp4VerifyLog(smp4UsageC3Bob, &m.g3b, &m.c3, &m.d3)
	// "SMP Message 3", step 4: "Compute G2 = G2b * a2 and G3 = G3b * a3".
	g2.ScalarMult(&a.a2, &m.g2b)
	g3.ScalarMult(&a.a3, &m.g3b)
	okP := smp4VerifyPQ(smp4UsageCPBob, &g2.Point, &g3.Point, &m.pb, &m.qb, &m.cp, &m.d5, &m.d6)
	return g2, g3, ok2 && ok3 && okP
}

// smp4Make3 is "SMP Message 3", steps 4-10, with the random values given.
func smp4Make3(a *smp4Alice2, m2 *smp4Msg2, g2, g3 *smp4SecretPoint, r4, r5, r6, r7 *otrcrypto.Scalar) (*smp4Alice4, *smp4Msg3) {
	m := &smp4Msg3{}
	m.pa, m.qa = smp4MakePQ(&g2.Point, &g3.Point, r4, &a.x)
	m.cp, m.d5, m.d6 = smp4ProvePQ(smp4UsageCPAlice, &g2.Point, &g3.Point, r4, r5, r6, &a.x)
	st := &smp4Alice4{g3b: m2.g3b}
	st.a3.Set(&a.a3)
	st.qab.Subtract(&m.qa, &m2.qb)
	st.pab.Subtract(&m.pa, &m2.pb)
	m.ra.ScalarMult(&a.a3, &st.qab)
	m.cr, m.d7 = smp4ProveR(smp4UsageCRAlice, &st.qab, r7, &a.a3)
	return st, m
}

// receiveMsg3: "Receiving a SMP Message 3", in EXPECT3.
func (s *SMP4) receiveMsg3(rand io.Reader, payload []byte) (Outcome, error) {
	var m smp4Msg3
	if !m.parse(payload) || !s.b3.verify3(&m) { // steps 1-3
		return s.abort(Cheated), nil
	}
	// "SMP Message 4", step 2: r7.
	r, err := smp4DrawScalars(rand, 1)
	if err != nil {
		return Outcome{}, err
	}
	defer smp4WipeScalars(r)
	reply, ok := smp4Make4(s.b3, &m, &r[0])
	s.reset()
	res := Failed
	if ok {
		res = Succeeded
	}
	return Outcome{Result: res, Reply: &TLV{Type: TypeMsg4, Value: reply.marshal()}}, nil
}

// verify3: "Receiving a SMP Message 3", steps 2-3.
func (b *smp4Bob3) verify3(m *smp4Msg3) bool {
	okP := smp4VerifyPQ(smp4UsageCPAlice, &b.g2, &b.g3, &m.pa, &m.qa, &m.cp, &m.d5, &m.d6)
	var qab otrcrypto.Point
	qab.Subtract(&m.qa, &b.qb)
	okR := smp4VerifyR(smp4UsageCRAlice, &b.g3a, &qab, &m.ra, &m.cr, &m.d7)
	return okP && okR
}

// smp4Make4 is "SMP Message 4", steps 4-5, and the check of "Receiving a
// SMP Message 3": Rab = Ra * b3, success when Pa - Pb == Rab.
func smp4Make4(b *smp4Bob3, m3 *smp4Msg3, r7 *otrcrypto.Scalar) (*smp4Msg4, bool) {
	var qab, pab otrcrypto.Point
	qab.Subtract(&m3.qa, &b.qb)
	m := &smp4Msg4{}
	m.rb.ScalarMult(&b.b3, &qab)
	m.cr, m.d7 = smp4ProveR(smp4UsageCRBob, &qab, r7, &b.b3)
	var rab smp4SecretPoint
	defer rab.Wipe()
	rab.ScalarMult(&b.b3, &m3.ra)
	pab.Subtract(&m3.pa, &b.pb)
	return m, rab.Equal(&pab)
}

// receiveMsg4: "Receiving a SMP Message 4", in EXPECT4.
func (s *SMP4) receiveMsg4(payload []byte) Outcome {
	var m smp4Msg4
	if !m.parse(payload) || !s.a4.verify4(&m) { // steps 1-2
		return s.abort(Cheated)
	}
	ok := s.a4.check(&m)
	s.reset()
	if ok {
		return Outcome{Result: Succeeded}
	}
	return Outcome{Result: Failed}
}

// verify4: "Receiving a SMP Message 4", step 2 (step 1 is parse).
func (a *smp4Alice4) verify4(m *smp4Msg4) bool {
	return smp4VerifyR(smp4UsageCRBob, &a.g3b, &a.qab, &m.rb, &m.cr, &m.d7)
}

// check: "Compute Rab = Rb * a3", "(Pa - Pb) == Rab".
func (a *smp4Alice4) check(m *smp4Msg4) bool {
	var rab smp4SecretPoint
	defer rab.Wipe()
	rab.ScalarMult(&a.a3, &m.rb)
	return rab.Equal(&a.pab)
}

// smp4HashPoints is HashToScalar(usage || P1 || P2 ...) over POINT encodings.
func smp4HashPoints(usage otrcrypto.KDFUsage, pts ...*otrcrypto.Point) otrcrypto.Scalar {
	enc := make([][]byte, len(pts))
	for i, p := range pts {
		b := p.Bytes()
		enc[i] = b[:]
	}
	return otrcrypto.HashToScalar(usage, enc...)
}

// smp4ProveLog proves knowledge of secret = log_G(G * secret):
// c = HashToScalar(usage || G * r), d = r - secret * c mod q.
func smp4ProveLog(usage otrcrypto.KDFUsage, r, secret *otrcrypto.Scalar) (c, d otrcrypto.Scalar) {
	var gr otrcrypto.Point
	gr.ScalarBaseMult(r)
	c = smp4HashPoints(usage, &gr)
	var t otrcrypto.Scalar
	t.Multiply(secret, &c)
	d.Subtract(r, &t)
	t.Wipe()
	return c, d
}

// smp4VerifyLog checks c == HashToScalar(usage || G * d + P * c). Every
// value is public, so the double multiplication may be variable time.
func smp4VerifyLog(usage otrcrypto.KDFUsage, p *otrcrypto.Point, c, d *otrcrypto.Scalar) bool {
	var t otrcrypto.Point
	t.VarTimeDoubleScalarBaseMult(c, p, d)
	h := smp4HashPoints(usage, &t)
	return h.Equal(c)
}

// smp4MakePQ computes P = G3 * r4 and Q = G * r4 + G2 * secret.
func smp4MakePQ(g2, g3 *otrcrypto.Point, r4, secret *otrcrypto.Scalar) (p, q otrcrypto.Point) {
	p.ScalarMult(r4, g3)
	var gr4, g2s otrcrypto.Point
	gr4.ScalarBaseMult(r4)
	g2s.ScalarMult(secret, g2)
	q.Add(&gr4, &g2s)
	return p, q
}

// smp4ProvePQ: cp = HashToScalar(usage || G3 * r5 || G * r5 + G2 * r6),
// d5 = r5 - r4 * cp mod q, d6 = r6 - secret * cp mod q.
func smp4ProvePQ(usage otrcrypto.KDFUsage, g2, g3 *otrcrypto.Point, r4, r5, r6, secret *otrcrypto.Scalar) (cp, d5, d6 otrcrypto.Scalar) {
	var t1, t2, gr5 otrcrypto.Point
	t1.ScalarMult(r5, g3)
	gr5.ScalarBaseMult(r5)
	t2.ScalarMult(r6, g2)
	t2.Add(&gr5, &t2)
	cp = smp4HashPoints(usage, &t1, &t2)
	var t otrcrypto.Scalar
	t.Multiply(r4, &cp)
	d5.Subtract(r5, &t)
	t.Multiply(secret, &cp)
	d6.Subtract(r6, &t)
	t.Wipe()
	return cp, d5, d6
}

// smp4VerifyPQ checks cp == HashToScalar(usage || G3 * d5 + P * cp ||
// G * d5 + G2 * d6 + Q * cp). G2 and G3 are known only to the two parties:
// their multiplications are constant time.
func smp4VerifyPQ(usage otrcrypto.KDFUsage, g2, g3, p, q *otrcrypto.Point, cp, d5, d6 *otrcrypto.Scalar) bool {
	var t1, pc, t2, g2d6 otrcrypto.Point
	t1.ScalarMult(d5, g3)
	pc.ScalarMult(cp, p)
	t1.Add(&t1, &pc)
	t2.VarTimeDoubleScalarBaseMult(cp, q, d5)
	g2d6.ScalarMult(d6, g2)
	t2.Add(&t2, &g2d6)
	h := smp4HashPoints(usage, &t1, &t2)
	return h.Equal(cp)
}

// smp4ProveR: cr = HashToScalar(usage || G * r7 || (Qa - Qb) * r7),
// d7 = r7 - a3 * cr mod q (a3, or b3 for Bob).
func smp4ProveR(usage otrcrypto.KDFUsage, qab *otrcrypto.Point, r7, a3 *otrcrypto.Scalar) (cr, d7 otrcrypto.Scalar) {
	var t1, t2 otrcrypto.Point
	t1.ScalarBaseMult(r7)
	t2.ScalarMult(r7, qab)
	cr = smp4HashPoints(usage, &t1, &t2)
	var t otrcrypto.Scalar
	t.Multiply(a3, &cr)
	d7.Subtract(r7, &t)
	t.Wipe()
	return cr, d7
}

// smp4VerifyR checks cr == HashToScalar(usage || G * d7 + G3x * cr ||
// (Qa - Qb) * d7 + R * cr). Every value is public.
func smp4VerifyR(usage otrcrypto.KDFUsage, g3x, qab, r *otrcrypto.Point, cr, d7 *otrcrypto.Scalar) bool {
	var t1, t2, rc otrcrypto.Point
	t1.VarTimeDoubleScalarBaseMult(cr, g3x, d7)
	t2.ScalarMult(d7, qab)
	rc.ScalarMult(cr, r)
	t2.Add(&t2, &rc)
	h := smp4HashPoints(usage, &t1, &t2)
	return h.Equal(cr)
}
