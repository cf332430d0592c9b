package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/otrgo/otr"
	"github.com/otrgo/otr/dake"
	otrencoding "github.com/otrgo/otr/encoding"
)

// fuzzTranscripts returns the lines of real OTR3 and OTRv4 conversations,
// whole and fragmented: the seeds of the fuzzers.
func fuzzTranscripts(f *testing.F) []*conversation {
	f.Helper()
	var out []*conversation
	for _, v := range []int{3, 4} {
		for _, max := range []int{0, 300} {
			out = append(out, converse(f, v, max, defaultScript[:4], nil))
		}
	}
	return out
}

// FuzzParseLine feeds lines, split at newlines, to one parser, as parse
// reads a file. Every non-blank line gives a record or an error on one
// line, never a panic, and every record prints as one JSON line and as a
// text block whose field lines are all indented (peer text cannot start a
// line of its own).
func FuzzParseLine(f *testing.F) {
	for _, c := range fuzzTranscripts(f) {
		// Each line, and each run of fragments as one input.
		var frags []string
		for _, m := range c.wire {
			f.Add(m.text)
			if strings.HasPrefix(m.text, "?OTR|") {
				frags = append(frags, m.text)
			} else if frags != nil {
				f.Add(strings.Join(frags, "\n"))
				frags = nil
			}
		}
	}
	for _, s := range []string{
		"?OTRv34?", "?OTR?v2?", "?OTR Error: x\ny", "?OTR,1,2,a,", "?OTR|1|2,1,1,?OTR|1|2,1,1,x,,",
		"?OTR|0|100|200,1,1,?OTR:AAQDAAAB.,", "hi \t  \t\t\t\t \t \t \t    \t\t  \t\t",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		p := newParser()
		var out bytes.Buffer
		w := bufio.NewWriter(&out)
		for n, line := range strings.Split(data, "\n") {
			recs, err := p.line(n+1, line)
			if strings.TrimSpace(strings.TrimRight(line, "\r")) == "" {
				if recs != nil || err != nil {
					t.Fatalf("blank line %q: %d records, %v", line, len(recs), err)
				}
				continue
			}
			if len(recs) == 0 && err == nil {
				t.Fatalf("line %q: no record and no error", line)
			}
			if err != nil && strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error of line %q spans lines: %q", line, err)
			}
			for _, r := range recs {
				out.Reset()
				writeRecord(w, "f", r, true)
				w.Flush()
				j := bytes.TrimSuffix(out.Bytes(), []byte("\n"))
				if bytes.Contains(j, []byte("\n")) || !json.Valid(j) {
					t.Fatalf("line %q: JSON record %q", line, j)
				}
				out.Reset()
				writeRecord(w, "f", r, false)
				w.Flush()
				text := strings.Split(strings.TrimSuffix(out.String(), "\n\n"), "\n")
				for _, l := range text[1:] {
					if !strings.HasPrefix(l, "  ") {
						t.Fatalf("line %q: text record line %q is not indented", line, l)
					}
				}
			}
		}
	})
}

