package otr_test

import (
	"fmt"

	"github.com/otrgo/otr"
)

// relay delivers messages between two sessions until both are quiet,
// showing each side's events.
func relay(from, to *otr.Session, msgs []otr.Message, show func(who string, ev otr.Event)) {
	names := map[*otr.Session]string{}
	for _, s := range []*otr.Session{from, to} {
		names[s] = map[string]string{"bob@example.org": "alice", "alice@example.org": "bob"}[s.Contact()]
	}
	for len(msgs) > 0 {
		var next []otr.Message
		for _, m := range msgs {
			res, err := to.Receive(m.Text)
			if err != nil {
				fmt.Println("error:", err)
			}
			for _, ev := range res.Events {
				show(names[to], ev)
			}
			next = append(next, res.Send...)
		}
		from, to, msgs = to, from, next
	}
}

func newExampleAccount(name string) *otr.Account {
	keys, err := otr.GenerateKeys(nil)
	if err != nil {
		panic(err)
	}
	acct, err := otr.NewAccount(name, keys, &otr.MemoryHost{}, nil)
	if err != nil {
		panic(err)
	}
	return acct
}

// Example runs a whole conversation between two accounts in one process.
func Example() {
	alice := newExampleAccount("alice@example.org").Session("bob@example.org")
	bob := newExampleAccount("bob@example.org").Session("alice@example.org")
	show := func(who string, ev otr.Event) {
		switch ev := ev.(type) {
		case otr.SecureEvent:
			fmt.Printf("%s: secure, OTR version %d\n", who, ev.Version)
		case otr.MessageEvent:
			fmt.Printf("%s reads: %s\n", who, ev.Text)
		case otr.FinishedEvent:
			fmt.Printf("%s: the contact ended the session\n", who)
		}
	}
	res, _ := alice.Start() // a query message
	relay(alice, bob, res.Send, show)
	res, _ = alice.Send(0, "Hello Bob!")
	relay(alice, bob, res.Send, show)
	res, _ = bob.Send(0, "Hi Alice.")
	relay(bob, alice, res.Send, show)
	res, _ = alice.End(0)
	relay(alice, bob, res.Send, show)
	fmt.Println("alice:", alice.Status(0), "bob:", bob.Status(0))
	// Output:
	// bob: secure, OTR version 4
	// alice: secure, OTR version 4
	// bob reads: Hello Bob!
	// alice reads: Hi Alice.
	// bob: the contact ended the session
	// alice: plaintext bob: finished
}

// ExampleSession_StartSMP verifies the contact with the Socialist
// Millionaires' Protocol: both users type the same secret.
func ExampleSession_StartSMP() {
	alice := newExampleAccount("alice@example.org").Session("bob@example.org")
	bob := newExampleAccount("bob@example.org").Session("alice@example.org")
	show := func(who string, ev otr.Event) {
		switch ev := ev.(type) {
		case otr.SMPQuestionEvent:
			fmt.Printf("%s is asked: %s\n", who, ev.Question)
		case otr.SMPSucceededEvent:
			if ev.AnsweredQuestion {
				// The contact chose the question: this proves us to
				// them, not them to us.
				fmt.Printf("%s: SMP succeeded, we proved who we are\n", who)
			} else {
				fmt.Printf("%s: SMP succeeded, the contact's fingerprint is verified\n", who)
			}
		case otr.SMPFailedEvent:
			fmt.Printf("%s: SMP failed\n", who)
		}
	}
	res, _ := alice.Start()
	relay(alice, bob, res.Send, show)

	res, _ = alice.StartSMP(0, []byte("the name of our first cat"), "Our first cat?")
	relay(alice, bob, res.Send, show)
	res, _ = bob.AnswerSMP(0, []byte("the name of our first cat"))
	relay(bob, alice, res.Send, show)
	// Output:
	// bob is asked: Our first cat?
	// bob: SMP succeeded, we proved who we are
	// alice: SMP succeeded, the contact's fingerprint is verified
}
