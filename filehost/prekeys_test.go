package filehost

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPrekeys: what PrekeyHost promises, and that it is all there after
// Close and Open.
func TestPrekeys(t *testing.T) {
	dir := t.TempDir()
	h := openHost(t, dir, nil)
	if p, s, err := h.SharedPrekey(); p != nil || s != nil || err != nil {
		t.Errorf("SharedPrekey() of a new directory = %q, %q, %v, want nil, nil, nil", p, s, err)
	}
	if ids, err := h.Prekeys(); len(ids) != 0 || err != nil {
		t.Errorf("Prekeys() of a new directory = %v, %v, want none", ids, err)
	}
	fill(t, h)
	// A deletion time in another zone reads back as the same instant in
	// UTC.
	local := time.Date(2025, 3, 9, 17, 0, 0, 1, time.FixedZone("east", 5*3600))
	if err := h.StorePrekey(7, []byte{9}, local); err != nil {
		t.Fatal(err)
	}
	if ids, _ := h.Prekeys(); !ids[7].Equal(local) || ids[7].Location() != time.UTC {
		t.Errorf("Prekeys()[7] = %v, want %v in UTC", ids[7], local)
	}

	if got, err := h.Prekey(0x0a1b2c3d); err != nil || !bytes.Equal(got, bytes.Repeat([]byte{1}, 8)) {
		t.Errorf("Prekey(0a1b2c3d) = %x, %v, want the stored secret", got, err)
	} else {
		clear(got) // the caller's copy
	}
	if got, _ := h.Prekey(0x0a1b2c3d); !bytes.Equal(got, bytes.Repeat([]byte{1}, 8)) {
		t.Error("clearing the result of Prekey cleared the stored secret")
	}
	if got, err := h.Prekey(0x12345678); got != nil || err != nil {
		t.Errorf("Prekey of an unknown id = %x, %v, want nil, nil", got, err)
	}
	if err := h.DeletePrekey(0x12345678); err != nil {
		t.Errorf("DeletePrekey of an unknown id = %v, want nil", err)
	}

	before := stateOf(t, h)
	for name, err := range map[string]error{
		"an id stored already":     h.StorePrekey(0x0a1b2c3d, []byte("other"), prekeyTime),
		"an empty secret":          h.StorePrekey(1, nil, prekeyTime),
		"a time after 9999":        h.StorePrekey(2, []byte("x"), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)),
		"a time before 0":          h.StorePrekey(3, []byte("x"), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)),
		"a profile without secret": h.SetSharedPrekey([]byte("p"), nil),
		"a secret without profile": h.SetSharedPrekey(nil, []byte("s")),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if got := stateOf(t, h); !reflect.DeepEqual(got, before) {
		t.Errorf("state changed by refused calls:\n%+v\nwant\n%+v", got, before)
	}

	func() {
		testHookBeforeRename = func(string) error { t.Error("a write for no change"); return nil }
		defer func() { testHookBeforeRename = nil }()
		if err := h.SetSharedPrekey([]byte("prekey profile"), []byte("shared secret")); err != nil {
			t.Error(err)
		}
	}()

	h.Close()
	h = openHost(t, dir, nil)
	if got := stateOf(t, h); !reflect.DeepEqual(got, before) {
		t.Errorf("after reopening:\n%+v\nwant\n%+v", got, before)
	}

	if err := h.SetSharedPrekey([]byte("profile 2"), []byte("secret 2")); err != nil {
		t.Fatal(err)
	}
	if p, s, err := h.SharedPrekey(); string(p) != "profile 2" || string(s) != "secret 2" || err != nil {
		t.Errorf("SharedPrekey() = %q, %q, %v, want the new ones", p, s, err)
	}
	if err := h.SetSharedPrekey(nil, nil); err != nil {
		t.Fatal(err)
	}
	h.Close()
	h = openHost(t, dir, nil)
	if p, s, err := h.SharedPrekey(); p != nil || s != nil || err != nil {
		t.Errorf("SharedPrekey() after removing it = %q, %q, %v, want nil, nil, nil", p, s, err)
	}
}

