//go:build ignore

// asm_gen writes mont_amd64.s: fully unrolled Montgomery kernels for the
// limb counts the otr module uses (16: DSA-1024, 24: the OTR3 1536-bit
// group, 48: the OTRv4 3072-bit group). Run it with `go generate` in this
// directory; TestGeneratedAssemblyIsCurrent checks that the committed file
// is its output.
//
// Every kernel runs two carry chains at once with MULX (BMI2) and
// ADCX/ADOX (ADX): ADCX carries the high halves of the products along a
// row, ADOX adds the row into the accumulator. Nothing branches on or
// indexes memory by the values; the only branch is the row loop of mul and
// redc, whose count is the public limb count.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
)

var sizes = []int{16, 24, 48}

type gen struct{ b bytes.Buffer }

func (g *gen) f(format string, args ...any) { fmt.Fprintf(&g.b, format+"\n", args...) }

// row emits one multiply-accumulate row: for j in [from, to), with the
// multiplier in DX, acc[base+j] (+)= x[j]·DX, the high halves carried along
// in alternating registers SI/DI. write means the row overwrites acc
// instead of adding to it. x is in CX, acc in AX; R9 holds zero. The caller
// must have cleared CF and OF and set SI to zero. The row's final carry
// limb is left in the returned register.
//
// reduce marks a Montgomery reduction row (from 0, adding): its limb 0
// becomes zero and is never read again, so it is not stored, and its
// limb 1, the next row's multiplier source, is also kept in BX.
func (g *gen) row(base, from, to int, write, reduce bool) (carry string) {
	prev, next := "SI", "DI"
	for j := from; j < to; j++ {
		g.f("\tMULXQ %d(CX), R8, %s", 8*j, next)
		g.f("\tADCXQ %s, R8", prev)
		if !write {
			g.f("\tADOXQ %d(AX), R8", 8*(base+j))
		}
		switch {
		case reduce && j == 0:
		case reduce && j == 1:
			g.f("\tMOVQ R8, %d(AX)", 8*(base+j))
			g.f("\tMOVQ R8, BX")
		default:
			g.f("\tMOVQ R8, %d(AX)", 8*(base+j))
		}
		prev, next = next, prev
	}
	g.f("\tADCXQ R9, %s", prev)
	if !write {
		g.f("\tADOXQ R9, %s", prev)
	}
	return prev
}

// storedRow is row with its carry stored to acc[base+to], a limb no
// earlier row wrote.
func (g *gen) storedRow(base, from, to int, write bool) {
	g.f("\tMOVQ %s, %d(AX)", g.row(base, from, to, write, false), 8*(base+to))
}

// mul emits z = x·y for n-limb x and y into a 2n-limb z.
func (g *gen) mul(n int) {
	g.f("// func mul%d(t *uint64, x *uint64, y *uint64)", n)
	g.f("TEXT ·mul%d(SB), NOSPLIT, $0-24", n)
	g.f("\tMOVQ t+0(FP), AX")
	g.f("\tMOVQ x+8(FP), CX")
	g.f("\tMOVQ y+16(FP), BX")
	g.f("\tMOVQ $0, R9")
	g.f("\tMOVQ (BX), DX")
	g.f("\tXORQ SI, SI")
	g.storedRow(0, 0, n, true)
	g.f("\tMOVQ $%d, R10", n-1)
	g.f("mul%dloop:", n)
	g.f("\tADDQ $8, AX")
	g.f("\tADDQ $8, BX")
	g.f("\tMOVQ (BX), DX")
	g.f("\tXORQ SI, SI")
	g.storedRow(0, 0, n, false)
	g.f("\tDECQ R10")
	g.f("\tJNZ mul%dloop", n)
	g.f("\tRET")
	g.f("")
}

