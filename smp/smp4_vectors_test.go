package smp

import (
	"bytes"
	"encoding/hex"
	"testing"

	otrcrypto "github.com/otrgo/otr/crypto"
	"github.com/otrgo/otr/internal/vectors"
)

// smp.json: otr4j's SMP4 runs (testdata/vectors/otrv4/smp.json, copied
// unchanged from the otr4j-generated vectors, see
// testdata/vectors/otrv4/README.md; source: otr4j commit 10cdeff).
type smp4VectorFile struct {
	Vectors []smp4Vector `json:"vectors"`
}

type smp4Vector struct {
	Comment          string          `json:"comment"`
	Question         string          `json:"question"`
	SSID             vectors.Hex     `json:"ssid"`
	AliceIdentity    vectors.Hex     `json:"alice_identity_public_key"`
	AliceForging     vectors.Hex     `json:"alice_forging_public_key"`
	BobIdentity      vectors.Hex     `json:"bob_identity_public_key"`
	BobForging       vectors.Hex     `json:"bob_forging_public_key"`
	AliceFingerprint vectors.Hex     `json:"alice_fingerprint"`
	BobFingerprint   vectors.Hex     `json:"bob_fingerprint"`
	AliceAnswer      string          `json:"alice_answer"`
	BobAnswer        string          `json:"bob_answer"`
	AliceSecretInput vectors.Hex     `json:"alice_secret_input"`
	AliceSecretHash  vectors.Hex     `json:"alice_secret_hash"`
	X                vectors.Hex     `json:"x"`
	BobSecretInput   vectors.Hex     `json:"bob_secret_input"`
	BobSecretHash    vectors.Hex     `json:"bob_secret_hash"`
	Y                vectors.Hex     `json:"y"`
	Messages         []smp4VectorMsg `json:"messages"`
	AliceStatus      string          `json:"alice_status"`
	BobStatus        string          `json:"bob_status"`
}

type smp4VectorMsg struct {
	Comment       string                 `json:"comment"`
	TLVType       uint16                 `json:"tlv_type"`
	TLVValue      vectors.Hex            `json:"tlv_value"`
	Fields        map[string]string      `json:"fields"`
	RandomDraws   []vectors.Hex          `json:"random_draws"`
	RandomScalars map[string]vectors.Hex `json:"random_scalars"`
}

// smp4DrawNames lists, per message, the random values in the order they
// are drawn.
var smp4DrawNames = [4][]string{
	{"a2", "a3", "r2", "r3"},
	{"b2", "b3", "r2", "r3", "r4", "r5", "r6"},
	{"r4", "r5", "r6", "r7"},
	{"r7"},
}

func loadSMP4Vectors(tb testing.TB) []smp4Vector {
	tb.Helper()
	var f smp4VectorFile
	vectors.Load(tb, "otrv4/smp.json", &f)
	if len(f.Vectors) != 3 {
		tb.Fatalf("smp.json: %d vectors, want 3", len(f.Vectors))
	}
	for _, v := range f.Vectors {
		if len(v.Messages) != 4 {
			tb.Fatalf("smp.json: %q: %d messages, want 4", v.Comment, len(v.Messages))
		}
	}
	return f.Vectors
}

func mustPoint4(t testing.TB, b []byte) otrcrypto.Point {
	t.Helper()
	p, err := otrcrypto.ParsePoint(b)
	if err != nil {
		t.Fatalf("ParsePoint(%x) error = %v", b, err)
	}
	return p
}

func mustScalar4(t testing.TB, b []byte) otrcrypto.Scalar {
	t.Helper()
	s, err := otrcrypto.ParseScalar(b)
	if err != nil {
		t.Fatalf("ParseScalar(%x) error = %v", b, err)
	}
	return s
}

func scalarBytes4(s *otrcrypto.Scalar) []byte { b := s.Bytes(); return b[:] }
func pointBytes4(p *otrcrypto.Point) []byte   { b := p.Bytes(); return b[:] }

