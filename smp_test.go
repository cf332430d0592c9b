package otr_test

import (
	"errors"
	"testing"

	"github.com/otrgo/otr"
)

func smpEvents[T otr.Event](p *peer) []T {
	var out []T
	for _, e := range p.events {
		if v, ok := e.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

func runSMP(t *testing.T, a, b *peer, secretA, secretB, question string) {
	t.Helper()
	res, err := a.sess.StartSMP(0, []byte(secretA), question)
	if err != nil {
		t.Fatal(err)
	}
	pump(t, a, b, res.Send)
	q := smpEvents[otr.SMPQuestionEvent](b)
	if len(q) != 1 || q[0].Question != question || q[0].HasQuestion != (question != "") {
		t.Fatalf("question events %v", q)
	}
	res, err = b.sess.AnswerSMP(0, []byte(secretB))
	if err != nil {
		t.Fatal(err)
	}
	pump(t, b, a, res.Send)
}

func TestSMP(t *testing.T) { bothVersions(t, testSMP) }

func testSMP(t *testing.T) {
	for _, tc := range []struct {
		name             string
		secretA, secretB string
		question         string
		want             bool
	}{
		{"match", "correct horse", "correct horse", "", true},
		{"match/question", "blue", "blue", "favourite colour?", true},
		{"mismatch", "one", "two", "", false},
		{"mismatch/question", "one", "two", "which?", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alice := newPeer(t, "alice", "bob", 0, 41, nil, 0)
			bob := newPeer(t, "bob", "alice", 1, 42, nil, 0)
			secure(t, alice, bob)
			runSMP(t, alice, bob, tc.secretA, tc.secretB, tc.question)
			for _, p := range []*peer{alice, bob} {
				ok := smpEvents[otr.SMPSucceededEvent](p)
				fail := smpEvents[otr.SMPFailedEvent](p)
				if tc.want && (len(ok) != 1 || len(fail) != 0) || !tc.want && (len(ok) != 0 || len(fail) != 1) {
					t.Fatalf("%s: succeeded %v failed %v (errors %v)", p.name, ok, fail, p.errs)
				}
			}
			if tc.want {
				// Alice's trust store now marks Bob's fingerprint as verified by SMP.
				fps, _ := otrHost(alice).Fingerprints("bob")
				if len(fps) != 1 || fps[0].Trust != otr.SMPVerified {
					t.Fatalf("trust after SMP: %+v", fps)
				}
				if got := smpEvents[otr.SMPSucceededEvent](alice)[0].Fingerprint.String(); got != bob.fingerprint(alice.sess.Instances()[0].Version).String() {
					t.Fatalf("verified fingerprint %s", got)
				}
			}
			// The conversation goes on.
			send(t, bob, alice, "still here")
			if alice.lastMessage(t).Text != "still here" {
				t.Fatal("conversation broken after SMP")
			}
		})
	}
}

func TestSMPAbortAndRestart(t *testing.T) { bothVersions(t, testSMPAbortAndRestart) }

func testSMPAbortAndRestart(t *testing.T) {
	alice := newPeer(t, "alice", "bob", 0, 43, nil, 0)
	bob := newPeer(t, "bob", "alice", 1, 44, nil, 0)
	secure(t, alice, bob)
	res, _ := alice.sess.StartSMP(0, []byte("x"), "q")
	pump(t, alice, bob, res.Send)
	if _, err := alice.sess.StartSMP(0, []byte("x"), ""); !errors.Is(err, otr.ErrSMPInProgress) {
		t.Fatalf("second StartSMP: %v", err)
	}
	res, _ = bob.sess.AbortSMP(0)
	pump(t, bob, alice, res.Send)
	if a := smpEvents[otr.SMPAbortedEvent](alice); len(a) != 1 || !a[0].ByContact {
		t.Fatalf("alice's abort events %v", a)
	}
	// No abort answers an abort: the exchange above stopped by itself; a new run works.
	runSMP(t, bob, alice, "again", "again", "")
	if len(smpEvents[otr.SMPSucceededEvent](alice)) != 1 || len(smpEvents[otr.SMPSucceededEvent](bob)) != 1 {
		t.Fatal("SMP after abort did not succeed")
	}
}

func TestSMPNotEncrypted(t *testing.T) {
	alice := newPeer(t, "alice", "bob", 0, 45, nil, 0)
	if _, err := alice.sess.StartSMP(0, []byte("x"), ""); !errors.Is(err, otr.ErrNotEncrypted) {
		t.Fatalf("StartSMP in plaintext: %v", err)
	}
}
