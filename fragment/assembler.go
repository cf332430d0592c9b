package fragment

import (
	"container/heap"
	"container/list"
	"fmt"
	"strings"
	"sync"
)

// Default limits. MaxFragment and MaxMessage are those of otr4j (2024) and
// otrr (docs/threats.md F1); MaxMessage is lowered to MaxContactBytes, so by
// default no message above 4 MiB is reassembled.
const (
	DefaultMaxFragment     = 250 << 10 // 250 KiB
	DefaultMaxMessage      = 100 << 20 // 100 MiB
	DefaultMaxIncomplete   = 100
	DefaultMaxContactBytes = 4 << 20 // 4 MiB
)

// Memory charged to a [Budget] and to MaxContactBytes besides the payload
// bytes, so that floods of tiny pieces or of new buffers are bounded too.
// They approximate the Go memory used by a stored piece (string header, map
// or slice slot) and by an empty buffer.
const (
	pieceOverhead  = 48
	bufferOverhead = 256
)

// Limits bounds the memory an [Assembler] uses. A zero or negative field
// means its default.
//
// A message in reassembly is charged its payload plus 48 bytes per stored
// piece and 256 bytes for the message. One contact's Assembler holds at most
// MaxContactBytes of incomplete messages; the [Budget] it shares with the
// account's other Assemblers bounds them all together.
type Limits struct {
	// MaxFragment is the largest accepted piece, in bytes
	// (default [DefaultMaxFragment]).
	MaxFragment int
	// MaxMessage is the largest reassembled message, in bytes
	// (default [DefaultMaxMessage]). A value above MaxContactBytes is
	// lowered to MaxContactBytes: a fragmented message must fit, overhead
	// included, in its contact's limit, or it is refused with ErrLimit.
	MaxMessage int
	// MaxIncomplete is the number of messages in reassembly an Assembler
	// keeps, OTR3 (one per sender instance tag) and OTRv4 (one per sender
	// and identifier) together (default [DefaultMaxIncomplete]). Beyond it
	// the least recently updated message is evicted.
	MaxIncomplete int
	// MaxContactBytes is the most an Assembler (one contact) holds of
	// incomplete messages, payload and overhead (default
	// [DefaultMaxContactBytes]). A piece that would exceed it first evicts
	// the contact's least recently updated other messages, so that the
	// message it belongs to can still complete.
	MaxContactBytes int
}

func (l Limits) withDefaults() Limits {
	if l.MaxFragment <= 0 {
		l.MaxFragment = DefaultMaxFragment
	}
	if l.MaxMessage <= 0 {
		l.MaxMessage = DefaultMaxMessage
	}
	if l.MaxIncomplete <= 0 {
		l.MaxIncomplete = DefaultMaxIncomplete
	}
	if l.MaxContactBytes <= 0 {
		l.MaxContactBytes = DefaultMaxContactBytes
	}
	l.MaxMessage = min(l.MaxMessage, l.MaxContactBytes)
	return l
}

// Budget caps the bytes buffered across many Assemblers, typically one
// Budget per account and one Assembler per contact. It counts payload bytes
// plus a small fixed overhead per stored piece and per message in
// reassembly.
//
// When a piece does not fit, the Budget evicts the least recently updated
// message of the Assembler holding the most bytes (on a tie, the one created
// last), again until the piece fits. It never evicts the message the piece
// belongs to: a newcomer is not refused because others filled the Budget,
// and a contact's message is evicted for another contact's only while that
// contact holds more than any other. A message refused for the Budget is one
// that does not fit in it alone. For every message of MaxContactBytes to be
// able to complete, make the Budget at least MaxContactBytes.
//
// # Concurrency
//
// A Budget is safe for concurrent use. It has one mutex, which its
// Assemblers share: evicting from another contact's Assembler must change
// that Assembler, and one lock for all of them has no lock order to get
// wrong (per-Assembler locks would need the evicting Assembler to drop its
// own lock and retry, or to give up when the victim is busy, which a flood
// can arrange). The lock is held for bookkeeping only: pieces are copied
// before it is taken and messages joined after it is released. The fragment
// package never holds two locks and calls nothing outside itself under one,
// so the only order is the caller's locks (a session's) before it.
type Budget struct {
	mu      sync.Mutex
	max     int64
	used    int64
	seq     uint64  // Assemblers created so far
	holders holders // Assemblers holding bytes, largest first
}

// NewBudget returns a Budget of limit bytes; a negative limit is treated
// as 0.
func NewBudget(limit int64) *Budget {
	return &Budget{max: max(limit, 0)}
}

