package filehost

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/otrgo/otr"
)

// The helper process: tests run the test binary again with -test.run
// naming TestHelperProcess and these variables set; it acts on the
// directory and reports on stdout.
const (
	envHelper = "FILEHOST_TEST_HELPER" // what to do: "open" or "crash"
	envDir    = "FILEHOST_TEST_DIR"
)

// TestHelperProcess is not a test: it is the other process of
// TestLockOtherProcess and TestCrashOtherProcess.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(envDir)
	switch os.Getenv(envHelper) {
	case "":
		t.Skip("helper process only")
	case "open":
		// Try to open dir: report whether it is locked.
		h, err := Open(dir, nil)
		switch {
		case errors.Is(err, ErrLocked):
			fmt.Printf("locked: %v\n", err)
		case err != nil:
			fmt.Printf("error: %v\n", err)
		default:
			fmt.Println("opened")
			h.Close()
		}
	case "crash":
		// Change the trust in dir and die between writing the new file
		// and renaming it, as a power cut or kill would.
		h, err := Open(dir, nil)
		if err != nil {
			fmt.Printf("error: %v\n", err)
			return
		}
		testHookBeforeRename = func(tmp string) error {
			fmt.Printf("crash before renaming %s\n", filepath.Base(tmp))
			os.Exit(3)
			return nil
		}
		err = h.SetTrust("bob@example.org", fp3(0xab), otr.Untrusted)
		fmt.Printf("not crashed: %v\n", err)
	}
}

// helper runs TestHelperProcess in a new process with action on dir.
func helper(t *testing.T, action, dir string) (string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envHelper+"="+action, envDir+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if stderr.Len() > 0 {
		t.Logf("helper stderr: %s", stderr.Bytes())
	}
	return string(out), err
}

// TestLockOtherProcess: while a Host has the directory open, another
// process's Open fails with ErrLocked naming this process; after Close it
// succeeds.
func TestLockOtherProcess(t *testing.T) {
	dir := t.TempDir()
	h := openHost(t, dir, nil)
	out, err := helper(t, "open", dir)
	if err != nil || !strings.HasPrefix(out, "locked: ") {
		t.Fatalf("other process's Open while open here: %q, %v, want ErrLocked", out, err)
	}
	if want := fmt.Sprintf("process %d", os.Getpid()); !strings.Contains(out, want) || !strings.Contains(out, dir) {
		t.Errorf("other process's error %q does not name the directory and %q", out, want)
	}
	h.Close()
	if out, err := helper(t, "open", dir); err != nil || !strings.HasPrefix(out, "opened\n") {
		t.Errorf("other process's Open after Close: %q, %v, want opened", out, err)
	}
}

// TestLockSameProcess: a second Open in the same process fails too.
func TestLockSameProcess(t *testing.T) {
	dir := t.TempDir()
	h := openHost(t, dir, nil)
	if h2, err := Open(dir, nil); !errors.Is(err, ErrLocked) {
		if h2 != nil {
			h2.Close()
		}
		t.Fatalf("second Open() error = %v, want ErrLocked", err)
	}
	h.Close()
	openHost(t, dir, nil)
}

// TestCrashOtherProcess: a process that dies between writing a new
// trust.json and renaming it leaves the old file, which loads with the
// old content; the next Open removes the stray temporary file.
func TestCrashOtherProcess(t *testing.T) {
	dir := t.TempDir()
	h := openHost(t, dir, nil)
	fill(t, h)
	want := stateOf(t, h)
	old, err := os.ReadFile(filepath.Join(dir, trustName))
	if err != nil {
		t.Fatal(err)
	}
	h.Close()

	out, err := helper(t, "crash", dir)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 || !strings.HasPrefix(out, "crash before renaming .trust.json.tmp-") {
		t.Fatalf("helper: %q, %v, want a crash before the rename", out, err)
	}
	tmp := filepath.Join(dir, strings.TrimSpace(strings.TrimPrefix(out, "crash before renaming ")))
	if _, err := os.Stat(tmp); err != nil {
		t.Fatalf("the crash left no temporary file: %v", err)
	}
	if now, err := os.ReadFile(filepath.Join(dir, trustName)); err != nil || !bytes.Equal(now, old) {
		t.Fatalf("trust.json after the crash = %q, %v, want the old file", now, err)
	}

	h = openHost(t, dir, nil)
	if got := stateOf(t, h); !reflect.DeepEqual(got, want) {
		t.Errorf("after the crash:\n%+v\nwant\n%+v", got, want)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open left the temporary file %s (%v)", tmp, err)
	}
}

