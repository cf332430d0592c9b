package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	otrencoding "github.com/otrgo/otr/encoding"
	"github.com/otrgo/otr/fragment"
)

// parseJSON runs "otrtool parse -json" on input and returns the decoded
// records; it fails the test on any error.
func parseJSON(t testing.TB, input string) []map[string]any {
	t.Helper()
	stdout, stderr, code := runTool(t, input, "parse", "-json")
	if code != 0 || stderr != "" {
		t.Fatalf("parse -json: exit %d, stderr:\n%s", code, stderr)
	}
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("output line %q is not JSON: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// TestParseTranscript parses real OTR3 and OTRv4 conversations, whole and
// fragmented, and checks that every line gives a record of the right
// message with the fields the encoding package reads from it.
func TestParseTranscript(t *testing.T) {
	for _, tc := range []struct {
		version, maxSize int
		types            []string
	}{
		{3, 0, []string{"0x02 DH-Commit", "0x0a DH-Key", "0x11 Reveal-Signature", "0x12 Signature", "0x03 Data"}},
		{4, 0, []string{"0x35 Identity", "0x36 Auth-R", "0x37 Auth-I", "0x03 Data"}},
		{3, 300, []string{"0x02 DH-Commit", "0x0a DH-Key", "0x11 Reveal-Signature", "0x12 Signature", "0x03 Data"}},
		{4, 300, []string{"0x35 Identity", "0x36 Auth-R", "0x37 Auth-I", "0x03 Data"}},
	} {
		t.Run(fmt.Sprintf("v%d/max%d", tc.version, tc.maxSize), func(t *testing.T) {
			c := converse(t, tc.version, tc.maxSize, defaultScript, nil)
			recs := parseJSON(t, c.lines())

			// One record per line, and one more for each message a
			// fragment completed, right after it.
			var types []string
			line, fragments, revealed := 0, 0, 0
			for i, r := range recs {
				n := int(r["line"].(float64))
				if r["source"] != "stdin" {
					t.Errorf("record %d: source %v", i, r["source"])
				}
				if r["kind"] == "encoded" && r["fragments"] != nil {
					if n != line || recs[i-1]["kind"] != "fragment" {
						t.Errorf("record %d: reassembled message does not follow its last fragment", i)
					}
					fragments++
				} else {
					if n != line+1 {
						t.Fatalf("record %d is for line %d, want %d", i, n, line+1)
					}
					line = n
				}
				if r["kind"] != "encoded" {
					continue
				}
				types = append(types, r["message_type"].(string))
				if r["protocol_version"].(float64) != float64(tc.version) {
					t.Errorf("record %d: protocol version %v", i, r["protocol_version"])
				}
				tag := map[string]uint32{"alice": c.alice.tag, "bob": c.bob.tag}[c.wire[n-1].from]
				if got := r["sender_instance"]; got != fmt.Sprintf("%08x", tag) {
					t.Errorf("record %d: sender instance %v, want %08x", i, got, tag)
				}
				keys, _ := r["old_mac_keys"].([]any)
				if tc.version == 4 {
					keys, _ = r["revealed_mac_keys"].([]any)
				}
				revealed += len(keys)
				if p, ok := r["client_profile"].(map[string]any); ok && !strings.HasPrefix(p["check"].(string), "valid") {
					t.Errorf("record %d: client profile check %v", i, p["check"])
				}
				if g, ok := r["gx_from_dh_commit"]; ok {
					if b, err := hex.DecodeString(fmt.Sprint(g)); err != nil || len(b) < 190 {
						t.Errorf("record %d: g^x from the D-H Commit = %v", i, g)
					}
				}
			}
			if line != len(c.wire) {
				t.Errorf("records cover %d lines, want %d", line, len(c.wire))
			}
			if tc.maxSize > 0 && fragments == 0 {
				t.Errorf("no fragmented message reassembled")
			}
			if revealed == 0 {
				t.Errorf("no revealed MAC key shown")
			}
			for _, want := range tc.types {
				if !slices.Contains(types, want) {
					t.Errorf("no %s message in %q", want, types)
				}
			}

			// The data messages' fields are those the encoding package
			// reads.
			for _, i := range c.dataIndexes(t, "alice") {
				d := parseData(t, payloadOf(t, c.wire[i].text))
				for _, r := range recs {
					if int(r["line"].(float64)) == i+1 && r["kind"] == "encoded" {
						if got := r["encrypted_message"]; got != hex.EncodeToString(d.ciphertext) {
							t.Errorf("line %d: encrypted message %v, want %x", i+1, got, d.ciphertext)
						}
						mac := r["mac"]
						if tc.version == 4 {
							mac = r["authenticator"]
						}
						if mac != hex.EncodeToString(d.mac) {
							t.Errorf("line %d: MAC %v, want %x", i+1, mac, d.mac)
						}
					}
				}
			}

			// Text output: one block per record, every field line
			// indented, no error.
			stdout, stderr, code := runTool(t, c.lines(), "parse")
			if code != 0 || stderr != "" {
				t.Fatalf("parse: exit %d, stderr %s", code, stderr)
			}
			blocks := strings.Split(strings.TrimSuffix(stdout, "\n\n"), "\n\n")
			if len(blocks) != len(recs) {
				t.Errorf("text output has %d blocks, want %d", len(blocks), len(recs))
			}
			for _, b := range blocks {
				lines := strings.Split(b, "\n")
				if !strings.HasPrefix(lines[0], "stdin:") {
					t.Errorf("block starts with %q", lines[0])
				}
				for _, l := range lines[1:] {
					if !strings.HasPrefix(l, "  ") || !strings.Contains(l, ":") {
						t.Errorf("field line %q", l)
					}
				}
			}
		})
	}
}

// TestParseLines checks the records of single lines of every kind.
func TestParseLines(t *testing.T) {
	dataV3 := otrencoding.EncodeMessage(otrencoding.Marshal(
		otrencoding.Header{Version: 3, Type: otrencoding.MsgData, Sender: 0x100, Receiver: 0x201},
		&otrencoding.DataMessage{Flags: 1, SenderKeyID: 2, RecipientKeyID: 3, NextDH: []byte{9, 9},
			Counter: [8]byte{7: 4}, EncryptedMessage: []byte("xyz"), MAC: [20]byte{1}, OldMACKeys: make([]byte, 40)}))
	dataV4 := otrencoding.EncodeMessage(otrencoding.Marshal(
		otrencoding.Header{Version: 4, Type: otrencoding.MsgData, Sender: 0x100, Receiver: 0x201},
		&otrencoding.DataMessage4{PN: 1, RatchetID: 2, MessageID: 3, Ciphertext: []byte("xyz")}))
	frags, err := fragment.Split(dataV4, 100, 4, 0xabc, 0x100, 0x201)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in   string
		want []map[string]any // fields of each record; only those given are compared
	}{
		{"?OTRv34?", []map[string]any{{"kind": "query", "versions": "v3|v4", "text": ""}}},
		{"?OTR?v3? please", []map[string]any{{"kind": "query", "versions": "v1|v3", "text": " please"}}},
		{"Hello " + otrencoding.WhitespaceTag(otrencoding.V3|otrencoding.V4) + "there", []map[string]any{{"kind": "plaintext", "whitespace_tag": "v3|v4", "text": "Hello there"}}},
		{"just text", []map[string]any{{"kind": "plaintext", "whitespace_tag": nil, "text": "just text"}}},
		{"?OTR Error: Key mismatch", []map[string]any{{"kind": "error", "text": "Key mismatch"}}},
		{"[12:00] <bob> " + dataV3, []map[string]any{{"kind": "encoded", "message_type": "0x03 Data", "flags": 1.0,
			"sender_instance": "00000100", "receiver_instance": "00000201", "sender_keyid": 2.0, "recipient_keyid": 3.0,
			"next_dh": "0909", "counter": "0000000000000004", "encrypted_message": "78797a", "mac_covers_bytes": 41.0,
			"old_mac_keys": []any{strings.Repeat("00", 20), strings.Repeat("00", 20)}}}},
		{strings.Join(frags, "\n"), []map[string]any{
			{"kind": "fragment", "fragment_version": 4.0, "identifier": "00000abc", "index": 1.0, "total": float64(len(frags))},
			{"kind": "fragment", "index": 2.0},
			{"kind": "fragment", "index": 3.0},
			{"kind": "fragment", "index": 4.0},
			{"kind": "fragment", "index": 5.0, "status": "complete: message reassembled from 5 fragments"},
			{"kind": "encoded", "fragments": 5.0, "fragment_lines": []any{1.0, 2.0, 3.0, 4.0, 5.0}, "message_type": "0x03 Data",
				"previous_chain_message_number": 1.0, "ratchet_id": 2.0, "message_id": 3.0, "dh": "", "encrypted_message": "78797a",
				"authenticator_covers_bytes": 92.0, "revealed_mac_keys": []any{}},
		}},
	} {
		recs := parseJSON(t, tc.in)
		if len(recs) != len(tc.want) {
			t.Errorf("parse(%q): %d records, want %d", tc.in, len(recs), len(tc.want))
			continue
		}
		for i, want := range tc.want {
			for k, v := range want {
				if got := recs[i][k]; fmt.Sprint(got) != fmt.Sprint(v) {
					t.Errorf("parse(%.50q) record %d: %s = %v, want %v", tc.in, i, k, got, v)
				}
			}
		}
	}
}

// TestParseErrors feeds lines that cannot be read between good ones: each
// bad line gives exactly one error line naming it, the others their
// records, and the exit status is 1.
func TestParseErrors(t *testing.T) {
	enc := func(b []byte) string { return "?OTR:" + base64.StdEncoding.EncodeToString(b) + "." }
	hdr := func(v uint16, typ otrencoding.MsgType) []byte {
		return []byte{byte(v >> 8), byte(v), byte(typ), 0, 0, 1, 0, 0, 0, 2, 0}
	}
	for _, tc := range []struct {
		name, line, want string
	}{
		{"bad base64", "?OTR:AAMD!!!.", "base64"},
		{"no dot", "?OTR:AAMD", "terminating"},
		{"short header", enc([]byte{0, 3, 3}), "short header"},
		{"version 2", enc([]byte{0, 2, 3, 0, 0}), "unsupported protocol version"},
		{"truncated data", enc(hdr(3, otrencoding.MsgData)[:11]), "Data message"},
		{"unknown type", enc(append(hdr(3, 0x42)[:11], 1, 2)), "not a protocol version 3 message"},
		{"OTR3 type in OTRv4", enc(hdr(4, otrencoding.MsgDHKey)[:11]), "not a protocol version 4 message"},
		{"bad identity", enc(append(hdr(4, otrencoding.MsgIdentity)[:11], 0, 0, 0, 1)), "client profile"},
		{"v2 fragment", "?OTR,1,2,abc,", "version 2"},
		{"illegal fragment", "?OTR|00000100|00000200,00003,00002,abc,", "malformed fragment"},
		{"bad reassembly", "?OTR|00000100|00000200,00001,00001,notbase64,", "reassembled message"},
		{"version mismatch", "?OTR|00000abc|00000100|00000200,00001,00001," + strings.TrimSuffix(enc(hdr(3, otrencoding.MsgDHKey)), ".") + ".,", "OTR version 3 message in OTR version 4 fragments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			input := "?OTRv3?\n" + tc.line + "\n?OTR Error: after\n"
			stdout, stderr, code := runTool(t, input, "parse", "-json")
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			errLines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			if len(errLines) != 1 || !strings.HasPrefix(errLines[0], "stdin:2: ") || !strings.Contains(errLines[0], tc.want) {
				t.Errorf("stderr = %q, want one line for stdin:2 mentioning %q", stderr, tc.want)
			}
			if !strings.Contains(stdout, `"line":1,`) || !strings.Contains(stdout, `"line":3,`) {
				t.Errorf("stdout = %q, want the records of lines 1 and 3", stdout)
			}
		})
	}
}

