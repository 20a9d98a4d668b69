// Command bench measures cloning one large repository three ways in one
// run: through terok-gate (HTTP, task token), through git http-backend
// served as CGI by a plain Go HTTP server (how the Python original served
// it), and with `git clone --no-local` from the path (the floor), all three
// from the same repository directory, the gate's. It prints medians, the
// ratios, and the gate's peak RSS. scripts/bench/gate.sh runs it; it is not
// a test and asserts nothing about time.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	bin := flag.String("bin", "bin/terok-gate", "terok-gate binary")
	cache := flag.String("cache", "/var/tmp/tkgate-bench", "where the generated repository is kept between runs")
	rounds := flag.Int("rounds", 3, "clones per method")
	commits := flag.Int("commits", 5000, "commits of the generated repository")
	files := flag.Int("files", 2000, "files of the generated repository")
	flag.BoolVar(&serverSideToo, "server-side", true, "also time go-git's upload-pack server against git's (about a minute)")
	flag.BoolVar(&limitsToo, "limits", true, "also clone with and without the listener limits, and count the idle connections a client can hold")
	flag.BoolVar(&onlyLimits, "only-limits", false, "run only the listener limits part")
	flag.Parse()
	if err := run(*bin, *cache, *rounds, *commits, *files); err != nil {
		fmt.Fprintln(os.Stderr, "bench gate:", err)
		os.Exit(1)
	}
}

var serverSideToo, limitsToo, onlyLimits bool

