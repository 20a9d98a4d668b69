// Package accesstoken is the one rule for terok's access tokens (the web
// token, the gate's admin token) and the one way to make one: at least
// MinLen characters, all of them safe in a URL without escaping (a login
// URL and a clone URL carry them).
package accesstoken

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// MinLen is the shortest token accepted.
const MinLen = 16

// Chars are the characters a token may hold.
const Chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-"

// Check says why tok cannot serve as a token (nil when it can).
func Check(tok string) error {
	if len(tok) < MinLen {
		return fmt.Errorf("has %d characters, fewer than %d", len(tok), MinLen)
	}
	if strings.Trim(tok, Chars) != "" {
		return errors.New("may only hold letters, digits, '.', '_', '~' and '-' (it is used in URLs)")
	}
	return nil
}

// New returns prefix followed by 32 random hex digits.
func New(prefix string) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return prefix + hex.EncodeToString(b[:]), nil
}
