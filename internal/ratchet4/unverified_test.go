package ratchet4

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	otrcrypto "github.com/otrgo/otr/crypto"
	otrencoding "github.com/otrgo/otr/encoding"
)

// These tests cover the work done for a message announcing new ratchet keys
// before its authenticator is checked: the cached ratchet step and the
// throttle (Options.MaxUnverifiedRatchets). They count the work with
// State.work, never with a clock.

// toRatchet exchanges messages until alice's next message opens her ratchet
// id (new to bob), and returns that message and late, alice's last message of
// bob's current receiving chain, not yet delivered.
func toRatchet(tb testing.TB, seed byte, opts Options, id uint32) (alice, bob *State, genuine, late []byte) {
	tb.Helper()
	alice, bob = newPair(tb, seed, opts)
	for range 10 {
		a1 := mustEncrypt(tb, alice, hAB, "a1")
		a2 := mustEncrypt(tb, alice, hAB, "a2")
		mustDecrypt(tb, bob, a1, "a1")
		mustDecrypt(tb, alice, mustEncrypt(tb, bob, hBA, "b"), "b")
		genuine = mustEncrypt(tb, alice, hAB, "genuine")
		if ratchetID(tb, genuine) == id {
			bob.work = work{} // count from here
			return alice, bob, genuine, a2
		}
		mustDecrypt(tb, bob, a2, "a2")
		mustDecrypt(tb, bob, genuine, "genuine")
	}
	tb.Fatalf("alice never reached ratchet id %d", id)
	return nil, nil, nil, nil
}

func ratchetID(tb testing.TB, in []byte) uint32 {
	tb.Helper()
	_, m, _, err := otrencoding.ParseDataMessage4(in)
	if err != nil {
		tb.Fatal(err)
	}
	return m.RatchetID
}

// editMsg re-encodes in after f changed its fields (the authenticator is
// kept, so it no longer verifies unless f leaves the message as it was).
func editMsg(tb testing.TB, in []byte, f func(m *otrencoding.DataMessage4)) []byte {
	tb.Helper()
	h, m, _, err := otrencoding.ParseDataMessage4(in)
	if err != nil {
		tb.Fatal(err)
	}
	f(&m)
	return otrencoding.Marshal(h, &m)
}

// forger makes forged variants of a genuine message opening a ratchet, each
// with new public keys of its own: a new (ratchet id, ECDH, DH) triple.
type forger struct {
	tb      testing.TB
	genuine []byte
	rnd     *seededReader
}

func newForger(tb testing.TB, genuine []byte, seed byte) *forger {
	return &forger{tb: tb, genuine: genuine, rnd: newSeeded(seed)}
}

// next returns a forged message with fresh keys, its message id set to id.
func (f *forger) next(id uint32) []byte {
	f.tb.Helper()
	ecdh, err := otrcrypto.GenerateECDHKey(f.rnd)
	if err != nil {
		f.tb.Fatal(err)
	}
	var dh []byte
	if ratchetID(f.tb, f.genuine)%3 == 0 {
		k, err := otrcrypto.GenerateDH3072Key(f.rnd)
		if err != nil {
			f.tb.Fatal(err)
		}
		dh = k.Public().Bytes()
	}
	return editMsg(f.tb, f.genuine, func(m *otrencoding.DataMessage4) {
		p := ecdh.Public()
		m.ECDH = p.Bytes()
		m.DH = dh
		m.MessageID = id
	})
}

// withID returns in (a forged message) with its message id and ciphertext
// changed: the same triple, another message.
func withID(tb testing.TB, in []byte, id uint32) []byte {
	tb.Helper()
	return editMsg(tb, in, func(m *otrencoding.DataMessage4) {
		m.MessageID = id
		m.Ciphertext = append(bytes.Clone(m.Ciphertext), byte(id))
	})
}

// reject checks that s rejects in at now with want, returns no plaintext and
// leaves the ratchet state exactly as it was.
func reject(t *testing.T, s *State, now time.Time, in []byte, want error) {
	t.Helper()
	before := digest(s)
	got, err := s.Decrypt(now, in)
	if !errors.Is(err, want) {
		t.Fatalf("Decrypt error = %v, want %v", err, want)
	}
	if got.Plaintext != nil {
		t.Errorf("Decrypt returned plaintext %q with an error", got.Plaintext)
	}
	if digest(s) != before {
		t.Errorf("rejected message (%v) changed the state", err)
	}
}

