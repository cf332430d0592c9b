package filehost_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/otrgo/otr"
	"github.com/otrgo/otr/filehost"
)

// TestOfflineConversation: bob, whose account lives in a filehost
// directory, publishes prekeys; alice starts offline with one of them;
// bob reads her message, and the prekey he used is gone from his host,
// from its file too, and stays gone after Close and Open: the same
// messages again are a replay.
func TestOfflineConversation(t *testing.T) {
	now := time.Date(2025, 3, 9, 12, 0, 0, 0, time.UTC)
	seed := func(b byte) *mrand.ChaCha8 { return mrand.NewChaCha8([32]byte{'o', 'f', 'f', b}) }
	opts := func(b byte) *otr.Options {
		return &otr.Options{Rand: seed(b), Now: func() time.Time { return now }}
	}
	dir := filepath.Join(t.TempDir(), "bob")
	host, err := filehost.Open(dir, &filehost.Options{Rand: seed(1)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { host.Close() }()
	keys, err := host.LoadOrGenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	bobAcct, err := otr.NewAccount("bob@example.org", keys, host, opts(2))
	if err != nil {
		t.Fatal(err)
	}
	ensembles, err := bobAcct.MakePrekeys(3)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := host.Prekeys()
	if err != nil || len(stored) != 3 {
		t.Fatalf("Prekeys() after MakePrekeys(3) = %v, %v, want 3", stored, err)
	}
	secrets := make(map[uint32][]byte)
	for id := range stored {
		if secrets[id], err = host.Prekey(id); err != nil || secrets[id] == nil {
			t.Fatalf("Prekey(%08x) = %x, %v", id, secrets[id], err)
		}
	}
	if p, s, err := host.SharedPrekey(); p == nil || s == nil || err != nil {
		t.Fatalf("SharedPrekey() after MakePrekeys = %x, %x, %v, want the prekey profile", p, s, err)
	}

	aliceKeys, err := otr.GenerateKeys(seed(3))
	if err != nil {
		t.Fatal(err)
	}
	aliceAcct, err := otr.NewAccount("alice@example.org", aliceKeys, &otr.MemoryHost{}, opts(4))
	if err != nil {
		t.Fatal(err)
	}
	res, err := aliceAcct.Session("bob@example.org").StartOffline(otr.OfflineStart{Ensemble: ensembles[1], Texts: []string{"hi"}})
	if err != nil {
		t.Fatal(err)
	}
	sent := res.Send

	// receive delivers alice's messages to bob's account and returns what
	// he reads; it stops at the first error.
	receive := func(acct *otr.Account) ([]string, error) {
		bob := acct.Session("alice@example.org")
		var read []string
		for _, m := range sent {
			res, err := bob.Receive(m.Text)
			if err != nil {
				return read, err
			}
			for _, ev := range res.Events {
				if ev, ok := ev.(otr.MessageEvent); ok {
					read = append(read, ev.Text)
				}
			}
		}
		return read, nil
	}
	if read, err := receive(bobAcct); err != nil || len(read) != 1 || read[0] != "hi" {
		t.Fatalf("bob reads %q, %v, want \"hi\"", read, err)
	}

	after, err := host.Prekeys()
	if err != nil || len(after) != 2 {
		t.Fatalf("Prekeys() after bob read = %v, %v, want 2 left", after, err)
	}
	var used uint32
	for id := range stored {
		if _, ok := after[id]; !ok {
			used = id
		}
	}
	check := func(when string) {
		t.Helper()
		if got, err := host.Prekey(used); got != nil || err != nil {
			t.Errorf("Prekey(%08x) %s = %x, %v, want nil", used, when, got, err)
		}
		if ids, err := host.Prekeys(); len(ids) != 2 || err != nil {
			t.Errorf("Prekeys() %s = %v, %v, want 2", when, ids, err)
		} else if _, ok := ids[used]; ok {
			t.Errorf("Prekeys() %s lists %08x", when, used)
		}
		file, err := os.ReadFile(filepath.Join(dir, "prekeys.json"))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(file, []byte(base64.StdEncoding.EncodeToString(secrets[used]))) {
			t.Errorf("prekeys.json %s holds the used prekey's secret", when)
		}
		for id, s := range secrets {
			if id != used && !bytes.Contains(file, []byte(base64.StdEncoding.EncodeToString(s))) {
				t.Errorf("prekeys.json %s lacks the unused prekey %08x", when, id)
			}
		}
	}
	check("after bob read")

	if err := host.Close(); err != nil {
		t.Fatal(err)
	}
	if host, err = filehost.Open(dir, nil); err != nil {
		t.Fatal(err)
	}
	check("after Close and Open")
	keys, err = host.LoadOrGenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	bobAcct, err = otr.NewAccount("bob@example.org", keys, host, opts(5))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := receive(bobAcct); !errors.Is(err, otr.ErrReplay) {
		t.Errorf("alice's messages again after reopening: error %v, want ErrReplay", err)
	}
}
