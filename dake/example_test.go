package dake_test

import (
	"fmt"
	"math/rand/v2"
	"time"

	otrcrypto "github.com/otrgo/otr/crypto"
	"github.com/otrgo/otr/dake"
	otrencoding "github.com/otrgo/otr/encoding"
)

// Example runs an interactive DAKE between two parties in memory.
func Example() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	party := func(tag uint32, seed byte, account, peer string) *dake.DAKE {
		rng := rand.NewChaCha8([32]byte{seed}) // use crypto/rand.Reader in real code
		id, _ := otrcrypto.GenerateEdDSAKey(rng)
		forging, _ := otrcrypto.GenerateEdDSAKey(rng)
		fp := forging.Public()
		prof, _ := dake.NewClientProfile(rng, tag, id, &fp, "4", now.Add(7*24*time.Hour), nil)
		d, _ := dake.New(dake.Config{InstanceTag: tag, AccountID: account, PeerAccountID: peer, Profile: prof, Identity: id, Rand: rng})
		return d
	}
	bob := party(0x1000, 1, "bob@example.org", "alice@example.org")
	alice := party(0x2000, 2, "alice@example.org", "bob@example.org")
	deliver := func(to *dake.DAKE, msg []byte) dake.Result {
		h, body, _ := otrencoding.ParseHeader(msg)
		r, err := to.Receive(h, body, now)
		if err != nil {
			panic(err)
		}
		return r
	}

	identity, _ := bob.Start()
	authR := deliver(alice, identity.Send)
	authI := deliver(bob, authR.Send)
	done := deliver(alice, authI.Send)

	fmt.Println("same SSID:", authI.Keys.SSID == done.Keys.SSID)
	fmt.Println("alice is alice:", done.Keys.IsAlice)
	// Output:
	// same SSID: true
	// alice is alice: true
}
