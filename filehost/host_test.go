package filehost

import (
	"bytes"
	"errors"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otrgo/otr"
)

// seeded returns a deterministic randomness source.
func seeded(seed byte) *mrand.ChaCha8 {
	return mrand.NewChaCha8([32]byte{'f', 'i', 'l', 'e', 'h', 'o', 's', 't', seed})
}

var (
	testKeysOnce sync.Once
	testKeys     [2][]byte
)

// keyFile returns the key file (format 3) of one of two test keys,
// generated once per test binary.
func keyFile(t testing.TB, i int) []byte {
	t.Helper()
	testKeysOnce.Do(func() {
		for j := range testKeys {
			k, err := otr.GenerateKeys(seeded(byte(100 + j)))
			if err != nil {
				panic(err)
			}
			if testKeys[j], err = k.MarshalBinary(); err != nil {
				panic(err)
			}
		}
	})
	return bytes.Clone(testKeys[i])
}

func testKey(t testing.TB, i int) *otr.PrivateKeys {
	t.Helper()
	k, err := otr.ParsePrivateKeys(keyFile(t, i))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func openHost(t testing.TB, dir string, o *Options) *Host {
	t.Helper()
	h, err := Open(dir, o)
	if err != nil {
		t.Fatalf("Open(%s) error = %v", dir, err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// prekeyTime is the deletion time of the prekeys fill stores.
var prekeyTime = time.Date(2025, 3, 9, 12, 0, 0, 0, time.UTC)

func fp3(b byte) otr.Fingerprint { return otr.Fingerprint(bytes.Repeat([]byte{b}, 20)) }
func fp4(b byte) otr.Fingerprint { return otr.Fingerprint(bytes.Repeat([]byte{b}, 56)) }

// fill stores one of everything a Host keeps.
func fill(t *testing.T, h *Host) {
	t.Helper()
	if err := h.SetKeys(testKey(t, 0)); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		h.SetInstanceTag(0x8d1a0b3c),
		h.SetClientProfile([]byte("profile bytes")),
		h.SetTrust("bob@example.org", fp3(0xab), otr.Verified),
		h.SetTrust("bob@example.org", fp4(0xcd), otr.Untrusted),
		h.SetTrust("bob@example.org", fp3(0x01), otr.SMPVerified),
		h.SetTrust("carol", fp4(0x02), otr.SMPVerified),
		h.SetPolicy("bob@example.org", otr.AllowV3|otr.AllowV4|otr.RequireEncryption),
		h.SetPolicy("dave", 0),
		h.StorePrekey(0x0a1b2c3d, bytes.Repeat([]byte{1}, 8), prekeyTime),
		h.StorePrekey(0xfffffff0, []byte("second secret"), prekeyTime.Add(time.Hour)),
		h.SetSharedPrekey([]byte("prekey profile"), []byte("shared secret")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// state is everything a Host answers, for comparisons.
type state struct {
	Tag      uint32
	Profile  []byte
	Trust    map[string][]otr.KnownFingerprint
	Policies map[string]otr.Policy
	Contacts []string
	FP3, FP4 string
	// Prekeys maps each stored prekey identifier to its deletion time and
	// secret.
	Prekeys       map[uint32]storedPrekey
	PrekeyProfile []byte
	SharedPrekey  []byte
}

func stateOf(t *testing.T, h *Host) state {
	t.Helper()
	var s state
	var err error
	if s.Tag, err = h.InstanceTag(); err != nil {
		t.Fatal(err)
	}
	if s.Profile, err = h.ClientProfile(); err != nil {
		t.Fatal(err)
	}
	if s.Contacts, err = h.Contacts(); err != nil {
		t.Fatal(err)
	}
	s.Trust = make(map[string][]otr.KnownFingerprint)
	s.Policies = make(map[string]otr.Policy)
	for _, c := range s.Contacts {
		if s.Trust[c], err = h.Fingerprints(c); err != nil {
			t.Fatal(err)
		}
		if p, ok := h.Policy(c); ok {
			s.Policies[c] = p
		}
	}
	if k, err := h.Keys(); err == nil {
		s.FP3, s.FP4 = k.Fingerprint().String(), k.Fingerprint4().String()
	} else if !errors.Is(err, ErrNoKeys) {
		t.Fatal(err)
	}
	ids, err := h.Prekeys()
	if err != nil {
		t.Fatal(err)
	}
	s.Prekeys = make(map[uint32]storedPrekey, len(ids))
	for id, after := range ids {
		secret, err := h.Prekey(id)
		if err != nil {
			t.Fatal(err)
		}
		s.Prekeys[id] = storedPrekey{secret, after}
	}
	if s.PrekeyProfile, s.SharedPrekey, err = h.SharedPrekey(); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestReopen: everything stored is there after Close and Open, and the
// keys are loaded, not generated again.
func TestReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "alice")
	h := openHost(t, dir, &Options{Rand: seeded(1)})
	k, err := h.LoadOrGenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	fill(t, h)
	if err := h.SetKeys(k); err != nil {
		t.Fatal(err)
	}
	want := stateOf(t, h)
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}

	h = openHost(t, dir, &Options{Rand: seeded(2)})
	if got := stateOf(t, h); !reflect.DeepEqual(got, want) {
		t.Errorf("after reopening:\n%+v\nwant\n%+v", got, want)
	}
	again, err := h.LoadOrGenerateKeys()
	if err != nil || !bytes.Equal(again.Fingerprint4(), k.Fingerprint4()) || !bytes.Equal(again.Fingerprint(), k.Fingerprint()) {
		t.Errorf("LoadOrGenerateKeys() after reopening = %v, %v, want the stored keys", again, err)
	}
	if want := []string{"bob@example.org", "carol", "dave"}; !slices.Equal(want, stateOf(t, h).Contacts) {
		t.Errorf("Contacts() = %q, want %q", stateOf(t, h).Contacts, want)
	}
	if p, ok := h.Policy("dave"); !ok || p != 0 {
		t.Errorf("Policy(dave) = %v, %v, want NEVER, true", p, ok)
	}
	if p, ok := h.Policy("nobody"); ok {
		t.Errorf("Policy(nobody) = %v, true, want none", p)
	}
}

// TestLayout: the directory holds the documented files with the
// documented modes, and trust.json reads as documented.
func TestLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "alice")
	h := openHost(t, dir, nil)
	fill(t, h)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		if runtime.GOOS == "windows" {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s has mode %#o, want 0600", e.Name(), m)
		}
	}
	if want := []string{"account.json", "lock", "policies.json", "prekeys.json", "private_keys", "trust.json"}; !slices.Equal(names, want) {
		t.Errorf("directory holds %q, want %q", names, want)
	}
	if fi, err := os.Stat(dir); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o700) {
		t.Errorf("directory mode %v, %v, want 0700", fi.Mode(), err)
	}
	wantTrust := `{
  "format": 1,
  "contacts": {
    "bob@example.org": [
      {
        "fingerprint": "ABABABAB ABABABAB ABABABAB ABABABAB ABABABAB",
        "trust": "verified"
      },
      {
        "fingerprint": "` + strings.Repeat("CD", 56) + `",
        "trust": "untrusted"
      },
      {
        "fingerprint": "01010101 01010101 01010101 01010101 01010101",
        "trust": "smp"
      }
    ],
    "carol": [
      {
        "fingerprint": "` + strings.Repeat("02", 56) + `",
        "trust": "smp"
      }
    ]
  }
}
`
	if b, err := os.ReadFile(filepath.Join(dir, trustName)); err != nil || string(b) != wantTrust {
		t.Errorf("trust.json =\n%s\n(%v), want\n%s", b, err, wantTrust)
	}
	wantAccount := "{\n  \"format\": 1,\n  \"instance_tag\": \"8d1a0b3c\",\n  \"client_profile\": \"cHJvZmlsZSBieXRlcw==\"\n}\n"
	if b, err := os.ReadFile(filepath.Join(dir, accountName)); err != nil || string(b) != wantAccount {
		t.Errorf("account.json =\n%s\n(%v), want\n%s", b, err, wantAccount)
	}
	wantPolicies := "{\n  \"format\": 1,\n  \"policies\": {\n    \"bob@example.org\": \"ALLOW_V3|ALLOW_V4|REQUIRE_ENCRYPTION\",\n    \"dave\": \"NEVER\"\n  }\n}\n"
	if b, err := os.ReadFile(filepath.Join(dir, policiesName)); err != nil || string(b) != wantPolicies {
		t.Errorf("policies.json =\n%s\n(%v), want\n%s", b, err, wantPolicies)
	}
	wantPrekeys := `{
  "format": 1,
  "prekeys": {
    "0a1b2c3d": {
      "secret": "AQEBAQEBAQE=",
      "delete_after": "2025-03-09T12:00:00Z"
    },
    "fffffff0": {
      "secret": "c2Vjb25kIHNlY3JldA==",
      "delete_after": "2025-03-09T13:00:00Z"
    }
  },
  "prekey_profile": "cHJla2V5IHByb2ZpbGU=",
  "shared_prekey_secret": "c2hhcmVkIHNlY3JldA=="
}
`
	if b, err := os.ReadFile(filepath.Join(dir, prekeysName)); err != nil || string(b) != wantPrekeys {
		t.Errorf("prekeys.json =\n%s\n(%v), want\n%s", b, err, wantPrekeys)
	}
	if b, err := os.ReadFile(filepath.Join(dir, keysName)); err != nil || !bytes.Equal(b, keyFile(t, 0)) {
		t.Errorf("private_keys is not the keys' MarshalBinary (%v)", err)
	}
}

