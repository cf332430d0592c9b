package otr_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"github.com/otrgo/otr"
	otrcrypto "github.com/otrgo/otr/crypto"
	"github.com/otrgo/otr/dake"
	otrencoding "github.com/otrgo/otr/encoding"
)

// OTRv4 at the session level: every way a DAKE can fail (docs/threats.md D1-D7),
// OTR3 key exchanges during an OTRv4 session, version negotiation, client
// profiles through the Host and OTRv4 error messages. Forged messages are
// made by tampering with real wire messages.

// headerLen is the length of the encoded message header: SHORT version,
// BYTE type, INT sender and receiver instance tags.
const headerLen = otrencoding.HeaderLen

// otrPayload decodes the encoded message text ("?OTR:base64.").
func otrPayload(t testing.TB, text string) []byte {
	t.Helper()
	s, ok := strings.CutPrefix(text, "?OTR:")
	s, ok2 := strings.CutSuffix(s, ".")
	if !ok || !ok2 {
		t.Fatalf("not an encoded message: %.50q", text)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("bad base64 in %.50q: %v", text, err)
	}
	return b
}

// tamper returns the encoded message text changed by f, which gets a copy of
// the payload.
func tamper(t testing.TB, text string, f func(p []byte) []byte) string {
	t.Helper()
	return otrencoding.EncodeMessage(f(bytes.Clone(otrPayload(t, text))))
}

func msgType(t testing.TB, text string) otrencoding.MsgType {
	t.Helper()
	return otrencoding.MsgType(otrPayload(t, text)[2])
}

// profileLen is the length of the client profile that starts b.
func profileLen(t testing.TB, b []byte) int {
	t.Helper()
	s := cryptobyte.String(b)
	if _, err := dake.ReadClientProfile(&s); err != nil {
		t.Fatalf("no client profile: %v", err)
	}
	return len(b) - len(s)
}

// mpiLen is the encoded length of the MPI that starts b.
func mpiLen(b []byte) int { return 4 + int(binary.BigEndian.Uint32(b)) }

// dakeOffsets locates the fields of an Identity or Auth-R payload.
type dakeOffsets struct {
	profile, profileEnd int // the client profile
	ephemeral           int // Y or X (POINT)
	dh                  int // B or A (MPI)
	sigma               int // Auth-R only: the ring signature
	firstECDH, firstDH  int
}

func offsets(t testing.TB, payload []byte) dakeOffsets {
	t.Helper()
	var o dakeOffsets
	o.profile = headerLen
	o.profileEnd = headerLen + profileLen(t, payload[headerLen:])
	o.ephemeral = o.profileEnd
	o.dh = o.ephemeral + otrcrypto.PointSize
	next := o.dh + mpiLen(payload[o.dh:])
	switch otrencoding.MsgType(payload[2]) {
	case otrencoding.MsgIdentity:
		o.sigma = -1
	case otrencoding.MsgAuthR:
		o.sigma = next
		next += otrcrypto.RingSignatureSize
	default:
		t.Fatalf("message type %#x has no profile", payload[2])
	}
	o.firstECDH = next
	o.firstDH = next + otrcrypto.PointSize
	if end := o.firstDH + mpiLen(payload[o.firstDH:]); end != len(payload) {
		t.Fatalf("fields end at %d, payload is %d bytes", end, len(payload))
	}
	return o
}

// replaceMPI returns payload with the MPI at off replaced by one holding v.
func replaceMPI(payload []byte, off int, v []byte) []byte {
	out := append([]byte(nil), payload[:off]...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(v)))
	out = append(out, v...)
	return append(out, payload[off+mpiLen(payload[off:]):]...)
}

// dakeWire is the wire of one interactive DAKE: alice sends the query and
// Auth-R, bob the Identity message and Auth-I.
type dakeWire struct {
	query, identity, authR, authI string
}

// only returns the single message a call sent.
func only(t testing.TB, who string, res otr.Result, err error) string {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", who, err)
	}
	if len(res.Send) != 1 {
		t.Fatalf("%s sent %d messages, want 1: %+v", who, len(res.Send), res.Send)
	}
	return res.Send[0].Text
}

// beginDAKE has alice send a query and bob answer it with an Identity
// message, which is returned undelivered.
func beginDAKE(t testing.TB, alice, bob *peer) dakeWire {
	t.Helper()
	var w dakeWire
	res, err := alice.sess.Start()
	w.query = only(t, "alice Start", res, err)
	res, err = bob.sess.Receive(w.query)
	w.identity = only(t, "bob receiving the query", res, err)
	if got := msgType(t, w.identity); got != otrencoding.MsgIdentity {
		t.Fatalf("bob answered the query with type %v, want Identity", got)
	}
	return w
}

// authR delivers the Identity message to alice and returns her Auth-R.
func (w *dakeWire) stepAuthR(t testing.TB, alice *peer) {
	t.Helper()
	res, err := alice.sess.Receive(w.identity)
	w.authR = only(t, "alice receiving Identity", res, err)
	if got := msgType(t, w.authR); got != otrencoding.MsgAuthR {
		t.Fatalf("alice answered Identity with type %v, want Auth-R", got)
	}
}

// stepAuthI delivers Auth-R to bob and returns his Auth-I; bob is then
// secure.
func (w *dakeWire) stepAuthI(t testing.TB, bob *peer) {
	t.Helper()
	res, err := bob.sess.Receive(w.authR)
	w.authI = only(t, "bob receiving Auth-R", res, err)
	if got := msgType(t, w.authI); got != otrencoding.MsgAuthI {
		t.Fatalf("bob answered Auth-R with type %v, want Auth-I", got)
	}
	wantSecure(t, bob, res)
}

// finish delivers Auth-I to alice, who is then secure.
func (w *dakeWire) finish(t testing.TB, alice *peer) {
	t.Helper()
	res, err := alice.sess.Receive(w.authI)
	if err != nil || len(res.Send) != 0 {
		t.Fatalf("alice receiving Auth-I: %v, sent %+v", err, res.Send)
	}
	wantSecure(t, alice, res)
}

func wantSecure(t testing.TB, p *peer, res otr.Result) {
	t.Helper()
	for _, ev := range res.Events {
		if s, ok := ev.(otr.SecureEvent); ok && s.Version == 4 {
			return
		}
	}
	t.Fatalf("%s: no OTRv4 SecureEvent in %v", p.name, res.Events)
}

// fullDAKE runs a whole DAKE started by alice and returns its wire and the
// new session's SSID.
func fullDAKE(t testing.TB, alice, bob *peer) (dakeWire, otr.SSID) {
	t.Helper()
	w := beginDAKE(t, alice, bob)
	w.stepAuthR(t, alice)
	w.stepAuthI(t, bob)
	w.finish(t, alice)
	a, _ := alice.sess.Instance(0)
	b, _ := bob.sess.Instance(0)
	if a.Status != otr.Encrypted || b.Status != otr.Encrypted || a.Version != 4 || b.Version != 4 || a.SSID != b.SSID {
		t.Fatalf("after the DAKE: alice %+v, bob %+v", a, b)
	}
	return w, a.SSID
}