// Used returns the bytes currently charged to b; 0 for a nil Budget.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Max returns the size of b; 0 for a nil (unlimited) Budget.
func (b *Budget) Max() int64 {
	if b == nil {
		return 0
	}
	return b.max
}

// makeRoom evicts messages until n more bytes fit in b, never evicting keep
// (nil: a message not created yet) of the requesting Assembler a. It
// reports false, evicting nothing, if keep and n together exceed b. A nil
// Budget is unlimited.
func (b *Budget) makeRoom(a *Assembler, keep *buffer, n int64) bool {
	if b == nil {
		return true
	}
	held := int64(0)
	if keep != nil {
		held = keep.cost
	}
	if n > b.max-held {
		return false
	}
	for n > b.max-b.used {
		x := b.victim(a, keep)
		if x == nil {
			panic("fragment: internal error: budget full and nothing to evict")
		}
		x.drop(x.oldest(keep))
	}
	return true
}

// victim returns the Assembler to evict from: the largest holder, unless
// that is a and keep is all a holds, then the larger of the two next in the
// heap.
func (b *Budget) victim(a *Assembler, keep *buffer) *Assembler {
	h := b.holders
	if len(h) == 0 {
		return nil
	}
	if h[0] != a || a.oldest(keep) != nil {
		return h[0]
	}
	switch {
	case len(h) == 1:
		return nil
	case len(h) == 2 || h.Less(1, 2):
		return h[1]
	}
	return h[2]
}

// charge adds n bytes held by a (negative: released) and keeps a's place
// among the holders.
func (b *Budget) charge(a *Assembler, n int64) {
	if b == nil {
		return
	}
	b.used += n
	switch {
	case a.idx < 0 && a.cost > 0:
		heap.Push(&b.holders, a)
	case a.idx >= 0 && a.cost == 0:
		heap.Remove(&b.holders, a.idx)
	case a.idx >= 0:
		heap.Fix(&b.holders, a.idx)
	}
}

// holders is a max-heap of Assemblers by bytes held; an Assembler is in it
// exactly while it holds bytes, so the Budget keeps no reference to an
// empty one.
type holders []*Assembler

func (h holders) Len() int { return len(h) }

func (h holders) Less(i, j int) bool {
	if h[i].cost != h[j].cost {
		return h[i].cost > h[j].cost
	}
	return h[i].seq > h[j].seq
}

func (h holders) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = i
	h[j].idx = j
}

func (h *holders) Push(x any) {
	a := x.(*Assembler)
	a.idx = len(*h)
	*h = append(*h, a)
}

func (h *holders) Pop() any {
	old := *h
	a := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	a.idx = -1
	return a
}

// key names one message in reassembly: OTR3 keeps one per sender instance
// tag (id is 0), OTRv4 one per sender and identifier.
type key struct {
	version uint8
	sender  uint32
	id      uint32
}

type buffer struct {
	key     key
	n       uint16
	last    uint16            // OTR3: K, the index of the last piece appended
	pieces  []string          // OTR3: pieces 1..last in order
	slots   map[uint16]string // OTRv4: pieces by index
	size    int               // payload bytes stored
	cost    int64             // bytes charged to the budget
	touched bool              // updated since the last Sweep
	elem    *list.Element
}

// Assembler reassembles the fragments received from one contact (one per
// session) within its [Limits] and its [Budget]. It is safe for concurrent
// use: it takes its Budget's lock (see [Budget]), or a lock of its own
// without a Budget. Another Assembler of the same Budget may evict its
// messages at any time.
type Assembler struct {
	mu     *sync.Mutex // budget.mu, or own without a budget
	own    sync.Mutex
	limits Limits
	budget *Budget
	seq    uint64 // creation order within the budget, for ties
	idx    int    // index in budget.holders, -1 when not there

	// Guarded by mu.
	closed bool
	bufs   map[key]*buffer
	lru    list.List // of *buffer, least recently updated first
	cost   int64     // sum of the buffers' cost
}

// NewAssembler returns an empty Assembler with limits l (zero fields take
// their defaults) charging its buffered bytes to b; a nil b is unlimited.
// Call [Assembler.Close] when the contact's session is forgotten.
func NewAssembler(l Limits, b *Budget) *Assembler {
	a := &Assembler{limits: l.withDefaults(), budget: b, idx: -1, bufs: make(map[key]*buffer)}
	a.lru.Init()
	a.mu = &a.own
	if b != nil {
		a.mu = &b.mu
		b.mu.Lock()
		b.seq++
		a.seq = b.seq
		b.mu.Unlock()
	}
	return a
}

