package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// stanzaLimit is the test server's c2s_stanza_size_limit: small, so that
// long OTR messages are fragmented.
const stanzaLimit = 16 << 10

// prosody is a prosody server run by a test as a child process: its own
// configuration, data, certificate and log in a temporary directory,
// listening on 127.0.0.1 only, on a port chosen at run time.
type prosody struct {
	t         *testing.T
	dir       string
	config    string
	port      int
	caFile    string
	pool      *x509.CertPool
	passwords map[string]string // localpart -> password

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// prosodyConfig is the server's configuration. Ports are chosen at run
// time; nothing listens beyond 127.0.0.1; s2s, HTTP and direct TLS are
// off.
var prosodyConfig = template.Must(template.New("cfg").Parse(`-- Written by the otr XMPP example's end-to-end test.
{{if .Root}}run_as_root = true -- the test runs as root (CI): without it prosody switches to its own user, who cannot read this directory
{{end}}daemonize = false
pidfile = "{{.Dir}}/prosody.pid"
data_path = "{{.Dir}}/data"
certificates = "{{.Dir}}"
use_ipv6 = false
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { {{.Port}} }
c2s_direct_tls_ports = { }
legacy_ssl_ports = { }
s2s_ports = { }
http_ports = { }
https_ports = { }
modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "carbons"; "mam"; "ping" }
modules_disabled = { "s2s" }
allow_registration = false
c2s_require_encryption = true
authentication = "internal_hashed"
storage = "internal"
default_archive_policy = true
archive_expires_after = "never"
c2s_stanza_size_limit = {{.Limit}}
log = { { levels = { min = "info" }, to = "file", filename = "{{.Dir}}/prosody.log" } }

VirtualHost "localhost"
	ssl = { key = "{{.Dir}}/localhost.key"; certificate = "{{.Dir}}/localhost.crt" }
`))

// startProsody writes a configuration and a certificate, registers users
// with prosodyctl and starts the server. It fails the test if prosody is
// missing or does not start (CI installs it: see .ci/run). The server is
// stopped when the test ends, pass or fail.
func startProsody(t *testing.T, users ...string) *prosody {
	t.Helper()
	for _, bin := range []string{"prosody", "prosodyctl"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s not found (apt-get install prosody; .ci/run does): %v", bin, err)
		}
	}
	p := &prosody{t: t, dir: t.TempDir(), passwords: make(map[string]string)}
	p.config = filepath.Join(p.dir, "prosody.cfg.lua")
	p.port = freePort(t)
	p.writeCertificate()
	var cfg bytes.Buffer
	err := prosodyConfig.Execute(&cfg, map[string]any{
		"Root": os.Geteuid() == 0, "Dir": p.dir, "Port": p.port, "Limit": stanzaLimit,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.config, cfg.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		var b [12]byte
		rand.Read(b[:])
		p.passwords[u] = hex.EncodeToString(b[:])
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := exec.CommandContext(ctx, "prosodyctl", "--config", p.config, "register", u, "localhost", p.passwords[u]).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("prosodyctl register %s: %v\n%s", u, err, out)
		}
	}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			p.dumpLog()
		}
	})
	p.start()
	return p
}

// writeCertificate makes a CA and a certificate for localhost and
// 127.0.0.1 signed by it (ECDSA P-256, valid for a day), for this run
// only.
func (p *prosody) writeCertificate() {
	t := p.t
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	now := time.Now()
	caKey, leafKey := newKey(), newKey()
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "otr xmpp test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(p.dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	p.caFile = write("ca.pem", "CERTIFICATE", caDER)
	write("localhost.crt", "CERTIFICATE", leafDER)
	write("localhost.key", "PRIVATE KEY", keyDER)
	// The client reads the CA the way its -ca flag does.
	if p.pool, err = loadCAs(p.caFile); err != nil {
		t.Fatal(err)
	}
}

// start starts prosody in the foreground as a child process and waits
// until its c2s port answers.
func (p *prosody) start() {
	t := p.t
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(p.dir, "prosody.out"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("prosody", "--config", p.config, "-F")
	cmd.Stdout, cmd.Stderr = logf, logf
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("starting prosody: %v", err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(done)
	}()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()

	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", p.addr(), time.Second)
		if err == nil {
			conn.Close()
			return
		}
		select {
		case <-done:
			t.Fatalf("prosody exited at start (%v); its output:\n%s", cmd.ProcessState, p.output())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("prosody's port %d did not answer within 20s: %v", p.port, err)
		}
	}
}

// stop stops prosody by its own process id: SIGTERM, then SIGKILL after
// 10 seconds. It does nothing if prosody is not running.
func (p *prosody) stop() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

func (p *prosody) addr() string { return fmt.Sprintf("127.0.0.1:%d", p.port) }

// output returns what prosody printed and logged.
func (p *prosody) output() string {
	var b strings.Builder
	for _, name := range []string{"prosody.out", "prosody.log"} {
		data, _ := os.ReadFile(filepath.Join(p.dir, name))
		fmt.Fprintf(&b, "--- %s\n%s", name, data)
	}
	return b.String()
}

// dumpLog logs the tail of prosody's output.
func (p *prosody) dumpLog() {
	out := p.output()
	if len(out) > 8000 {
		out = "...\n" + out[len(out)-8000:]
	}
	p.t.Logf("prosody:\n%s", out)
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
