package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// side is one terok-web run beside the tree for the comparison.
type side struct {
	name, bin, addr string
	cmd             *exec.Cmd
}

// buildBase builds terok-web at rev (a commit of the checkout at root)
// into dir and returns the binary.
func buildBase(ctx context.Context, root, rev, dir string) (string, error) {
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	arch := exec.CommandContext(ctx, "bash", "-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "archive", root, rev, src)
	if out, err := arch.CombinedOutput(); err != nil {
		return "", fmt.Errorf("git archive %s: %v\n%s", rev, err, out)
	}
	bin := filepath.Join(dir, "terok-web-"+rev)
	b := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./daemons/web/cmd/terok-web")
	b.Dir = src
	b.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := b.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build terok-web at %s: %v\n%s", rev, err, out)
	}
	return bin, nil
}

// start runs s on a copy of the tree's state, beside the tree (its
// daemons' sockets), with its own web.sock and TCP port; it returns when
// the API answers.
func (s *side) start(ctx context.Context, root string, tr *tree, dir string) error {
	state := filepath.Join(dir, "state-"+s.name)
	if out, err := exec.Command("cp", "-a", filepath.Join(tr.dev, "state"), state).CombinedOutput(); err != nil {
		return fmt.Errorf("copy the state: %v %s", err, out)
	}
	s.addr = fmt.Sprintf("127.0.0.1:%d", freePort())
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TEROK_") {
			env = append(env, kv)
		}
	}
	s.cmd = exec.Command(s.bin, "serve", "--socket", filepath.Join(dir, s.name+".sock"), "--entry", filepath.Join(root, "bin", "terok-entry"))
	s.cmd.Env = append(env, "TEROK_RUN_DIR="+tr.run, "TEROK_STATE_DIR="+state, "TEROK_CONFIG_DIR="+filepath.Join(tr.dev, "config"),
		"TEROK_WEB_LISTEN="+s.addr, "TEROK_WEB_TOKEN=bench-token-0123456789",
		// 200 clients share the token and connect at once: above the listener limits (listenbench measures those).
		"TEROK_WEB_MAX_CONNS_PER_CREDENTIAL=512", "TEROK_WEB_MAX_CREDENTIALED_CONNS=512", "TEROK_WEB_MAX_UNCREDENTIALED_CONNS=512", "TEROK_GATE_LISTEN="+tr.gate, "TEROK_LOG_LEVEL=warn")
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	log, _ := os.Create(filepath.Join(dir, s.name+".log"))
	s.cmd.Stdout, s.cmd.Stderr = log, log
	if err := s.cmd.Start(); err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+s.addr+"/api/v1/tasks", nil)
		req.Header.Set("Authorization", "Bearer bench-token-0123456789")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	b, _ := os.ReadFile(filepath.Join(dir, s.name+".log"))
	return fmt.Errorf("terok-web (%s) did not answer within 60 s:\n%s", s.name, b)
}

func (s *side) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// apiCompare measures GET /api/v1/tasks/{id} with clients concurrent
// clients on terok-web built at baseRev and on this tree's, in turn, two
// runs each, and prints them side by side.
func apiCompare(ctx context.Context, root string, tr *tree, taskID string, clients int, baseRev string) error {
	dir, err := os.MkdirTemp("", "tkwebbench-base-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	baseBin, err := buildBase(ctx, root, baseRev, dir)
	if err != nil {
		return err
	}
	sides := []*side{{name: "base", bin: baseBin}, {name: "this", bin: filepath.Join(root, "bin", "terok-web")}}
	for _, s := range sides {
		defer s.stop()
		if err := s.start(ctx, root, tr, dir); err != nil {
			return err
		}
	}
	path := "/api/v1/tasks/" + taskID
	const rounds = 4 // per run, alternating, so both sides meet the same load from other programs
	fmt.Printf("API side by side: GET /api/v1/tasks/{id}, %d keep-alive clients; terok-web at %s (baseline) and this tree, each beside the tree on a copy of its state; a run is %d rounds of 25 requests per client on each, alternating\n", clients, baseRev, rounds)
	fmt.Printf("  %-5s %12s %12s   %12s %12s\n", "run", "base p50", "base p99", "this p50", "this p99")
	for _, s := range sides {
		if _, err := measureAPI(ctx, s.addr, path, clients); err != nil { // warm-up
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	var p99 [2][]float64
	for run := 1; run <= 2; run++ {
		var lat [2][]float64
		for range rounds {
			for i, s := range sides {
				l, err := measureAPI(ctx, s.addr, path, clients)
				if err != nil {
					return fmt.Errorf("%s: %w", s.name, err)
				}
				lat[i] = append(lat[i], l...)
			}
		}
		for i := range sides {
			p99[i] = append(p99[i], pct(lat[i], 0.99))
		}
		fmt.Printf("  %-5d %9.2f ms %9.2f ms   %9.2f ms %9.2f ms\n", run, pct(lat[0], 0.5), pct(lat[0], 0.99), pct(lat[1], 0.5), pct(lat[1], 0.99))
	}
	mean := func(xs []float64) float64 {
		t := 0.0
		for _, x := range xs {
			t += x
		}
		return t / float64(len(xs))
	}
	fmt.Printf("  p99 (mean of the runs): base %.2f ms, this %.2f ms, ratio this/base %.2f\n", mean(p99[0]), mean(p99[1]), mean(p99[1])/mean(p99[0]))
	return nil
}
