package otr_test

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/otrgo/otr"
	otrcrypto "github.com/otrgo/otr/crypto"
	otrencoding "github.com/otrgo/otr/encoding"
	"golang.org/x/crypto/cryptobyte"
)

// BenchmarkAttackerCost measures what one cheap message from a hostile
// contact (or from anyone writing as the contact) costs us: CPU per message
// in a long flood, for every kind of message that is cheap to make. Each
// kind runs twice: "within" with budgets so large they never run out
// (the cost of doing the work), and "after" with the default budgets,
// already spent by a flood before the timer starts. Run it beside
// BenchmarkDAKE for scale:
//
//	go test -run '^$' -bench 'AttackerCost|^BenchmarkDAKE$' .
func BenchmarkAttackerCost(b *testing.B) {
	for _, k := range attackKinds {
		for _, phase := range []string{"within", "after"} {
			b.Run(k.name+"/"+phase, func(b *testing.B) {
				clk := &clock{t: time.Unix(1_750_000_000, 0)}
				opts := &otr.Options{Now: clk.now}
				if phase == "within" {
					unlimited(opts)
				}
				v := newVictim(b, opts)
				next := k.setup(b, v)
				if phase == "after" {
					for i := range 2000 {
						v.bob.sess.Receive(next(i))
					}
				}
				i := 0
				for b.Loop() {
					v.bob.sess.Receive(next(i))
					i++
				}
			})
		}
	}
}

// unlimited raises every budget a contact's messages draw on so far that a
// benchmark never exhausts it.
func unlimited(opts *otr.Options) {
	opts.KeyExchangeBurst = 1 << 30
	opts.MaxUnverifiedRatchets = 1 << 30
	opts.ErrorReplyInterval = -1
}

// victim is bob, in an OTRv4 conversation with alice, attacked by mallory
// (her own keys, writing as alice on the transport).
type victim struct {
	alice, bob, mallory3, mallory4 *peer
}

func newVictim(b *testing.B, opts *otr.Options) *victim {
	v := &victim{}
	v.alice = newPeer(b, "alice", "bob", 0, 201, opts, 0)
	v.bob = newPeer(b, "bob", "alice", 1, 202, opts, 0)
	secure(b, v.alice, v.bob)
	v.mallory4 = newPeer(b, "alice", "bob", 2, 203, &otr.Options{Now: opts.Now}, 0)
	v.mallory3 = newPeer(b, "alice", "bob", 2, 204, &otr.Options{Policy: otr.DefaultPolicy &^ otr.AllowV4, Now: opts.Now}, 0)
	return v
}

// startOf returns the first message p sends when asked to start with
// query.
func startOf(b *testing.B, p *peer, query string) string {
	res, err := p.sess.Receive(query)
	if err != nil || len(res.Send) != 1 {
		b.Fatalf("no key exchange start: %v %v", res.Send, err)
	}
	return res.Send[0].Text
}

// retag rewrites the sender instance tag of an encoded message.
func retag(b testing.TB, msg string, tag uint32) string {
	p := otrPayload(b, msg)
	binary.BigEndian.PutUint32(p[3:7], tag)
	return otrencoding.EncodeMessage(p)
}

func randomTag(i int) uint32 { return 0x1000_0000 + uint32(i)*7919 }

