package console

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/berth-dev/berth/internal/nodeapi"
)

// Frame encoders. Output frames are built by hand: they are the hot path,
// one per line per client.

// OutputFrame is an output event of line.
func OutputFrame(line string) []byte {
	b := make([]byte, 0, len(line)+32)
	b = append(b, `{"event":"output","data":`...)
	b = appendJSONString(b, line)
	return append(b, '}')
}

// StatusFrame is a status event of state.
func StatusFrame(state string) []byte {
	b := make([]byte, 0, 48)
	b = append(b, `{"event":"status","data":`...)
	b = appendJSONString(b, state)
	return append(b, '}')
}

// ErrorFrame is an error event of msg.
func ErrorFrame(msg string) []byte {
	b := make([]byte, 0, len(msg)+32)
	b = append(b, `{"event":"error","data":`...)
	b = appendJSONString(b, msg)
	return append(b, '}')
}

// StatsFrame is a stats event of st.
func StatsFrame(st nodeapi.Stats) []byte {
	data, _ := json.Marshal(st)
	b := make([]byte, 0, len(data)+32)
	b = append(b, `{"event":"stats","data":`...)
	b = append(b, data...)
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, as encoding/json would
// (without its HTML escaping): control characters escaped, invalid UTF-8
// replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
