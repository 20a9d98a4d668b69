package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"github.com/terok-ai/terok-in-docker/e2e/e2ekit"
)

// agentSlowPush prints a line, waits (so the browser sees the log grow
// while the task runs), then pushes a branch like agentPush.
const agentSlowPush = `set -e
echo "step-one: thinking"
sleep 4
printf '%s\n' "$TEROK_PROMPT" > PROMPT.txt
printf 'line two\n' >> PROMPT.txt
git add PROMPT.txt
git commit -qm "agent: $TEROK_PROMPT"
git push -q
printf '\033[32mpushed-ok\033[0m\n'`

// TestBrowser drives Debian's Chromium (headless, chromedp) through the UI
// against the real tree under terok-supervisord: directly on terok-web's
// listener, then behind a real nginx with TLS, at / and under a path
// prefix (TEROK_PUBLIC_URL).
func TestBrowser(t *testing.T) {
	b := newBrowser(t)
	ngx := newNginx(t)
	// terok-web on 127.0.0.2: nginx publishes the task ports on
	// 127.0.0.1, the host of TEROK_PUBLIC_URL.
	tr := startTreeOn(t, "127.0.0.2", "TEROK_PUBLIC_URL="+ngx.publicURL(), "TEROK_PUBLIC_HOST="+ngx.taskHost)
	tr.waitRunning(t)
	importTaskImage(t, tr)
	up := upstream(t, tr)
	ngx.start(t, tr.webAddr)
	// Leave no task containers behind in the test user's Podman.
	t.Cleanup(func() { removeTasks(t, tr) })

	login := strings.TrimSpace(tr.mustTerok(t, "web", "url"))
	i := strings.Index(login, "?token=")
	if i < 0 || !strings.HasPrefix(login, ngx.publicURL()+"/") {
		t.Fatalf("terok web url %q: want %s/?token=... (TEROK_PUBLIC_URL)", login, ngx.publicURL())
	}
	token := login[i+len("?token="):]
	direct := "http://" + tr.webAddr

	t.Run("no token", func(t *testing.T) { testBrowserNoToken(t, b, direct, token) })
	t.Run("login", func(t *testing.T) { testBrowserLogin(t, b, direct, token, "direct") })
	t.Run("project", func(t *testing.T) { testBrowserProject(t, b, direct, up, "web1", "direct") })
	var taskID string
	t.Run("headless task live log", func(t *testing.T) { taskID = testBrowserHeadless(t, b, direct, "web1", "direct") })
	t.Run("review and promote", func(t *testing.T) { testBrowserReview(t, b, tr, direct, up, "web1", taskID, "direct") })
	t.Run("follow-up and delete", func(t *testing.T) { testBrowserFollowupDelete(t, b, direct, taskID) })
	t.Run("stop", func(t *testing.T) { testBrowserStop(t, b, direct, "web1", "direct") })
	t.Run("shield allow", func(t *testing.T) { testBrowserShield(t, b, direct, "web1") })
	t.Run("terminal", func(t *testing.T) { testBrowserTerminal(t, b, direct, "web1") })
	t.Run("panic and back", func(t *testing.T) { testBrowserPanic(t, b, tr, direct, "web1") })
	t.Run("web task", func(t *testing.T) { testBrowserWebTask(t, b, direct, "127.0.0.2") })
	t.Run("image import", func(t *testing.T) { testBrowserImage(t, b, direct) })
	t.Run("size units", func(t *testing.T) { checkSizeUnits(t, b, direct) })
	t.Run("error words", func(t *testing.T) { checkErrorWords(t, b, tr, direct) })
	t.Run("daemon log filter", func(t *testing.T) { checkDaemonLogEmpty(t, b, tr, direct) })
	t.Run("daemon restart", func(t *testing.T) { testBrowserDaemons(t, b, direct, "direct") })
	t.Run("daemon down", func(t *testing.T) { testBrowserDaemonDown(t, b, tr, direct) })
	t.Run("dark", func(t *testing.T) { testBrowserDark(t, b, direct, "web1") })
	t.Run("keyboard", func(t *testing.T) { testBrowserKeyboard(t, b, direct) })
	t.Run("cross origin", func(t *testing.T) { testBrowserCrossOrigin(t, b, tr, direct, token) })

	// Behind nginx (TLS, wss://), under /terok with TEROK_PUBLIC_URL.
	pfx := ngx.publicURL()
	t.Run("nginx prefix", func(t *testing.T) {
		b.open(t, login) // the printed login URL, as a user would click it
		if u := b.url(t); u != pfx+"/" {
			t.Fatalf("after login: %s, want %s/ (no token in the URL)", u, pfx)
		}
		b.waitText(t, "#live", "live", 30*time.Second)
		links := evalAs[[]string](t, b, `[...document.querySelectorAll('nav a')].map(a => a.href)`)
		if len(links) == 0 || !strings.HasPrefix(links[0], pfx+"/") {
			t.Fatalf("navigation links %v: want them under %s/", links, pfx)
		}
		b.shot(t, "nginx-prefix-overview")
		testBrowserProject(t, b, pfx, up, "web2", "nginx-prefix")
		id := testBrowserHeadless(t, b, pfx, "web2", "nginx-prefix")
		testBrowserReview(t, b, tr, pfx, up, "web2", id, "nginx-prefix")
		testBrowserStop(t, b, pfx, "web2", "nginx-prefix")
		testBrowserDaemons(t, b, pfx, "nginx-prefix")
		testBrowserWebTaskTLS(t, b, tr, pfx, ngx)
	})
	// At the root of its own https origin (nginx at /).
	t.Run("nginx root", func(t *testing.T) {
		root := fmt.Sprintf("https://127.0.0.1:%d", ngx.plainPort)
		testBrowserLogin(t, b, root, token, "nginx-root")
		b.open(t, root+"/project/web1")
		b.waitText(t, "#tasks", "exited", 30*time.Second)
		b.shot(t, "nginx-root-project")
		testBrowserStop(t, b, root, "web1", "nginx-root")
	})
}

