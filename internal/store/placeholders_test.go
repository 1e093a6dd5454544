package store

import "testing"

func TestNumberPlaceholdersLeavesQuotedTextAlone(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT * FROM t WHERE a = ? AND b = ?`, `SELECT * FROM t WHERE a = $1 AND b = $2`},
		{`SELECT '?' FROM t WHERE a = ?`, `SELECT '?' FROM t WHERE a = $1`},
		{`UPDATE t SET a = 'why?', b = ? WHERE c = ?`, `UPDATE t SET a = 'why?', b = $1 WHERE c = $2`},
		{`SELECT 'it''s ?' || ?`, `SELECT 'it''s ?' || $1`},
		{`SELECT "odd?name" FROM t WHERE "x""?" = ?`, `SELECT "odd?name" FROM t WHERE "x""?" = $1`},
		{`SELECT '"?' , ? , "'?"`, `SELECT '"?' , $1 , "'?"`},
		{"SELECT a -- is it ?\nFROM t WHERE a = ?", "SELECT a -- is it ?\nFROM t WHERE a = $1"},
		{`SELECT ? -- trailing ?`, `SELECT $1 -- trailing ?`},
		{`SELECT a - ? FROM t`, `SELECT a - $1 FROM t`},
		{`SELECT ?,?,?,?,?,?,?,?,?,?`, `SELECT $1,$2,$3,$4,$5,$6,$7,$8,$9,$10`},
	} {
		if got := numberPlaceholders(c.in); got != c.want {
			t.Errorf("numberPlaceholders(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}
