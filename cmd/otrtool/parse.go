package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	otrencoding "github.com/otrgo/otr/encoding"
	"github.com/otrgo/otr/fragment"
)

const parseDoc = `
Parse reads OTR wire messages, one per line, from the files named or from
standard input ("-" or no FILE), and prints every field of every message it
recognises: query messages, whitespace tags, error messages, plaintext, and
the encoded messages of OTR3 (D-H Commit, D-H Key, Reveal Signature,
Signature, Data) and OTRv4 (Identity, Auth-R, Auth-I, Data), with the client
profiles they carry. Binary fields are printed in hex; the encrypted parts
of data messages cannot be read without the session keys and stay hex.

Fragments (OTR3 "?OTR|s|r,k,n,piece," and OTRv4 "?OTR|id|s|r,k,n,piece,")
are printed one by one and reassembled per sender and receiver instance tag
(and OTRv4 identifier); the reassembled message is printed after its last
fragment. A Reveal Signature message is shown with the g^x it reveals when
the D-H Commit it answers came earlier in the same input.

Text output is one block per message: a "FILE:LINE: what" line, then
"field: value" lines. With -json, each message is one JSON object on its own
line, with the same fields (names with underscores) plus "source" and "line".

A line that cannot be read gets one error line on standard error; parse goes
on with the next line, and exits with status 1 if any line failed. Empty
lines are skipped.
`

// maxLineLen bounds one input line: an unfragmented OTR message larger
// than this is not something a transport carries.
const maxLineLen = 16 << 20

// maxBuffered bounds the fragments parse buffers, all senders together;
// each pair of instance tags has the fragment package's default limits.
const maxBuffered = 64 << 20

func runParse(e *env, args []string) error {
	fs := newFlagSet(e, "parse", "[-json] [FILE...]", parseDoc)
	jsonOut := fs.Bool("json", false, "print one JSON object per message, one per line")
	if err := parseFlags(e, fs, args); err != nil {
		return err
	}
	files := fs.Args()
	if len(files) == 0 {
		files = []string{"-"}
	}
	out := bufio.NewWriter(e.stdout)
	defer out.Flush()
	failed := false
	for _, name := range files {
		var r io.Reader
		src := name
		if name == "-" {
			r, src = e.stdin, "stdin"
		} else {
			f, err := os.Open(name)
			if err != nil {
				out.Flush()
				fmt.Fprintf(e.stderr, "otrtool parse: %v\n", err)
				failed = true
				continue
			}
			r = f
			defer f.Close()
		}
		if !parseStream(src, r, out, e.stderr, *jsonOut) {
			failed = true
		}
	}
	if failed {
		return errFailed
	}
	return nil
}

// parseStream parses every line of r, named src in the output, writing
// records to out and errors to errw. It reports whether every line was
// read without error.
func parseStream(src string, r io.Reader, out *bufio.Writer, errw io.Writer, jsonOut bool) bool {
	p := newParser()
	ok := true
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineLen)
	n := 0
	for sc.Scan() {
		n++
		recs, err := p.line(n, sc.Text())
		for _, rec := range recs {
			writeRecord(out, src, rec, jsonOut)
		}
		if err != nil {
			ok = false
			out.Flush()
			fmt.Fprintf(errw, "%s:%d: %s\n", src, n, oneLine(err.Error()))
		}
	}
	if err := sc.Err(); err != nil {
		out.Flush()
		fmt.Fprintf(errw, "%s:%d: %s\n", src, n+1, oneLine(err.Error()))
		ok = false
	}
	return ok
}

// oneLine keeps an error message on one line whatever text it quotes.
func oneLine(s string) string {
	return strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(s)
}

func writeRecord(w *bufio.Writer, src string, rec *message, jsonOut bool) {
	if jsonOut {
		full := &record{}
		full.add("source", src).add("line", rec.line)
		full.fields = append(full.fields, rec.fields...)
		b, err := json.Marshal(full)
		if err != nil {
			// Every value is a string, number, bool or one of our types.
			panic("otr: internal error: " + err.Error())
		}
		w.Write(b)
		w.WriteByte('\n')
		return
	}
	fmt.Fprintf(w, "%s:%d: %s\n", src, rec.line, rec.title)
	rec.writeText(w, "  ")
	w.WriteByte('\n')
}

// message is the record of one message read from line.
type message struct {
	record
	line  int
	title string
	// payload is the decoded bytes of an encoded message (reassembled if
	// it came in fragments), nil for other kinds; forge reads it.
	payload []byte
}

// parser holds what parse remembers between the lines of one input: the
// fragments waiting for the rest of their message and the D-H Commit
// messages seen, whose g^x a later Reveal Signature message reveals.
type parser struct {
	budget     *fragment.Budget                  // shared by the assemblers
	assemblers map[[2]uint32]*fragment.Assembler // per (sender, receiver)
	pending    map[pendingKey][]int              // lines of the fragments buffered
	commits    map[uint32]*otrencoding.DHCommit  // last D-H Commit per sender instance tag
}

type pendingKey struct {
	version          int
	id               uint32
	sender, receiver uint32
}

