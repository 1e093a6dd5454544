package console

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of what a client sends.
const (
	// MaxMessage caps a client's frames; a command is one line.
	MaxMessage = 16 << 10
	// MaxCommandBytes caps one command.
	MaxCommandBytes = 4096
)

// CheckCommand refuses a command that is not one line of text.
func CheckCommand(line string) error {
	switch {
	case strings.TrimSpace(line) == "":
		return errors.New("command is empty")
	case len(line) > MaxCommandBytes:
		return fmt.Errorf("command is longer than %d bytes", MaxCommandBytes)
	case !utf8.ValidString(line):
		return errors.New("command is not valid UTF-8")
	case strings.ContainsFunc(line, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }):
		return errors.New("command must be one line without control characters")
	}
	return nil
}

// RateLimiter is a token bucket of rate tokens a second, rate deep.
type RateLimiter struct {
	rate   float64
	tokens float64
	last   time.Time
}

// NewRateLimiter returns a full bucket of rate tokens.
func NewRateLimiter(rate int) *RateLimiter {
	return &RateLimiter{rate: float64(rate), tokens: float64(rate)}
}

// Allow takes a token at now, and reports whether there was one.
func (l *RateLimiter) Allow(now time.Time) bool {
	if !l.last.IsZero() {
		l.tokens = min(l.rate, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	}
	l.last = now
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}
