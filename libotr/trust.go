package libotr

import (
	"fmt"

	"github.com/otrgo/otr"
)

// libotr keeps a fingerprint's trust as a C string and has one test for it
// (otrl_context_is_fingerprint_trusted): trusted if and only if the string
// is not empty. Clients write words into it (Pidgin "verified" for a
// manual check, libotr "smp" after a successful SMP run), but the word
// does not matter to libotr. So the mapping is not symmetric by name:
// otr.Untrusted must become the empty field, never a word such as its name
// "untrusted", which libotr would read as trusted.

// TrustFromWord returns the trust level a libotr trust word means, as
// libotr itself reads it: the empty word is [otr.Untrusted], [TrustSMP]
// ("smp") is [otr.SMPVerified], [TrustVerified] ("verified") and every
// other non-empty word (another client's, or a hand edit) is
// [otr.Verified], since libotr trusts the fingerprint.
func TrustFromWord(word string) otr.Trust {
	switch word {
	case "":
		return otr.Untrusted
	case TrustSMP:
		return otr.SMPVerified
	}
	return otr.Verified
}

// WordFromTrust returns the trust word to write in libotr's
// otr.fingerprints for t: "" (the empty field) for [otr.Untrusted],
// [TrustVerified] for [otr.Verified], [TrustSMP] for [otr.SMPVerified].
// Any other level is an error: it cannot be said whether libotr should
// trust it.
func WordFromTrust(t otr.Trust) (string, error) {
	switch t {
	case otr.Untrusted:
		return "", nil
	case otr.Verified:
		return TrustVerified, nil
	case otr.SMPVerified:
		return TrustSMP, nil
	}
	return "", fmt.Errorf("libotr: no trust word for %v", t)
}
