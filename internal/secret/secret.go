// Package secret makes and checks Berth's credentials: random tokens shown
// once and stored as SHA-256 (API keys, node tokens, configure keys), and
// argon2id password hashes in the PHC string format.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// NewToken returns prefix followed by 32 random bytes, base64url-encoded.
func NewToken(prefix string) string {
	b := make([]byte, 32)
	rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// Hash is the form in which tokens are stored: hex SHA-256. Tokens carry 256
// bits of randomness, so a fast hash is enough; passwords are another matter.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Argon2id parameters: OWASP's recommended minimum (19 MiB, 2 passes, 1
// lane), which keeps twenty concurrent sign-ups within a small machine.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// hashSlots bounds how many argon2id computations run at once. Each holds
// argonMemory (19 MiB) for its duration, and nothing else bounds them: 200
// parallel sign-ins would otherwise hold nearly 4 GiB. More callers than
// cores gain no speed anyway, so the rest wait their turn; none fails.
var hashSlots = make(chan struct{}, slotsFor(runtime.GOMAXPROCS(0)))

// maxHashSlots caps the slots whatever the cores: 4 × 19 MiB, about 76
// MiB, keeps hashing well inside the panel's memory aim of 300 MB (issue
// 8), where one slot per core would take 304 MiB on a 16-core host.
const maxHashSlots = 4

// slotsFor is how many argon2id computations may run at once on procs
// cores: one per core, at least two, at most maxHashSlots.
func slotsFor(procs int) int { return min(max(2, procs), maxHashSlots) }

// hashesRunning counts the computations holding a slot, for tests.
var hashesRunning atomic.Int32

// idKey is argon2.IDKey run in one of the bounded slots.
func idKey(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	hashSlots <- struct{}{}
	hashesRunning.Add(1)
	defer func() {
		hashesRunning.Add(-1)
		<-hashSlots
	}()
	return argon2.IDKey(password, salt, time, memory, threads, keyLen)
}

// HashPassword returns the argon2id hash of password as a PHC string.
func HashPassword(password string) string {
	salt := make([]byte, argonSaltLen)
	rand.Read(salt)
	key := idKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// ErrMalformedHash reports a stored hash that is not an argon2id PHC string.
var ErrMalformedHash = errors.New("secret: malformed argon2id hash")

// CheckPassword reports whether password matches the PHC hash, comparing in
// constant time and honouring the parameters stored in the hash.
func CheckPassword(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, ErrMalformedHash
	}
	var version int
	var mem, iter uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, ErrMalformedHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &iter, &threads); err != nil {
		return false, ErrMalformedHash
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, ErrMalformedHash
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, ErrMalformedHash
	}
	got := idKey([]byte(password), salt, iter, mem, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
