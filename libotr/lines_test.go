package libotr

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/otrgo/otr"
)

func fp(s string) otr.Fingerprint {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestReadFingerprintsLibotr(t *testing.T) {
	file := readTestdata(t, "otr.fingerprints")
	got, err := ReadFingerprints(bytes.NewReader(file))
	if err != nil {
		t.Fatalf("ReadFingerprints(testdata) error = %v", err)
	}
	want := []Fingerprint{
		{"carol@example.com", "alice@example.org", "prpl-jabber", fp("fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0efeeedec"), ""},
		{"carol@example.com", "alice@example.org", "prpl-jabber", fp("000d1a2734414e5b6875828f9ca9b6c3d0ddeaf7"), TrustVerified},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ReadFingerprints(testdata) = %+v, want %+v", got, want)
	}
	if got[0].Trusted() || !got[1].Trusted() {
		t.Errorf("Trusted() = %v, %v, want false, true", got[0].Trusted(), got[1].Trusted())
	}
	var b bytes.Buffer
	if err := WriteFingerprints(&b, got); err != nil || !bytes.Equal(b.Bytes(), file) {
		t.Errorf("WriteFingerprints() = %q, %v, want libotr's %q", b.Bytes(), err, file)
	}
}

func TestFingerprintsRoundTrip(t *testing.T) {
	in := []Fingerprint{
		{"bob@example.com", "alice@example.org", "prpl-jabber", fp("0102030405060708090a0b0c0d0e0f1011121314"), TrustSMP},
		{"bob@example.com", "alice@example.org", "prpl-jabber", fp("ff02030405060708090a0b0c0d0e0f1011121314"), ""},
		{"dave", "alice", "prpl-irc", make([]byte, 20), "other client's word"},
		{"jos\xc3\xa9 #1", "a b", "p", fp("0102030405060708090a0b0c0d0e0f1011121314"), TrustVerified},
	}
	var b bytes.Buffer
	if err := WriteFingerprints(&b, in); err != nil {
		t.Fatalf("WriteFingerprints() error = %v", err)
	}
	out, err := ReadFingerprints(&b)
	if err != nil || !reflect.DeepEqual(out, in) {
		t.Errorf("ReadFingerprints(WriteFingerprints(in)) = %+v, %v, want %+v", out, err, in)
	}
	b.Reset()
	if err := WriteFingerprints(&b, nil); err != nil || b.Len() != 0 {
		t.Errorf("WriteFingerprints(nil) = %q, %v, want nothing", b.String(), err)
	}
	if out, err := ReadFingerprints(&b); err != nil || out != nil {
		t.Errorf("ReadFingerprints(empty) = %v, %v, want nil, nil", out, err)
	}
}

func TestReadFingerprintsAccepts(t *testing.T) {
	const hexfp = "0102030405060708090a0b0c0d0e0f1011121314"
	tests := []struct {
		name, in string
		want     Fingerprint
	}{
		{"no trust field", "u\ta\tp\t" + hexfp + "\n", Fingerprint{"u", "a", "p", fp(hexfp), ""}},
		{"CR LF", "u\ta\tp\t" + hexfp + "\tsmp\r\n", Fingerprint{"u", "a", "p", fp(hexfp), "smp"}},
		{"no final newline", "u\ta\tp\t" + hexfp + "\tverified", Fingerprint{"u", "a", "p", fp(hexfp), "verified"}},
		{"upper case", "u\ta\tp\t" + strings.ToUpper(hexfp) + "\t\n", Fingerprint{"u", "a", "p", fp(hexfp), ""}},
		{"longest line", strings.Repeat("u", maxLine-47) + "\ta\tp\t" + hexfp + "\t\n",
			Fingerprint{strings.Repeat("u", maxLine-47), "a", "p", fp(hexfp), ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadFingerprints(strings.NewReader(tc.in))
			if err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], tc.want) {
				t.Errorf("ReadFingerprints(%q) = %+v, %v, want %+v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestReadFingerprintsMalformed(t *testing.T) {
	const hexfp = "0102030405060708090a0b0c0d0e0f1011121314"
	tests := []struct{ name, in string }{
		{"empty line", "\n"},
		{"3 fields", "u\ta\tp\n"},
		{"6 fields", "u\ta\tp\t" + hexfp + "\tverified\tx\n"},
		{"empty username", "\ta\tp\t" + hexfp + "\t\n"},
		{"empty account", "u\t\tp\t" + hexfp + "\t\n"},
		{"empty protocol", "u\ta\t\t" + hexfp + "\t\n"},
		{"short fingerprint", "u\ta\tp\t" + hexfp[2:] + "\t\n"},
		{"long fingerprint", "u\ta\tp\t" + hexfp + "00\t\n"},
		{"bad hex", "u\ta\tp\t" + hexfp[1:] + "g\t\n"},
		{"spaces", "u\ta\tp\t01020304 05060708 090a0b0c 0d0e0f10 11121314\t\n"},
		{"NUL", "u\x00\ta\tp\t" + hexfp + "\t\n"},
		{"CR inside", "u\ta\tp\t" + hexfp + "\tverified\rx\n"},
		{"repeated", "u\ta\tp\t" + hexfp + "\t\nu\ta\tp\t" + hexfp + "\tsmp\n"},
		{"line too long", strings.Repeat("u", maxLine-46) + "\ta\tp\t" + hexfp + "\t\n"},
		{"line far too long", strings.Repeat("u", 10000) + "\ta\tp\t" + hexfp + "\t\n"},
		{"bad second line", "u\ta\tp\t" + hexfp + "\t\nx\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadFingerprints(strings.NewReader(tc.in))
			if !errors.Is(err, ErrMalformed) || got != nil {
				t.Errorf("ReadFingerprints(%.60q) = %+v, %v, want ErrMalformed", tc.in, got, err)
			}
		})
	}
}

func TestWriteFingerprintsInvalid(t *testing.T) {
	good := fp("0102030405060708090a0b0c0d0e0f1011121314")
	tests := []struct {
		name string
		fps  []Fingerprint
	}{
		{"empty username", []Fingerprint{{"", "a", "p", good, ""}}},
		{"empty account", []Fingerprint{{"u", "", "p", good, ""}}},
		{"empty protocol", []Fingerprint{{"u", "a", "", good, ""}}},
		{"tab", []Fingerprint{{"u\tv", "a", "p", good, ""}}},
		{"newline", []Fingerprint{{"u", "a\n", "p", good, ""}}},
		{"CR in trust", []Fingerprint{{"u", "a", "p", good, "v\r"}}},
		{"tab in trust", []Fingerprint{{"u", "a", "p", good, "v\tx"}}},
		{"NUL", []Fingerprint{{"u", "a", "p\x00", good, ""}}},
		{"short fingerprint", []Fingerprint{{"u", "a", "p", good[1:], ""}}},
		{"OTRv4 fingerprint", []Fingerprint{{"u", "a", "p", make([]byte, 56), ""}}},
		{"no fingerprint", []Fingerprint{{"u", "a", "p", nil, ""}}},
		{"repeated", []Fingerprint{{"u", "a", "p", good, ""}, {"u", "a", "p", good, "smp"}}},
		{"line too long", []Fingerprint{{strings.Repeat("u", maxLine-46), "a", "p", good, ""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteFingerprints(&b, tc.fps); err == nil || b.Len() != 0 {
				t.Errorf("WriteFingerprints() wrote %q, error %v, want an error and nothing", b.String(), err)
			}
		})
	}
}

func TestReadInstanceTagsLibotr(t *testing.T) {
	file := readTestdata(t, "otr.instance_tags")
	got, err := ReadInstanceTags(bytes.NewReader(file))
	if err != nil {
		t.Fatalf("ReadInstanceTags(testdata) error = %v", err)
	}
	want := []InstanceTag{{"bob", "prpl-irc", 0xb961090f}, {"alice@example.org", "prpl-jabber", 0xdb5804db}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ReadInstanceTags(testdata) = %+v, want %+v", got, want)
	}
	var b bytes.Buffer
	if err := WriteInstanceTags(&b, got); err != nil || !bytes.Equal(b.Bytes(), file) {
		t.Errorf("WriteInstanceTags() = %q, %v, want libotr's %q", b.Bytes(), err, file)
	}
}

func TestInstanceTagsRoundTrip(t *testing.T) {
	in := []InstanceTag{{"alice@example.org", "prpl-jabber", 0x100}, {"a b", "prpl-irc", 0xffffffff}, {"jos\xc3\xa9", "p", 0x12345678}}
	var b bytes.Buffer
	if err := WriteInstanceTags(&b, in); err != nil {
		t.Fatalf("WriteInstanceTags() error = %v", err)
	}
	out, err := ReadInstanceTags(&b)
	if err != nil || !reflect.DeepEqual(out, in) {
		t.Errorf("ReadInstanceTags(WriteInstanceTags(in)) = %+v, %v, want %+v", out, err, in)
	}
	b.Reset()
	if err := WriteInstanceTags(&b, nil); err != nil || b.String() != instagWarning {
		t.Errorf("WriteInstanceTags(nil) = %q, %v, want the warning only", b.String(), err)
	}
}

func TestReadInstanceTagsAccepts(t *testing.T) {
	tests := []struct {
		name, in string
		want     []InstanceTag
	}{
		{"empty", "", nil},
		{"comments only", "# a\n#\tb\tc\n", nil},
		{"CR LF", "a\tp\t00000100\r\n", []InstanceTag{{"a", "p", 0x100}}},
		{"upper case", "a\tp\tDEADBEEF\n", []InstanceTag{{"a", "p", 0xdeadbeef}}},
		{"no final newline", "a\tp\t12345678", []InstanceTag{{"a", "p", 0x12345678}}},
		{"longest line", strings.Repeat("a", maxLine-12) + "\tp\t00000100\n", []InstanceTag{{strings.Repeat("a", maxLine-12), "p", 0x100}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadInstanceTags(strings.NewReader(tc.in))
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ReadInstanceTags(%q) = %+v, %v, want %+v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestReadInstanceTagsMalformed(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty line", "\n"},
		{"2 fields", "a\t00000100\n"},
		{"4 fields", "a\tp\t00000100\tx\n"},
		{"empty account", "\tp\t00000100\n"},
		{"empty protocol", "a\t\t00000100\n"},
		{"short tag", "a\tp\t100\n"},
		{"long tag", "a\tp\t000000100\n"},
		{"0x prefix", "a\tp\t0x000100\n"},
		{"sign", "a\tp\t+0000100\n"},
		{"bad hex", "a\tp\t0000010g\n"},
		{"small tag", "a\tp\t000000ff\n"},
		{"zero tag", "a\tp\t00000000\n"},
		{"NUL", "a\x00\tp\t00000100\n"},
		{"repeated", "a\tp\t00000100\na\tp\t00000200\n"},
		{"line too long", strings.Repeat("a", maxLine-11) + "\tp\t00000100\n"},
		{"space before comment", " # x\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadInstanceTags(strings.NewReader(tc.in))
			if !errors.Is(err, ErrMalformed) || got != nil {
				t.Errorf("ReadInstanceTags(%.60q) = %+v, %v, want ErrMalformed", tc.in, got, err)
			}
		})
	}
}

func TestWriteInstanceTagsInvalid(t *testing.T) {
	tests := []struct {
		name string
		tags []InstanceTag
	}{
		{"empty account", []InstanceTag{{"", "p", 0x100}}},
		{"empty protocol", []InstanceTag{{"a", "", 0x100}}},
		{"comment account", []InstanceTag{{"#a", "p", 0x100}}},
		{"tab", []InstanceTag{{"a\tb", "p", 0x100}}},
		{"CR", []InstanceTag{{"a", "p\r", 0x100}}},
		{"small tag", []InstanceTag{{"a", "p", 0xff}}},
		{"zero tag", []InstanceTag{{"a", "p", 0}}},
		{"repeated", []InstanceTag{{"a", "p", 0x100}, {"a", "p", 0x200}}},
		{"line too long", []InstanceTag{{strings.Repeat("a", maxLine-11), "p", 0x100}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteInstanceTags(&b, tc.tags); err == nil || b.Len() != 0 {
				t.Errorf("WriteInstanceTags() wrote %q, error %v, want an error and nothing", b.String(), err)
			}
		})
	}
}
