package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// These checks of TestBrowser cover what a newcomer met (issue 17): the
// terminal's underscores, ages that move, binary size units, the
// timeline's order and wording, error messages without HTTP status words,
// and a daemon log whose filter leaves nothing.

// brightPixels counts the pixels of a PNG lighter than a dark background
// (the terminal's is black, its text light).
func brightPixels(t *testing.T, shot []byte) (int, string) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("decode the screenshot: %v", err)
	}
	n := 0
	bd := img.Bounds()
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if r+g+b > 3*0x3000 {
				n++
			}
		}
	}
	return n, fmt.Sprintf("%dx%d", bd.Dx(), bd.Dy())
}

// checkTerminalUnderscores prints a row of underscores in the open
// terminal and checks that its pixels are not blank: rows of xterm's
// default line height clip the glyphs' descent, and underscores vanish
// (TEROK_TASK_ID showed as TEROK TASK ID).
func checkTerminalUnderscores(t *testing.T, b *browser) {
	t.Helper()
	b.run(t, "focus the terminal", chromedp.Focus(chromedp.CSS("#terminal textarea")))
	b.typeText(t, "clear; echo ________________________________")
	b.pressEnter(t)
	rowIndex := `[...document.querySelectorAll('#terminal .xterm-rows > div')].findIndex(d => /^_{32}$/.test(d.textContent.trim()))`
	b.waitJS(t, "a row of underscores", rowIndex+` >= 0`, 30*time.Second)
	n := evalAs[int](t, b, rowIndex) + 1
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	shot, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(fmt.Sprintf("#terminal .xterm-rows > div:nth-child(%d)", n))))
	if err != nil {
		t.Fatalf("screenshot of the underscore row: %v", err)
	}
	bright, size := brightPixels(t, shot)
	t.Logf("the terminal's row of 32 underscores (%s px) has %d lit pixels", size, bright)
	if bright < 32 {
		b.shot(t, "failed-"+sanitize(t.Name()))
		t.Fatalf("the terminal's row of underscores renders blank (%d lit pixels in %s): the row height clips them", bright, size)
	}
}

// checkAgesTick: a task's age on the project page moves on by itself,
// without a reload or a new rendering of its row.
func checkAgesTick(t *testing.T, b *browser, base, project, id string) {
	t.Helper()
	b.open(t, base+"/project/"+project)
	cell := fmt.Sprintf(`document.querySelector('#tasks tr[data-task=%q] [data-ago]')`, id)
	b.waitJS(t, "the task's age", cell, 30*time.Second)
	first := evalAs[string](t, b, `(() => { const e = `+cell+`; e.dataset.probe = '1'; return e.textContent; })()`)
	if !strings.HasSuffix(first, " ago") {
		t.Fatalf("the age reads %q", first)
	}
	b.waitJS(t, "the same age element showing a later age", fmt.Sprintf(`(() => { const e = document.querySelector('[data-probe="1"]'); return e && e.isConnected && e.textContent !== %q; })()`, first), 10*time.Second)
	b.open(t, base+"/task/"+id)
}

// checkSizeUnits: image sizes are in binary units and named so.
func checkSizeUnits(t *testing.T, b *browser, base string) {
	t.Helper()
	b.open(t, base+"/")
	b.waitJS(t, "an image row", `document.querySelector('#images tr[data-image]')`, 60*time.Second)
	sizes := evalAs[[]string](t, b, `[...document.querySelectorAll('#images tr[data-image] td:nth-child(2)')].map(td => td.textContent)`)
	for _, s := range sizes {
		if !strings.HasSuffix(s, " MiB") && !strings.HasSuffix(s, " GiB") {
			t.Fatalf("image size %q: want MiB or GiB (the value is in units of 2^20)", s)
		}
	}
}

