package otr_test

import (
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otrgo/otr"
	otrencoding "github.com/otrgo/otr/encoding"
)

// The conversation property test (docs/threats.md M7, F1, D5): two accounts
// talk through a wire that reorders within a window, drops and duplicates
// messages, with SMP runs and session restarts (End, then a new Start; or
// a new Start alone, which re-keys the encrypted session) mixed in. The invariant, checked at every delivery:
//
//   - a user message whose every fragment got through is delivered exactly
//     once, unaltered, if and only if the receiver shared the sender's
//     session (encrypted, same SSID) when its last missing fragment
//     arrived. Messages of an earlier session arriving after a restart, or
//     before the receiver has completed the new key exchange, are
//     legitimately undeliverable: they are never shown, and everything else
//     is;
//   - nothing is delivered twice, nothing is delivered that was never sent;
//   - protocol traffic (key exchange, SMP, disconnect, OTR error messages)
//     is never rejected;
//   - SMP succeeds exactly when both users typed the same secret;
//   - no panic.
//
// Protocol traffic travels reliably and in order among itself (a dropped
// or duplicated DAKE message legitimately stalls or breaks the key
// exchange) but is reordered freely with the user messages.

// propConfig tunes one run.
type propConfig struct {
	policy      otr.Policy
	messages    int     // user messages to send
	window      int     // reordering window: the next delivery is one of the first window messages queued
	drop, dup   float64 // per wire message (perFragment) or per user message
	perFrag     bool    // drop and duplicate single fragments rather than whole messages
	maxSize     int     // transport message size limit (fragmentation), 0 for none
	burst       int     // mean number of consecutive messages from one side
	restarts    int     // session restarts spread over the run
	smpRuns     int     // SMP runs spread over the run
	wantVersion int
	offline     bool // the conversation starts offline: bob publishes a prekey ensemble, alice starts from it
}

// wmsg is one transport message in flight.
type wmsg struct {
	text string
	user int // index of the user message, -1 for protocol traffic
	frag int // fragment index within the user message
}

// umsg is the test's record of one user message.
type umsg struct {
	text        string
	from        int
	ssid        otr.SSID // the sender's session when sent
	nfrag       int
	dropped     bool
	got         map[int]bool // fragments that arrived at least once
	completed   bool
	deliverable bool
	delivered   int
}

type propSide struct {
	p *peer
	// state mirrors the status and SSID of p's instance, kept from the
	// events (Session.Instance computes a fingerprint: too slow to poll at
	// every step); it is checked against Instance now and then.
	state  otr.InstanceInfo
	inbox  []wmsg // on their way to this side
	secret string // this side's secret in the current SMP run
	smp    string // outcome of the current SMP run: "", "ok" or "fail"
}

type propRun struct {
	t     *testing.T
	cfg   propConfig
	rng   *mrand.Rand
	sides [2]*propSide
	msgs  []*umsg

	smpActive bool
	smpMatch  bool
	// rekeying is set from a restart until both sides share a session
	// other than oldSSID.
	rekeying bool
	oldSSID  otr.SSID
	stats    struct {
		delivered, dropped, undeliverable, duplicates, outOfOrder    int
		restarts, refreshes, smpOK, smpFail, errorEvents, unreadable int
	}
	lastDelivered [2]int // highest user message index delivered to each side
}

func TestPropertyConversationV4(t *testing.T) {
	cfg := propConfig{
		policy:      otr.AllowV3 | otr.AllowV4,
		messages:    10000,
		window:      6,
		drop:        0.03,
		dup:         0.03,
		perFrag:     true,
		maxSize:     400,
		burst:       20,
		restarts:    8,
		smpRuns:     10,
		wantVersion: 4,
	}
	if testing.Short() {
		cfg.messages, cfg.restarts, cfg.smpRuns = 1500, 3, 3
	}
	runProperty(t, cfg, 0x5eed)
}

