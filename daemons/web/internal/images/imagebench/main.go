// Command imagebench measures layered project builds through real
// rootless Podman (podman-service as the test user, a fresh home): a full
// build (every layer without the layer cache: Node.js, npm and the agent
// installed again; the apt and npm cache mounts stay warm, as they do for
// a user) against a rebuild where only the project's snippet changed
// (base and agents layers reused by their hash), in one run, with the
// ratio. scripts/bench/images.sh runs it. With --what start it measures
// instead a task's start (create and start of a container as the runner
// makes it, the way a task starts) from the built agents image against
// the plain base image, interleaved, with the ratio
// (scripts/bench/agent-start.sh). It is not a test and asserts nothing.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/images"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/recipes"
)

func main() {
	bin := flag.String("podman-service", "bin/podman-service", "the podman-service binary")
	userName := flag.String("user", "tkpodman", "the unprivileged user running Podman")
	rootfs := flag.String("rootfs", "/var/cache/terok/taskfs-trixie", "root filesystem of the base image")
	agents := flag.String("agents", "claude", "agents of the project, comma-separated")
	fulls := flag.Int("full", 2, "full builds")
	snippets := flag.Int("snippet", 5, "snippet-only rebuilds")
	what := flag.String("what", "rebuild", "rebuild (snippet-only rebuild against a full build) or start (task start, agents image against the base)")
	starts := flag.Int("starts", 15, "task starts of each image (--what start)")
	flag.Parse()
	var err error
	switch *what {
	case "rebuild":
		err = run(*bin, *userName, *rootfs, strings.Split(*agents, ","), *fulls, *snippets)
	case "start":
		err = runStarts(*bin, *userName, *rootfs, strings.Split(*agents, ","), *starts)
	default:
		err = fmt.Errorf("--what %q: use rebuild or start", *what)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench images:", err)
		os.Exit(1)
	}
}

// service is podman-service run as the user in a fresh home.
type service struct {
	base string
	cmd  *exec.Cmd
	out  bytes.Buffer
	api  *podmanapi.Client
}

