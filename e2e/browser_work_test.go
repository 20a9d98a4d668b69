package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/miekg/dns"

	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// testDNS is the upstream the test gives the shield (TEROK_SHIELD_RESOLVER):
// it answers the names it holds with TEST-NET addresses, and every other
// name with NXDOMAIN. The shield asks it from the host side only, for the
// names a task is allowed.
type testDNS struct {
	srv   *dns.Server
	mu    sync.Mutex
	names map[string]string
	asked []string
}

func startTestDNS(t *testing.T, names map[string]string) (*testDNS, string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &testDNS{names: names}
	d.srv = &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(d.serve)}
	go d.srv.ActivateAndServe()
	t.Cleanup(func() { d.srv.Shutdown() })
	return d, pc.LocalAddr().String()
}

func (d *testDNS) serve(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	if len(r.Question) == 1 {
		q := r.Question[0]
		name := strings.TrimSuffix(strings.ToLower(q.Name), ".")
		d.mu.Lock()
		d.asked = append(d.asked, name)
		addr, ok := d.names[name]
		d.mu.Unlock()
		switch {
		case !ok:
			m.Rcode = dns.RcodeNameError
		case q.Qtype == dns.TypeA:
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(addr)})
		}
	}
	w.WriteMsg(m)
}

func (d *testDNS) wasAsked(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Contains(d.asked, name)
}

// lookupLoop is an agent that looks a name up until it resolves (bounded),
// printing each refusal and then the answer.
func lookupLoop(name string) string {
	return fmt.Sprintf(`i=0; while [ $i -lt 600 ]; do i=$((i+1)); if a=$(getent ahostsv4 %s | head -n1); [ -n "$a" ]; then echo "resolved: $a"; exit 0; fi; echo "lookup $i refused"; sleep 0.5; done; exit 1`, name)
}

