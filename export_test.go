package otr

import (
	"io"
	"maps"
	"slices"

	"github.com/otrgo/otr/fragment"
	"github.com/otrgo/otr/smp"
)

// CloneAccountForTest returns an independent deep copy of a, with host and
// rand in place of a's, so that a fuzzer can start every input from one
// established conversation instead of running a key exchange per input.
// It panics if a session has an exchange or an SMP run in progress that
// cannot be copied.
func CloneAccountForTest(a *Account, host Host, rand io.Reader) *Account {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.profMu.Lock()
	defer a.profMu.Unlock()
	c := &Account{
		localID: a.localID, keys: a.keys, host: host, rand: &lockedReader{r: rand}, now: a.now, log: a.log,
		policy: a.policy, tag: a.tag, budget: fragment.NewBudget(a.budget.Max()), fragLim: a.fragLim,
		fp3: a.fp3, fp4: a.fp4, maxInst: a.maxInst,
		heartbeat: a.heartbeat, expireAfter: a.expireAfter, queryRetry: a.queryRetry,
		kxBurst: a.kxBurst, kxRefill: a.kxRefill, maxPendingMAC: a.maxPendingMAC,
		errInterval: a.errInterval, fragTimeout: a.fragTimeout, ratchetOpts: a.ratchetOpts,
		sessions: make(map[string]*Session, len(a.sessions)),
		prof:     a.prof, profFailed: a.profFailed, oldProfs: slices.Clone(a.oldProfs),
	}
	for name, s := range a.sessions {
		c.sessions[name] = s.cloneFor(c)
	}
	return c
}

func (s *Session) cloneFor(a *Account) *Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.frag.Incomplete() > 0 {
		panic("otr: clone: fragments buffered")
	}
	c := &Session{
		acct: a, contact: s.contact, policy: s.policy,
		master: s.master.Copy(), masterAnswered: s.masterAnswered, prof: s.prof,
		instances: make(map[uint32]*instance, len(s.instances)),
		recvSeq:   s.recvSeq, offerSent: s.offerSent, sawPlaintext: s.sawPlaintext,
		pending: slices.Clone(s.pending), exchangeAt: s.exchangeAt, queryTries: s.queryTries,
		sweepAt: s.sweepAt, forgotten: s.forgotten,
		frag:  fragment.NewAssembler(a.fragLim, a.budget),
		trust: maps.Clone(s.trust),
		kx:    s.kx, throttled: s.throttled, throttleReported: s.throttleReported,
		errSent: maps.Clone(s.errSent), errWindow: s.errWindow, errCount: s.errCount,
		created: s.created,
	}
	c.trustLoaded.Store(s.trustLoaded.Load())
	if s.master4 != nil {
		if c.master4 = s.master4.CloneIdle(a.rand); c.master4 == nil {
			panic("otr: clone: DAKE in progress")
		}
	}
	for tag, in := range s.instances {
		c.instances[tag] = in.cloneFor(a.rand)
	}
	for _, e := range s.answered {
		old := s.instances[e.tag]
		ne := e
		ne.reply = slices.Clone(e.reply)
		ne.ake, ne.dk = nil, nil
		if old != nil && e.ake != nil && e.ake == old.ake {
			ne.ake = c.instances[e.tag].ake
		}
		if old != nil && e.dk != nil && e.dk == old.dake {
			ne.dk = c.instances[e.tag].dake
		}
		c.answered = append(c.answered, ne)
	}
	return c
}

func (in *instance) cloneFor(rand io.Reader) *instance {
	c := *in
	if in.ake != nil {
		c.ake = in.ake.Copy()
	}
	if in.keys != nil {
		c.keys = in.keys.Clone(rand)
	}
	if in.r4 != nil {
		c.r4 = in.r4.Clone(rand)
	}
	if in.dake != nil {
		if c.dake = in.dake.CloneIdle(rand); c.dake == nil {
			panic("otr: clone: DAKE in progress")
		}
	}
	if in.smp != nil {
		if in.smp.InProgress() {
			panic("otr: clone: SMP in progress")
		}
		c.smp = new(smp.SMP3)
	}
	if in.smp4 != nil {
		if in.smp4.InProgress() {
			panic("otr: clone: SMP in progress")
		}
		c.smp4 = new(smp.SMP4)
	}
	c.fp = slices.Clone(in.fp)
	c.restartDAKE = nil
	if in.restartDAKE != nil && in.restartDAKE == in.dake {
		c.restartDAKE = c.dake
	}
	return &c
}
