package main

import (
	"bufio"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/otrgo/otr"
)

// smpSecret is the secret echo clients answer SMP with (docs/interop.md,
// "The echonetwork test network").
const smpSecret = "Password!"

// maxField bounds an incoming address or content field, as the relay does.
const maxField = 16 << 20

// config is a client's setup.
type config struct {
	Echo    bool       // echo encrypted messages back to their sender
	Policy  otr.Policy // zero: otr.DefaultPolicy
	MaxSize int        // the transport's max message size; 0: no limit
	Rand    io.Reader  // nil: crypto/rand
	Out     io.Writer  // where frames and events are printed; nil: nowhere
	Wire    bool       // print the frames too, not just the events

	// Name, if set, is taken on the relay (its "name" command) and is our
	// account id instead of our socket address: it lasts across
	// connections, so contacts can write to it while we are away.
	Name string
	// Host keeps the account's state; nil: a new otr.MemoryHost with
	// MaxSize. Offline conversations need an otr.PrekeyHost, and the same
	// Host on every connection of one account: the prekey secrets, the
	// instance tag and the client profile must outlive the connection.
	Host otr.Host

	// OnEvent, if set, is called for every event, in order, from the
	// goroutine whose call produced it.
	OnEvent func(contact string, ev otr.Event)
	// OnError, if set, is called for every error of the library or the
	// transport while handling a received frame.
	OnError func(contact string, err error)
}

// client is one account on the echonetwork: a connection to the relay and
// the OTR sessions with the contacts seen through it. Its methods are safe
// for concurrent use: a reader goroutine runs run while another sends.
type client struct {
	conn  net.Conn
	self  string // our address as the relay sees it: our account id
	acct  *otr.Account
	cfg   config
	ready chan struct{} // closed once the relay echoed our join frame or took our name

	replies chan string   // the relay's answers to our commands
	done    chan struct{} // closed when run returns
	// rmu serializes commands to the relay: one answer is awaited at a time.
	rmu sync.Mutex

	// mu is held from a library call until its result is written. The
	// library itself is safe for concurrent use, but two results must reach
	// the wire in the order the library produced them: OTR3's counters
	// must increase, so a data message overtaken by a later one from
	// another goroutine would be rejected as a replay.
	mu sync.Mutex
	// wmu serializes writes to conn.
	wmu sync.Mutex
	// pmu serializes printing.
	pmu sync.Mutex
	// readyOnce closes ready.
	readyOnce sync.Once
}

// newClient makes the account for conn (its id is cfg.Name, or else the
// connection's local address) and tells the relay: with a name, it takes it
// ("name" command; the answer is how we learn that frames for us are
// delivered); without, it sends an empty frame addressed to ourselves: the
// relay acknowledges nothing, so that frame coming back (see run) is how we
// learn it.
func newClient(conn net.Conn, keys *otr.PrivateKeys, cfg config) (*client, error) {
	self := conn.LocalAddr().String()
	if cfg.Name != "" {
		self = cfg.Name
	}
	host := cfg.Host
	if host == nil {
		host = &otr.MemoryHost{MaxSize: cfg.MaxSize}
	}
	acct, err := otr.NewAccount(self, keys, host, &otr.Options{Rand: cfg.Rand, Policy: cfg.Policy})
	if err != nil {
		return nil, err
	}
	c := &client{conn: conn, self: self, acct: acct, cfg: cfg, ready: make(chan struct{}),
		replies: make(chan string, 1), done: make(chan struct{})}
	if cfg.Name != "" {
		err = c.writeFrame("", "name "+cfg.Name)
	} else {
		err = c.writeFrame(self, "")
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// writeFrame sends content to addr through the relay.
func (c *client) writeFrame(addr, content string) error {
	b := make([]byte, 0, 8+len(addr)+len(content))
	b = binary.BigEndian.AppendUint32(b, uint32(len(addr)))
	b = append(b, addr...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(content)))
	b = append(b, content...)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.conn.Write(b)
	return err
}

// readFrame reads one frame: the originator's address and the content.
func readFrame(r io.Reader) (addr, content string, err error) {
	var fields [2]string
	for i := range fields {
		var n [4]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			if i > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", "", err
		}
		l := binary.BigEndian.Uint32(n[:])
		if l > maxField {
			return "", "", fmt.Errorf("echoclient: frame field of %d bytes is too long", l)
		}
		b := make([]byte, l)
		if _, err := io.ReadFull(r, b); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", "", err
		}
		fields[i] = string(b)
	}
	if !utf8.ValidString(fields[0]) {
		return "", "", errors.New("echoclient: frame address is not UTF-8")
	}
	return fields[0], fields[1], nil
}

// run reads frames from the relay and feeds each to the session with its
// originator, until the connection fails or closes. It is called once.
func (c *client) run() error {
	defer close(c.done)
	br := bufio.NewReader(c.conn)
	named := c.cfg.Name != ""
	for {
		from, content, err := readFrame(br)
		if err != nil {
			return err
		}
		if from == "" && named {
			select {
			case <-c.ready:
			default:
				if content != "ok name "+c.cfg.Name {
					return fmt.Errorf("echoclient: the relay did not give us the name %q: %q", c.cfg.Name, short(content))
				}
				close(c.ready)
				continue
			}
		}
		if from == "" {
			select {
			case c.replies <- content:
			default:
				c.printf("relay (unasked): %s", short(content))
			}
			continue
		}
		if !named && from == c.self && content == "" {
			c.readyOnce.Do(func() { close(c.ready) })
			continue
		}
		if c.cfg.Wire {
			c.printf("<- %s: %s", from, short(content))
		}
		if err := c.do(from, func(s *otr.Session) (otr.Result, error) { return s.Receive(content) }); err != nil {
			c.printf("[%s] error: %v", from, err)
			if c.cfg.OnError != nil {
				c.cfg.OnError(from, err)
			}
		}
	}
}

