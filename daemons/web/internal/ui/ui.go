package ui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/buildinfo"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/auth"
)

//go:embed assets templates
var files embed.FS

// Config is what the UI needs.
type Config struct {
	// Token is the access token the login checks.
	Token string
	// Sessions keeps the logins.
	Sessions *auth.Sessions
	// Limiter rate-limits failed logins (nil: none).
	Limiter *auth.Limiter
	// Public is TEROK_PUBLIC_URL: the browser-facing base URL behind a
	// reverse proxy, e.g. https://terok.example.com/terok (nil for none).
	Public *url.URL
	// FrameSource is the Content-Security-Policy source of the task UIs
	// the task page may embed, for a request (nil: none).
	FrameSource func(r *http.Request) string
	// TokenFile is where the access token is kept, named on the login
	// page ("" when TEROK_WEB_TOKEN fixes it and no file holds it).
	TokenFile string
	// InImage says terok-web runs in the Docker image, where the login
	// page points to docker logs (of ContainerID, the container's short
	// id, when known).
	InImage     bool
	ContainerID string
	Log         zerolog.Logger
}

// UI serves the pages and hands every other path (/api/..., /tasks/...)
// to next.
type UI struct {
	cfg    Config
	pub    *url.URL
	next   http.Handler
	mux    *http.ServeMux
	tmpl   *template.Template
	assets map[string]asset
	// AssetVersion changes when any asset changes (cache busting).
	assetVersion string
}

type asset struct {
	raw, gz []byte
	ctype   string
}

// pages maps a route to the page app.js renders there.
var pages = map[string]string{
	"GET /{$}":                   "overview",
	"GET /new-project":           "newproject",
	"GET /project/{name}":        "project",
	"GET /project/{name}/review": "review",
	"GET /task/{id}":             "task",
	"GET /daemons":               "daemons",
	"GET /secrets":               "secrets",
}

// New builds the UI in front of next (the authenticated API and task
// proxies).
func New(cfg Config, next http.Handler) (*UI, error) {
	if cfg.Sessions == nil {
		return nil, errors.New("ui: no session store")
	}
	u := &UI{cfg: cfg, next: next, mux: http.NewServeMux(), assets: map[string]asset{}}
	if cfg.Public != nil {
		p := *cfg.Public
		p.Path = strings.TrimSuffix(p.Path, "/")
		u.pub = &p
	}
	t, err := template.New("").ParseFS(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	u.tmpl = t
	h := sha256.New()
	err = fs.WalkDir(files, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		h.Write(b)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "text/plain; charset=utf-8"
		}
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		u.assets[strings.TrimPrefix(p, "assets/")] = asset{raw: b, gz: z.Bytes(), ctype: ct}
		return nil
	})
	if err != nil {
		return nil, err
	}
	u.assetVersion = hex.EncodeToString(h.Sum(nil))[:12]
	for pat, page := range pages {
		u.mux.HandleFunc(pat, u.page(page))
	}
	u.mux.HandleFunc("GET /static/{file...}", u.static)
	u.mux.HandleFunc("GET /login", u.loginForm)
	u.mux.HandleFunc("POST /login", u.login)
	u.mux.HandleFunc("POST /logout", u.logout)
	// Task UIs used to be proxied here; they have their own origins now.
	u.mux.HandleFunc("GET /tasks/{id}/ui/{rest...}", u.oldTaskUI)
	u.mux.HandleFunc("GET /tasks/{id}/ui", u.oldTaskUI)
	u.mux.Handle("/", next)
	return u, nil
}

// ServeHTTP implements http.Handler.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) { u.mux.ServeHTTP(w, r) }

// Base is the path prefix links need for this request: the path of
// TEROK_PUBLIC_URL when the request came through its host, else "".
func (u *UI) Base(r *http.Request) string {
	if u.pub != nil && u.viaPublic(r) {
		return u.pub.Path
	}
	return ""
}

func (u *UI) viaPublic(r *http.Request) bool {
	if u.pub == nil {
		return false
	}
	host := r.Host
	if fh := r.Header.Get("X-Forwarded-Host"); fh != "" {
		host = fh
	}
	return strings.EqualFold(host, u.pub.Host) || strings.EqualFold(host, u.pub.Hostname()) && u.pub.Port() == ""
}

func (u *UI) secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") ||
		u.pub != nil && u.pub.Scheme == "https" && u.viaPublic(r)
}