// sqr emits z = x² for an n-limb x into a 2n-limb z: the products x[i]x[j]
// with i < j once, then twice that plus the squares x[i]² in one pass.
func (g *gen) sqr(n int) {
	g.f("// func sqr%d(t *uint64, x *uint64)", n)
	g.f("TEXT ·sqr%d(SB), NOSPLIT, $0-16", n)
	g.f("\tMOVQ t+0(FP), AX")
	g.f("\tMOVQ x+8(FP), CX")
	g.f("\tMOVQ $0, R9")
	g.f("\tMOVQ R9, (AX)")
	g.f("\tMOVQ R9, %d(AX)", 8*(2*n-1))
	for i := 0; i < n-1; i++ {
		g.f("\tMOVQ %d(CX), DX", 8*i)
		g.f("\tXORQ SI, SI")
		g.storedRow(i, i+1, n, i == 0)
	}
	g.f("\tXORQ R10, R10")
	for k := range n {
		g.f("\tMOVQ %d(CX), DX", 8*k)
		g.f("\tMULXQ DX, R8, R11")
		g.f("\tMOVQ %d(AX), R12", 16*k)
		g.f("\tADCXQ R12, R12")
		g.f("\tADOXQ R8, R12")
		g.f("\tMOVQ R12, %d(AX)", 16*k)
		g.f("\tMOVQ %d(AX), R13", 16*k+8)
		g.f("\tADCXQ R13, R13")
		g.f("\tADOXQ R11, R13")
		g.f("\tMOVQ R13, %d(AX)", 16*k+8)
	}
	g.f("\tRET")
	g.f("")
}

// redc emits the Montgomery reduction of a 2n-limb t into the n-limb z:
// n rows each adding m·(t[i]·m0inv) at limb i, which clears t[i]; the
// rows' carries ripple up through R11. Then u = t[n:2n] + R11·2^(64n),
// below 2m, is reduced once: z = u - m, and a masked pass puts back u where
// that borrowed without a carry to absorb it.
func (g *gen) redc(n int) {
	g.f("// func redc%d(z *uint64, t *uint64, m *uint64, m0inv uint64)", n)
	g.f("TEXT ·redc%d(SB), NOSPLIT, $0-32", n)
	g.f("\tMOVQ t+8(FP), AX")
	g.f("\tMOVQ m+16(FP), CX")
	g.f("\tMOVQ m0inv+24(FP), R10")
	g.f("\tMOVQ $0, R9")
	g.f("\tMOVQ $0, R11")
	g.f("\tMOVQ $%d, R12", n)
	g.f("\tMOVQ (AX), BX")
	g.f("redc%dloop:", n)
	g.f("\tMOVQ BX, DX")
	g.f("\tIMULQ R10, DX")
	g.f("\tXORQ SI, SI")
	c := g.row(0, 0, n, false, true) // m in CX, its carry kept in a register
	g.f("\tXORQ R13, R13")
	g.f("\tADDQ R11, %d(AX)", 8*n)
	g.f("\tADCQ $0, R13")
	g.f("\tADDQ %s, %d(AX)", c, 8*n)
	g.f("\tADCQ $0, R13")
	g.f("\tMOVQ R13, R11")
	g.f("\tADDQ $8, AX")
	g.f("\tDECQ R12")
	g.f("\tJNZ redc%dloop", n)
	// AX now points at u's low limbs; z = u - m.
	g.f("\tMOVQ z+0(FP), BX")
	for j := range n {
		g.f("\tMOVQ %d(AX), R8", 8*j)
		if j == 0 {
			g.f("\tSUBQ %d(CX), R8", 8*j)
		} else {
			g.f("\tSBBQ %d(CX), R8", 8*j)
		}
		g.f("\tMOVQ R8, %d(BX)", 8*j)
	}
	// R13 = all ones if it borrowed and there is no carry: keep u.
	g.f("\tSBBQ R13, R13")
	g.f("\tSUBQ $1, R11")
	g.f("\tANDQ R11, R13")
	for j := range n {
		g.f("\tMOVQ %d(AX), R8", 8*j)
		g.f("\tMOVQ %d(BX), R10", 8*j)
		g.f("\tXORQ R10, R8")
		g.f("\tANDQ R13, R8")
		g.f("\tXORQ R10, R8")
		g.f("\tMOVQ R8, %d(BX)", 8*j)
	}
	g.f("\tRET")
	g.f("")
}

func main() {
	out := flag.String("out", "mont_amd64.s", "output file")
	flag.Parse()
	g := new(gen)
	g.f("// Code generated by asm_gen.go. DO NOT EDIT.")
	g.f("")
	g.f("//go:build !purego")
	g.f("")
	g.f("#include \"textflag.h\"")
	g.f("")
	for _, n := range sizes {
		g.mul(n)
		g.sqr(n)
		g.redc(n)
	}
	if err := os.WriteFile(*out, g.b.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
}