// do calls f on the session with contact, transmits what it returns and
// reports its events; in echo mode, it answers them.
func (c *client) do(contact string, f func(*otr.Session) (otr.Result, error)) error {
	c.mu.Lock()
	res, err := f(c.acct.Session(contact))
	// Even with an error, the result may hold an OTR error message to send.
	werr := c.transmit(res.Send)
	c.mu.Unlock()
	errs := []error{err, werr}
	for _, ev := range res.Events {
		c.printf("[%s] %v", contact, ev)
		if c.cfg.OnEvent != nil {
			c.cfg.OnEvent(contact, ev)
		}
		if !c.cfg.Echo {
			continue
		}
		switch ev := ev.(type) {
		case otr.MessageEvent:
			if ev.Text != "" {
				errs = append(errs, c.send(contact, ev.Instance, ev.Text))
			}
		case otr.SMPQuestionEvent:
			errs = append(errs, c.answerSMP(contact, ev.Instance, smpSecret))
		}
	}
	return errors.Join(errs...)
}

// transmit writes each message to its contact, in order. The caller holds
// c.mu.
func (c *client) transmit(msgs []otr.Message) error {
	for _, m := range msgs {
		if c.cfg.Wire {
			c.printf("-> %s: %s", m.Contact, short(m.Text))
		}
		if err := c.writeFrame(m.Contact, m.Text); err != nil {
			return err
		}
	}
	return nil
}

// send sends text to contact's instance (0: the default one).
func (c *client) send(contact string, instance uint32, text string) error {
	return c.do(contact, func(s *otr.Session) (otr.Result, error) { return s.Send(instance, text) })
}

// start asks contact to begin OTR.
func (c *client) start(contact string) error {
	return c.do(contact, func(s *otr.Session) (otr.Result, error) { return s.Start() })
}

// startSMP starts SMP with contact's instance (0: the default one), with an
// optional question.
func (c *client) startSMP(contact string, instance uint32, secret, question string) error {
	return c.do(contact, func(s *otr.Session) (otr.Result, error) {
		return s.StartSMP(instance, []byte(secret), question)
	})
}

// answerSMP answers the SMP request of contact's instance (0: the one waiting).
func (c *client) answerSMP(contact string, instance uint32, secret string) error {
	return c.do(contact, func(s *otr.Session) (otr.Result, error) {
		return s.AnswerSMP(instance, []byte(secret))
	})
}

// end ends the encrypted session with contact's instance (0: every one).
func (c *client) end(contact string, instance uint32) error {
	return c.do(contact, func(s *otr.Session) (otr.Result, error) { return s.End(instance) })
}

// endAll ends every session, telling each contact.
func (c *client) endAll() {
	for _, contact := range c.acct.Sessions() {
		if err := c.end(contact, 0); err != nil {
			c.printf("[%s] error: %v", contact, err)
		}
	}
}

// request sends the relay a command (see examples/echoserver) and returns
// its answer, an error if it is "error ...".
func (c *client) request(line string) (string, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if err := c.writeFrame("", line); err != nil {
		return "", err
	}
	select {
	case a := <-c.replies:
		if reason, ok := strings.CutPrefix(a, "error "); ok {
			return "", fmt.Errorf("echoclient: the relay: %s", reason)
		}
		return a, nil
	case <-c.done:
		return "", errors.New("echoclient: connection closed before the relay answered")
	}
}

// publish makes n prekey ensembles and publishes them on the relay under
// our name, for contacts to start offline conversations with us.
func (c *client) publish(n int) error {
	if c.cfg.Name == "" {
		return errors.New("echoclient: publishing needs a name (-name)")
	}
	ens, err := c.acct.MakePrekeys(n)
	if err != nil {
		return err
	}
	list := make([]string, len(ens))
	for i, e := range ens {
		list[i] = base64.StdEncoding.EncodeToString(e)
	}
	if _, err := c.request("publish " + strings.Join(list, " ")); err != nil {
		return err
	}
	c.printf("published %d prekey ensembles", len(ens))
	return nil
}

// offline starts an offline conversation with contact from one of the
// contact's ensembles on the relay, with text as the first message (none
// if empty).
func (c *client) offline(contact, text string) error {
	a, err := c.request("fetch " + contact)
	if err != nil {
		return err
	}
	b64, ok := strings.CutPrefix(a, "ensemble "+contact+" ")
	if !ok {
		return fmt.Errorf("echoclient: unexpected answer of the relay: %q", short(a))
	}
	ens, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return fmt.Errorf("echoclient: the relay's ensemble: %v", err)
	}
	st := otr.OfflineStart{Ensemble: ens}
	if text != "" {
		st.Texts = []string{text}
	}
	return c.do(contact, func(s *otr.Session) (otr.Result, error) { return s.StartOffline(st) })
}

// close closes the connection. A named client first tells the relay to
// store what comes for it from now on, so that nothing in flight is lost.
func (c *client) close() error {
	var err error
	if c.cfg.Name != "" {
		_, err = c.request("quit")
	}
	return errors.Join(err, c.conn.Close())
}

// printf prints one line to cfg.Out.
func (c *client) printf(format string, args ...any) {
	if c.cfg.Out == nil {
		return
	}
	c.pmu.Lock()
	defer c.pmu.Unlock()
	fmt.Fprintf(c.cfg.Out, format+"\n", args...)
}

// short makes a wire message printable on one line.
func short(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.NewReplacer("\t", `\t`, "\n", `\n`, "\r", `\r`).Replace(s)
	if len(s) <= 120 {
		return s
	}
	n := 117
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