// result is what Add computes under the lock; the message is joined after.
type result struct {
	msg    string
	done   bool
	pieces []string          // OTR3: to join
	slots  map[uint16]string // OTRv4: to join in order
	n      uint16
	err    error
}

// Add adds one fragment. When f completes a message, Add returns it with
// complete true; the message is no longer buffered.
//
// OTR3 fragments follow the OTR3 spec, "Receiving Fragments", per sender
// instance tag: k == 1 starts a new message (dropping the previous one),
// k == K+1 with the same n appends, anything else drops the buffered message
// and the fragment and returns ErrDiscarded. OTRv4 fragments are kept per
// (sender, identifier) in any order; a duplicate index is ignored (nil
// error), a changed total drops that message (ErrDiscarded).
//
// An illegal fragment returns ErrMalformed and changes nothing. A piece
// above MaxFragment, a message above MaxMessage or MaxContactBytes, or one
// that cannot fit in the Budget on its own drops the affected message,
// releases its budget and returns ErrLimit. To make room for a piece, Add
// evicts other messages as [Limits] and [Budget] say. After Close, Add
// returns ErrClosed.
//
// Add never checks instance tags against the local instance, and does not
// look at the reassembled message: the caller checks that it is an encoded
// "?OTR:" message of the fragment's version and never feeds it back into
// fragment handling (docs/threats.md F3).
func (a *Assembler) Add(f Fragment) (msg string, complete bool, err error) {
	if err := f.check(); err != nil {
		return "", false, err
	}
	k := key{version: uint8(f.Version), sender: f.Sender}
	if f.Version == 4 {
		k.id = f.ID
	}
	piece := f.Piece
	if len(piece) <= a.limits.MaxFragment && f.N > 1 {
		// Copied before locking: a buffered piece must not keep the
		// caller's whole input alive, and the copy need not block others.
		piece = strings.Clone(piece)
	}
	a.mu.Lock()
	r := a.add(k, f, piece)
	a.mu.Unlock()
	switch {
	case r.err != nil:
		return "", false, r.err
	case r.pieces != nil:
		return strings.Join(r.pieces, ""), true, nil
	case r.slots != nil:
		size := 0
		for _, p := range r.slots {
			size += len(p)
		}
		var sb strings.Builder
		sb.Grow(size)
		for i := uint16(1); i <= r.n; i++ {
			sb.WriteString(r.slots[i])
		}
		return sb.String(), true, nil
	}
	return r.msg, r.done, nil
}

// add does Add's work under the lock.
func (a *Assembler) add(k key, f Fragment, piece string) result {
	if a.closed {
		return result{err: ErrClosed}
	}
	b := a.bufs[k]
	if len(piece) > a.limits.MaxFragment {
		if b != nil {
			a.drop(b)
		}
		return result{err: fmt.Errorf("%w: fragment of %d bytes", ErrLimit, len(piece))}
	}
	if f.Version == 3 {
		return a.add3(k, b, f, piece)
	}
	return a.add4(k, b, f, piece)
}

// add3 follows the OTR3 spec, "Receiving Fragments".
func (a *Assembler) add3(k key, b *buffer, f Fragment, piece string) result {
	switch {
	case f.K == 1:
		// "If k == 1: Forget any stored fragment you may have".
		if b != nil {
			a.drop(b)
		}
		if f.N == 1 {
			return a.single(piece)
		}
		b = nil
	case b != nil && f.N == b.n && f.K == b.last+1:
		// "If n == N and k == K+1: Append (piece) to F."
	default:
		// "Otherwise: Forget any stored fragment you may have".
		if b != nil {
			a.drop(b)
		}
		return result{err: fmt.Errorf("%w: OTR3 fragment out of sequence", ErrDiscarded)}
	}
	b, err := a.store(k, b, f.N, piece)
	if err != nil {
		return result{err: err}
	}
	b.pieces = append(b.pieces, piece)
	b.last = f.K
	if f.K < f.N {
		return result{}
	}
	r := result{pieces: b.pieces}
	a.drop(b)
	return r
}