func run(bin, cache string, rounds, commits, files int) error {
	bin, _ = filepath.Abs(bin)
	src := filepath.Join(cache, fmt.Sprintf("src-%dc-%df.git", commits, files))
	if err := ensureRepo(src, commits, files); err != nil {
		return fmt.Errorf("generate repository: %w", err)
	}
	packMB := packSize(src) / 1e6
	fmt.Printf("repository: %d commits, %d files, pack %.1f MB (%s)\n", commits, files, packMB, src)
	if onlyLimits {
		work, err := os.MkdirTemp("", "tkgate-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(work)
		return limitsBench(src, work, append(os.Environ(), "HOME="+work, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0"), rounds)
	}
	if serverSideToo {
		if err := serverSide(src); err != nil {
			fmt.Printf("server side comparison failed: %v\n", err)
		}
	}

	work, err := os.MkdirTemp("", "tkgate-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	env := append(os.Environ(), "HOME="+work, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")

	// The gate: its own state dir, the repository fetched in locally.
	const admin = "terok-admin-benchbenchbenchbench"
	root := filepath.Join(work, "gate")
	sock := filepath.Join(work, "gate.sock")
	gate := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--socket", sock, "--root", root, "--admin-token", admin, "--poll-interval", "0")
	gate.Env = append(env, "TEROK_LOG_LEVEL=warn")
	out, _ := gate.StdoutPipe()
	gate.Stderr = os.Stderr
	if err := gate.Start(); err != nil {
		return fmt.Errorf("start gate: %w", err)
	}
	defer func() { gate.Process.Signal(os.Interrupt); gate.Wait() }()
	sc := bufio.NewScanner(out)
	var addr string
	for sc.Scan() {
		if m := regexp.MustCompile(`git smart HTTP on (\S+)`).FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
			break
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	if addr == "" {
		return fmt.Errorf("gate printed no address")
	}
	cli := func(args ...string) (string, error) {
		c := exec.Command(bin, append(append(args[:2:2], "--socket", sock), args[2:]...)...)
		c.Env = env
		b, err := c.CombinedOutput()
		return strings.TrimSpace(string(b)), err
	}
	if o, err := cli("repo", "create", "bench"); err != nil {
		return fmt.Errorf("create repo: %v %s", err, o)
	}
	if err := git(env, "", "--git-dir", filepath.Join(root, "repos", "bench.git"), "fetch", "-q", "--no-tags", src, "+refs/heads/*:refs/heads/*"); err != nil {
		return err
	}
	tok, err := cli("token", "mint", "--project", "bench", "--task", "bench")
	if err != nil {
		return fmt.Errorf("mint: %v %s", err, tok)
	}

	// git http-backend as CGI behind a plain Go HTTP server.
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		return err
	}
	// Every method serves the very same repository directory: the gate's.
	// Its pack is the generated one, fetched in, but it has no reachability
	// bitmap, which the generator's `git repack` wrote into the cached copy;
	// with one, git upload-pack counts the objects of a full clone in half
	// the time. The cached copy is still served over CGI and cloned from,
	// as reference rows, so that difference shows in every run.
	gateRepo := filepath.Join(root, "repos", "bench.git")
	cgiRoot := filepath.Join(work, "cgi")
	os.MkdirAll(cgiRoot, 0o755)
	if err := os.Symlink(gateRepo, filepath.Join(cgiRoot, "bench.git")); err != nil {
		return err
	}
	if err := os.Symlink(src, filepath.Join(cgiRoot, "bitmapped.git")); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + cgiRoot, "GIT_HTTP_EXPORT_ALL=1", "HOME=" + work, "GIT_CONFIG_NOSYSTEM=1"},
	}}
	go hs.Serve(ln)
	defer hs.Close()

	methods := []struct {
		name, url string
		args      []string
	}{
		{"gate (HTTP, token)", "http://" + tok + "@" + addr + "/bench.git", nil},
		{"git http-backend CGI", "http://" + ln.Addr().String() + "/bench.git", nil},
		{"git clone --no-local", gateRepo, []string{"--no-local"}},
		{"ref: CGI, bitmapped copy", "http://" + ln.Addr().String() + "/bitmapped.git", nil},
		{"ref: path, bitmapped copy", src, []string{"--no-local"}},
	}
	times := make([][]time.Duration, len(methods))
	var peak atomic.Int64
	gatePID := gate.Process.Pid
	for r := 0; r < rounds; r++ {
		// Rotate the order each round so no method always goes first.
		for k := range methods {
			i := (k + r) % len(methods)
			m := methods[i]
			dst := filepath.Join(work, fmt.Sprintf("clone-%d-%d", r, i))
			var stop chan struct{}
			var wg sync.WaitGroup
			if i == 0 {
				stop = make(chan struct{})
				wg.Add(1)
				go func() { defer wg.Done(); sampleRSS(gatePID, stop, &peak) }()
			}
			args := append([]string{"clone", "-q", "--no-checkout"}, m.args...)
			start := time.Now()
			err := git(env, "", append(args, m.url, dst)...)
			d := time.Since(start)
			if stop != nil {
				close(stop)
				wg.Wait()
			}
			if err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			times[i] = append(times[i], d)
			os.RemoveAll(dst)
		}
	}
	med := make([]time.Duration, len(methods))
	for i, m := range methods {
		med[i] = median(times[i])
		fmt.Printf("%-26s median %6.2fs  MB/s %6.1f  runs %v\n", m.name, med[i].Seconds(), packMB/med[i].Seconds(), rounded(times[i]))
	}
	fmt.Printf("same repository (the gate's):\n")
	fmt.Printf("ratio gate / http-backend   %.2f  (target <= 1.00)\n", float64(med[0])/float64(med[1]))
	fmt.Printf("ratio gate / floor          %.2f  (target <= 1.30)\n", float64(med[0])/float64(med[2]))
	fmt.Printf("ratio http-backend / floor  %.2f\n", float64(med[1])/float64(med[2]))
	fmt.Printf("against the bitmapped copy (how this bench compared before; not like with like):\n")
	fmt.Printf("ratio gate / http-backend   %.2f\n", float64(med[0])/float64(med[3]))
	fmt.Printf("ratio gate / floor          %.2f\n", float64(med[0])/float64(med[4]))
	// One push of the whole history each way; every target checks the
	// objects (receive.fsckObjects) as the gate does.
	var pushPeak atomic.Int64
	if o, err := cli("repo", "create", "pushbench"); err != nil {
		return fmt.Errorf("create push repo: %v %s", err, o)
	}
	cgiPush := filepath.Join(cgiRoot, "push.git")
	floorPush := filepath.Join(work, "floor-push.git")
	for _, d := range []string{cgiPush, floorPush} {
		if err := git(env, "", "init", "-q", "--bare", d); err != nil {
			return err
		}
		if err := git(env, "", "--git-dir", d, "config", "receive.fsckObjects", "true"); err != nil {
			return err
		}
	}
	if err := git(env, "", "--git-dir", cgiPush, "config", "http.receivepack", "true"); err != nil {
		return err
	}
	pushes := []struct{ name, url string }{
		{"push: gate (HTTP, admin)", "http://" + admin + "@" + addr + "/pushbench.git"},
		{"push: git http-backend CGI", "http://" + ln.Addr().String() + "/push.git"},
		{"push: git push to a path", floorPush},
	}
	var pushTimes []time.Duration
	for i, p := range pushes {
		var stop chan struct{}
		var wg sync.WaitGroup
		if i == 0 {
			stop = make(chan struct{})
			wg.Add(1)
			go func() { defer wg.Done(); sampleRSS(gatePID, stop, &pushPeak) }()
		}
		start := time.Now()
		// A post buffer larger than the pack sends it with a Content-Length:
		// a chunked push through git http-backend under Go's CGI host was
		// answered with HTTP 400. Every target gets the same request.
		err := git(env, "", "-c", "http.postBuffer=1073741824", "--git-dir", src, "push", "-q", p.url, "refs/heads/main:refs/heads/main")
		d := time.Since(start)
		if stop != nil {
			close(stop)
			wg.Wait()
		}
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		pushTimes = append(pushTimes, d)
		fmt.Printf("%-28s %6.2fs\n", p.name, d.Seconds())
	}
	fmt.Printf("ratio push gate / http-backend %.2f, gate / path %.2f; gate RSS during the push: peak sampled %.1f MB\n",
		float64(pushTimes[0])/float64(pushTimes[1]), float64(pushTimes[0])/float64(pushTimes[2]), float64(pushPeak.Load())/1024)

	hwm := statusKB(gatePID, "VmHWM")
	fmt.Printf("gate RSS during clones: peak sampled %.1f MB (target < 60 MB; git children not included); VmHWM over the whole run %.1f MB\n",
		float64(peak.Load())/1024, float64(hwm)/1024)
	if limitsToo {
		return limitsBench(src, work, env, rounds)
	}
	return nil
}

