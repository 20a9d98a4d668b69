// Package auth guards terok-web's TCP listeners.
//
//   - The access token (LoadToken) as "Authorization: Bearer TOKEN" (a
//     WebSocket upgrade may pass it as ?token=): scripts and the CLI.
//   - Browser sessions (Sessions): random ids from crypto/rand, kept
//     server-side as hashes only (0600, atomic writes, so a restart keeps
//     logins), with an idle and an absolute expiry, revoked on logout and
//     all dropped when the access token changes. The cookie's name carries
//     this instance's id (Instance), so two terok instances on one host
//     keep their logins apart. A mutation made with the cookie must carry
//     the session's CSRF value (random per session) in CSRFHeader, and a
//     request the browser marks as coming from another origin
//     (Sec-Fetch-Site) is refused whatever its method.
//   - Failed logins are rate-limited per client address and overall
//     (Limiter), answered 429 with when to retry.
//   - Hosts refuses requests whose Host names a host terok does not know
//     (DNS rebinding), and SameOrigin checks a WebSocket's Origin against
//     the request's own origin exactly (scheme, host and port).
//
// Require puts the caller's Identity in the request's context: how it
// authenticated (bearer, cookie; web.sock's callers have none and count as
// the socket) and which session.
package auth