// TestParseFragmentOrder: an OTR3 fragment out of sequence drops the
// message being reassembled, as the OTR3 spec says, and is reported.
func TestParseFragmentOrder(t *testing.T) {
	msg := "?OTR:" + base64.StdEncoding.EncodeToString(make([]byte, 120)) + "."
	frags, err := fragment.Split(msg, 80, 3, 0, 0x100, 0x200)
	if err != nil || len(frags) < 3 {
		t.Fatalf("Split = %d fragments, %v", len(frags), err)
	}
	recs := parseJSON(t, frags[0]+"\n"+frags[2]+"\n")
	if len(recs) != 2 || !strings.HasPrefix(fmt.Sprint(recs[1]["status"]), "dropped") {
		t.Errorf("records %v, want the second dropped", recs)
	}
}

func TestParseFiles(t *testing.T) {
	c := converse(t, 3, 0, defaultScript[:2], nil)
	a := writeFile(t, "a.txt", c.lines())
	stdout, stderr, code := runTool(t, "", "parse", a, a+".missing", a)
	if code != 1 || strings.Count(stdout, a+":1: query message") != 2 || !strings.Contains(stderr, "missing") {
		t.Errorf("exit %d, stderr %q, stdout:\n%s", code, stderr, stdout)
	}
}
