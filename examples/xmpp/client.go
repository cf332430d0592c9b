package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/otrgo/otr"
	"github.com/otrgo/otr/filehost"
	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/carbons"
	"mellium.im/xmpp/dial"
	"mellium.im/xmpp/history"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// config is a client's setup; a zero optional field means its default.
type config struct {
	// JID is the account (its bare JID). The server names the resource,
	// anew for each connection: mellium.im/xmpp v0.22.0 sends a request
	// for a resource of our choice empty (bindPayload.TokenReader writes
	// the JID field into <resource/>), so there is no point in asking.
	JID      jid.JID
	Password string
	// Server is the "host:port" to connect to; "" looks the JID's domain
	// up in DNS (SRV records, then port 5222).
	Server string
	// RootCAs verify the server's certificate (its name must be the JID's
	// domain); nil means the system's roots. There is no way to skip the
	// verification: a local server's own CA goes here.
	RootCAs *x509.CertPool
	Dir     string     // the OTR state directory (keys, instance tag, profile, trust)
	Policy  otr.Policy // zero: otr.DefaultPolicy
	// StanzaLimit is the largest stanza the server takes from a client, in
	// bytes (prosody: c2s_stanza_size_limit); 0 means 262144, prosody's
	// default. A larger stanza ends the connection, so OTR messages are
	// fragmented to fit and larger plaintext is refused.
	StanzaLimit int
	// Reconnect is the wait before reconnecting after the connection is
	// lost, doubled after each failed attempt up to a minute; 0 means 2 s.
	Reconnect time.Duration
	// Timeout bounds each network exchange (connecting, one stanza, one
	// query); 0 means 30 s.
	Timeout time.Duration
	Out     io.Writer // lines for the user; nil: nowhere
	Wire    bool      // also print every message body sent and received

	// Observers, for tests and front ends, each called on the goroutine
	// that caused it (events once the call's messages are written).
	OnEvent        func(contact string, ev otr.Event)    // every OTR event ("" contact: from Account.Expire)
	OnReceiveError func(contact string, err error)       // a message the library rejected
	OnUndelivered  func(contact, text string, err error) // user text that did not leave
	OnSent         func(to, body string, isOTR bool)     // every message body written to the server
	OnCarbon       func(sent bool, with, body string)    // a carbon copy from another resource of ours
	OnConnected    func(full jid.JID)                    // a session is ready (again)
	OnDisconnected func(err error)                       // the session ended
}

// Defaults of config.
const (
	defaultStanzaLimit = 256 << 10
	defaultReconnect   = 2 * time.Second
	maxReconnect       = time.Minute
	defaultTimeout     = 30 * time.Second
)

// errNotConnected is the error of a send while no session is up.
var errNotConnected = errors.New("xmpp: not connected to the server")

// client is one XMPP account logged in from one resource, with its OTR
// account. It keeps one OTR session per contact (bare JID) and sends every
// message to the contact's bare JID: the server delivers it to each of the
// contact's resources, and OTR's instance tags pick the client it is for.
// Its methods are safe for concurrent use: the session's reader, the user
// and a timer call them at once.
type client struct {
	cfg  config
	host *xmppHost
	acct *otr.Account

	// mu is held from a library call until its messages are written: two
	// results must reach the server in the order the library produced
	// them (a data message overtaken by a later one is a replay to OTR3).
	mu sync.Mutex

	stateMu sync.Mutex
	sess    *xmpp.Session // nil while disconnected
	changed chan struct{} // closed and replaced when sess changes

	mamMu sync.Mutex
	mam   map[string]*[]archived // archive results by query id

	kick chan struct{} // wakes the timer loop after a library call

	pmu sync.Mutex // serializes printing
}

// xmppHost is the client's otr.Host: the library's file-backed Host on
// the state directory (keys, instance tag, client profile, trust and
// policies, locked against a second process), with the max message size
// the server allows per contact.
type xmppHost struct {
	*filehost.Host
	max func(contact string) int
}

// MaxMessageSize implements otr.Host: the server's stanza limit less what
// the stanza around an OTR message to contact takes.
func (h *xmppHost) MaxMessageSize(contact string) int { return h.max(contact) }

