package interop

import (
	"bytes"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/otrgo/otr"
	"github.com/otrgo/otr/filehost"
	"github.com/otrgo/otr/interop/libotrpeer"
	"github.com/otrgo/otr/libotr"
)

// These tests move a filehost.Host's OTR3 state to libotr 4.1.1 and back
// with ImportLibotr and ExportLibotr, and ask libotr itself what it makes
// of the trust: libotr trusts a fingerprint whose trust field is any
// non-empty word (otrl_context_is_fingerprint_trusted), so an Untrusted
// fingerprint must go out with the empty field.

// fhTrustToolSource reads an otr.fingerprints file with libotr and prints,
// per fingerprint, hex(username) hex(account) hex(protocol) fingerprint
// and libotr's verdict, otrl_context_is_fingerprint_trusted (0 or 1).
const fhTrustToolSource = `
#include <stdio.h>
#include <gcrypt.h>
#include <libotr/proto.h>
#include <libotr/userstate.h>
#include <libotr/privkey.h>
#include <libotr/context.h>

static void puthex(const char *s) {
	for (; *s; s++) printf("%02x", (unsigned char)*s);
}

int main(int argc, char **argv) {
	OTRL_INIT;
	if (argc != 2) return 2;
	OtrlUserState us = otrl_userstate_create();
	gcry_error_t err = otrl_privkey_read_fingerprints(us, argv[1], NULL, NULL);
	if (err) {
		fprintf(stderr, "otrl_privkey_read_fingerprints: %s\n", gcry_strerror(err));
		return 1;
	}
	for (ConnContext *c = us->context_root; c; c = c->next) {
		if (c->m_context != c) continue;
		for (Fingerprint *f = c->fingerprint_root.next; f; f = f->next) {
			puthex(c->username); printf("\t"); puthex(c->accountname); printf("\t");
			puthex(c->protocol); printf("\t");
			for (int i = 0; i < 20; i++) printf("%02x", f->fingerprint[i]);
			printf("\t%d\n", otrl_context_is_fingerprint_trusted(f));
		}
	}
	otrl_userstate_free(us);
	return 0;
}
`

// fhBuildTrustTool compiles fhTrustToolSource into dir.
func fhBuildTrustTool(t *testing.T, dir string) string {
	t.Helper()
	src := filepath.Join(dir, "libotrtrust.c")
	bin := filepath.Join(dir, "libotrtrust")
	if err := os.WriteFile(src, []byte(fhTrustToolSource), 0o600); err != nil {
		t.Fatal(err)
	}
	flags, err := exec.Command("pkg-config", "--cflags", "--libs", "libotr", "libgcrypt").Output()
	if err != nil {
		t.Fatalf("pkg-config libotr libgcrypt: %v (is libotr 4.1.1 installed?)", err)
	}
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	args := append([]string{"-std=c99", "-o", bin, src}, strings.Fields(string(flags))...)
	if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", cc, args, err, out)
	}
	return bin
}

// libotrTrusted returns libotr's verdict on each fingerprint of the
// otr.fingerprints file at path, by username and hex fingerprint.
func libotrTrusted(t *testing.T, tool, path string) map[[2]string]bool {
	t.Helper()
	got := make(map[[2]string]bool)
	for _, line := range lfRunTool(t, tool, path) {
		f := lfUnhexFields(t, line, 0, 1, 2)
		got[[2]string{f[0], f[3]}] = f[4] == "1"
	}
	return got
}

