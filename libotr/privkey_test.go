package libotr

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/otrgo/otr"
)

// libotrFingerprints are what otrl_privkey_fingerprint printed for
// testdata/otr.private_key.
var libotrFingerprints = []struct{ account, protocol, fp string }{
	{"alice@example.org", "prpl-jabber", "4FDEAEEF E1AE6782 2A6A7BC7 3631270F 6C74A6DB"},
	{"bob", "prpl-irc", "8A4EF77A 894ECA6D 7D32307C 5978F2B7 2DC0E4E5"},
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testKeys(t testing.TB) []PrivateKey {
	t.Helper()
	keys, err := ReadPrivateKeys(bytes.NewReader(readTestdata(t, "otr.private_key")))
	if err != nil {
		t.Fatalf("ReadPrivateKeys(testdata) error = %v", err)
	}
	return keys
}

func TestReadPrivateKeysLibotr(t *testing.T) {
	file := readTestdata(t, "otr.private_key")
	keys := testKeys(t)
	if len(keys) != len(libotrFingerprints) {
		t.Fatalf("ReadPrivateKeys() = %d keys, want %d", len(keys), len(libotrFingerprints))
	}
	for i, want := range libotrFingerprints {
		k := keys[i]
		if k.Account != want.account || k.Protocol != want.protocol || k.Keys.Fingerprint().String() != want.fp {
			t.Errorf("key %d = %q %q %v, want %q %q %v", i, k.Account, k.Protocol, k.Keys.Fingerprint(), want.account, want.protocol, want.fp)
		}
	}
	var out bytes.Buffer
	if err := WritePrivateKeys(&out, keys); err != nil {
		t.Fatalf("WritePrivateKeys() error = %v", err)
	}
	if !bytes.Equal(out.Bytes(), file) {
		t.Errorf("WritePrivateKeys() wrote\n%s\nwant libotr's\n%s", out.Bytes(), file)
	}
}

// TestPrivateKeysSyntaxes reads the same keys written in every syntax
// libgcrypt reads.
func TestPrivateKeysSyntaxes(t *testing.T) {
	file := readTestdata(t, "otr.private_key")
	top, err := parseSexp(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range []string{"canonical", "quoted", "hex", "base64", "lengthhex", "lengthquoted", "lengthbase64", "nosign"} {
		t.Run(enc, func(t *testing.T) {
			in := renderSexp(&top, enc)
			keys, err := ReadPrivateKeys(strings.NewReader(in))
			if err != nil {
				t.Fatalf("ReadPrivateKeys(%.80q...) error = %v", in, err)
			}
			for i, want := range libotrFingerprints {
				if got := keys[i].Keys.Fingerprint().String(); keys[i].Account != want.account || got != want.fp {
					t.Errorf("key %d = %q %v, want %q %v", i, keys[i].Account, got, want.account, want.fp)
				}
			}
		})
	}
}

// renderSexp writes s with every value in the syntax enc.
func renderSexp(s *sexp, enc string) string {
	if s.isList {
		var b strings.Builder
		b.WriteString("(")
		for i := range s.list {
			if i > 0 {
				b.WriteString(" \n\t")
			}
			b.WriteString(renderSexp(&s.list[i], enc))
		}
		b.WriteString(")")
		return b.String()
	}
	v := s.data
	if len(v) == 0 {
		return `""` // "0:" and the like have a leading zero, || is invalid
	}
	switch enc {
	case "canonical":
		return fmt.Sprintf("%d:%s", len(v), v)
	case "quoted":
		var b strings.Builder
		b.WriteString(`"`)
		for _, c := range v {
			fmt.Fprintf(&b, `\%03o`, c)
		}
		b.WriteString(`"`)
		return b.String()
	case "hex":
		return fmt.Sprintf("#%x#", v)
	case "base64":
		return "|" + b64(v) + "|"
	case "lengthhex":
		return fmt.Sprintf("%d#% X#", len(v), v)
	case "lengthquoted":
		return fmt.Sprintf("%d%s", len(v), renderSexp(s, "quoted"))
	case "lengthbase64":
		return fmt.Sprintf("%d|%s|", len(v), b64(v))
	case "nosign":
		return fmt.Sprintf("#%X#", bytes.TrimLeft(v, "\x00"))
	}
	panic("unknown encoding " + enc)
}

func b64(v []byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var b strings.Builder
	for i := 0; i < len(v); i += 3 {
		var n uint32
		k := copy([]byte{0, 0, 0}, v[i:])
		chunk := make([]byte, 3)
		copy(chunk, v[i:])
		n = uint32(chunk[0])<<16 | uint32(chunk[1])<<8 | uint32(chunk[2])
		for j := 0; j < 4; j++ {
			if j <= k {
				b.WriteByte(alphabet[n>>(18-6*j)&63])
			} else {
				b.WriteByte('=')
			}
		}
	}
	return b.String()
}

func TestPrivateKeysRoundTrip(t *testing.T) {
	keys := testKeys(t)
	names := []string{"bob", "alice@example.org", "123", "a b", "tab\there", `q"uote'\`,
		"jos\xc3\xa9", "\xc3\xa0x", "a\x01", "nl\nx", "-x", "\x7f"}
	var in []PrivateKey
	for i, n := range names {
		in = append(in, PrivateKey{Account: n, Protocol: "prpl-" + n, Keys: keys[i%2].Keys})
	}
	var b bytes.Buffer
	if err := WritePrivateKeys(&b, in); err != nil {
		t.Fatalf("WritePrivateKeys() error = %v", err)
	}
	out, err := ReadPrivateKeys(&b)
	if err != nil {
		t.Fatalf("ReadPrivateKeys() error = %v", err)
	}
	if len(out) != len(in) {
		t.Fatalf("ReadPrivateKeys() = %d keys, want %d", len(out), len(in))
	}
	for i := range in {
		if out[i].Account != in[i].Account || out[i].Protocol != in[i].Protocol ||
			!bytes.Equal(out[i].Keys.Fingerprint(), in[i].Keys.Fingerprint()) {
			t.Errorf("key %d = %q %q, want %q %q (or another fingerprint)", i, out[i].Account, out[i].Protocol, in[i].Account, in[i].Protocol)
		}
	}

	b.Reset()
	if err := WritePrivateKeys(&b, nil); err != nil || b.String() != "(privkeys\n)\n" {
		t.Errorf("WritePrivateKeys(nil) = %q, %v, want %q, nil", b.String(), err, "(privkeys\n)\n")
	}
	if out, err := ReadPrivateKeys(&b); err != nil || len(out) != 0 {
		t.Errorf("ReadPrivateKeys(empty privkeys) = %d keys, %v, want none, nil", len(out), err)
	}
}

// TestSexpValueEncoding checks the writer against what libgcrypt 1.10.1's
// gcry_sexp_sprint(GCRYSEXP_FMT_ADVANCED) printed for (name %s).
func TestSexpValueEncoding(t *testing.T) {
	tests := []struct{ in, want string }{
		{"bob", "bob"},
		{"alice@example.org", `"alice@example.org"`},
		{"123", `"123"`},
		{"", `""`},
		{"a b", `"a b"`},
		{"tab\there", `"tab\there"`},
		{`q"uote'\`, `"q\"uote\'\\"`},
		{"jos\xc3\xa9", "\"jos\xc3\xa9\""},
		{"\xc3\xa0x", "#C3A078#"},
		{"x\xc3\xa0", "#78C3A0#"},
		{"a\x01", "#6101#"},
		{"-x", "-x"},
		{".a", ".a"},
		{"a:b=c*d+e/f_g", "a:b=c*d+e/f_g"},
		{"\x7f", "#7F#"},
		{"nl\nx", `"nl\nx"`},
		{"\x00\x01", "#0001#"},
	}
	for _, tc := range tests {
		if got := string(appendSexpValue(nil, []byte(tc.in))); got != tc.want {
			t.Errorf("appendSexpValue(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestParseSexp checks the syntax against libgcrypt 1.10.1's
// gcry_sexp_sscan, with the stricter answers noted.
func TestParseSexp(t *testing.T) {
	tests := []struct {
		in   string
		want string // canonical form, or "" for an error
	}{
		{"(a b)", "(1:a1:b)"},
		{" \t\n(a\vb\f)\r\n", "(1:a1:b)"},
		{"(a 3:abc)", "(1:a3:abc)"},
		{"(a 3:a)c)", "(1:a3:a)c)"},
		{`(a 3"abc")`, "(1:a3:abc)"},
		{"(a 3#616263#)", "(1:a3:abc)"},
		{"(a 3|YWJj|)", "(1:a3:abc)"},
		{"(a |YWJj|)", "(1:a3:abc)"},
		{"(a |YWI=|)", "(1:a2:ab)"},
		{"(a |YWI|)", "(1:a2:ab)"},
		{"(a #61 62\n63#)", "(1:a3:abc)"},
		{"(a #6A6b#)", "(1:a2:jk)"},
		{"(a ##)", `(1:a"")`},
		{`(a "")`, `(1:a"")`},
		{`(a "x\101\x41\` + "\ny\\\r\nz\\\n\rw\")", "(1:a6:xAAyzw)"},
		{`(a "\b\t\v\n\f\r\"\'\\")`, "(1:a9:\b\t\v\n\f\r\"'\\)"},
		{"(a \"\x00\xff\n\")", "(1:a3:\x00\xff\n)"},
		{"(a(b(c))d)", "(1:a(1:b(1:c))1:d)"},
		{"(a\"b\"c)", "(1:a1:b1:c)"},
		{"(-./_:*+=0 x)", "(9:-./_:*+=01:x)"},
		{"()", "()"},
		// Errors (libgcrypt's own or stricter).
		{"", ""},
		{"   ", ""},
		{"a", ""},
		{"(a", ""},
		{"(a))", ""},
		{"(a) x", ""},         // libgcrypt ignores trailing data
		{"(a b)(c d)", ""},    // libgcrypt reads both lists
		{`(a 2"abc")`, ""},    // libgcrypt ignores the length
		{"(a 2|YWJj|)", ""},   // libgcrypt ignores the length
		{"(a 4#616263#)", ""}, // libgcrypt ignores the length
		{"(a 4:abc)", ""},     // beyond the end
		{"(a 03:abc)", ""},    // zero prefix
		{"(a 3)", ""},         // length without value
		{"(a 3", ""},          // length at the end
		{"(a 99999999999999999999:x)", ""},
		{"(a [x]b)", ""}, // display hint: libgcrypt makes it a value
		{"(a {YWJj})", ""},
		{"(a &)", ""},
		{"(a \\)", ""},
		{"(a \x00)", ""}, // libgcrypt takes NUL as a token character
		{"(a #616#)", ""},
		{"(a #61g2#)", ""},
		{"(a #6162", ""},
		{`(a "abc)`, ""},
		{`(a "\q")`, ""},
		{`(a "\400")`, ""},
		{`(a "\18")`, ""},
		{`(a "\x4")`, ""},
		{`(a "\xg0")`, ""},
		{`(a "\`, ""},
		{"(a ||)", ""},
		{"(a |YW Jj|)", ""},
		{"(a |YW!j|)", ""},
		{"(a |YWI=YWI=|)", ""},
		{"(a |YWJ|)", ""}, // non-canonical trailing bits
		{"(a |Y|)", ""},
		{"(a |YWJj", ""},
		{strings.Repeat("(", maxSexpDepth) + strings.Repeat(")", maxSexpDepth), "x"},
		{strings.Repeat("(", maxSexpDepth+1) + strings.Repeat(")", maxSexpDepth+1), ""},
		{"(" + strings.Repeat("a ", maxSexpElements) + ")", ""},
	}
	for _, tc := range tests {
		s, err := parseSexp([]byte(tc.in))
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("parseSexp(%.40q) = %s, want an error", tc.in, canonical(&s))
		case tc.want == "":
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("parseSexp(%.40q) error = %v, want ErrMalformed", tc.in, err)
			}
		case err != nil:
			t.Errorf("parseSexp(%.40q) error = %v", tc.in, err)
		case tc.want != "x" && canonical(&s) != tc.want:
			t.Errorf("parseSexp(%.40q) = %q, want %q", tc.in, canonical(&s), tc.want)
		}
	}
}

func canonical(s *sexp) string {
	if !s.isList {
		return renderSexp(s, "canonical")
	}
	var b strings.Builder
	b.WriteString("(")
	for i := range s.list {
		b.WriteString(canonical(&s.list[i]))
	}
	b.WriteString(")")
	return b.String()
}

func TestReadPrivateKeysMalformed(t *testing.T) {
	file := string(readTestdata(t, "otr.private_key"))
	// One account's DSA values, to build variants.
	start := strings.Index(file, "(private-key")
	end := strings.Index(file, "\n (account\n(name bob)")
	priv := file[start:end]
	priv = priv[:strings.LastIndex(priv, ")")] // drop the account's ')'
	dsa := func(repl ...string) string {
		return strings.NewReplacer(repl...).Replace(priv)
	}
	acct := func(body string) string { return "(privkeys (account " + body + "))" }
	good := acct("(name a) (protocol p) " + priv)
	if _, err := ReadPrivateKeys(strings.NewReader(good)); err != nil {
		t.Fatalf("ReadPrivateKeys(good) error = %v", err)
	}
	if _, err := ReadPrivateKeys(strings.NewReader(acct(priv + "(protocol p)(name a)"))); err != nil {
		t.Errorf("ReadPrivateKeys(reordered) error = %v", err)
	}
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"not privkeys", "(privkey)"},
		{"privkeys not a token", "((privkeys))"},
		{"empty list", "()"},
		{"not an account", "(privkeys (acount (name a) (protocol p) " + priv + "))"},
		{"account value", "(privkeys account)"},
		{"empty account", "(privkeys (account))"},
		{"no name", acct("(protocol p) " + priv)},
		{"no protocol", acct("(name a) " + priv)},
		{"no key", acct("(name a) (protocol p)")},
		{"two names", acct("(name a) (name b) (protocol p) " + priv)},
		{"two keys", acct("(name a) (protocol p) " + priv + priv)},
		{"unknown element", acct("(name a) (protocol p) (comment x) " + priv)},
		{"value in account", acct("(name a) (protocol p) x " + priv)},
		{"list label", acct("((name) a) (protocol p) " + priv)},
		{"empty name", acct(`(name "") (protocol p) ` + priv)},
		{"NUL in name", acct(`(name "a\000b") (protocol p) ` + priv)},
		{"name list", acct("(name (a)) (protocol p) " + priv)},
		{"name two values", acct("(name a b) (protocol p) " + priv)},
		{"empty protocol", acct("(name a) (protocol ##) " + priv)},
		{"RSA", acct("(name a) (protocol p) " + dsa("(dsa", "(rsa"))},
		{"extra value", acct("(name a) (protocol p) " + dsa("(x ", "(z #01#)(x "))},
		{"missing x", acct("(name a) (protocol p) " + dsa("(x ", "(y "))},
		{"private-key value", acct("(name a) (protocol p) (private-key dsa)")},
		{"private-key empty", acct("(name a) (protocol p) (private-key)")},
		{"DSA value list", acct("(name a) (protocol p) " + dsa("(x #", "(x (#"))},
		{"wrong x", acct("(name a) (protocol p) " + dsa("(x #00", "(x #01"))},
		{"wrong y", acct("(name a) (protocol p) " + dsa("(y #62", "(y #63"))},
		{"zero x", acct("(name a) (protocol p) " + dsa("(x #00", "(x #00#)(w #"))},
		{"duplicate account", "(privkeys (account (name a) (protocol p) " + priv + ")(account (name a) (protocol p) " + priv + "))"},
		{"too large", "(privkeys " + strings.Repeat(" ", maxPrivateKeyFileSize) + ")"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := ReadPrivateKeys(strings.NewReader(tc.in))
			if !errors.Is(err, ErrMalformed) || keys != nil {
				t.Errorf("ReadPrivateKeys() = %d keys, %v, want ErrMalformed", len(keys), err)
			}
		})
	}
}

func TestReadPrivateKeysPrefixes(t *testing.T) {
	file := bytes.TrimRight(readTestdata(t, "otr.private_key"), "\n")
	for n := range len(file) {
		if keys, err := ReadPrivateKeys(bytes.NewReader(file[:n])); err == nil {
			t.Fatalf("ReadPrivateKeys(first %d bytes) = %d keys, want an error", n, len(keys))
		}
	}
}

func TestWritePrivateKeysInvalid(t *testing.T) {
	k := testKeys(t)[0].Keys
	tests := []struct {
		name string
		keys []PrivateKey
	}{
		{"empty account", []PrivateKey{{Account: "", Protocol: "p", Keys: k}}},
		{"empty protocol", []PrivateKey{{Account: "a", Protocol: "", Keys: k}}},
		{"NUL", []PrivateKey{{Account: "a\x00", Protocol: "p", Keys: k}}},
		{"no keys", []PrivateKey{{Account: "a", Protocol: "p"}}},
		{"no DSA key", []PrivateKey{{Account: "a", Protocol: "p", Keys: &otr.PrivateKeys{}}}},
		{"duplicate", []PrivateKey{{Account: "a", Protocol: "p", Keys: k}, {Account: "a", Protocol: "p", Keys: k}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WritePrivateKeys(&b, tc.keys); err == nil || b.Len() != 0 {
				t.Errorf("WritePrivateKeys() wrote %d bytes, error %v, want an error and nothing", b.Len(), err)
			}
		})
	}
}

func BenchmarkReadPrivateKeys(b *testing.B) {
	file := readTestdata(b, "otr.private_key")
	for b.Loop() {
		keys, err := ReadPrivateKeys(bytes.NewReader(file))
		if err != nil {
			b.Fatal(err)
		}
		wipeKeys(keys)
	}
}

func BenchmarkWritePrivateKeys(b *testing.B) {
	keys := testKeys(b)
	for b.Loop() {
		if err := WritePrivateKeys(io.Discard, keys); err != nil {
			b.Fatal(err)
		}
	}
}