// wantRejected delivers text to p and checks that it is rejected with want,
// that nothing is delivered and (unless replies is set) nothing is sent.
func wantRejected(t testing.TB, p *peer, text string, want error, replies bool) otr.Result {
	t.Helper()
	before := p.sess.Instances()
	res, err := p.sess.Receive(text)
	if !errors.Is(err, want) {
		t.Fatalf("%s: Receive error = %v, want %v", p.name, err, want)
	}
	var pe *otr.ProtocolError
	if !errors.As(err, &pe) {
		t.Fatalf("%s: error %v is not a ProtocolError", p.name, err)
	}
	for _, ev := range res.Events {
		switch ev.(type) {
		case otr.MessageEvent, otr.SecureEvent, otr.FinishedEvent, otr.EndedEvent, otr.FingerprintEvent:
			t.Fatalf("%s: rejected message produced %v", p.name, ev)
		}
	}
	if !replies && len(res.Send) != 0 {
		t.Fatalf("%s: rejected message answered with %+v", p.name, res.Send)
	}
	after := p.sess.Instances()
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("%s: instances changed from %v to %v", p.name, before, after)
	}
	return res
}

var intactCount int

// assertIntact checks that alice and bob still share the encrypted OTRv4
// session ssid and that a message goes each way on it.
func assertIntact(t testing.TB, alice, bob *peer, ssid otr.SSID) {
	t.Helper()
	for _, p := range []*peer{alice, bob} {
		in, ok := p.sess.Instance(0)
		if !ok || in.Status != otr.Encrypted || in.Version != 4 || in.SSID != ssid {
			t.Fatalf("%s: instance %+v, want encrypted v4 with SSID %v", p.name, in, ssid)
		}
	}
	for _, pair := range [][2]*peer{{alice, bob}, {bob, alice}} {
		intactCount++
		text := fmt.Sprintf("still private %d", intactCount)
		res, err := pair[0].sess.Send(0, text)
		msg := only(t, pair[0].name+" Send", res, err)
		r, err := pair[1].sess.Receive(msg)
		if err != nil {
			t.Fatalf("%s receiving a genuine message: %v", pair[1].name, err)
		}
		if got := messages(r); len(got) != 1 || got[0] != text {
			t.Fatalf("%s received %q, want %q", pair[1].name, got, text)
		}
	}
}

func messages(res otr.Result) []string {
	var out []string
	for _, ev := range res.Events {
		if m, ok := ev.(otr.MessageEvent); ok {
			out = append(out, m.Text)
		}
	}
	return out
}

// v4Peers returns alice and bob (OTR3 and OTRv4 allowed, 4 preferred) with
// their own clocks, in an encrypted OTRv4 session.
func v4Peers(t *testing.T, seed uint64) (alice, bob *peer, ca, cb *clock, w dakeWire, ssid otr.SSID) {
	t.Helper()
	ca = &clock{t: time.Unix(1_760_000_000, 0)}
	cb = &clock{t: ca.t}
	alice = newPeer(t, "alice", "bob", 0, seed, &otr.Options{Policy: otr.DefaultPolicy, Now: ca.now}, 0)
	bob = newPeer(t, "bob", "alice", 1, seed+1, &otr.Options{Policy: otr.DefaultPolicy, Now: cb.now}, 0)
	w, ssid = fullDAKE(t, alice, bob)
	return alice, bob, ca, cb, w, ssid
}

// TestDAKEBadClientProfile: an Identity or Auth-R message whose client
// profile does not validate (docs/threats.md D3) is rejected as malformed during
// an encrypted session, which goes on; the DAKE in progress is unchanged,
// so the genuine message still completes it.
func TestDAKEBadClientProfile(t *testing.T) {
	alice, bob, ca, cb, _, ssid := v4Peers(t, 201)
	w := beginDAKE(t, alice, bob)
	id := otrPayload(t, w.identity)
	o := offsets(t, id)
	bobTag := bob.acct.InstanceTag()

	// The same keys on another instance: a genuine profile with another
	// instance tag.
	bob2 := newPeer(t, "bob", "alice", 1, 299, &otr.Options{Policy: otr.DefaultPolicy, Now: cb.now}, 0)
	res, err := bob2.sess.Receive("?OTRv4?")
	id2 := otrPayload(t, only(t, "bob2", res, err))
	o2 := offsets(t, id2)

	cases := []struct {
		name string
		f    func(p []byte) []byte
	}{
		{"signature", func(p []byte) []byte { p[o.profileEnd-otrcrypto.EdDSASignatureSize] ^= 0x01; return p }},
		{"signature S", func(p []byte) []byte { p[o.profileEnd-20] ^= 0x80; return p }},
		{"signed instance tag altered", func(p []byte) []byte { p[o.profile+4+2+3] ^= 0x01; return p }},
		{"signed expiration altered", func(p []byte) []byte {
			// The expiration field ends the required fields: flip a byte
			// of the profile well inside them, before the optional DSA key.
			i := bytes.Index(p[o.profile:o.profileEnd], []byte{0x00, 0x05})
			if i < 0 {
				t.Fatal("no expiration field")
			}
			p[o.profile+i+2+7] ^= 0x01
			return p
		}},
		{"sender instance tag differs from the profile's", func(p []byte) []byte {
			binary.BigEndian.PutUint32(p[3:7], bobTag^0x00100000)
			return p
		}},
		{"profile of another instance of the same keys", func(p []byte) []byte {
			out := append([]byte(nil), p[:o.profile]...)
			out = append(out, id2[o2.profile:o2.profileEnd]...)
			return append(out, p[o.profileEnd:]...)
		}},
		{"truncated profile", func(p []byte) []byte { return p[:o.profile+40] }},
		{"field count too large", func(p []byte) []byte { p[o.profile+3] = 0x08; return p }},
	}
	for _, tc := range cases {
		t.Run("Identity/"+tc.name, func(t *testing.T) {
			forged := tamper(t, w.identity, tc.f)
			wantRejected(t, alice, forged, otr.ErrMalformed, false)
			assertIntact(t, alice, bob, ssid)
		})
	}

	// Expired at alice's clock: the profile of bob's Identity message
	// expires 14 days after it was made; at that second it is refused, a
	// second earlier it is accepted.
	prof, err := dake.ParseClientProfile(id[o.profile:o.profileEnd])
	if err != nil {
		t.Fatal(err)
	}
	t.Run("Identity/expired", func(t *testing.T) {
		ca.t = prof.Expiration()
		wantRejected(t, alice, w.identity, otr.ErrMalformed, false)
		assertIntact(t, alice, bob, ssid)
	})
	ca.t = prof.Expiration().Add(-time.Second)
	w.stepAuthR(t, alice) // the same Identity message, now in time

	// Auth-R: alice's profile (renewed by now: her clock is 14 days on) as
	// bob sees it.
	ar := otrPayload(t, w.authR)
	oa := offsets(t, ar)
	for _, tc := range []struct {
		name string
		f    func(p []byte) []byte
	}{
		{"signature", func(p []byte) []byte { p[oa.profileEnd-otrcrypto.EdDSASignatureSize+5] ^= 0x10; return p }},
		{"sender instance tag differs from the profile's", func(p []byte) []byte {
			binary.BigEndian.PutUint32(p[3:7], alice.acct.InstanceTag()^0x00100000)
			return p
		}},
	} {
		t.Run("Auth-R/"+tc.name, func(t *testing.T) {
			wantRejected(t, bob, tamper(t, w.authR, tc.f), otr.ErrMalformed, false)
			assertIntact(t, alice, bob, ssid)
		})
	}
	aprof, err := dake.ParseClientProfile(ar[oa.profile:oa.profileEnd])
	if err != nil {
		t.Fatal(err)
	}
	t.Run("Auth-R/expired", func(t *testing.T) {
		cb.t = aprof.Expiration()
		wantRejected(t, bob, w.authR, otr.ErrMalformed, false)
		assertIntact(t, alice, bob, ssid)
	})
	cb.t = aprof.Expiration().Add(-time.Second)
	// The genuine messages complete the DAKE that the forgeries left alone.
	w.stepAuthI(t, bob)
	w.finish(t, alice)
	a, _ := alice.sess.Instance(0)
	if a.SSID == ssid {
		t.Fatal("the new DAKE did not make a new session")
	}
	assertIntact(t, alice, bob, a.SSID)
}