// TestDeletePrekeyDurable: DeletePrekey returns nil only once the file
// no longer holds the secret, and after Close and Open it is gone; a
// deletion whose write was stopped returns an error and keeps the
// secret, in memory and on disk, so the caller knows it is not deleted.
func TestDeletePrekeyDurable(t *testing.T) {
	dir := t.TempDir()
	h := openHost(t, dir, nil)
	fill(t, h)
	path := filepath.Join(dir, prekeysName)
	secret := base64.StdEncoding.EncodeToString([]byte("second secret"))
	if b, _ := os.ReadFile(path); !bytes.Contains(b, []byte(secret)) {
		t.Fatalf("prekeys.json does not hold the secret:\n%s", b)
	}

	crash := errors.New("crash")
	testHookBeforeRename = func(string) error { return crash }
	err := h.DeletePrekey(0xfffffff0)
	testHookBeforeRename = nil
	if !errors.Is(err, crash) {
		t.Fatalf("DeletePrekey with the write stopped: error %v, want the hook's", err)
	}
	if got, _ := h.Prekey(0xfffffff0); string(got) != "second secret" {
		t.Errorf("Prekey after a stopped DeletePrekey = %q, want the secret still", got)
	}

	if err := h.DeletePrekey(0xfffffff0); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || bytes.Contains(b, []byte(secret)) || bytes.Contains(b, []byte("fffffff0")) {
		t.Errorf("prekeys.json after DeletePrekey (%v):\n%s", err, b)
	}
	check := func(when string) {
		t.Helper()
		if got, err := h.Prekey(0xfffffff0); got != nil || err != nil {
			t.Errorf("Prekey %s = %q, %v, want nil", when, got, err)
		}
		ids, err := h.Prekeys()
		if _, ok := ids[0xfffffff0]; ok || len(ids) != 1 || err != nil {
			t.Errorf("Prekeys() %s = %v, %v, want 0a1b2c3d alone", when, ids, err)
		}
	}
	check("after DeletePrekey")
	h.Close()
	h = openHost(t, dir, nil)
	check("after reopening")
}

// TestPrekeysClose: Close clears the secrets held in memory.
func TestPrekeysClose(t *testing.T) {
	h := openHost(t, t.TempDir(), nil)
	fill(t, h)
	held := h.pre.prekeys[0x0a1b2c3d].secret
	shared := h.pre.shared
	h.Close()
	if !bytes.Equal(held, make([]byte, len(held))) || !bytes.Equal(shared, make([]byte, len(shared))) {
		t.Errorf("after Close the memory holds %x and %x, want zeros", held, shared)
	}
}

// TestPrekeysConcurrent: goroutines storing, reading and deleting prekeys
// at once (run with -race) lose nothing.
func TestPrekeysConcurrent(t *testing.T) {
	dir := t.TempDir()
	h := openHost(t, dir, nil)
	const workers, each = 8, 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := uint32(w<<8 | i)
				if err := h.StorePrekey(id, []byte{byte(w), byte(i)}, prekeyTime.Add(time.Duration(id))); err != nil {
					t.Error(err)
				}
				if got, err := h.Prekey(id); err != nil || !bytes.Equal(got, []byte{byte(w), byte(i)}) {
					t.Errorf("Prekey(%08x) = %x, %v", id, got, err)
				}
				if i%2 == 1 {
					if err := h.DeletePrekey(id); err != nil {
						t.Error(err)
					}
				}
				if err := h.SetSharedPrekey([]byte{byte(w)}, []byte{byte(i)}); err != nil {
					t.Error(err)
				}
				if _, err := h.Prekeys(); err != nil {
					t.Error(err)
				}
				if _, _, err := h.SharedPrekey(); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	want := stateOf(t, h)
	if len(want.Prekeys) != workers*each/2 {
		t.Errorf("%d prekeys stored, want %d", len(want.Prekeys), workers*each/2)
	}
	for id, p := range want.Prekeys {
		if id&1 != 0 || !bytes.Equal(p.secret, []byte{byte(id >> 8), byte(id)}) {
			t.Errorf("prekey %08x = %x stored", id, p.secret)
		}
	}
	h.Close()
	h = openHost(t, dir, nil)
	if got := stateOf(t, h); !reflect.DeepEqual(got, want) {
		t.Errorf("after reopening:\n%+v\nwant\n%+v", got, want)
	}
}

// TestParsePrekeysValid: what the corrupt files of TestCorruptFiles
// differ from reads, in any member order and spacing.
func TestParsePrekeysValid(t *testing.T) {
	const in = `{"shared_prekey_secret": "AgI=", "prekeys": {"0000abcd": {"delete_after": "2025-03-09T12:00:00.5Z", "secret": "AQE="},
		"ffffffff": {"secret": "AQ==", "delete_after": "0001-01-01T00:00:00Z"}}, "format": 1, "prekey_profile": "AwM="}`
	p, err := parsePrekeys([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := prekeyState{
		prekeys: map[uint32]storedPrekey{
			0xabcd:     {[]byte{1, 1}, prekeyTime.Add(time.Second / 2)},
			0xffffffff: {[]byte{1}, time.Time{}},
		},
		profile: []byte{3, 3},
		shared:  []byte{2, 2},
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("parsePrekeys() = %+v, want %+v", p, want)
	}
	for _, in := range []string{`{"format": 1}`, `{"format": 1, "prekeys": null}`, `{"format": 1, "prekeys": {}}`,
		`{"format": 1, "prekey_profile": "", "shared_prekey_secret": ""}`} {
		if p, err := parsePrekeys([]byte(in)); err != nil || !reflect.DeepEqual(p, prekeyState{}) {
			t.Errorf("parsePrekeys(%s) = %+v, %v, want nothing stored", in, p, err)
		}
	}
	if p, err := parsePrekeys([]byte(strings.Replace(in, `"format"`, `"prekeys": {}, "format"`, 1))); err == nil {
		t.Errorf("parsePrekeys with prekeys twice = %+v, want an error", p)
	}
}