func decryptAt(t *testing.T, s *State, now time.Time, in []byte, want string) {
	t.Helper()
	got, err := s.Decrypt(now, in)
	if err != nil || string(got.Plaintext) != want {
		t.Fatalf("Decrypt = %q, %v; want %q", got.Plaintext, err, want)
	}
}

// TestUnverifiedRatchetCached sends forged messages with one new triple and
// various message ids: the ECDH (and DH) work is done once, and no stretch
// of the new chain is walked twice.
func TestUnverifiedRatchetCached(t *testing.T) {
	tests := []struct {
		name      string
		ratchetID uint32
		ids       []uint32 // message ids of the forged messages, in order
		wantSteps uint64
	}{
		{"ECDH, same message twice", 1, []uint32{0, 0}, 0},
		{"ECDH, far ahead twice", 1, []uint32{40, 40}, 40},
		{"ECDH, far then near", 1, []uint32{40, 35}, 40 + 3},
		{"ECDH, near then far", 1, []uint32{10, 40}, 40},
		{"ECDH, far and back again", 1, []uint32{999, 500, 999, 0, 998}, 999 + 500%markStride + 998%markStride},
		{"ECDH+DH3072, same message twice", 3, []uint32{0, 0}, 0},
		{"ECDH+DH3072, far ahead twice", 3, []uint32{40, 40}, 40},
	}
	for n, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, bob, genuine, _ := toRatchet(t, byte(60+n), Options{}, tc.ratchetID)
			forged := newForger(t, genuine, byte(160+n)).next(tc.ids[0])
			for k, id := range tc.ids {
				in := forged
				if k > 0 && id != tc.ids[0] {
					in = withID(t, forged, id)
				}
				reject(t, bob, testNow, in, ErrBadMAC)
			}
			if got := bob.work.ratchets; got != 1 {
				t.Errorf("%d forged messages of one triple: %d ratchet steps computed, want 1", len(tc.ids), got)
			}
			if got := bob.work.chainSteps; got != tc.wantSteps {
				t.Errorf("chain keys walked = %d, want %d", got, tc.wantSteps)
			}
			decryptAt(t, bob, testNow, genuine, "genuine")
		})
	}
}

// TestUnverifiedRatchetReplaced checks that a new triple replaces the cached
// step, wiping its secrets, and that a verified ratchet drops the cache.
func TestUnverifiedRatchetReplaced(t *testing.T) {
	_, bob, genuine, _ := toRatchet(t, 70, Options{}, 3)
	f := newForger(t, genuine, 170)
	a, b := f.next(40), f.next(5)
	reject(t, bob, testNow, a, ErrBadMAC)
	old := bob.pre
	if old == nil || old.root == ([64]byte{}) || len(old.marks) != 2 {
		t.Fatalf("no ratchet step cached after a forged message")
	}
	oldMarks := old.marks
	reject(t, bob, testNow, b, ErrBadMAC)
	if bob.pre == old {
		t.Fatalf("another triple did not replace the cached step")
	}
	if old.root != ([64]byte{}) || old.braceKey != ([32]byte{}) || old.farKey != ([64]byte{}) || old.marks != nil {
		t.Errorf("replaced step not wiped")
	}
	for n, k := range oldMarks {
		if k != ([64]byte{}) {
			t.Errorf("chain key mark %d of the replaced step not wiped", n)
		}
	}
	reject(t, bob, testNow, a, ErrBadMAC) // no longer cached: computed again
	if got := bob.work.ratchets; got != 3 {
		t.Errorf("ratchet steps computed = %d, want 3", got)
	}
	decryptAt(t, bob, testNow, genuine, "genuine")
	if bob.pre != nil {
		t.Errorf("cached step kept after the ratchet moved on")
	}
}