func testBrowserNoToken(t *testing.T, b *browser, base, token string) {
	// The API refuses without the token (no cookie, no header).
	resp, err := http.Get(base + "/api/v1/projects")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("API without the token: HTTP %d, want 401", resp.StatusCode)
	}
	// A page sends the browser to the login form; a wrong token is refused there.
	b.open(t, base+"/daemons")
	if u := b.url(t); !strings.HasPrefix(u, base+"/login") {
		t.Fatalf("a page without the cookie went to %s, want the login form", u)
	}
	b.setValue(t, "#token", token+"x")
	b.click(t, "button[type=submit]")
	b.waitText(t, "#token-error", "not right", 30*time.Second)
	b.shot(t, "login-refused")
	api := evalAs[string](t, b, `fetch('/api/v1/projects').then(r => String(r.status))`, chromedp.EvalAwaitPromise)
	if api != "401" {
		t.Fatalf("the browser without a session reached the API: %s", api)
	}
}

func testBrowserLogin(t *testing.T, b *browser, base, token, tag string) {
	b.open(t, base+"/?token="+token)
	if u := b.url(t); u != base+"/" {
		t.Fatalf("after the login URL the browser is at %s, want %s/ (the token dropped)", u, base)
	}
	cookie := evalAs[string](t, b, `document.cookie`)
	if strings.Contains(cookie, "terok_session") {
		t.Fatalf("the session cookie is readable by scripts (not HttpOnly): %q", cookie)
	}
	b.waitText(t, "#live", "live", 30*time.Second)
	b.waitJS(t, "daemon rows", `document.querySelectorAll('#daemons tr[data-daemon]').length >= 4`, 30*time.Second)
	b.shot(t, tag+"-overview")
	if tag == "direct" {
		// Page weight and first-page time, as the browser measured them.
		perf := evalAs[struct {
			Nav   float64 `json:"nav"`
			Bytes float64 `json:"bytes"`
		}](t, b, `(() => { const n = performance.getEntriesByType('navigation')[0];
			let bytes = n.transferSize; for (const r of performance.getEntriesByType('resource')) bytes += r.transferSize || r.encodedBodySize || 0;
			return {nav: n.responseEnd - n.startTime, bytes}; })()`)
		t.Logf("overview: document in %.1f ms, %.1f KB transferred (page + assets + API calls)", perf.Nav, perf.Bytes/1024)
		if perf.Bytes > 300*1024 {
			t.Fatalf("the overview transferred %.0f KB, want under 300 KB", perf.Bytes/1024)
		}
		b.phoneShot(t, "phone-overview")
	}
}

func testBrowserProject(t *testing.T, b *browser, base, up, name, tag string) {
	b.open(t, base+"/new-project")
	// Inline errors: a bad name is refused at the field.
	b.setValue(t, "#name", "Bad Name")
	b.click(t, "#create")
	b.waitText(t, "#name-error", "lower-case", 10*time.Second)
	b.shot(t, tag+"-new-project-error")
	b.setValue(t, "#name", name)
	b.setValue(t, "#upstream_url", up)
	b.setValue(t, "#command", agentSlowPush)
	b.click(t, "#create")
	b.waitJS(t, "the project page", fmt.Sprintf(`location.pathname.endsWith('/project/%s') && document.body.dataset.ready === '1'`, name), 60*time.Second)
	b.waitJS(t, "the gate panel", `document.querySelector('#gate') && !document.querySelector('#gate').textContent.includes('Loading')`, 30*time.Second)
	b.shot(t, tag+"-project")
	// Creating it again: the server's error is shown at the name field.
	b.open(t, base+"/new-project")
	b.setValue(t, "#name", name)
	b.click(t, "#create")
	b.waitText(t, "#name-error", "exists", 30*time.Second)
	// Settings edit in place.
	b.open(t, base+"/project/"+name)
	b.setValue(t, "#default_branch", "main")
	b.click(t, "#save")
	b.waitText(t, "#settings-out", "Saved to", 30*time.Second)
	if tag == "direct" {
		b.phoneShot(t, "phone-project")
	}
}

