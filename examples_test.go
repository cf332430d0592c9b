package otr_test

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/otrgo/otr"
)

// Generate identity keys once, keep their bytes, load them at the next
// start. The bytes are secret: store them readable by the user only.
func ExampleGenerateKeys() {
	keys, err := otr.GenerateKeys(nil) // OTR3 (DSA) and OTRv4 (Ed448) keys
	if err != nil {
		panic(err)
	}
	saved, err := keys.MarshalBinary()
	if err != nil {
		panic(err)
	}
	// ... later, in a new process:
	loaded, err := otr.ParsePrivateKeys(saved)
	if err != nil {
		panic(err)
	}
	fmt.Println("same OTR3 fingerprint:", bytes.Equal(loaded.Fingerprint(), keys.Fingerprint()))
	fmt.Println("same OTRv4 fingerprint:", bytes.Equal(loaded.Fingerprint4(), keys.Fingerprint4()))
	fmt.Println("versions:", keys.Fingerprint().Version(), keys.Fingerprint4().Version())
	keys.Wipe()
	// Output:
	// same OTR3 fingerprint: true
	// same OTRv4 fingerprint: true
	// versions: 3 4
}

// A trust decision: the user compares the contact's fingerprint out of
// band and marks it verified. When the contact later shows up with
// another key, the FingerprintEvent says it differs from the trusted one,
// and the user's words stay with the trusted key.
func ExampleSession_SetTrust() {
	aliceAcct := newExampleAccount("alice@example.org")
	alice := aliceAcct.Session("bob@example.org")
	bob := newExampleAccount("bob@example.org").Session("alice@example.org")
	show := func(who string, ev otr.Event) {
		if who != "alice" {
			return
		}
		switch ev := ev.(type) {
		case otr.SecureEvent:
			fmt.Printf("%s: secure (trust: %v)\n", who, ev.Trust)
		case otr.FingerprintEvent:
			fmt.Printf("%s: new fingerprint, differs from a trusted one: %v\n", who, ev.Changed)
		case otr.PendingSentEvent:
			fmt.Printf("%s: %d queued messages sent\n", who, ev.Count)
		}
	}
	res, _ := alice.Start()
	relay(alice, bob, res.Send, show)

	// The user read bob's fingerprint to him on the phone.
	fp := alice.TheirFingerprint(0)
	if _, err := alice.SetTrust(fp, otr.Verified); err != nil {
		panic(err)
	}
	// Bob reinstalls: a new key, same name.
	bob2 := newExampleAccount("bob@example.org").Session("alice@example.org")
	res, _ = bob2.Start()
	relay(bob2, alice, res.Send, show)
	info, _ := alice.Instance(0)
	fmt.Println("alice's words go to the trusted key:", bytes.Equal(info.Fingerprint, fp))
	// Output:
	// alice: secure (trust: untrusted)
	// alice: new fingerprint, differs from a trusted one: false
	// alice: secure (trust: untrusted)
	// alice: new fingerprint, differs from a trusted one: true
	// alice's words go to the trusted key: true
}

// The library keeps no timers: call Expire when NextDeadline says. Here a
// fake clock stands in for time.Now, and the loop runs for a simulated two
// hours; a real program would sleep (or use a time.Timer) until the
// deadline.
func ExampleAccount_NextDeadline() {
	now := time.Unix(1_750_000_000, 0)
	clock := func() time.Time { return now }
	keys, _ := otr.GenerateKeys(nil)
	acct, _ := otr.NewAccount("alice@example.org", keys, &otr.MemoryHost{}, &otr.Options{Now: clock, ExpireAfter: time.Hour})
	bobKeys, _ := otr.GenerateKeys(nil)
	bobAcct, _ := otr.NewAccount("bob@example.org", bobKeys, &otr.MemoryHost{}, &otr.Options{Now: clock})
	alice, bob := acct.Session("bob@example.org"), bobAcct.Session("alice@example.org")
	res, _ := alice.Start()
	relay(alice, bob, res.Send, func(string, otr.Event) {})

	end := now.Add(2 * time.Hour)
	for {
		next, ok := acct.NextDeadline()
		if !ok || next.After(end) {
			break
		}
		now = next // time.Sleep(time.Until(next)) in a real program
		res, err := acct.Expire()
		if err != nil {
			fmt.Println("expire:", err)
		}
		for _, ev := range res.Events {
			if ev, ok := ev.(otr.EndedEvent); ok {
				fmt.Printf("after %v: session ended, idle (expired: %v)\n", now.Sub(time.Unix(1_750_000_000, 0)), ev.Expired)
			}
		}
		// transmit res.Send as usual
	}
	// Output:
	// after 1h0m0s: session ended, idle (expired: true)
}

