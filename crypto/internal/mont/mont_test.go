package mont

import (
	"bytes"
	"math/big"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The moduli the module uses, and odd moduli of other shapes.
var testModuli = map[string]string{
	"otr3-1536": "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF",
	"dh-3072":   "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
	"small-odd": "C3",
	"5-limbs":   "8000000000000000000000000000000000000000000000000000000000000000000000000000000001",
	"16-limbs":  "B10B8F96A080E01DDE92DE5EAE5D54EC52C99FBCFB06A3C69A6A9DCA52D23B616073E28675A23D189838EF1E2EE652C013ECB4AEA906112324975C3CD49B83BFACCBDD7D90C4BD7098488E9C219A73724EFFD6FAE5644738FAA31A4FF55BCCC0A151AF5F0DC8B4BD45BF37DF365C1A65E68CFDA76D4DA708DF1FB2BC2E4A4371",
	"24-low":    "800000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001",
}

func mustHex(t testing.TB, s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 16)
	if !ok {
		t.Fatalf("bad hex %q", s)
	}
	return v
}

// bothPaths runs f with the assembly kernels (where the machine has them)
// and with the portable code.
func bothPaths(t *testing.T, f func(t *testing.T)) {
	t.Run("default", f)
	saved := useAssembly
	useAssembly = false
	defer func() { useAssembly = saved }()
	t.Run("portable", f)
}

// eachModulus runs f for every test modulus, on both paths, with a
// deterministic random source.
func eachModulus(t *testing.T, seed uint64, f func(t *testing.T, p *big.Int, m *Modulus, r *rand.Rand)) {
	bothPaths(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(seed, seed+1))
		for name, hex := range testModuli {
			t.Run(name, func(t *testing.T) {
				p := mustHex(t, hex)
				m, err := NewModulus(p.Bytes())
				if err != nil {
					t.Fatal(err)
				}
				f(t, p, m, r)
			})
		}
	})
}

// edgeValues returns interesting inputs below 2^(64n) for modulus p.
func edgeValues(p *big.Int, n int, r *rand.Rand) []*big.Int {
	top := new(big.Int).Lsh(big.NewInt(1), uint(64*n))
	one := big.NewInt(1)
	vals := []*big.Int{
		big.NewInt(0), one, big.NewInt(2),
		new(big.Int).Sub(p, one), new(big.Int).Set(p), new(big.Int).Add(p, one),
		new(big.Int).Sub(top, one), new(big.Int).Sub(new(big.Int).Lsh(p, 1), one),
	}
	for range 20 {
		b := make([]byte, 8*n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		vals = append(vals, new(big.Int).SetBytes(b))
	}
	var in []*big.Int
	for _, v := range vals {
		if v.Cmp(top) < 0 {
			in = append(in, v)
		}
	}
	return in
}

func TestMulSqrMatchBig(t *testing.T) {
	eachModulus(t, 1, func(t *testing.T, p *big.Int, m *Modulus, r *rand.Rand) {
		n := m.n
		rInv := new(big.Int).ModInverse(new(big.Int).Lsh(big.NewInt(1), uint(64*n)), p)
		vals := edgeValues(p, n, r)
		for _, a := range vals {
			for _, b := range vals {
				// Montgomery inputs must be below m.
				a, b := new(big.Int).Mod(a, p), new(big.Int).Mod(b, p)
				x, y, z := make([]uint64, n), make([]uint64, n), make([]uint64, n)
				setBytes(x, a.Bytes())
				setBytes(y, b.Bytes())
				want := new(big.Int).Mul(a, b)
				want.Mul(want, rInv).Mod(want, p)
				m.mul(z, x, y)
				if got := limbsBig(z); got.Cmp(want) != 0 {
					t.Fatalf("mul(%x, %x) = %x, want %x", a, b, got, want)
				}
			}
			a := new(big.Int).Mod(a, p)
			x, z := make([]uint64, n), make([]uint64, n)
			setBytes(x, a.Bytes())
			want := new(big.Int).Mul(a, a)
			want.Mul(want, rInv).Mod(want, p)
			m.sqr(z, x)
			if got := limbsBig(z); got.Cmp(want) != 0 {
				t.Fatalf("sqr(%x) = %x, want %x", a, got, want)
			}
		}
	})
}

func limbsBig(x []uint64) *big.Int {
	b := make([]byte, 8*len(x))
	fillBytes(b, x)
	return new(big.Int).SetBytes(b)
}

func TestExpMatchesBig(t *testing.T) {
	eachModulus(t, 3, func(t *testing.T, p *big.Int, m *Modulus, r *rand.Rand) {
		exps := [][]byte{nil, {0}, {1}, {2}, {0, 0, 0, 0x10}, bytes.Repeat([]byte{0xff}, 40)}
		for range 4 {
			e := make([]byte, 1+r.IntN(200))
			for i := range e {
				e[i] = byte(r.Uint32())
			}
			exps = append(exps, e)
		}
		for _, base := range edgeValues(p, m.n, r)[:12] {
			for _, e := range exps {
				got, err := m.Exp(base.Bytes(), e)
				if err != nil {
					t.Fatal(err)
				}
				want := new(big.Int).Exp(base, new(big.Int).SetBytes(e), p)
				if len(got) != m.Size() || new(big.Int).SetBytes(got).Cmp(want) != 0 {
					t.Fatalf("%x^%x = %x, want %x", base, e, got, want)
				}
			}
		}
	})
}

func TestFixedBaseMatchesBig(t *testing.T) {
	bothPaths(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		for _, name := range []string{"otr3-1536", "16-limbs", "5-limbs"} {
			for _, w := range []uint{1, 4, 5} {
				p := mustHex(t, testModuli[name])
				m, err := NewModulus(p.Bytes())
				if err != nil {
					t.Fatal(err)
				}
				g := big.NewInt(2)
				f, err := NewFixedBase(m, g.Bytes(), 320, w)
				if err != nil {
					t.Fatal(err)
				}
				exps := [][]byte{{}, {0}, {1}, bytes.Repeat([]byte{0xff}, 40), append(make([]byte, 10), bytes.Repeat([]byte{0x5a}, 40)...)}
				for range 5 {
					e := make([]byte, 40)
					for i := range e {
						e[i] = byte(r.Uint32())
					}
					exps = append(exps, e)
				}
				for _, e := range exps {
					got, err := f.Exp(e)
					if err != nil {
						t.Fatal(err)
					}
					want := new(big.Int).Exp(g, new(big.Int).SetBytes(e), p)
					if new(big.Int).SetBytes(got).Cmp(want) != 0 {
						t.Fatalf("%s w=%d: 2^%x = %x, want %x", name, w, e, got, want)
					}
				}
				// An exponent beyond the table is refused, not truncated.
				if _, err := f.Exp(append([]byte{1}, make([]byte, 40)...)); err == nil {
					t.Errorf("%s: 321-bit exponent accepted", name)
				}
			}
		}
	})
}

