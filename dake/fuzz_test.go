package dake

import (
	"bytes"
	"testing"

	"github.com/otrgo/otr/internal/vectors"
)

// FuzzParseClientProfile: no panic; an accepted profile re-encodes to its
// input and Validate does not panic.
func FuzzParseClientProfile(f *testing.F) {
	var file profileVectorFile
	vectors.Load(f, "otrv4/clientprofile.json", &file)
	for _, v := range file.Vectors {
		f.Add([]byte(v.Encoded))
	}
	for _, v := range file.ValidationCases {
		f.Add([]byte(v.Encoded))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseClientProfile(b)
		if err != nil {
			if p != nil {
				t.Fatalf("error with a partial value")
			}
			return
		}
		if !bytes.Equal(p.Bytes(), b) {
			t.Fatalf("re-encoding differs")
		}
		_ = p.Validate(p.InstanceTag(), profileNow)
	})
}