// TestChanges: SetTrust changes a level in place, DeleteFingerprint and
// DeletePolicy forget, an empty profile removes it, and nothing is
// written for a change that changes nothing.
func TestChanges(t *testing.T) {
	dir := t.TempDir()
	h := openHost(t, dir, nil)
	fill(t, h)
	if err := h.SetTrust("bob@example.org", fp4(0xcd), otr.Verified); err != nil {
		t.Fatal(err)
	}
	if err := h.DeleteFingerprint("bob@example.org", fp3(0xab)); err != nil {
		t.Fatal(err)
	}
	if err := h.DeleteFingerprint("carol", fp4(0x02)); err != nil {
		t.Fatal(err)
	}
	if err := h.DeletePolicy("dave"); err != nil {
		t.Fatal(err)
	}
	if err := h.SetClientProfile(nil); err != nil {
		t.Fatal(err)
	}
	want := []otr.KnownFingerprint{{Fingerprint: fp4(0xcd), Trust: otr.Verified}, {Fingerprint: fp3(0x01), Trust: otr.SMPVerified}}
	check := func(h *Host) {
		t.Helper()
		if got, err := h.Fingerprints("bob@example.org"); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Fingerprints(bob) = %v, %v, want %v", got, err, want)
		}
		if got, err := h.Contacts(); err != nil || !slices.Equal(got, []string{"bob@example.org"}) {
			t.Errorf("Contacts() = %q, %v, want bob alone", got, err)
		}
		if p, err := h.ClientProfile(); err != nil || p != nil {
			t.Errorf("ClientProfile() = %q, %v, want nil", p, err)
		}
	}
	check(h)
	h.Close()
	h = openHost(t, dir, nil)
	check(h)

	// No change, no write: a hook that fails every write is not called.
	testHookBeforeRename = func(string) error { t.Error("a write for no change"); return nil }
	defer func() { testHookBeforeRename = nil }()
	for _, err := range []error{
		h.SetTrust("bob@example.org", fp4(0xcd), otr.Verified),
		h.SetPolicy("bob@example.org", otr.AllowV3|otr.AllowV4|otr.RequireEncryption),
		h.SetInstanceTag(0x8d1a0b3c),
		h.SetClientProfile([]byte{}),
		h.DeletePolicy("nobody"),
		h.DeleteFingerprint("bob@example.org", fp3(0x77)),
	} {
		if err != nil {
			t.Error(err)
		}
	}
}