// fields4 returns the named values of a parsed message, as smp.json names
// them.
func fields4(t testing.TB, typ uint16, payload []byte) map[string][]byte {
	t.Helper()
	switch typ {
	case TypeMsg1:
		var m smp4Msg1
		if !m.parse(payload) {
			t.Fatal("message 1 does not parse")
		}
		return map[string][]byte{"question": m.question,
			"g2a": pointBytes4(&m.g2a), "c2": scalarBytes4(&m.c2), "d2": scalarBytes4(&m.d2),
			"g3a": pointBytes4(&m.g3a), "c3": scalarBytes4(&m.c3), "d3": scalarBytes4(&m.d3)}
	case TypeMsg2:
		var m smp4Msg2
		if !m.parse(payload) {
			t.Fatal("message 2 does not parse")
		}
		return map[string][]byte{
			"g2b": pointBytes4(&m.g2b), "c2": scalarBytes4(&m.c2), "d2": scalarBytes4(&m.d2),
			"g3b": pointBytes4(&m.g3b), "c3": scalarBytes4(&m.c3), "d3": scalarBytes4(&m.d3),
			"pb": pointBytes4(&m.pb), "qb": pointBytes4(&m.qb),
			"cp": scalarBytes4(&m.cp), "d5": scalarBytes4(&m.d5), "d6": scalarBytes4(&m.d6)}
	case TypeMsg3:
		var m smp4Msg3
		if !m.parse(payload) {
			t.Fatal("message 3 does not parse")
		}
		return map[string][]byte{
			"pa": pointBytes4(&m.pa), "qa": pointBytes4(&m.qa),
			"cp": scalarBytes4(&m.cp), "d5": scalarBytes4(&m.d5), "d6": scalarBytes4(&m.d6),
			"ra": pointBytes4(&m.ra), "cr": scalarBytes4(&m.cr), "d7": scalarBytes4(&m.d7)}
	case TypeMsg4:
		var m smp4Msg4
		if !m.parse(payload) {
			t.Fatal("message 4 does not parse")
		}
		return map[string][]byte{"rb": pointBytes4(&m.rb), "cr": scalarBytes4(&m.cr), "d7": scalarBytes4(&m.d7)}
	}
	t.Fatalf("type %d", typ)
	return nil
}

