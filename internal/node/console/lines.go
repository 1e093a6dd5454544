package console

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// MaxLineBytes splits longer output lines.
const MaxLineBytes = 64 << 10

// ReadLines reads r line by line until it ends or fails, calling fn with
// each line without its line ending. fn must not keep the slice.
func ReadLines(r io.Reader, fn func(line []byte)) {
	br := bufio.NewReaderSize(r, MaxLineBytes)
	for {
		raw, err := br.ReadSlice('\n')
		if len(raw) > 0 {
			line := bytes.TrimSuffix(raw, []byte("\n"))
			fn(bytes.TrimRight(line, "\r"))
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}
