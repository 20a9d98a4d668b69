package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/e2e/e2ekit"
)

// browser is one headless Debian Chromium driven over CDP (chromedp).
type browser struct {
	ctx    context.Context
	cancel context.CancelFunc
	shots  string
}

// newBrowser starts Chromium with the flags of TESTBED.md. Screenshots go
// to e2e/screenshots (git-ignored).
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	testkit.Require(t, err == nil, "chromium is missing: apt-get install chromium (scripts/setup.d/80-ui.packages; make deps)")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		// The reverse proxy's certificate is self-signed, made by the test.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 720),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		acancel()
		t.Fatalf("start chromium: %v", err)
	}
	shots := filepath.Join(repoRoot(t), "e2e", "screenshots")
	os.MkdirAll(shots, 0o755)
	b := &browser{ctx: ctx, cancel: func() { cancel(); acancel() }, shots: shots}
	t.Cleanup(b.cancel)
	return b
}

// run runs actions with a generous bound.
func (b *browser) run(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.shot(t, "failed-"+sanitize(t.Name()))
		t.Fatalf("%s: %v", what, err)
	}
}

// open navigates and waits until the page's script has rendered.
func (b *browser) open(t *testing.T, url string) {
	t.Helper()
	b.run(t, "open "+url, chromedp.Navigate(url))
	b.waitJS(t, "the page at "+url+" is ready", `document.body.dataset.ready === "1" || document.body.dataset.page === "login"`, 60*time.Second)
}

// evalAs evaluates js in the page and returns its value.
func evalAs[T any](t *testing.T, b *browser, js string, opts ...chromedp.EvaluateOption) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, opts...))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// waitJS polls (bounded) until the expression is true.
func (b *browser) waitJS(t *testing.T, what, js string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+js+")"))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
			body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
			cancel()
			b.shot(t, "failed-"+sanitize(t.Name()))
			t.Fatalf("%s: not within %s (%v)\n--- page text ---\n%s", what, limit, err, e2ekit.Tail(body, 60))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// waitText waits until sel's text contains want.
func (b *browser) waitText(t *testing.T, sel, want string, limit time.Duration) {
	t.Helper()
	b.waitJS(t, fmt.Sprintf("%s shows %q", sel, want),
		fmt.Sprintf(`((document.querySelector(%q) || {}).textContent || "").includes(%q)`, sel, want), limit)
}