// TestWriteStopped: a write stopped between the temporary file and the
// rename (the test hook stands in for a crash) returns an error and
// changes nothing, in memory or on disk, for every kind of file.
func TestWriteStopped(t *testing.T) {
	dir := t.TempDir()
	h := openHost(t, dir, nil)
	fill(t, h)
	want := stateOf(t, h)
	files := make(map[string][]byte)
	for _, name := range []string{keysName, accountName, trustName, policiesName, prekeysName} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	crash := errors.New("crash")
	var tmps []string
	testHookBeforeRename = func(tmp string) error { tmps = append(tmps, tmp); return crash }
	defer func() { testHookBeforeRename = nil }()
	for name, err := range map[string]error{
		"SetTrust":          h.SetTrust("bob@example.org", fp3(0xab), otr.Untrusted),
		"SetTrust new":      h.SetTrust("eve", fp3(0xee), otr.Verified),
		"DeleteFingerprint": h.DeleteFingerprint("carol", fp4(0x02)),
		"SetPolicy":         h.SetPolicy("bob@example.org", otr.AllowV3),
		"DeletePolicy":      h.DeletePolicy("dave"),
		"SetInstanceTag":    h.SetInstanceTag(0x12345678),
		"SetClientProfile":  h.SetClientProfile([]byte("new")),
		"SetKeys":           h.SetKeys(testKey(t, 1)),
		"StorePrekey":       h.StorePrekey(0x11111111, []byte("new secret"), prekeyTime),
		"DeletePrekey":      h.DeletePrekey(0x0a1b2c3d),
		"SetSharedPrekey":   h.SetSharedPrekey([]byte("new profile"), []byte("new shared")),
	} {
		if !errors.Is(err, crash) {
			t.Errorf("%s with the write stopped: error %v, want the hook's", name, err)
		}
	}
	testHookBeforeRename = nil
	if len(tmps) != 11 {
		t.Errorf("%d writes stopped, want 11", len(tmps))
	}
	// A truncated temporary file too, as a crash during its write leaves.
	if err := os.WriteFile(filepath.Join(dir, ".trust.json.tmp-123"), files[trustName][:10], 0o600); err != nil {
		t.Fatal(err)
	}
	if got := stateOf(t, h); !reflect.DeepEqual(got, want) {
		t.Errorf("in memory after stopped writes:\n%+v\nwant\n%+v", got, want)
	}
	for name, b := range files {
		if now, err := os.ReadFile(filepath.Join(dir, name)); err != nil || !bytes.Equal(now, b) {
			t.Errorf("%s changed by a stopped write (%v)", name, err)
		}
	}
	h.Close()
	h = openHost(t, dir, nil)
	if got := stateOf(t, h); !reflect.DeepEqual(got, want) {
		t.Errorf("after reopening:\n%+v\nwant\n%+v", got, want)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("Open left %s", e.Name())
		}
	}
}

// TestTruncated: every file cut short anywhere is refused with ErrCorrupt
// naming it, never half-read; Open fails for the state files, Keys for
// the key file.
func TestTruncated(t *testing.T) {
	src := t.TempDir()
	h := openHost(t, src, nil)
	fill(t, h)
	h.Close()
	for _, name := range []string{accountName, trustName, policiesName, prekeysName, keysName} {
		t.Run(name, func(t *testing.T) {
			file, err := os.ReadFile(filepath.Join(src, name))
			if err != nil {
				t.Fatal(err)
			}
			// Only the JSON files' final newline may go.
			whole := len(bytes.TrimSuffix(file, []byte("\n")))
			dir := t.TempDir()
			path := filepath.Join(dir, name)
			for n := range whole {
				if err := os.WriteFile(path, file[:n], 0o600); err != nil {
					t.Fatal(err)
				}
				h, err := Open(dir, nil)
				if name == keysName && err == nil {
					_, err = h.Keys()
					h.Close()
				}
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
					if err == nil {
						h.Close()
					}
					t.Fatalf("%d of %d bytes: error %v, want ErrCorrupt naming %s", n, len(file), err, path)
				}
			}
		})
	}
}

