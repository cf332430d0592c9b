package filehost

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/otrgo/otr"
	"github.com/otrgo/otr/libotr"
)

// libotrTestdata holds files libotr 4.1.1 wrote (see its README.md).
const libotrTestdata = "../libotr/testdata"

var alice = LibotrAccount{Account: "alice@example.org", Protocol: "prpl-jabber"}

func hexFP(t *testing.T, s string) otr.Fingerprint {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// copyLibotr copies libotr's test files to a new directory.
func copyLibotr(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{LibotrKeysFile, LibotrFingerprintsFile, LibotrInstanceTagsFile} {
		b, err := os.ReadFile(filepath.Join(libotrTestdata, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestImportLibotr imports files libotr wrote: alice's key (with the
// fingerprint libotr showed), her instance tag, carol's two fingerprints
// with the empty word untrusted and "verified" verified. A second import
// changes nothing.
func TestImportLibotr(t *testing.T) {
	h := openHost(t, t.TempDir(), &Options{Rand: seeded(4)})
	rep, err := h.ImportLibotr(libotrTestdata, alice)
	if err != nil {
		t.Fatalf("ImportLibotr() error = %v", err)
	}
	if want := (ImportReport{Keys: true, InstanceTag: true, Fingerprints: 2}); rep != want {
		t.Errorf("ImportLibotr() = %+v, want %+v", rep, want)
	}
	k, err := h.Keys()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := k.Fingerprint().String(), "4FDEAEEF E1AE6782 2A6A7BC7 3631270F 6C74A6DB"; got != want {
		t.Errorf("imported key's fingerprint %s, libotr's %s", got, want)
	}
	if !k.HasV4() {
		t.Error("imported keys have no OTRv4 keys")
	}
	if tag, err := h.InstanceTag(); err != nil || tag != 0xdb5804db {
		t.Errorf("InstanceTag() = %#x, %v, want libotr's 0xdb5804db", tag, err)
	}
	want := []otr.KnownFingerprint{
		{Fingerprint: hexFP(t, "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0efeeedec"), Trust: otr.Untrusted},
		{Fingerprint: hexFP(t, "000d1a2734414e5b6875828f9ca9b6c3d0ddeaf7"), Trust: otr.Verified},
	}
	if got, err := h.Fingerprints("carol@example.com"); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Fingerprints(carol) = %v, %v, want %v", got, err, want)
	}
	before := stateOf(t, h)
	rep, err = h.ImportLibotr(libotrTestdata, alice)
	if err != nil || rep != (ImportReport{}) {
		t.Errorf("second ImportLibotr() = %+v, %v, want nothing new", rep, err)
	}
	if got := stateOf(t, h); !reflect.DeepEqual(got, before) {
		t.Errorf("second import changed the state:\n%+v\nwant\n%+v", got, before)
	}
}

// TestImportTrustWords: each libotr word becomes the level libotr means;
// a known fingerprint is raised from Untrusted, never lowered.
func TestImportTrustWords(t *testing.T) {
	h := openHost(t, t.TempDir(), nil)
	if err := h.SetTrust("bob", fp3(5), otr.Verified); err != nil {
		t.Fatal(err)
	}
	if err := h.SetTrust("bob", fp3(6), otr.Untrusted); err != nil {
		t.Fatal(err)
	}
	if err := h.SetTrust("bob", fp3(7), otr.SMPVerified); err != nil {
		t.Fatal(err)
	}
	fps := []libotr.Fingerprint{
		{Username: "bob", Fingerprint: fp3(1), Trust: ""},
		{Username: "bob", Fingerprint: fp3(2), Trust: "verified"},
		{Username: "bob", Fingerprint: fp3(3), Trust: "smp"},
		{Username: "bob", Fingerprint: fp3(4), Trust: "some other client's word"},
		{Username: "bob", Fingerprint: fp3(5), Trust: ""},         // known Verified: kept
		{Username: "bob", Fingerprint: fp3(6), Trust: "smp"},      // known Untrusted: raised
		{Username: "bob", Fingerprint: fp3(7), Trust: "verified"}, // known SMPVerified: kept
		{Username: "carol", Fingerprint: fp3(8), Trust: "untrusted"},
	}
	for i := range fps {
		fps[i].Account, fps[i].Protocol = alice.Account, alice.Protocol
	}
	// Another account's line is not imported.
	fps = append(fps, libotr.Fingerprint{Username: "bob", Account: "alice", Protocol: "prpl-irc", Fingerprint: fp3(9), Trust: "smp"})
	dir := t.TempDir()
	var b bytes.Buffer
	if err := libotr.WriteFingerprints(&b, fps); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, LibotrFingerprintsFile), b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := h.ImportLibotr(dir, alice)
	if err != nil || rep != (ImportReport{Fingerprints: 6}) {
		t.Fatalf("ImportLibotr() = %+v, %v, want 6 fingerprints", rep, err)
	}
	wantBob := []otr.KnownFingerprint{
		{Fingerprint: fp3(5), Trust: otr.Verified},
		{Fingerprint: fp3(6), Trust: otr.SMPVerified},
		{Fingerprint: fp3(7), Trust: otr.SMPVerified},
		{Fingerprint: fp3(1), Trust: otr.Untrusted},
		{Fingerprint: fp3(2), Trust: otr.Verified},
		{Fingerprint: fp3(3), Trust: otr.SMPVerified},
		{Fingerprint: fp3(4), Trust: otr.Verified},
	}
	if got, _ := h.Fingerprints("bob"); !reflect.DeepEqual(got, wantBob) {
		t.Errorf("Fingerprints(bob) = %v, want %v", got, wantBob)
	}
	// "untrusted" is a word, and libotr trusts any word.
	if got, _ := h.Fingerprints("carol"); !reflect.DeepEqual(got, []otr.KnownFingerprint{{Fingerprint: fp3(8), Trust: otr.Verified}}) {
		t.Errorf("Fingerprints(carol) = %v, want fp 8 Verified", got)
	}
}

// TestImportRefused: a conflict, a malformed file, no file or nothing for
// the account: an error, and nothing stored.
func TestImportRefused(t *testing.T) {
	withOtherKeys := func(t *testing.T, h *Host) {
		if err := h.SetKeys(testKey(t, 0)); err != nil {
			t.Fatal(err)
		}
	}
	withOtherTag := func(t *testing.T, h *Host) {
		if err := h.SetInstanceTag(0x1234); err != nil {
			t.Fatal(err)
		}
	}
	malformed := func(name string) func(t *testing.T) string {
		return func(t *testing.T) string {
			dir := copyLibotr(t)
			path := filepath.Join(dir, name)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b[:len(b)-5], 0o600); err != nil {
				t.Fatal(err)
			}
			return dir
		}
	}
	tests := []struct {
		name    string
		setup   func(*testing.T, *Host)
		dir     func(*testing.T) string
		acct    LibotrAccount
		wantErr error
	}{
		{"other keys", withOtherKeys, copyLibotr, alice, ErrConflict},
		{"other instance tag", withOtherTag, copyLibotr, alice, ErrConflict},
		{"truncated key file", nil, malformed(LibotrKeysFile), alice, libotr.ErrMalformed},
		{"truncated fingerprints", nil, malformed(LibotrFingerprintsFile), alice, libotr.ErrMalformed},
		{"truncated instance tags", nil, malformed(LibotrInstanceTagsFile), alice, libotr.ErrMalformed},
		{"no files", nil, func(t *testing.T) string { return t.TempDir() }, alice, nil},
		{"other account", nil, copyLibotr, LibotrAccount{"alice@example.org", "prpl-irc"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := openHost(t, t.TempDir(), &Options{Rand: seeded(5)})
			if tc.setup != nil {
				tc.setup(t, h)
			}
			before := stateOf(t, h)
			rep, err := h.ImportLibotr(tc.dir(t), tc.acct)
			if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Errorf("ImportLibotr() = %+v, %v, want an error wrapping %v", rep, err, tc.wantErr)
			}
			if got := stateOf(t, h); !reflect.DeepEqual(got, before) {
				t.Errorf("a refused import changed the state:\n%+v\nwant\n%+v", got, before)
			}
		})
	}
}

// TestExportLibotr writes libotr's files: the DSA key, the tag, and the
// OTR3 fingerprints with libotr's words (empty for Untrusted); package
// libotr reads them back, and importing them into a new Host gives the
// same OTR3 state.
func TestExportLibotr(t *testing.T) {
	h := openHost(t, t.TempDir(), nil)
	fill(t, h)
	dir := filepath.Join(t.TempDir(), "export")
	if err := h.ExportLibotr(dir, alice); err != nil {
		t.Fatalf("ExportLibotr() error = %v", err)
	}

	f, err := os.ReadFile(filepath.Join(dir, LibotrFingerprintsFile))
	if err != nil {
		t.Fatal(err)
	}
	wantFPs := "bob@example.org\talice@example.org\tprpl-jabber\t" + strings.Repeat("ab", 20) + "\tverified\n" +
		"bob@example.org\talice@example.org\tprpl-jabber\t" + strings.Repeat("01", 20) + "\tsmp\n"
	if string(f) != wantFPs {
		t.Errorf("otr.fingerprints = %q, want %q", f, wantFPs)
	}
	if err := h.SetTrust("bob@example.org", fp3(0xab), otr.Untrusted); err != nil {
		t.Fatal(err)
	}
	dir2 := filepath.Join(t.TempDir(), "export")
	if err := h.ExportLibotr(dir2, alice); err != nil {
		t.Fatal(err)
	}
	f, err = os.ReadFile(filepath.Join(dir2, LibotrFingerprintsFile))
	if err != nil {
		t.Fatal(err)
	}
	fps, err := libotr.ReadFingerprints(bytes.NewReader(f))
	if err != nil || len(fps) != 2 || fps[0].Trust != "" || fps[0].Trusted() {
		t.Errorf("exported Untrusted fingerprint reads as %+v, %v, want the empty trust field", fps, err)
	}

	kf, err := os.Open(filepath.Join(dir, LibotrKeysFile))
	if err != nil {
		t.Fatal(err)
	}
	defer kf.Close()
	keys, err := libotr.ReadPrivateKeys(kf)
	if err != nil || len(keys) != 1 || keys[0].Account != alice.Account || keys[0].Protocol != alice.Protocol ||
		!bytes.Equal(keys[0].Keys.Fingerprint(), testKey(t, 0).Fingerprint()) {
		t.Errorf("exported otr.private_key reads as %+v, %v, want alice's key", keys, err)
	}
	tf, err := os.ReadFile(filepath.Join(dir, LibotrInstanceTagsFile))
	if err != nil {
		t.Fatal(err)
	}
	if tags, err := libotr.ReadInstanceTags(bytes.NewReader(tf)); err != nil ||
		!reflect.DeepEqual(tags, []libotr.InstanceTag{{Account: alice.Account, Protocol: alice.Protocol, Tag: 0x8d1a0b3c}}) {
		t.Errorf("exported otr.instance_tags reads as %+v, %v", tags, err)
	}

	// Back into a new Host: the OTR3 state, without the OTRv4 parts.
	h2 := openHost(t, t.TempDir(), &Options{Rand: seeded(6)})
	rep, err := h2.ImportLibotr(dir, alice)
	if err != nil || rep != (ImportReport{Keys: true, InstanceTag: true, Fingerprints: 2}) {
		t.Fatalf("ImportLibotr(export) = %+v, %v", rep, err)
	}
	want := []otr.KnownFingerprint{{Fingerprint: fp3(0xab), Trust: otr.Verified}, {Fingerprint: fp3(0x01), Trust: otr.SMPVerified}}
	if got, _ := h2.Fingerprints("bob@example.org"); !reflect.DeepEqual(got, want) {
		t.Errorf("Fingerprints(bob) after export and import = %v, want %v", got, want)
	}
}

// TestExportRefused: never into a directory holding one of libotr's files
// or libpurple's accounts.xml; nothing is written there.
func TestExportRefused(t *testing.T) {
	h := openHost(t, t.TempDir(), nil)
	fill(t, h)
	for _, name := range []string{LibotrKeysFile, LibotrFingerprintsFile, LibotrInstanceTagsFile, "accounts.xml"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, name), []byte("theirs"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := h.ExportLibotr(dir, alice); err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("ExportLibotr() into a directory with %s: error %v, want one naming it", name, err)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("ExportLibotr() wrote into the directory: %v", entries)
			}
		})
	}
	t.Run("bad contact name", func(t *testing.T) {
		h := openHost(t, t.TempDir(), nil)
		if err := h.SetTrust("bob\tx", fp3(1), otr.Verified); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := h.ExportLibotr(dir, alice); err == nil {
			t.Error("ExportLibotr() of a contact with a tab: no error")
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("a refused export wrote %v", entries)
		}
	})
	t.Run("appears during the export", func(t *testing.T) {
		dir := t.TempDir()
		err := writeNew(dir, LibotrFingerprintsFile, []byte("ours"))
		if err != nil {
			t.Fatal(err)
		}
		if err := writeNew(dir, LibotrFingerprintsFile, []byte("again")); err == nil {
			t.Error("writeNew() over an existing file: no error")
		}
		if b, _ := os.ReadFile(filepath.Join(dir, LibotrFingerprintsFile)); string(b) != "ours" {
			t.Errorf("writeNew() replaced a file: %q", b)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("writeNew() left %v", entries)
		}
	})
}
