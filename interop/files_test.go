package interop

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/otrgo/otr"
	"github.com/otrgo/otr/interop/libotrpeer"
	libotrfiles "github.com/otrgo/otr/libotr"
)

// These tests move libotr's files (otr.private_key, otr.instance_tags,
// otr.fingerprints) between libotr 4.1.1 and package otr/libotr.

func readAll(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A key file libotr generated is read by us, gives libotr's fingerprint,
// is written back byte for byte, and works in a session with libotr.
func TestPrivateKeyFromLibotr(t *testing.T) {
	const account = "carol@example.org"
	path := filepath.Join(t.TempDir(), "otr.private_key")
	if err := libotrpeer.GenerateKeyFile(path, account, "otrgo"); err != nil {
		t.Fatal(err)
	}
	carol := newLibotrPeer(t, libotrpeer.Options{Account: account, KeyFile: path})
	data := readAll(t, path)
	keys, err := libotrfiles.ReadPrivateKeys(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("ReadPrivateKeys of libotr's file: %v", err)
	}
	if len(keys) != 1 || keys[0].Account != account || keys[0].Protocol != "otrgo" {
		t.Fatalf("keys %+v, want one for %s/otrgo", keys, account)
	}
	if got, want := keys[0].Keys.Fingerprint().String(), carol.Fingerprint(); got != want {
		t.Errorf("fingerprint of the imported key %s, libotr's %s", got, want)
	}
	var out bytes.Buffer
	if err := libotrfiles.WritePrivateKeys(&out, keys); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Errorf("WritePrivateKeys gives\n%s\nlibotr wrote\n%s", out.Bytes(), data)
	}

	// Our account with carol's imported key talks to libotr's bob, who sees
	// carol's libotr fingerprint (the relay names us ourName).
	acct, err := otr.NewAccount(account, keys[0].Keys, &otr.MemoryHost{}, &otr.Options{Rand: seeded(9)})
	if err != nil {
		t.Fatal(err)
	}
	bob := newLibotrPeer(t, libotrpeer.Options{Account: theirName})
	r := &relay{t: t, us: &ours{acct: acct, sess: acct.Session(theirName)}, them: []*theirs{{p: bob}}}
	r.fromUs(r.us.sess.Start())
	if got, want := bob.TheirFingerprint(ourName), carol.Fingerprint(); got != want {
		t.Errorf("libotr sees %q, carol's libotr fingerprint is %q", got, want)
	}
	r.noErrors()
}

// Our key, written in libotr's format, is loaded by libotr, which shows our
// fingerprint and uses the key in an AKE with us.
func TestPrivateKeyToLibotr(t *testing.T) {
	const account = "dave@example.org"
	k, err := otr.GenerateKeys(seeded(11))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "otr.private_key")
	var buf bytes.Buffer
	if err := libotrfiles.WritePrivateKeys(&buf, []libotrfiles.PrivateKey{{Account: account, Protocol: "otrgo", Keys: k}}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	dave := newLibotrPeer(t, libotrpeer.Options{Account: account, KeyFile: path})
	if got, want := dave.Fingerprint(), k.Fingerprint().String(); got != want {
		t.Errorf("libotr shows fingerprint %s for our key %s", got, want)
	}
	// libotr's dave (our key) talks to our alice (another key).
	acct, err := otr.NewAccount(ourName, keysForUs(t), &otr.MemoryHost{}, &otr.Options{Rand: seeded(12)})
	if err != nil {
		t.Fatal(err)
	}
	sess := acct.Session(account)
	res, err := sess.Start()
	if err != nil {
		t.Fatal(err)
	}
	pumpWith(t, sess, dave, res.Send)
	if got := sess.TheirFingerprint(0).String(); got != k.Fingerprint().String() {
		t.Errorf("we see %q from libotr, want our exported key's %s", got, k.Fingerprint())
	}
	if !dave.Secure(ourName) {
		t.Error("libotr with our key is not secure")
	}
}

