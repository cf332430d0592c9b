package libotr

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func FuzzReadPrivateKeys(f *testing.F) {
	file := readTestdata(f, "otr.private_key")
	f.Add(file)
	f.Add([]byte("(privkeys\n)\n"))
	if top, err := parseSexp(file); err == nil {
		f.Add([]byte(renderSexp(&top, "canonical")))
		f.Add([]byte(renderSexp(&top, "lengthbase64")))
	}
	f.Add([]byte(`(a "x\101\x41\` + "\ny\" #61 62# |YWI=| 3:abc)"))
	f.Fuzz(func(t *testing.T, in []byte) {
		keys, err := ReadPrivateKeys(bytes.NewReader(in))
		if err != nil {
			if keys != nil {
				t.Fatalf("ReadPrivateKeys() = %d keys and error %v", len(keys), err)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ReadPrivateKeys() error = %v, want ErrMalformed", err)
			}
			return
		}
		var b bytes.Buffer
		if err := WritePrivateKeys(&b, keys); err != nil {
			t.Fatalf("WritePrivateKeys(ReadPrivateKeys()) error = %v", err)
		}
		again, err := ReadPrivateKeys(bytes.NewReader(b.Bytes()))
		if err != nil || len(again) != len(keys) {
			t.Fatalf("ReadPrivateKeys(WritePrivateKeys()) = %d keys, %v, want %d", len(again), err, len(keys))
		}
		for i := range keys {
			if again[i].Account != keys[i].Account || again[i].Protocol != keys[i].Protocol ||
				!bytes.Equal(again[i].Keys.Fingerprint(), keys[i].Keys.Fingerprint()) {
				t.Fatalf("key %d changed in a write and read", i)
			}
		}
		var b2 bytes.Buffer
		if err := WritePrivateKeys(&b2, again); err != nil || !bytes.Equal(b2.Bytes(), b.Bytes()) {
			t.Fatalf("second write differs from the first (error %v)", err)
		}
	})
}

func FuzzReadFingerprints(f *testing.F) {
	f.Add(readTestdata(f, "otr.fingerprints"))
	f.Add([]byte("u\ta\tp\t0102030405060708090A0B0C0D0E0F1011121314\r\n"))
	f.Add([]byte("u\ta\tp\t0102030405060708090a0b0c0d0e0f1011121314\tsmp"))
	f.Fuzz(func(t *testing.T, in []byte) {
		fps, err := ReadFingerprints(bytes.NewReader(in))
		if err != nil {
			if fps != nil || !errors.Is(err, ErrMalformed) {
				t.Fatalf("ReadFingerprints() = %d entries, error %v, want none and ErrMalformed", len(fps), err)
			}
			return
		}
		var b bytes.Buffer
		if err := WriteFingerprints(&b, fps); err != nil {
			t.Fatalf("WriteFingerprints(ReadFingerprints()) error = %v", err)
		}
		again, err := ReadFingerprints(&b)
		if err != nil || !reflect.DeepEqual(again, fps) {
			t.Fatalf("ReadFingerprints(WriteFingerprints(x)) = %+v, %v, want %+v", again, err, fps)
		}
	})
}

func FuzzReadInstanceTags(f *testing.F) {
	f.Add(readTestdata(f, "otr.instance_tags"))
	f.Add([]byte("a\tp\tDEADBEEF\r\n# c\n"))
	f.Add([]byte("a\tp\t00000100"))
	f.Fuzz(func(t *testing.T, in []byte) {
		tags, err := ReadInstanceTags(bytes.NewReader(in))
		if err != nil {
			if tags != nil || !errors.Is(err, ErrMalformed) {
				t.Fatalf("ReadInstanceTags() = %d entries, error %v, want none and ErrMalformed", len(tags), err)
			}
			return
		}
		var b bytes.Buffer
		if err := WriteInstanceTags(&b, tags); err != nil {
			t.Fatalf("WriteInstanceTags(ReadInstanceTags()) error = %v", err)
		}
		again, err := ReadInstanceTags(&b)
		if err != nil || !reflect.DeepEqual(again, tags) {
			t.Fatalf("ReadInstanceTags(WriteInstanceTags(x)) = %+v, %v, want %+v", again, err, tags)
		}
	})
}

// FuzzParseSexp exercises the S-expression syntax alone, without the slow
// key validation of FuzzReadPrivateKeys.
func FuzzParseSexp(f *testing.F) {
	f.Add([]byte(`(a "x\101\x41\` + "\ny\" #61 62# |YWI=| 3:abc 2\"ab\" (b (c)))"))
	f.Add([]byte("(privkeys (account (name \"a@b\") (protocol prpl-jabber)))"))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := parseSexp(in)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("parseSexp() error = %v, want ErrMalformed", err)
			}
			return
		}
		c := canonical(&s)
		again, err := parseSexp([]byte(c))
		if err != nil || canonical(&again) != c {
			t.Fatalf("parseSexp(%q) = %q, %v, want the same", c, canonical(&again), err)
		}
		for _, enc := range []string{"quoted", "hex"} {
			r := renderSexp(&s, enc)
			if again, err := parseSexp([]byte(r)); err != nil || canonical(&again) != c {
				t.Fatalf("parseSexp(%q) = %q, %v, want %q", r, canonical(&again), err, c)
			}
		}
	})
}
