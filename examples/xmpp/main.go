// Command xmpp is a terminal XMPP chat client with OTR (OTR3 and OTRv4,
// github.com/otrgo/otr), on mellium.im/xmpp.
//
// It logs in over STARTTLS, verifying the server's certificate (-ca adds a
// CA, for a local server's own certificate), and takes the password from
// the environment variable XMPP_PASSWORD or from the file given with
// -password-file, never from a flag. Keys, the instance tag, the OTRv4
// client profile and the trust in contacts' fingerprints persist in the
// state directory (-dir).
//
// Usage:
//
//	xmpp -jid user@example.org [-server host:port] [-ca ca.pem]
//	     [-password-file file] [-dir dir] [-policy v3,v4,require] [-to contact]
//	     [-stanza-limit 262144] [-wire]
//
// Then type:
//
//	/chat JID          talk to JID (a bare JID: every client of the contact gets each message)
//	TEXT               send TEXT to the current contact (encrypted once OTR is up)
//	/otr               start OTR with the current contact
//	/end               end the encrypted session (with the /to instance, or every one)
//	/smp [QUESTION] SECRET   ask the contact to prove they know SECRET (its last word)
//	/answer SECRET     answer the contact's SMP question
//	/fp                show your fingerprint and the contact's
//	/trust             trust the contact's fingerprint, after comparing /fp out of band
//	/instances         list the contact's clients (OTR instances)
//	/to INSTANCE       send to that instance (hex tag); /to 0: the library's choice
//	/quit              end every encrypted session and leave
//
// A line starting with "//" sends the text after the first slash.
//
// OTR messages travel as XMPP OTR clients send them: <message type="chat">
// bodies marked private for Message Carbons, with the no-copy and no-store
// hints and the XEP-0380 encryption marker, so that neither the account's
// other resources nor the server's archive get ciphertext. They are
// fragmented to fit the server's stanza limit (-stanza-limit).
package main

import (
	"bufio"
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/otrgo/otr"
	"mellium.im/xmpp/jid"
)

// passwordEnv is the environment variable holding the password.
const passwordEnv = "XMPP_PASSWORD"

func main() {
	log.SetFlags(0)
	account := flag.String("jid", "", "your account, user@domain (the server names the resource)")
	passwordFile := flag.String("password-file", "", "file holding the password (default: $"+passwordEnv+")")
	server := flag.String("server", "", "server address host:port (default: DNS for the JID's domain)")
	caFile := flag.String("ca", "", "PEM file of CA certificates to trust besides the system's (a local server's own)")
	dir := flag.String("dir", "", "OTR state directory (default: the user config directory's otr-xmpp/JID)")
	policy := flag.String("policy", "", `OTR policy: comma-separated v3, v4, require, whitespace, whitespace-start, error-start, or "default"`)
	to := flag.String("to", "", "contact to chat with first")
	limit := flag.Int("stanza-limit", defaultStanzaLimit, "largest stanza the server takes from a client, in bytes (prosody: c2s_stanza_size_limit)")
	wire := flag.Bool("wire", false, "print every message body sent and received")
	flag.Parse()

	j, err := jid.Parse(*account)
	if err != nil || j.Localpart() == "" {
		log.Fatalf("xmpp: -jid: want user@domain, got %q", *account)
	}
	password, err := readPassword(*passwordFile)
	if err != nil {
		log.Fatal(err)
	}
	pool, err := loadCAs(*caFile)
	if err != nil {
		log.Fatal(err)
	}
	p, err := parsePolicy(*policy)
	if err != nil {
		log.Fatal(err)
	}
	if *dir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			log.Fatal(err)
		}
		*dir = filepath.Join(base, "otr-xmpp", j.Bare().String())
	}
	c, err := newClient(config{
		JID: j, Password: password, Server: *server, RootCAs: pool, Dir: *dir,
		Policy: p, StanzaLimit: *limit, Out: os.Stdout, Wire: *wire,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.close()
	c.printf("* OTR fingerprints: %s (v3), %s (v4); state in %s", c.acct.Fingerprint(), c.acct.Fingerprint4(), *dir)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ran := make(chan error, 1)
	go func() { ran <- c.run(ctx) }()
	lines := make(chan error, 1)
	go func() { lines <- newTerminal(c, *to).read(os.Stdin) }()
	select {
	case err := <-ran:
		log.Fatal(err)
	case err := <-lines:
		if err != nil {
			c.printf("* %v", err)
		}
	case <-ctx.Done():
	}
	c.endAll()
	stop()
	<-ran
}

// readPassword reads the password from file, or else from $XMPP_PASSWORD.
func readPassword(file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if p, ok := os.LookupEnv(passwordEnv); ok && p != "" {
		return p, nil
	}
	return "", fmt.Errorf("xmpp: no password: set $%s or use -password-file", passwordEnv)
}

// loadCAs returns the system's roots plus the certificates in file; nil
// (the system's roots) without a file.
func loadCAs(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("xmpp: no PEM certificate in %s", file)
	}
	return pool, nil
}

// parsePolicy reads a comma-separated list of policy words; none means
// otr.DefaultPolicy.
func parsePolicy(s string) (otr.Policy, error) {
	var p otr.Policy
	for w := range strings.SplitSeq(s, ",") {
		switch strings.ToLower(strings.TrimSpace(w)) {
		case "":
		case "default":
			p |= otr.DefaultPolicy
		case "v3":
			p |= otr.AllowV3
		case "v4":
			p |= otr.AllowV4
		case "require":
			p |= otr.RequireEncryption
		case "whitespace":
			p |= otr.SendWhitespaceTag
		case "whitespace-start":
			p |= otr.WhitespaceStartAKE
		case "error-start":
			p |= otr.ErrorStartAKE
		default:
			return 0, fmt.Errorf("xmpp: unknown policy word %q", w)
		}
	}
	if p == 0 {
		return otr.DefaultPolicy, nil
	}
	if p&(otr.AllowV3|otr.AllowV4) == 0 {
		return 0, fmt.Errorf("xmpp: policy %q allows no protocol version (add v3 or v4)", s)
	}
	return p, nil
}