func newParser() *parser {
	return &parser{
		budget:     fragment.NewBudget(maxBuffered),
		assemblers: make(map[[2]uint32]*fragment.Assembler),
		pending:    make(map[pendingKey][]int),
		commits:    make(map[uint32]*otrencoding.DHCommit),
	}
}

// line parses one input line, number n. It returns the records to print
// (none for an empty line, two when a fragment completes a message) and
// an error on one line when the line, or the message a fragment completed,
// cannot be read; records printed before that error stay valid.
func (p *parser) line(n int, text string) ([]*message, error) {
	text = strings.TrimRight(text, "\r\n")
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	// Leniency for chat logs: a fragment may follow a time stamp or a
	// nickname, as "?OTR:" may (ParseEnvelope finds that anywhere).
	if i := strings.Index(text, "?OTR|"); i > 0 {
		text = strings.TrimRight(text[i:], " \t")
	}
	env, err := otrencoding.ParseEnvelope(text)
	if err != nil {
		return nil, err
	}
	m := &message{line: n}
	switch env.Kind {
	case otrencoding.KindPlaintext:
		m.add("kind", "plaintext")
		if env.Versions != 0 {
			m.title = "plaintext with a whitespace tag"
			m.add("whitespace_tag", env.Versions.String())
		} else {
			m.title = "plaintext"
			m.add("whitespace_tag", nil)
		}
		m.add("text", quoted(env.Text))
	case otrencoding.KindQuery:
		m.title = "query message"
		m.add("kind", "query").add("versions", env.Versions.String()).add("text", quoted(env.Text))
	case otrencoding.KindError:
		m.title = "error message"
		m.add("kind", "error").add("text", quoted(env.Text))
	case otrencoding.KindEncoded:
		m.add("kind", "encoded")
		title, err := p.decode(&m.record, env.Payload)
		if err != nil {
			return nil, err
		}
		m.title, m.payload = title, env.Payload
	case otrencoding.KindFragment:
		return p.fragment(n, text)
	default:
		return nil, fmt.Errorf("unknown message kind %v", env.Kind)
	}
	return []*message{m}, nil
}

// fragment handles one fragment line.
func (p *parser) fragment(n int, text string) ([]*message, error) {
	if strings.HasPrefix(text, "?OTR,") {
		return nil, errors.New("an OTR version 2 fragment (?OTR,k,n,piece,): version 2 is not supported")
	}
	f, err := fragment.Parse(text)
	if err != nil {
		return nil, err
	}
	m := &message{line: n}
	v := "OTR3"
	if f.Version == 4 {
		v = "OTRv4"
	}
	m.title = fmt.Sprintf("%s fragment %d of %d", v, f.K, f.N)
	m.add("kind", "fragment").add("fragment_version", f.Version)
	if f.Version == 4 {
		m.add("identifier", tag(f.ID))
	}
	m.add("sender_instance", tag(f.Sender)).add("receiver_instance", tag(f.Receiver))
	m.add("index", int(f.K)).add("total", int(f.N)).add("piece_length", len(f.Piece))

	akey := [2]uint32{f.Sender, f.Receiver}
	a := p.assemblers[akey]
	if a == nil {
		a = fragment.NewAssembler(fragment.Limits{}, p.budget)
		p.assemblers[akey] = a
	}
	pkey := pendingKey{version: f.Version, id: f.ID, sender: f.Sender, receiver: f.Receiver}
	if f.Version == 3 && f.K == 1 {
		// OTR3 spec, "Receiving Fragments": k == 1 starts a new message.
		delete(p.pending, pkey)
	}
	whole, complete, err := a.Add(f)
	if err != nil {
		delete(p.pending, pkey)
		m.add("status", "dropped: "+err.Error())
		return []*message{m}, nil
	}
	lines := append(p.pending[pkey], n)
	if !complete {
		p.pending[pkey] = lines
		m.add("status", fmt.Sprintf("buffered (%d of %d fragments)", len(lines), f.N))
		return []*message{m}, nil
	}
	delete(p.pending, pkey)
	m.add("status", fmt.Sprintf("complete: message reassembled from %d fragments", f.N))

	// The reassembled message must be an encoded message of the
	// fragment's version, never a fragment itself (see Assembler.Add).
	r := &message{line: n}
	r.add("kind", "encoded").add("fragments", int(f.N)).add("fragment_lines", lines)
	env, err := otrencoding.ParseEnvelope(whole)
	if err == nil && env.Kind != otrencoding.KindEncoded {
		err = fmt.Errorf("reassembled message is a %v message, not an encoded one", env.Kind)
	}
	if err != nil {
		return []*message{m}, fmt.Errorf("reassembled message: %w", err)
	}
	if h, _, err := otrencoding.ParseHeader(env.Payload); err == nil && int(h.Version) != f.Version {
		return []*message{m}, fmt.Errorf("reassembled message: an OTR version %d message in OTR version %d fragments", h.Version, f.Version)
	}
	title, err := p.decode(&r.record, env.Payload)
	if err != nil {
		return []*message{m}, fmt.Errorf("reassembled message: %w", err)
	}
	r.title = title + fmt.Sprintf(" (reassembled from %d fragments)", f.N)
	r.payload = env.Payload
	return []*message{m, r}, nil
}
