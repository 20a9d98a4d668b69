// Command bench measures terok-web in a real native tree (scripts/run.sh
// as root, rootless Podman as the e2e user, the real gate and shield):
//
//   - task start latency, from the API call to the agent command running
//     (the agent prints its clock first), median and p90 of N runs, split
//     into gate (repository and token), create, start (the shield's arm
//     included; arm alone as the shield measured it), workspace (clone of
//     a 1,000-file repository by the entry) and the rest;
//   - the baseline: `podman run` of the same image as the same user with
//     the same clone and command, without terok (no shield, no token);
//   - N tasks started at once: time until every agent ran;
//   - API latency with 200 concurrent clients on the TCP listener (GET of
//     a task, token checked), against GET /api/v1/health on the same
//     listener as the floor;
//   - the same API latency side by side with terok-web built at a baseline
//     commit (--base, default 0089361: before task UIs moved to their own
//     origins and sessions went server-side): both run beside the tree on
//     copies of its state, measured in turn, twice each.
//
// scripts/bench/web.sh runs it; it is not a test and asserts nothing.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/web/internal/benchload"

	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

func main() {
	root := flag.String("root", ".", "the checkout (bin/ and scripts/run.sh)")
	runs := flag.Int("runs", 20, "sequential task starts")
	parallel := flag.Int("parallel", 20, "tasks started at once")
	clients := flag.Int("clients", 200, "concurrent API clients")
	userName := flag.String("user", "tke2e", "the unprivileged user of the tree")
	rootfs := flag.String("rootfs", "/var/cache/terok/taskfs-trixie", "root filesystem of the task image")
	floor := flag.String("floor", "", "internal: serve the floor server on this address")
	base := flag.String("base", "0089361", "git commit whose terok-web the API is compared with")
	apiOnly := flag.Bool("api-only", false, "measure only the API (skip task starts)")
	flag.Parse()
	if *floor != "" {
		serveFloor(*floor)
		return
	}
	if err := run(*root, *userName, *rootfs, *runs, *parallel, *clients, *base, *apiOnly); err != nil {
		fmt.Fprintln(os.Stderr, "bench web:", err)
		os.Exit(1)
	}
}

type tree struct {
	dev, run, gate, web string
	cmd                 *exec.Cmd
	out                 bytes.Buffer
}

func freePort() int {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startTree(root, userName string) (*tree, error) {
	dev, err := os.MkdirTemp("", "tkwebbench-")
	if err != nil {
		return nil, err
	}
	os.Chmod(dev, 0o755)
	tr := &tree{dev: dev, run: filepath.Join(dev, "run"),
		gate: fmt.Sprintf("127.0.0.1:%d", freePort()), web: fmt.Sprintf("127.0.0.1:%d", freePort())}
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TEROK_") {
			env = append(env, kv)
		}
	}
	tr.cmd = exec.Command("bash", filepath.Join(root, "scripts", "run.sh"))
	tr.cmd.Env = append(env, "TEROK_DEV_DIR="+dev, "TEROK_USER="+userName, "TEROK_GATE_LISTEN="+tr.gate,
		"TEROK_WEB_LISTEN="+tr.web, "TEROK_WEB_TOKEN=bench-token-0123456789",
		// 200 clients share the token and connect at once: above the listener limits (listenbench measures those).
		"TEROK_WEB_MAX_CONNS_PER_CREDENTIAL=512", "TEROK_WEB_MAX_CREDENTIALED_CONNS=512", "TEROK_WEB_MAX_UNCREDENTIALED_CONNS=512", "TEROK_GATE_ADMIN_TOKEN=bench-admin-0123456789")
	tr.cmd.Stdout, tr.cmd.Stderr = &tr.out, &tr.out
	tr.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := tr.cmd.Start(); err != nil {
		return nil, err
	}
	c := webapi.New(filepath.Join(tr.run, "web.sock"))
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := c.Health(ctx)
		cancel()
		if err == nil && st.Details["podman"] == "ok" && st.Details["terok-gate"] == "ok" && st.Details["terok-shield"] == "ok" {
			return tr, nil
		}
		time.Sleep(300 * time.Millisecond)
	}
	tr.stop()
	return nil, fmt.Errorf("the tree did not come up within 90 s:\n%s", tr.out.String())
}