// TestInvalidArguments: what the files could not hold is refused, and
// nothing changes.
func TestInvalidArguments(t *testing.T) {
	h := openHost(t, t.TempDir(), nil)
	fill(t, h)
	before := stateOf(t, h)
	for name, err := range map[string]error{
		"contact not UTF-8":        h.SetTrust("bob\xff", fp3(1), otr.Verified),
		"fingerprint of 19 bytes":  h.SetTrust("bob", fp3(1)[:19], otr.Verified),
		"nil fingerprint":          h.SetTrust("bob", nil, otr.Verified),
		"unknown trust level":      h.SetTrust("bob", fp3(1), otr.Trust(3)),
		"policy contact not UTF-8": h.SetPolicy("\xc3", otr.AllowV3),
		"instance tag below 0x100": h.SetInstanceTag(0xff),
		"instance tag 0":           h.SetInstanceTag(0),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := Open(t.TempDir(), &Options{MaxMessageSize: -1}); err == nil {
		t.Error("Open with a negative MaxMessageSize: no error")
	}
	if got := stateOf(t, h); !reflect.DeepEqual(got, before) {
		t.Errorf("state changed by refused calls:\n%+v\nwant\n%+v", got, before)
	}
}

func TestMaxMessageSize(t *testing.T) {
	h := openHost(t, t.TempDir(), &Options{MaxMessageSize: 400})
	if got := h.MaxMessageSize("bob"); got != 400 {
		t.Errorf("MaxMessageSize() = %d, want 400", got)
	}
	h2 := openHost(t, t.TempDir(), nil)
	if got := h2.MaxMessageSize("bob"); got != 0 {
		t.Errorf("MaxMessageSize() = %d, want 0 (no limit)", got)
	}
}

// TestClosed: after Close every method fails with ErrClosed, and the
// directory can be opened again.
func TestClosed(t *testing.T) {
	dir := t.TempDir()
	h := openHost(t, dir, nil)
	fill(t, h)
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
	_, e1 := h.InstanceTag()
	_, e2 := h.ClientProfile()
	_, e3 := h.Fingerprints("bob@example.org")
	_, e4 := h.Keys()
	_, e5 := h.LoadOrGenerateKeys()
	_, e6 := h.Contacts()
	_, e7 := h.ImportLibotr(dir, LibotrAccount{"a", "p"})
	_, e8 := h.Prekey(0x0a1b2c3d)
	_, e9 := h.Prekeys()
	_, _, e10 := h.SharedPrekey()
	for i, err := range []error{e1, e2, e3, e4, e5, e6, e7, e8, e9, e10,
		h.StorePrekey(1, []byte("x"), prekeyTime), h.DeletePrekey(0x0a1b2c3d), h.SetSharedPrekey([]byte("p"), []byte("s")),
		h.SetInstanceTag(0x1000), h.SetClientProfile([]byte("x")), h.SetTrust("bob", fp3(9), otr.Verified),
		h.DeleteFingerprint("bob", fp3(9)), h.SetPolicy("bob", 0), h.DeletePolicy("bob"),
		h.SetKeys(testKey(t, 1)), h.ExportLibotr(t.TempDir(), LibotrAccount{"a", "p"}),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("call %d after Close: error %v, want ErrClosed", i, err)
		}
	}
	if _, ok := h.Policy("bob@example.org"); ok {
		t.Error("Policy() after Close reports a policy")
	}
	openHost(t, dir, nil)
}

