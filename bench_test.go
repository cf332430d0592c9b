package otr_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/otrgo/otr"
	otrcrypto "github.com/otrgo/otr/crypto"
)

// Policies of the benchmarks: OTR3 only, and OTRv4.
var (
	benchV3 = &otr.Options{Policy: otr.DefaultPolicy &^ otr.AllowV4}
	benchV4 = &otr.Options{Policy: otr.DefaultPolicy &^ otr.AllowV3}
)

// BenchmarkAKE runs a whole OTR3 AKE, both sides in one process, from the
// query to both sides encrypted.
func BenchmarkAKE(b *testing.B) { benchKeyExchange(b, benchV3, 3) }

// BenchmarkDAKE runs a whole OTRv4 interactive DAKE, both sides in one
// process, from the query to both sides encrypted (the double ratchet's
// first step included).
func BenchmarkDAKE(b *testing.B) { benchKeyExchange(b, benchV4, 4) }

func benchKeyExchange(b *testing.B, opts *otr.Options, version int) {
	keys(b, 0)
	// Accounts (and their client profiles) are made outside the timing.
	var pairs [][2]*peer
	i := uint64(0)
	for b.Loop() {
		b.StopTimer()
		i++
		alice := newPeer(b, "alice", "bob", 0, 1000+2*i, opts, 0)
		bob := newPeer(b, "bob", "alice", 1, 1001+2*i, opts, 0)
		pairs = append(pairs[:0], [2]*peer{alice, bob})
		b.StartTimer()
		res, err := alice.sess.Start()
		if err != nil {
			b.Fatal(err)
		}
		pump(b, alice, bob, res.Send)
		if v, _ := alice.sess.Instance(0); v.Version != version || bob.sess.Status(0) != otr.Encrypted {
			b.Fatalf("version %d, bob %v", v.Version, bob.sess.Status(0))
		}
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
		for _, v := range []struct {
			name string
			opts *otr.Options
		}{{"v3", benchV3}, {"v4", benchV4}} {
			benchData(b, v.name, v.opts, size.name, text, size.n)
		}
	}
}

func benchData(b *testing.B, version string, opts *otr.Options, sizeName, text string, n int) {
	{
		size := struct {
			name string
			n    int
		}{sizeName, n}
		b.Run(version+"/OneWay/"+size.name, func(b *testing.B) {
			alice := newPeer(b, "alice", "bob", 0, 1, opts, 0)
			bob := newPeer(b, "bob", "alice", 1, 2, opts, 0)
			secure(b, alice, bob)
			b.SetBytes(int64(size.n))
			for b.Loop() {
				exchange(b, alice, bob, text)
			}
		})
		b.Run(version+"/Ratchet/"+size.name, func(b *testing.B) {
			alice := newPeer(b, "alice", "bob", 0, 1, opts, 0)
			bob := newPeer(b, "bob", "alice", 1, 2, opts, 0)
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

// BenchmarkIdleSession reports the heap memory one idle encrypted session
// holds on one side (both versions): many sessions of one account are
// secured, the peers dropped, and the account's heap growth divided.
func BenchmarkIdleSession(b *testing.B) {
	for _, v := range []struct {
		name string
		opts *otr.Options
	}{{"v3", benchV3}, {"v4", benchV4}} {
		b.Run(v.name, func(b *testing.B) {
			const n = 20
			// The time per op is that of making n sessions; the figure of
			// interest is the bytes/session metric.
			for b.Loop() {
				alice := newPeer(b, "alice", "bob", 0, 1, v.opts, 0)
				alice.sess.Start() // warm up lazily built tables
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				for i := range n {
					contact := fmt.Sprintf("bob%d", i)
					a := &peer{policy: alice.policy, name: "alice", acct: alice.acct, sess: alice.acct.Session(contact)}
					bob := newPeer(b, contact, "alice", 1, uint64(10+i), v.opts, 0)
					secure(b, a, bob)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n, "bytes/session")
				runtime.KeepAlive(alice)
			}
		})
	}
}

// BenchmarkDAKEPrimitives runs the public-key operations one BenchmarkDAKE
// iteration performs (counted by instrumenting crypto/ once: 5 ECDH and 5
// 3072-bit DH key generations, 5 shared secrets of each, 8 point decodings
// with the subgroup check, 4 DH public-key checks, 2 EdDSA verifications of
// client profiles, 2 ring signatures and 2 verifications), so that
// BenchmarkDAKE / BenchmarkDAKEPrimitives in one run is the DAKE's overhead
// over its primitives.
func BenchmarkDAKEPrimitives(b *testing.B) {
	rnd := seeded(77)
	ecdh, _ := otrcrypto.GenerateECDHKey(rnd)
	peerECDH, _ := otrcrypto.GenerateECDHKey(rnd)
	dh, _ := otrcrypto.GenerateDH3072Key(rnd)
	peerDH, _ := otrcrypto.GenerateDH3072Key(rnd)
	id, _ := otrcrypto.GenerateEdDSAKey(rnd)
	idPub := id.Public()
	msg := []byte("client profile fields")
	sig := id.Sign(msg)
	pt := peerECDH.Public()
	ptBytes := pt.Bytes()
	dhBytes := peerDH.Public().Bytes()
	secret := ecdh.SecretScalar()
	a1, a2, a3 := ecdh.Public(), peerECDH.Public(), idPub
	ring, _ := otrcrypto.RingSign(rnd, &secret, &a1, &a2, &a3, msg)
	for b.Loop() {
		for range 5 {
			if _, err := otrcrypto.GenerateECDHKey(rnd); err != nil {
				b.Fatal(err)
			}
			if _, err := otrcrypto.GenerateDH3072Key(rnd); err != nil {
				b.Fatal(err)
			}
			if _, err := ecdh.SharedSecret(&pt); err != nil {
				b.Fatal(err)
			}
			if _, err := dh.SharedSecret(peerDH.Public()); err != nil {
				b.Fatal(err)
			}
		}
		for range 8 {
			if _, err := otrcrypto.ParsePoint(ptBytes[:]); err != nil {
				b.Fatal(err)
			}
		}
		for range 4 {
			if _, err := otrcrypto.ParseDH3072PublicKey(dhBytes); err != nil {
				b.Fatal(err)
			}
		}
		for range 2 {
			if !otrcrypto.VerifyEdDSA(&idPub, msg, sig[:]) {
				b.Fatal("EdDSA")
			}
			if _, err := otrcrypto.RingSign(rnd, &secret, &a1, &a2, &a3, msg); err != nil {
				b.Fatal(err)
			}
			if !otrcrypto.RingVerify(&a1, &a2, &a3, &ring, msg) {
				b.Fatal("ring")
			}
		}
	}
}