// TestBrowserWork covers the overview that leads with the user's work and
// allow by name (issue 17), in Chromium against the real tree: a branch a
// task pushed waits for review (ahead count, Review link), a running
// task's refused lookup waits for a decision, a failed task is listed
// until dismissed (and stays dismissed after a reload); then the refused
// name is allowed from the task page, also for the project's future
// tasks, and the task's retry resolves it through the shield. Screenshots
// of the overview at 1280x800 and 390x844 go to e2e/screenshots/.
func TestBrowserWork(t *testing.T) {
	b := newBrowser(t)
	const name, addr = "allowme.example.test", "198.51.100.77"
	const name2, addr2 = "overview.example.test", "198.51.100.78"
	ns, nsAddr := startTestDNS(t, map[string]string{name: addr, name2: addr2})
	tr := startTree(t, "TEROK_SHIELD_RESOLVER="+nsAddr)
	tr.waitRunning(t)
	importTaskImage(t, tr)
	up := upstream(t, tr)
	t.Cleanup(func() { removeTasks(t, tr) })

	tr.mustTerok(t, "project", "add", "work1", "--upstream", up, "--cmd", agentPush)
	pushed := strings.TrimSpace(tr.mustTerok(t, "task", "run", "work1", "--prompt", "add a prompt file"))
	if out, code := tr.terok(t, "task", "wait", pushed); code != 0 {
		t.Fatalf("the pushing task: exit %d\n%s", code, out)
	}
	broken := strings.TrimSpace(tr.mustTerok(t, "task", "run", "work1", "--cmd", "echo broken; exit 3"))
	if _, code := tr.terok(t, "task", "wait", broken); code != 3 {
		t.Fatalf("the failing task: exit %d, want 3", code)
	}
	// A task that fails to start, with a long reason (its image is missing).
	tr.mustTerok(t, "project", "add", "workmissing", "--image", "localhost/terok-missing:latest", "--cmd", "true")
	tr.terok(t, "task", "run", "workmissing")
	looker := strings.TrimSpace(tr.mustTerok(t, "task", "run", "work1", "--cmd", lookupLoop(name)))
	looker2 := strings.TrimSpace(tr.mustTerok(t, "task", "run", "work1", "--cmd", lookupLoop(name2)))

	login := strings.TrimSpace(tr.mustTerok(t, "web", "url"))
	base := "http://" + tr.webAddr
	b.open(t, login)
	b.waitText(t, "#live", "live", 30*time.Second)

	t.Run("overview", func(t *testing.T) {
		row := fmt.Sprintf(`document.querySelector('#review-list tr[data-branch=%q]')`, "agent/"+pushed)
		b.waitJS(t, "the pushed branch waiting for review", row, 60*time.Second)
		if s := evalAs[string](t, b, row+`.textContent`); !strings.Contains(s, "1 ahead / 0 behind") || !strings.Contains(s, "agent: add a prompt file") {
			t.Errorf("the review row reads %q, want 1 ahead / 0 behind and the commit's subject", s)
		}
		href := evalAs[string](t, b, row+`.querySelector('a.button').getAttribute('href')`)
		if href != "/project/work1/review?branch="+strings.ReplaceAll("agent/"+pushed, "/", "%2F") {
			t.Errorf("the Review link is %q", href)
		}
		dec := fmt.Sprintf(`document.querySelector('#decisions li[data-task=%q][data-kind="lookup-refused"][data-target=%q]')`, looker, name)
		b.waitJS(t, "the refused lookup waiting for a decision", dec, 90*time.Second)
		failedRow := fmt.Sprintf(`#failed-list tr[data-task=%q]`, broken)
		failed := fmt.Sprintf(`document.querySelector(%s)`, jsString(failedRow))
		b.waitJS(t, "the failed task", failed, 30*time.Second)
		if s := evalAs[string](t, b, failed+`.textContent`); !strings.Contains(s, "exit 3") {
			t.Errorf("the failed row reads %q, want exit 3", s)
		}
		b.waitText(t, "#failed-list", "is not in Podman's store", 30*time.Second)
		if evalAs[bool](t, b, fmt.Sprintf(`!!document.querySelector('#failed-list tr[data-task=%q]')`, pushed)) {
			t.Errorf("the task that succeeded is listed as failed")
		}
		// The user's work comes before the daemons.
		order := evalAs[[]string](t, b, `[...document.querySelectorAll('#app section.card h2')].map(h => h.textContent)`)
		if len(order) < 4 || order[0] != "Waiting for review" || slices.Index(order, "Daemons") < slices.Index(order, "Running tasks") {
			t.Errorf("sections in order %q: want the review first and the daemons after the running tasks", order)
		}
		overviewShots(t, b, "work-overview")

		b.click(t, failedRow+` button`)
		b.waitJS(t, "the dismissed task gone", "!"+failed, 30*time.Second)
		b.open(t, base+"/")
		b.waitJS(t, "the overview again", dec, 60*time.Second)
		if evalAs[bool](t, b, "!!"+failed) {
			t.Errorf("the dismissed task is back after a reload")
		}

		// Answered from the overview (1 h): the task's retry resolves the
		// name, and the decision leaves the list.
		li2 := fmt.Sprintf(`#decisions li[data-task=%q][data-target=%q]`, looker2, name2)
		b.waitJS(t, "the second refused lookup", fmt.Sprintf(`document.querySelector(%s)`, jsString(li2)), 60*time.Second)
		b.click(t, li2+` button[data-act="1 h"]`)
		b.waitText(t, li2, "allowed for 1 hour", 30*time.Second)
		if out, code := tr.terok(t, "task", "wait", looker2); code != 0 {
			logs, _ := tr.terok(t, "task", "logs", looker2)
			t.Fatalf("the task whose lookup was allowed from the overview: exit %d %s\n%s", code, out, logs)
		}
		if logs := tr.mustTerok(t, "task", "logs", looker2); !strings.Contains(logs, "resolved: "+addr2) {
			t.Errorf("the task did not resolve %s after the overview allowed it:\n%s", name2, logs)
		}
		b.waitJS(t, "the answered decision gone", fmt.Sprintf(`!document.querySelector(%s)`, jsString(li2)), 30*time.Second)
	})

	t.Run("clone hint and placeholders", func(t *testing.T) {
		b.open(t, base+"/project/work1")
		b.waitJS(t, "the clone hint", `document.querySelector('#clone-hint')`, 60*time.Second)
		hint := b.textOf(t, "#clone-hint")
		if want := "git clone http://ADMIN_TOKEN@" + tr.gateAddr + "/work1.git"; !strings.Contains(hint, want) {
			t.Errorf("the clone hint reads %q, want %q", hint, want)
		}
		if strings.Contains(evalAs[string](t, b, `document.documentElement.outerHTML`), tr.adminToken) {
			t.Errorf("the project page holds the gate's admin token")
		}
		// The token's slot and the empty fields' hints are styled as slots,
		// not as values: italic and in the muted colour.
		style := evalAs[[]string](t, b, `(() => { const v = getComputedStyle(document.querySelector('#clone-hint var')); const p = getComputedStyle(document.querySelector('#task-command'), '::placeholder'); const f = getComputedStyle(document.querySelector('#task-command')); return [v.fontStyle, p.fontStyle, p.color, f.color]; })()`)
		if len(style) != 4 || style[0] != "italic" || style[1] != "italic" || style[2] == style[3] {
			t.Errorf("the slot and placeholder styles %q: want italic, italic, and a placeholder colour other than the text's", style)
		}
		b.shot(t, "work-project-clone-hint")
	})

	t.Run("allow by name", func(t *testing.T) {
		if ns.wasAsked(name) {
			t.Fatalf("the shield asked the upstream for %s before it was allowed", name)
		}
		b.open(t, base+"/task/"+looker)
		li := fmt.Sprintf(`#blocked li[data-kind="lookup-refused"][data-target=%q]`, name)
		b.waitJS(t, "the refused name in the shield panel", fmt.Sprintf(`document.querySelector(%q)`, li), 90*time.Second)
		b.click(t, li+` input.keep`)
		b.click(t, li+` button[data-act="Allow"]`)
		b.waitText(t, li, "and for work1\u2019s future tasks", 30*time.Second)
		b.waitText(t, "#log", "resolved: "+addr, 90*time.Second)
		b.waitJS(t, "exited", `document.querySelector('#task-state .badge').dataset.state === 'exited'`, 60*time.Second)
		b.shot(t, "work-task-allowed-by-name")
		if !ns.wasAsked(name) {
			t.Errorf("the task resolved %s without the shield asking the test's upstream", name)
		}
		var p webapi.ProjectInfo
		if err := json.Unmarshal([]byte(tr.mustTerok(t, "project", "show", "work1", "--json")), &p); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(p.Shield.Allow, name) {
			t.Errorf("project work1's allowlist %q lacks %s", p.Shield.Allow, name)
		}
		// The next task of the project resolves it from the start.
		next := strings.TrimSpace(tr.mustTerok(t, "task", "run", "work1", "--cmd", "getent ahostsv4 "+name+" | head -n1"))
		if out, code := tr.terok(t, "task", "wait", next); code != 0 {
			logs, _ := tr.terok(t, "task", "logs", next)
			t.Fatalf("the next task: exit %d %s\n%s", code, out, logs)
		}
		if logs := tr.mustTerok(t, "task", "logs", next); !strings.Contains(logs, addr) {
			t.Errorf("the next task of work1 did not resolve %s:\n%s", name, logs)
		}
		// Answered, the decision leaves the overview.
		b.open(t, base+"/")
		b.waitJS(t, "the overview's decisions", `document.querySelector('#decisions, #work .card')`, 30*time.Second)
		if evalAs[bool](t, b, fmt.Sprintf(`!!document.querySelector('#decisions li[data-target=%q]')`, name)) {
			t.Errorf("the allowed name still waits for a decision on the overview")
		}
	})
	t.Run("unshielded task", func(t *testing.T) {
		// A project without the shield: its task's shield panel says
		// what guards it (mode open), not mode buttons that do not apply.
		tr.mustTerok(t, "project", "add", "workopen", "--no-shield", "--cmd", "sleep 120")
		open := strings.TrimSpace(tr.mustTerok(t, "task", "run", "workopen"))
		b.open(t, base+"/task/"+open)
		b.waitText(t, "#shield-open", "runs without the shield", 60*time.Second)
		if evalAs[bool](t, b, `!!document.querySelector('[aria-label="Shield mode"]')`) {
			t.Errorf("an unshielded task's panel offers shield mode buttons")
		}
		tr.mustTerok(t, "task", "stop", open)
	})
}