// FuzzForge forges from arbitrary messages, keys and texts. A forgery is
// written only if the key verified the original; then the forgery verifies
// under the same key, by the specs' constructions computed in the test,
// and without -enckey its ciphertext differs from the original's by
// exactly guess XOR text.
func FuzzForge(f *testing.F) {
	for _, v := range []int{3, 4} {
		c := converse(f, v, 0, defaultScript, nil)
		for _, from := range []string{"alice", "bob"} {
			for _, i := range c.dataIndexes(f, from) {
				text := c.wire[i].text
				key := c.findRevealedKey(f, i)
				if key == nil {
					continue
				}
				f.Add(text, key, "Hello", "HELLO", 0, false)
				f.Add(text, key, "H", "", 0, false)
				f.Add(text, key[:4], "H", "J", 0, false)
			}
		}
	}
	v3, v4 := syntheticMessages(f, []byte("attack at dawn"))
	for _, s := range []synthetic{v3, v4} {
		f.Add(s.msg, s.key, "", "retreat", 0, true)
		f.Add(s.msg, s.key, "dawn", "dusk", 10, true)
		f.Add(s.msg, s.macKey, "attack", "defend", 0, false)
	}
	f.Fuzz(func(t *testing.T, msg string, key []byte, guess, text string, offset int, enc bool) {
		env, err := otrencoding.ParseEnvelope(msg)
		if err != nil || env.Kind != otrencoding.KindEncoded {
			return
		}
		req := forgeRequest{payload: env.Payload, guess: []byte(guess), offset: offset, text: []byte(text)}
		if enc {
			req.encKey = key
		} else {
			req.macKeys = []revealedKey{{key: key, from: "fuzz"}}
		}
		res, err := forge(&req)
		if err != nil {
			if res != nil {
				t.Fatalf("forge returned a result and %v", err)
			}
			return
		}
		orig := parseData(t, env.Payload)
		got := parseData(t, res.payload)
		if !orig.verifies(res.macKey) || !got.verifies(res.macKey) {
			t.Fatalf("MAC key %x: original verifies %v, forgery %v", res.macKey, orig.verifies(res.macKey), got.verifies(res.macKey))
		}
		if res.message != otrencoding.EncodeMessage(res.payload) {
			t.Fatalf("message and payload differ")
		}
		if enc {
			return
		}
		if !bytes.Equal(res.macKey, key) {
			t.Fatalf("used key %x, given %x", res.macKey, key)
		}
		for i := range got.ciphertext {
			want := orig.ciphertext[i]
			if j := i - offset; j >= 0 && j < len(text) {
				want ^= guess[j] ^ text[j]
			}
			if got.ciphertext[i] != want {
				t.Fatalf("ciphertext byte %d = %#x, want %#x", i, got.ciphertext[i], want)
			}
		}
	})
}

// FuzzForgingKey reads the forging key out of arbitrary key files: a key
// is returned only from a file otr.ParsePrivateKeys accepts, and it is the
// forging key whose fingerprint the file's keys have.
func FuzzForgingKey(f *testing.F) {
	for i := range 2 {
		b, err := testKey(f, i).MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)-1])
	}
	// Format 2, which keys.go still reads: magic, DATA(DSA key), DATA(identity
	// seed), DATA(forging seed).
	v2 := []byte("otrgo-keys-v2\x00\x00\x00\x00\x00\x00\x00\x00\x39")
	v2 = append(v2, bytes.Repeat([]byte{1}, 57)...)
	v2 = append(v2, 0, 0, 0, 0x39)
	v2 = append(v2, bytes.Repeat([]byte{2}, 57)...)
	f.Add(v2)
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := forgingKeyFrom(b)
		if err != nil {
			return
		}
		keys, err := otr.ParsePrivateKeys(b)
		if err != nil {
			t.Fatalf("forgingKeyFrom accepted a file ParsePrivateKeys refuses: %v", err)
		}
		// forgingKeyFrom checked that the key read and the identity key
		// give the file's OTRv4 fingerprint.
		F := k.Public()
		if keys.Fingerprint4() == nil || F.IsIdentity() {
			t.Fatalf("forging key from a file without OTRv4 keys")
		}
	})
}

// FuzzForgeDAKE looks for an interactive DAKE in arbitrary transcripts and
// forges it with bob's forging key: no panic, and a forgery is an Auth-R
// message for the Auth-R found, whose ring signature differs.
func FuzzForgeDAKE(f *testing.F) {
	c := converse(f, 4, 0, defaultScript[:1], nil)
	f.Add(c.lines())
	f.Add(strings.Join([]string{c.wire[1].text, c.wire[2].text}, "\n"))
	f.Add(strings.Join([]string{c.wire[2].text, c.wire[1].text}, "\n"))
	bob, err := forgingKeyFrom(must(testKey(f, 1).MarshalBinary()))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, transcript string) {
		tr, err := findDAKE(strings.NewReader(transcript), "f")
		if err != nil {
			return
		}
		res, err := forgeDAKE(tr, bob, "alice@example.org", "bob@example.org", seeded(1))
		if err != nil {
			return
		}
		h, body, err := otrencoding.ParseHeader(res.payload)
		if err != nil || h != tr.authRH {
			t.Fatalf("forged header %v, %v; want %v", h, err, tr.authRH)
		}
		m, err := dake.ParseAuthRMessage(body)
		if err != nil {
			t.Fatalf("the forged Auth-R does not parse: %v", err)
		}
		if m.Sigma == tr.authRMsg.Sigma {
			t.Fatalf("the forgery repeats the original signature")
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