// Per-contact policies: a PolicyHost answers when a session is created;
// Session.SetPolicy changes one at run time.
func ExamplePolicyHost() {
	host := &otr.MemoryHost{} // implements PolicyHost
	host.SetPolicy("boss@example.org", otr.AllowV4|otr.RequireEncryption)
	host.SetPolicy("bot@example.org", 0) // never OTR
	keys, _ := otr.GenerateKeys(nil)
	acct, _ := otr.NewAccount("alice@example.org", keys, host, nil)
	for _, c := range []string{"boss@example.org", "bot@example.org", "friend@example.org"} {
		fmt.Printf("%s: %v\n", c, acct.Session(c).Policy())
	}
	// Output:
	// boss@example.org: ALLOW_V4|REQUIRE_ENCRYPTION
	// bot@example.org: NEVER
	// friend@example.org: ALLOW_V3|ALLOW_V4|SEND_WHITESPACE_TAG|WHITESPACE_START_AKE|ERROR_START_AKE
}

// OTRv4 only, and never a word in plaintext: text typed before the key
// exchange waits for it.
func Example_otrv4() {
	opts := &otr.Options{Policy: otr.AllowV4 | otr.RequireEncryption}
	newAcct := func(name string) *otr.Account {
		keys, _ := otr.GenerateKeys(nil)
		acct, err := otr.NewAccount(name, keys, &otr.MemoryHost{}, opts)
		if err != nil {
			panic(err)
		}
		return acct
	}
	alice := newAcct("alice@example.org").Session("bob@example.org")
	bob := newAcct("bob@example.org").Session("alice@example.org")
	res, _ := alice.Send(0, "only for you") // queued; a query goes out
	fmt.Println("alice sends:", res.Send[0].Text)
	relay(alice, bob, res.Send, func(who string, ev otr.Event) {
		switch ev := ev.(type) {
		case otr.SecureEvent:
			fmt.Printf("%s: secure, OTR version %d\n", who, ev.Version)
		case otr.MessageEvent:
			fmt.Printf("%s reads: %s\n", who, ev.Text)
		}
	})
	// Output:
	// alice sends: ?OTRv4?
	// bob: secure, OTR version 4
	// alice: secure, OTR version 4
	// bob reads: only for you
}

// A contact logged in twice (two clients, two instance tags): Instances
// lists them, Send with a tag talks to one of them; Send(0) uses the
// default instance.
func ExampleSession_Instances() {
	alice := newExampleAccount("alice@example.org").Session("bob@example.org")
	phone := newExampleAccount("bob@example.org").Session("alice@example.org")
	laptop := newExampleAccount("bob@example.org").Session("alice@example.org")
	quiet := func(string, otr.Event) {}
	for _, bob := range []*otr.Session{phone, laptop} {
		res, _ := bob.Start()
		relay(bob, alice, res.Send, quiet)
	}
	list := alice.Instances()
	fmt.Println("instances:", len(list), list[0].Status, list[1].Status)
	res, _ := alice.Send(list[0].Tag, "to one client only")
	got := func(s *otr.Session) (n int) {
		for _, m := range res.Send {
			r, _ := s.Receive(m.Text)
			for _, ev := range r.Events {
				if _, ok := ev.(otr.MessageEvent); ok {
					n++
				}
			}
		}
		return n
	}
	fmt.Println("read by the phone and the laptop:", got(phone)+got(laptop))
	// Output:
	// instances: 2 encrypted encrypted
	// read by the phone and the laptop: 1
}

