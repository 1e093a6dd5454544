package secret

import (
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestHashPasswordRoundTrip(t *testing.T) {
	h := HashPassword("correct horse")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not an argon2id PHC string with our parameters", h)
	}
	if ok, err := CheckPassword(h, "correct horse"); !ok || err != nil {
		t.Fatalf("right password: ok=%v err=%v", ok, err)
	}
	if ok, err := CheckPassword(h, "correct horsf"); ok || err != nil {
		t.Fatalf("wrong password: ok=%v err=%v", ok, err)
	}
	if HashPassword("correct horse") == h {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
}

func TestCheckPasswordRejectsMalformedHashes(t *testing.T) {
	for _, h := range []string{"", "plain", "$2a$10$bcrypt", "$argon2id$v=19$m=x$a$b", "$argon2id$v=18$m=1,t=1,p=1$AAAA$AAAA"} {
		if _, err := CheckPassword(h, "pw"); err == nil {
			t.Errorf("CheckPassword(%q) accepted a malformed hash", h)
		}
	}
}

func TestNewTokenIsPrefixedRandomAndHashesStably(t *testing.T) {
	a, b := NewToken("berth_"), NewToken("berth_")
	if a == b || !strings.HasPrefix(a, "berth_") || len(a) < len("berth_")+43 {
		t.Fatalf("tokens %q %q: want distinct, prefixed, 32 random bytes", a, b)
	}
	first, again := Hash(a), Hash(a)
	if first != again || first == Hash(b) || len(first) != 64 {
		t.Fatal("Hash is not a stable hex SHA-256")
	}
}

// TestPasswordHashingIsBounded runs many hashes at once and watches how many
// hold argon2id's memory together: never more than the slots allow.
func TestPasswordHashingIsBounded(t *testing.T) {
	const callers = 24
	hash := HashPassword("correct-horse")
	var wg sync.WaitGroup
	done := make(chan struct{})
	for i := range callers {
		wg.Go(func() {
			if i%2 == 0 {
				HashPassword("correct-horse")
			} else if ok, err := CheckPassword(hash, "correct-horse"); !ok || err != nil {
				t.Errorf("CheckPassword = %v, %v", ok, err)
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	var peak int32
	limit := int32(cap(hashSlots))
	for {
		select {
		case <-done:
			if peak < 1 || peak > limit {
				t.Fatalf("peak concurrent hashes %d, want 1..%d", peak, limit)
			}
			return
		default:
			peak = max(peak, hashesRunning.Load())
			runtime.Gosched()
		}
	}
}

// TestHashSlotsAreBoundedByMemory checks the slot count against the cores:
// one per core, at least two, and never more than four, whose 76 MiB keep
// within the panel's memory aim on a host of many cores.
func TestHashSlotsAreBoundedByMemory(t *testing.T) {
	for _, c := range []struct{ procs, want int }{{1, 2}, {2, 2}, {3, 3}, {4, 4}, {16, 4}, {128, 4}} {
		if got := slotsFor(c.procs); got != c.want {
			t.Errorf("slotsFor(%d) = %d, want %d", c.procs, got, c.want)
		}
	}
	if want := slotsFor(runtime.GOMAXPROCS(0)); cap(hashSlots) != want {
		t.Errorf("hash slots %d, want %d", cap(hashSlots), want)
	}
}
