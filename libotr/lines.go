package libotr

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// maxLine is the longest line libotr reads whole, its end of line
// included: it reads otr.fingerprints and otr.instance_tags with fgets
// into 1000-byte buffers and misreads longer lines, so they are rejected
// on read and on write.
const maxLine = 999

// readLines calls fn with each line of r and its number, without the end
// of line (LF or CR LF, as libotr accepts). A last line without an end of
// line is a line: libotr skips it, but it is most likely a hand edit.
func readLines(r io.Reader, fn func(n int, line []byte) error) error {
	br := bufio.NewReaderSize(r, 2*maxLine)
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			return fmt.Errorf("%w: line %d: longer than %d bytes", ErrMalformed, n, maxLine)
		case err == io.EOF && len(line) == 0:
			return nil
		case err != nil && err != io.EOF:
			return fmt.Errorf("libotr: reading: %w", err)
		}
		if len(line) > maxLine {
			return fmt.Errorf("%w: line %d: longer than %d bytes", ErrMalformed, n, maxLine)
		}
		if len(line) > 0 && line[len(line)-1] == '\n' {
			line = line[:len(line)-1]
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
		}
		if err := fn(n, line); err != nil {
			return err
		}
		if err == io.EOF {
			return nil
		}
	}
}

// checkField rejects, in a field of a line, what would break the line:
// tabs, line ends and NUL bytes (libotr keeps fields as C strings).
func checkField(f string, mayBeEmpty bool) error {
	if f == "" && !mayBeEmpty {
		return errors.New("empty")
	}
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case '\t', '\n', '\r', 0:
			return fmt.Errorf("contains the byte %#02x", f[i])
		}
	}
	return nil
}
