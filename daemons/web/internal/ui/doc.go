// Package ui is terok-web's browser interface, served on the TCP listener
// at /. Pages are html/template shells (layout, navigation, the CSRF
// token and the base path); their content is filled in the browser by
// assets/app.js from the public REST API (/api/v1/...) and the events
// WebSocket, with the session cookie — so whatever a page does, a script
// can do with the same API. Assets (app.js, app.css and the vendored
// xterm.js) are embedded with go:embed and never loaded from elsewhere
// (the Content-Security-Policy says so to the browser too).
//
// Login: /?token=TOKEN (the URL terok-web prints) or the form at /login
// sets an HttpOnly, SameSite=Strict cookie (auth.CookieName) and
// redirects to the same page without the token; POST /logout clears it.
package ui
