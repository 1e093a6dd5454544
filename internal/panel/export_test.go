package panel

// PasswordChecks is how many argon2id password checks s has run.
func PasswordChecks(s *Server) int64 { return s.passwordChecks.Load() }

// DummyPasswordHash is the hash an unknown user's sign-in is checked
// against.
const DummyPasswordHash = dummyPasswordHash