// TestPropertyConversationOffline: the same, for a conversation started
// offline (OTRv4's non-interactive DAKE): reordering, loss, duplication,
// SMP runs and restarts as in an interactive one.
func TestPropertyConversationOffline(t *testing.T) {
	cfg := propConfig{
		policy:      otr.AllowV3 | otr.AllowV4,
		messages:    3000,
		window:      6,
		drop:        0.03,
		dup:         0.03,
		perFrag:     true,
		maxSize:     400,
		burst:       20,
		restarts:    4,
		smpRuns:     4,
		wantVersion: 4,
		offline:     true,
	}
	if testing.Short() {
		cfg.messages, cfg.restarts, cfg.smpRuns = 800, 2, 2
	}
	runProperty(t, cfg, 0x0ff1)
}

// OTR3 counters refuse a message older than the newest seen under a key
// pair, so OTR3 is run in order only: losses and duplicates, no reordering.
func TestPropertyConversationV3InOrder(t *testing.T) {
	cfg := propConfig{
		policy:      otr.AllowV3,
		messages:    1000,
		window:      1,
		drop:        0.03,
		dup:         0.03,
		perFrag:     false,
		maxSize:     400,
		burst:       6,
		restarts:    4,
		smpRuns:     4,
		wantVersion: 3,
	}
	if testing.Short() {
		cfg.messages, cfg.restarts, cfg.smpRuns = 300, 2, 2
	}
	runProperty(t, cfg, 0x0713)
}

func runProperty(t *testing.T, cfg propConfig, seed uint64) {
	clk := time.Unix(1_750_000_000, 0)
	// A fixed clock: no heartbeats, no expiry.
	// No resends: they may deliver a message twice, which this property forbids
	// (resend_test.go checks them).
	opts := &otr.Options{Policy: cfg.policy, Now: func() time.Time { return clk }, ResendWindow: -1}
	r := &propRun{t: t, cfg: cfg, rng: mrand.New(mrand.NewPCG(seed, seed>>1|1))}
	r.sides[0] = &propSide{p: newPeer(t, "alice", "bob", 0, seed+1, opts, cfg.maxSize)}
	r.sides[1] = &propSide{p: newPeer(t, "bob", "alice", 1, seed+2, opts, cfg.maxSize)}
	r.lastDelivered = [2]int{-1, -1}

	var res otr.Result
	var err error
	if cfg.offline {
		var ens [][]byte
		if ens, err = r.sides[1].p.acct.MakePrekeys(1); err != nil {
			t.Fatal(err)
		}
		res, err = r.sides[0].p.sess.StartOffline(otr.OfflineStart{Ensemble: ens[0]})
		for _, ev := range res.Events {
			if sec, ok := ev.(otr.SecureEvent); ok {
				r.sides[0].state.Status, r.sides[0].state.SSID = otr.Encrypted, sec.SSID
			}
		}
	} else {
		res, err = r.sides[0].p.sess.Start()
	}
	if err != nil {
		t.Fatal(err)
	}
	r.control(1, res.Send)

	restartAt := spread(cfg.messages, cfg.restarts, 1)
	smpAt := spread(cfg.messages, cfg.smpRuns, 2)
	speaker := 0
	for step := 0; ; step++ {
		if step > 100*cfg.messages+10000 {
			t.Fatalf("no progress after %d steps (%d messages sent)", step, len(r.msgs))
		}
		if step%256 == 0 {
			r.checkMirror()
		}
		info := [2]otr.InstanceInfo{r.sides[0].state, r.sides[1].state}
		settled := r.settled(info[0], info[1])
		if settled && len(restartAt) > 0 && len(r.msgs) >= restartAt[0] {
			restartAt = restartAt[1:]
			r.restart(r.rng.IntN(2), len(restartAt)%2 == 1)
			continue
		}
		if settled && len(smpAt) > 0 && len(r.msgs) >= smpAt[0] {
			smpAt = smpAt[1:]
			r.startSMP(r.rng.IntN(2))
			continue
		}
		queued := len(r.sides[0].inbox) + len(r.sides[1].inbox)
		canSend := info[0].Status == otr.Encrypted || info[1].Status == otr.Encrypted
		// Keep a few messages in flight, so that reordering has something
		// to work on, but not a growing backlog.
		if len(r.msgs) < cfg.messages && canSend && (queued == 0 || queued < 2*cfg.window+4 && r.rng.IntN(3) == 0) {
			if r.rng.IntN(cfg.burst) == 0 {
				speaker ^= 1
			}
			if info[speaker].Status != otr.Encrypted {
				speaker ^= 1
			}
			r.sendUser(speaker, info[speaker].SSID)
			continue
		}
		if queued == 0 {
			if len(r.msgs) < cfg.messages {
				t.Fatalf("stuck after %d messages: alice %v, bob %v", len(r.msgs), r.sides[0].p.sess.Instances(), r.sides[1].p.sess.Instances())
			}
			if r.smpActive {
				t.Fatalf("SMP run never finished: alice %q, bob %q", r.sides[0].smp, r.sides[1].smp)
			}
			break
		}
		to := r.rng.IntN(2)
		if len(r.sides[to].inbox) == 0 {
			to ^= 1
		}
		r.deliver(to)
	}
	if len(restartAt)+len(smpAt) > 0 {
		t.Errorf("%d restarts and %d SMP runs never happened", len(restartAt), len(smpAt))
	}
	r.check()
}