// TestUnverifiedRatchetThrottle sends forged messages with new triples, one
// after another, at one instant: MaxUnverifiedRatchets of them are computed,
// the next is refused without any work; what needs no new ratchet step goes
// through.
func TestUnverifiedRatchetThrottle(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		max  int
	}{
		{"defaults", Options{}, DefaultMaxUnverifiedRatchets},
		{"negative means default", Options{MaxUnverifiedRatchets: -1, UnverifiedRatchetInterval: -1}, DefaultMaxUnverifiedRatchets},
		{"two per second", Options{MaxUnverifiedRatchets: 2, UnverifiedRatchetInterval: time.Second}, 2},
		{"one", Options{MaxUnverifiedRatchets: 1}, 1},
	}
	for n, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, bob, genuine, late := toRatchet(t, byte(80+n), tc.opts, 1)
			f := newForger(t, genuine, byte(180+n))
			var last []byte
			for k := range tc.max {
				last = f.next(uint32(k))
				reject(t, bob, testNow, last, ErrBadMAC)
			}
			if got := bob.work.ratchets; got != uint64(tc.max) {
				t.Fatalf("after %d forged ratchets: %d computed", tc.max, got)
			}
			work := bob.work
			reject(t, bob, testNow, f.next(7), ErrThrottled)
			reject(t, bob, testNow, genuine, ErrThrottled) // the price: see Options
			if bob.work != work {
				t.Errorf("throttled messages cost work: %+v, want %+v", bob.work, work)
			}
			// The cached triple needs no new step: not throttled.
			reject(t, bob, testNow, withID(t, last, 3), ErrBadMAC)
			if bob.work.ratchets != work.ratchets {
				t.Errorf("cached triple computed again")
			}
			// Nor is a message of the current chain; it verifies, and so
			// refills the budget.
			decryptAt(t, bob, testNow, late, "a2")
			decryptAt(t, bob, testNow, genuine, "genuine")
		})
	}
}

// TestUnverifiedRatchetInvalidKeys checks that messages whose new public
// keys fail validation (which is costly too) spend the budget: repeating one
// is no way around the throttle.
func TestUnverifiedRatchetInvalidKeys(t *testing.T) {
	for n, id := range []uint32{1, 3} {
		t.Run(fmt.Sprint("ratchet id ", id), func(t *testing.T) {
			opts := Options{MaxUnverifiedRatchets: 2}
			_, bob, genuine, _ := toRatchet(t, byte(95+n), opts, id)
			bad := editMsg(t, genuine, func(m *otrencoding.DataMessage4) { m.ECDH = [57]byte{1} })
			reject(t, bob, testNow, bad, ErrMalformed)
			reject(t, bob, testNow, bad, ErrMalformed)
			reject(t, bob, testNow, bad, ErrThrottled)
			if bob.work.ratchets != 0 {
				t.Errorf("%d ratchet steps computed for invalid keys", bob.work.ratchets)
			}
		})
	}
}

// TestUnverifiedRatchetBudgetRefills spends the whole budget, then checks
// when ratchet steps are computed again: after the interval, after a
// verified message, never forever blocked.
func TestUnverifiedRatchetBudgetRefills(t *testing.T) {
	const interval = time.Minute
	opts := Options{MaxUnverifiedRatchets: 2, UnverifiedRatchetInterval: interval}
	tests := []struct {
		name    string
		before  string        // "late": deliver the late genuine message of the current chain first
		at      time.Duration // when the next message arrives, after the first forged one
		genuine bool          // the next message is the genuine one, not a new forged one
		want    error
	}{
		{"within the interval", "", interval - 1, false, ErrThrottled},
		{"interval over", "", interval, false, ErrBadMAC},
		{"clock set back", "", -time.Second, false, ErrBadMAC},
		{"after a verified message", "late", 0, false, ErrBadMAC},
		{"genuine, within the interval", "", interval - 1, true, ErrThrottled},
		{"genuine, interval over", "", interval, true, nil},
		{"genuine, after a verified message", "late", 0, true, nil},
	}
	for n, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, bob, genuine, late := toRatchet(t, byte(90+n), opts, 1)
			f := newForger(t, genuine, byte(190+n))
			reject(t, bob, testNow, f.next(0), ErrBadMAC)
			reject(t, bob, testNow.Add(time.Second), f.next(0), ErrBadMAC)
			reject(t, bob, testNow.Add(time.Second), f.next(0), ErrThrottled)
			if tc.before == "late" {
				decryptAt(t, bob, testNow, late, "a2")
			}
			now := testNow.Add(tc.at)
			ratchets := bob.work.ratchets
			if tc.genuine {
				if tc.want == nil {
					decryptAt(t, bob, now, genuine, "genuine")
				} else {
					reject(t, bob, now, genuine, tc.want)
				}
			} else {
				reject(t, bob, now, f.next(0), tc.want)
			}
			wantRatchets := ratchets + 1
			if errors.Is(tc.want, ErrThrottled) {
				wantRatchets = ratchets
			}
			if bob.work.ratchets != wantRatchets {
				t.Errorf("ratchet steps computed = %d, want %d", bob.work.ratchets, wantRatchets)
			}
			if tc.want == nil && bob.throttle != (throttle{}) {
				t.Errorf("budget not whole again after a verified message")
			}
		})
	}
}

