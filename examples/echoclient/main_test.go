package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otrgo/otr"
)

// timeout bounds every wait; nothing in these tests sleeps.
const timeout = 60 * time.Second

// seeded returns a deterministic randomness source.
func seeded(seed byte) io.Reader {
	return mrand.NewChaCha8([32]byte{'e', 'c', 'h', 'o', seed})
}

var (
	keysOnce sync.Once
	testKeys [2]*otr.PrivateKeys
	keysErr  error
)

// keys returns deterministic identity keys, made once per test binary.
func keys(t *testing.T, i int) *otr.PrivateKeys {
	t.Helper()
	keysOnce.Do(func() {
		for j := range testKeys {
			if testKeys[j], keysErr = otr.GenerateKeys(seeded(byte(j))); keysErr != nil {
				return
			}
		}
	})
	if keysErr != nil {
		t.Fatalf("GenerateKeys: %v", keysErr)
	}
	return testKeys[i]
}

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		in      string
		want    otr.Policy
		wantErr bool
	}{
		{in: "", want: otr.DefaultPolicy},
		{in: " , ", want: otr.DefaultPolicy},
		{in: "default", want: otr.DefaultPolicy},
		{in: "v3", want: otr.AllowV3},
		{in: "v3,v4,require", want: otr.AllowV3 | otr.AllowV4 | otr.RequireEncryption},
		{in: " V3 , whitespace,whitespace-start,error-start", want: otr.AllowV3 | otr.SendWhitespaceTag | otr.WhitespaceStartAKE | otr.ErrorStartAKE},
		{in: "default,require", want: otr.DefaultPolicy | otr.RequireEncryption},
		{in: "require", wantErr: true},
		{in: "v3,v5", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parsePolicy(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parsePolicy(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("parsePolicy(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseCommand(t *testing.T) {
	tests := []struct {
		in      string
		want    command
		wantErr bool
	}{
		{in: "127.0.0.1:4000 hello world", want: command{addr: "127.0.0.1:4000", text: "hello world"}},
		{in: "127.0.0.1:4000#1a2b3c4d hi", want: command{addr: "127.0.0.1:4000", instance: 0x1a2b3c4d, text: "hi"}},
		{in: "[::1]:4000#FFFFFFFF  two  spaces \r\n", want: command{addr: "[::1]:4000", instance: 0xffffffff, text: " two  spaces "}},
		{in: "127.0.0.1:4000", want: command{addr: "127.0.0.1:4000"}},
		{in: "/start 127.0.0.1:4000", want: command{verb: "start", addr: "127.0.0.1:4000"}},
		{in: "/end 127.0.0.1:4000", want: command{verb: "end", addr: "127.0.0.1:4000"}},
		{in: "/end 127.0.0.1:4000#100", want: command{verb: "end", addr: "127.0.0.1:4000", instance: 0x100}},
		{in: "/status [::1]:9", want: command{verb: "status", addr: "[::1]:9"}},
		{in: " hello", wantErr: true},
		{in: "#100 hello", wantErr: true},
		{in: "a#xyz hello", wantErr: true},
		{in: "a#0 hello", wantErr: true},
		{in: "a#100000000 hello", wantErr: true},
		{in: "/start", wantErr: true},
		{in: "/start a b", wantErr: true},
		{in: "/start a#100", wantErr: true},
		{in: "/smp a#1a Password!", want: command{verb: "smp", addr: "a", instance: 0x1a, text: "Password!"}},
		{in: "/smp a two words", want: command{verb: "smp", addr: "a", text: "two words"}},
		{in: "/smpq a Which|what? s|e|cret", want: command{verb: "smpq", addr: "a", question: "Which|what? s|e", text: "cret"}},
		{in: "/answer a#100 Password!", want: command{verb: "answer", addr: "a", instance: 0x100, text: "Password!"}},
		{in: "/abort a#100", want: command{verb: "abort", addr: "a", instance: 0x100}},
		{in: "/smp a", wantErr: true},
		{in: "/smpq a no separator", wantErr: true},
		{in: "/smpq a question|", wantErr: true},
		{in: "/answer a", wantErr: true},
		{in: "/abort a b", wantErr: true},
		{in: "/status a#100", wantErr: true},
		{in: "/who a", wantErr: true},
		{in: "/publish 5", want: command{verb: "publish", n: 5}},
		{in: "/publish", wantErr: true},
		{in: "/publish 0", wantErr: true},
		{in: "/publish bob", wantErr: true},
		{in: "/publish 2 3", wantErr: true},
		{in: "/offline bob", want: command{verb: "offline", addr: "bob"}},
		{in: "/offline bob are you there?", want: command{verb: "offline", addr: "bob", text: "are you there?"}},
		{in: "/offline bob#100 hi", wantErr: true},
		{in: "/offline", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseCommand(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseCommand(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if err == nil && got != tc.want {
				t.Errorf("parseCommand(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestLoadKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	created, err := loadKeys(path, seeded(0))
	if err != nil {
		t.Fatalf("loadKeys(new file): %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v, want mode 0600", err, fi.Mode())
	}
	loaded, err := loadKeys(path, nil)
	if err != nil {
		t.Fatalf("loadKeys(existing file): %v", err)
	}
	if got, want := loaded.Fingerprint(), created.Fingerprint(); !bytes.Equal(got, want) {
		t.Errorf("loaded fingerprint %s, want %s", got, want)
	}
	if err := os.WriteFile(path, []byte("not keys"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadKeys(path, nil); err == nil {
		t.Error("loadKeys(garbage) succeeded, want error")
	}
}

func TestReadFrame(t *testing.T) {
	frame := func(addr, content string) []byte {
		var b bytes.Buffer
		fmt.Fprintf(&b, "%s%s%s%s", be32(len(addr)), addr, be32(len(content)), content)
		return b.Bytes()
	}
	good := frame("127.0.0.1:1", "?OTRv3?")
	if a, c, err := readFrame(bytes.NewReader(good)); err != nil || a != "127.0.0.1:1" || c != "?OTRv3?" {
		t.Errorf("readFrame(%x) = %q, %q, %v", good, a, c, err)
	}
	for i := range len(good) {
		if _, _, err := readFrame(bytes.NewReader(good[:i])); err == nil {
			t.Errorf("readFrame succeeded on a %d-byte prefix", i)
		}
	}
	for _, bad := range [][]byte{frame("\xff", "x"), []byte("\xff\xff\xff\xff")} {
		if _, _, err := readFrame(bytes.NewReader(bad)); err == nil {
			t.Errorf("readFrame(%x) succeeded, want error", bad)
		}
	}
}

func be32(n int) string { return string([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}) }

// binDir holds the echoserver binary built for the tests.
var binDir string

func TestMain(m *testing.M) {
	var err error
	if binDir, err = os.MkdirTemp("", "echoclient-test"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildErr  error
)

// startServer runs examples/echoserver (built once per test binary) on a
// loopback port and returns its address.
func startServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(binDir, "echoserver")
	buildOnce.Do(func() {
		// The go command that runs this test is first on PATH
		// (go test puts its GOROOT/bin there).
		goTool, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("building echoserver: no go command on PATH: %v", err)
			return
		}
		if out, err := exec.Command(goTool, "build", "-o", bin, "github.com/otrgo/otr/examples/echoserver").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building echoserver: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-quiet")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting echoserver: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- l
		io.Copy(io.Discard, stdout)
	}()
	select {
	case l := <-line:
		addr, ok := strings.CutPrefix(strings.TrimSpace(l), "listening on ")
		if !ok {
			t.Fatalf("echoserver printed %q, want \"listening on ADDR\"", l)
		}
		return addr
	case <-time.After(timeout):
		t.Fatal("echoserver did not start")
	}
	return ""
}

// event is one event a client reported.
type event struct {
	contact string
	ev      otr.Event
}

// testClient is a client connected to the relay, its events in a channel.
type testClient struct {
	*client
	events chan event
	// disconnect closes the connection (a named client tells the relay
	// first) and waits for run to end; it runs at the test's end if not
	// before.
	disconnect func()
}

func dialClient(t *testing.T, server string, key int, cfg config) *testClient {
	t.Helper()
	conn, err := net.Dial("tcp", server)
	if err != nil {
		t.Fatal(err)
	}
	tc := &testClient{events: make(chan event, 1024)}
	if cfg.Rand == nil {
		cfg.Rand = seeded(byte(10 + key))
	}
	cfg.OnEvent = func(contact string, ev otr.Event) {
		select {
		case tc.events <- event{contact, ev}:
		default:
			t.Errorf("client %d: event %v dropped: the test does not read its events", key, ev)
		}
	}
	cfg.OnError = func(contact string, err error) { t.Errorf("client %d, from %s: %v", key, contact, err) }
	if cfg.Out == nil && testing.Verbose() {
		cfg.Out = &prefixWriter{t: t, prefix: fmt.Sprintf("client %d: ", key)}
		cfg.Wire = true
	}
	if tc.client, err = newClient(conn, keys(t, key), cfg); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- tc.run() }()
	tc.disconnect = sync.OnceFunc(func() {
		if err := tc.close(); err != nil {
			t.Errorf("client %d: close: %v", key, err)
		}
		if err := <-done; !errors.Is(err, net.ErrClosed) {
			t.Errorf("client %d: run: %v, want net.ErrClosed", key, err)
		}
	})
	t.Cleanup(tc.disconnect)
	select {
	case <-tc.ready:
	case err := <-done:
		done <- err // for disconnect
		t.Fatalf("client %d: run: %v", key, err)
	case <-time.After(timeout):
		t.Fatalf("client %d: the relay did not echo the join frame or give the name", key)
	}
	return tc
}

// prefixWriter logs each line through t.Log.
type prefixWriter struct {
	t      *testing.T
	prefix string
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.t.Log(w.prefix + strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// waitFor returns the first event from contact that ok accepts, failing on
// error events and on timeout.
func waitFor[E otr.Event](t *testing.T, c *testClient, contact string, ok func(E) bool) E {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case e := <-c.events:
			switch ev := e.ev.(type) {
			case otr.ErrorEvent, otr.UnencryptedEvent:
				t.Fatalf("%s: unexpected event from %s: %v", c.self, e.contact, ev)
			case E:
				if e.contact == contact && ok(ev) {
					return ev
				}
			}
		case <-deadline:
			var zero E
			t.Fatalf("%s: no %T from %s within %v", c.self, zero, contact, timeout)
		}
	}
}

func anyEvent[E otr.Event](E) bool { return true }

// TestEcho runs the relay and two clients through it: A starts OTR with B,
// an echo client, and gets its messages back decrypted.
func TestEcho(t *testing.T) {
	server := startServer(t)
	long := strings.Repeat("A long message, fragmented when the transport has a limit. ", 40)
	tests := []struct {
		name    string
		policyA otr.Policy
		maxSize int
		early   bool // A sends its first message before OTR starts (queued under RequireEncryption)
	}{
		{name: "default policy", policyA: otr.DefaultPolicy},
		{name: "require encryption, fragmented", policyA: otr.AllowV3 | otr.AllowV4 | otr.RequireEncryption, maxSize: 300, early: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := dialClient(t, server, 0, config{Policy: tc.policyA, MaxSize: tc.maxSize})
			b := dialClient(t, server, 1, config{Echo: true, MaxSize: tc.maxSize})
			msgs := []string{"hello", "ünïcödé ✓", long}
			if tc.early {
				if err := a.send(b.self, 0, msgs[0]); err != nil {
					t.Fatalf("send before OTR: %v", err)
				}
			} else if err := a.start(b.self); err != nil {
				t.Fatalf("start: %v", err)
			}
			secA := waitFor(t, a, b.self, anyEvent[otr.SecureEvent])
			secB := waitFor(t, b, a.self, anyEvent[otr.SecureEvent])
			// Both allow OTR3 and OTRv4: version 4 is preferred.
			if secA.Version != 4 || secB.Version != 4 {
				t.Errorf("secure versions %d (A) and %d (B), want 4", secA.Version, secB.Version)
			}
			if got, want := secA.Fingerprint, b.acct.Fingerprint4(); !bytes.Equal(got, want) {
				t.Errorf("A sees fingerprint %s, want B's %s", got, want)
			}
			if got, want := secB.Fingerprint, a.acct.Fingerprint4(); !bytes.Equal(got, want) {
				t.Errorf("B sees fingerprint %s, want A's %s", got, want)
			}
			if secA.SSID != secB.SSID {
				t.Errorf("SSIDs differ: A %s, B %s", secA.SSID, secB.SSID)
			}
			if secA.Instance != b.acct.InstanceTag() || secB.Instance != a.acct.InstanceTag() {
				t.Errorf("secure instances %08x (A), %08x (B), want %08x, %08x", secA.Instance, secB.Instance, b.acct.InstanceTag(), a.acct.InstanceTag())
			}

			rest := msgs
			if tc.early {
				waitFor(t, a, b.self, func(ev otr.MessageEvent) bool { return ev.Text == msgs[0] })
				rest = msgs[1:]
			}
			for i, m := range rest {
				// Alternate between the current instance and B's tag given
				// explicitly, as "addr#tag" does.
				inst := uint32(0)
				if i%2 == 1 {
					inst = secA.Instance
				}
				if err := a.send(b.self, inst, m); err != nil {
					t.Fatalf("send %q: %v", m, err)
				}
				got := waitFor(t, a, b.self, anyEvent[otr.MessageEvent])
				if got.Text != m || got.Instance != secA.Instance {
					t.Fatalf("echo %q from %08x, want %q from %08x", got.Text, got.Instance, m, secA.Instance)
				}
			}
			// Several messages in flight at once come back in order.
			for i := range 5 {
				if err := a.send(b.self, 0, fmt.Sprint("burst ", i)); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 5 {
				if got, want := waitFor(t, a, b.self, anyEvent[otr.MessageEvent]).Text, fmt.Sprint("burst ", i); got != want {
					t.Fatalf("echo %q, want %q", got, want)
				}
			}

			// SMP: the echo client answers with "Password!".
			if err := a.startSMP(b.self, 0, "Password!", ""); err != nil {
				t.Fatalf("startSMP: %v", err)
			}
			if q := waitFor(t, b, a.self, anyEvent[otr.SMPQuestionEvent]); q.HasQuestion || q.Instance != secB.Instance {
				t.Errorf("B's SMP request %+v, want no question from %08x", q, secB.Instance)
			}
			if got := waitFor(t, a, b.self, anyEvent[otr.SMPSucceededEvent]); !bytes.Equal(got.Fingerprint, b.acct.Fingerprint4()) {
				t.Errorf("SMP verified fingerprint %s, want B's %s", got.Fingerprint, b.acct.Fingerprint4())
			}
			waitFor(t, b, a.self, anyEvent[otr.SMPSucceededEvent])
			if err := a.startSMP(b.self, secA.Instance, "wrong", "The password?"); err != nil {
				t.Fatalf("startSMP: %v", err)
			}
			if q := waitFor(t, b, a.self, anyEvent[otr.SMPQuestionEvent]); !q.HasQuestion || q.Question != "The password?" {
				t.Errorf("B's SMP request %+v, want the question %q", q, "The password?")
			}
			if got := waitFor(t, a, b.self, anyEvent[otr.SMPFailedEvent]); got.Protocol {
				t.Errorf("SMP with a wrong secret: %v, want secrets differ", got)
			}
			waitFor(t, b, a.self, anyEvent[otr.SMPFailedEvent])
			// Messages still flow after SMP.
			if err := a.send(b.self, 0, "after SMP"); err != nil {
				t.Fatal(err)
			}
			if got := waitFor(t, a, b.self, anyEvent[otr.MessageEvent]).Text; got != "after SMP" {
				t.Errorf("echo %q, want %q", got, "after SMP")
			}

			if err := a.end(b.self, 0); err != nil {
				t.Fatalf("end: %v", err)
			}
			waitFor(t, b, a.self, anyEvent[otr.FinishedEvent])
			if got := a.acct.Session(b.self).Status(secA.Instance); got != otr.Plaintext {
				t.Errorf("A's status after End = %v, want plaintext", got)
			}
		})
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestCommands drives client A through the standard-input commands, line by
// line, against the echo client B.
func TestCommands(t *testing.T) {
	server := startServer(t)
	var out lockedBuffer
	a := dialClient(t, server, 0, config{Out: &out, Wire: true})
	b := dialClient(t, server, 1, config{Echo: true})
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- a.readCommands(pr) }()
	line := func(s string) {
		t.Helper()
		if _, err := io.WriteString(pw, s+"\n"); err != nil {
			t.Fatal(err)
		}
	}

	line("/start " + b.self)
	sec := waitFor(t, a, b.self, anyEvent[otr.SecureEvent])
	line("")
	line(b.self + " hello there")
	if got := waitFor(t, a, b.self, anyEvent[otr.MessageEvent]).Text; got != "hello there" {
		t.Errorf("echo %q, want %q", got, "hello there")
	}
	line(fmt.Sprintf("%s#%x to the instance", b.self, sec.Instance))
	if got := waitFor(t, a, b.self, anyEvent[otr.MessageEvent]).Text; got != "to the instance" {
		t.Errorf("echo %q, want %q", got, "to the instance")
	}
	line(fmt.Sprintf("/smpq %s#%x Echo secret?|Password!", b.self, sec.Instance))
	waitFor(t, a, b.self, anyEvent[otr.SMPSucceededEvent])
	line("/smp " + b.self + " nope")
	waitFor(t, a, b.self, anyEvent[otr.SMPFailedEvent])
	line("/bogus")
	line(fmt.Sprintf("%s#%x to nobody", b.self, sec.Instance+1))
	line("/status " + b.self)
	line(fmt.Sprintf("/end %s#%x", b.self, sec.Instance))
	waitFor(t, a, b.self, anyEvent[otr.EndedEvent])
	waitFor(t, b, a.self, anyEvent[otr.FinishedEvent])
	pw.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("readCommands: %v", err)
		}
	case <-time.After(timeout):
		t.Fatal("readCommands did not return at the end of input")
	}

	printed := out.String()
	for _, want := range []string{
		"-> " + b.self + ": ?OTRv34?",
		"<- " + b.self + ": ?OTR:",
		fmt.Sprintf("[%s] secure v4 with %08x", b.self, sec.Instance),
		fmt.Sprintf("[%s] encrypted from %08x \"hello there\"", b.self, sec.Instance),
		"unknown command /bogus",
		fmt.Sprintf("[%s] SMP succeeded with %08x", b.self, sec.Instance),
		fmt.Sprintf("[%s] SMP failed with %08x: secrets differ", b.self, sec.Instance),
		fmt.Sprintf("[%s] error: %v", b.self, otr.ErrUnknownInstance),
		fmt.Sprintf("[%s#%08x] encrypted, version 4, fingerprint %s", b.self, sec.Instance, b.acct.Fingerprint4()),
		fmt.Sprintf("[%s] ended (%08x)", b.self, sec.Instance),
	} {
		if !strings.Contains(printed, want) {
			t.Errorf("output lacks %q; it is:\n%s", want, printed)
		}
	}
}

// commandFeed runs c's commands from a pipe, returning a function that
// writes one line.
func commandFeed(t *testing.T, c *testClient) func(string) {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- c.readCommands(pr) }()
	t.Cleanup(func() {
		pw.Close()
		if err := <-done; err != nil {
			t.Errorf("readCommands: %v", err)
		}
	})
	return func(s string) {
		t.Helper()
		if _, err := io.WriteString(pw, s+"\n"); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCommandsSMP runs SMP between two clients driven by commands.
func TestCommandsSMP(t *testing.T) {
	server := startServer(t)
	a := dialClient(t, server, 0, config{})
	b := dialClient(t, server, 1, config{})
	lineA, lineB := commandFeed(t, a), commandFeed(t, b)

	lineA("/start " + b.self)
	secA := waitFor(t, a, b.self, anyEvent[otr.SecureEvent])
	waitFor(t, b, a.self, anyEvent[otr.SecureEvent])

	lineA(fmt.Sprintf("/smpq %s Shared word?|swordfish", b.self))
	if q := waitFor(t, b, a.self, anyEvent[otr.SMPQuestionEvent]); q.Question != "Shared word?" {
		t.Errorf("B is asked %q, want %q", q.Question, "Shared word?")
	}
	lineB("/answer " + a.self + " swordfish")
	waitFor(t, b, a.self, anyEvent[otr.SMPSucceededEvent])
	waitFor(t, a, b.self, anyEvent[otr.SMPSucceededEvent])

	lineA(fmt.Sprintf("/smp %s#%x another", b.self, secA.Instance))
	waitFor(t, b, a.self, anyEvent[otr.SMPQuestionEvent])
	lineB("/abort " + a.self)
	if ev := waitFor(t, a, b.self, anyEvent[otr.SMPAbortedEvent]); !ev.ByContact {
		t.Errorf("A: %v, want aborted by the contact", ev)
	}

	lineA(b.self + " still encrypted")
	if got := waitFor(t, b, a.self, anyEvent[otr.MessageEvent]).Text; got != "still encrypted" {
		t.Errorf("B got %q, want %q", got, "still encrypted")
	}
}

// runCommands runs lines as c's commands and returns what c printed
// meanwhile; c prints to out.
func runCommands(t *testing.T, c *testClient, out *lockedBuffer, lines ...string) string {
	t.Helper()
	before := len(out.String())
	if err := c.readCommands(strings.NewReader(strings.Join(lines, "\n") + "\n")); err != nil {
		t.Fatalf("readCommands: %v", err)
	}
	printed := out.String()[before:]
	if strings.Contains(printed, "error") {
		t.Fatalf("%s: commands %q printed an error:\n%s", c.self, lines, printed)
	}
	return printed
}

// TestOffline runs OTRv4 offline conversations over the relay, both ways
// between two named accounts: the absent one publishes prekey ensembles and
// leaves; the other starts from one of them with /offline and writes once
// more; the absent one comes back with the same account state, reads both
// messages from the relay's store, and both converse encrypted.
func TestOffline(t *testing.T) {
	names := [2]string{"alice", "bob"}
	for _, absent := range []int{1, 0} {
		present := 1 - absent
		t.Run(names[absent]+" offline", func(t *testing.T) {
			server := startServer(t)
			hostAbsent := &otr.MemoryHost{}
			var outAbsent, outPresent lockedBuffer
			// The absent account's first connection.
			first := dialClient(t, server, absent, config{Name: names[absent], Host: hostAbsent, Out: &outAbsent})
			if got := runCommands(t, first, &outAbsent, "/publish 3"); !strings.Contains(got, "published 3 prekey ensembles") {
				t.Fatalf("/publish 3 printed %q", got)
			}
			first.disconnect()

			p := dialClient(t, server, present, config{Name: names[present], Out: &outPresent})
			runCommands(t, p, &outPresent, "/offline "+names[absent]+" are you there?", names[absent]+" call me")
			secP := waitFor(t, p, names[absent], anyEvent[otr.SecureEvent])
			if secP.Version != 4 || secP.Instance != first.acct.InstanceTag() || !bytes.Equal(secP.Fingerprint, first.acct.Fingerprint4()) {
				t.Errorf("%s's SecureEvent %v, want version 4 with %08x, fingerprint %s", names[present], secP, first.acct.InstanceTag(), first.acct.Fingerprint4())
			}

			// Back, with the same host (prekey secrets, instance tag) and
			// a fresh randomness stream.
			back := dialClient(t, server, absent, config{Name: names[absent], Host: hostAbsent, Rand: seeded(byte(20 + absent))})
			if back.acct.InstanceTag() != first.acct.InstanceTag() {
				t.Fatalf("instance tag %08x after reconnecting, want %08x", back.acct.InstanceTag(), first.acct.InstanceTag())
			}
			secA := waitFor(t, back, names[present], anyEvent[otr.SecureEvent])
			if secA.Version != 4 || secA.Instance != p.acct.InstanceTag() || !bytes.Equal(secA.Fingerprint, p.acct.Fingerprint4()) {
				t.Errorf("%s's SecureEvent %v, want version 4 with %08x, fingerprint %s", names[absent], secA, p.acct.InstanceTag(), p.acct.Fingerprint4())
			}
			if secA.SSID != secP.SSID {
				t.Errorf("SSIDs differ: %s %s, %s %s", names[present], secP.SSID, names[absent], secA.SSID)
			}
			for _, want := range []string{"are you there?", "call me"} {
				if got := waitFor(t, back, names[present], anyEvent[otr.MessageEvent]); got.Text != want || got.Instance != p.acct.InstanceTag() {
					t.Fatalf("%s read %q from %08x, want %q from %08x", names[absent], got.Text, got.Instance, want, p.acct.InstanceTag())
				}
			}

			// Both ways, encrypted.
			for i := range 3 {
				reply := fmt.Sprint("back now ", i)
				if err := back.send(names[present], 0, reply); err != nil {
					t.Fatal(err)
				}
				if got := waitFor(t, p, names[absent], anyEvent[otr.MessageEvent]).Text; got != reply {
					t.Fatalf("%s read %q, want %q", names[present], got, reply)
				}
				again := fmt.Sprint("good ", i)
				if err := p.send(names[absent], 0, again); err != nil {
					t.Fatal(err)
				}
				if got := waitFor(t, back, names[present], anyEvent[otr.MessageEvent]).Text; got != again {
					t.Fatalf("%s read %q, want %q", names[absent], got, again)
				}
			}
			for _, c := range []*testClient{back, p} {
				other := names[present]
				if c == p {
					other = names[absent]
				}
				in, ok := c.acct.Session(other).Instance(0)
				if !ok || in.Status != otr.Encrypted || in.Version != 4 || in.SSID != secP.SSID {
					t.Errorf("%s's instance of %s: %+v, %v; want encrypted, version 4, SSID %s", c.self, other, in, ok, secP.SSID)
				}
			}
		})
	}
}

// TestOfflineErrors: the commands fail clearly without ensembles or a name,
// and an ensemble is handed out once.
func TestOfflineErrors(t *testing.T) {
	server := startServer(t)
	var outA, outB lockedBuffer
	a := dialClient(t, server, 0, config{Name: "alice", Out: &outA})
	anon := dialClient(t, server, 1, config{Out: &outB})
	if err := a.offline("bob", "hi"); err == nil || !strings.Contains(err.Error(), "no ensemble for bob") {
		t.Errorf("offline to an unknown name: %v, want no ensemble for bob", err)
	}
	if err := anon.publish(1); err == nil {
		t.Error("publish without a name succeeded")
	}
	if err := a.publish(1); err != nil {
		t.Fatalf("publish: %v", err)
	}
	if err := anon.offline("alice", ""); err != nil {
		t.Fatalf("offline from an unnamed client: %v", err)
	}
	waitFor(t, anon, "alice", anyEvent[otr.SecureEvent])
	if sec := waitFor(t, a, anon.self, anyEvent[otr.SecureEvent]); sec.Version != 4 {
		t.Errorf("alice's SecureEvent %v, want version 4", sec)
	}
	if err := anon.offline("alice", ""); err == nil {
		t.Error("a second fetch got the only ensemble again")
	}
}
