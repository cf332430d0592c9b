// Command demo runs a whole OTR conversation between Alice and Bob in one
// process and prints the transcript, wire messages included.
package main

import (
	"fmt"
	"log"
	"strings"

	"github.com/otrgo/otr"
)

type party struct {
	name string
	acct *otr.Account
	sess *otr.Session
}

func newParty(name, peer string) *party {
	keys, err := otr.GenerateKeys(nil)
	if err != nil {
		log.Fatal(err)
	}
	// A 400-byte limit shows fragmentation of the larger AKE messages.
	acct, err := otr.NewAccount(name, keys, &otr.MemoryHost{MaxSize: 400}, nil)
	if err != nil {
		log.Fatal(err)
	}
	return &party{name: name, acct: acct, sess: acct.Session(peer)}
}

// deliver carries messages back and forth until both sides are quiet.
func deliver(from, to *party, msgs []otr.Message) {
	for len(msgs) > 0 {
		var replies []otr.Message
		for _, m := range msgs {
			fmt.Printf("  %s -> %s: %s\n", from.name, to.name, short(m.Text))
			res, err := to.sess.Receive(m.Text)
			if err != nil {
				fmt.Printf("  %s: error: %v\n", to.name, err)
			}
			for _, ev := range res.Events {
				fmt.Printf("  [%s] %v\n", to.name, ev)
			}
			replies = append(replies, res.Send...)
		}
		from, to, msgs = to, from, replies
	}
}

func short(s string) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\t", `\t`), "\n", `\n`)
	if len(s) > 100 {
		return s[:97] + "..."
	}
	return s
}

func send(from, to *party, text string) {
	fmt.Printf("%s types %q\n", from.name, text)
	res, err := from.sess.Send(0, text)
	if err != nil {
		log.Fatal(err)
	}
	deliver(from, to, res.Send)
}

func main() {
	alice := newParty("alice@example.org", "bob@example.org")
	bob := newParty("bob@example.org", "alice@example.org")
	fmt.Printf("alice's fingerprints: OTR3 %s\n                      OTRv4 %s\n", alice.acct.Fingerprint(), alice.acct.Fingerprint4())
	fmt.Printf("bob's fingerprints:   OTR3 %s\n                      OTRv4 %s\n\n", bob.acct.Fingerprint(), bob.acct.Fingerprint4())

	fmt.Println("alice starts OTR")
	res, err := alice.sess.Start()
	if err != nil {
		log.Fatal(err)
	}
	deliver(alice, bob, res.Send)
	info, _ := alice.sess.Instance(0)
	fmt.Printf("\nalice: %s (OTR version %d), bob: %s\n", alice.sess.Status(0), info.Version, bob.sess.Status(0))
	ssid, _ := alice.sess.SSID(0)
	fmt.Printf("SSID: %s\n\n", ssid)

	send(alice, bob, "Hello Bob, are we private now?")
	send(bob, alice, "Yes, Alice. Nobody else can read this. ✓")
	send(alice, bob, "Great. Talk to you later!")

	fmt.Println("\nbob ends the session")
	res, err = bob.sess.End(0)
	if err != nil {
		log.Fatal(err)
	}
	for _, ev := range res.Events {
		fmt.Printf("  [bob] %v\n", ev)
	}
	deliver(bob, alice, res.Send)
	fmt.Printf("\nalice: %s, bob: %s\n", alice.sess.Status(0), bob.sess.Status(0))
}
