package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otrgo/otr"
)

// libotrKeyFile is the otr.private_key libotr 4.1.1 wrote, with the
// fingerprints libotr printed for it (libotr/testdata/README.md).
const libotrKeyFile = "../../libotr/testdata/otr.private_key"

var libotrFingerprints = map[string]string{
	"alice@example.org": "4FDEAEEF E1AE6782 2A6A7BC7 3631270F 6C74A6DB",
	"bob":               "8A4EF77A 894ECA6D 7D32307C 5978F2B7 2DC0E4E5",
}

func TestFingerprint(t *testing.T) {
	k := testKey(t, 0)
	ours := keyFile(t, 0)
	stdout, stderr, code := runTool(t, "", "fingerprint", ours, libotrKeyFile)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"OTR3 fingerprint: " + k.Fingerprint().String(),
		"OTRv4 fingerprint: " + k.Fingerprint4().String(),
		`account: "alice@example.org"`,
		`protocol: "prpl-jabber"`,
		"OTR3 fingerprint: " + libotrFingerprints["alice@example.org"],
		"OTR3 fingerprint: " + libotrFingerprints["bob"],
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}

	stdout, _, code = runTool(t, "", "fingerprint", "-json", libotrKeyFile, ours)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != 0 || len(lines) != 3 {
		t.Fatalf("-json: exit %d, output %q", code, stdout)
	}
	for i, want := range []map[string]any{
		{"account": "alice@example.org", "protocol": "prpl-jabber", "otr3_fingerprint": libotrFingerprints["alice@example.org"]},
		{"account": "bob", "protocol": "prpl-irc", "otr3_fingerprint": libotrFingerprints["bob"]},
		{"file": ours, "otr3_fingerprint": k.Fingerprint().String(), "otrv4_fingerprint": k.Fingerprint4().String()},
	} {
		var got map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &got); err != nil {
			t.Fatal(err)
		}
		for key, v := range want {
			if got[key] != v {
				t.Errorf("-json line %d: %s = %v, want %v", i, key, got[key], v)
			}
		}
	}

	for _, bad := range []string{writeFile(t, "junk", "not a key"), writeFile(t, "lib", "(privkeys (account"), filepath.Join(t.TempDir(), "none")} {
		if stdout, stderr, code := runTool(t, "", "fingerprint", bad); code != 1 || stdout != "" || stderr == "" {
			t.Errorf("fingerprint %s: exit %d, stdout %q, stderr %q", bad, code, stdout, stderr)
		}
	}
}

func TestKeygen(t *testing.T) {
	out := filepath.Join(t.TempDir(), "keys")
	stdout, stderr, code := runTool(t, "", "keygen", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	k, err := otr.ParsePrivateKeys(b)
	if err != nil {
		t.Fatal(err)
	}
	if !k.HasV4() || k.Fingerprint() == nil {
		t.Errorf("keygen made keys without both versions")
	}
	if !strings.Contains(stdout, k.Fingerprint().String()) || !strings.Contains(stdout, k.Fingerprint4().String()) {
		t.Errorf("output %q lacks the fingerprints", stdout)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, %v; want 0600", fi.Mode(), err)
	}
	if _, stderr, code := runTool(t, "", "keygen", "-o", out); code != 1 || !strings.Contains(stderr, "-force") {
		t.Errorf("keygen over an existing file: exit %d, stderr %q", code, stderr)
	}
	os.Chmod(out, 0o644)
	if _, stderr, code := runTool(t, "", "keygen", "-force", "-o", out); code != 0 {
		t.Errorf("keygen -force: exit %d, stderr %q", code, stderr)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode after -force %v, %v; want 0600", fi.Mode(), err)
	}
	if _, _, code := runTool(t, "", "keygen"); code != 2 {
		t.Errorf("keygen without -o: exit %d, want 2", code)
	}
}

func TestImportLibotr(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		args   []string
		fp     string // "" if it must fail
		wantV4 bool
	}{
		{"alice", []string{"-account", "alice@example.org"}, libotrFingerprints["alice@example.org"], true},
		{"bob by protocol", []string{"-protocol", "prpl-irc", "-v4=false"}, libotrFingerprints["bob"], false},
		{"ambiguous", nil, "", false},
		{"unknown", []string{"-account", "carol"}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, tc.name)
			args := append(append([]string{"import-libotr", "-o", out}, tc.args...), libotrKeyFile)
			stdout, stderr, code := runTool(t, "", args...)
			if tc.fp == "" {
				if code != 1 || !strings.Contains(stderr, "alice@example.org") {
					t.Errorf("exit %d, stderr %q; want a failure listing the accounts", code, stderr)
				}
				if _, err := os.Stat(out); err == nil {
					t.Errorf("a key file was written")
				}
				return
			}
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			k, err := otr.ParsePrivateKeys(b)
			if err != nil {
				t.Fatal(err)
			}
			if got := k.Fingerprint().String(); got != tc.fp || k.HasV4() != tc.wantV4 {
				t.Errorf("imported keys: fingerprint %s, OTRv4 %v; want %s, %v", got, k.HasV4(), tc.fp, tc.wantV4)
			}
			if !strings.Contains(stdout, tc.fp) {
				t.Errorf("output %q lacks the fingerprint", stdout)
			}
			// The imported file is what fingerprint reads.
			if fp, _, _ := runTool(t, "", "fingerprint", out); !strings.Contains(fp, tc.fp) {
				t.Errorf("fingerprint of the imported file: %q", fp)
			}
		})
	}
}

// TestHelp: every command explains itself on -h, on standard output, and
// exits 0; unknown commands and flags are usage errors.
func TestHelp(t *testing.T) {
	for _, c := range commands {
		stdout, stderr, code := runTool(t, "", c.name, "-h")
		if code != 0 || stderr != "" || !strings.HasPrefix(stdout, "usage: otrtool "+c.name) {
			t.Errorf("%s -h: exit %d, stderr %q, stdout %.60q", c.name, code, stderr, stdout)
		}
	}
	stdout, _, _ := runTool(t, "", "forge", "-h")
	for _, want := range []string{"Revealing MAC Keys", "Forging Transcripts", "ChaCha20", "forging key", "docs/deniability.md", "-mackey", "-enckey"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("forge -h does not mention %q", want)
		}
	}
	if stdout, _, code := runTool(t, "", "help"); code != 0 || !strings.Contains(stdout, "forge-dake") {
		t.Errorf("help: exit %d, %q", code, stdout)
	}
	for _, args := range [][]string{nil, {"frobnicate"}, {"parse", "-nosuchflag"}, {"forge", "-text", "x"}} {
		if _, stderr, code := runTool(t, "", args...); code != 2 || !strings.Contains(stderr, "usage") {
			t.Errorf("%q: exit %d, stderr %q; want 2 and the usage", args, code, stderr)
		}
	}
}