// TestKeys: LoadOrGenerateKeys generates once; a damaged key file is
// refused, never replaced by new keys; a format 2 file is rewritten as
// format 3.
func TestKeys(t *testing.T) {
	dir := t.TempDir()
	h := openHost(t, dir, &Options{Rand: seeded(3)})
	if _, err := h.Keys(); !errors.Is(err, ErrNoKeys) {
		t.Errorf("Keys() of a new directory: error %v, want ErrNoKeys", err)
	}
	k, err := h.LoadOrGenerateKeys()
	if err != nil || !k.HasV4() || k.Fingerprint() == nil {
		t.Fatalf("LoadOrGenerateKeys() = %v, %v, want keys for both versions", k, err)
	}
	path := filepath.Join(dir, keysName)
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("damaged", func(t *testing.T) {
		bad := bytes.Clone(file)
		bad[len(bad)/2] ^= 0x10
		if err := os.WriteFile(path, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(path, file, 0o600)
		if _, err := h.Keys(); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), keysName) {
			t.Errorf("Keys() of a damaged file: error %v, want ErrCorrupt naming the file", err)
		}
		if _, err := h.LoadOrGenerateKeys(); !errors.Is(err, ErrCorrupt) {
			t.Errorf("LoadOrGenerateKeys() of a damaged file: error %v, want ErrCorrupt", err)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, bad) {
			t.Error("the damaged key file was replaced")
		}
	})

	t.Run("format 2", func(t *testing.T) {
		v2 := format2(t, file)
		if err := os.WriteFile(path, v2, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := h.Keys()
		if err != nil || !bytes.Equal(got.Fingerprint(), k.Fingerprint()) || !bytes.Equal(got.Fingerprint4(), k.Fingerprint4()) {
			t.Fatalf("Keys() of a format 2 file = %v, %v, want the same keys", got, err)
		}
		if now, _ := os.ReadFile(path); !bytes.Equal(now, file) {
			t.Error("a format 2 key file was not rewritten as format 3")
		}
	})
}