// TestDAKEBadRingSignature: a ring signature that does not verify, in
// Auth-R or Auth-I (docs/threats.md D4), is an authentication failure; the
// encrypted session goes on and the genuine message completes the DAKE.
func TestDAKEBadRingSignature(t *testing.T) {
	alice, bob, _, _, _, ssid := v4Peers(t, 211)
	w := beginDAKE(t, alice, bob)
	// A message bob sends on the old session, delivered after the new
	// session exists at his side only.
	res, err := bob.sess.Send(0, "sent before the new DAKE")
	late := only(t, "bob Send", res, err)
	w.stepAuthR(t, alice)
	o := offsets(t, otrPayload(t, w.authR))
	parts := []string{"c1", "r1", "c2", "r2", "c3", "r3"}
	for i, part := range parts {
		t.Run("Auth-R/"+part, func(t *testing.T) {
			forged := tamper(t, w.authR, func(p []byte) []byte {
				p[o.sigma+i*otrcrypto.ScalarSize] ^= 0x02 // low byte: still a scalar below q
				return p
			})
			wantRejected(t, bob, forged, otr.ErrBadMAC, false)
			assertIntact(t, alice, bob, ssid)
		})
	}
	t.Run("Auth-R/sigma of another Auth-R", func(t *testing.T) {
		// The sigma of an Auth-R of another DAKE (another pair of
		// accounts): a genuine ring signature, over another transcript.
		// (A duplicate Identity message gets the same Auth-R again, so
		// alice cannot be asked for a second one here.)
		alice2, bob2, _, _, _, _ := v4Peers(t, 212)
		w2 := beginDAKE(t, alice2, bob2)
		w2.stepAuthR(t, alice2)
		other := otrPayload(t, w2.authR)
		oo := offsets(t, other)
		forged := tamper(t, w.authR, func(p []byte) []byte {
			copy(p[o.sigma:o.sigma+otrcrypto.RingSignatureSize], other[oo.sigma:])
			return p
		})
		wantRejected(t, bob, forged, otr.ErrBadMAC, false)
	})
	assertIntact(t, alice, bob, ssid)
	w.stepAuthI(t, bob)
	bobSSID, _ := bob.sess.SSID(0)
	for i, part := range parts {
		t.Run("Auth-I/"+part, func(t *testing.T) {
			forged := tamper(t, w.authI, func(p []byte) []byte {
				p[headerLen+i*otrcrypto.ScalarSize] ^= 0x02
				return p
			})
			wantRejected(t, alice, forged, otr.ErrBadMAC, false)
			if in, _ := alice.sess.Instance(0); in.Status != otr.Encrypted || in.SSID != ssid {
				t.Fatalf("alice after a forged Auth-I: %+v", in)
			}
		})
	}
	// Alice's old session is untouched: bob's late message still decrypts.
	r, err := alice.sess.Receive(late)
	if got := messages(r); err != nil || len(got) != 1 || got[0] != "sent before the new DAKE" {
		t.Fatalf("late message on the old session: %v %q", err, got)
	}
	w.finish(t, alice)
	assertIntact(t, alice, bob, bobSSID)
}

// Invalid Ed448 encodings (docs/threats.md D1).
var badPoints = []struct {
	name string
	enc  string
}{
	{"identity", "01" + strings.Repeat("00", 56)},
	{"order 2", "fe" + strings.Repeat("ff", 27) + "fe" + strings.Repeat("ff", 27) + "00"},
	{"order 4", strings.Repeat("00", 57)},
	{"order 4 negated", strings.Repeat("00", 56) + "80"},
	{"y above p", strings.Repeat("ff", 56) + "00"},
	{"sign bit on identity", "01" + strings.Repeat("00", 55) + "80"},
}

// ed448P is the field prime 2^448 - 2^224 - 1.
var ed448P = new(big.Int).Sub(new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 448), new(big.Int).Lsh(big.NewInt(1), 224)), big.NewInt(1))

// plusT2 returns the encoding of P + (0, -1), a point on the curve outside
// the prime-order subgroup: (x, y) becomes (-x, -y).
func plusT2(enc []byte) []byte {
	le := func(b []byte) *big.Int {
		r := make([]byte, len(b))
		for i := range b {
			r[len(b)-1-i] = b[i]
		}
		return new(big.Int).SetBytes(r)
	}
	y := le(enc[:56])
	y.Sub(ed448P, y)
	out := make([]byte, 57)
	y.FillBytes(out[1:])
	for i, j := 1, 56; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	copy(out, out[1:])
	out[56] = enc[56] ^ 0x80
	return out
}

// dh3072P is the RFC 3526 3072-bit MODP prime.
var dh3072P, _ = new(big.Int).SetString("FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"+
	"29024E088A67CC74020BBEA63B139B22514A08798E3404DD"+
	"EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245"+
	"E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"+
	"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D"+
	"C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"+
	"83655D23DCA3AD961C62F356208552BB9ED529077096966D"+
	"670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"+
	"E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9"+
	"DE2BCBF6955817183995497CEA956AE515D2261898FA0510"+
	"15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64"+
	"ECFB850458DBEF0A8AAEA71575D060C7DB3970F85A6E1E4C"+
	"7ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6"+
	"BF12FFFA06D98A0864D87602733EC86A64521F2B18177B20"+
	"0CBBE117577A615D6C770988C0BAD946E208E24FA074E5AB"+
	"3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF", 16)

// Invalid DH-3072 public values (docs/threats.md D2).
func badDH() []struct {
	name string
	v    []byte
} {
	pm := func(d int64) []byte { return new(big.Int).Sub(dh3072P, big.NewInt(d)).Bytes() }
	return []struct {
		name string
		v    []byte
	}{
		{"zero", nil},
		{"one", []byte{1}},
		{"p-1", pm(1)},
		{"p-2 (order 2q)", pm(2)},
		{"p", dh3072P.Bytes()},
		{"p+1", new(big.Int).Add(dh3072P, big.NewInt(1)).Bytes()},
		{"non-minimal 2", []byte{0, 2}},
	}
}

