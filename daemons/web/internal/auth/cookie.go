package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
)

// CookieName is the browser session cookie set by the UI's login.
const CookieName = "terok_session"

// CSRFHeader carries the CSRF token on every mutation a browser makes
// with the session cookie.
const CSRFHeader = "X-Terok-CSRF"

// derive is HMAC-SHA256(token, purpose) in hex: values a browser may hold
// without holding the token itself.
func derive(token, purpose string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte(purpose))
	return hex.EncodeToString(m.Sum(nil))
}

// SessionValue is the session cookie's value for token.
func SessionValue(token string) string { return derive(token, "terok-web session v1") }

// CSRFValue is the CSRF token pages send in CSRFHeader for token.
func CSRFValue(token string) string { return derive(token, "terok-web csrf v1") }

// safe reports whether a method only reads.
func safe(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// Cookie accepts the session cookie the UI's login sets. A mutation
// (anything but GET, HEAD, OPTIONS) must also carry CSRFHeader with
// CSRFValue, which only pages served to the logged-in browser know; a
// WebSocket upgrade is a GET whose Origin the handler checks.
func Cookie(token string) Method {
	sess, csrf := []byte(SessionValue(token)), []byte(CSRFValue(token))
	return func(r *http.Request) bool {
		c, err := r.Cookie(CookieName)
		if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), sess) != 1 {
			return false
		}
		if safe(r.Method) {
			return true
		}
		return subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), csrf) == 1
	}
}