// TestGenuineRatchetAfterForgeries delivers the genuine ratchet message after
// forged ones: it decrypts, costs no second step when a forgery carried its
// keys, and leaves bob exactly as a twin that never saw the forgeries.
func TestGenuineRatchetAfterForgeries(t *testing.T) {
	tests := []struct {
		name      string
		ratchetID uint32
		others    int      // forged messages with other triples, first
		copies    []uint32 // then forged copies of the genuine triple with these message ids
		want      uint64   // ratchet steps computed in all
	}{
		{"ECDH, a forged copy of its keys", 1, 0, []uint32{0}, 1},
		{"ECDH, forged copies further ahead", 1, 0, []uint32{0, 40, 7}, 1},
		{"ECDH, other triples within the budget", 1, DefaultMaxUnverifiedRatchets - 1, nil, DefaultMaxUnverifiedRatchets},
		{"ECDH, other triples, then a copy", 1, 3, []uint32{0}, 4},
		{"ECDH+DH3072, a forged copy of its keys", 3, 0, []uint32{0}, 1},
		{"ECDH+DH3072, other triples within the budget", 3, DefaultMaxUnverifiedRatchets - 1, nil, DefaultMaxUnverifiedRatchets},
	}
	for n, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, bob, genuine, late := toRatchet(t, byte(100+n), Options{}, tc.ratchetID)
			twin := clone(bob)
			f := newForger(t, genuine, byte(200+n))
			for range tc.others {
				reject(t, bob, testNow, f.next(2), ErrBadMAC)
			}
			for _, id := range tc.copies {
				reject(t, bob, testNow, withID(t, tamper(t, genuine), id), ErrBadMAC)
			}
			decryptAt(t, bob, testNow, genuine, "genuine")
			decryptAt(t, twin, testNow, genuine, "genuine")
			if got := bob.work.ratchets; got != tc.want {
				t.Errorf("ratchet steps computed = %d, want %d", got, tc.want)
			}
			if digest(bob) != digest(twin) {
				t.Errorf("state after the forgeries and the genuine message differs from the twin's")
			}
			if bob.pre != nil || bob.throttle != (throttle{}) {
				t.Errorf("cache or throttle kept after a verified ratchet")
			}
			// The late message of the old chain is still there, as stored.
			decryptAt(t, bob, testNow, late, "a2")
		})
	}
}

// TestOldChainWalkedAfterVerification checks that pn costs a forged message
// nothing: the rest of the old chain is stored only after it verified.
func TestOldChainWalkedAfterVerification(t *testing.T) {
	_, bob, genuine, _ := toRatchet(t, 110, Options{}, 1)
	forged := editMsg(t, newForger(t, genuine, 210).next(0), func(m *otrencoding.DataMessage4) {
		m.PN = bob.k + DefaultMaxSkipAhead
	})
	reject(t, bob, testNow, forged, ErrBadMAC)
	if w := bob.work; w.chainSteps != 0 || w.skippedKeys != 0 {
		t.Errorf("forged message with pn %d: %d chain keys walked, %d skipped keys derived; want 0, 0",
			bob.k+DefaultMaxSkipAhead, w.chainSteps, w.skippedKeys)
	}
}

// TestCurrentChainWalk checks that a forged message far ahead in the current
// receiving chain walks only the chain keys before its authenticator fails,
// and that the genuine message still stores the keys it skips.
func TestCurrentChainWalk(t *testing.T) {
	alice, bob := newPair(t, 112, Options{})
	var msgs [][]byte
	for n := range 12 {
		msgs = append(msgs, mustEncrypt(t, alice, hAB, fmt.Sprint(n)))
	}
	reject(t, bob, testNow, tamper(t, msgs[11]), ErrBadMAC)
	if w := bob.work; w.chainSteps != 11 || w.skippedKeys != 0 {
		t.Errorf("forged message: %d chain keys walked, %d skipped keys derived; want 11, 0", w.chainSteps, w.skippedKeys)
	}
	decryptAt(t, bob, testNow, msgs[11], "11")
	if w := bob.work; bob.Stored() != 11 || w.skippedKeys != 11 {
		t.Fatalf("stored %d keys, %d derived; want 11, 11", bob.Stored(), w.skippedKeys)
	}
	for n := range 11 {
		decryptAt(t, bob, testNow, msgs[n], fmt.Sprint(n))
	}
}

func (w work) String() string {
	return fmt.Sprintf("%d ratchets, %d chain steps", w.ratchets, w.chainSteps)
}