// click clicks the element matching the JS selector (sel may match hidden
// buttons inside rows; the first visible match is clicked).
func (b *browser) click(t *testing.T, sel string) {
	t.Helper()
	b.waitJS(t, "element "+sel, fmt.Sprintf(`document.querySelector(%q)`, sel), 60*time.Second)
	b.run(t, "click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// setValue sets a form field's value as typing would.
func (b *browser) setValue(t *testing.T, sel, value string) {
	t.Helper()
	b.waitJS(t, "field "+sel, fmt.Sprintf(`document.querySelector(%q)`, sel), 30*time.Second)
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %s; e.dispatchEvent(new Event('input', {bubbles: true})); return true; })()`, sel, jsString(value))
	evalAs[bool](t, b, js)
}

func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }

// url is the page's current URL.
func (b *browser) url(t *testing.T) string {
	t.Helper()
	return evalAs[string](t, b, `location.href`)
}

// shot saves a full-page screenshot at 1280 wide as NAME.png.
func (b *browser) shot(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644)
}

// phoneShot saves the page at a phone's width (390x844), then restores.
func (b *browser) phoneShot(t *testing.T, name string) {
	t.Helper()
	b.run(t, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulatePortrait))
	time.Sleep(500 * time.Millisecond)
	b.shot(t, name)
	b.run(t, "desktop viewport", chromedp.EmulateViewport(1280, 720))
}

func sanitize(s string) string {
	return strings.NewReplacer("/", "-", " ", "_").Replace(s)
}

// nginx is Debian's nginx run by the test as a TLS reverse proxy in front
// of terok-web: on one port at / and on another under /terok/.
type nginx struct {
	dir                string
	plainPort, pfxPort int
	taskHost           string // the address nginx publishes task ports on
	cmd                *exec.Cmd
}

// nginxConf is the test's reverse-proxy configuration; docs/web.md shows
// the same location blocks.
const nginxConf = `worker_processes 1;
error_log {{.Dir}}/error.log info;
pid {{.Dir}}/nginx.pid;
daemon off;
events { worker_connections 256; }
http {
  access_log {{.Dir}}/access.log;
  client_body_temp_path {{.Dir}}/tmp/body;
  proxy_temp_path {{.Dir}}/tmp/proxy;
  fastcgi_temp_path {{.Dir}}/tmp/fastcgi;
  uwsgi_temp_path {{.Dir}}/tmp/uwsgi;
  scgi_temp_path {{.Dir}}/tmp/scgi;
  ssl_certificate {{.Dir}}/cert.pem;
  ssl_certificate_key {{.Dir}}/key.pem;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }

  # terok at the root of its own host name (here: port).
  server {
    listen 127.0.0.1:{{.Plain}} ssl;
    location / {
      proxy_pass http://{{.Web}};
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Proto https;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_buffering off;
      proxy_read_timeout 1h;
    }
  }
  # Web tasks' UIs: each on its own port, the same number as terok-web's
  # task listener (TEROK_PUBLIC_HOST names this address; docs/web.md).
  server {
{{range .TaskPorts}}    listen {{$.TaskHost}}:{{.}} ssl;
{{end}}    location / {
      proxy_pass http://{{.WebHost}}:$server_port;
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Proto https;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_buffering off;
      proxy_read_timeout 1h;
    }
  }
  # terok under a path prefix (TEROK_PUBLIC_URL=https://host:port/terok).
  server {
    listen 127.0.0.1:{{.Prefix}} ssl;
    location /terok/ {
      proxy_pass http://{{.Web}}/;
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Proto https;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_buffering off;
      proxy_read_timeout 1h;
    }
  }
}
`

// newNginx prepares the directory, certificate and ports; start runs it.
func newNginx(t *testing.T) *nginx {
	t.Helper()
	_, err := exec.LookPath("nginx")
	if err != nil {
		_, err = os.Stat("/usr/sbin/nginx")
	}
	testkit.Require(t, err == nil, "nginx is missing: apt-get install nginx (scripts/setup.d/80-ui.packages; make deps)")
	dir, err := os.MkdirTemp("", "tkui-nginx-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// nginx's workers run as www-data: they enter the directory and write
	// their temp files below it.
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("nginx's directory: %s: %v", what, err)
		}
	}
	must("chmod", os.Chmod(dir, 0o755))
	for _, d := range []string{"body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		must("mkdir "+d, os.MkdirAll(filepath.Join(dir, "tmp", d), 0o777))
		must("chmod "+d, os.Chmod(filepath.Join(dir, "tmp", d), 0o777))
	}
	selfSigned(t, dir)
	return &nginx{dir: dir, plainPort: freePort(t), pfxPort: freePort(t), taskHost: "127.0.0.1"}
}

func (n *nginx) publicURL() string { return fmt.Sprintf("https://127.0.0.1:%d/terok", n.pfxPort) }

func (n *nginx) start(t *testing.T, webAddr string) {
	t.Helper()
	var b strings.Builder
	var ports []int
	for p := 7860; p <= 7880; p++ {
		ports = append(ports, p)
	}
	webHost, _, err := net.SplitHostPort(webAddr)
	if err != nil {
		t.Fatalf("terok-web's address %q: %v", webAddr, err)
	}
	if err := template.Must(template.New("").Parse(nginxConf)).Execute(&b, map[string]any{
		"Dir": n.dir, "Plain": n.plainPort, "Prefix": n.pfxPort, "Web": webAddr,
		"TaskHost": n.taskHost, "TaskPorts": ports, "WebHost": webHost}); err != nil {
		t.Fatalf("nginx.conf: %v", err)
	}
	conf := filepath.Join(n.dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := "/usr/sbin/nginx"
	if p, err := exec.LookPath("nginx"); err == nil {
		bin = p
	}
	if out, err := exec.Command(bin, "-t", "-c", conf, "-p", n.dir).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	n.cmd = exec.Command(bin, "-c", conf, "-p", n.dir)
	n.cmd.Stdout, n.cmd.Stderr = os.Stderr, os.Stderr
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { n.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			n.cmd.Process.Kill()
		}
	})
	waitFor(t, "nginx listening", 20*time.Second, func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", n.pfxPort))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// selfSigned writes cert.pem and key.pem for 127.0.0.1 and localhost.
func selfSigned(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "terok test proxy"},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("127.0.0.2")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// setSelect picks a <select>'s option and fires change.
func (b *browser) setSelect(t *testing.T, sel, value string) {
	t.Helper()
	evalAs[bool](t, b, fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %s; e.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`, sel, jsString(value)))
}

// typeText inserts text at the focus as one input (as an IME or a paste
// does: one input event, no key events to double it).
func (b *browser) typeText(t *testing.T, text string) {
	t.Helper()
	b.run(t, "type", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, input.InsertText, input.InsertTextParams{Text: text})
		return err
	}))
}

// pressEnter presses and releases the Enter key.
func (b *browser) pressEnter(t *testing.T) {
	t.Helper()
	b.run(t, "enter", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Key: "Enter", Code: "Enter", Text: "\r", UnmodifiedText: "\r", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13}
		if _, err := cdp.Call(ctx, tg, input.DispatchKeyEvent, down); err != nil {
			return err
		}
		up := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyUp, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13}
		_, err := cdp.Call(ctx, tg, input.DispatchKeyEvent, up)
		return err
	}))
}

// pressKey presses and releases one key without text (Tab, Escape).
func (b *browser) pressKey(t *testing.T, key string, code int64) {
	t.Helper()
	b.run(t, "key "+key, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeRawKeyDown, Key: key, Code: key, WindowsVirtualKeyCode: code, NativeVirtualKeyCode: code}
		if _, err := cdp.Call(ctx, tg, input.DispatchKeyEvent, down); err != nil {
			return err
		}
		up := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyUp, Key: key, Code: key, WindowsVirtualKeyCode: code, NativeVirtualKeyCode: code}
		_, err := cdp.Call(ctx, tg, input.DispatchKeyEvent, up)
		return err
	}))
}

// textOf is the text content of the first element matching sel.
func (b *browser) textOf(t *testing.T, sel string) string {
	t.Helper()
	return evalAs[string](t, b, fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel))
}
