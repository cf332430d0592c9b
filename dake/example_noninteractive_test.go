package dake_test

import (
	"fmt"
	"math/rand/v2"
	"time"

	otrcrypto "github.com/otrgo/otr/crypto"
	"github.com/otrgo/otr/dake"
	otrencoding "github.com/otrgo/otr/encoding"
)

// ExampleStartNonInteractive runs a non-interactive DAKE in memory: bob
// publishes a prekey ensemble and keeps its secrets, alice completes the
// DAKE with it, and bob verifies her message with his stored secrets.
func ExampleStartNonInteractive() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	week := now.Add(7 * 24 * time.Hour)
	config := func(tag uint32, seed byte, account, peer string) dake.Config {
		rng := rand.NewChaCha8([32]byte{seed}) // use crypto/rand.Reader in real code
		id, _ := otrcrypto.GenerateEdDSAKey(rng)
		forging, _ := otrcrypto.GenerateEdDSAKey(rng)
		fp := forging.Public()
		prof, _ := dake.NewClientProfile(rng, tag, id, &fp, "4", week, nil)
		return dake.Config{InstanceTag: tag, AccountID: account, PeerAccountID: peer, Profile: prof, Identity: id, Rand: rng}
	}
	bob := config(0x1000, 1, "bob@example.org", "alice@example.org")
	alice := config(0x2000, 2, "alice@example.org", "bob@example.org")

	// Bob publishes; his host stores the secrets.
	pp, shared, _ := dake.NewPrekeyProfile(bob.Rand, bob.InstanceTag, bob.Identity, week)
	pm, secrets, _ := dake.NewPrekeyMessage(bob.Rand, bob.InstanceTag)
	store := map[uint32][dake.PrekeySecretsSize]byte{pm.ID: secrets.Bytes()}
	published := (&dake.Ensemble{ClientProfile: bob.Profile, PrekeyProfile: pp, PrekeyMessage: pm}).Bytes()

	// Alice retrieves the ensemble and sends the Non-Interactive-Auth message.
	e, _ := dake.ParseEnsemble(published)
	msg, aliceKeys, err := dake.StartNonInteractive(alice, e, now)
	if err != nil {
		panic(err)
	}

	// Bob receives it.
	lookup := func(id uint32) (*dake.PrekeySecrets, *dake.SharedPrekeySecret, error) {
		enc, ok := store[id]
		if !ok {
			return nil, nil, dake.ErrUnknownPrekey
		}
		s, err := dake.ParsePrekeySecrets(enc[:])
		return s, shared, err
	}
	h, body, _ := otrencoding.ParseHeader(msg)
	bobKeys, consumed, err := dake.ReceiveNonInteractive(bob, h, body, lookup, now)
	if err != nil {
		panic(err)
	}
	delete(store, consumed) // before anything is delivered

	fmt.Println("same SSID:", aliceKeys.SSID == bobKeys.SSID)
	_, _, err = dake.ReceiveNonInteractive(bob, h, body, lookup, now)
	fmt.Println("replay:", err)
	// Output:
	// same SSID: true
	// replay: dake: unknown or consumed prekey message
}
