//go:build !purego

package mont

import "golang.org/x/sys/cpu"

//go:noescape
func mul16(t, x, y *uint64)

//go:noescape
func sqr16(t, x *uint64)

//go:noescape
func redc16(z, t, m *uint64, m0inv uint64)

//go:noescape
func mul24(t, x, y *uint64)

//go:noescape
func sqr24(t, x *uint64)

//go:noescape
func redc24(z, t, m *uint64, m0inv uint64)

//go:noescape
func mul48(t, x, y *uint64)

//go:noescape
func sqr48(t, x *uint64)

//go:noescape
func redc48(z, t, m *uint64, m0inv uint64)

// useAssembly is whether the CPU has the instructions the kernels use; a
// test turns it off to run the portable code.
var useAssembly = cpu.X86.HasADX && cpu.X86.HasBMI2

// haveKernels reports whether there are assembly kernels for n limbs.
func haveKernels(n int) bool {
	return useAssembly && (n == 16 || n == 24 || n == 48)
}

// mulAsm sets z = x·y·R^-1 mod m, with t (2n limbs) as scratch; called
// directly, not through function values, so that t stays on the caller's
// stack.
func mulAsm(n int, z, t, x, y, m *uint64, m0inv uint64) {
	switch n {
	case 16:
		mul16(t, x, y)
		redc16(z, t, m, m0inv)
	case 24:
		mul24(t, x, y)
		redc24(z, t, m, m0inv)
	default:
		mul48(t, x, y)
		redc48(z, t, m, m0inv)
	}
}

// sqrAsm sets z = x²·R^-1 mod m, with t as scratch.
func sqrAsm(n int, z, t, x, m *uint64, m0inv uint64) {
	switch n {
	case 16:
		sqr16(t, x)
		redc16(z, t, m, m0inv)
	case 24:
		sqr24(t, x)
		redc24(z, t, m, m0inv)
	default:
		sqr48(t, x)
		redc48(z, t, m, m0inv)
	}
}