func testBrowserHeadless(t *testing.T, b *browser, base, project, tag string) string {
	b.open(t, base+"/project/"+project)
	b.setValue(t, "#task-prompt", "add a prompt file")
	b.click(t, "#task-run")
	b.waitJS(t, "the task page", `location.pathname.includes('/task/') && document.body.dataset.ready === '1'`, 120*time.Second)
	u := b.url(t)
	id := u[strings.LastIndex(u, "/")+1:]
	// The first line arrives while the task still runs: the log is live.
	b.waitJS(t, "the first log line while running",
		`document.querySelector('#log').textContent.includes('step-one') && document.querySelector('#task-state .badge').dataset.state === 'running'`, 120*time.Second)
	b.shot(t, tag+"-task-running")
	b.waitText(t, "#log", "pushed-ok", 120*time.Second)
	b.waitJS(t, "exited 0", `document.querySelector('#task-state .badge').dataset.state === 'exited' && document.querySelector('#exit-code').textContent === '0'`, 60*time.Second)
	// ANSI colour rendered as a span, not escape codes.
	green := evalAs[bool](t, b, `[...document.querySelectorAll('#log .a-f2')].some(e => e.textContent.includes('pushed-ok')) && !document.querySelector('#log').textContent.includes('\x1b')`)
	if !green {
		t.Fatal("the ANSI-coloured line is not rendered as colour")
	}
	// Download gives the whole log.
	if dl := evalAs[string](t, b, `fetch(document.querySelector('#log-download').href).then(r => r.text())`, chromedp.EvalAwaitPromise); !strings.Contains(dl, "step-one") || !strings.Contains(dl, "pushed-ok") {
		t.Fatalf("the downloaded log lacks the lines:\n%s", dl)
	}
	// Search filters the lines.
	b.setValue(t, "#log-search", "step-one")
	b.waitText(t, "#log-hits", "1 matching", 10*time.Second)
	b.waitText(t, "#timeline", "exited (exit 0)", 30*time.Second)
	checkTimeline(t, b)
	b.waitText(t, "#timeline", "pushed agent/"+id, 30*time.Second)
	b.waitJS(t, "the pushed branch on the task page", fmt.Sprintf(`[...document.querySelectorAll('a.review-link')].some(a => a.textContent === %q)`, "agent/"+id), 30*time.Second)
	b.shot(t, tag+"-task-exited")
	if tag == "direct" {
		b.phoneShot(t, "phone-task")
	}
	return id
}

