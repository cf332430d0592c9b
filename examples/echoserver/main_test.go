package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// timeout bounds every wait; nothing in these tests sleeps.
const timeout = 10 * time.Second

func TestFrames(t *testing.T) {
	frame := func(addr, content string) []byte { return appendFrame(nil, addr, []byte(content)) }
	tests := []struct {
		name        string
		in          []byte
		wantAddr    string
		wantContent string
		wantErr     bool
	}{
		{name: "simple", in: frame("127.0.0.1:4000", "?OTRv3?"), wantAddr: "127.0.0.1:4000", wantContent: "?OTRv3?"},
		{name: "empty fields", in: frame("", ""), wantAddr: "", wantContent: ""},
		{name: "utf-8 address", in: frame("[::1]:80 ünïcode", "x"), wantAddr: "[::1]:80 ünïcode", wantContent: "x"},
		{name: "binary content", in: frame("a", "\x00\xff\x01"), wantAddr: "a", wantContent: "\x00\xff\x01"},
		{name: "trailing frame ignored", in: append(frame("a", "b"), frame("c", "d")...), wantAddr: "a", wantContent: "b"},
		{name: "invalid utf-8 address", in: frame("\xff", "x"), wantErr: true},
		{name: "address too long", in: []byte{0x01, 0x00, 0x00, 0x01}, wantErr: true},
		{name: "content too long", in: append(frame("a", "")[:5], 0xff, 0xff, 0xff, 0xff), wantErr: true},
		{name: "short length", in: []byte{0, 0}, wantErr: true},
		{name: "short address", in: []byte{0, 0, 0, 5, 'a'}, wantErr: true},
		{name: "missing content", in: []byte{0, 0, 0, 1, 'a'}, wantErr: true},
		{name: "short content", in: []byte{0, 0, 0, 1, 'a', 0, 0, 0, 3, 'x'}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, content, err := readFrame(bytes.NewReader(tc.in))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("readFrame(%x) = %q, %q, want error", tc.in, addr, content)
				}
				return
			}
			if err != nil {
				t.Fatalf("readFrame(%x) error = %v", tc.in, err)
			}
			if addr != tc.wantAddr || string(content) != tc.wantContent {
				t.Errorf("readFrame(%x) = %q, %q, want %q, %q", tc.in, addr, content, tc.wantAddr, tc.wantContent)
			}
		})
	}
	t.Run("eof", func(t *testing.T) {
		if _, _, err := readFrame(bytes.NewReader(nil)); err != io.EOF {
			t.Errorf("readFrame(empty) error = %v, want io.EOF", err)
		}
	})
	t.Run("every strict prefix fails", func(t *testing.T) {
		f := frame("127.0.0.1:1", "hello")
		for i := range len(f) {
			if _, _, err := readFrame(bytes.NewReader(f[:i])); err == nil {
				t.Errorf("readFrame(%x) succeeded on a %d-byte prefix", f[:i], i)
			}
		}
	})
}

type frameResult struct {
	addr    string
	content string
	err     error
}

// readFrames reads frames from r into a channel until an error.
func readFrames(r io.Reader) <-chan frameResult {
	ch := make(chan frameResult, 16)
	go func() {
		br := bufio.NewReader(r)
		for {
			a, c, err := readFrame(br)
			ch <- frameResult{a, string(c), err}
			if err != nil {
				close(ch)
				return
			}
		}
	}()
	return ch
}

func expectFrame(t *testing.T, ch <-chan frameResult, addr, content string) {
	t.Helper()
	select {
	case f, ok := <-ch:
		if !ok || f.err != nil {
			t.Fatalf("reading frame: %v (channel open: %v)", f.err, ok)
		}
		if f.addr != addr || f.content != content {
			t.Fatalf("got frame %q, %q, want %q, %q", f.addr, f.content, addr, content)
		}
	case <-time.After(timeout):
		t.Fatalf("no frame %q, %q within %v", addr, content, timeout)
	}
}

