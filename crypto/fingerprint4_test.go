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
	if !strings.HasPrefix(got, "000102030405060708090A0B") || len(got) != 112 || strings.Contains(got, " ") {
		t.Errorf("String() = %q", got)
	}
}
