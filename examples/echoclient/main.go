// Command echoclient is an OTR client for the echonetwork test network
// (docs/interop.md, "The echonetwork test network"), built on
// github.com/otrgo/otr. Its relay is examples/echoserver; otr4j and otrr
// have clients for the same network, so it is a way to test OTR libraries
// against each other.
//
// The client's account id is its own local socket address ("ip:port"), and a
// contact's id is the address in the frames the relay delivers: both are
// what the relay sees, so both ends agree on them.
//
// Usage:
//
//	echoclient [-server localhost:8080] [-policy v3,v4] [-keys file] [-max 0] [-echo] [-wire=true] [-name NAME]
//
// With -echo, the client echoes every message it receives encrypted back to
// its sender, encrypted, and answers every SMP request with the secret
// "Password!". Otherwise it reads lines from standard input:
//
//	ADDRESS[#INSTANCE] MESSAGE            send MESSAGE to ADDRESS (INSTANCE: an instance tag in hex)
//	/start ADDRESS                        send an OTR query message to ADDRESS
//	/end ADDRESS[#INSTANCE]               end the encrypted session (every instance if none given)
//	/status ADDRESS                       show the instances of ADDRESS
//	/smp ADDRESS[#INSTANCE] SECRET        start SMP with SECRET
//	/smpq ADDRESS[#INSTANCE] QUESTION|SECRET  start SMP with a question (the last '|' separates)
//	/answer ADDRESS[#INSTANCE] SECRET     answer the contact's SMP request
//	/abort ADDRESS[#INSTANCE]             abort SMP
//	/publish N                            publish N prekey ensembles on the relay (needs -name)
//	/offline ADDRESS [MESSAGE]            start an offline conversation with ADDRESS, a name,
//	                                      from one of its ensembles on the relay, sending MESSAGE
//
// With -name, the client takes NAME on the relay (examples/echoserver's
// commands) and NAME is its account id: contacts reach it by that name,
// and the relay stores their messages while it is away. /publish and
// /offline are OTRv4's offline conversations (the non-interactive DAKE):
// a contact takes one of our ensembles and writes to us while we are away.
// The prekey secrets stay in this process's memory (otr.MemoryHost; the
// file-backed host keeps no prekeys), so only this run can read the
// messages written from the ensembles it published.
//
// An absent INSTANCE means the contact's current instance. The client prints
// every frame sent and received (unless -wire=false) and every OTR event. At
// the end of input it ends every session and exits.
//
// For example, with a relay, an echo client and an interactive one:
//
//	go run ./examples/echoserver
//	go run ./examples/echoclient -echo -keys echo.keys       # prints "account 127.0.0.1:PORT, ..."
//	go run ./examples/echoclient -policy v3,require -max 400
//	/start 127.0.0.1:PORT
//	127.0.0.1:PORT hello
//	/smp 127.0.0.1:PORT Password!
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/otrgo/otr"
)

func main() {
	server := flag.String("server", "localhost:8080", "address of the echonetwork relay")
	policy := flag.String("policy", "", `OTR policy: comma-separated v3, v4, require, whitespace, whitespace-start, error-start, or "default" (empty: default)`)
	keysFile := flag.String("keys", "", "file holding the identity keys, created if missing (empty: new keys each run)")
	maxSize := flag.Int("max", 0, "largest message the transport carries, in bytes; longer OTR messages are fragmented (0: no limit)")
	echo := flag.Bool("echo", false, "echo every encrypted message back to its sender instead of reading standard input")
	wire := flag.Bool("wire", true, "print every frame sent and received")
	name := flag.String("name", "", "take this name on the relay and use it as the account id (empty: the socket address)")
	flag.Parse()

	p, err := parsePolicy(*policy)
	if err != nil {
		log.Fatal(err)
	}
	keys, err := loadKeys(*keysFile, nil)
	if err != nil {
		log.Fatal(err)
	}
	conn, err := net.Dial("tcp", *server)
	if err != nil {
		log.Fatal(err)
	}
	c, err := newClient(conn, keys, config{Echo: *echo, Policy: p, MaxSize: *maxSize, Out: os.Stdout, Wire: *wire, Name: *name})
	if err != nil {
		log.Fatal(err)
	}
	c.printf("account %s, instance tag %08x, fingerprints OTR3 %s, OTRv4 %s, policy %s", c.acct.LocalID(), c.acct.InstanceTag(), c.acct.Fingerprint(), c.acct.Fingerprint4(), p)

	done := make(chan error, 1)
	go func() { done <- c.run() }()
	if *echo {
		err := <-done
		if err != nil && !errors.Is(err, io.EOF) {
			log.Fatal(err)
		}
		return
	}
	// Read commands once the relay delivers to us, so that no answer to
	// our first message is dropped.
	select {
	case <-c.ready:
	case err := <-done:
		log.Fatal(err)
	}
	go func() {
		if err := c.readCommands(os.Stdin); err != nil {
			c.printf("%v", err)
		}
		c.endAll()
		if err := c.close(); err != nil {
			c.printf("%v", err)
		}
	}()
	if err := <-done; err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		log.Fatal(err)
	}
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
			return 0, fmt.Errorf("echoclient: unknown policy word %q", w)
		}
	}
	if p == 0 {
		return otr.DefaultPolicy, nil
	}
	if p&(otr.AllowV3|otr.AllowV4) == 0 {
		return 0, fmt.Errorf("echoclient: policy %q allows no protocol version (add v3 or v4)", s)
	}
	return p, nil
}