// TestRelay drives the relay without a network, through pipes.
func TestRelay(t *testing.T) {
	r := NewRelay(nil)
	pra, pwa := io.Pipe()
	prb, pwb := io.Pipe()
	defer pra.Close()
	defer prb.Close()
	leaveA := r.Join("a", pwa, func() { pwa.Close() })
	leaveB := r.Join("b", pwb, func() { pwb.Close() })
	fa, fb := readFrames(pra), readFrames(prb)

	if !r.Forward("a", "b", []byte("hello b")) {
		t.Fatal("Forward(a -> b) = false, want true")
	}
	expectFrame(t, fb, "a", "hello b")
	if !r.Forward("b", "a", []byte("hello a")) {
		t.Fatal("Forward(b -> a) = false, want true")
	}
	expectFrame(t, fa, "b", "hello a")
	if !r.Forward("a", "a", []byte("self")) {
		t.Fatal("Forward(a -> a) = false, want true")
	}
	expectFrame(t, fa, "a", "self")
	if r.Forward("a", "nobody", []byte("x")) {
		t.Error("Forward(a -> nobody) = true, want false")
	}
	// Order is kept.
	for _, m := range []string{"1", "2", "3"} {
		r.Forward("a", "b", []byte(m))
	}
	for _, m := range []string{"1", "2", "3"} {
		expectFrame(t, fb, "a", m)
	}

	leaveB()
	if r.Forward("a", "b", []byte("gone")) {
		t.Error("Forward to b after leave = true, want false")
	}
	leaveB() // a second leave is harmless

	// Rejoining "a" replaces and kicks the old client.
	kicked := make(chan struct{})
	_, pw2 := io.Pipe()
	leaveA2 := r.Join("a", pw2, func() { close(kicked) })
	defer leaveA2()
	select {
	case f := <-fa:
		if f.err == nil {
			t.Fatalf("old client of a got frame %q after being replaced", f.content)
		}
	case <-time.After(timeout):
		t.Fatal("old client of a was not kicked")
	}
	leaveA() // the old client's leave must not remove the new one
	if !r.Forward("x", "a", []byte("still there")) {
		t.Error("Forward to the new a after the old one left = false, want true")
	}
}

// blockingWriter never returns from Write until released.
type blockingWriter struct{ release chan struct{} }

func (w blockingWriter) Write(p []byte) (int, error) {
	<-w.release
	return 0, errors.New("released")
}

func TestRelaySlowClient(t *testing.T) {
	r := NewRelay(nil)
	w := blockingWriter{release: make(chan struct{})}
	defer close(w.release)
	kicked := make(chan struct{})
	leave := r.Join("slow", w, func() { close(kicked) })
	defer leave()
	// Each frame is larger than the writer's buffer, so the writer blocks
	// on the first; queueLen more fill the queue; the next overflows it.
	big := make([]byte, 8192)
	for range queueLen + 2 {
		r.Forward("x", "slow", big)
	}
	select {
	case <-kicked:
	case <-time.After(timeout):
		t.Fatal("slow client was not kicked")
	}
	if r.Forward("x", "slow", []byte("y")) {
		t.Error("Forward to a kicked client = true, want false")
	}
}