// session returns the request's live session, if any.
func (u *UI) session(r *http.Request) (auth.Session, string, bool) {
	c, err := r.Cookie(u.cfg.Sessions.CookieName())
	if err != nil || c.Value == "" {
		return auth.Session{}, "", false
	}
	s, ok := u.cfg.Sessions.Lookup(c.Value)
	return s, c.Value, ok
}

// setSession sets (value) or clears ("") the session cookie.
func (u *UI) setSession(w http.ResponseWriter, r *http.Request, value string) {
	maxAge := int(u.cfg.Sessions.Max() / time.Second)
	if value == "" {
		maxAge = -1
	}
	http.SetCookie(w, &http.Cookie{Name: u.cfg.Sessions.CookieName(), Value: value, Path: u.Base(r) + "/",
		MaxAge: maxAge, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: u.secure(r)})
}

// checkToken compares a login's token, under the failed-login limit: a
// *auth.LimitedError when the client is locked out (the token is then not
// compared), auth.ErrBadCredential when wrong.
func (u *UI) checkToken(r *http.Request, tok string) error {
	addr := auth.ClientAddr(r)
	if err := u.cfg.Limiter.Check(addr); err != nil {
		return err
	}
	if tok == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(u.cfg.Token)) != 1 {
		u.cfg.Limiter.Fail(addr)
		return auth.ErrBadCredential
	}
	return nil
}

// loginFailed answers a refused login: 429 (locked out) or 401 with the
// form.
func (u *UI) loginFailed(w http.ResponseWriter, r *http.Request, err error, next, msg string) {
	var le *auth.LimitedError
	status := http.StatusUnauthorized
	if errors.As(err, &le) {
		w.Header().Set("Retry-After", fmt.Sprint(int(le.Retry/time.Second)+1))
		status, msg = http.StatusTooManyRequests, "Too many failed logins: "+le.Error()+"."
	}
	u.render(w, r, status, "login.html", pageData{Page: "login", Title: "Log in", Next: next, Error: msg})
}

// login starts a session and sends the browser to next.
func (u *UI) startSession(w http.ResponseWriter, r *http.Request, next string) {
	value, _, err := u.cfg.Sessions.Create()
	if err != nil {
		u.cfg.Log.Error().Err(err).Msg("create a session")
		headers(w)
		http.Error(w, "terok-web could not keep the login: "+err.Error(), http.StatusInternalServerError)
		return
	}
	u.setSession(w, r, value)
	http.Redirect(w, r, u.Base(r)+next, http.StatusSeeOther)
}

// oldTaskUI sends the old /tasks/ID/ui/ address to the task's page,
// which links to the UI at its own address.
func (u *UI) oldTaskUI(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, u.Base(r)+"/task/"+url.PathEscape(r.PathValue("id")), http.StatusSeeOther)
}

// csp is the pages' Content-Security-Policy; frames names the task UIs
// the page may embed ("" for none).
func csp(frames string) string {
	if frames != "" {
		frames = " " + frames
	}
	return "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-src 'self'" + frames +
		"; frame-ancestors 'self'; base-uri 'none'; form-action 'self'"
}

// security headers for every page.
func headers(w http.ResponseWriter) {
	w.Header().Set("Content-Security-Policy", csp(""))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
}

// pageData fills the layout.
type pageData struct {
	Page, Title, Base, Static, Error, Next, CSRF string
	Config                                       template.JS
	// Hint is the login page's: where the login URL and the token are.
	Hint LoginHint
}

// LoginHint tells the login page where the user finds the login URL.
type LoginHint struct {
	// InImage: the banner in docker logs shows the URL.
	InImage bool
	// Logs is the command that shows it there ("" when the container's
	// id is unknown).
	Logs string
	// TokenFile is where the token is kept ("" when TEROK_WEB_TOKEN
	// fixes it).
	TokenFile string
}

// hint is the login page's hint.
func (u *UI) hint() LoginHint {
	h := LoginHint{InImage: u.cfg.InImage, TokenFile: u.cfg.TokenFile}
	if u.cfg.InImage && u.cfg.ContainerID != "" {
		h.Logs = "docker logs " + u.cfg.ContainerID
	}
	return h
}

// tokenSource says where the token is: its file, or the variable that
// fixes it.
func (u *UI) tokenSource() string {
	if u.cfg.TokenFile == "" {
		return "the value TEROK_WEB_TOKEN gives"
	}
	return "the token from " + u.cfg.TokenFile
}

// whereURL says where the login URL is printed.
func (u *UI) whereURL() string {
	h := u.hint()
	switch {
	case h.Logs != "":
		return "the banner of " + h.Logs + " on the Docker host shows it"
	case h.InImage:
		return "the banner in docker logs of terok's container on the Docker host shows it"
	}
	return "terok web url prints it"
}