// spread returns n positions evenly spread over 0..total, offset a little
// so that restarts and SMP runs do not coincide.
func spread(total, n, off int) []int {
	var out []int
	for i := 1; i <= n; i++ {
		out = append(out, i*total/(n+1)+off*7)
	}
	return out
}

// settled reports whether both sides share one encrypted session (as
// described by their instances a and b) with no SMP run going on.
func (r *propRun) settled(a, b otr.InstanceInfo) bool {
	shared := a.Status == otr.Encrypted && b.Status == otr.Encrypted && a.SSID == b.SSID
	if r.rekeying && shared && a.SSID != r.oldSSID {
		r.rekeying = false
	}
	return !r.smpActive && !r.rekeying && shared
}

// control queues protocol traffic for side to, reliably.
func (r *propRun) control(to int, msgs []otr.Message) {
	for _, m := range msgs {
		r.sides[to].inbox = append(r.sides[to].inbox, wmsg{text: m.Text, user: -1})
	}
}

// sendUser sends a user message from side from, whose session is ssid.
func (r *propRun) sendUser(from int, ssid otr.SSID) {
	t := r.t
	s := r.sides[from]
	id := len(r.msgs)
	text := fmt.Sprintf("m%05d from %s: ", id, s.p.name)
	for range r.rng.IntN(120) {
		text += string("abcdéfg ✓xyz"[r.rng.IntN(12)])
	}
	text = strings.ToValidUTF8(text, "?")
	res, err := s.p.sess.Send(0, text)
	if err != nil {
		t.Fatalf("message %d: %s Send: %v", id, s.p.name, err)
	}
	u := &umsg{text: text, from: from, ssid: ssid, nfrag: len(res.Send), got: make(map[int]bool)}
	r.msgs = append(r.msgs, u)
	to := r.sides[from^1]
	var dup []wmsg
	wholeDrop := !r.cfg.perFrag && r.rng.Float64() < r.cfg.drop
	wholeDup := !r.cfg.perFrag && r.rng.Float64() < r.cfg.dup
	for k, m := range res.Send {
		if !m.IsOTR || strings.Contains(m.Text, id5(id)) {
			t.Fatalf("message %d left in plaintext: %q", id, m.Text)
		}
		w := wmsg{text: m.Text, user: id, frag: k}
		if wholeDrop || r.cfg.perFrag && r.rng.Float64() < r.cfg.drop {
			u.dropped = true
			continue
		}
		to.inbox = append(to.inbox, w)
		if wholeDup || r.cfg.perFrag && r.rng.Float64() < r.cfg.dup {
			dup = append(dup, w)
		}
	}
	if u.dropped {
		r.stats.dropped++
	}
	to.inbox = append(to.inbox, dup...)
}

func id5(id int) string { return fmt.Sprintf("m%05d", id) }