// loadKeys reads the keys in path, or generates keys from rand (nil:
// crypto/rand) and, if path is not empty, stores them there.
func loadKeys(path string, rand io.Reader) (*otr.PrivateKeys, error) {
	if path != "" {
		b, err := os.ReadFile(path)
		if err == nil {
			return otr.ParsePrivateKeys(b)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	k, err := otr.GenerateKeys(rand)
	if err != nil {
		return nil, err
	}
	if path == "" {
		return k, nil
	}
	b, err := k.MarshalBinary()
	if err != nil {
		return nil, err
	}
	// O_EXCL: never overwrite keys another process created meanwhile.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, err
	}
	return k, f.Close()
}

// command is one parsed line of standard input.
type command struct {
	verb     string // "" (send) or a verb of commandSyntax
	addr     string
	n        int // publish's count
	instance uint32
	text     string // the message, or the SMP secret
	question string // smpq's question
}

// commandSyntax says, for each /verb, whether it takes text after the address
// and whether the address may carry an instance tag. /publish takes a count
// instead of an address; /offline's text is optional.
var commandSyntax = map[string]struct{ text, instance bool }{
	"start":   {false, false},
	"end":     {false, true},
	"status":  {false, false},
	"smp":     {true, true},
	"smpq":    {true, true},
	"answer":  {true, true},
	"abort":   {false, true},
	"publish": {false, false},
	"offline": {true, false},
}

// parseCommand parses "ADDRESS[#INSTANCE] MESSAGE" or
// "/VERB ADDRESS[#INSTANCE] [TEXT]".
func parseCommand(line string) (command, error) {
	var cmd command
	line = strings.TrimRight(line, "\r\n")
	text, instance := true, true
	if rest, ok := strings.CutPrefix(line, "/"); ok {
		verb, arg, _ := strings.Cut(rest, " ")
		syn, ok := commandSyntax[verb]
		if !ok {
			return cmd, fmt.Errorf("echoclient: unknown command /%s", verb)
		}
		cmd.verb, text, instance = verb, syn.text, syn.instance
		line = strings.TrimLeft(arg, " ")
		if verb == "publish" {
			n, err := strconv.Atoi(strings.TrimSpace(line))
			if err != nil || n <= 0 {
				return cmd, errors.New("echoclient: /publish takes a positive count")
			}
			cmd.n = n
			return cmd, nil
		}
	}
	target, rest, _ := strings.Cut(line, " ")
	addr, inst, hasInst := strings.Cut(target, "#")
	if addr == "" {
		return cmd, errors.New("echoclient: missing address")
	}
	cmd.addr = addr
	if hasInst {
		if !instance {
			return cmd, fmt.Errorf("echoclient: /%s takes no instance tag", cmd.verb)
		}
		t, err := strconv.ParseUint(inst, 16, 32)
		if err != nil || t == 0 {
			return cmd, fmt.Errorf("echoclient: bad instance tag %q (want hex)", inst)
		}
		cmd.instance = uint32(t)
	}
	switch {
	case cmd.verb == "" || cmd.verb == "offline":
		cmd.text = rest
	case !text:
		if strings.TrimSpace(rest) != "" {
			return cmd, fmt.Errorf("echoclient: /%s takes only an address", cmd.verb)
		}
	case rest == "":
		return cmd, fmt.Errorf("echoclient: /%s needs a secret", cmd.verb)
	case cmd.verb == "smpq":
		i := strings.LastIndexByte(rest, '|')
		if i < 0 || i == len(rest)-1 {
			return cmd, errors.New("echoclient: /smpq takes QUESTION|SECRET")
		}
		cmd.question, cmd.text = rest[:i], rest[i+1:]
	default:
		cmd.text = rest
	}
	return cmd, nil
}

// readCommands runs the commands read from r until its end.
func (c *client) readCommands(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		cmd, err := parseCommand(sc.Text())
		if err != nil {
			c.printf("%v", err)
			continue
		}
		switch cmd.verb {
		case "":
			err = c.send(cmd.addr, cmd.instance, cmd.text)
		case "start":
			err = c.start(cmd.addr)
		case "end":
			err = c.end(cmd.addr, cmd.instance)
		case "status":
			for _, in := range c.acct.Session(cmd.addr).Instances() {
				c.printf("[%s#%08x] %s, version %d, fingerprint %s", cmd.addr, in.Tag, in.Status, in.Version, in.Fingerprint)
			}
		case "smp", "smpq":
			err = c.startSMP(cmd.addr, cmd.instance, cmd.text, cmd.question)
		case "answer":
			err = c.answerSMP(cmd.addr, cmd.instance, cmd.text)
		case "abort":
			err = c.do(cmd.addr, func(s *otr.Session) (otr.Result, error) { return s.AbortSMP(cmd.instance) })
		case "publish":
			if err = c.publish(cmd.n); err != nil {
				c.printf("error: %v", err)
				err = nil
			}
		case "offline":
			err = c.offline(cmd.addr, cmd.text)
		}
		if err != nil {
			c.printf("[%s] error: %v", cmd.addr, err)
		}
	}
	return sc.Err()
}