// overviewShots saves the overview at a desktop's (1280x800) and a
// phone's (390x844) size, full page, as NAME-desktop.png and
// NAME-phone.png, then restores the desktop size.
func overviewShots(t *testing.T, b *browser, name string) {
	t.Helper()
	for _, v := range []struct {
		suffix string
		opts   []chromedp.EmulateViewportOption
		w, h   int64
	}{
		{"desktop", nil, 1280, 800},
		{"phone", []chromedp.EmulateViewportOption{chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulatePortrait}, 390, 844},
	} {
		b.run(t, v.suffix+" viewport", chromedp.EmulateViewport(v.w, v.h, v.opts...))
		time.Sleep(500 * time.Millisecond)
		ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		cancel()
		if err != nil {
			t.Fatalf("screenshot %s: %v", v.suffix, err)
		}
		if err := os.WriteFile(filepath.Join(b.shots, name+"-"+v.suffix+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
		if v.suffix == "phone" {
			// Nothing wider than the phone's screen.
			if w := evalAs[int](t, b, `document.documentElement.scrollWidth`); w > 390 {
				t.Errorf("at a phone's width the overview is %d px wide (scrolls sideways)", w)
			}
		}
	}
	b.run(t, "desktop viewport", chromedp.EmulateViewport(1280, 720))
}