func TestNewModulusRejects(t *testing.T) {
	for _, b := range [][]byte{nil, {0}, {1}, {2}, {0, 3}, bytes.Repeat([]byte{0xff}, 8*MaxLimbs+1)} {
		if _, err := NewModulus(b); err == nil {
			t.Errorf("NewModulus(%x) accepted", b)
		}
	}
	m, err := NewModulus([]byte{0xc3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Exp(make([]byte, 9), []byte{1}); err != nil {
		t.Errorf("zero-padded base refused: %v", err)
	}
	if _, err := m.Exp(append([]byte{1}, make([]byte, 8)...), []byte{1}); err == nil {
		t.Error("base longer than the limbs accepted")
	}
}

// TestGeneratedAssemblyIsCurrent regenerates mont_amd64.s and compares.
func TestGeneratedAssemblyIsCurrent(t *testing.T) {
	out := filepath.Join(t.TempDir(), "mont_amd64.s")
	cmd := exec.Command("go", "run", "asm_gen.go", "-out", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("asm_gen: %v\n%s", err, msg)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("mont_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("mont_amd64.s differs from asm_gen.go's output: run go generate")
	}
}

func FuzzExp(f *testing.F) {
	f.Add(uint8(0), []byte{2}, []byte{0xff, 0x01})
	f.Add(uint8(1), bytes.Repeat([]byte{0xff}, 384), bytes.Repeat([]byte{0xff}, 80))
	f.Add(uint8(2), []byte{}, []byte{})
	names := []string{"otr3-1536", "dh-3072", "16-limbs", "5-limbs", "small-odd"}
	// Each modulus twice: with the kernels this machine uses, and with the
	// portable code.
	var mods []*Modulus
	var ps []*big.Int
	for _, name := range names {
		p := mustHex(f, testModuli[name])
		for _, asm := range []bool{true, false} {
			m, err := NewModulus(p.Bytes())
			if err != nil {
				f.Fatal(err)
			}
			m.asm = m.asm && asm
			mods, ps = append(mods, m), append(ps, p)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, x, e []byte) {
		if len(e) > 256 {
			e = e[:256]
		}
		i := 2 * (int(which) % len(names))
		for _, m := range mods[i : i+2] {
			p := ps[i]
			got, err := m.Exp(x, e)
			if !m.fits(x) {
				if err == nil {
					t.Fatal("oversized base accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := new(big.Int).Exp(new(big.Int).SetBytes(x), new(big.Int).SetBytes(e), p)
			if new(big.Int).SetBytes(got).Cmp(want) != 0 {
				t.Fatalf("asm=%v: %x^%x mod %x = %x, want %x", m.asm, x, e, p, got, want)
			}
		}
	})
}

func BenchmarkExp(b *testing.B) {
	for _, name := range []string{"otr3-1536", "dh-3072", "16-limbs"} {
		p := mustHex(b, testModuli[name])
		m, err := NewModulus(p.Bytes())
		if err != nil {
			b.Fatal(err)
		}
		x := new(big.Int).Sub(p, big.NewInt(5)).Bytes()
		e := bytes.Repeat([]byte{0xa7}, 40)
		b.Run(name+"/320bit", func(b *testing.B) {
			for b.Loop() {
				if _, err := m.Exp(x, e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMulSqr(b *testing.B) {
	p := mustHex(b, testModuli["otr3-1536"])
	m, _ := NewModulus(p.Bytes())
	x, y := make([]uint64, m.n), make([]uint64, m.n)
	m.toMont(x, new(big.Int).Sub(p, big.NewInt(7)).Bytes())
	m.toMont(y, new(big.Int).Sub(p, big.NewInt(9)).Bytes())
	b.Run("mul", func(b *testing.B) {
		for b.Loop() {
			m.mul(x, x, y)
		}
	})
	b.Run("sqr", func(b *testing.B) {
		for b.Loop() {
			m.sqr(x, x)
		}
	})
}
