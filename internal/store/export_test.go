package store

import "context"

// ExecRaw runs one statement as written, placeholders aside, for tests
// that must set up what Berth itself never writes: a corrupt row, a
// column's collation.
func ExecRaw(ctx context.Context, s *Store, query string, args ...any) error {
	_, err := s.write.ExecContext(ctx, s.q(query), args...)
	return err
}