// deliver hands one queued message to side to: one of the first window
// messages, but protocol traffic keeps its order among itself.
func (r *propRun) deliver(to int) {
	t := r.t
	s := r.sides[to]
	j := r.rng.IntN(min(r.cfg.window, len(s.inbox)))
	if s.inbox[j].user < 0 {
		j = slices.IndexFunc(s.inbox, func(w wmsg) bool { return w.user < 0 })
	}
	w := s.inbox[j]
	s.inbox = slices.Delete(s.inbox, j, j+1)

	var u *umsg
	deliverable := false
	if w.user >= 0 {
		u = r.msgs[w.user]
		if !u.got[w.frag] {
			u.got[w.frag] = true
			if len(u.got) == u.nfrag && !u.dropped {
				u.completed = true
				deliverable = s.state.Status == otr.Encrypted && s.state.SSID == u.ssid
				u.deliverable = deliverable
				if !deliverable {
					r.stats.undeliverable++
				}
			}
		} else {
			r.stats.duplicates++
		}
	}

	res, err := s.p.sess.Receive(w.text)
	var delivered []otr.MessageEvent
	for _, ev := range res.Events {
		switch ev := ev.(type) {
		case otr.MessageEvent:
			delivered = append(delivered, ev)
		case otr.SMPQuestionEvent:
			ans, err := s.p.sess.AnswerSMP(0, []byte(s.secret))
			if err != nil {
				t.Fatalf("%s AnswerSMP: %v", s.p.name, err)
			}
			r.control(to^1, ans.Send)
		case otr.SMPSucceededEvent:
			r.smpOutcome(s, "ok")
		case otr.SMPFailedEvent:
			r.smpOutcome(s, "fail")
		case otr.SMPAbortedEvent:
			t.Fatalf("%s: SMP aborted: %v", s.p.name, ev)
		case otr.ErrorEvent:
			r.stats.errorEvents++
			if w.user >= 0 {
				t.Fatalf("user message read as an error message: %v", ev)
			}
		case otr.SecureEvent:
			if ev.Version != r.cfg.wantVersion {
				t.Fatalf("%s: secure with version %d, want %d", s.p.name, ev.Version, r.cfg.wantVersion)
			}
			s.state.Status, s.state.SSID = otr.Encrypted, ev.SSID
		case otr.FinishedEvent:
			s.state.Status = otr.Finished
		case otr.PlaintextEvent, otr.UnencryptedEvent:
			t.Fatalf("%s: plaintext event %v", s.p.name, ev)
		}
	}
	r.control(to^1, res.Send)

	if w.user < 0 {
		if err != nil {
			t.Fatalf("%s rejected protocol traffic %.60q: %v", s.p.name, w.text, err)
		}
		if len(delivered) > 0 {
			t.Fatalf("%s: protocol traffic delivered user text %v", s.p.name, delivered)
		}
		return
	}
	if err != nil {
		var pe *otr.ProtocolError
		if !errors.As(err, &pe) {
			t.Fatalf("message %d: error %v is not a ProtocolError", w.user, err)
		}
		if pe.MsgType == "data" {
			r.stats.unreadable++
		}
	}
	switch {
	case deliverable && (err != nil || len(delivered) != 1):
		t.Fatalf("message %d (fragment %d/%d) not delivered to %s though in its session: err %v, events %v",
			w.user, w.frag+1, u.nfrag, s.p.name, err, res.Events)
	case !deliverable && len(delivered) > 0:
		t.Fatalf("message %d (fragment %d/%d) delivered to %s when it must not be (dropped %v, delivered before %d times, deliverable %v): %v",
			w.user, w.frag+1, u.nfrag, s.p.name, u.dropped, u.delivered, u.deliverable, delivered)
	}
	for _, ev := range delivered {
		if ev.Text != u.text {
			t.Fatalf("message %d altered: got %q, want %q", w.user, ev.Text, u.text)
		}
		if n, err := strconv.Atoi(ev.Text[1:6]); err != nil || n != w.user {
			t.Fatalf("delivered %q for message %d", ev.Text, w.user)
		}
		u.delivered++
		r.stats.delivered++
		if w.user < r.lastDelivered[to] {
			r.stats.outOfOrder++
		}
		r.lastDelivered[to] = max(r.lastDelivered[to], w.user)
	}
}