func (tr *tree) stop() {
	tr.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { tr.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		syscall.Kill(-tr.cmd.Process.Pid, syscall.SIGKILL)
	}
	os.RemoveAll(tr.dev)
}

func sh(dir string, env []string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %v: %v\n%s", name, args, err, out)
	}
	return nil
}

// upstream makes a repository of 1,000 files the gate can read.
func upstream(dev, userName string) (string, error) {
	work, bare := filepath.Join(dev, "up-work"), filepath.Join(dev, "up.git")
	genv := []string{"GIT_AUTHOR_NAME=b", "GIT_AUTHOR_EMAIL=b@example.org", "GIT_COMMITTER_NAME=b", "GIT_COMMITTER_EMAIL=b@example.org", "HOME=" + dev}
	if err := sh(dev, genv, "git", "init", "-q", "-b", "main", work); err != nil {
		return "", err
	}
	for i := range 1000 {
		d := filepath.Join(work, fmt.Sprintf("d%02d", i%40))
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, fmt.Sprintf("f%04d.txt", i)), bytes.Repeat([]byte(fmt.Sprintf("line %d of a file\n", i)), 40), 0o644)
	}
	for _, a := range [][]string{{"add", "-A"}, {"commit", "-qm", "1000 files"}, {"init", "-q", "--bare", "-b", "main", bare}, {"push", "-q", bare, "main"}} {
		if err := sh(work, genv, "git", a...); err != nil {
			return "", err
		}
	}
	return bare, sh(dev, nil, "chown", "-R", userName, bare)
}

var startRE = regexp.MustCompile(`agent-start (\d+)`)
var wsRE = regexp.MustCompile(`workspace ready in (\d+) ms`)

type sample struct {
	total, gate, create, start, arm, workspace, rest float64
}

func logsOf(ctx context.Context, c *webapi.Client, id string) string {
	var b strings.Builder
	for chunk, err := range c.Logs(ctx, id, -1, false) {
		if err != nil {
			return ""
		}
		b.Write(chunk)
	}
	return b.String()
}

// one starts a task and returns its sample once it has ended.
func one(ctx context.Context, c *webapi.Client) (sample, error) {
	t0 := time.Now()
	t, err := c.Run(ctx, webapi.RunRequest{Project: "bench"})
	if err != nil {
		return sample{}, err
	}
	if _, err := c.Wait(ctx, t.ID); err != nil {
		return sample{}, err
	}
	t, _ = c.Task(ctx, t.ID)
	out := logsOf(ctx, c, t.ID)
	m := startRE.FindStringSubmatch(out)
	if m == nil {
		return sample{}, fmt.Errorf("task %s printed no agent-start line (state %s %s):\n%s", t.ID, t.State, t.Reason, out)
	}
	ns, _ := strconv.ParseInt(m[1], 10, 64)
	s := sample{total: float64(time.Unix(0, ns).Sub(t0).Microseconds()) / 1000,
		gate: t.StartMS["gate"], create: t.StartMS["create"], start: t.StartMS["start"], arm: t.StartMS["shield_arm"]}
	if w := wsRE.FindStringSubmatch(out); w != nil {
		s.workspace, _ = strconv.ParseFloat(w[1], 64)
	}
	s.rest = s.total - s.gate - s.create - s.start - s.workspace
	_ = c.Remove(ctx, t.ID, true)
	return s, nil
}

func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64{}, xs...)
	sort.Float64s(s)
	i := int(p*float64(len(s)-1) + 0.5)
	return s[i]
}

