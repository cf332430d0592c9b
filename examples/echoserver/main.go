// Command echoserver is a relay for the echonetwork test network, on which
// OTR libraries are tested against each other (otr4j and otrr have clients
// for it; our client is examples/echoclient).
//
// Every frame, in both directions, is a 4-byte big-endian length and a UTF-8
// address, then a 4-byte big-endian length and the content. From a client,
// the address is the destination; to a client, it is the originator, as the
// "ip:port" of its connection seen by the relay. There is no registration or
// acknowledgement: frames to unknown addresses are dropped
// (docs/interop.md, "The echonetwork test network").
//
// Usage:
//
//	echoserver [-listen :8080]
//
// It prints "listening on ADDR" once it accepts connections, so that a
// caller that passed port 0 learns the port.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sync"
	"unicode/utf8"
)

// maxField bounds the length of an address or content field. OTR messages
// are far smaller; the bound keeps a broken client from making us allocate
// 4 GiB.
const maxField = 16 << 20

// queueLen is how many frames wait for a slow client before the relay gives
// up on it and closes its connection.
const queueLen = 1024

// readFrame reads one frame: its address and content.
func readFrame(r io.Reader) (addr string, content []byte, err error) {
	a, err := readField(r)
	if err != nil {
		return "", nil, err
	}
	if !utf8.Valid(a) {
		return "", nil, errors.New("echoserver: address is not UTF-8")
	}
	c, err := readField(r)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return "", nil, err
	}
	return string(a), c, nil
}

func readField(r io.Reader) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	l := binary.BigEndian.Uint32(n[:])
	if l > maxField {
		return nil, fmt.Errorf("echoserver: field of %d bytes is too long", l)
	}
	b := make([]byte, l)
	if _, err := io.ReadFull(r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}

// appendFrame appends the encoded frame to b.
func appendFrame(b []byte, addr string, content []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(addr)))
	b = append(b, addr...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(content)))
	return append(b, content...)
}

// peer is one connected client as the relay sees it.
type peer struct {
	out  chan []byte // encoded frames to write
	kick func()      // closes the connection
	stop func()      // closes out, once
}

// Relay routes frames between the clients that joined it. It does no I/O of
// its own beyond what the writers given to Join do, so it can be tested
// without a network. It is safe for concurrent use.
type Relay struct {
	mu    sync.Mutex
	peers map[string]*peer
	log   *log.Logger // nil: silent
}

// NewRelay returns an empty relay logging to l (nil: silent).
func NewRelay(l *log.Logger) *Relay {
	return &Relay{peers: make(map[string]*peer), log: l}
}

func (r *Relay) logf(format string, args ...any) {
	if r.log != nil {
		r.log.Printf(format, args...)
	}
}

// Join registers the client known by addr: frames for addr are written to w
// in order, by a goroutine that runs until leave is called. kick is called
// (at most once, from any goroutine) when writing fails or the client falls
// too far behind; it should close the connection so that the client's reader
// ends and calls leave. Joining an address again replaces the old client.
func (r *Relay) Join(addr string, w io.Writer, kick func()) (leave func()) {
	p := &peer{out: make(chan []byte, queueLen), kick: sync.OnceFunc(kick)}
	p.stop = sync.OnceFunc(func() { close(p.out) })
	r.mu.Lock()
	old := r.peers[addr]
	r.peers[addr] = p
	r.mu.Unlock()
	if old != nil {
		old.stop()
		old.kick()
	}
	go func() {
		bw := bufio.NewWriter(w)
		for f := range p.out {
			_, err := bw.Write(f)
			// Flush only when nothing else is waiting: one write per burst.
			if err == nil && len(p.out) == 0 {
				err = bw.Flush()
			}
			if err != nil {
				r.logf("write to %s: %v", addr, err)
				p.kick()
				for range p.out {
				}
				return
			}
		}
	}()
	return func() {
		r.mu.Lock()
		if r.peers[addr] == p {
			delete(r.peers, addr)
		}
		r.mu.Unlock()
		p.stop()
	}
}

// Forward delivers content from the client from to the client to, framed
// with from as its address. It reports whether to is connected; a frame for
// an unknown address is dropped.
func (r *Relay) Forward(from, to string, content []byte) bool {
	f := appendFrame(nil, from, content)
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.peers[to]
	if p == nil {
		return false
	}
	select {
	case p.out <- f:
	default:
		// The client does not read: blocking here would stall every sender
		// to it, so it is cut off instead.
		r.logf("%s is too slow, disconnecting it", to)
		delete(r.peers, to)
		p.stop()
		go p.kick()
	}
	return true
}

// Handle serves one client connection until it closes, then closes it. The
// client's address is the connection's remote address.
func (r *Relay) Handle(c net.Conn) {
	addr := c.RemoteAddr().String()
	leave := r.Join(addr, c, func() { c.Close() })
	defer c.Close()
	defer leave()
	r.logf("%s connected", addr)
	br := bufio.NewReader(c)
	for {
		to, content, err := readFrame(br)
		if err != nil {
			if err != io.EOF && !errors.Is(err, net.ErrClosed) {
				r.logf("%s: %v", addr, err)
			}
			r.logf("%s disconnected", addr)
			return
		}
		if !r.Forward(addr, to, content) {
			r.logf("%s -> %s: unknown destination, frame dropped", addr, to)
		}
	}
}

// Serve accepts connections on l and handles each in its own goroutine,
// until l is closed.
func (r *Relay) Serve(l net.Listener) error {
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go r.Handle(c)
	}
}

func main() {
	listen := flag.String("listen", ":8080", "TCP address to listen on")
	quiet := flag.Bool("quiet", false, "do not log connections and dropped frames")
	flag.Parse()
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %s\n", l.Addr())
	var lg *log.Logger
	if !*quiet {
		lg = log.New(os.Stderr, "echoserver: ", log.LstdFlags)
	}
	if err := NewRelay(lg).Serve(l); err != nil {
		log.Fatal(err)
	}
}
