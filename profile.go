package otr

import (
	"errors"
	"fmt"
	"time"

	otrcrypto "github.com/otrgo/otr/crypto"
	"github.com/otrgo/otr/dake"
)

// Client profiles (otrv4.md, "Client Profile"): our OTRv4 identity as the
// contact sees it, signed with our Ed448 key and, when OTR3 is allowed too,
// with a transitional DSA signature. It carries our instance tag and is
// persisted through the Host; it is renewed before it expires.

const (
	// profileLifetime is how long a new client profile is valid: two weeks,
	// as otrv4.md recommends.
	profileLifetime = 14 * 24 * time.Hour
	// profileRenewBefore: a profile expiring sooner than this is replaced.
	profileRenewBefore = 3 * 24 * time.Hour
)

// profileVersions is the versions field our profile advertises.
func (a *Account) profileVersions() string {
	if a.policy&AllowV3 != 0 && a.keys.dsa != nil {
		return "34"
	}
	return "4"
}

// usableProfile reports whether a stored profile p is ours, valid, current
// and matches our policy.
func (a *Account) usableProfile(p *dake.ClientProfile, now time.Time) bool {
	id := a.keys.identity.Public()
	fo := a.keys.forging.Public()
	idk, fok := p.IdentityKey(), p.ForgingKey()
	return p.Validate(a.tag, now) == nil && idk.Equal(&id) && fok.Equal(&fo) &&
		p.Versions() == a.profileVersions() && p.Expiration().Sub(now) > profileRenewBefore
}

// clientProfile returns a current client profile, loading it from the Host
// or making and storing a new one. It must not be called with a session
// lock held (it may call the Host).
func (a *Account) clientProfile() (*dake.ClientProfile, error) {
	if !a.keys.HasV4() {
		return nil, errors.New("otr: no OTRv4 keys")
	}
	a.profMu.Lock()
	defer a.profMu.Unlock()
	now := a.now()
	// Ours and checked when made or loaded: only its age matters now.
	if a.prof != nil && a.prof.Expiration().Sub(now) > profileRenewBefore {
		return a.prof, nil
	}
	if a.prof == nil {
		if b, err := a.host.ClientProfile(); err == nil && len(b) > 0 {
			if p, err := dake.ParseClientProfile(b); err == nil && a.usableProfile(p, now) {
				a.prof = p
				return p, nil
			}
		}
	}
	fo := a.keys.forging.Public()
	var dsa *otrcrypto.DSAPrivateKey
	if a.profileVersions() == "34" {
		dsa = a.keys.dsa
	}
	p, err := dake.NewClientProfile(a.rand, a.tag, a.keys.identity, &fo, a.profileVersions(), now.Add(profileLifetime), dsa)
	if err != nil {
		return nil, fmt.Errorf("otr: making client profile: %w", err)
	}
	if err := a.host.SetClientProfile(p.Bytes()); err != nil {
		return nil, fmt.Errorf("otr: storing client profile: %w", err)
	}
	a.log.Debug("otr: new client profile", "expires", p.Expiration())
	a.prof = p
	return p, nil
}