func run(root, userName, rootfs string, runs, parallel, clients int, baseRev string, apiOnly bool) error {
	root, _ = filepath.Abs(root)
	binDir = filepath.Join(root, "bin")
	if _, err := os.Stat(filepath.Join(rootfs, ".terok-rootfs-complete")); err != nil {
		return fmt.Errorf("%s is missing: run scripts/task-rootfs.sh (make deps)", rootfs)
	}
	u, err := user.Lookup(userName)
	if err != nil {
		return fmt.Errorf("user %s: %w (make deps creates it)", userName, err)
	}
	tr, err := startTree(root, userName)
	if err != nil {
		return err
	}
	defer tr.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	c := webapi.New(filepath.Join(tr.run, "web.sock"))

	imp := exec.Command("bash", "-c", "tar -C "+rootfs+" --numeric-owner --exclude=./.terok-rootfs-complete -c . | "+filepath.Join(root, "bin", "terok")+" image import localhost/terok-base:latest -")
	imp.Env = append(os.Environ(), "TEROK_RUN_DIR="+tr.run)
	if out, err := imp.CombinedOutput(); err != nil {
		return fmt.Errorf("import image: %v\n%s", err, out)
	}
	up, err := upstream(tr.dev, userName)
	if err != nil {
		return err
	}
	agent := `echo "agent-start $(date +%s%N)"`
	if _, err := c.CreateProject(ctx, webapi.Project{Name: "bench", Git: webapi.Git{UpstreamURL: up}, Agent: webapi.Agent{Command: agent}}); err != nil {
		return err
	}
	if apiOnly {
		return apiBench(ctx, root, tr, c, clients, baseRev)
	}
	fmt.Printf("task start: %d runs, local image, a 1,000-file repository, shield on\n", runs)
	if _, err := one(ctx, c); err != nil { // warm-up: mirror, caches
		return err
	}
	var ss []sample
	for range runs {
		s, err := one(ctx, c)
		if err != nil {
			return err
		}
		ss = append(ss, s)
	}
	col := func(f func(sample) float64) []float64 {
		var out []float64
		for _, s := range ss {
			out = append(out, f(s))
		}
		return out
	}
	fmt.Printf("  %-28s %9s %9s\n", "step (ms)", "median", "p90")
	for _, row := range []struct {
		name string
		f    func(sample) float64
	}{
		{"gate (repo + token)", func(s sample) float64 { return s.gate }},
		{"create", func(s sample) float64 { return s.create }},
		{"start (shield arm included)", func(s sample) float64 { return s.start }},
		{"  shield arm alone", func(s sample) float64 { return s.arm }},
		{"workspace (clone)", func(s sample) float64 { return s.workspace }},
		{"rest", func(s sample) float64 { return s.rest }},
		{"total: API call → agent", func(s sample) float64 { return s.total }},
	} {
		xs := col(row.f)
		fmt.Printf("  %-28s %9.1f %9.1f\n", row.name, pct(xs, 0.5), pct(xs, 0.9))
	}
	ours := pct(col(func(s sample) float64 { return s.total }), 0.5)

	base, err := baseline(ctx, tr, u, runs)
	if err != nil {
		fmt.Printf("  baseline failed: %v\n", err)
	} else {
		fmt.Printf("  baseline: podman run + the same clone, no terok: median %.1f ms, p90 %.1f ms\n", pct(base, 0.5), pct(base, 0.9))
		fmt.Printf("  ratio terok/baseline (median): %.2f\n", ours/pct(base, 0.5))
	}

	// N at once.
	t0 := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var lat []float64
	var errs []error
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := one(ctx, c)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			lat = append(lat, s.total)
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d parallel tasks failed; first: %w", len(errs), parallel, errs[0])
	}
	fmt.Printf("%d tasks at once: every agent running after %.1f s (per task: median %.0f ms, slowest %.0f ms); all done and removed after %.1f s\n",
		parallel, pct(lat, 1)/1000, pct(lat, 0.5), pct(lat, 1), time.Since(t0).Seconds())

	return apiBench(ctx, root, tr, c, clients, baseRev)
}

