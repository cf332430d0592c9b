package libotr

import (
	"testing"

	"github.com/otrgo/otr"
)

// TestTrustFromWord: the empty word alone is untrusted, as libotr reads
// it; "untrusted" (otr.Untrusted's name) is a non-empty word, so trusted.
func TestTrustFromWord(t *testing.T) {
	tests := []struct {
		word string
		want otr.Trust
	}{
		{"", otr.Untrusted},
		{TrustVerified, otr.Verified},
		{TrustSMP, otr.SMPVerified},
		{"some other client's word", otr.Verified},
		{"untrusted", otr.Verified},
		{"SMP", otr.Verified},
		{" ", otr.Verified},
	}
	for _, tc := range tests {
		if got := TrustFromWord(tc.word); got != tc.want {
			t.Errorf("TrustFromWord(%q) = %v, want %v", tc.word, got, tc.want)
		}
		if got, want := TrustFromWord(tc.word) != otr.Untrusted, (Fingerprint{Trust: tc.word}).Trusted(); got != want {
			t.Errorf("TrustFromWord(%q) trusted = %v, libotr's reading %v", tc.word, got, want)
		}
	}
}

// TestWordFromTrust: Untrusted is the empty field, never a word; each
// level comes back from its word.
func TestWordFromTrust(t *testing.T) {
	tests := []struct {
		trust otr.Trust
		want  string
	}{
		{otr.Untrusted, ""},
		{otr.Verified, TrustVerified},
		{otr.SMPVerified, TrustSMP},
	}
	for _, tc := range tests {
		got, err := WordFromTrust(tc.trust)
		if err != nil || got != tc.want {
			t.Errorf("WordFromTrust(%v) = %q, %v, want %q", tc.trust, got, err, tc.want)
		}
		if back := TrustFromWord(got); back != tc.trust {
			t.Errorf("TrustFromWord(WordFromTrust(%v)) = %v", tc.trust, back)
		}
		if trusted := (Fingerprint{Trust: got}).Trusted(); trusted != (tc.trust != otr.Untrusted) {
			t.Errorf("libotr reads WordFromTrust(%v) as trusted = %v", tc.trust, trusted)
		}
	}
	for _, bad := range []otr.Trust{-1, 3, 100} {
		if got, err := WordFromTrust(bad); err == nil {
			t.Errorf("WordFromTrust(%v) = %q, nil, want an error", bad, got)
		}
	}
}