// TestFilehostTrustToLibotr: every trust level a Host exports is read by
// libotr as meant: Untrusted untrusted, Verified and SMPVerified trusted.
// libotr reads otr.Untrusted's name, "untrusted", as trusted: the reason
// the export writes the empty field.
func TestFilehostTrustToLibotr(t *testing.T) {
	dir := t.TempDir()
	tool := fhBuildTrustTool(t, dir)
	h, err := filehost.Open(filepath.Join(dir, "host"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	levels := map[otr.Trust]otr.Fingerprint{
		otr.Untrusted:   bytes.Repeat([]byte{0x11}, 20),
		otr.Verified:    bytes.Repeat([]byte{0x22}, 20),
		otr.SMPVerified: bytes.Repeat([]byte{0x33}, 20),
	}
	for level, fp := range levels {
		if err := h.SetTrust("carol@example.com", fp, level); err != nil {
			t.Fatal(err)
		}
	}
	// An OTRv4 fingerprint, which libotr's file cannot hold.
	if err := h.SetTrust("carol@example.com", bytes.Repeat([]byte{0x44}, 56), otr.Verified); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "export")
	acct := filehost.LibotrAccount{Account: "alice@example.org", Protocol: "prpl-jabber"}
	if err := h.ExportLibotr(out, acct); err != nil {
		t.Fatal(err)
	}
	got := libotrTrusted(t, tool, filepath.Join(out, filehost.LibotrFingerprintsFile))
	want := make(map[[2]string]bool)
	for level, fp := range levels {
		want[[2]string{"carol@example.com", hex.EncodeToString(fp)}] = level != otr.Untrusted
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("libotr read our export's trust as %v, want %v", got, want)
	}

	// The careless mapping: otr.Untrusted's text form as the word.
	careless := filepath.Join(dir, "careless.fingerprints")
	lfWriteFile(t, careless, func(b *bytes.Buffer) error {
		return libotr.WriteFingerprints(b, []libotr.Fingerprint{{Username: "carol@example.com", Account: acct.Account,
			Protocol: acct.Protocol, Fingerprint: levels[otr.Untrusted], Trust: otr.Untrusted.String()}})
	})
	if got := libotrTrusted(t, tool, careless); !got[[2]string{"carol@example.com", hex.EncodeToString(levels[otr.Untrusted])}] {
		t.Errorf("libotr does not trust a fingerprint with the word %q: the mapping's premise is wrong", otr.Untrusted.String())
	}
}

// TestFilehostExportToLibotrPeer: a Host standing for libotr's account
// exports its key, instance tag and trust in our fingerprint; a libotr
// client loads the three files, shows the Host's fingerprint and tag, and
// after an AKE with us reports the trust the Host gave us.
func TestFilehostExportToLibotrPeer(t *testing.T) {
	for level, word := range map[otr.Trust]string{otr.Untrusted: "", otr.Verified: "verified", otr.SMPVerified: "smp"} {
		t.Run(level.String(), func(t *testing.T) {
			dir := t.TempDir()
			h, err := filehost.Open(filepath.Join(dir, "host"), &filehost.Options{Rand: seeded(30)})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			keys, err := h.LoadOrGenerateKeys()
			if err != nil {
				t.Fatal(err)
			}
			const tag = 0x5eed1234
			if err := h.SetInstanceTag(tag); err != nil {
				t.Fatal(err)
			}
			if err := h.SetTrust(ourName, keysForUs(t).Fingerprint(), level); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "export")
			if err := h.ExportLibotr(out, filehost.LibotrAccount{Account: theirName, Protocol: "otrgo"}); err != nil {
				t.Fatal(err)
			}

			bob, err := libotrpeer.New(libotrpeer.Options{Account: theirName,
				KeyFile:    filepath.Join(out, filehost.LibotrKeysFile),
				InstagFile: filepath.Join(out, filehost.LibotrInstanceTagsFile)})
			if err != nil {
				t.Fatalf("libotr loading our export: %v", err)
			}
			t.Cleanup(bob.Close)
			if err := bob.ReadFingerprints(filepath.Join(out, filehost.LibotrFingerprintsFile)); err != nil {
				t.Fatal(err)
			}
			if got, want := bob.Fingerprint(), keys.Fingerprint().String(); got != want {
				t.Errorf("libotr's fingerprint of the exported key %s, the Host's %s", got, want)
			}
			if got := bob.InstanceTag(); got != tag {
				t.Errorf("libotr's instance tag %#x, the Host's %#x", got, uint32(tag))
			}

			acct, err := otr.NewAccount(ourName, keysForUs(t), &otr.MemoryHost{}, &otr.Options{Rand: seeded(31)})
			if err != nil {
				t.Fatal(err)
			}
			r := &relay{t: t, us: &ours{acct: acct, sess: acct.Session(theirName)}, them: []*theirs{{p: bob}}}
			r.fromUs(r.us.sess.Start())
			r.checkSecure(0)
			r.noErrors()
			// libotr trusts any word but the empty one.
			if got := bob.Trust(ourName); got != word {
				t.Errorf("libotr's trust in us %q, want %q", got, word)
			}
		})
	}
}