func (r *propRun) startSMP(from int) {
	r.smpActive = true
	r.smpMatch = r.rng.IntN(4) != 0
	a, b := r.sides[from], r.sides[from^1]
	a.secret = fmt.Sprintf("secret %d", len(r.msgs))
	b.secret = a.secret
	if !r.smpMatch {
		b.secret += "!"
	}
	a.smp, b.smp = "", ""
	res, err := a.p.sess.StartSMP(0, []byte(a.secret), "the usual?")
	if err != nil {
		r.t.Fatalf("%s StartSMP: %v", a.p.name, err)
	}
	r.control(from^1, res.Send)
}

func (r *propRun) smpOutcome(s *propSide, outcome string) {
	if !r.smpActive || s.smp != "" {
		r.t.Fatalf("%s: SMP outcome %q with no run going on", s.p.name, outcome)
	}
	s.smp = outcome
	a, b := r.sides[0], r.sides[1]
	if a.smp == "" || b.smp == "" {
		return
	}
	want := "fail"
	if r.smpMatch {
		want = "ok"
	}
	if a.smp != want || b.smp != want {
		r.t.Fatalf("SMP (same secret %v): alice %q, bob %q", r.smpMatch, a.smp, b.smp)
	}
	if r.smpMatch {
		r.stats.smpOK++
	} else {
		r.stats.smpFail++
	}
	r.smpActive = false
}

// restart ends side from's session and starts a new one, or (refresh)
// starts a new key exchange in the encrypted session.
func (r *propRun) restart(from int, refresh bool) {
	s := r.sides[from]
	r.rekeying, r.oldSSID = true, s.state.SSID
	if refresh {
		r.stats.refreshes++
	} else {
		res, err := s.p.sess.End(0)
		if err != nil {
			r.t.Fatalf("%s End: %v", s.p.name, err)
		}
		s.state.Status = otr.Plaintext
		r.control(from^1, res.Send)
	}
	res, err := s.p.sess.Start()
	if err != nil {
		r.t.Fatalf("%s Start: %v", s.p.name, err)
	}
	r.control(from^1, res.Send)
	r.stats.restarts++
}

// checkMirror checks the sides' mirrored states against the sessions.
func (r *propRun) checkMirror() {
	for _, s := range r.sides {
		in, _ := s.p.sess.Instance(0)
		if in.Status != s.state.Status || in.Status != otr.Plaintext && in.SSID != s.state.SSID {
			r.t.Fatalf("%s: instance %+v, events said %v %v", s.p.name, in, s.state.Status, s.state.SSID)
		}
	}
}

func (r *propRun) check() {
	t := r.t
	r.checkMirror()
	for i, u := range r.msgs {
		switch {
		case u.delivered > 1:
			t.Errorf("message %d delivered %d times", i, u.delivered)
		case u.dropped && u.delivered > 0:
			t.Errorf("dropped message %d delivered", i)
		case !u.dropped && !u.completed:
			t.Errorf("message %d never arrived whole", i)
		case u.deliverable != (u.delivered == 1):
			t.Errorf("message %d: deliverable %v, delivered %d times", i, u.deliverable, u.delivered)
		}
	}
	st := r.stats
	t.Logf("%d messages: %d delivered (%d out of order), %d dropped, %d of an ended session, %d duplicate fragments; "+
		"%d restarts (%d without End), SMP %d ok %d failed as expected, %d unreadable, %d error messages",
		len(r.msgs), st.delivered, st.outOfOrder, st.dropped, st.undeliverable, st.duplicates,
		st.restarts, st.refreshes, st.smpOK, st.smpFail, st.unreadable, st.errorEvents)
	if len(r.msgs) != r.cfg.messages {
		t.Errorf("%d messages sent, want %d", len(r.msgs), r.cfg.messages)
	}
	if st.delivered < (len(r.msgs)-st.dropped)*9/10 {
		t.Errorf("only %d of %d undropped messages delivered", st.delivered, len(r.msgs)-st.dropped)
	}
	if st.restarts != r.cfg.restarts || st.smpOK+st.smpFail != r.cfg.smpRuns || st.smpOK == 0 {
		t.Errorf("%d restarts, %d+%d SMP runs; want %d and %d", st.restarts, st.smpOK, st.smpFail, r.cfg.restarts, r.cfg.smpRuns)
	}
	if r.cfg.window > 1 && st.outOfOrder == 0 {
		t.Error("nothing was delivered out of order")
	}
	if st.duplicates == 0 || st.dropped == 0 {
		t.Error("the wire neither dropped nor duplicated")
	}
	// The conversation still works both ways.
	a, b := r.sides[0].p, r.sides[1].p
	for _, pair := range [][2]*peer{{a, b}, {b, a}} {
		pair[1].events = nil
		send(t, pair[0], pair[1], "still talking")
		if got := pair[1].lastMessage(t).Text; got != "still talking" {
			t.Fatalf("%s got %q after the run", pair[1].name, got)
		}
	}
}

