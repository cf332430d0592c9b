package crypto

import (
	"strings"
	"testing"
)

func TestFingerprint4String(t *testing.T) {
	var f Fingerprint4
	for i := range f {
		f[i] = byte(i)
	}
	got := f.String()
	if !strings.HasPrefix(got, "00010203 04050607 08090A0B") || len(got) != 112+13 {
		t.Errorf("String() = %q", got)
	}
}