func testBrowserReview(t *testing.T, b *browser, tr *tree, base, up, project, id, tag string) {
	branch := "agent/" + id
	// The branch the task pushed, from the project's gate panel.
	b.open(t, base+"/project/"+project)
	b.click(t, "#sync")
	b.waitText(t, "#sync-result", "Synced:", 60*time.Second)
	b.waitJS(t, "the branch in the gate panel", fmt.Sprintf(`document.querySelector('#gate tr[data-branch=%q] a')`, branch), 30*time.Second)
	// Review from the task that pushed it.
	b.open(t, base+"/task/"+id)
	b.click(t, "a.review-link")
	b.waitJS(t, "the review page", `document.body.dataset.page === 'review' && document.body.dataset.ready === '1'`, 30*time.Second)
	b.waitText(t, "#commits", "agent: add a prompt file", 30*time.Second)
	b.waitText(t, "#diff", "PROMPT.txt", 30*time.Second)
	b.waitText(t, "#diff-stat", "+2", 30*time.Second)
	b.waitJS(t, "added lines in the patch", `[...document.querySelectorAll('#diff pre.patch .add')].some(e => e.textContent.includes('line two'))`, 10*time.Second)
	b.shot(t, tag+"-review")
	if tag == "direct" {
		// The branch moves while the reviewer looks at it (the admin
		// stands in for the task pushing again): the page promotes the
		// head it showed, so the gate refuses and names the new head, and
		// nothing reaches the upstream until the page is reloaded.
		late := filepath.Join(t.TempDir(), "late")
		e2ekit.Git(t, tr.dev, "clone", "-q", "-b", branch, fmt.Sprintf("http://%s@%s/%s.git", tr.adminToken, tr.gateAddr, project), late)
		os.WriteFile(filepath.Join(late, "LATE.txt"), []byte("late\n"), 0o644)
		e2ekit.Git(t, late, "add", "LATE.txt")
		e2ekit.Git(t, late, "commit", "-qm", "pushed after the review")
		e2ekit.Git(t, late, "push", "-q", "origin", branch)
		lateHead := strings.TrimSpace(e2ekit.Git(t, late, "rev-parse", "HEAD"))
		b.click(t, "#promote")
		b.waitText(t, "#promote-result", "branch moved since it was reviewed: "+branch+" is now at "+lateHead, 60*time.Second)
		b.shot(t, tag+"-review-moved")
		if out, err := exec.Command("git", "-c", "safe.directory=*", "-C", up, "rev-parse", "-q", "--verify", "refs/heads/"+branch).CombinedOutput(); err == nil {
			t.Fatalf("a refused promote reached the upstream: %s", out)
		}
		b.open(t, base+"/project/"+project+"/review?branch="+url.QueryEscape(branch))
		b.waitText(t, "#diff", "LATE.txt", 30*time.Second)
		b.waitJS(t, "promote enabled for the new head", fmt.Sprintf(`document.querySelector('#promote').dataset.expect === %q && !document.querySelector('#promote').disabled`, lateHead), 30*time.Second)
	}
	b.click(t, "#promote")
	b.waitText(t, "#promote-result", "Promoted", 60*time.Second)
	b.shot(t, tag+"-review-promoted")
	if tag == "direct" {
		b.phoneShot(t, "phone-review")
	}
	if out, err := exec.Command("git", "-c", "safe.directory=*", "-C", up, "rev-parse", "--verify", "refs/heads/"+branch).CombinedOutput(); err != nil {
		t.Fatalf("the upstream lacks %s after promote: %v %s", branch, err, out)
	}
	if tag != "direct" {
		return
	}
	// The upstream's branch moves on meanwhile: promoting again is refused,
	// and the refusal is shown in place.
	asUser := func(args ...string) string {
		out, err := exec.Command("runuser", append([]string{"-u", e2eUser, "--", "git", "-C", up}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("git %v in the upstream: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	tree := asUser("rev-parse", "refs/heads/main^{tree}")
	c := asUser("-c", "user.name=someone", "-c", "user.email=someone@example.com", "commit-tree", tree, "-p", "refs/heads/main", "-m", "upstream moved on")
	asUser("update-ref", "refs/heads/"+branch, c)
	b.open(t, base+"/project/"+project+"/review?branch="+url.QueryEscape(branch))
	b.click(t, "#promote")
	b.waitText(t, "#promote-result", "The upstream refused", 60*time.Second)
	b.shot(t, tag+"-review-refused")
	b.click(t, "#promote-force")
	b.waitJS(t, "the confirmation", `document.querySelector('dialog[open] #confirm-yes')`, 10*time.Second)
	b.click(t, "dialog[open] #confirm-yes")
	b.waitText(t, "#promote-result", "Promoted", 60*time.Second)
	if got := asUser("rev-parse", "refs/heads/"+branch); got == c {
		t.Fatal("the forced promote left the upstream's branch where it was")
	}
}

func testBrowserStop(t *testing.T, b *browser, base, project, tag string) {
	b.open(t, base+"/project/"+project)
	b.setValue(t, "#task-command", "echo started; sleep 300")
	b.click(t, "#task-run")
	b.waitJS(t, "the task page", `location.pathname.includes('/task/') && document.body.dataset.ready === '1'`, 120*time.Second)
	b.waitText(t, "#log", "started", 120*time.Second)
	if tag == "direct" {
		u := b.url(t)
		checkAgesTick(t, b, base, project, u[strings.LastIndex(u, "/")+1:])
	}
	b.click(t, "#stop")
	b.waitJS(t, "stopped", `document.querySelector('#task-state .badge').dataset.state === 'stopped'`, 90*time.Second)
	b.shot(t, tag+"-task-stopped")
	// Restart runs it again; the log shows the new run.
	b.click(t, "#restart")
	b.waitJS(t, "running again", `document.querySelector('#runs').textContent === '2' && document.querySelector('#task-state .badge').dataset.state === 'running'`, 90*time.Second)
	b.waitJS(t, "the second run's output", `document.querySelector('#log').textContent.split('started').length >= 3`, 90*time.Second)
	b.click(t, "#stop")
	b.waitJS(t, "stopped again", `document.querySelector('#task-state .badge').dataset.state === 'stopped'`, 90*time.Second)
}

// testBrowserShield: a task keeps trying a host listener the shield
// refuses; the blocked destination appears in the panel and one click
// allows it; the task's retry then gets through.
func testBrowserShield(t *testing.T, b *browser, base, project string) {
	port := e2ekit.HostListener(t)
	cmd := fmt.Sprintf(`i=0; while [ $i -lt 900 ]; do i=$((i+1)); body=$(curl -sS -m 5 http://10.0.2.2:%d/ 2>/dev/null) && { echo "reached: $body"; exit 0; }; echo "attempt $i refused"; sleep 0.5; done; exit 1`, port)
	b.open(t, base+"/project/"+project)
	b.setValue(t, "#task-command", cmd)
	b.click(t, "#task-run")
	b.waitJS(t, "the task page", `location.pathname.includes('/task/') && document.body.dataset.ready === '1'`, 120*time.Second)
	b.waitText(t, "#log", "refused", 120*time.Second)
	b.waitJS(t, "the blocked destination in the shield panel", `document.querySelector('#blocked li[data-target="10.0.2.2"]')`, 90*time.Second)
	// Pause holds new lines back (counted on the button) and Resume shows them.
	b.click(t, "#log-pause")
	lines := evalAs[int](t, b, `document.querySelectorAll('#log .line').length`)
	b.waitJS(t, "lines held while paused", `/Resume \(\d+ new\)/.test(document.querySelector('#log-pause').textContent)`, 30*time.Second)
	if n := evalAs[int](t, b, `document.querySelectorAll('#log .line').length`); n != lines {
		t.Fatalf("the log grew from %d to %d lines while paused", lines, n)
	}
	b.click(t, "#log-pause")
	b.waitJS(t, "the held lines shown", fmt.Sprintf(`document.querySelectorAll('#log .line').length > %d && document.querySelector('#log-pause').textContent === 'Pause'`, lines), 10*time.Second)
	b.shot(t, "direct-task-shield-blocked")
	b.click(t, `#blocked li[data-target="10.0.2.2"] button[data-act="1 h"]`)
	b.waitText(t, "#blocked", "allowed for 1 hour", 30*time.Second)
	b.waitText(t, "#log", "reached: "+e2ekit.HostGreeting, 120*time.Second)
	b.waitJS(t, "exited", `document.querySelector('#task-state .badge').dataset.state === 'exited'`, 60*time.Second)
	b.waitText(t, "#timeline", "allow", 30*time.Second)
	b.shot(t, "direct-task-shield-allowed")
}

func testBrowserTerminal(t *testing.T, b *browser, base, project string) {
	b.open(t, base+"/project/"+project)
	b.setSelect(t, "#task-mode", "interactive")
	b.setValue(t, "#task-command", "sleep 600")
	b.click(t, "#task-run")
	b.waitJS(t, "the task page", `location.pathname.includes('/task/') && document.body.dataset.ready === '1'`, 120*time.Second)
	b.waitJS(t, "running", `document.querySelector('#task-state .badge').dataset.state === 'running'`, 120*time.Second)
	b.click(t, "#terminal-open")
	b.waitJS(t, "the terminal connected", `document.querySelector('#terminal').dataset.connected === '1'`, 60*time.Second)
	b.run(t, "focus the terminal", chromedp.Focus(chromedp.CSS("#terminal textarea")))
	b.typeText(t, "echo term-$((6*7))")
	b.pressEnter(t)
	b.waitText(t, "#terminal .xterm-rows", "term-42", 30*time.Second)
	checkTerminalUnderscores(t, b)
	// The terminal follows the page's size: stty sees the columns change.
	size := func() string {
		return evalAs[string](t, b, `[...document.querySelectorAll('#terminal .xterm-rows > div')].map(d => d.textContent.trim()).filter(l => /^\d+ \d+$/.test(l)).pop() || ''`)
	}
	b.typeText(t, "stty size")
	b.pressEnter(t)
	b.waitJS(t, "stty size", `[...document.querySelectorAll('#terminal .xterm-rows > div')].some(d => /^\d+ \d+$/.test(d.textContent.trim()))`, 30*time.Second)
	wide := size()
	cols := func(s string) int {
		var r, c int
		fmt.Sscanf(s, "%d %d", &r, &c)
		return c
	}
	b.run(t, "narrow window", chromedp.EmulateViewport(800, 720))
	// The resize reaches the shell after a frame and a message: ask again
	// until stty sees it (bounded).
	for i := 0; ; i++ {
		b.run(t, "focus", chromedp.Focus(chromedp.CSS("#terminal textarea")))
		b.typeText(t, "clear; stty size")
		b.pressEnter(t)
		time.Sleep(time.Second)
		if s := size(); s != "" && cols(s) > 0 && cols(s) <= cols(wide)*3/4 {
			break // 800 of 1280 pixels: well under the columns it had
		}
		if i == 30 {
			b.shot(t, "failed-"+sanitize(t.Name()))
			t.Fatalf("stty size %q after the window narrowed, was %q", size(), wide)
		}
	}
	narrow := size()
	b.run(t, "desktop viewport", chromedp.EmulateViewport(1280, 720))
	t.Logf("terminal size (rows cols): %s at 1280 wide, %s at 800", wide, narrow)
	b.shot(t, "direct-task-terminal")
	b.click(t, "#stop")
	b.waitJS(t, "stopped", `document.querySelector('#task-state .badge').dataset.state === 'stopped'`, 90*time.Second)
}

func testBrowserDaemons(t *testing.T, b *browser, base, tag string) {
	b.open(t, base+"/")
	row := `document.querySelector('#daemons tr[data-daemon="terok-gate"]')`
	b.waitJS(t, "the gate's row", row+` && `+row+`.dataset.state === 'RUNNING'`, 60*time.Second)
	pid := evalAs[string](t, b, row+`.dataset.pid`)
	b.click(t, `#daemons tr[data-daemon="terok-gate"] button`)
	b.waitJS(t, "the gate restarted (new pid, RUNNING)", fmt.Sprintf(`%s && %s.dataset.state === 'RUNNING' && %s.dataset.pid !== %q && %s.dataset.pid !== '0'`, row, row, row, pid, row), 90*time.Second)
	b.shot(t, tag+"-overview-after-restart")
	// Its log, readable and filtered by level.
	b.open(t, base+"/daemons?name=terok-web")
	b.waitJS(t, "readable log lines", `document.querySelectorAll('#daemon-log .line[data-level]').length > 0`, 30*time.Second)
	if evalAs[bool](t, b, `document.querySelector('#daemon-log').textContent.includes('"level":')`) {
		t.Fatal("the daemon log shows raw JSON")
	}
	b.setSelect(t, "#level", "warn")
	b.waitJS(t, "no info lines at warn", `![...document.querySelectorAll('#daemon-log .line[data-level]')].some(l => l.dataset.level === 'info' || l.dataset.level === 'debug')`, 10*time.Second)
	b.setSelect(t, "#level", "debug")
	b.waitJS(t, "info lines again", `document.querySelectorAll('#daemon-log .line[data-level="info"]').length > 0`, 10*time.Second)
	b.shot(t, tag+"-daemon-logs")
}

// testBrowserCrossOrigin: a page of another origin (another port of the
// same host, so the SameSite cookie still goes along) can neither open the
// events WebSocket nor make a mutation.
func testBrowserCrossOrigin(t *testing.T, b *browser, tr *tree, base, token string) {
	target := strings.TrimPrefix(base, "http://")
	evil := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><title>evil</title><body><script>
window.result = 'pending';
const ws = new WebSocket('ws://%s/api/v1/events');
ws.onopen = () => { window.result = 'opened'; };
ws.onclose = (e) => { if (window.result === 'pending') window.result = 'closed ' + e.code; };
fetch('http://%s/api/v1/projects', {method: 'POST', mode: 'no-cors', credentials: 'include',
  headers: {'Content-Type': 'text/plain'}, body: JSON.stringify({name: 'evil'})}).finally(() => { window.posted = true; });
</script></body>`, target, target)
	})}
	ln, err := net.Listen("tcp", strings.Split(target, ":")[0]+":0") // another port of the same host
	if err != nil {
		t.Fatal(err)
	}
	go evil.Serve(ln)
	defer evil.Close()
	b.open(t, base+"/") // logged in: the cookie is there
	b.run(t, "open the foreign page", chromedp.Navigate("http://"+ln.Addr().String()+"/"))
	b.waitJS(t, "the foreign WebSocket settles", `window.result !== 'pending' && window.posted`, 30*time.Second)
	res := evalAs[string](t, b, `window.result`)
	if res == "opened" {
		t.Fatal("a page of another origin opened the events WebSocket")
	}
	if _, code := tr.terok(t, "project", "show", "evil"); code == 0 {
		t.Fatal("a page of another origin created a project (CSRF)")
	}
	// The same without a browser: the right cookie and a foreign Origin.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, "ws://"+target+"/api/v1/events", &websocket.DialOptions{HTTPHeader: http.Header{
		"Cookie": {sessionOf(t, b, base)}, "Origin": {"http://evil.example"}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a foreign Origin with the cookie was not refused: %v %v", err, resp)
	}
	_ = token
}

// sessionOf reads the browser's session cookie (HttpOnly: over CDP) as
// name=value.
func sessionOf(t *testing.T, b *browser, base string) string {
	t.Helper()
	var v string
	b.run(t, "cookies", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		r, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{base}})
		if err != nil {
			return err
		}
		for _, c := range r.Cookies {
			if strings.HasPrefix(c.Name, "terok_session_") {
				v = c.Name + "=" + c.Value
			}
		}
		return nil
	}))
	if v == "" {
		t.Fatal("the browser has no session cookie")
	}
	return v
}

// removeTasks removes every task of the tree (and so its container).
func removeTasks(t *testing.T, tr *tree) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ts, err := tr.web().Tasks(ctx, "")
	if err != nil {
		t.Logf("cleanup: list tasks: %v", err)
		return
	}
	for _, task := range ts {
		if err := tr.web().Remove(ctx, task.ID, true); err != nil {
			t.Logf("cleanup: remove task %s: %v", task.ID, err)
		}
	}
}

// testBrowserPanic: the panic button (after its confirmation) blocks a
// running task's egress, and the way back restores it.
func testBrowserPanic(t *testing.T, b *browser, tr *tree, base, project string) {
	b.open(t, base+"/project/"+project)
	b.setValue(t, "#task-command", "echo up; sleep 300")
	b.click(t, "#task-run")
	b.waitJS(t, "the task page", `location.pathname.includes('/task/') && document.body.dataset.ready === '1'`, 120*time.Second)
	u := b.url(t)
	id := u[strings.LastIndex(u, "/")+1:]
	b.waitJS(t, "the shield armed", `document.querySelector('#shield [data-mode="up"][aria-checked="true"]')`, 90*time.Second)
	// The mode switch of the task's shield panel.
	b.click(t, `#shield [data-mode="down"]`)
	b.waitJS(t, "mode down", `document.querySelector('#shield [data-mode="down"][aria-checked="true"]')`, 30*time.Second)
	if st := tr.mustTerok(t, "shield", "status", id, "--json"); !strings.Contains(st, `"mode": "down"`) {
		t.Fatalf("the mode switch did not reach the shield:\n%s", st)
	}
	b.click(t, `#shield [data-mode="up"]`)
	b.waitJS(t, "mode up", `document.querySelector('#shield [data-mode="up"][aria-checked="true"]')`, 30*time.Second)
	b.open(t, base+"/")
	b.waitJS(t, "the running task listed", fmt.Sprintf(`document.querySelector('#running tr[data-task=%q]')`, id), 30*time.Second)
	b.click(t, "#panic")
	b.waitJS(t, "the confirmation", `document.querySelector('dialog[open] #confirm-yes')`, 10*time.Second)
	b.shot(t, "direct-overview-panic-confirm")
	b.click(t, "dialog[open] #confirm-yes")
	b.waitText(t, "#panic-result", "Blocked", 60*time.Second)
	if st := tr.mustTerok(t, "shield", "status", id, "--json"); !strings.Contains(st, `"mode": "block"`) {
		t.Fatalf("after the panic button the task's shield is not block:\n%s", st)
	}
	b.shot(t, "direct-overview-panic-done")
	b.click(t, "#panic-restore")
	b.waitText(t, "#panic-result", "Shield up again", 60*time.Second)
	if st := tr.mustTerok(t, "shield", "status", id, "--json"); !strings.Contains(st, `"mode": "up"`) {
		t.Fatalf("after restore the task's shield is not up:\n%s", st)
	}
	tr.mustTerok(t, "task", "stop", id)
}

// taskUIServer is a tiny HTTP server in the task (perl-base is in every
// Debian image), on the container's loopback: it answers every request
// with one page and logs the request line with the scheme the proxy saw.
const taskUIServer = `exec perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 8080, Listen => 5, ReuseAddr => 1) or die "listen: $!";
print "serving on 8080\n"; $| = 1;
while ($c = $s->accept) { $r = <$c>; $r =~ s/\r?\n//; $p = "http"; while (<$c>) { last if /^\r?$/; $p = "https" if /^x-forwarded-proto: *https/i } print "ui-request $r via $p\n"; print $c "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<h1>hello from the task ui</h1>"; close $c }'`

// testBrowserWebTask: a web-mode task's UI has its own address (the
// task's port), linked from the task page, and shows in the page in a
// sandboxed frame once asked for.
func testBrowserWebTask(t *testing.T, b *browser, base, host string) {
	b.open(t, base+"/new-project")
	b.setValue(t, "#name", "webui")
	b.setValue(t, "#web_port", "99999")
	b.click(t, "#create")
	b.waitText(t, "#web_port-error", "1 to 65535", 10*time.Second)
	b.setValue(t, "#web_port", "8080")
	b.setValue(t, "#command", taskUIServer)
	b.click(t, "#create")
	b.waitJS(t, "the project page", `location.pathname.endsWith('/project/webui') && document.body.dataset.ready === '1'`, 60*time.Second)
	b.setSelect(t, "#task-mode", "web")
	b.click(t, "#task-run")
	b.waitJS(t, "the task page", `location.pathname.includes('/task/') && document.body.dataset.ready === '1'`, 120*time.Second)
	b.waitText(t, "#log", "serving on 8080", 120*time.Second)
	if evalAs[bool](t, b, `!!document.querySelector('#web-frame')`) {
		t.Fatal("the task's UI was embedded before the user asked")
	}
	b.waitJS(t, "the link", `document.querySelector('#web-link')`, 30*time.Second)
	href := evalAs[string](t, b, `document.querySelector('#web-link').getAttribute('href')`)
	if !strings.HasPrefix(href, "http://"+host+":78") || strings.Contains(href, "ticket") {
		t.Fatalf("web link %q: want the task's own port on this host", href)
	}
	b.click(t, "#web-show")
	b.waitJS(t, "the frame", `document.querySelector('#web-frame')`, 30*time.Second)
	if sb := evalAs[string](t, b, `document.querySelector('#web-frame').getAttribute('sandbox') || ''`); sb == "" || strings.Contains(sb, "allow-top-navigation") {
		t.Fatalf("the frame's sandbox %q", sb)
	}
	// The app got the frame's request: the one-time link let it in.
	b.waitText(t, "#log", "ui-request GET / HTTP", 60*time.Second)
	b.shot(t, "direct-task-web")
	b.click(t, "#stop")
	b.waitJS(t, "stopped", `document.querySelector('#task-state .badge').dataset.state === 'stopped'`, 90*time.Second)
}

// testBrowserWebTaskTLS: behind the TLS proxy, the task page links to
// the task's port on TEROK_PUBLIC_HOST over https (nginx publishes
// 7860-7880 there), and the UI shows through it.
func testBrowserWebTaskTLS(t *testing.T, b *browser, tr *tree, pfx string, ngx *nginx) {
	b.open(t, pfx+"/project/webui")
	b.setSelect(t, "#task-mode", "web")
	b.click(t, "#task-run")
	b.waitJS(t, "the task page", `location.pathname.includes('/task/') && document.body.dataset.ready === '1'`, 120*time.Second)
	b.waitText(t, "#log", "serving on 8080", 120*time.Second)
	b.waitJS(t, "the link", `document.querySelector('#web-link')`, 30*time.Second)
	href := evalAs[string](t, b, `document.querySelector('#web-link').getAttribute('href')`)
	if !strings.HasPrefix(href, "https://"+ngx.taskHost+":78") {
		t.Fatalf("web link %q behind the proxy: want https://%s:<task port>/", href, ngx.taskHost)
	}
	b.click(t, "#web-show")
	b.waitText(t, "#log", "via https", 60*time.Second)
	b.shot(t, "nginx-prefix-task-web")
	b.click(t, "#stop")
	b.waitJS(t, "stopped", `document.querySelector('#task-state .badge').dataset.state === 'stopped'`, 90*time.Second)
}

// testBrowserDaemonDown: a stopped daemon is a problem at the top of the
// overview, with what to do; its Restart button brings it back.
func testBrowserDaemonDown(t *testing.T, b *browser, tr *tree, base string) {
	tr.mustTerok(t, "daemons", "stop", "terok-shield")
	b.open(t, base+"/")
	b.waitText(t, "#problems", "terok-shield is STOPPED", 30*time.Second)
	b.waitText(t, "#problems", "Restart it below", 5*time.Second)
	b.shot(t, "direct-overview-problem")
	b.click(t, `#daemons tr[data-daemon="terok-shield"] button`)
	b.waitJS(t, "the shield running again", `document.querySelector('#daemons tr[data-daemon="terok-shield"]').dataset.state === 'RUNNING'`, 90*time.Second)
	b.waitJS(t, "the problem gone", `!document.querySelector('#problems').textContent.includes('terok-shield is')`, 30*time.Second)
}

// testBrowserDark takes the pages in the dark theme (the system's choice).
func testBrowserDark(t *testing.T, b *browser, base, project string) {
	b.run(t, "dark", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		return err
	}))
	defer b.run(t, "light", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "light"}}})
		return err
	}))
	b.open(t, base+"/")
	b.waitJS(t, "dark background", `getComputedStyle(document.body).backgroundColor === 'rgb(15, 19, 24)'`, 10*time.Second)
	b.shot(t, "dark-overview")
	b.open(t, base+"/project/"+project)
	b.waitJS(t, "the gate panel", `document.querySelector('#gate tr[data-branch]')`, 30*time.Second)
	b.shot(t, "dark-project")
	ts := evalAs[[]string](t, b, `[...document.querySelectorAll('#tasks tr[data-task]')].map(r => r.dataset.task)`)
	if len(ts) > 0 {
		b.open(t, base+"/task/"+ts[len(ts)-1])
		b.shot(t, "dark-task")
	}
}

