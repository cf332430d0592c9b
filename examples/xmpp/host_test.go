package main

import (
	"bytes"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otrgo/otr"
)

// seeded returns a deterministic randomness source.
func seeded(seed byte) io.Reader {
	return mrand.NewChaCha8([32]byte{'x', 'm', 'p', 'p', seed})
}

// TestDirHostPersists: what an account stores comes back from a fresh
// dirHost on the same directory, and NewAccount then keeps its instance
// tag and fingerprints.
func TestDirHostPersists(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	h, err := openDirHost(dir, seeded(1))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := h.LoadOrGenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	acct, err := otr.NewAccount("alice@example.org", keys, h, &otr.Options{Rand: seeded(2)})
	if err != nil {
		t.Fatal(err)
	}
	fp3 := otr.Fingerprint(bytes.Repeat([]byte{0xab}, 20))
	fp4 := otr.Fingerprint(bytes.Repeat([]byte{0xcd}, 56))
	for _, step := range []struct {
		fp otr.Fingerprint
		t  otr.Trust
	}{{fp3, otr.Untrusted}, {fp4, otr.SMPVerified}, {fp3, otr.Verified}} {
		if err := h.SetTrust("bob@example.org", step.fp, step.t); err != nil {
			t.Fatal(err)
		}
	}

	h2, err := openDirHost(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys2, err := h2.LoadOrGenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	acct2, err := otr.NewAccount("alice@example.org", keys2, h2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if acct2.InstanceTag() != acct.InstanceTag() {
		t.Errorf("instance tag %08x after reopening, want %08x", acct2.InstanceTag(), acct.InstanceTag())
	}
	if !bytes.Equal(acct2.Fingerprint(), acct.Fingerprint()) || !bytes.Equal(acct2.Fingerprint4(), acct.Fingerprint4()) {
		t.Errorf("fingerprints changed after reopening")
	}
	p1, _ := h.ClientProfile()
	p2, _ := h2.ClientProfile()
	if len(p1) == 0 || !bytes.Equal(p1, p2) {
		t.Errorf("client profile of %d bytes after reopening, want the %d stored", len(p2), len(p1))
	}
	known, err := h2.Fingerprints("bob@example.org")
	if err != nil {
		t.Fatal(err)
	}
	want := []otr.KnownFingerprint{{Fingerprint: fp3, Trust: otr.Verified}, {Fingerprint: fp4, Trust: otr.SMPVerified}}
	if len(known) != len(want) {
		t.Fatalf("Fingerprints = %v, want %v", known, want)
	}
	for i := range want {
		if !bytes.Equal(known[i].Fingerprint, want[i].Fingerprint) || known[i].Trust != want[i].Trust {
			t.Errorf("Fingerprints[%d] = %v %v, want %v %v", i, known[i].Fingerprint, known[i].Trust, want[i].Fingerprint, want[i].Trust)
		}
	}

	// Files are private and no temporary file is left behind.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
		if info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want no access for others", e.Name(), info.Mode().Perm())
		}
	}
}

// TestDirHostRefusesDamage: a damaged file is an error, never a fresh
// start (which would replace the user's keys or forget their trust).
func TestDirHostRefusesDamage(t *testing.T) {
	tests := []struct {
		name, file, content string
	}{
		{"truncated account", accountFile, `{"format": 1, "instance_tag": "8d1a0b3c"`},
		{"unknown member", accountFile, `{"format": 1, "instance_tag": "8d1a0b3c", "extra": 1}`},
		{"short tag", accountFile, `{"format": 1, "instance_tag": "8d1a0b"}`},
		{"other format", trustFile, `{"format": 2, "contacts": {}}`},
		{"bad fingerprint", trustFile, `{"format": 1, "contacts": {"bob@example.org": [{"fingerprint": "00", "trust": "smp"}]}}`},
		{"bad trust", trustFile, `{"format": 1, "contacts": {"bob@example.org": [{"fingerprint": "` + strings.Repeat("AB", 20) + `", "trust": "maybe"}]}}`},
		{"two values", trustFile, `{"format": 1, "contacts": {}} {}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, tc.file), []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := openDirHost(dir, nil); err == nil {
				t.Errorf("openDirHost with %s %q: no error", tc.file, tc.content)
			}
		})
	}
	t.Run("damaged keys", func(t *testing.T) {
		dir := t.TempDir()
		h, err := openDirHost(dir, seeded(3))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.LoadOrGenerateKeys(); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, keysFile)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 1
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := h.LoadOrGenerateKeys(); err == nil {
			t.Error("LoadOrGenerateKeys with a flipped bit: no error")
		}
	})
}
