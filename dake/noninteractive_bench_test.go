package dake

import (
	"math/rand/v2"
	"testing"

	otrcrypto "github.com/otrgo/otr/crypto"
)

// Each benchmark of the non-interactive DAKE has a Primitives twin that
// runs only the public-key operations it performs (counted from the code:
// see each twin's comment), so that the ratio of the two in one run is the
// overhead over the primitives.

// BenchmarkNewPrekeyMessages100 makes 100 Prekey messages with their
// secrets.
func BenchmarkNewPrekeyMessages100(b *testing.B) {
	rng := rand.NewChaCha8([32]byte{40})
	for b.Loop() {
		for range 100 {
			if _, _, err := NewPrekeyMessage(rng, offBobTag); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkNewPrekeyMessages100Primitives: 100 × (an ECDH and a 3072-bit DH
// key generation).
func BenchmarkNewPrekeyMessages100Primitives(b *testing.B) {
	rng := rand.NewChaCha8([32]byte{40})
	for b.Loop() {
		for range 100 {
			if _, err := otrcrypto.GenerateECDHKey(rng); err != nil {
				b.Fatal(err)
			}
			if _, err := otrcrypto.GenerateDH3072Key(rng); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkStartNonInteractive is alice's side from a parsed ensemble:
// validation, key generation, the shared secrets, the ring signature and
// the message.
func BenchmarkStartNonInteractive(b *testing.B) {
	bob := newOfflineBob(b, offBobTag, 1, 1)
	cfg := aliceConfig(b, 2)
	e := bob.ensemble(0)
	for b.Loop() {
		_, k, err := StartNonInteractive(cfg, e, profileNow)
		if err != nil {
			b.Fatal(err)
		}
		k.Wipe()
	}
}

// benchPrimitives holds the inputs of the Primitives benchmarks.
type benchPrimitives struct {
	rng        *rand.ChaCha8
	ecdh       *otrcrypto.ECDHPrivateKey
	dh, peerDH *otrcrypto.DH3072PrivateKey
	pt         otrcrypto.Point
	ptBytes    [otrcrypto.PointSize]byte
	dhBytes    []byte
	idPub      otrcrypto.Point
	msg        []byte
	sig        [otrcrypto.EdDSASignatureSize]byte
	secret     otrcrypto.Scalar
	a1, a2, a3 otrcrypto.Point
	ring       otrcrypto.RingSignature
	ecdhRandom [otrcrypto.ECDHRandomSize]byte
	dhSecret   [otrcrypto.DH3072SecretSize]byte
}

func newBenchPrimitives(b *testing.B) *benchPrimitives {
	p := &benchPrimitives{rng: rand.NewChaCha8([32]byte{77})}
	p.ecdh, _ = otrcrypto.GenerateECDHKey(p.rng)
	peer, _ := otrcrypto.GenerateECDHKey(p.rng)
	p.dh, _ = otrcrypto.GenerateDH3072Key(p.rng)
	p.peerDH, _ = otrcrypto.GenerateDH3072Key(p.rng)
	id, _ := otrcrypto.GenerateEdDSAKey(p.rng)
	p.idPub = id.Public()
	p.msg = []byte("profile fields")
	p.sig = id.Sign(p.msg)
	p.pt = peer.Public()
	p.ptBytes = p.pt.Bytes()
	p.dhBytes = p.peerDH.Public().Bytes()
	p.secret = p.ecdh.SecretScalar()
	p.a1, p.a2, p.a3 = p.ecdh.Public(), peer.Public(), p.idPub
	var err error
	if p.ring, err = otrcrypto.RingSign(p.rng, &p.secret, &p.a1, &p.a2, &p.a3, p.msg); err != nil {
		b.Fatal(err)
	}
	p.rng.Read(p.ecdhRandom[:])
	p.rng.Read(p.dhSecret[:])
	return p
}

func (p *benchPrimitives) eddsaVerify(b *testing.B, n int) {
	for range n {
		if !otrcrypto.VerifyEdDSA(&p.idPub, p.msg, p.sig[:]) {
			b.Fatal("EdDSA")
		}
	}
}

func (p *benchPrimitives) keyGen(b *testing.B, ecdh, dh int) {
	for range ecdh {
		if _, err := otrcrypto.GenerateECDHKey(p.rng); err != nil {
			b.Fatal(err)
		}
	}
	for range dh {
		if _, err := otrcrypto.GenerateDH3072Key(p.rng); err != nil {
			b.Fatal(err)
		}
	}
}

func (p *benchPrimitives) shared(b *testing.B, ecdh, dh int) {
	for range ecdh {
		if _, err := p.ecdh.SharedSecret(&p.pt); err != nil {
			b.Fatal(err)
		}
	}
	for range dh {
		if _, err := p.dh.SharedSecret(p.peerDH.Public()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStartNonInteractivePrimitives: 2 EdDSA verifications (the two
// profiles of the ensemble), 2 ECDH and 2 DH key generations (x, a and the
// first keys), 3 ECDH shared secrets (with Y, D_b, H_b), 1 DH shared secret
// (with B), 1 ring signature.
func BenchmarkStartNonInteractivePrimitives(b *testing.B) {
	p := newBenchPrimitives(b)
	for b.Loop() {
		p.eddsaVerify(b, 2)
		p.keyGen(b, 2, 2)
		p.shared(b, 3, 1)
		if _, err := otrcrypto.RingSign(p.rng, &p.secret, &p.a1, &p.a2, &p.a3, p.msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReceiveNonInteractive is bob's side, with a lookup that rebuilds
// the prekey secrets from their stored encoding as a host would (the
// shared prekey is kept decoded).
func BenchmarkReceiveNonInteractive(b *testing.B) {
	bob := newOfflineBob(b, offBobTag, 1, 1)
	msg, _ := mustStartNonInteractive(b, aliceConfig(b, 2), bob.ensemble(0))
	h, body := splitHeader(b, msg)
	for b.Loop() {
		k, _, err := ReceiveNonInteractive(bob.cfg, h, body, bob.lookup, profileNow)
		if err != nil {
			b.Fatal(err)
		}
		k.Wipe()
	}
}

// BenchmarkReceiveNonInteractivePrimitives: rebuilding the prekey secrets
// (an ECDH and a DH key from their secrets), 4 point decodings with the
// subgroup check (H_a and F_a of alice's profile, X, her first ECDH key), 2
// DH public-key checks (A, her first DH key), 1 EdDSA verification (her
// profile), 1 ring signature verification, 3 ECDH shared secrets (y, sk_d
// and sk_hb with X), 1 DH shared secret (b with A).
func BenchmarkReceiveNonInteractivePrimitives(b *testing.B) {
	p := newBenchPrimitives(b)
	for b.Loop() {
		if _, err := otrcrypto.NewECDHPrivateKey(p.ecdhRandom[:]); err != nil {
			b.Fatal(err)
		}
		if _, err := otrcrypto.NewDH3072PrivateKey(p.dhSecret[:]); err != nil {
			b.Fatal(err)
		}
		for range 4 {
			if _, err := otrcrypto.ParsePoint(p.ptBytes[:]); err != nil {
				b.Fatal(err)
			}
		}
		for range 2 {
			if _, err := otrcrypto.ParseDH3072PublicKey(p.dhBytes); err != nil {
				b.Fatal(err)
			}
		}
		p.eddsaVerify(b, 1)
		if !otrcrypto.RingVerify(&p.a1, &p.a2, &p.a3, &p.ring, p.msg) {
			b.Fatal("ring")
		}
		p.shared(b, 3, 1)
	}
}
