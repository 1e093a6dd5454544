package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/berth-dev/berth/internal/fault"
)

// TwoFactor is a user's TOTP setting. Secret is what the authenticator app
// was given; it is kept as it is, since checking a code needs it.
type TwoFactor struct {
	UserID  string
	Secret  string
	Enabled bool
	// LastStep is the newest TOTP step a code was accepted for; codes of
	// that step or before are refused.
	LastStep int64
}

// TwoFactorOf returns a user's two-factor setting; NotExist when the user
// never set it up, or turned it off.
func (s *Store) TwoFactorOf(ctx context.Context, userID string) (TwoFactor, error) {
	tf := TwoFactor{UserID: userID}
	var enabled int
	err := s.queryRow(ctx, `SELECT secret, enabled, last_step FROM two_factor WHERE user_id = ?`, userID).
		Scan(&tf.Secret, &enabled, &tf.LastStep)
	if err != nil {
		return TwoFactor{}, notFound(err, "two-factor setting")
	}
	tf.Enabled = enabled != 0
	return tf, nil
}

// StartTwoFactor stores a new, not yet enabled secret for a user, replacing
// an earlier unfinished setup. With two-factor already enabled it is a
// Conflict: the secret in use is never replaced behind the user's back.
func (s *Store) StartTwoFactor(ctx context.Context, userID, secret string, at time.Time) error {
	res, err := s.execQuiet(ctx, `INSERT INTO two_factor (user_id, secret, enabled, last_step, created_at) VALUES (?, ?, 0, 0, ?)
		ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, last_step = 0, created_at = excluded.created_at
		WHERE two_factor.enabled = 0`, userID, secret, millis(at))
	if foreignKeyViolation(err) {
		return fault.New(fault.NotExist, "User not found")
	}
	if err != nil {
		return fmt.Errorf("start two-factor: %w", err)
	}
	n, err := rowsChanged(res)
	if err == nil && n == 0 {
		err = fault.New(fault.Conflict, "two-factor is already enabled; disable it first")
	}
	return err
}

// EnableTwoFactor turns on a set-up secret whose code of step was just
// checked, and replaces the user's recovery codes with codeHashes. Without
// a setup, or with two-factor already on, it is a Conflict; a step not
// after the last used one is too (the code was used already).
func (s *Store) EnableTwoFactor(ctx context.Context, userID string, step int64, codeHashes []string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE two_factor SET enabled = 1, last_step = ?
			WHERE user_id = ? AND enabled = 0 AND last_step < ?`), step, userID, step)
		if err != nil {
			return fmt.Errorf("enable two-factor: %w", err)
		}
		n, err := rowsChanged(res)
		if err == nil && n == 0 {
			err = fault.New(fault.Conflict, "two-factor is not being set up, or the code was used already: run setup first")
		}
		if err != nil {
			return err
		}
		return replaceRecoveryCodes(ctx, s, tx, userID, codeHashes)
	})
}

func replaceRecoveryCodes(ctx context.Context, s *Store, tx *sql.Tx, userID string, codeHashes []string) error {
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM recovery_codes WHERE user_id = ?`), userID); err != nil {
		return fmt.Errorf("recovery codes: %w", err)
	}
	for _, h := range codeHashes {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)`), userID, h); err != nil {
			return fmt.Errorf("recovery codes: %w", err)
		}
	}
	return nil
}

// UseTOTPStep records that a code of step was accepted for a user with
// two-factor enabled. It reports false when that step, or a later one, was
// used already: a replay, or a race with another sign-in that won.
func (s *Store) UseTOTPStep(ctx context.Context, userID string, step int64) (bool, error) {
	res, err := s.execQuiet(ctx, `UPDATE two_factor SET last_step = ? WHERE user_id = ? AND enabled = 1 AND last_step < ?`,
		step, userID, step)
	if err != nil {
		return false, fmt.Errorf("use totp step: %w", err)
	}
	n, err := rowsChanged(res)
	return n == 1, err
}

// UseRecoveryCode spends the user's unused recovery code that hashes to
// codeHash, and reports whether there was one: each works once.
func (s *Store) UseRecoveryCode(ctx context.Context, userID, codeHash string, at time.Time) (bool, error) {
	res, err := s.execQuiet(ctx, `UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at = 0`,
		millis(at), userID, codeHash)
	if err != nil {
		return false, fmt.Errorf("use recovery code: %w", err)
	}
	n, err := rowsChanged(res)
	return n == 1, err
}

// DisableTwoFactor turns a user's two-factor off and drops the recovery
// codes; a user without it is left as it is. An unknown user is NotExist.
func (s *Store) DisableTwoFactor(ctx context.Context, userID string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		ok, err := userExists(ctx, s, tx, userID)
		if err != nil {
			return fmt.Errorf("disable two-factor: %w", err)
		}
		if !ok {
			return fault.New(fault.NotExist, "User not found")
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM two_factor WHERE user_id = ?`), userID); err != nil {
			return fmt.Errorf("disable two-factor: %w", err)
		}
		return replaceRecoveryCodes(ctx, s, tx, userID, nil)
	})
}