// testBrowserFollowupDelete runs a follow-up in a task's workspace, then
// deletes the task after the confirmation.
func testBrowserFollowupDelete(t *testing.T, b *browser, base, id string) {
	b.open(t, base+"/task/"+id)
	b.waitJS(t, "ended", `document.querySelector('#runs').textContent === '1' && !document.querySelector('#followup').disabled`, 30*time.Second)
	b.setValue(t, "#followup-prompt", "second round")
	b.click(t, "#followup")
	// The follow-up runs the agent again in the same workspace, so it
	// ends exited (the agent ran), not failed (terok could not start it).
	// Its exit status is the agent's own: 1, as its push is refused, the
	// branch having moved on the gate since (the late push of the review
	// test), and the agent runs under set -e.
	b.waitJS(t, "the second run ended", `document.querySelector('#runs').textContent === '2' && ['exited', 'failed', 'stopped'].includes(document.querySelector('#task-state .badge').dataset.state)`, 120*time.Second)
	if st := evalAs[string](t, b, `document.querySelector('#task-state .badge').dataset.state + ' ' + document.querySelector('#exit-code').textContent`); st != "exited 1" {
		t.Fatalf("the follow-up ended %q, want \"exited 1\" (it ran; its push of a branch that moved is refused)", st)
	}
	b.waitJS(t, "both runs in the log", `document.querySelector('#log').textContent.split('step-one').length === 3`, 30*time.Second)
	b.waitText(t, "#log", "failed to push", 30*time.Second)
	b.click(t, "#delete")
	b.waitJS(t, "the confirmation", `document.querySelector('dialog[open] #confirm-yes')`, 10*time.Second)
	b.click(t, "dialog[open] #confirm-yes")
	b.waitJS(t, "back on the project page", `document.body.dataset.page === 'project' && document.body.dataset.ready === '1'`, 60*time.Second)
	b.waitJS(t, "the task gone", fmt.Sprintf(`document.querySelector('#tasks table, #tasks p') && !document.querySelector('#tasks tr[data-task=%q]')`, id), 30*time.Second)
}