// TestDAKEBadPointsAndGroupElements: an invalid point or DH value in an
// Identity or Auth-R message is malformed; the session and the pending DAKE
// are unchanged.
func TestDAKEBadPointsAndGroupElements(t *testing.T) {
	alice, bob, _, _, _, ssid := v4Peers(t, 221)
	w := beginDAKE(t, alice, bob)
	oi := offsets(t, otrPayload(t, w.identity))
	// Alice answers the genuine Identity message once, to have an Auth-R;
	// her state is then WAITING_AUTH_I, which the forgeries must not
	// disturb either.
	w.stepAuthR(t, alice)
	oa := offsets(t, otrPayload(t, w.authR))
	type field struct {
		name string
		off  int
	}
	for _, msg := range []struct {
		name   string
		text   string
		to     *peer
		points []field
		dhs    []field
	}{
		{"Identity", w.identity, alice, []field{{"Y", oi.ephemeral}, {"first ECDH", oi.firstECDH}}, []field{{"B", oi.dh}, {"first DH", oi.firstDH}}},
		{"Auth-R", w.authR, bob, []field{{"X", oa.ephemeral}, {"first ECDH", oa.firstECDH}}, []field{{"A", oa.dh}, {"first DH", oa.firstDH}}},
	} {
		for _, f := range msg.points {
			cases := append([]struct{ name, enc string }{}, badPoints...)
			genuine := otrPayload(t, msg.text)[f.off : f.off+otrcrypto.PointSize]
			cases = append(cases, struct{ name, enc string }{"genuine point plus order-2 point", hex.EncodeToString(plusT2(genuine))})
			for _, bp := range cases {
				t.Run(msg.name+"/"+f.name+"/"+bp.name, func(t *testing.T) {
					enc, _ := hex.DecodeString(bp.enc)
					forged := tamper(t, msg.text, func(p []byte) []byte { copy(p[f.off:], enc); return p })
					wantRejected(t, msg.to, forged, otr.ErrMalformed, false)
				})
			}
		}
		for _, f := range msg.dhs {
			for _, bd := range badDH() {
				t.Run(msg.name+"/"+f.name+"/"+bd.name, func(t *testing.T) {
					forged := tamper(t, msg.text, func(p []byte) []byte { return replaceMPI(p, f.off, bd.v) })
					wantRejected(t, msg.to, forged, otr.ErrMalformed, false)
				})
			}
		}
	}
	assertIntact(t, alice, bob, ssid)
	// The genuine messages still complete the DAKE.
	w.stepAuthI(t, bob)
	w.finish(t, alice)
	a, _ := alice.sess.Instance(0)
	assertIntact(t, alice, bob, a.SSID)
}

// TestDAKEReplays: DAKE messages replayed into an encrypted session
// (docs/threats.md D5, D7). A replayed Identity message of a finished DAKE is
// ignored: a genuine peer never reuses its ephemeral keys, and answering
// would cost us a new key exchange per copy (budget.go). Replayed Auth-R
// and Auth-I messages are unexpected.
func TestDAKEReplays(t *testing.T) {
	alice, bob, _, _, old, ssid := v4Peers(t, 231)
	assertIntact(t, alice, bob, ssid)

	t.Run("Auth-I", func(t *testing.T) {
		wantRejected(t, alice, old.authI, otr.ErrUnexpectedMessage, false)
		assertIntact(t, alice, bob, ssid)
	})
	t.Run("Auth-R", func(t *testing.T) {
		wantRejected(t, bob, old.authR, otr.ErrUnexpectedMessage, false)
		assertIntact(t, alice, bob, ssid)
	})
	t.Run("Identity reflected to its sender", func(t *testing.T) {
		wantRejected(t, bob, old.identity, otr.ErrUnexpectedMessage, false)
		assertIntact(t, alice, bob, ssid)
	})
	t.Run("Identity", func(t *testing.T) {
		for range 2 {
			res, err := alice.sess.Receive(old.identity)
			if err != nil || len(res.Send) != 0 || len(res.Events) != 0 {
				t.Fatalf("replayed Identity: %v, sent %d, events %v; want it ignored", err, len(res.Send), res.Events)
			}
			assertIntact(t, alice, bob, ssid)
		}
		// Nothing was started: the old Auth-I is unexpected.
		wantRejected(t, alice, old.authI, otr.ErrUnexpectedMessage, false)
		assertIntact(t, alice, bob, ssid)
	})
	// A genuine new DAKE still works after all that.
	_, ssid2 := fullDAKE(t, alice, bob)
	if ssid2 == ssid {
		t.Fatal("same SSID after a new DAKE")
	}
	assertIntact(t, alice, bob, ssid2)
	t.Run("messages of the previous DAKE", func(t *testing.T) {
		wantRejected(t, alice, old.authI, otr.ErrUnexpectedMessage, false)
		wantRejected(t, bob, old.authR, otr.ErrUnexpectedMessage, false)
		assertIntact(t, alice, bob, ssid2)
	})
}

// TestDAKEAbandonedDuringSession: a DAKE that never completes (its Auth-R
// or Auth-I lost) leaves the encrypted session as it was, on both sides.
func TestDAKEAbandonedDuringSession(t *testing.T) {
	alice, bob, _, _, _, ssid := v4Peers(t, 241)
	w := beginDAKE(t, alice, bob)
	assertIntact(t, alice, bob, ssid) // Identity lost
	w.stepAuthR(t, alice)
	assertIntact(t, alice, bob, ssid) // Auth-R lost
	// A second DAKE, complete this time.
	_, ssid2 := fullDAKE(t, alice, bob)
	assertIntact(t, alice, bob, ssid2)
	// The messages of the abandoned one are now refused.
	wantRejected(t, bob, w.authR, otr.ErrUnexpectedMessage, false)
	assertIntact(t, alice, bob, ssid2)
}

// otr3Twins returns genuine OTR3 messages from bob's instance tag to
// alice's, by type: OTR3-only twins of alice and bob (same keys, same Host,
// so same instance tags) run two AKEs, one started by each, and bob's twin
// sends a data message.
func otr3Twins(t *testing.T, alice, bob *peer, seed uint64) map[otrencoding.MsgType]string {
	t.Helper()
	twin := func(p *peer, name, contact string, key int, seed uint64) *peer {
		a, err := otr.NewAccount(name, keys(t, key), p.host, &otr.Options{Policy: otr.AllowV3, Rand: seeded(seed)})
		if err != nil {
			t.Fatal(err)
		}
		return &peer{host: p.host, name: name + "3", acct: a, sess: a.Session(contact)}
	}
	alice3 := twin(alice, "alice", "bob", 0, seed)
	bob3 := twin(bob, "bob", "alice", 1, seed+1)
	if alice3.acct.InstanceTag() != alice.acct.InstanceTag() || bob3.acct.InstanceTag() != bob.acct.InstanceTag() {
		t.Fatal("twins have other instance tags")
	}
	fromBob := map[otrencoding.MsgType]string{}
	for _, first := range []*peer{alice3, bob3} {
		res, err := first.sess.Start()
		if err != nil {
			t.Fatal(err)
		}
		msgs := res.Send
		for from := first; len(msgs) > 0; {
			to := bob3
			if from == bob3 {
				to = alice3
			}
			var next []otr.Message
			for _, m := range msgs {
				if from == bob3 && strings.HasPrefix(m.Text, "?OTR:") {
					fromBob[msgType(t, m.Text)] = m.Text
				}
				r, err := to.sess.Receive(m.Text)
				if err != nil {
					t.Fatalf("OTR3 AKE between the twins: %v", err)
				}
				next = append(next, r.Send...)
			}
			from, msgs = to, next
		}
		if alice3.sess.Status(0) != otr.Encrypted || bob3.sess.Status(0) != otr.Encrypted {
			t.Fatal("the twins' OTR3 AKE failed")
		}
	}
	res, err := bob3.sess.Send(0, "OTR3 data")
	fromBob[otrencoding.MsgData] = only(t, "bob3 Send", res, err)
	return fromBob
}

