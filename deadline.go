package otr

import (
	"errors"
	"time"
)

// Timed duties. The library keeps no timers: [Account.NextDeadline] says
// when [Account.Expire] has work to do, and Expire does every duty that is
// due. They are, per session:
//
//   - ending encrypted instances idle for Options.ExpireAfter;
//   - dropping fragmented messages that stopped arriving
//     (Options.FragmentTimeout);
//   - deleting OTRv4 skipped message keys older than Options.MaxSkippedAge
//     (their MAC keys are then revealed);
//   - sending another query for text queued under RequireEncryption
//     (Options.QueryRetryInterval);
//
// and, per account, renewing the OTRv4 client profile before it expires.

// deadline returns when the session next has a timed duty.
func (s *Session) deadline() (t time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	add := func(d time.Time) {
		if !ok || d.Before(t) {
			t, ok = d, true
		}
	}
	if s.forgotten {
		return t, false
	}
	if len(s.pending) > 0 && !s.anyEncrypted() {
		add(s.exchangeAt.Add(s.queryRetryAfter()))
	}
	if !s.sweepAt.IsZero() {
		add(s.sweepAt)
	}
	if d, dok := s.sentDeadline(); dok {
		add(d)
	}
	for _, in := range s.instances {
		if in.r4 != nil {
			if d, dok := in.r4.NextExpiry(); dok {
				add(d)
			}
		}
		if s.acct.expireAfter > 0 && in.status == Encrypted {
			add(in.lastActive.Add(s.acct.expireAfter))
		}
	}
	return t, ok
}

// expire does the session's timed duties that are due.
func (s *Session) expire() (Result, error) {
	return s.call(func(o *out) error {
		now := s.acct.now()
		if !s.sweepAt.IsZero() && !now.Before(s.sweepAt) {
			if n := s.frag.Sweep(); n > 0 {
				s.acct.log.Debug("otr: stale fragments dropped", "contact", s.contact, "messages", n)
			}
			s.sweepAt = time.Time{}
			s.noteFragments(now)
		}
		for _, in := range s.instances {
			if in.r4 != nil {
				// Drop OTRv4 skipped message keys past Options.MaxSkippedAge.
				in.r4.Expire(now)
			}
			s.pruneSent(in, now)
		}
		if len(s.pending) > 0 {
			if err := s.retryQuery(o); err != nil {
				return err
			}
		}
		if s.acct.expireAfter <= 0 {
			return nil
		}
		var errs []error
		for _, t := range s.sortedTags() {
			in := s.instances[t]
			if in.status != Encrypted || now.Sub(in.lastActive) < s.acct.expireAfter {
				continue
			}
			errs = append(errs, s.endInstance(o, in, true))
		}
		return errors.Join(errs...)
	})
}

// noteFragments schedules the next sweep when fragments are buffered: a
// message that receives no piece is dropped between FragmentTimeout and
// twice that after its last piece.
func (s *Session) noteFragments(now time.Time) {
	if s.sweepAt.IsZero() && s.frag.Incomplete() > 0 {
		s.sweepAt = now.Add(s.acct.fragTimeout)
	}
}

// profileDeadline returns when the client profile is due for renewal.
func (a *Account) profileDeadline() (time.Time, bool) {
	if a.policy&AllowV4 == 0 || !a.keys.HasV4() {
		return time.Time{}, false
	}
	a.profMu.Lock()
	defer a.profMu.Unlock()
	if a.prof == nil {
		return time.Time{}, false
	}
	return a.prof.Expiration().Add(-profileRenewBefore), true
}