// testBrowserImage uploads a root filesystem from the overview, with its
// progress shown, and a file that is not one is refused in place.
func testBrowserImage(t *testing.T, b *browser, base string) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "notes.tar")
	os.WriteFile(bad, []byte("not a tarball\n"), 0o644)
	good := filepath.Join(dir, "rootfs.tar")
	os.WriteFile(good, busyboxTar(t).Bytes(), 0o644)
	b.open(t, base+"/")
	b.setValue(t, "#image-name", "localhost/tkui-busybox:latest")
	b.run(t, "pick the bad file", chromedp.SetUploadFiles(chromedp.CSS("#image-file"), []string{bad}))
	b.click(t, "#image-import")
	b.waitJS(t, "the refusal", `document.querySelector('#image-result .error')`, 60*time.Second)
	b.shot(t, "direct-overview-image-refused")
	b.run(t, "pick the rootfs", chromedp.SetUploadFiles(chromedp.CSS("#image-file"), []string{good}))
	b.click(t, "#image-import")
	b.waitText(t, "#image-result", "Imported localhost/tkui-busybox:latest", 120*time.Second)
	b.waitJS(t, "the image listed", `document.querySelector('#images tr[data-image="localhost/tkui-busybox:latest"]')`, 30*time.Second)
	b.shot(t, "direct-overview-image")
}