// TestSMP4Vectors reproduces every otr4j run of smp.json: the secret
// derivation, the random scalars, each message byte for byte (both through
// the internal steps fed the recorded scalars and through the public API
// fed the recorded random bytes) and otr4j's verdict on both sides.
func TestSMP4Vectors(t *testing.T) {
	for _, v := range loadSMP4Vectors(t) {
		t.Run(v.Comment, func(t *testing.T) {
			t.Parallel()
			var aliceFP, bobFP [56]byte
			var ssid [8]byte
			copy(ssid[:], v.SSID)

			t.Run("fingerprints", func(t *testing.T) {
				for _, k := range []struct {
					name            string
					identity, forge []byte
					want            []byte
					out             *[56]byte
				}{
					{"alice", v.AliceIdentity, v.AliceForging, v.AliceFingerprint, &aliceFP},
					{"bob", v.BobIdentity, v.BobForging, v.BobFingerprint, &bobFP},
				} {
					h, f := mustPoint4(t, k.identity), mustPoint4(t, k.forge)
					got := otrcrypto.NewFingerprint4(&h, &f)
					if !bytes.Equal(got[:], k.want) {
						t.Errorf("%s fingerprint = %x, want %x", k.name, got, k.want)
					}
					copy(k.out[:], k.want)
				}
			})

			// The initiator is alice for both sides' computations.
			x := SMP4Secret(aliceFP, bobFP, ssid, []byte(v.AliceAnswer))
			y := SMP4Secret(aliceFP, bobFP, ssid, []byte(v.BobAnswer))
			t.Run("secret", func(t *testing.T) {
				for _, s := range []struct {
					name                   string
					answer                 string
					input, hash, want, got []byte
				}{
					{"x", v.AliceAnswer, v.AliceSecretInput, v.AliceSecretHash, v.X, scalarBytes4(&x)},
					{"y", v.BobAnswer, v.BobSecretInput, v.BobSecretHash, v.Y, scalarBytes4(&y)},
				} {
					in := smp4SecretInput(aliceFP, bobFP, ssid, []byte(s.answer))
					if !bytes.Equal(in, s.input) {
						t.Errorf("%s: secret input = %x, want %x", s.name, in, s.input)
					}
					var h [64]byte
					otrcrypto.KDF(h[:], otrcrypto.UsageSMPSecret, in)
					if !bytes.Equal(h[:], s.hash) {
						t.Errorf("%s: secret hash = %x, want %x", s.name, h, s.hash)
					}
					if !bytes.Equal(s.got, s.want) {
						t.Errorf("SMP4Secret %s = %x, want %x", s.name, s.got, s.want)
					}
				}
			})

			// The recorded draws become the recorded scalars.
			scalars := make([]map[string]*otrcrypto.Scalar, 4)
			for i, m := range v.Messages {
				if m.TLVType != TypeMsg1+uint16(i) {
					t.Fatalf("message %d: type %d", i+1, m.TLVType)
				}
				names := smp4DrawNames[i]
				if len(m.RandomDraws) != len(names) {
					t.Fatalf("message %d: %d draws, want %d", i+1, len(m.RandomDraws), len(names))
				}
				scalars[i] = map[string]*otrcrypto.Scalar{}
				for j, name := range names {
					got, err := otrcrypto.GenerateScalar(bytes.NewReader(m.RandomDraws[j]))
					if err != nil {
						t.Fatal(err)
					}
					if want := m.RandomScalars[name]; !bytes.Equal(scalarBytes4(&got), want) {
						t.Errorf("message %d: %s from its draw = %x, want %x", i+1, name, got.Bytes(), want)
					}
					s := mustScalar4(t, m.RandomScalars[name])
					scalars[i][name] = &s
				}
			}

			t.Run("fields", func(t *testing.T) {
				for i, m := range v.Messages {
					got := fields4(t, m.TLVType, m.TLVValue)
					if len(got) != len(m.Fields) {
						t.Errorf("message %d: %d fields, want %d", i+1, len(got), len(m.Fields))
					}
					for name, want := range m.Fields {
						w := []byte(want)
						if name != "question" {
							var err error
							if w, err = hex.DecodeString(want); err != nil {
								t.Fatal(err)
							}
						}
						if !bytes.Equal(got[name], w) {
							t.Errorf("message %d: %s = %x, want %x", i+1, name, got[name], w)
						}
					}
				}
			})

			wantOK := map[string]bool{"SUCCEEDED": true, "FAILED": false}
			aliceOK, ok1 := wantOK[v.AliceStatus]
			bobOK, ok2 := wantOK[v.BobStatus]
			if !ok1 || !ok2 {
				t.Fatalf("statuses %q, %q", v.AliceStatus, v.BobStatus)
			}

			t.Run("steps", func(t *testing.T) {
				r := scalars
				st2, m1 := smp4Make1(&x, r[0]["a2"], r[0]["a3"], r[0]["r2"], r[0]["r3"])
				m1.question = []byte(v.Question)
				if got := m1.marshal(); !bytes.Equal(got, v.Messages[0].TLVValue) {
					t.Fatalf("message 1 = %x, want %x", got, v.Messages[0].TLVValue)
				}
				var in1 smp4Msg1
				if !in1.parse(v.Messages[0].TLVValue) || !in1.verify() {
					t.Fatal("bob rejects message 1")
				}
				st3, m2 := smp4Make2(&smp4Pending{g2a: in1.g2a, g3a: in1.g3a}, &y,
					r[1]["b2"], r[1]["b3"], r[1]["r2"], r[1]["r3"], r[1]["r4"], r[1]["r5"], r[1]["r6"])
				if got := m2.marshal(); !bytes.Equal(got, v.Messages[1].TLVValue) {
					t.Fatalf("message 2 = %x, want %x", got, v.Messages[1].TLVValue)
				}
				var in2 smp4Msg2
				if !in2.parse(v.Messages[1].TLVValue) {
					t.Fatal("message 2 does not parse")
				}
				g2, g3, ok := st2.verify2(&in2)
				if !ok {
					t.Fatal("alice rejects message 2")
				}
				st4, m3 := smp4Make3(st2, &in2, &g2, &g3, r[2]["r4"], r[2]["r5"], r[2]["r6"], r[2]["r7"])
				if got := m3.marshal(); !bytes.Equal(got, v.Messages[2].TLVValue) {
					t.Fatalf("message 3 = %x, want %x", got, v.Messages[2].TLVValue)
				}
				var in3 smp4Msg3
				if !in3.parse(v.Messages[2].TLVValue) || !st3.verify3(&in3) {
					t.Fatal("bob rejects message 3")
				}
				m4, gotBob := smp4Make4(st3, &in3, r[3]["r7"])
				if got := m4.marshal(); !bytes.Equal(got, v.Messages[3].TLVValue) {
					t.Fatalf("message 4 = %x, want %x", got, v.Messages[3].TLVValue)
				}
				var in4 smp4Msg4
				if !in4.parse(v.Messages[3].TLVValue) || !st4.verify4(&in4) {
					t.Fatal("alice rejects message 4")
				}
				if gotBob != bobOK {
					t.Errorf("bob's check = %v, want %v (%s)", gotBob, bobOK, v.BobStatus)
				}
				if got := st4.check(&in4); got != aliceOK {
					t.Errorf("alice's check = %v, want %v (%s)", got, aliceOK, v.AliceStatus)
				}
			})

			t.Run("api", func(t *testing.T) {
				draws := func(i int) *bytes.Reader {
					return bytes.NewReader(bytes.Join(func() [][]byte {
						var out [][]byte
						for _, d := range v.Messages[i].RandomDraws {
							out = append(out, d)
						}
						return out
					}(), nil))
				}
				verdict := map[bool]Result{true: Succeeded, false: Failed}
				var alice, bob SMP4
				r1 := draws(0)
				typ, p1, err := alice.Start(r1, &x, v.Question)
				if err != nil || typ != TypeMsg1 || !bytes.Equal(p1, v.Messages[0].TLVValue) || r1.Len() != 0 {
					t.Fatalf("Start = %d, %x, %v (%d random bytes left), want 2, %x", typ, p1, err, r1.Len(), v.Messages[0].TLVValue)
				}
				out, err := bob.Receive(failingReader4{}, TypeMsg1, p1)
				if err != nil || out.Result != NeedSecret || out.Question != v.Question || out.Reply != nil {
					t.Fatalf("bob Receive(message 1) = %+v, %v, want NeedSecret %q", out, err, v.Question)
				}
				r2 := draws(1)
				typ, p2, err := bob.Answer(r2, &y)
				if err != nil || typ != TypeMsg2 || !bytes.Equal(p2, v.Messages[1].TLVValue) || r2.Len() != 0 {
					t.Fatalf("Answer = %d, %x, %v, want 3, %x", typ, p2, err, v.Messages[1].TLVValue)
				}
				r3 := draws(2)
				out, err = alice.Receive(r3, TypeMsg2, p2)
				if err != nil || out.Result != InProgress || out.Reply == nil || out.Reply.Type != TypeMsg3 ||
					!bytes.Equal(out.Reply.Value, v.Messages[2].TLVValue) || r3.Len() != 0 {
					t.Fatalf("alice Receive(message 2) = %+v, %v, want message 3 %x", out, err, v.Messages[2].TLVValue)
				}
				r4 := draws(3)
				out, err = bob.Receive(r4, TypeMsg3, out.Reply.Value)
				if err != nil || out.Result != verdict[bobOK] || out.Reply == nil || out.Reply.Type != TypeMsg4 ||
					!bytes.Equal(out.Reply.Value, v.Messages[3].TLVValue) || r4.Len() != 0 {
					t.Fatalf("bob Receive(message 3) = %+v, %v, want %v with message 4 %x", out, err, verdict[bobOK], v.Messages[3].TLVValue)
				}
				out, err = alice.Receive(failingReader4{}, TypeMsg4, out.Reply.Value)
				if err != nil || out.Result != verdict[aliceOK] || out.Reply != nil {
					t.Fatalf("alice Receive(message 4) = %+v, %v, want %v", out, err, verdict[aliceOK])
				}
				if alice.InProgress() || bob.InProgress() {
					t.Error("a run is still in progress after message 4")
				}
			})
		})
	}
}