// checkTimeline: the task page's timeline is in time order and its
// shield entries have no empty parts (it showed "shield armed : …
// profiles" with the "armed" entry after later ones).
func checkTimeline(t *testing.T, b *browser) {
	t.Helper()
	b.waitJS(t, "the shield's armed entry", `[...document.querySelectorAll('#timeline li')].some(li => li.textContent.includes('shield armed'))`, 30*time.Second)
	times := evalAs[[]float64](t, b, `[...document.querySelectorAll('#timeline li')].map(li => Number(li.dataset.t))`)
	for i := 1; i < len(times); i++ {
		if times[i] < times[i-1] {
			texts := evalAs[[]string](t, b, `[...document.querySelectorAll('#timeline li')].map(li => li.textContent)`)
			t.Fatalf("timeline entry %d is earlier than the one before it:\n%s", i, strings.Join(texts, "\n"))
		}
	}
	for _, s := range evalAs[[]string](t, b, `[...document.querySelectorAll('#timeline li')].map(li => li.textContent)`) {
		if strings.Contains(s, " :") || strings.HasSuffix(s, " ") {
			t.Fatalf("timeline entry with an empty part: %q", s)
		}
	}
}

// checkErrorWords: a refused start shows terok's message, not HTTP
// status words ("(unprocessable entity)", "(HTTP 409) (conflict)").
func checkErrorWords(t *testing.T, b *browser, tr *tree, base string) {
	t.Helper()
	tr.mustTerok(t, "project", "add", "uxnoimage", "--image", "localhost/terok-missing:latest", "--cmd", "true")
	b.open(t, base+"/project/uxnoimage")
	b.click(t, "#task-run")
	b.waitText(t, "#new-task .error", "is not in Podman's store", 60*time.Second)
	msg := b.textOf(t, "#new-task .error")
	for _, words := range []string{"unprocessable", "(HTTP", "(conflict)", "(bad request)"} {
		if strings.Contains(strings.ToLower(msg), strings.ToLower(words)) {
			t.Fatalf("the error shows status words %q: %q", words, msg)
		}
	}
	b.shot(t, "direct-error-image-missing")
}

// checkDaemonLogEmpty: a level filter that leaves no line of a daemon's
// log says so (it showed an empty black box): terok-gate's log, cleared
// and then holding only info lines, at "warn" and at "error".
func checkDaemonLogEmpty(t *testing.T, b *browser, tr *tree, base string) {
	t.Helper()
	sock := "unix://" + tr.run + "/supervisor.sock"
	if out, code := tr.bin(t, "supervisorctl", "-s", sock, "clear", "terok-gate"); code != 0 {
		t.Fatalf("supervisorctl clear terok-gate: exit %d\n%s", code, out)
	}
	// The gate logs the repository it creates, at info.
	if out, code := tr.bin(t, "terok-gate", "repo", "create", "uxlogline"); code != 0 {
		t.Fatalf("terok-gate repo create: exit %d\n%s", code, out)
	}
	b.open(t, base+"/daemons?name=terok-gate")
	b.waitJS(t, "the gate's info lines", `document.querySelectorAll('#daemon-log .line[data-level="info"]').length > 0`, 30*time.Second)
	for _, tc := range []struct{ level, want string }{
		{"warn", "No warnings or errors in the last "},
		{"error", "No errors in the last "},
	} {
		b.setSelect(t, "#level", tc.level)
		b.waitText(t, "#daemon-log", tc.want, 10*time.Second)
		if n := evalAs[int](t, b, `document.querySelectorAll('#daemon-log .line').length`); n != 0 {
			t.Fatalf("at %s the page shows %d line(s) and the empty message", tc.level, n)
		}
		if msg := b.textOf(t, "#daemon-log"); !strings.Contains(msg, "terok-gate") {
			t.Fatalf("the message does not name the daemon: %q", msg)
		}
	}
	b.shot(t, "direct-daemon-log-empty-filter")
	// Lines that are not terok's JSON have their level too: Podman's
	// logrus lines by level=, podman-tasks' by a leading error:/warning:.
	got := evalAs[[]string](t, b, `[
		'time="2026-01-02T03:04:05Z" level=warning msg="\"/\" is not a shared mount"',
		'time="2026-01-02T03:04:05Z" level=error msg="cannot clone: Operation not permitted"',
		'error: import of localhost/terok-base:latest failed; tasks that use it cannot start',
		'warning: could not leave the tree-stop marker',
		'imported localhost/terok-base:latest in 9 s',
	].map(rawLevel)`)
	if strings.Join(got, ",") != "warn,error,error,warn,info" {
		t.Fatalf("levels of raw lines: %v, want warn, error, error, warn, info", got)
	}
	b.setSelect(t, "#level", "debug")
	b.waitJS(t, "lines again", `document.querySelectorAll('#daemon-log .line').length > 0 && !document.querySelector('#daemon-log-empty')`, 10*time.Second)
}