// forgedRatchet returns n data messages that look like alice's next
// ratchet step (a new ECDH key, and a new DH key since the ratchet id is a
// multiple of 3, skipping 900 keys of each chain) with a made-up
// authenticator: we must derive the new chain before we can find out.
func forgedRatchet(b *testing.B, v *victim, n int) []string {
	var m otrencoding.DataMessage4
	var h otrencoding.Header
	for round := 0; ; round++ {
		if round > 6 {
			b.Fatal("no ratchet id multiple of 3")
		}
		res, err := v.alice.sess.Send(0, "template")
		if err != nil {
			b.Fatal(err)
		}
		if h, m, _, err = otrencoding.ParseDataMessage4(otrPayload(b, res.Send[0].Text)); err != nil {
			b.Fatal(err)
		}
		pump(b, v.alice, v.bob, res.Send)
		res, err = v.bob.sess.Send(0, "reply")
		if err != nil {
			b.Fatal(err)
		}
		_, r, _, err := otrencoding.ParseDataMessage4(otrPayload(b, res.Send[0].Text))
		if err != nil {
			b.Fatal(err)
		}
		pump(b, v.bob, v.alice, res.Send)
		if (r.RatchetID+1)%3 == 0 {
			m.RatchetID = r.RatchetID + 1
			break
		}
	}
	rng := seeded(205)
	out := make([]string, n)
	for i := range out {
		e, err := otrcrypto.GenerateECDHKey(rng)
		if err != nil {
			b.Fatal(err)
		}
		d, err := otrcrypto.GenerateDH3072Key(rng)
		if err != nil {
			b.Fatal(err)
		}
		f := m
		f.PN, f.MessageID = m.MessageID+900, 900
		pub := e.Public()
		f.ECDH = pub.Bytes()
		f.DH = d.Public().Bytes()
		f.Authenticator[0] ^= byte(i + 1)
		var bb cryptobyte.Builder
		h.Marshal(&bb)
		f.Marshal(&bb)
		out[i] = otrencoding.EncodeMessage(bb.BytesOrPanic())
	}
	return out
}

var attackKinds = []struct {
	name  string
	setup func(b *testing.B, v *victim) func(i int) string
}{
	{"Query", func(b *testing.B, v *victim) func(int) string {
		return func(int) string { return "?OTRv4?" }
	}},
	{"IdentityReplayed", func(b *testing.B, v *victim) func(int) string {
		id := startOf(b, v.mallory4, "?OTRv4?")
		return func(int) string { return id }
	}},
	{"IdentityRetagged", func(b *testing.B, v *victim) func(int) string {
		id := startOf(b, v.mallory4, "?OTRv4?")
		return func(i int) string { return retag(b, id, randomTag(i)) }
	}},
	{"DHCommitNewTag", func(b *testing.B, v *victim) func(int) string {
		c := startOf(b, v.mallory3, "?OTRv3?")
		return func(i int) string { return retag(b, c, randomTag(i)) }
	}},
	{"DataRatchetForged", func(b *testing.B, v *victim) func(int) string {
		msgs := forgedRatchet(b, v, 64)
		return func(i int) string { return msgs[i%len(msgs)] }
	}},
	{"DataDamaged", func(b *testing.B, v *victim) func(int) string {
		res, err := v.alice.sess.Send(0, "damaged")
		if err != nil {
			b.Fatal(err)
		}
		msg := tamper(b, res.Send[0].Text, func(p []byte) []byte {
			_, _, authLen, err := otrencoding.ParseDataMessage4(p)
			if err != nil {
				b.Fatal(err)
			}
			p[authLen] ^= 1 // the authenticator's first byte
			return p
		})
		return func(int) string { return msg }
	}},
	{"NonInteractiveAuthReplayed", func(b *testing.B, v *victim) func(int) string {
		// A copy of a Non-Interactive-Auth message whose prekey was
		// consumed: refused at the prekey lookup, before any scalar
		// multiplication.
		ens, err := v.bob.acct.MakePrekeys(1)
		if err != nil {
			b.Fatal(err)
		}
		res, err := v.mallory4.sess.StartOffline(otr.OfflineStart{Ensemble: ens[0], AllowUntrusted: true})
		if err != nil {
			b.Fatal(err)
		}
		auth := res.Send[0].Text
		if _, err := v.bob.sess.Receive(auth); err != nil {
			b.Fatal(err)
		}
		return func(int) string { return auth }
	}},
	{"Fragment", func(b *testing.B, v *victim) func(int) string {
		piece := strings.Repeat("A", 1000)
		sender, receiver := v.alice.acct.InstanceTag(), v.bob.acct.InstanceTag()
		return func(i int) string {
			return fmt.Sprintf("?OTR|%08x|%08x|%08x,%05d,%05d,%s,", uint32(i), sender, receiver, 1, 2, piece)
		}
	}},
}
