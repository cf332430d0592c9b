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
// # Commands
//
// An extension of ours, for offline conversations (OTRv4's non-interactive
// DAKE): a frame addressed to the empty address is a command to the relay,
// its content one line, and the relay answers each command with one frame
// whose address is empty, "ok ..." or "error REASON". Clients that send no
// command see the relay as before.
//
//	name NAME           take the name NAME (1 to 64 letters, digits and ".-_@"): frames
//	                    from this connection carry NAME as originator, frames to NAME
//	                    reach it, and the frames stored for NAME follow the answer
//	                    "ok name NAME", in order. A connection holding NAME already is
//	                    replaced and closed; nothing checks who takes a name.
//	publish ENSEMBLE... store prekey ensembles (standard base64, opaque to the relay)
//	                    for our name; answer "ok published N".
//	fetch NAME          take one of NAME's ensembles, oldest first, and remove it:
//	                    answer "ensemble NAME BASE64", or an error if none is left.
//	quit                stop taking frames for our name (frames to it are stored from
//	                    now on), answer "ok quit"; the client then closes. A client
//	                    that closes without quit loses the frames in flight to it.
//
// Like the prekey server of OTRv4, the relay is not trusted: it keeps and
// hands out bytes and checks nothing in them. A frame for a name that was
// taken once and is not held now is stored (up to 256 per name) and
// delivered when the name is taken again; frames for an "ip:port" nobody
// holds are still dropped. Everything is kept in memory only.
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
	"encoding/base64"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strings"
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

// Limits of what the relay stores for a name.
const (
	maxStored    = 256 // frames waiting for a name nobody holds
	maxEnsembles = 100 // prekey ensembles published for a name
	maxNameLen   = 64
)

// peer is one connected client as the relay sees it.
type peer struct {
	addr string      // the address it holds: its "ip:port" or its name; guarded by Relay.mu
	gone bool        // out is closed or about to be; guarded by Relay.mu
	out  chan []byte // encoded frames to write
	kick func()      // closes the connection
	stop func()      // closes out, once
}

// user is what the relay keeps for a name.
type user struct {
	stored    [][]byte // encoded frames for the name while nobody holds it
	ensembles [][]byte // published prekey ensembles, oldest first
}

// Relay routes frames between the clients that joined it. It does no I/O of
// its own beyond what the writers given to Join do, so it can be tested
// without a network. It is safe for concurrent use.
type Relay struct {
	mu    sync.Mutex
	peers map[string]*peer
	users map[string]*user // every name taken once
	log   *log.Logger      // nil: silent
}

// NewRelay returns an empty relay logging to l (nil: silent).
func NewRelay(l *log.Logger) *Relay {
	return &Relay{peers: make(map[string]*peer), users: make(map[string]*user), log: l}
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
	_, leave = r.join(addr, w, kick)
	return leave
}

func (r *Relay) join(addr string, w io.Writer, kick func()) (*peer, func()) {
	p := &peer{addr: addr, out: make(chan []byte, queueLen), kick: sync.OnceFunc(kick)}
	p.stop = sync.OnceFunc(func() { close(p.out) })
	r.mu.Lock()
	r.replaceLocked(addr, p)
	r.mu.Unlock()
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
	return p, func() {
		r.mu.Lock()
		if r.peers[p.addr] == p {
			delete(r.peers, p.addr)
		}
		p.gone = true
		r.mu.Unlock()
		p.stop()
	}
}

// replaceLocked makes p the holder of addr, cutting off the old holder.
func (r *Relay) replaceLocked(addr string, p *peer) {
	old := r.peers[addr]
	r.peers[addr] = p
	p.addr = addr
	if old != nil && old != p {
		old.gone = true
		old.stop()
		go old.kick()
	}
}

// Forward delivers content from the client from to the client to, framed
// with from as its address. It reports whether to is connected, or is a
// name whose frames are stored meanwhile; another frame is dropped.
func (r *Relay) Forward(from, to string, content []byte) bool {
	f := appendFrame(nil, from, content)
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.peers[to]; p != nil {
		r.deliverLocked(p, f)
		return true
	}
	u := r.users[to]
	if u == nil || len(u.stored) >= maxStored {
		return false
	}
	u.stored = append(u.stored, f)
	return true
}

// deliverLocked queues the encoded frame f for p.
func (r *Relay) deliverLocked(p *peer, f []byte) {
	if p.gone {
		// Replaced or cut off, and its reader still sends commands.
		return
	}
	select {
	case p.out <- f:
	default:
		// The client does not read: blocking here would stall every sender
		// to it, so it is cut off instead.
		r.logf("%s is too slow, disconnecting it", p.addr)
		if r.peers[p.addr] == p {
			delete(r.peers, p.addr)
		}
		p.gone = true
		p.stop()
		go p.kick()
	}
}

// validName reports whether s may be taken as a name: it cannot be mistaken
// for an "ip:port".
func validName(s string) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune(".-_@", c)) {
			return false
		}
	}
	return true
}

// command runs one command line of p (see the package doc) and queues its
// answer to p.
func (r *Relay) command(p *peer, line string) {
	verb, arg, _ := strings.Cut(line, " ")
	r.mu.Lock()
	defer r.mu.Unlock()
	answer := func(s string) { r.deliverLocked(p, appendFrame(nil, "", []byte(s))) }
	u := r.users[p.addr] // nil until p takes a name
	switch verb {
	case "name":
		if !validName(arg) {
			answer("error bad name")
			return
		}
		if r.peers[p.addr] == p {
			delete(r.peers, p.addr)
		}
		r.replaceLocked(arg, p)
		u = r.users[arg]
		if u == nil {
			u = new(user)
			r.users[arg] = u
		}
		answer("ok name " + arg)
		for _, f := range u.stored {
			r.deliverLocked(p, f)
		}
		u.stored = nil
	case "publish":
		if u == nil {
			answer("error publish needs a name")
			return
		}
		var list [][]byte
		for w := range strings.FieldsSeq(arg) {
			b, err := base64.StdEncoding.DecodeString(w)
			if err != nil || len(b) == 0 {
				answer("error bad base64")
				return
			}
			list = append(list, b)
		}
		if len(list) == 0 || len(u.ensembles)+len(list) > maxEnsembles {
			answer(fmt.Sprintf("error 1 to %d ensembles per name", maxEnsembles))
			return
		}
		u.ensembles = append(u.ensembles, list...)
		answer(fmt.Sprintf("ok published %d", len(list)))
	case "fetch":
		t := r.users[arg]
		if t == nil || len(t.ensembles) == 0 {
			answer("error no ensemble for " + arg)
			return
		}
		e := t.ensembles[0]
		t.ensembles = t.ensembles[1:]
		answer("ensemble " + arg + " " + base64.StdEncoding.EncodeToString(e))
	case "quit":
		answer("ok quit")
		if r.peers[p.addr] == p {
			delete(r.peers, p.addr)
		}
	default:
		answer("error unknown command")
	}
}

// Handle serves one client connection until it closes, then closes it. The
// client's address is the connection's remote address, or the name it took.
func (r *Relay) Handle(c net.Conn) {
	addr := c.RemoteAddr().String()
	p, leave := r.join(addr, c, func() { c.Close() })
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
		if to == "" {
			r.command(p, string(content))
			r.mu.Lock()
			addr = p.addr
			r.mu.Unlock()
			continue
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
