package otr_test

import (
	"strings"
	"testing"

	"github.com/otrgo/otr"
)

// BenchmarkAKE runs a whole OTR3 AKE, both sides in one process, from the
// query to both sides encrypted.
func BenchmarkAKE(b *testing.B) {
	keys(b, 0)
	i := uint64(0)
	for b.Loop() {
		i++
		alice := newPeer(b, "alice", "bob", 0, 1000+2*i, nil, 0)
		bob := newPeer(b, "bob", "alice", 1, 1001+2*i, nil, 0)
		secure(b, alice, bob)
	}
}

// BenchmarkDataMessage encrypts on one side and decrypts on the other.
// OneWay keeps sending in one direction (no new D-H key is needed);
// Ratchet alternates directions so that every message turns the D-H ratchet
// (a new key pair on receipt and a new shared secret on the next send).
func BenchmarkDataMessage(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"100B", 100}, {"10KiB", 10 << 10}} {
		text := strings.Repeat("a", size.n)
		b.Run("OneWay/"+size.name, func(b *testing.B) {
			alice := newPeer(b, "alice", "bob", 0, 1, nil, 0)
			bob := newPeer(b, "bob", "alice", 1, 2, nil, 0)
			secure(b, alice, bob)
			b.SetBytes(int64(size.n))
			for b.Loop() {
				exchange(b, alice, bob, text)
			}
		})
		b.Run("Ratchet/"+size.name, func(b *testing.B) {
			alice := newPeer(b, "alice", "bob", 0, 1, nil, 0)
			bob := newPeer(b, "bob", "alice", 1, 2, nil, 0)
			secure(b, alice, bob)
			b.SetBytes(int64(size.n))
			from, to := alice, bob
			for b.Loop() {
				exchange(b, from, to, text)
				from, to = to, from
			}
		})
	}
}

func exchange(b *testing.B, from, to *peer, text string) {
	res, err := from.sess.Send(0, text)
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range res.Send {
		r, err := to.sess.Receive(m.Text)
		if err != nil || len(r.Events) != 1 {
			b.Fatalf("receive: %v %v", err, r.Events)
		}
		if _, ok := r.Events[0].(otr.MessageEvent); !ok {
			b.Fatalf("event %v", r.Events[0])
		}
	}
}