// TestLoopback runs the relay on a loopback TCP port with two clients.
func TestLoopback(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := NewRelay(nil)
	done := make(chan error, 1)
	go func() { done <- r.Serve(l) }()
	defer func() {
		l.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()

	dial := func() (net.Conn, <-chan frameResult, string) {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		self := c.LocalAddr().String()
		frames := readFrames(c)
		// A frame to ourselves comes back once the relay has registered
		// us: until then frames for us would be dropped.
		if _, err := c.Write(appendFrame(nil, self, []byte("join"))); err != nil {
			t.Fatal(err)
		}
		expectFrame(t, frames, self, "join")
		return c, frames, self
	}
	ca, fa, addrA := dial()
	cb, fb, addrB := dial()

	send := func(c net.Conn, to, content string) {
		t.Helper()
		if _, err := c.Write(appendFrame(nil, to, []byte(content))); err != nil {
			t.Fatal(err)
		}
	}
	send(ca, addrB, "hello from a")
	expectFrame(t, fb, addrA, "hello from a")
	send(cb, "127.0.0.1:1", "dropped")
	send(cb, addrA, "hello from b")
	expectFrame(t, fa, addrB, "hello from b")
	big := strings.Repeat("x", 100000)
	send(ca, addrB, big)
	expectFrame(t, fb, addrA, big)

	// A malformed frame ends the sender's connection, not the relay.
	if _, err := cb.Write([]byte{0xff, 0xff, 0xff, 0xff}); err != nil {
		t.Fatal(err)
	}
	select {
	case f := <-fb:
		if f.err == nil {
			t.Fatalf("got frame %q after a malformed frame, want the connection closed", f.content)
		}
	case <-time.After(timeout):
		t.Fatal("connection not closed after a malformed frame")
	}
	send(ca, addrA, "relay alive")
	expectFrame(t, fa, addrA, "relay alive")
}

// TestCommands runs the relay's commands on a loopback port: names, the
// store for an absent name, and the prekey ensembles.
func TestCommands(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := NewRelay(nil)
	done := make(chan error, 1)
	go func() { done <- r.Serve(l) }()
	defer func() {
		l.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	dial := func() (net.Conn, <-chan frameResult) {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, readFrames(c)
	}
	send := func(c net.Conn, to, content string) {
		t.Helper()
		if _, err := c.Write(appendFrame(nil, to, []byte(content))); err != nil {
			t.Fatal(err)
		}
	}
	command := func(c net.Conn, f <-chan frameResult, line, answer string) {
		t.Helper()
		send(c, "", line)
		expectFrame(t, f, "", answer)
	}

	bob, fb := dial()
	command(bob, fb, "publish e30=", "error publish needs a name")
	command(bob, fb, "name bob:1", "error bad name")
	command(bob, fb, "name", "error bad name")
	command(bob, fb, "hello", "error unknown command")
	command(bob, fb, "name bob", "ok name bob")
	send(bob, "bob", "to myself")
	expectFrame(t, fb, "bob", "to myself")
	command(bob, fb, "publish ZW5zZW1ibGUgMQ== ZW5zZW1ibGUgMg==", "ok published 2")
	command(bob, fb, "publish not-base64", "error bad base64")
	command(bob, fb, "quit", "ok quit")

	alice, fa := dial()
	command(alice, fa, "name alice", "ok name alice")
	command(alice, fa, "fetch bob", "ensemble bob ZW5zZW1ibGUgMQ==")
	command(alice, fa, "fetch bob", "ensemble bob ZW5zZW1ibGUgMg==")
	command(alice, fa, "fetch bob", "error no ensemble for bob")
	command(alice, fa, "fetch carol", "error no ensemble for carol")
	// bob is away: frames for him are stored, in order; frames for a name
	// never taken, or an "ip:port" nobody holds, are dropped.
	send(alice, "bob", "first")
	send(alice, "bob", "second")
	send(alice, "carol", "dropped")
	command(alice, fa, "fetch bob", "error no ensemble for bob") // the frames above were handled

	bob2, fb2 := dial()
	command(bob2, fb2, "name bob", "ok name bob")
	expectFrame(t, fb2, "alice", "first")
	expectFrame(t, fb2, "alice", "second")
	send(bob2, "alice", "back")
	expectFrame(t, fa, "bob", "back")

	// Taking a held name replaces its holder, whose connection is closed.
	bob3, fb3 := dial()
	command(bob3, fb3, "name bob", "ok name bob")
	select {
	case f := <-fb2:
		if f.err == nil {
			t.Fatalf("replaced holder of bob got frame %q", f.content)
		}
	case <-time.After(timeout):
		t.Fatal("replaced holder of bob was not closed")
	}
	send(alice, "bob", "to the new bob")
	expectFrame(t, fb3, "alice", "to the new bob")
	// Unnamed clients still work, named ones see their "ip:port".
	anon, fn := dial()
	send(anon, "alice", "from an address")
	expectFrame(t, fa, anon.LocalAddr().String(), "from an address")
	send(alice, anon.LocalAddr().String(), "to an address")
	expectFrame(t, fn, "alice", "to an address")
}
