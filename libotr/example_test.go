package libotr_test

import (
	"fmt"
	"log"
	"os"

	"github.com/otrgo/otr/libotr"
)

// ExampleReadPrivateKeys imports the keys of a Pidgin account: the file was
// written by libotr 4.1.1 (see testdata/README.md), which showed the same
// fingerprints.
func ExampleReadPrivateKeys() {
	f, err := os.Open("testdata/otr.private_key")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	keys, err := libotr.ReadPrivateKeys(f)
	if err != nil {
		log.Fatal(err)
	}
	for _, k := range keys {
		fmt.Printf("%s (%s): %v\n", k.Account, k.Protocol, k.Keys.Fingerprint())
		k.Keys.Wipe()
	}
	// Output:
	// alice@example.org (prpl-jabber): 4FDEAEEF E1AE6782 2A6A7BC7 3631270F 6C74A6DB
	// bob (prpl-irc): 8A4EF77A 894ECA6D 7D32307C 5978F2B7 2DC0E4E5
}
