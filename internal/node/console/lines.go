package console

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxLineBytes caps an output line; a longer one is cut there, with
// CutMarker after it, and the rest of it is dropped.
const MaxLineBytes = 16 << 10

// CutMarker ends a line cut at MaxLineBytes.
var CutMarker = fmt.Sprintf(" [berth: line cut at %d KiB]", MaxLineBytes>>10)

// ReadLines reads r line by line until it ends or fails, calling fn with
// each line without its line ending. fn must not keep the slice.
func ReadLines(r io.Reader, fn func(line []byte)) {
	br := bufio.NewReaderSize(r, MaxLineBytes)
	cutting := false
	for {
		raw, err := br.ReadSlice('\n')
		full := errors.Is(err, bufio.ErrBufferFull)
		switch {
		case cutting:
			// The rest of a cut line, up to its end.
		case full:
			fn(append(raw[:len(raw):len(raw)], CutMarker...))
		case len(raw) > 0:
			line := bytes.TrimSuffix(raw, []byte("\n"))
			fn(bytes.TrimRight(line, "\r"))
		}
		cutting = full
		if err != nil && !full {
			return
		}
	}
}