func git(env []string, dir string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, "git", args...)
	c.Env, c.Dir = env, dir
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Run(); err != nil {
		return fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func rounded(ds []time.Duration) []string {
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%.2fs", d.Seconds()))
	}
	return out
}

func statusKB(pid int, key string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

func sampleRSS(pid int, stop chan struct{}, peak *atomic.Int64) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if kb := statusKB(pid, "VmRSS"); kb > peak.Load() {
			peak.Store(kb)
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

func packSize(repo string) float64 {
	var total int64
	ms, _ := filepath.Glob(filepath.Join(repo, "objects", "pack", "*.pack"))
	for _, m := range ms {
		if fi, err := os.Stat(m); err == nil {
			total += fi.Size()
		}
	}
	return float64(total)
}

// ensureRepo generates the repository with git fast-import once; later
// runs reuse it (the directory appears only when complete).
func ensureRepo(dst string, commits, files int) error {
	if _, err := os.Stat(filepath.Join(dst, "tkgate-complete")); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp := dst + ".tmp"
	os.RemoveAll(tmp)
	env := append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+filepath.Dir(dst))
	if err := git(env, "", "init", "-q", "--bare", "-b", "main", tmp); err != nil {
		return err
	}
	fmt.Printf("generating %d commits over %d files with git fast-import (once, cached in %s)…\n", commits, files, filepath.Dir(dst))
	start := time.Now()
	fi := exec.Command("git", "fast-import", "--quiet")
	fi.Dir, fi.Env = tmp, env
	in, _ := fi.StdinPipe()
	var stderr bytes.Buffer
	fi.Stderr = &stderr
	if err := fi.Start(); err != nil {
		return err
	}
	w := bufio.NewWriterSize(in, 1<<20)
	rng := rand.New(rand.NewSource(42))
	const fileSize = 16 << 10
	const chunk = 2 << 10
	content := make([][]byte, files)
	line := func(b []byte) {
		const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 +-*/=(){};"
		for i := range b {
			b[i] = alphabet[rng.Intn(len(alphabet))]
			if i%64 == 63 {
				b[i] = '\n'
			}
		}
	}
	for f := range content {
		content[f] = make([]byte, fileSize)
		line(content[f])
	}
	when := int64(1600000000)
	for c := 0; c < commits; c++ {
		var touched []int
		if c == 0 {
			for f := range content {
				touched = append(touched, f)
			}
		} else {
			for k := 0; k < 4; k++ {
				f := rng.Intn(files)
				off := rng.Intn(fileSize/chunk) * chunk
				line(content[f][off : off+chunk])
				touched = append(touched, f)
			}
		}
		when += 60
		msg := fmt.Sprintf("commit %d", c)
		fmt.Fprintf(w, "commit refs/heads/main\ncommitter Bench <bench@example.invalid> %d +0000\ndata %d\n%s\n", when, len(msg), msg)
		for _, f := range touched {
			fmt.Fprintf(w, "M 100644 inline dir%02d/file%04d.txt\ndata %d\n", f%50, f, len(content[f]))
			w.Write(content[f])
			w.WriteString("\n")
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("fast-import: %v: %s", err, stderr.String())
	}
	in.Close()
	if err := fi.Wait(); err != nil {
		return fmt.Errorf("fast-import: %v: %s", err, stderr.String())
	}
	// fast-import stores whole blobs; one full repack finds the deltas a
	// real history has.
	if err := git(env, tmp, "repack", "-a", "-d", "-f", "-q", "--window=10", "--depth=50"); err != nil {
		return err
	}
	os.WriteFile(filepath.Join(tmp, "tkgate-complete"), nil, 0o644)
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	fmt.Printf("generated in %s\n", time.Since(start).Round(time.Second))
	return nil
}