// TestCorruptFiles: a JSON file that is not exactly in its format is
// refused, whole.
func TestCorruptFiles(t *testing.T) {
	const fp = "01010101 01010101 01010101 01010101 01010101"
	const prekey = `{"secret": "AQE=", "delete_after": "2025-03-09T12:00:00Z"}`
	tests := []struct {
		name, file, content string
	}{
		{"no format", accountName, `{"instance_tag": "00001000"}`},
		{"format 2", accountName, `{"format": 2}`},
		{"format as a string", accountName, `{"format": "1"}`},
		{"unknown member", accountName, `{"format": 1, "instance": "00001000"}`},
		{"tag below 0x100", accountName, `{"format": 1, "instance_tag": "000000ff"}`},
		{"tag of 7 digits", accountName, `{"format": 1, "instance_tag": "1000000"}`},
		{"tag not hex", accountName, `{"format": 1, "instance_tag": "0000100g"}`},
		{"tag with sign", accountName, `{"format": 1, "instance_tag": "+0001000"}`},
		{"profile not base64", accountName, `{"format": 1, "client_profile": "!!"}`},
		{"two values", accountName, `{"format": 1} {"format": 1}`},
		{"trailing garbage", accountName, `{"format": 1} x`},
		{"empty", accountName, ``},
		{"null", accountName, `null`},
		{"unknown trust", trustName, `{"format": 1, "contacts": {"bob": [{"fingerprint": "` + fp + `", "trust": "trusted"}]}}`},
		{"trust as a number", trustName, `{"format": 1, "contacts": {"bob": [{"fingerprint": "` + fp + `", "trust": 1}]}}`},
		{"no trust", trustName, `{"format": 1, "contacts": {"bob": [{"fingerprint": "` + fp + `"}]}}`},
		{"no fingerprint", trustName, `{"format": 1, "contacts": {"bob": [{"trust": "smp"}]}}`},
		{"short fingerprint", trustName, `{"format": 1, "contacts": {"bob": [{"fingerprint": "0101", "trust": "smp"}]}}`},
		{"repeated fingerprint", trustName, `{"format": 1, "contacts": {"bob": [{"fingerprint": "` + fp + `", "trust": "smp"}, {"fingerprint": "` + strings.ReplaceAll(fp, " ", "") + `", "trust": "untrusted"}]}}`},
		{"contact without fingerprints", trustName, `{"format": 1, "contacts": {"bob": []}}`},
		{"unknown entry member", trustName, `{"format": 1, "contacts": {"bob": [{"fingerprint": "` + fp + `", "trust": "smp", "x": 1}]}}`},
		{"unknown policy flag", policiesName, `{"format": 1, "policies": {"bob": "ALLOW_V3|ALLOW_V5"}}`},
		{"policy as a number", policiesName, `{"format": 1, "policies": {"bob": 1}}`},
		{"policy flags out of order", policiesName, `{"format": 1, "policies": {"bob": "ALLOW_V4|ALLOW_V3"}}`},
		{"prekeys: no format", prekeysName, `{"prekeys": {}}`},
		{"prekeys: format in capitals", prekeysName, `{"FORMAT": 1}`},
		{"prekeys: format twice", prekeysName, `{"format": 1, "format": 1}`},
		{"prekeys: unknown member", prekeysName, `{"format": 1, "prekey": {}}`},
		{"prekeys: id twice", prekeysName, `{"format": 1, "prekeys": {"0000abcd": ` + prekey + `, "0000abcd": ` + prekey + `}}`},
		{"prekeys: id in capitals", prekeysName, `{"format": 1, "prekeys": {"0000ABCD": ` + prekey + `}}`},
		{"prekeys: id of 7 digits", prekeysName, `{"format": 1, "prekeys": {"000abcd": ` + prekey + `}}`},
		{"prekeys: id with sign", prekeysName, `{"format": 1, "prekeys": {"+000abcd": ` + prekey + `}}`},
		{"prekeys: id of 9 digits", prekeysName, `{"format": 1, "prekeys": {"10000abcd": ` + prekey + `}}`},
		{"prekeys: entry null", prekeysName, `{"format": 1, "prekeys": {"0000abcd": null}}`},
		{"prekeys: no secret", prekeysName, `{"format": 1, "prekeys": {"0000abcd": {"delete_after": "2025-03-09T12:00:00Z"}}}`},
		{"prekeys: no time", prekeysName, `{"format": 1, "prekeys": {"0000abcd": {"secret": "AQE="}}}`},
		{"prekeys: secret twice", prekeysName, `{"format": 1, "prekeys": {"0000abcd": {"secret": "AQE=", "secret": "AgI=", "delete_after": "2025-03-09T12:00:00Z"}}}`},
		{"prekeys: secret in capitals", prekeysName, `{"format": 1, "prekeys": {"0000abcd": {"Secret": "AQE=", "delete_after": "2025-03-09T12:00:00Z"}}}`},
		{"prekeys: empty secret", prekeysName, `{"format": 1, "prekeys": {"0000abcd": {"secret": "", "delete_after": "2025-03-09T12:00:00Z"}}}`},
		{"prekeys: secret unpadded", prekeysName, `{"format": 1, "prekeys": {"0000abcd": {"secret": "AQE", "delete_after": "2025-03-09T12:00:00Z"}}}`},
		{"prekeys: secret with a line break", prekeysName, `{"format": 1, "prekeys": {"0000abcd": {"secret": "AQ
E=", "delete_after": "2025-03-09T12:00:00Z"}}}`},
		{"prekeys: secret with stray bits", prekeysName, `{"format": 1, "prekeys": {"0000abcd": {"secret": "AQF=", "delete_after": "2025-03-09T12:00:00Z"}}}`},
		{"prekeys: secret as bytes", prekeysName, `{"format": 1, "prekeys": {"0000abcd": {"secret": [1, 1], "delete_after": "2025-03-09T12:00:00Z"}}}`},
		{"prekeys: time not UTC", prekeysName, `{"format": 1, "prekeys": {"0000abcd": {"secret": "AQE=", "delete_after": "2025-03-09T13:00:00+01:00"}}}`},
		{"prekeys: time with zero fraction", prekeysName, `{"format": 1, "prekeys": {"0000abcd": {"secret": "AQE=", "delete_after": "2025-03-09T12:00:00.0Z"}}}`},
		{"prekeys: time not a time", prekeysName, `{"format": 1, "prekeys": {"0000abcd": {"secret": "AQE=", "delete_after": "soon"}}}`},
		{"prekeys: time as a number", prekeysName, `{"format": 1, "prekeys": {"0000abcd": {"secret": "AQE=", "delete_after": 1741521600}}}`},
		{"prekeys: unknown entry member", prekeysName, `{"format": 1, "prekeys": {"0000abcd": {"secret": "AQE=", "delete_after": "2025-03-09T12:00:00Z", "id": 1}}}`},
		{"prekeys: profile without secret", prekeysName, `{"format": 1, "prekey_profile": "AQE="}`},
		{"prekeys: secret without profile", prekeysName, `{"format": 1, "shared_prekey_secret": "AQE="}`},
		{"prekeys: profile not base64", prekeysName, `{"format": 1, "prekey_profile": "!!", "shared_prekey_secret": "AQE="}`},
		{"prekeys: trailing garbage", prekeysName, `{"format": 1} x`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tc.file)
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			h, err := Open(dir, nil)
			if err == nil {
				h.Close()
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Errorf("Open() with %s = %q: error %v, want ErrCorrupt naming it", tc.file, tc.content, err)
			}
		})
	}
}

// TestOpenDirectory: Open makes a missing directory 0700, refuses one
// others may write to, and a file in the directory's place.
func TestOpenDirectory(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix modes")
	}
	base := t.TempDir()
	dir := filepath.Join(base, "a", "b")
	openHost(t, dir, nil)
	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if h, err := Open(open, nil); err == nil {
		h.Close()
		t.Error("Open() of a world-writable directory: no error")
	}
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if h, err := Open(file, nil); err == nil {
		h.Close()
		t.Error("Open() of a file: no error")
	}
}