func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, d pageData) {
	d.Base = u.Base(r)
	d.Static = d.Base + "/static/"
	if d.Page == "login" {
		d.Hint = u.hint()
	}
	headers(w)
	if u.cfg.FrameSource != nil && d.Page == "task" {
		w.Header().Set("Content-Security-Policy", csp(u.cfg.FrameSource(r)))
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var b bytes.Buffer
	if err := u.tmpl.ExecuteTemplate(&b, name, struct {
		pageData
		V string
	}{d, u.assetVersion}); err != nil {
		u.cfg.Log.Error().Err(err).Str("page", d.Page).Msg("render")
		http.Error(w, "render: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// page serves one page shell; ?token= logs in first.
func (u *UI) page(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if q := r.URL.Query(); q.Has("token") {
			tok := q.Get("token")
			q.Del("token")
			dest := r.URL.Path
			if len(q) > 0 {
				dest += "?" + q.Encode()
			}
			if err := u.checkToken(r, tok); err != nil {
				u.loginFailed(w, r, err, safeNext(dest), "That access token is not right: copy the login URL again ("+u.whereURL()+").")
				return
			}
			u.startSession(w, r, dest)
			return
		}
		sess, _, ok := u.session(r)
		if !ok {
			http.Redirect(w, r, u.Base(r)+"/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		cfg, _ := json.Marshal(map[string]any{
			"page": name, "base": u.Base(r), "csrf": sess.CSRF,
			"name": r.PathValue("name"), "id": r.PathValue("id"),
			"version": buildinfo.Version,
		})
		u.render(w, r, http.StatusOK, "page.html", pageData{Page: name, Title: title(name), CSRF: sess.CSRF, Config: template.JS(cfg)})
	}
}

func title(page string) string {
	switch page {
	case "overview":
		return "Overview"
	case "newproject":
		return "New project"
	case "project":
		return "Project"
	case "review":
		return "Review"
	case "task":
		return "Task"
	case "daemons":
		return "Daemon logs"
	case "secrets":
		return "Secrets"
	}
	return "terok"
}

// safeNext keeps a post-login redirect on this site: a path of this
// origin ("/..."), else "/". Refused: "//host" and "/\\host" (other
// hosts), a scheme, and any control character — browsers drop TAB, CR and
// LF from URLs, so "/\t/evil.example" would become "//evil.example".
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/"
	}
	for _, c := range next {
		if c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) {
			return "/"
		}
	}
	// A path whose decoded form leaves the origin is refused too.
	if dec, err := url.PathUnescape(next); err != nil || strings.HasPrefix(dec, "//") || strings.Contains(dec, "\\") || strings.ContainsAny(dec, "\x00\t\r\n") {
		return "/"
	}
	return next
}

func (u *UI) loginForm(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := u.session(r); ok {
		http.Redirect(w, r, u.Base(r)+safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	u.render(w, r, http.StatusOK, "login.html", pageData{Page: "login", Title: "Log in", Next: safeNext(r.URL.Query().Get("next"))})
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	next := safeNext(r.FormValue("next"))
	if err := u.checkToken(r, strings.TrimSpace(r.FormValue("token"))); err != nil {
		u.loginFailed(w, r, err, next, "That access token is not right. Copy the login URL ("+u.whereURL()+"), or "+u.tokenSource()+".")
		return
	}
	u.startSession(w, r, next)
}

// logout ends the session (server-side: the cookie is worthless after).
// It needs the session's CSRF value (a form field) so a foreign page
// cannot log the user out.
func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	sess, value, ok := u.session(r)
	if !ok {
		u.setSession(w, r, "")
		http.Redirect(w, r, u.Base(r)+"/login", http.StatusSeeOther)
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.FormValue("csrf")), []byte(sess.CSRF)) != 1 || auth.CrossSite(r) {
		headers(w)
		http.Error(w, "logout needs the page's CSRF token: use the Log out button", http.StatusForbidden)
		return
	}
	if err := u.cfg.Sessions.Revoke(value); err != nil {
		u.cfg.Log.Error().Err(err).Msg("revoke a session")
	}
	u.setSession(w, r, "")
	http.Redirect(w, r, u.Base(r)+"/login", http.StatusSeeOther)
}

func (u *UI) static(w http.ResponseWriter, r *http.Request) {
	a, ok := u.assets[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", a.ctype)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.URL.Query().Get("v") == u.assetVersion {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Header().Set("Vary", "Accept-Encoding")
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(a.gz)
		return
	}
	w.Write(a.raw)
}