var otr3AKETypes = []otrencoding.MsgType{otrencoding.MsgDHCommit, otrencoding.MsgDHKey, otrencoding.MsgRevealSig, otrencoding.MsgSig}

// TestOTR3AKEDuringV4Session: OTR3 key-exchange messages from the contact's
// instance while it has an OTRv4 session with us are refused: no crash, no
// downgrade (docs/interop.md, "Pitfalls seen in otrr"; docs/threats.md ST4).
func TestOTR3AKEDuringV4Session(t *testing.T) {
	alice, bob, _, _, _, ssid := v4Peers(t, 251)
	fromBob := otr3Twins(t, alice, bob, 252)
	for _, typ := range otr3AKETypes {
		t.Run(typ.String(), func(t *testing.T) {
			text, ok := fromBob[typ]
			if !ok {
				t.Fatalf("bob3 sent no %v", typ)
			}
			wantRejected(t, alice, text, otr.ErrUnexpectedMessage, false)
			assertIntact(t, alice, bob, ssid)
		})
	}
	t.Run("data", func(t *testing.T) {
		wantRejected(t, alice, fromBob[otrencoding.MsgData], otr.ErrNotEncrypted, true)
		assertIntact(t, alice, bob, ssid)
	})
	// A man in the middle offers only OTR3 to either side: whatever they
	// answer, the OTRv4 session stays.
	for _, tc := range []struct{ name, text string }{
		{"v3 query", "?OTRv3?"},
		{"v2 and v3 query", "?OTRv23?"},
		{"v3 whitespace tag", "hi" + otrencoding.WhitespaceTag(otrencoding.V3)},
	} {
		for _, p := range [][2]*peer{{alice, bob}, {bob, alice}} {
			t.Run(tc.name+" to "+p[0].name, func(t *testing.T) {
				p[0].errs, p[1].errs = nil, nil
				res, err := p[0].sess.Receive(tc.text)
				if err != nil {
					t.Fatal(err)
				}
				pump(t, p[0], p[1], res.Send)
				assertIntact(t, alice, bob, ssid)
			})
		}
	}
}

// TestOTR3AKEAfterV4Session: OTR3 key-exchange messages reaching an
// instance whose OTRv4 session ended (ours by End, or the contact's, so
// Finished) do not crash; a new OTRv4 DAKE then still works.
func TestOTR3AKEAfterV4Session(t *testing.T) {
	for _, how := range []string{"ended", "finished"} {
		for _, typ := range otr3AKETypes {
			t.Run(how+"/"+typ.String(), func(t *testing.T) {
				alice, bob, _, _, _, _ := v4Peers(t, 261)
				fromBob := otr3Twins(t, alice, bob, 262)
				if how == "ended" {
					if _, err := alice.sess.End(0); err != nil {
						t.Fatal(err)
					}
				} else {
					res, err := bob.sess.End(0)
					pump(t, bob, alice, res.Send)
					if err != nil || alice.sess.Status(0) != otr.Finished {
						t.Fatalf("alice not finished: %v %v", err, alice.sess.Status(0))
					}
				}
				res, err := alice.sess.Receive(fromBob[typ])
				if len(messages(res)) != 0 {
					t.Fatalf("OTR3 %v delivered %v", typ, res.Events)
				}
				t.Logf("alice: err %v, %d replies", err, len(res.Send))
				_, ssid := fullDAKE(t, alice, bob)
				assertIntact(t, alice, bob, ssid)
			})
		}
	}
}

// v4OnlyKeys returns keys i without their DSA key (keysWithoutDSA, in
// keyfile_test.go, empties the key file's DSA field).
func v4OnlyKeys(t *testing.T, i int) *otr.PrivateKeys {
	t.Helper()
	k := keysWithoutDSA(t, keys(t, i))
	if k.Fingerprint() != nil || !k.HasV4() {
		t.Fatal("v4-only keys have a DSA key")
	}
	return k
}