// format2 rewrites a format 3 key file (magic, DATA fields, checksum) in
// format 2: its magic, the DSA key and the two seeds.
func format2(t *testing.T, v3 []byte) []byte {
	t.Helper()
	const magic3 = "otrgo-keys-v3\x00"
	if !bytes.HasPrefix(v3, []byte(magic3)) {
		t.Fatal("not a format 3 key file")
	}
	s := v3[len(magic3) : len(v3)-32]
	var fields [][]byte
	for len(s) >= 4 {
		n := int(s[0])<<24 | int(s[1])<<16 | int(s[2])<<8 | int(s[3])
		fields = append(fields, s[:4+n])
		s = s[4+n:]
	}
	if len(fields) != 5 {
		t.Fatalf("format 3 key file of %d fields", len(fields))
	}
	out := []byte("otrgo-keys-v2\x00")
	for _, i := range []int{0, 1, 3} {
		out = append(out, fields[i]...)
	}
	return out
}

// TestConcurrentWriters: goroutines writing and reading at once (run with
// -race) lose nothing.
func TestConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	h := openHost(t, dir, nil)
	const workers, each = 8, 12
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				contact := []string{"bob", "carol"}[i%2]
				fp := otr.Fingerprint(bytes.Repeat([]byte{byte(w*each + i)}, 20))
				if err := h.SetTrust(contact, fp, otr.Trust(i%3)); err != nil {
					t.Error(err)
				}
				if err := h.SetPolicy(contact, otr.Policy(w)); err != nil {
					t.Error(err)
				}
				if err := h.SetInstanceTag(uint32(0x1000 + w)); err != nil {
					t.Error(err)
				}
				if err := h.SetClientProfile([]byte{byte(w)}); err != nil {
					t.Error(err)
				}
				if _, err := h.Fingerprints(contact); err != nil {
					t.Error(err)
				}
				h.Policy(contact)
				h.InstanceTag()
				h.ClientProfile()
			}
		}()
	}
	wg.Wait()
	want := stateOf(t, h)
	if n := len(want.Trust["bob"]) + len(want.Trust["carol"]); n != workers*each {
		t.Errorf("%d fingerprints stored, want %d", n, workers*each)
	}
	h.Close()
	h = openHost(t, dir, nil)
	if got := stateOf(t, h); !reflect.DeepEqual(got, want) {
		t.Errorf("after reopening:\n%+v\nwant\n%+v", got, want)
	}
}

// TestPolicyNames: parsePolicy reads back what otr.Policy.String writes
// for every flag, and knows every flag by the name String gives it.
func TestPolicyNames(t *testing.T) {
	for i := range 32 {
		p := otr.Policy(1) << i
		if i < len(policyNames) && p.String() != policyNames[i] {
			t.Errorf("otr.Policy(1<<%d).String() = %q, policyNames has %q", i, p.String(), policyNames[i])
		}
		if i >= len(policyNames) && !strings.HasPrefix(p.String(), "0x") {
			t.Errorf("otr.Policy(1<<%d).String() = %q: a new flag; add it to policyNames", i, p.String())
		}
	}
	for _, p := range []otr.Policy{0, otr.DefaultPolicy, otr.AllowV3 | otr.RequireEncryption, 1<<len(policyNames) - 1,
		otr.AllowV4 | 0x300, 0xffffffff, 1 << 31} {
		got, err := parsePolicy(p.String())
		if err != nil || got != p {
			t.Errorf("parsePolicy(%q) = %v, %v, want %v", p.String(), got, err, p)
		}
	}
	for _, s := range []string{"", "ALLOW_V3|", "allow_v3", "ALLOW_V4|ALLOW_V3", "ALLOW_V3|ALLOW_V3", "0x0", "0x1",
		"NEVER|ALLOW_V3", "ALLOW_V3|0x40|0x80", "0xG", "ALLOW_V3 "} {
		if p, err := parsePolicy(s); err == nil {
			t.Errorf("parsePolicy(%q) = %v, want an error", s, p)
		}
	}
}