// burst has from send n user messages and returns their wire texts (one
// each: no fragmentation) and the texts sent.
func burst(t *testing.T, from *peer, tag string, n int) (wire, texts []string) {
	t.Helper()
	for i := range n {
		text := fmt.Sprintf("%s %d", tag, i)
		res, err := from.sess.Send(0, text)
		wire = append(wire, only(t, from.name+" Send", res, err))
		texts = append(texts, text)
	}
	return wire, texts
}

// wantDelivered delivers wire to p and checks that exactly text comes out.
func wantDelivered(t *testing.T, p *peer, wire, text string) {
	t.Helper()
	res, err := p.sess.Receive(wire)
	if got := messages(res); err != nil || len(got) != 1 || got[0] != text {
		t.Fatalf("%s receiving %q: err %v, delivered %q", p.name, text, err, got)
	}
}

// wantTooFar delivers a message that skips more keys than the bound: it is
// refused (as unreadable) without changing anything.
func wantTooFar(t *testing.T, p *peer, wire string) {
	t.Helper()
	res := wantRejected(t, p, wire, otr.ErrBadMAC, true)
	if len(res.Send) != 1 || !strings.HasPrefix(res.Send[0].Text, "?OTR Error: ERROR_1: ") {
		t.Fatalf("%s answered a message too far ahead with %+v", p.name, res.Send)
	}
}

// TestOutOfOrderWithinSkipBound: messages that skip up to MaxSkipAhead
// message keys decrypt in any order, exactly once, both in a new ratchet
// and in the current one; one more key than the bound is refused until
// the gap has closed (docs/threats.md M7, F4).
func TestOutOfOrderWithinSkipBound(t *testing.T) {
	const bound = 20
	opts := &otr.Options{Policy: otr.DefaultPolicy, MaxSkipAhead: bound, ErrorReplyInterval: -1}
	alice := newPeer(t, "alice", "bob", 0, 501, opts, 0)
	bob := newPeer(t, "bob", "alice", 1, 502, opts, 0)
	_, ssid := fullDAKE(t, alice, bob)
	rng := mrand.New(mrand.NewPCG(501, 502))
	for round := range 4 {
		from, to := alice, bob
		if round%2 == 1 {
			from, to = bob, alice
		}
		// A new ratchet of bound+2 messages (ids 0..bound+1): the last
		// skips too far, the one before is exactly at the bound.
		wire, texts := burst(t, from, fmt.Sprintf("round %d new", round), bound+2)
		wantTooFar(t, to, wire[bound+1])
		wantDelivered(t, to, wire[bound], texts[bound])
		order := rng.Perm(bound)
		for _, i := range order {
			wantDelivered(t, to, wire[i], texts[i])
		}
		wantDelivered(t, to, wire[bound+1], texts[bound+1])
		// The same chain: bound+2 more, same again.
		wire2, texts2 := burst(t, from, fmt.Sprintf("round %d same", round), bound+2)
		wantTooFar(t, to, wire2[bound+1])
		wantDelivered(t, to, wire2[bound], texts2[bound])
		for _, i := range rng.Perm(bound) {
			wantDelivered(t, to, wire2[i], texts2[i])
		}
		wantDelivered(t, to, wire2[bound+1], texts2[bound+1])
		// Every one again: refused as replays, nothing delivered twice.
		for _, w := range append(wire, wire2...) {
			wantRejected(t, to, w, otr.ErrReplay, true)
		}
	}
	assertIntact(t, alice, bob, ssid)
}

