package filehost_test

import (
	"bytes"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/otrgo/otr"
	"github.com/otrgo/otr/filehost"
)

// relay delivers messages between two sessions until both are quiet and
// returns every event each side saw.
func relay(from, to *otr.Session, msgs []otr.Message) map[*otr.Session][]otr.Event {
	events := make(map[*otr.Session][]otr.Event)
	for len(msgs) > 0 {
		var next []otr.Message
		for _, m := range msgs {
			res, err := to.Receive(m.Text)
			if err != nil {
				log.Fatal(err)
			}
			events[to] = append(events[to], res.Events...)
			next = append(next, res.Send...)
		}
		from, to, msgs = to, from, next
	}
	return events
}

// showSecure prints what a client would show when the session becomes
// secure.
func showSecure(events []otr.Event) {
	for _, ev := range events {
		switch ev := ev.(type) {
		case otr.FingerprintEvent:
			fmt.Println("alice: bob has a fingerprint not seen before")
		case otr.SecureEvent:
			fmt.Printf("alice: secure with bob (OTR version %d), his fingerprint is %s\n", ev.Version, ev.Trust)
		}
	}
}

// Example keeps an account in a directory: its keys are generated on the
// first run and loaded after a restart, with the instance tag, the
// client profile and the trust the user gave bob's fingerprint.
func Example() {
	// In a client: one directory per local account, e.g. under
	// os.UserConfigDir().
	base, err := os.MkdirTemp("", "filehost-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(base)
	dir := filepath.Join(base, "alice@example.org")

	// Bob, the contact, runs some other client.
	bobKeys, err := otr.GenerateKeys(nil)
	if err != nil {
		log.Fatal(err)
	}
	bobAcct, err := otr.NewAccount("bob@example.org", bobKeys, &otr.MemoryHost{}, nil)
	if err != nil {
		log.Fatal(err)
	}

	// First run: new keys, stored in dir.
	host, err := filehost.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	keys, err := host.LoadOrGenerateKeys()
	if err != nil {
		log.Fatal(err)
	}
	acct, err := otr.NewAccount("alice@example.org", keys, host, nil)
	if err != nil {
		log.Fatal(err)
	}
	alice, bob := acct.Session("bob@example.org"), bobAcct.Session("alice@example.org")
	res, err := alice.Start()
	if err != nil {
		log.Fatal(err)
	}
	showSecure(relay(alice, bob, res.Send)[alice])
	// Alice and Bob compare fingerprints by phone: alice marks his.
	if _, err := alice.SetTrust(alice.TheirFingerprint(0), otr.Verified); err != nil {
		log.Fatal(err)
	}
	tag := acct.InstanceTag()
	if err := host.Close(); err != nil {
		log.Fatal(err)
	}

	// After a restart: the same keys, instance tag and trust.
	host, err = filehost.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer host.Close()
	again, err := host.LoadOrGenerateKeys()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same keys:", bytes.Equal(again.Fingerprint4(), keys.Fingerprint4()))
	acct, err = otr.NewAccount("alice@example.org", again, host, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same instance tag:", acct.InstanceTag() == tag)
	alice = acct.Session("bob@example.org")
	res, err = alice.Start()
	if err != nil {
		log.Fatal(err)
	}
	showSecure(relay(alice, bob, res.Send)[alice])
	// Output:
	// alice: secure with bob (OTR version 4), his fingerprint is untrusted
	// alice: bob has a fingerprint not seen before
	// same keys: true
	// same instance tag: true
	// alice: secure with bob (OTR version 4), his fingerprint is verified
}

// ExampleHost_ImportLibotr moves a Pidgin user's account: its key,
// instance tag and the contacts' fingerprints with their trust, from the
// files libotr keeps in ~/.purple (here, files libotr 4.1.1 wrote).
func ExampleHost_ImportLibotr() {
	dir, err := os.MkdirTemp("", "filehost-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	host, err := filehost.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer host.Close()

	purple := "../libotr/testdata" // in a client: filepath.Join(home, ".purple")
	rep, err := host.ImportLibotr(purple, filehost.LibotrAccount{Account: "alice@example.org", Protocol: "prpl-jabber"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("imported: %+v\n", rep)
	keys, err := host.Keys()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("our OTR3 fingerprint:", keys.Fingerprint())
	tag, err := host.InstanceTag()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("instance tag: %08x\n", tag)
	known, err := host.Fingerprints("carol@example.com")
	if err != nil {
		log.Fatal(err)
	}
	for _, k := range known {
		fmt.Printf("carol: %s %s\n", k.Fingerprint, k.Trust)
	}
	// Output:
	// imported: {Keys:true InstanceTag:true Fingerprints:2}
	// our OTR3 fingerprint: 4FDEAEEF E1AE6782 2A6A7BC7 3631270F 6C74A6DB
	// instance tag: db5804db
	// carol: FFFEFDFC FBFAF9F8 F7F6F5F4 F3F2F1F0 EFEEEDEC untrusted
	// carol: 000D1A27 34414E5B 6875828F 9CA9B6C3 D0DDEAF7 verified
}

// ExampleHost_ExportLibotr writes the account's OTR3 state for a libotr
// client. An untrusted fingerprint gets an empty trust field: libotr
// trusts a fingerprint with any word in it.
func ExampleHost_ExportLibotr() {
	base, err := os.MkdirTemp("", "filehost-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(base)
	host, err := filehost.Open(filepath.Join(base, "alice"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer host.Close()
	for _, fp := range []struct {
		hex   string
		trust otr.Trust
	}{
		{"4FDEAEEF E1AE6782 2A6A7BC7 3631270F 6C74A6DB", otr.Verified},
		{"8A4EF77A 894ECA6D 7D32307C 5978F2B7 2DC0E4E5", otr.Untrusted},
	} {
		f, err := otr.ParseFingerprint(fp.hex)
		if err != nil {
			log.Fatal(err)
		}
		if err := host.SetTrust("bob@example.org", f, fp.trust); err != nil {
			log.Fatal(err)
		}
	}

	out := filepath.Join(base, "for-pidgin") // a new directory: never ~/.purple itself
	if err := host.ExportLibotr(out, filehost.LibotrAccount{Account: "alice@example.org", Protocol: "prpl-jabber"}); err != nil {
		log.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, filehost.LibotrFingerprintsFile))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")))
	// Output:
	// ["bob@example.org\talice@example.org\tprpl-jabber\t4fdeaeefe1ae67822a6a7bc73631270f6c74a6db\tverified" "bob@example.org\talice@example.org\tprpl-jabber\t8a4ef77a894eca6d7d32307c5978f2b72dc0e4e5\t"]
}