// baseline times `podman run` of the same image as the same user with the
// same clone through the gate (an admin-free task token) and command.
func baseline(ctx context.Context, tr *tree, u *user.User, runs int) ([]float64, error) {
	mint := exec.Command(binPath("terok-gate"), "token", "mint", "--project", "bench", "--task", "baseline")
	mint.Env = append(os.Environ(), "TEROK_RUN_DIR="+tr.run)
	out, err := mint.Output()
	if err != nil {
		return nil, fmt.Errorf("mint a token: %v", err)
	}
	token := strings.TrimSpace(string(out))
	_, port, _ := net.SplitHostPort(tr.gate)
	script := fmt.Sprintf(`git clone -q http://%s@10.0.2.2:%s/bench.git /workspace && cd /workspace && echo "agent-start $(date +%%s%%N)"`, token, port)
	var xs []float64
	for i := range runs + 1 {
		t0 := time.Now()
		cmd := exec.CommandContext(ctx, "runuser", "-u", u.Username, "--", "env", "XDG_RUNTIME_DIR=/run/user/"+u.Uid, "HOME="+u.HomeDir,
			"podman", "run", "--rm", "--network", "slirp4netns:allow_host_loopback=true", "localhost/terok-base:latest", "sh", "-c", script)
		cmd.Dir = "/"
		b, err := cmd.CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("podman run: %v\n%s", err, b)
		}
		m := startRE.FindSubmatch(b)
		if m == nil {
			return nil, fmt.Errorf("podman run printed no agent-start:\n%s", b)
		}
		ns, _ := strconv.ParseInt(string(m[1]), 10, 64)
		if i > 0 {
			xs = append(xs, float64(time.Unix(0, ns).Sub(t0).Microseconds())/1000)
		}
	}
	return xs, nil
}

var binDir string

func binPath(name string) string { return filepath.Join(binDir, name) }

// apiBench measures the API on the TCP listener with clients concurrent
// keep-alive clients, beside a floor, then side by side with the baseline
// commit's terok-web.
func apiBench(ctx context.Context, root string, tr *tree, c *webapi.Client, clients int, baseRev string) error {
	t, err := c.Run(ctx, webapi.RunRequest{Project: "bench"})
	if err != nil {
		return err
	}
	c.Wait(ctx, t.ID)
	defer c.Remove(context.Background(), t.ID, true)
	if err := apiFloor(ctx, tr, t.ID, clients); err != nil {
		return err
	}
	return apiCompare(ctx, root, tr, t.ID, clients, baseRev)
}

// measureAPI: clients concurrent keep-alive clients, 25 GETs each; the
// latencies in ms.
func measureAPI(ctx context.Context, base, path string, clients int) ([]float64, error) {
	return benchload.GETs(ctx, "http://"+base+path, "bench-token-0123456789", clients, 25, 0)
}

// apiFloor measures the tree's API beside a bare net/http floor.
func apiFloor(ctx context.Context, tr *tree, taskID string, clients int) error {
	measure := func(base, path string) ([]float64, error) { return measureAPI(ctx, base, path, clients) }
	// The floor: a bare net/http server in its own process answering a
	// small JSON body, measured the same way.
	faddr := fmt.Sprintf("127.0.0.1:%d", freePort())
	fl := exec.Command(os.Args[0], "-floor", faddr)
	if err := fl.Start(); err != nil {
		return err
	}
	defer func() { fl.Process.Kill(); fl.Wait() }()
	for i := 0; i < 100; i++ {
		if cn, err := net.Dial("tcp", faddr); err == nil {
			cn.Close()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Printf("API: %d concurrent keep-alive clients on loopback, 25 requests each (first round warms the connections)\n", clients)
	type res struct{ p50, p99 float64 }
	results := map[string]res{}
	for _, p := range []struct{ name, base, path string }{
		{"floor: bare net/http", faddr, "/"},
		{"GET /api/v1/tasks/{id}", tr.web, "/api/v1/tasks/" + taskID},
		{"GET /api/v1/tasks", tr.web, "/api/v1/tasks"},
	} {
		if _, err := measure(p.base, p.path); err != nil { // warm-up
			return fmt.Errorf("%s: %w", p.name, err)
		}
		lat, err := measure(p.base, p.path)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		results[p.name] = res{pct(lat, 0.5), pct(lat, 0.99)}
		fmt.Printf("  %-28s p50 %6.2f ms  p99 %6.2f ms\n", p.name, pct(lat, 0.5), pct(lat, 0.99))
	}
	f := results["floor: bare net/http"]
	g := results["GET /api/v1/tasks/{id}"]
	fmt.Printf("  ratio GET task / floor: p50 %.2f, p99 %.2f\n", g.p50/f.p50, g.p99/f.p99)
	return nil
}

func serveFloor(addr string) {
	body := []byte(`{"status": "ok"}` + "\n")
	http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
}