// TestForgedHugeMessageNumber: a forged data message whose message number,
// ratchet id or previous-chain length asks for billions of skipped keys is
// refused before any key is derived (docs/threats.md F4, M3): little memory,
// nothing delivered, and the genuine message still decrypts.
func TestForgedHugeMessageNumber(t *testing.T) {
	alice := newPeer(t, "alice", "bob", 0, 511, nil, 0)
	bob := newPeer(t, "bob", "alice", 1, 512, nil, 0)
	_, ssid := fullDAKE(t, alice, bob)
	send(t, alice, bob, "warm up")
	forge := func(wire string, f func(m *otrencoding.DataMessage4)) string {
		h, m, _, err := otrencoding.ParseDataMessage4(otrPayload(t, wire))
		if err != nil {
			t.Fatal(err)
		}
		f(&m)
		return otrencoding.EncodeMessage(otrencoding.Marshal(h, &m))
	}
	check := func(t *testing.T, p *peer, forged string) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		res, err := p.sess.Receive(forged)
		runtime.ReadMemStats(&after)
		if err == nil || len(messages(res)) != 0 {
			t.Fatalf("forged message accepted: %v %v", err, res.Events)
		}
		var pe *otr.ProtocolError
		if !errors.As(err, &pe) {
			t.Fatalf("error %v is not a ProtocolError", err)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
			t.Fatalf("refusing the forgery allocated %d bytes", n)
		}
	}
	// The current chain: alice sends on the chain bob already reads.
	res, err := alice.sess.Send(0, "genuine 1")
	cur := only(t, "alice Send", res, err)
	sameRatchet := map[bool]uint32{true: 0xFFFFFFFF, false: 0xFFFFFFFE} // keep DH presence matching id % 3
	for _, tc := range []struct {
		name string
		f    func(m *otrencoding.DataMessage4)
	}{
		{"message id 2^32-1", func(m *otrencoding.DataMessage4) { m.MessageID = 0xFFFFFFFF }},
		{"message id 2^32-2", func(m *otrencoding.DataMessage4) { m.MessageID = 0xFFFFFFFE }},
		{"message id just past the bound", func(m *otrencoding.DataMessage4) { m.MessageID += 1001 }},
		{"ratchet id near 2^32", func(m *otrencoding.DataMessage4) { m.RatchetID = sameRatchet[len(m.DH) > 0] }},
	} {
		t.Run("current chain/"+tc.name, func(t *testing.T) { check(t, bob, forge(cur, tc.f)) })
	}
	wantDelivered(t, bob, cur, "genuine 1")

	// A new ratchet: bob answers, alice's next message opens her next
	// ratchet and carries pn.
	send(t, bob, alice, "reply")
	res, err = alice.sess.Send(0, "genuine 2")
	next := only(t, "alice Send", res, err)
	for _, tc := range []struct {
		name string
		f    func(m *otrencoding.DataMessage4)
	}{
		{"message id 2^32-1", func(m *otrencoding.DataMessage4) { m.MessageID = 0xFFFFFFFF }},
		{"message id just past the bound", func(m *otrencoding.DataMessage4) { m.MessageID = 1001 }},
		{"pn 2^32-1", func(m *otrencoding.DataMessage4) { m.PN = 0xFFFFFFFF }},
		{"pn just past the bound", func(m *otrencoding.DataMessage4) { m.PN += 1002 }},
	} {
		t.Run("new ratchet/"+tc.name, func(t *testing.T) { check(t, bob, forge(next, tc.f)) })
	}
	wantDelivered(t, bob, next, "genuine 2")
	assertIntact(t, alice, bob, ssid)

	// Control: the measure has teeth. A genuine message that skips the
	// whole bound of 1000 keys allocates well over the limit above.
	wire, texts := burst(t, alice, "skip", 1001)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	wantDelivered(t, bob, wire[1000], texts[1000])
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n <= 64<<10 {
		t.Fatalf("skipping 1000 keys allocated only %d bytes: the allocation check proves nothing", n)
	}
}