// newClient opens the state directory and makes the OTR account for
// cfg.JID's bare JID. It does not connect: see run.
func newClient(cfg config) (*client, error) {
	if cfg.JID.Localpart() == "" {
		return nil, fmt.Errorf("xmpp: %q is not an account (user@domain)", cfg.JID)
	}
	cfg.JID = cfg.JID.Bare()
	if cfg.StanzaLimit == 0 {
		cfg.StanzaLimit = defaultStanzaLimit
	}
	if cfg.Reconnect <= 0 {
		cfg.Reconnect = defaultReconnect
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	dh, err := filehost.Open(cfg.Dir, nil)
	if err != nil {
		return nil, err
	}
	keys, err := dh.LoadOrGenerateKeys()
	if err != nil {
		dh.Close()
		return nil, err
	}
	c := &client{cfg: cfg, changed: make(chan struct{}), mam: make(map[string]*[]archived), kick: make(chan struct{}, 1)}
	c.host = &xmppHost{Host: dh, max: c.maxMessageSize}
	c.acct, err = otr.NewAccount(cfg.JID.Bare().String(), keys, c.host, &otr.Options{Policy: cfg.Policy})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// maxMessageSize is the longest OTR message to contact whose stanza fits
// the server's limit. OTR messages (base64, fragment punctuation) need no
// XML escaping, so each byte of text is a byte of stanza.
// close releases the state directory.
func (c *client) close() error { return c.host.Close() }

func (c *client) maxMessageSize(contact string) int {
	envelope := outMessage{To: contact, ID: strings.Repeat("0", idLen), OTR: true}.size()
	return max(c.cfg.StanzaLimit-envelope, 1)
}

// run connects, serves the session, and reconnects when it is lost, until
// ctx is done (then it returns nil). If the first connection fails (a
// wrong password, a certificate that does not verify), it returns that
// error.
func (c *client) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the timers
	go c.timers(ctx)
	delay, first := c.cfg.Reconnect, true
	for {
		sess, done, err := c.connect(ctx)
		if err == nil {
			first, delay = false, c.cfg.Reconnect
			err = c.serve(ctx, sess, done)
		}
		if ctx.Err() != nil {
			return nil
		}
		if first {
			return err
		}
		c.printf("* disconnected (%v); reconnecting in %v", err, delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		delay = min(2*delay, maxReconnect)
	}
}

// connect dials the server and negotiates STARTTLS (verifying the
// certificate), SASL and resource binding, then starts serving the
// session (done receives Serve's result), enables carbons and sends
// available presence.
func (c *client) connect(ctx context.Context) (*xmpp.Session, <-chan error, error) {
	cctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var conn net.Conn
	var err error
	if c.cfg.Server != "" {
		conn, err = new(net.Dialer).DialContext(cctx, "tcp", c.cfg.Server)
	} else {
		conn, err = dial.Client(cctx, "tcp", c.cfg.JID)
	}
	if err != nil {
		return nil, nil, err
	}
	tlsConfig := &tls.Config{
		ServerName: c.cfg.JID.Domainpart(),
		RootCAs:    c.cfg.RootCAs,
		MinVersion: tls.VersionTLS12,
	}
	// SASL is negotiated only once TLS is up (mellium requires it), so the
	// password never crosses the network in the clear.
	features := []xmpp.StreamFeature{
		xmpp.StartTLS(tlsConfig),
		xmpp.SASL("", c.cfg.Password, sasl.ScramSha256Plus, sasl.ScramSha1Plus, sasl.ScramSha256, sasl.ScramSha1),
		xmpp.BindResource(),
	}
	sess, err := xmpp.NewClientSession(cctx, c.cfg.JID, conn, features...)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	if sess.State()&xmpp.Secure == 0 {
		sess.Conn().Close()
		return nil, nil, errors.New("xmpp: the server did not offer STARTTLS")
	}
	done := make(chan error, 1)
	go func() { done <- sess.Serve(xmpp.HandlerFunc(c.handle)) }()
	setup := func() error {
		if err := carbons.Enable(cctx, sess); err != nil {
			return fmt.Errorf("enabling carbons: %w", err)
		}
		return sess.Send(cctx, stanza.Presence{Type: stanza.AvailablePresence}.Wrap(nil))
	}
	if err := setup(); err != nil {
		sess.Conn().Close()
		<-done
		return nil, nil, err
	}
	full := sess.LocalAddr()
	c.stateMu.Lock()
	c.sess = sess
	close(c.changed)
	c.changed = make(chan struct{})
	c.stateMu.Unlock()
	c.printf("* connected as %s (OTR instance tag %08x)", full, c.acct.InstanceTag())
	if c.cfg.OnConnected != nil {
		c.cfg.OnConnected(full)
	}
	return sess, done, nil
}

// serve waits until the session ends (or ctx is done) and then marks the
// client disconnected.
func (c *client) serve(ctx context.Context, sess *xmpp.Session, done <-chan error) error {
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		sess.Close()
		sess.Conn().Close()
		err = <-done
	}
	sess.Conn().Close()
	if err == nil {
		err = io.EOF
	}
	c.stateMu.Lock()
	c.sess = nil
	close(c.changed)
	c.changed = make(chan struct{})
	c.stateMu.Unlock()
	if c.cfg.OnDisconnected != nil {
		c.cfg.OnDisconnected(err)
	}
	return err
}

// session returns the current session, nil while disconnected.
func (c *client) session() *xmpp.Session {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	return c.sess
}

// waitConnected waits until the client is connected (want true) or
// disconnected (want false).
func (c *client) waitConnected(ctx context.Context, want bool) error {
	for {
		c.stateMu.Lock()
		up, ch := c.sess != nil, c.changed
		c.stateMu.Unlock()
		if up == want {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// handle is the session's handler: it reads each message stanza.
// It never waits for a reply from the server (the session reads none
// while it runs).
func (c *client) handle(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	if start.Name.Local != "message" {
		return nil // the session answers IQs it is not given an answer for
	}
	var m inMessage
	// The decoder must see the start element, or the end one is a syntax
	// error to it.
	d := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), t))
	if err := d.Decode(&m); err != nil {
		c.printf("* unreadable message stanza: %v", err)
		return nil
	}
	c.received(m)
	return nil
}

// received acts on one message stanza.
func (c *client) received(m inMessage) {
	switch {
	case m.Type == string(stanza.ErrorMessage):
		// A bounce: the server could not deliver one of our messages.
		cond := "unknown error"
		if m.Error != nil {
			cond = string(m.Error.Condition)
		}
		c.printf("* %s: a message was not delivered (%s)", m.From, cond)
	case m.Received != nil || m.Sent != nil:
		// Only our own account may send us carbons (the session clears a
		// from that is our bare JID).
		if m.From != "" {
			return
		}
		cb, sent := m.Received, false
		if m.Sent != nil {
			cb, sent = m.Sent, true
		}
		fm := cb.Forwarded.Message
		if fm == nil {
			return
		}
		with, text := fm.From, body(fm.Body)
		if sent {
			with = fm.To
		}
		if w, err := jid.Parse(with); err == nil {
			with = w.Bare().String()
		}
		if c.cfg.OnCarbon != nil {
			c.cfg.OnCarbon(sent, with, text)
		}
		// Another resource's OTR messages are for its own OTR session:
		// never fed to ours, where they would be unreadable.
		if strings.HasPrefix(text, "?OTR") {
			c.printf("* ignored a carbon copy of an OTR message with %s", with)
			return
		}
		if sent {
			c.printf("[%s] (sent from another device) %s", with, text)
		} else {
			c.printf("[%s] (received on another device) %s", with, text)
		}
	case m.Result != nil:
		if m.From != "" {
			return // only our own archive answers our queries
		}
		c.mamMu.Lock()
		list := c.mam[m.Result.QueryID]
		if list != nil && m.Result.Forwarded.Message != nil {
			fm := m.Result.Forwarded.Message
			*list = append(*list, archived{ID: m.Result.ID, From: fm.From, To: fm.To, Body: body(fm.Body)})
		}
		c.mamMu.Unlock()
	case len(m.Body) > 0 && m.From != "" && (m.Type == "" || m.Type == string(stanza.ChatMessage) || m.Type == string(stanza.NormalMessage)):
		// One-to-one messages only: OTR has no place in group chats.
		from, err := jid.Parse(m.From)
		if err != nil {
			return
		}
		contact, text := from.Bare().String(), body(m.Body)
		if c.cfg.Wire {
			c.printf("<- %s: %s", from, short(text))
		}
		_, err = c.do(contact, func(s *otr.Session) (otr.Result, error) { return s.Receive(text) })
		if err != nil {
			c.printf("[%s] ! %v", contact, err)
			if c.cfg.OnReceiveError != nil {
				c.cfg.OnReceiveError(contact, err)
			}
		}
	}
}

// do calls f on the session with contact, writes the messages it returns
// and shows its events. The error joins the library's and the
// transmission's.
func (c *client) do(contact string, f func(*otr.Session) (otr.Result, error)) (otr.Result, error) {
	c.mu.Lock()
	res, err := f(c.acct.Session(contact))
	// Even with an error, the result may hold an OTR error message to send.
	werr := c.transmit(res.Send)
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
	c.show(contact, res.Events)
	return res, errors.Join(err, werr)
}

// transmit writes each message to its contact's bare JID, in order, and
// stops at the first that fails. The caller holds c.mu.
func (c *client) transmit(msgs []otr.Message) error {
	for i, m := range msgs {
		if err := c.sendStanza(m); err != nil {
			if len(msgs) > 1 {
				return fmt.Errorf("message %d of %d to %s: %w", i+1, len(msgs), m.Contact, err)
			}
			return fmt.Errorf("to %s: %w", m.Contact, err)
		}
	}
	return nil
}

// sendStanza writes one message stanza, refusing one larger than the
// server takes (which would cost us the connection).
func (c *client) sendStanza(m otr.Message) error {
	sess := c.session()
	if sess == nil {
		return errNotConnected
	}
	om := outMessage{To: m.Contact, ID: newID(), Body: m.Text, OTR: m.IsOTR}
	if n := om.size(); n > c.cfg.StanzaLimit {
		return fmt.Errorf("xmpp: stanza of %d bytes, over the server's limit of %d", n, c.cfg.StanzaLimit)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	defer cancel()
	if err := sess.Send(ctx, om.reader()); err != nil {
		return err
	}
	if c.cfg.Wire {
		c.printf("-> %s: %s", m.Contact, short(m.Text))
	}
	if c.cfg.OnSent != nil {
		c.cfg.OnSent(m.Contact, m.Text, m.IsOTR)
	}
	return nil
}

// show prints events and passes them to the observer.
func (c *client) show(contact string, events []otr.Event) {
	for _, ev := range events {
		switch ev := ev.(type) {
		case otr.MessageEvent:
			if ev.Text != "" {
				c.printf("[%s#%08x] %s", contact, ev.Instance, ev.Text)
			}
		case otr.PlaintextEvent:
			c.printf("[%s] (not encrypted) %s", contact, ev.Text)
		case otr.UnencryptedEvent:
			c.printf("[%s] WARNING, sent unencrypted: %s", contact, ev.Text)
		case otr.SMPQuestionEvent:
			c.printf("* %s (%08x) wants to verify you: %q; answer with /answer SECRET", contact, ev.Instance, ev.Question)
		default:
			if contact == "" {
				c.printf("* %v", ev) // from Account.Expire, which does not say
			} else {
				c.printf("* %s: %v", contact, ev)
			}
		}
		if c.cfg.OnEvent != nil {
			c.cfg.OnEvent(contact, ev)
		}
	}
}

// timers calls Account.Expire when the account's next deadline comes
// (heartbeats, query retries, stale fragments, profile renewal).
func (c *client) timers(ctx context.Context) {
	for {
		wait := time.Hour
		if t, ok := c.acct.NextDeadline(); ok {
			wait = max(time.Until(t), 0)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-c.kick:
			t.Stop()
			continue
		case <-t.C:
		}
		c.mu.Lock()
		res, err := c.acct.Expire()
		werr := c.transmit(res.Send)
		c.mu.Unlock()
		if err = errors.Join(err, werr); err != nil {
			c.printf("* timed duties: %v", err)
		}
		c.show("", res.Events)
	}
}

// say sends the user's text to contact (instance 0: the library's default
// instance). Text that does not leave is reported to the user, each
// message on its own line, and to OnUndelivered.
func (c *client) say(contact string, instance uint32, text string) error {
	var err error
	if c.session() == nil {
		err = errNotConnected
	} else {
		_, err = c.do(contact, func(s *otr.Session) (otr.Result, error) { return s.Send(instance, text) })
	}
	if err != nil {
		c.printf("[%s] ! not sent: %q: %v", contact, shortText(text), err)
		if c.cfg.OnUndelivered != nil {
			c.cfg.OnUndelivered(contact, text, err)
		}
	}
	return err
}

// startOTR sends contact an OTR query: each of the contact's clients that
// speaks OTR answers with a key exchange.
func (c *client) startOTR(contact string) error {
	_, err := c.do(contact, func(s *otr.Session) (otr.Result, error) { return s.Start() })
	return err
}

// end ends the encrypted session with the contact's instance (0: every
// instance).
func (c *client) end(contact string, instance uint32) error {
	_, err := c.do(contact, func(s *otr.Session) (otr.Result, error) { return s.End(instance) })
	return err
}

// startSMP asks the contact's instance (0: the default) to prove it knows
// secret, showing question (may be empty).
func (c *client) startSMP(contact string, instance uint32, question, secret string) error {
	_, err := c.do(contact, func(s *otr.Session) (otr.Result, error) {
		return s.StartSMP(instance, []byte(secret), question)
	})
	return err
}

// answerSMP answers the contact's SMP request (instance 0: the one instance
// that asked).
func (c *client) answerSMP(contact string, instance uint32, secret string) error {
	_, err := c.do(contact, func(s *otr.Session) (otr.Result, error) {
		return s.AnswerSMP(instance, []byte(secret))
	})
	return err
}

// trust records that the user verified the fingerprint of the contact's
// instance (0: the default) out of band, and returns it.
func (c *client) trust(contact string, instance uint32) (otr.Fingerprint, error) {
	fp := c.acct.Session(contact).TheirFingerprint(instance)
	if fp == nil {
		return nil, otr.ErrNotEncrypted
	}
	_, err := c.do(contact, func(s *otr.Session) (otr.Result, error) { return s.SetTrust(fp, otr.Verified) })
	return fp, err
}

// instances lists the contact's instances and which one is the default.
func (c *client) instances(contact string) (list []otr.InstanceInfo, def uint32) {
	s := c.acct.Session(contact)
	if in, ok := s.Instance(0); ok {
		def = in.Tag
	}
	return s.Instances(), def
}

// endAll ends every encrypted session, telling each contact (at exit).
func (c *client) endAll() {
	for _, contact := range c.acct.Sessions() {
		if err := c.end(contact, 0); err != nil {
			c.printf("[%s] ! %v", contact, err)
		}
	}
}

// archived is one message of our server-side archive.
type archived struct {
	ID, From, To, Body string
}

// archive returns the messages our server archived (MAM) between us and
// with, oldest first, page by page.
func (c *client) archive(ctx context.Context, with jid.JID) ([]archived, error) {
	var out []archived
	page := ""
	for {
		sess := c.session()
		if sess == nil {
			return out, errNotConnected
		}
		id := newID()
		var got []archived
		c.mamMu.Lock()
		c.mam[id] = &got
		c.mamMu.Unlock()
		qctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		res, err := history.Fetch(qctx, history.Query{ID: id, With: with, Limit: 50, PageID: page}, jid.JID{}, sess)
		cancel()
		c.mamMu.Lock()
		delete(c.mam, id)
		c.mamMu.Unlock()
		// The results arrive before the answer, on the session's reader.
		out = append(out, got...)
		if err != nil {
			return out, err
		}
		if res.Complete || len(got) == 0 {
			return out, nil
		}
		page = res.Set.Last
	}
}

// printf prints one line for the user.
func (c *client) printf(format string, args ...any) {
	if c.cfg.Out == nil {
		return
	}
	c.pmu.Lock()
	defer c.pmu.Unlock()
	fmt.Fprintf(c.cfg.Out, format+"\n", args...)
}

// newID returns a random stanza id of idLen characters.
func newID() string {
	var b [idLen / 2]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// short makes a wire message printable on one line.
func short(s string) string {
	s = strings.NewReplacer("\t", `\t`, "\n", `\n`, "\r", `\r`).Replace(strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) <= 120 {
		return s
	}
	n := 117
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// shortText shortens user text for a report line.
func shortText(s string) string {
	if len(s) <= 60 {
		return s
	}
	n := 57
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