// testBrowserKeyboard: the pages work from the keyboard: Tab reaches the
// skip link first, then the navigation; Enter follows a link; the panic
// confirmation closes with Escape without acting.
func testBrowserKeyboard(t *testing.T, b *browser, base string) {
	b.open(t, base+"/")
	b.pressKey(t, "Tab", 9)
	if s := evalAs[string](t, b, `document.activeElement.textContent`); s != "Skip to content" {
		t.Fatalf("the first Tab reached %q, want the skip link", s)
	}
	for i := 0; i < 6 && evalAs[string](t, b, `document.activeElement.textContent`) != "Daemon logs"; i++ {
		b.pressKey(t, "Tab", 9)
	}
	b.pressEnter(t)
	b.waitJS(t, "the daemon logs page by keyboard", `document.body.dataset.page === 'daemons' && document.body.dataset.ready === '1'`, 30*time.Second)
	b.open(t, base+"/")
	b.run(t, "focus the panic button", chromedp.Focus(chromedp.CSS("#panic")))
	b.pressEnter(t)
	b.waitJS(t, "the confirmation", `document.querySelector('dialog[open]')`, 10*time.Second)
	b.pressKey(t, "Escape", 27)
	b.waitJS(t, "the dialog closed", `!document.querySelector('dialog[open]')`, 10*time.Second)
	if s := b.textOf(t, "#panic-result"); s != "" {
		t.Fatalf("Escape acted: %q", s)
	}
}