// pumpWith runs messages between our session and one libotr peer (which
// knows us as ourName) until quiet.
func pumpWith(t *testing.T, sess *otr.Session, p *libotrpeer.Peer, msgs []otr.Message) {
	t.Helper()
	for range 50 {
		if len(msgs) == 0 {
			return
		}
		var next []otr.Message
		for _, m := range msgs {
			got, err := p.Receive(ourName, m.Text)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range got.Inject {
				res, err := sess.Receive(w)
				if err != nil {
					t.Errorf("our Receive: %v", err)
				}
				next = append(next, res.Send...)
			}
		}
		msgs = next
	}
	t.Fatal("no end to the messages")
}

// libotr's instance tag file reads and writes back exactly; ours is loaded
// by libotr.
func TestInstanceTagFiles(t *testing.T) {
	p := newLibotrPeer(t, libotrpeer.Options{Account: theirName})
	data := readAll(t, p.InstagFile())
	tags, err := libotrfiles.ReadInstanceTags(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("ReadInstanceTags of libotr's file: %v", err)
	}
	if len(tags) != 1 || tags[0].Tag != p.InstanceTag() || tags[0].Account != theirName || tags[0].Protocol != "otrgo" {
		t.Errorf("tags %+v, want %#x for %s/otrgo", tags, p.InstanceTag(), theirName)
	}
	var out bytes.Buffer
	if err := libotrfiles.WriteInstanceTags(&out, tags); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Errorf("WriteInstanceTags gives %q, libotr wrote %q", out.Bytes(), data)
	}

	const tag = 0xfedcba98
	out.Reset()
	if err := libotrfiles.WriteInstanceTags(&out, []libotrfiles.InstanceTag{{Account: theirName, Protocol: "otrgo", Tag: tag}}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "otr.instance_tags")
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	q := newLibotrPeer(t, libotrpeer.Options{Account: theirName, InstagFile: path})
	if got := q.InstanceTag(); got != tag {
		t.Errorf("libotr read instance tag %#x from our file, want %#x", got, tag)
	}
}

// libotr's fingerprint store after an AKE with us names our fingerprint and
// reads and writes back exactly; a store we write with trust is honoured by
// libotr.
func TestFingerprintFiles(t *testing.T) {
	r := newRelay(t, setup{})
	r.fromUs(r.us.sess.Start())
	r.checkSecure(0)
	path := filepath.Join(t.TempDir(), "otr.fingerprints")
	if err := r.them[0].p.WriteFingerprints(path); err != nil {
		t.Fatal(err)
	}
	data := readAll(t, path)
	fps, err := libotrfiles.ReadFingerprints(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("ReadFingerprints of libotr's file: %v", err)
	}
	if len(fps) != 1 || fps[0].Username != ourName || fps[0].Account != theirName || fps[0].Protocol != "otrgo" ||
		!bytes.Equal(fps[0].Fingerprint, r.us.acct.Fingerprint()) || fps[0].Trusted() {
		t.Errorf("fingerprints %+v, want our untrusted fingerprint %s", fps, r.us.acct.Fingerprint())
	}
	var out bytes.Buffer
	if err := libotrfiles.WriteFingerprints(&out, fps); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Errorf("WriteFingerprints gives %q, libotr wrote %q", out.Bytes(), data)
	}

	// Our store, trusting our fingerprint, loaded by a new libotr user
	// state of the account: after an AKE libotr reports the trust.
	fps[0].Trust = libotrfiles.TrustVerified
	out.Reset()
	if err := libotrfiles.WriteFingerprints(&out, fps); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	r2 := newRelay(t, setup{})
	if err := r2.them[0].p.ReadFingerprints(path); err != nil {
		t.Fatal(err)
	}
	r2.fromUs(r2.us.sess.Start())
	r2.checkSecure(0)
	if got := r2.them[0].p.Trust(ourName); got != libotrfiles.TrustVerified {
		t.Errorf("libotr's trust in our fingerprint %q, want %q", got, libotrfiles.TrustVerified)
	}
}