// add4 follows the OTRv4 spec, "Receiving Fragments".
func (a *Assembler) add4(k key, b *buffer, f Fragment, piece string) result {
	if b != nil {
		if f.N != b.n {
			// "Otherwise: Forget any stored fragments of this buffer".
			a.drop(b)
			return result{err: fmt.Errorf("%w: OTRv4 fragment total changed", ErrDiscarded)}
		}
		if _, dup := b.slots[f.K]; dup {
			// A filled slot is never overwritten (docs/threats.md F2).
			return result{}
		}
	} else if f.N == 1 {
		return a.single(piece)
	}
	b, err := a.store(k, b, f.N, piece)
	if err != nil {
		return result{err: err}
	}
	if b.slots == nil {
		b.slots = make(map[uint16]string)
	}
	b.slots[f.K] = piece
	if len(b.slots) < int(b.n) {
		return result{}
	}
	r := result{slots: b.slots, n: b.n}
	a.drop(b)
	return r
}

// single returns a message that came in one fragment (k == n == 1).
func (a *Assembler) single(piece string) result {
	if len(piece) > a.limits.MaxMessage {
		return result{err: fmt.Errorf("%w: message above maximum size", ErrLimit)}
	}
	return result{msg: piece, done: true}
}

// store makes room for piece in b, the message k of n pieces (nil: a new
// message), and charges it, creating b if needed. The caller stores the
// piece. Limits are checked before anything is stored (docs/threats.md F1). If
// the message cannot take the piece, store drops it and returns ErrLimit.
func (a *Assembler) store(k key, b *buffer, n uint16, piece string) (*buffer, error) {
	size, held, c := len(piece), int64(0), int64(len(piece))+pieceOverhead
	if b == nil {
		c += bufferOverhead
	} else {
		size += b.size
		held = b.cost
	}
	if size > a.limits.MaxMessage || c > int64(a.limits.MaxContactBytes)-held {
		if b != nil {
			a.drop(b)
		}
		return nil, fmt.Errorf("%w: message above maximum size", ErrLimit)
	}
	// This contact's other messages make room first, least recently
	// updated first: then its current message can still complete.
	for c > int64(a.limits.MaxContactBytes)-a.cost {
		a.drop(a.oldest(b))
	}
	if b == nil {
		for len(a.bufs) >= a.limits.MaxIncomplete {
			a.drop(a.oldest(nil))
		}
	}
	if !a.budget.makeRoom(a, b, c) {
		if b != nil {
			a.drop(b)
		}
		return nil, fmt.Errorf("%w: fragment budget exhausted", ErrLimit)
	}
	if b == nil {
		b = &buffer{key: k, n: n}
		b.elem = a.lru.PushBack(b)
		a.bufs[k] = b
	}
	b.size += len(piece)
	b.cost += c
	b.touched = true
	a.lru.MoveToBack(b.elem)
	a.cost += c
	a.budget.charge(a, c)
	return b, nil
}

// oldest returns a's least recently updated message other than keep, or nil.
func (a *Assembler) oldest(keep *buffer) *buffer {
	for e := a.lru.Front(); e != nil; e = e.Next() {
		if b := e.Value.(*buffer); b != keep {
			return b
		}
	}
	return nil
}

// drop forgets b and releases its budget.
func (a *Assembler) drop(b *buffer) {
	a.lru.Remove(b.elem)
	delete(a.bufs, b.key)
	a.cost -= b.cost
	a.budget.charge(a, -b.cost)
	*b = buffer{}
}

// Reset drops every buffered message, releasing its budget.
func (a *Assembler) Reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reset()
}

func (a *Assembler) reset() {
	for _, b := range a.bufs {
		a.drop(b)
	}
}

// Close drops every buffered message, releasing its budget, and leaves the
// Assembler unusable: Add returns ErrClosed. The Budget keeps no reference
// to a closed (or empty) Assembler. Closing twice is harmless.
func (a *Assembler) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reset()
	a.closed = true
}

// ResetOTR3 drops the OTR3 messages in reassembly. The OTR3 spec asks for
// this when a non-OTR or unfragmented message arrives; OTRv4 keeps its
// buffers then, so they are left alone.
func (a *Assembler) ResetOTR3() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, b := range a.bufs {
		if k.version == 3 {
			a.drop(b)
		}
	}
}

// Sweep drops the messages that received no fragment since the previous
// call to Sweep and returns how many it dropped. Calling it every period p
// bounds the life of an incomplete message to between p and 2p (OTRv4 spec,
// "Receiving Fragments": the optional reassembly timer), without the
// Assembler reading a clock.
func (a *Assembler) Sweep() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	dropped := 0
	for _, b := range a.bufs {
		if !b.touched {
			a.drop(b)
			dropped++
			continue
		}
		b.touched = false
	}
	return dropped
}

// Incomplete returns the number of messages in reassembly.
func (a *Assembler) Incomplete() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.bufs)
}

// Buffered returns the bytes a charges to its Budget (payload plus overhead).
func (a *Assembler) Buffered() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cost
}