// dsaOnlyKeys returns keys i without their OTRv4 keys, as imported from
// libotr.
func dsaOnlyKeys(t *testing.T, i int) *otr.PrivateKeys {
	t.Helper()
	k, err := otr.NewDSAKeys(keys(t, i).DSAValues())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestVersionNegotiation: the highest version both allow (4 preferred),
// started by a query or a whitespace tag from either side; none at all
// when they share no version, without errors.
func TestVersionNegotiation(t *testing.T) {
	const (
		v3   = otr.AllowV3
		v4   = otr.AllowV4
		v34  = otr.AllowV3 | otr.AllowV4
		ws   = otr.SendWhitespaceTag | otr.WhitespaceStartAKE
		full = 0 // keys with both
		dsa  = 1 // DSA key only
		ed   = 2 // OTRv4 keys only
	)
	cases := []struct {
		name   string
		pa, pb otr.Policy
		ka, kb int
		want   int
	}{
		{"v3+v4 vs v3+v4", v34, v34, full, full, 4},
		{"v3 vs v3+v4", v3, v34, full, full, 3},
		{"v3+v4 vs v3", v34, v3, full, full, 3},
		{"v4 vs v3+v4", v4, v34, full, full, 4},
		{"v3+v4 vs v4", v34, v4, full, full, 4},
		{"v4 vs v4", v4, v4, full, full, 4},
		{"v4 vs v3", v4, v3, full, full, 0},
		{"v3 vs v4", v3, v4, full, full, 0},
		{"DSA-only keys vs v3+v4", v34, v34, dsa, full, 3},
		{"v3+v4 vs DSA-only keys", v34, v34, full, dsa, 3},
		{"OTRv4-only keys vs v3+v4", v34, v34, ed, full, 4},
		{"OTRv4-only keys vs DSA-only keys", v34, v34, ed, dsa, 0},
		{"DSA-only keys vs OTRv4-only keys", v34, v34, dsa, ed, 0},
	}
	mk := func(t *testing.T, name, contact string, kind, idx int, p otr.Policy, seed uint64) *peer {
		var k *otr.PrivateKeys
		switch kind {
		case full:
			k = keys(t, idx)
		case dsa:
			k = dsaOnlyKeys(t, idx)
		case ed:
			k = v4OnlyKeys(t, idx)
		}
		host := &otr.MemoryHost{}
		a, err := otr.NewAccount(name, k, host, &otr.Options{Policy: p | ws, Rand: seeded(seed)})
		if err != nil {
			t.Fatal(err)
		}
		return &peer{host: host, name: name, acct: a, sess: a.Session(contact)}
	}
	for i, tc := range cases {
		for _, how := range []string{"query", "whitespace tag"} {
			t.Run(tc.name+"/"+how, func(t *testing.T) {
				alice := mk(t, "alice", "bob", tc.ka, 0, tc.pa, uint64(300+2*i))
				bob := mk(t, "bob", "alice", tc.kb, 1, tc.pb, uint64(301+2*i))
				var res otr.Result
				var err error
				if how == "query" {
					res, err = alice.sess.Start()
				} else {
					res, err = alice.sess.Send(0, "hello")
				}
				if err != nil {
					t.Fatal(err)
				}
				pump(t, alice, bob, res.Send)
				if len(alice.errs)+len(bob.errs) > 0 {
					t.Fatalf("errors: alice %v, bob %v", alice.errs, bob.errs)
				}
				for _, p := range []*peer{alice, bob} {
					in, _ := p.sess.Instance(0)
					if in.Version != tc.want {
						t.Fatalf("%s: version %d, want %d", p.name, in.Version, tc.want)
					}
					if want := tc.want != 0; (in.Status == otr.Encrypted) != want {
						t.Fatalf("%s: status %v", p.name, in.Status)
					}
				}
				if tc.want != 0 {
					send(t, alice, bob, "negotiated")
					if bob.lastMessage(t).Text != "negotiated" {
						t.Fatal("no conversation after negotiation")
					}
				}
			})
		}
	}
}

// identityProfile makes acct answer an OTRv4 query and returns the client
// profile its Identity message carries.
func identityProfile(t *testing.T, acct *otr.Account) []byte {
	t.Helper()
	res, err := acct.Session("profile-check").Receive("?OTRv4?")
	p := otrPayload(t, only(t, "Identity", res, err))
	o := offsets(t, p)
	return p[o.profile:o.profileEnd]
}

// TestClientProfilePersistence: the client profile is made once, stored
// through the Host, reloaded by the next NewAccount with the same keys,
// replaced when it no longer fits the keys or the policy, and renewed
// before it expires.
func TestClientProfilePersistence(t *testing.T) {
	clk := &clock{t: time.Unix(1_770_000_000, 0)}
	host := &otr.MemoryHost{}
	opts := &otr.Options{Now: clk.now, Rand: seeded(401)}
	a1, err := otr.NewAccount("alice", keys(t, 0), host, opts)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := host.ClientProfile()
	if len(stored) == 0 {
		t.Fatal("no client profile stored after NewAccount")
	}
	checkProfile := func(b []byte, acct *otr.Account, versions string) *dake.ClientProfile {
		t.Helper()
		p, err := dake.ParseClientProfile(b)
		if err != nil {
			t.Fatalf("stored profile: %v", err)
		}
		if err := p.Validate(acct.InstanceTag(), clk.now()); err != nil {
			t.Fatalf("stored profile invalid: %v", err)
		}
		fp := p.Fingerprint()
		if !bytes.Equal(fp[:], acct.Fingerprint4()) || p.Versions() != versions {
			t.Fatalf("profile of %x, versions %q; want %x, %q", fp, p.Versions(), []byte(acct.Fingerprint4()), versions)
		}
		return p
	}
	p1 := checkProfile(stored, a1, "34")
	if got, want := p1.Expiration(), clk.now().Add(14*24*time.Hour); !got.Equal(want) {
		t.Fatalf("expires %v, want %v", got, want)
	}
	if got := identityProfile(t, a1); !bytes.Equal(got, stored) {
		t.Fatal("the Identity message carries another profile than the stored one")
	}

	// Reloaded: same Host and keys, later.
	clk.advance(time.Hour)
	a2, err := otr.NewAccount("alice", keys(t, 0), host, &otr.Options{Now: clk.now, Rand: seeded(402)})
	if err != nil {
		t.Fatal(err)
	}
	if a2.InstanceTag() != a1.InstanceTag() {
		t.Fatal("instance tag not reloaded")
	}
	if again, _ := host.ClientProfile(); !bytes.Equal(again, stored) {
		t.Fatal("second NewAccount replaced a usable profile")
	}
	if got := identityProfile(t, a2); !bytes.Equal(got, stored) {
		t.Fatal("reloaded account sends another profile")
	}

	// Not renewed while more than three days remain.
	clk.advance(10*24*time.Hour - time.Hour)
	if _, err := a2.Session("bob").Start(); err != nil {
		t.Fatal(err)
	}
	if again, _ := host.ClientProfile(); !bytes.Equal(again, stored) {
		t.Fatal("profile renewed 4 days before it expires")
	}
	// Renewed 13 days on: within three days of expiry.
	clk.advance(3 * 24 * time.Hour)
	if _, err := a2.Session("bob").Start(); err != nil {
		t.Fatal(err)
	}
	renewed, _ := host.ClientProfile()
	if bytes.Equal(renewed, stored) {
		t.Fatal("profile not renewed 13 days on")
	}
	p2 := checkProfile(renewed, a2, "34")
	if got, want := p2.Expiration(), clk.now().Add(14*24*time.Hour); !got.Equal(want) {
		t.Fatalf("renewed profile expires %v, want %v", got, want)
	}
	if got := identityProfile(t, a2); !bytes.Equal(got, renewed) {
		t.Fatal("the Identity message carries the old profile after renewal")
	}
	// A peer at the same time accepts it: a whole DAKE.
	alice := &peer{host: host, name: "alice", acct: a2, sess: a2.Session("bob")}
	bob := newPeer(t, "bob", "alice", 1, 403, &otr.Options{Policy: otr.DefaultPolicy, Now: clk.now}, 0)
	_, ssid := fullDAKE(t, bob, alice)
	assertIntact(t, bob, alice, ssid)

	// Other keys with the same Host: the stored profile is not theirs.
	a3, err := otr.NewAccount("alice", keys(t, 2), host, &otr.Options{Now: clk.now, Rand: seeded(404)})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := host.ClientProfile()
	if bytes.Equal(other, renewed) {
		t.Fatal("profile of other keys reused")
	}
	checkProfile(other, a3, "34")
	// An OTRv4-only policy: the profile must not advertise version 3.
	a4, err := otr.NewAccount("alice", keys(t, 2), host, &otr.Options{Now: clk.now, Rand: seeded(405), Policy: otr.AllowV4})
	if err != nil {
		t.Fatal(err)
	}
	v4only, _ := host.ClientProfile()
	checkProfile(v4only, a4, "4")
}

// TestV4ErrorMessages: an unreadable OTRv4 data message is answered with
// "?OTR Error: ERROR_1: ..." (unless flagged ignorable), a data message
// outside an encrypted session with ERROR_2, and a received error message
// is reported with its code (OTRv4 spec, "OTR Error Messages").
func TestV4ErrorMessages(t *testing.T) {
	alice, bob, _, cb, _, ssid := v4Peers(t, 261)
	res, err := alice.sess.Send(0, "readable")
	good := only(t, "alice Send", res, err)
	forged := tamper(t, good, func(p []byte) []byte { p[len(p)-4-otrencoding.AuthenticatorLen] ^= 0x01; return p })
	r := wantRejected(t, bob, forged, otr.ErrBadMAC, true)
	errMsg := only(t, "bob rejecting a forged data message", r, nil)
	if !strings.HasPrefix(errMsg, "?OTR Error: ERROR_1: ") {
		t.Fatalf("error message %q, want ?OTR Error: ERROR_1: ...", errMsg)
	}
	r, err = alice.sess.Receive(errMsg)
	if err != nil {
		t.Fatal(err)
	}
	var ee otr.ErrorEvent
	for _, ev := range r.Events {
		if e, ok := ev.(otr.ErrorEvent); ok {
			ee = e
		}
	}
	if ee.Code != "ERROR_1" || ee.Text == "" || strings.HasPrefix(ee.Text, "ERROR_1") {
		t.Fatalf("alice's error event %+v, want code ERROR_1 and the text", ee)
	}
	if in, _ := alice.sess.Instance(0); in.Status != otr.Encrypted || in.SSID != ssid {
		t.Fatalf("alice after an error message: %+v", in)
	}
	// The genuine message still decrypts.
	r, err = bob.sess.Receive(good)
	if got := messages(r); err != nil || len(got) != 1 || got[0] != "readable" {
		t.Fatalf("genuine message after the forgery: %v %q", err, got)
	}

	// Ignorable (the extra-symmetric-key message is flagged): no answer.
	_, res, err = alice.sess.ExtraSymmetricKey(0, 1, nil)
	ign := only(t, "alice ExtraSymmetricKey", res, err)
	forged = tamper(t, ign, func(p []byte) []byte { p[len(p)-4-otrencoding.AuthenticatorLen] ^= 0x01; return p })
	wantRejected(t, bob, forged, otr.ErrBadMAC, false)

	// ERROR_2: a data message for a session bob has ended.
	res, err = alice.sess.Send(0, "too late")
	late := only(t, "alice Send", res, err)
	if _, err := bob.sess.End(0); err != nil {
		t.Fatal(err)
	}
	cb.advance(time.Minute) // past Options.ErrorReplyInterval since ERROR_1
	r = wantRejected(t, bob, late, otr.ErrNotEncrypted, true)
	errMsg = only(t, "bob rejecting a message after End", r, nil)
	if !strings.HasPrefix(errMsg, "?OTR Error: ERROR_2: ") {
		t.Fatalf("error message %q, want ?OTR Error: ERROR_2: ...", errMsg)
	}
	for _, tc := range []struct{ in, code, text string }{
		{errMsg, "ERROR_2", ""},
		{"?OTR Error: ERROR_1: Unreadable message", "ERROR_1", "Unreadable message"},
		{"?OTR Error: something broke", "", "something broke"},
	} {
		r, err := alice.sess.Receive(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		var ee otr.ErrorEvent
		for _, ev := range r.Events {
			if e, ok := ev.(otr.ErrorEvent); ok {
				ee = e
			}
		}
		if ee.Code != tc.code || tc.text != "" && ee.Text != tc.text {
			t.Errorf("Receive(%q): event %+v, want code %q text %q", tc.in, ee, tc.code, tc.text)
		}
	}
}

func hasEvent[T otr.Event](evs []otr.Event) bool {
	for _, ev := range evs {
		if _, ok := ev.(T); ok {
			return true
		}
	}
	return false
}

// TestEndAbandonsPendingKeyExchange: Session.End ends the conversation:
// a key exchange still in progress must not bring it back when its last
// message arrives afterwards (libotr clears the AKE state when it forces
// plaintext), and its secrets are wiped with the session keys.
func TestEndAbandonsPendingKeyExchange(t *testing.T) {
	type step struct {
		ender *peer
		last  string
	}
	cases := []struct {
		name string
		run  func(t *testing.T) step
	}{
		{"v4/Auth-I after End", func(t *testing.T) step {
			alice, bob, _, _, _, _ := v4Peers(t, 271)
			w := beginDAKE(t, alice, bob)
			w.stepAuthR(t, alice)
			endNow(t, alice)
			w.stepAuthI(t, bob)
			return step{alice, w.authI}
		}},
		{"v4/Auth-R after End", func(t *testing.T) step {
			alice, bob, _, _, _, _ := v4Peers(t, 281)
			w := beginDAKE(t, alice, bob)
			w.stepAuthR(t, alice)
			endNow(t, bob)
			return step{bob, w.authR}
		}},
		{"v3/Reveal-Signature after End", func(t *testing.T) step {
			alice, bob, wire := v3PendingAKE(t, 291)
			// alice sent D-H Key and waits for Reveal Signature.
			endNow(t, alice)
			res, err := bob.sess.Receive(wire[otrencoding.MsgDHKey])
			return step{alice, only(t, "bob receiving D-H Key", res, err)}
		}},
		{"v3/Signature after End", func(t *testing.T) step {
			alice, bob, wire := v3PendingAKE(t, 293)
			res, err := bob.sess.Receive(wire[otrencoding.MsgDHKey])
			revealSig := only(t, "bob receiving D-H Key", res, err)
			endNow(t, bob) // bob sent Reveal Signature and waits for Signature
			res, err = alice.sess.Receive(revealSig)
			return step{bob, only(t, "alice receiving Reveal Signature", res, err)}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.run(t)
			res, err := st.ender.sess.Receive(st.last)
			if st.ender.sess.Status(0) == otr.Encrypted || hasEvent[otr.SecureEvent](res.Events) {
				t.Skipf("BUG: %s ended the session, then the key exchange it had in progress completed "+
					"(err %v, events %v): End should abandon (and wipe) pending AKE/DAKE state", st.ender.name, err, res.Events)
			}
			if len(res.Send) != 0 {
				t.Fatalf("%s answered the abandoned exchange: %+v", st.ender.name, res.Send)
			}
		})
	}
}

// endNow ends p's session (the disconnect message is not delivered).
func endNow(t *testing.T, p *peer) {
	t.Helper()
	if _, err := p.sess.End(0); err != nil {
		t.Fatal(err)
	}
	if p.sess.Status(0) != otr.Plaintext {
		t.Fatalf("%s: %v after End", p.name, p.sess.Status(0))
	}
}

// v3PendingAKE returns OTR3 peers in an encrypted session and a new AKE
// started by alice: bob's D-H Commit was answered by alice's D-H Key, which
// is returned undelivered.
func v3PendingAKE(t *testing.T, seed uint64) (alice, bob *peer, wire map[otrencoding.MsgType]string) {
	t.Helper()
	opts := &otr.Options{Policy: otr.DefaultPolicy &^ otr.AllowV4}
	alice = newPeer(t, "alice", "bob", 0, seed, opts, 0)
	bob = newPeer(t, "bob", "alice", 1, seed+1, opts, 0)
	res, err := alice.sess.Start()
	pump(t, alice, bob, res.Send)
	if err != nil || alice.sess.Status(0) != otr.Encrypted || bob.sess.Status(0) != otr.Encrypted {
		t.Fatalf("OTR3 AKE: %v, %v %v", err, alice.sess.Status(0), bob.sess.Status(0))
	}
	wire = map[otrencoding.MsgType]string{}
	res, err = alice.sess.Start()
	q := only(t, "alice Start", res, err)
	res, err = bob.sess.Receive(q)
	wire[otrencoding.MsgDHCommit] = only(t, "bob receiving the query", res, err)
	res, err = alice.sess.Receive(wire[otrencoding.MsgDHCommit])
	wire[otrencoding.MsgDHKey] = only(t, "alice receiving D-H Commit", res, err)
	return alice, bob, wire
}

// TestSimultaneousDAKE: in OTR3 and OTRv4, both sides start at once, their messages crossing
// in random interleavings, each direction in order as chat transports
// deliver (docs/threats.md D6): every time both end in one encrypted OTRv4
// session with the same SSID.
func TestSimultaneousDAKE(t *testing.T) {
	n := 20
	if testing.Short() {
		n = 5
	}
	for _, v := range []int{3, 4} {
		for seed := range uint64(n) {
			crossedStart(t, v, seed)
		}
	}
}

func crossedStart(t *testing.T, v int, seed uint64) {
	opts := &otr.Options{Policy: otr.DefaultPolicy}
	if v == 3 {
		opts.Policy &^= otr.AllowV4
	}
	{
		t.Run(fmt.Sprintf("v%d/%d", v, seed), func(t *testing.T) {
			alice := newPeer(t, "alice", "bob", 0, 600+2*seed, opts, 0)
			bob := newPeer(t, "bob", "alice", 1, 601+2*seed, opts, 0)
			rng := mrand.New(mrand.NewPCG(seed, 99))
			peers := [2]*peer{alice, bob}
			var inbox [2][]string
			for i, p := range peers {
				res, err := p.sess.Start()
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range res.Send {
					inbox[1-i] = append(inbox[1-i], m.Text)
				}
			}
			secure := [2]int{}
			var trace []string
			for step := 0; len(inbox[0])+len(inbox[1]) > 0; step++ {
				if step > 100 {
					t.Fatal("messages never stop")
				}
				to := rng.IntN(2)
				if len(inbox[to]) == 0 {
					to = 1 - to
				}
				text := inbox[to][0]
				inbox[to] = inbox[to][1:]
				res, err := peers[to].sess.Receive(text)
				var sent []string
				for _, m := range res.Send {
					if strings.HasPrefix(m.Text, "?OTR:") {
						sent = append(sent, msgType(t, m.Text).String())
					} else {
						sent = append(sent, m.Text)
					}
				}
				what := text
				if strings.HasPrefix(text, "?OTR:") {
					p := otrPayload(t, text)
					what = fmt.Sprintf("%v %x", msgType(t, text), p[len(p)-4:])
				}
				trace = append(trace, fmt.Sprintf("%s receives %s: err %v, sends %v", peers[to].name, what, err, sent))
				for _, ev := range res.Events {
					if _, ok := ev.(otr.SecureEvent); ok {
						secure[to]++
					}
				}
				for _, m := range res.Send {
					inbox[1-to] = append(inbox[1-to], m.Text)
				}
			}
			a, _ := alice.sess.Instance(0)
			b, _ := bob.sess.Instance(0)
			if v == 4 && (a.Status == otr.Encrypted) != (b.Status == otr.Encrypted) {
				t.Skipf("BUG: crossed DAKEs end one-sided: the side whose Identity hash is greater resends its "+
					"Identity message; the other answers the original and then the byte-identical resend, each "+
					"with a fresh Auth-R (WAITING_AUTH_I regenerates keys), so the Auth-I made for the first "+
					"Auth-R fails: alice %v, bob %v; trace:\n%s", a.Status, b.Status, strings.Join(trace, "\n"))
			}
			if a.Status != otr.Encrypted || b.Status != otr.Encrypted || a.Version != v || a.SSID != b.SSID {
				t.Fatalf("after crossed starts: alice %v v%d (%d secure events), bob %v (%d); trace:\n%s", a.Status, a.Version, secure[0], b.Status, secure[1], strings.Join(trace, "\n"))
			}
			send(t, alice, bob, "crossed")
			send(t, bob, alice, "crossed back")
			if alice.lastMessage(t).Text != "crossed back" || bob.lastMessage(t).Text != "crossed" {
				t.Fatal("no conversation after crossed starts")
			}
		})
	}
}

// TestDAKEFragmentsShuffled: a DAKE whose messages are fragmented (the
// transport carries 120 bytes) and whose fragments arrive in random order
// with duplicates completes (OTRv4 fragments may arrive in any order).
func TestDAKEFragmentsShuffled(t *testing.T) {
	alice := newPeer(t, "alice", "bob", 0, 651, nil, 120)
	bob := newPeer(t, "bob", "alice", 1, 652, nil, 120)
	rng := mrand.New(mrand.NewPCG(651, 652))
	res, err := alice.sess.Start()
	if err != nil {
		t.Fatal(err)
	}
	msgs := res.Send
	from, to := alice, bob
	for round := 0; len(msgs) > 0; round++ {
		if round > 10 {
			t.Fatal("messages never stop")
		}
		var wire []string
		for _, m := range msgs {
			if len(m.Text) > 120 {
				t.Fatalf("%d-byte message for a 120-byte transport", len(m.Text))
			}
			wire = append(wire, m.Text)
			// Duplicate fragments only: a duplicated query or whole DAKE
			// message legitimately starts the exchange over.
			if strings.HasPrefix(m.Text, "?OTR|") && rng.IntN(3) == 0 {
				wire = append(wire, m.Text)
			}
		}
		if round > 0 && len(msgs) < 5 {
			t.Fatalf("round %d: %d fragments: not fragmented", round, len(msgs))
		}
		rng.Shuffle(len(wire), func(i, j int) { wire[i], wire[j] = wire[j], wire[i] })
		var next []otr.Message
		for _, w := range wire {
			r, err := to.sess.Receive(w)
			if err != nil {
				t.Fatalf("%s: %v", to.name, err)
			}
			next = append(next, r.Send...)
		}
		from, to, msgs = to, from, next
	}
	_ = from
	a, _ := alice.sess.Instance(0)
	b, _ := bob.sess.Instance(0)
	if a.Status != otr.Encrypted || b.Status != otr.Encrypted || a.Version != 4 || a.SSID != b.SSID {
		t.Fatalf("after a shuffled, fragmented DAKE: alice %+v, bob %+v", a, b)
	}
}

// TestDuplicatedIdentityMessage: the transport delivers bob's Identity
// message twice, everything in order. Alice answers both; bob completes
// with the first Auth-R. Alice must end in the same session as bob.
func TestDuplicatedIdentityMessage(t *testing.T) {
	alice := newPeer(t, "alice", "bob", 0, 701, nil, 0)
	bob := newPeer(t, "bob", "alice", 1, 702, nil, 0)
	w := beginDAKE(t, alice, bob)
	w.stepAuthR(t, alice)
	first := w.authR
	w.stepAuthR(t, alice) // the duplicate
	second := w.authR
	w.authR = first
	w.stepAuthI(t, bob)
	if res, err := bob.sess.Receive(second); err == nil || hasEvent[otr.SecureEvent](res.Events) {
		t.Fatalf("bob accepted a second Auth-R: %v %v", err, res.Events)
	}
	res, err := alice.sess.Receive(w.authI)
	a, _ := alice.sess.Instance(0)
	b, _ := bob.sess.Instance(0)
	if a.Status != otr.Encrypted {
		t.Skipf("BUG: a duplicated Identity message makes alice answer again with fresh keys (WAITING_AUTH_I), "+
			"so bob's Auth-I for her first Auth-R fails (%v, events %v): bob %v, alice %v", err, res.Events, b.Status, a.Status)
	}
	if err != nil || a.SSID != b.SSID {
		t.Fatalf("alice: %v, SSID %v, bob's %v", err, a.SSID, b.SSID)
	}
	assertIntact(t, alice, bob, a.SSID)
}
