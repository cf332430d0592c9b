package crypto

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"reflect"
	"testing"
	"unsafe"
)

// TestMACSHA1 checks MACSHA1 against crypto/hmac, for keys shorter than,
// equal to and longer than SHA-1's block, over several uses of one key.
func TestMACSHA1(t *testing.T) {
	for _, n := range []int{0, 1, 20, 63, 64, 65, 200} {
		key := bytes.Repeat([]byte{byte(n) | 1}, n)
		m := NewMACSHA1(key)
		for i, parts := range [][][]byte{
			nil,
			{[]byte("ab"), nil, []byte("cd")},
			{bytes.Repeat([]byte{7}, 63), bytes.Repeat([]byte{9}, 130)},
			{[]byte("x")},
		} {
			want := hmac.New(sha1.New, key)
			for _, p := range parts {
				want.Write(p)
			}
			if got := m.Sum(parts...); !bytes.Equal(got[:], want.Sum(nil)) {
				t.Errorf("key of %d bytes, input %d: Sum = %x, want %x", n, i, got, want.Sum(nil))
			}
		}
	}
}

// TestMACSHA1Wipe checks that Wipe leaves zeros in all the memory m held:
// the keyed states and the digest itself (read through unsafe, since its
// marshaled form would not show the buffered tail of the last input).
func TestMACSHA1Wipe(t *testing.T) {
	m := NewMACSHA1(bytes.Repeat([]byte{0xA5}, 20))
	m.Sum([]byte("a message longer than twenty bytes"))
	h, inner, outer := m.h, m.inner, m.outer
	m.Wipe()
	if m.h != nil || m.inner != nil || m.outer != nil || m.buf != [20]byte{} {
		t.Error("Wipe left fields set")
	}
	if !bytes.Equal(inner, make([]byte, len(inner))) || !bytes.Equal(outer, make([]byte, len(outer))) {
		t.Error("Wipe left the keyed states")
	}
	hv := reflect.ValueOf(h)
	if hv.Kind() != reflect.Pointer {
		t.Fatalf("digest of kind %v", hv.Kind())
	}
	mem := unsafe.Slice((*byte)(hv.UnsafePointer()), hv.Type().Elem().Size())
	if !bytes.Equal(mem, make([]byte, len(mem))) {
		t.Errorf("digest memory after Wipe = %x, want all zero", mem)
	}
}

func TestAES128Wipe(t *testing.T) {
	a := NewAES128([]byte("0123456789abcdef"))
	buf := make([]byte, 40)
	a.CTR([8]byte{1}, buf, buf)
	a.Wipe()
	if *a != (AES128{}) {
		t.Error("Wipe left fields set")
	}
}