func start(bin, userName string) (*service, error) {
	u, err := user.Lookup(userName)
	if err != nil {
		return nil, fmt.Errorf("user %s: %w (scripts/setup.d/20-podman.sh makes it)", userName, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	abs, err := filepath.Abs(bin)
	if err != nil {
		return nil, err
	}
	base, err := os.MkdirTemp("", "tkimagebench-")
	if err != nil {
		return nil, err
	}
	os.Chmod(base, 0o755)
	s := &service{base: base}
	for _, d := range []string{"home", "run", "hooks"} {
		p := filepath.Join(base, d)
		if err := os.Mkdir(p, 0o700); err != nil {
			return nil, err
		}
		os.Chown(p, uid, gid)
	}
	run := filepath.Join(base, "run", "terok")
	s.cmd = exec.Command(abs, "serve", "--hooks-dir", filepath.Join(base, "hooks"))
	s.cmd.Env = []string{"HOME=" + filepath.Join(base, "home"), "USER=" + userName, "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
		"XDG_RUNTIME_DIR=" + filepath.Join(base, "run"), "TEROK_RUN_DIR=" + run}
	s.cmd.Dir = filepath.Join(base, "home")
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	s.api = podmanapi.New(filepath.Join(run, "podman.sock"))
	for i := 0; i < 600; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := s.api.Ping(ctx)
		cancel()
		if err == nil {
			return s, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.stop()
	return nil, fmt.Errorf("no answer from Podman's API within 60 s:\n%s", s.out.String())
}

func (s *service) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	if b, err := os.ReadFile(filepath.Join(s.base, "run", "libpod", "tmp", "pause.pid")); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	os.RemoveAll(s.base)
}

// builder imports rootfs as the default base image into the session's
// Podman and returns a builder over it (the host's CA for npm and builds).
func (s *service) builder(ctx context.Context, rootfs string) (*images.Builder, error) {
	tarball, err := exec.Command("tar", "-C", rootfs, "--numeric-owner", "--exclude=./.terok-rootfs-complete", "-c", ".").Output()
	if err != nil {
		return nil, fmt.Errorf("tar %s: %w (make deps builds it)", rootfs, err)
	}
	if _, err := s.api.ImportImage(ctx, images.DefaultBase, bytes.NewReader(tarball)); err != nil {
		return nil, err
	}
	bundle := images.CABundleFromEnv(os.Getenv)
	npm, err := images.NewNPM(images.DefaultRegistry, bundle)
	if err != nil {
		return nil, err
	}
	return images.New(s.api, recipes.New(s.base), npm, images.Config{CABundle: bundle}), nil
}

func median(xs []time.Duration) time.Duration {
	s := append([]time.Duration(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func run(bin, userName, rootfs string, agents []string, fulls, snippets int) error {
	s, err := start(bin, userName)
	if err != nil {
		return err
	}
	defer s.stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	b, err := s.builder(ctx, rootfs)
	if err != nil {
		return err
	}
	spec := images.Spec{Agents: agents}
	n := 0
	build := func(mode images.Mode) (time.Duration, images.Result, error) {
		n++
		snippet := fmt.Sprintf("RUN echo build-%d > /etc/terok-bench\n", n)
		t0 := time.Now()
		res, err := b.Build(ctx, images.Request{Project: "bench", Spec: spec, Snippet: snippet, Mode: mode})
		return time.Since(t0), res, err
	}
	// The first build fills Podman's layer cache and the cache mounts.
	first, res, err := build(images.Reuse)
	if err != nil {
		return err
	}
	fmt.Printf("agents %s (%s) on %s; first build, cold layer cache: %.1f s\n", strings.Join(agents, ","), versions(res), images.DefaultBase, first.Seconds())
	var full, snip []time.Duration
	for i := 0; i < fulls; i++ {
		d, _, err := build(images.Full)
		if err != nil {
			return err
		}
		full = append(full, d)
	}
	for i := 0; i < snippets; i++ {
		d, res, err := build(images.Reuse)
		if err != nil {
			return err
		}
		if !res.Layers[1].Reused {
			return fmt.Errorf("a snippet-only rebuild rebuilt the agents layer")
		}
		snip = append(snip, d)
	}
	mf, ms := median(full), median(snip)
	fmt.Printf("full build (no layer cache, warm cache mounts), median of %d   %8.2f s\n", fulls, mf.Seconds())
	fmt.Printf("snippet-only rebuild (base and agents reused), median of %d    %8.2f s   %.0fx faster (target >= 10x)\n", snippets, ms.Seconds(), mf.Seconds()/ms.Seconds())
	return nil
}

func versions(r images.Result) string {
	var out []string
	for a, v := range r.Versions {
		out = append(out, a+" "+v)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// runStarts builds the agents image, then starts a container of it and
// one of the base in turn, n times each (as the runner starts a task:
// create with its network settings, then start; the container runs
// true), and prints the medians and their ratio.
func runStarts(bin, userName, rootfs string, agents []string, n int) error {
	s, err := start(bin, userName)
	if err != nil {
		return err
	}
	defer s.stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	b, err := s.builder(ctx, rootfs)
	if err != nil {
		return err
	}
	t0 := time.Now()
	res, err := b.Build(ctx, images.Request{Project: "bench", Spec: images.Spec{Agents: agents}})
	if err != nil {
		return err
	}
	fmt.Printf("agents image %s (%s) built in %.1f s\n", res.Image, versions(res), time.Since(t0).Seconds())
	once := func(image string, i int) (time.Duration, error) {
		spec := podmanapi.CreateSpec{Name: fmt.Sprintf("tkstartbench-%d", i), Image: image, Command: []string{"true"},
			NetNS: &podmanapi.Namespace{Mode: "slirp4netns"}, NetworkOptions: map[string][]string{"slirp4netns": {"allow_host_loopback=true"}},
			CapDrop: []string{"ALL"}, CapAdd: []string{"CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID"}}
		t0 := time.Now()
		cr, err := s.api.CreateContainer(ctx, spec)
		if err != nil {
			return 0, fmt.Errorf("create from %s: %w", image, err)
		}
		defer s.api.RemoveContainer(ctx, cr.ID, podmanapi.RemoveOptions{Force: true})
		if err := s.api.StartContainer(ctx, cr.ID); err != nil {
			return 0, fmt.Errorf("start from %s: %w", image, err)
		}
		d := time.Since(t0)
		_, _ = s.api.WaitContainer(ctx, cr.ID)
		return d, nil
	}
	// One of each first: the first container of an image mounts its
	// layers for the first time.
	for i, im := range []string{images.DefaultBase, res.Image} {
		if _, err := once(im, 1000+i); err != nil {
			return err
		}
	}
	var base, agentsD []time.Duration
	for i := 0; i < n; i++ {
		d, err := once(images.DefaultBase, 2*i)
		if err != nil {
			return err
		}
		base = append(base, d)
		if d, err = once(res.Image, 2*i+1); err != nil {
			return err
		}
		agentsD = append(agentsD, d)
	}
	mb, ma := median(base), median(agentsD)
	fmt.Printf("task start (create + start), base image %s, median of %d     %7.0f ms\n", images.DefaultBase, n, float64(mb.Microseconds())/1000)
	fmt.Printf("task start (create + start), agents image, median of %d     %7.0f ms   %.2fx the base (target <= 1.2x)\n", n, float64(ma.Microseconds())/1000, ma.Seconds()/mb.Seconds())
	return nil
}
