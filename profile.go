package otr

import (
	"errors"
	"fmt"
	"time"

	otrcrypto "github.com/otrgo/otr/crypto"
	"github.com/otrgo/otr/dake"
)

// Client profiles (OTRv4 spec, "Client Profile"): our OTRv4 identity as the
// contact sees it, signed with our Ed448 key and, when OTR3 is allowed too,
// with a transitional DSA signature. It carries our instance tag and is
// persisted through the Host; it is renewed before it expires.

const (
	// profileLifetime is how long a new client profile is valid: two weeks,
	// as the OTRv4 spec recommends.
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

// profileRetry is how long after a failed attempt to store a renewed
// client profile the next attempt waits.
const profileRetry = time.Minute

// clientProfile returns a current client profile, loading it from the Host
// or making and storing a new one. It must not be called with a session
// lock held (it may call the Host). A Host failure is returned as an
// event, with what was done instead: a renewal that cannot be stored keeps
// the current profile while it is valid (and is tried again after
// profileRetry); with no valid profile left, the profile is nil (OTRv4 is
// not offered).
func (a *Account) clientProfile() (*dake.ClientProfile, *HostErrorEvent, error) {
	if !a.keys.HasV4() {
		return nil, nil, errors.New("otr: no OTRv4 keys")
	}
	a.profMu.Lock()
	defer a.profMu.Unlock()
	now := a.now()
	// Ours and checked when made or loaded: only its age matters now.
	if a.prof != nil && a.prof.Expiration().Sub(now) > profileRenewBefore {
		return a.prof, nil, nil
	}
	valid := a.prof != nil && a.prof.Expiration().After(now)
	if !a.profFailed.IsZero() && now.Sub(a.profFailed) < profileRetry && now.After(a.profFailed) {
		if valid {
			return a.prof, nil, nil
		}
		return nil, nil, nil
	}
	var loadErr *HostErrorEvent
	if a.prof == nil {
		b, err := a.host.ClientProfile()
		switch {
		case err != nil:
			loadErr = &HostErrorEvent{Op: "ClientProfile", Err: err, Effect: "a new client profile is made"}
		case len(b) > 0:
			if p, err := dake.ParseClientProfile(b); err == nil && a.usableProfile(p, now) {
				a.prof = p
				return p, nil, nil
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
		return nil, loadErr, fmt.Errorf("otr: making client profile: %w", err)
	}
	if err := a.host.SetClientProfile(p.Bytes()); err != nil {
		a.profFailed = now
		ev := &HostErrorEvent{Op: "SetClientProfile", Err: err}
		if valid {
			ev.Effect = fmt.Sprintf("the current client profile is kept until it expires (%s)", a.prof.Expiration().Format(time.RFC3339))
			return a.prof, ev, nil
		}
		ev.Effect = "no valid client profile: OTRv4 is not offered"
		return nil, ev, nil
	}
	a.profFailed = time.Time{}
	a.log.Debug("otr: new client profile", "expires", p.Expiration())
	if a.prof != nil {
		// Ensembles published with the old profile stay usable until it
		// expires (OTRv4 spec, "Publishing Prekey Ensembles": profiles
		// "will have an overlap period of extra validity").
		a.oldProfs = append(a.oldProfs, a.prof)
	}
	a.prof = p
	return p, loadErr, nil
}

// earlierProfiles returns our replaced client profiles that an ensemble
// may still carry: unexpired, or expired less than prekeyExtraValidity
// ago; older ones are forgotten.
func (a *Account) earlierProfiles() []*dake.ClientProfile {
	a.profMu.Lock()
	defer a.profMu.Unlock()
	now := a.now()
	keep := a.oldProfs[:0]
	for _, p := range a.oldProfs {
		if now.Before(p.Expiration().Add(prekeyExtraValidity)) {
			keep = append(keep, p)
		}
	}
	clear(a.oldProfs[len(keep):])
	a.oldProfs = keep
	return append([]*dake.ClientProfile(nil), keep...)
}
