package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

// TestBrowserSecrets: the secrets page stores a key write-only (the
// field is emptied, the page never holds the value, the list shows its
// fingerprint as terok secret list does) and removes it after asking.
func TestBrowserSecrets(t *testing.T) {
	b := newBrowser(t)
	tr := startTree(t)
	tr.waitRunning(t)
	login := strings.TrimSpace(tr.mustTerok(t, "web", "url"))
	base := "http://" + tr.webAddr
	b.open(t, login)
	b.waitText(t, "#live", "live", 30*time.Second)

	var r [16]byte
	rand.Read(r[:])
	value := "sk-ant-api03-BROWSER" + hex.EncodeToString(r[:])
	b.open(t, base+"/secrets")
	b.waitJS(t, "the providers", `document.querySelectorAll('#secret-provider option').length >= 3 && !!document.querySelector('#secrets-empty')`, 30*time.Second)
	b.setSelect(t, "#secret-provider", "anthropic")
	b.setValue(t, "#secret-value", value)
	b.click(t, "#secret-save")
	b.waitJS(t, "the stored key listed", `!!document.querySelector('#secrets-list tr[data-provider="anthropic"]')`, 30*time.Second)
	b.shot(t, "secrets")
	if v := evalAs[string](t, b, `document.querySelector('#secret-value').value`); v != "" {
		t.Errorf("the key field still holds %d characters", len(v))
	}
	if evalAs[bool](t, b, `document.documentElement.outerHTML.includes(`+jsString(value)+`)`) {
		t.Error("the page holds the value")
	}
	msg := b.textOf(t, "#secret-msg")
	list := tr.mustTerok(t, "secret", "list")
	fp := ""
	for _, l := range strings.Split(list, "\n") {
		if f := strings.Fields(l); len(f) >= 6 && f[0] == "anthropic" && f[1] == "global" {
			fp = f[5]
		}
	}
	if fp == "" || !strings.Contains(msg, fp) || !strings.Contains(b.textOf(t, "#secrets-list"), fp) {
		t.Fatalf("fingerprint %q (terok secret list:\n%s) not in the message %q or the page's list", fp, list, msg)
	}
	b.click(t, `#secrets-list tr[data-provider="anthropic"] button`)
	b.click(t, "#confirm-yes")
	b.waitJS(t, "the key removed", `!!document.querySelector('#secrets-empty')`, 30*time.Second)
	if out := tr.mustTerok(t, "secret", "list"); strings.Contains(out, "anthropic") {
		t.Fatalf("still stored:\n%s", out)
	}
}