// command is one parsed line of input.
type command struct {
	verb     string // "" (say text) or a verb of verbs
	text     string // the message, the JID of /chat, the secret of /smp and /answer
	question string // /smp's question
	instance uint32 // /to's instance
}

// verbs lists the commands and whether each takes an argument: -1 none,
// 1 required, 0 optional.
var verbs = map[string]int{
	"chat": 1, "otr": -1, "end": -1, "smp": 1, "answer": 1, "fp": -1,
	"trust": -1, "instances": -1, "to": 1, "quit": -1, "help": -1,
}

// parseCommand parses one line of input.
func parseCommand(line string) (command, error) {
	line = strings.TrimRight(line, "\r\n")
	if strings.HasPrefix(line, "//") || !strings.HasPrefix(line, "/") {
		return command{text: strings.TrimPrefix(line, "/")}, nil
	}
	verb, arg, _ := strings.Cut(line[1:], " ")
	arg = strings.TrimSpace(arg)
	takes, ok := verbs[verb]
	switch {
	case !ok:
		return command{}, fmt.Errorf("unknown command /%s (try /help)", verb)
	case takes < 0 && arg != "":
		return command{}, fmt.Errorf("/%s takes no argument", verb)
	case takes > 0 && arg == "":
		return command{}, fmt.Errorf("/%s needs an argument (try /help)", verb)
	}
	cmd := command{verb: verb, text: arg}
	switch verb {
	case "chat":
		j, err := jid.Parse(arg)
		if err != nil || j.Localpart() == "" {
			return command{}, fmt.Errorf("/chat: %q is not a JID (user@domain)", arg)
		}
		cmd.text = j.Bare().String()
	case "smp":
		// The last word is the secret; what comes before it, the question.
		if i := strings.LastIndexAny(arg, " \t"); i >= 0 {
			cmd.question, cmd.text = strings.TrimSpace(arg[:i]), arg[i+1:]
		}
	case "to":
		if arg == "auto" {
			break
		}
		t, err := strconv.ParseUint(arg, 16, 32)
		if err != nil || t != 0 && t < 0x100 {
			return command{}, fmt.Errorf("/to: %q is not an instance tag (hex, as /instances shows; 0 for the default)", arg)
		}
		cmd.instance = uint32(t)
	}
	return cmd, nil
}

// terminal is the line interface: the current contact and, per contact,
// the instance the user chose with /to.
type terminal struct {
	c        *client
	contact  string
	instance map[string]uint32
}

func newTerminal(c *client, contact string) *terminal {
	if j, err := jid.Parse(contact); err == nil && contact != "" {
		contact = j.Bare().String()
	}
	return &terminal{c: c, contact: contact, instance: make(map[string]uint32)}
}

// read runs the lines of r until its end or /quit.
func (t *terminal) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		cmd, err := parseCommand(sc.Text())
		if err == nil {
			if cmd.verb == "quit" {
				return nil
			}
			err = t.run(cmd)
		}
		if err != nil {
			t.c.printf("! %v", err)
		}
	}
	return sc.Err()
}

// run runs one command.
func (t *terminal) run(cmd command) error {
	c, to := t.c, t.contact
	switch cmd.verb {
	case "help":
		c.printf("%s", help)
		return nil
	case "chat":
		t.contact = cmd.text
		c.printf("* talking to %s", t.contact)
		return nil
	}
	if to == "" {
		return errors.New("no contact: /chat JID first")
	}
	inst := t.instance[to]
	switch cmd.verb {
	case "":
		// say reports text that did not leave.
		c.say(to, inst, cmd.text)
		return nil
	case "otr":
		return c.startOTR(to)
	case "end":
		return c.end(to, inst)
	case "smp":
		return c.startSMP(to, inst, cmd.question, cmd.text)
	case "answer":
		return c.answerSMP(to, inst, cmd.text)
	case "fp":
		s := c.acct.Session(to)
		c.printf("* you:  %s", s.OurFingerprint(inst))
		if fp := s.TheirFingerprint(inst); fp != nil {
			c.printf("* %s: %s", to, fp)
		} else {
			c.printf("* %s: no encrypted session yet (/otr)", to)
		}
	case "trust":
		fp, err := c.trust(to, inst)
		if err != nil {
			return err
		}
		c.printf("* %s trusted: %s", to, fp)
	case "instances":
		list, def := c.instances(to)
		if len(list) == 0 {
			c.printf("* %s: no instances yet (/otr)", to)
		}
		for _, in := range list {
			mark := " "
			if in.Tag == def {
				mark = "*"
			}
			c.printf("%s %08x %s v%d %s", mark, in.Tag, in.Status, in.Version, in.Fingerprint)
		}
	case "to":
		t.instance[to] = cmd.instance
		if cmd.instance == 0 {
			c.printf("* sending to %s's default instance", to)
		} else {
			c.printf("* sending to %s's instance %08x", to, cmd.instance)
		}
	}
	return nil
}

const help = `/chat JID | TEXT | /otr | /end | /smp [QUESTION] SECRET | /answer SECRET
/fp | /trust | /instances | /to INSTANCE (0: default) | /quit; "//" starts a text with "/"`