// The extra symmetric key: both sides derive the same key from the
// session, for use outside OTR (say, to encrypt a file transfer).
func ExampleSession_ExtraSymmetricKey() {
	alice := newExampleAccount("alice@example.org").Session("bob@example.org")
	bob := newExampleAccount("bob@example.org").Session("alice@example.org")
	res, _ := alice.Start()
	relay(alice, bob, res.Send, func(string, otr.Event) {})

	key, res, err := alice.ExtraSymmetricKey(0, 1, []byte("file.txt"))
	if err != nil {
		panic(err)
	}
	relay(alice, bob, res.Send, func(who string, ev otr.Event) {
		if ev, ok := ev.(otr.ExtraKeyEvent); ok {
			fmt.Printf("%s gets the key for use %d (%s): same key %v\n", who, ev.Use, ev.Data, bytes.Equal(ev.Key, key))
			clear(ev.Key)
		}
	})
	clear(key)
	// Output:
	// bob gets the key for use 1 (file.txt): same key true
}

// Rejected input is a *ProtocolError that unwraps to a sentinel; the
// session is unchanged. The Result may still carry an OTR error message to
// send to the contact.
func ExampleProtocolError() {
	alice := newExampleAccount("alice@example.org").Session("bob@example.org")
	bob := newExampleAccount("bob@example.org").Session("alice@example.org")
	res, _ := alice.Start()
	relay(alice, bob, res.Send, func(string, otr.Event) {})

	res, _ = alice.Send(0, "hello")
	replayed := res.Send[0].Text
	bob.Receive(replayed)
	res, err := bob.Receive(replayed) // the same message again
	var pe *otr.ProtocolError
	if errors.As(err, &pe) {
		fmt.Println("rejected:", pe.MsgType, "message, version", pe.Version)
		fmt.Println("a replay:", errors.Is(err, otr.ErrReplay))
		fmt.Println("error message for alice:", len(res.Send) == 1)
	}
	fmt.Println("bob still:", bob.Status(0))
	// Output:
	// rejected: data message, version 4
	// a replay: true
	// error message for alice: true
	// bob still: encrypted
}

// Alice writes to Bob while he is offline (OTRv4's non-interactive DAKE):
// Bob published prekey ensembles on a prekey server (here a slice); Alice
// takes one, and her first message leaves at once; Bob reads it when he is
// back, and the conversation goes on as any other.
func ExampleSession_StartOffline() {
	bobAcct := newExampleAccount("bob@example.org") // its MemoryHost keeps the prekey secrets
	server, err := bobAcct.MakePrekeys(5)           // publish these
	if err != nil {
		panic(err)
	}
	alice := newExampleAccount("alice@example.org").Session("bob@example.org")
	res, err := alice.StartOffline(otr.OfflineStart{Ensemble: server[0], Texts: []string{"see you at eight"}})
	if err != nil {
		panic(err)
	}
	fmt.Println("alice: encrypted to bob's key before he answered:", alice.Status(0))

	// ... later, bob comes online and receives what was stored for him.
	bob := bobAcct.Session("alice@example.org")
	relay(alice, bob, res.Send, func(who string, ev otr.Event) {
		switch ev := ev.(type) {
		case otr.SecureEvent:
			fmt.Printf("%s: secure, OTR version %d\n", who, ev.Version)
		case otr.MessageEvent:
			fmt.Printf("%s reads: %s\n", who, ev.Text)
		}
	})
	res, _ = bob.Send(0, "eight it is")
	relay(bob, alice, res.Send, func(who string, ev otr.Event) {
		if ev, ok := ev.(otr.MessageEvent); ok {
			fmt.Printf("%s reads: %s\n", who, ev.Text)
		}
	})
	// Output:
	// alice: encrypted to bob's key before he answered: encrypted
	// bob: secure, OTR version 4
	// bob reads: see you at eight
	// alice reads: eight it is
}