// TestFilehostImportFromLibotr: files libotr wrote itself (a generated
// key, an instance tag, fingerprints with and without trust) come into a
// Host with libotr's fingerprint and tag, and each trust word as libotr
// reads it; the imported account then talks to libotr, which sees the
// key it generated, and the Host records libotr's fingerprint.
func TestFilehostImportFromLibotr(t *testing.T) {
	dir := t.TempDir()
	tool := lfBuildTool(t, dir)
	trustTool := fhBuildTrustTool(t, dir)
	purple := filepath.Join(dir, "purple")
	if err := os.Mkdir(purple, 0o700); err != nil {
		t.Fatal(err)
	}
	const account, protocol = "alice@example.org", "otrgo"
	keyFile := filepath.Join(purple, filehost.LibotrKeysFile)
	var libotrFP string
	for _, a := range []string{"someone@example.net", account} {
		out := lfRunTool(t, tool, "genkey", keyFile, a, protocol)
		if len(out) != 1 {
			t.Fatalf("genkey printed %q", out)
		}
		libotrFP = out[0]
	}
	out := lfRunTool(t, tool, "geninstag", filepath.Join(purple, filehost.LibotrInstanceTagsFile), account, protocol)
	libotrTag, err := filehostParseTag(out)
	if err != nil {
		t.Fatal(err)
	}
	words := map[string]otr.Trust{
		"":                otr.Untrusted,
		"verified":        otr.Verified,
		"smp":             otr.SMPVerified,
		"some other word": otr.Verified,
	}
	var args []string
	fps := make(map[string]string) // word -> hex fingerprint
	i := byte(1)
	for word := range words {
		fp := hex.EncodeToString(bytes.Repeat([]byte{i}, 20))
		fps[word] = fp
		args = append(args, "carol@example.com", account, protocol, fp, word)
		i++
	}
	// Another account's fingerprint, not imported.
	args = append(args, "carol@example.com", "someone@example.net", protocol, strings.Repeat("ee", 20), "verified")
	fpFile := filepath.Join(purple, filehost.LibotrFingerprintsFile)
	lfRunTool(t, tool, append([]string{"writefps", fpFile}, args...)...)

	h, err := filehost.Open(filepath.Join(dir, "host"), &filehost.Options{Rand: seeded(32)})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	rep, err := h.ImportLibotr(purple, filehost.LibotrAccount{Account: account, Protocol: protocol})
	if err != nil {
		t.Fatalf("ImportLibotr(libotr's files) error = %v", err)
	}
	if want := (filehost.ImportReport{Keys: true, InstanceTag: true, Fingerprints: len(words)}); rep != want {
		t.Errorf("ImportLibotr() = %+v, want %+v", rep, want)
	}
	keys, err := h.Keys()
	if err != nil {
		t.Fatal(err)
	}
	if got := keys.Fingerprint().String(); got != libotrFP {
		t.Errorf("imported key's fingerprint %s, libotr's %s", got, libotrFP)
	}
	if got, err := h.InstanceTag(); err != nil || got != libotrTag {
		t.Errorf("imported instance tag %#x, %v, libotr's %#x", got, err, libotrTag)
	}
	known, err := h.Fingerprints("carol@example.com")
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]otr.Trust)
	for _, k := range known {
		got[hex.EncodeToString(k.Fingerprint)] = k.Trust
	}
	want := make(map[string]otr.Trust)
	for word, level := range words {
		want[fps[word]] = level
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("imported trust %v, want %v", got, want)
	}
	// Trusted by us exactly where libotr trusts.
	checked := 0
	for id, trusted := range libotrTrusted(t, trustTool, fpFile) {
		if level, ok := got[id[1]]; ok {
			checked++
			if (level != otr.Untrusted) != trusted {
				t.Errorf("fingerprint %s: imported as %v, libotr trusted = %v", id[1], level, trusted)
			}
		}
	}
	if checked != len(words) {
		t.Errorf("libotr reported %d of the %d imported fingerprints", checked, len(words))
	}

	// The imported account, on the Host, with libotr's bob.
	acct, err := otr.NewAccount(ourName, keys, h, &otr.Options{Rand: seeded(33)})
	if err != nil {
		t.Fatal(err)
	}
	bob := newLibotrPeer(t, libotrpeer.Options{Account: theirName})
	r := &relay{t: t, us: &ours{acct: acct, sess: acct.Session(theirName)}, them: []*theirs{{p: bob}}}
	r.fromUs(r.us.sess.Start())
	r.checkSecure(0)
	r.noErrors()
	if got := bob.TheirFingerprint(ourName); got != libotrFP {
		t.Errorf("libotr sees %q, the fingerprint libotr generated is %q", got, libotrFP)
	}
	bobKnown, err := h.Fingerprints(theirName)
	if err != nil || len(bobKnown) != 1 || bobKnown[0].Fingerprint.String() != bob.Fingerprint() || bobKnown[0].Trust != otr.Untrusted {
		t.Errorf("Host's record of libotr's bob: %v, %v, want %s untrusted", bobKnown, err, bob.Fingerprint())
	}
}

func filehostParseTag(out []string) (uint32, error) {
	if len(out) != 1 {
		return 0, os.ErrInvalid
	}
	b, err := hex.DecodeString(out[0])
	if err != nil || len(b) != 4 {
		return 0, os.ErrInvalid
	}
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]), nil
}
