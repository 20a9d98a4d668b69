package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/config"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/server"
)

// limitsBench serves one gate in this process on two listeners: one behind
// the listener limits, as terok-gate serves, and one on a plain
// http.Server with the handler alone (the gate before the limits). It
// clones through both, interleaved, and prints the medians and their
// ratio; then it counts how many idle hostile connections one client can
// hold on each, without a token and with one token.
func limitsBench(src, work string, env []string, rounds int) error {
	fmt.Printf("--- listener limits (one gate in this process, two listeners)\n")
	const admin = "terok-admin-benchlimitsbenchlimits"
	cfg := config.Default()
	cfg.Root = filepath.Join(work, "gate-inproc")
	cfg.Socket = filepath.Join(work, "gate-inproc.sock")
	cfg.AdminToken = admin
	cfg.PollInterval = 0
	if err := cfg.Validate(); err != nil {
		return err
	}
	srv, err := server.New(cfg, zerolog.New(os.Stderr).Level(zerolog.ErrorLevel))
	if err != nil {
		return err
	}
	limited, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	adminLn, err := net.Listen("unix", cfg.Socket)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, limited, adminLn) }()
	defer func() { cancel(); <-done }()
	// The gate as it was served before the limits.
	hs := &http.Server{Handler: srv.GitHandler(), ReadHeaderTimeout: 15 * time.Second, IdleTimeout: 2 * time.Minute}
	go hs.Serve(plain)
	defer hs.Close()

	api := gateapi.New(cfg.Socket)
	actx, acancel := context.WithTimeout(context.Background(), time.Minute)
	defer acancel()
	if _, _, err := api.EnsureRepo(actx, gateapi.EnsureRepoRequest{Name: "bench"}); err != nil {
		return fmt.Errorf("create repo: %w", err)
	}
	if err := git(env, "", "--git-dir", filepath.Join(cfg.Root, "repos", "bench.git"), "fetch", "-q", "--no-tags", src, "+refs/heads/*:refs/heads/*"); err != nil {
		return err
	}
	minted, err := api.MintToken(actx, "bench", "bench")
	if err != nil {
		return err
	}
	tok := minted.Secret

	urls := []struct{ name, url string }{
		{"gate with the limits", "http://" + tok + "@" + limited.Addr().String() + "/bench.git"},
		{"gate without them", "http://" + tok + "@" + plain.Addr().String() + "/bench.git"},
	}
	// Wall time depends on the machine's load; the CPU time of this
	// process does not, and it is the gate's own Go code (handler and
	// limits): git runs in child processes, counted apart.
	times := make([][]time.Duration, 2)
	cpus := make([][]time.Duration, 2)
	var ratios []float64
	for r := 0; r < rounds; r++ {
		var d [2]time.Duration
		for k := 0; k < 2; k++ {
			i := (k + r) % 2
			dst := filepath.Join(work, fmt.Sprintf("limits-%d-%d", r, i))
			cpu0 := selfCPU()
			start := time.Now()
			if err := git(env, "", "clone", "-q", "--no-checkout", urls[i].url, dst); err != nil {
				return fmt.Errorf("%s: %w", urls[i].name, err)
			}
			d[i] = time.Since(start)
			cpus[i] = append(cpus[i], selfCPU()-cpu0)
			times[i] = append(times[i], d[i])
			os.RemoveAll(dst)
		}
		ratios = append(ratios, float64(d[0])/float64(d[1]))
	}
	for i, u := range urls {
		fmt.Printf("%-26s median %6.2fs  runs %v  gate CPU per clone, median %.3fs\n", u.name, median(times[i]).Seconds(),
			rounded(times[i]), median(cpus[i]).Seconds())
	}
	fmt.Printf("ratio with / without limits %.3f (median of the rounds' ratios %.3f; target <= 1.05); gate CPU with / without %.3f\n",
		float64(median(times[0]))/float64(median(times[1])), medianF(ratios), float64(median(cpus[0]))/float64(median(cpus[1])))

	var lim syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	l := cfg.Listener
	fmt.Printf("idle hostile connections one client holds (descriptor limit of this process: %d):\n", lim.Cur)
	for _, c := range []struct{ name, addr string }{
		{"with the limits", limited.Addr().String()},
		{"without them", plain.Addr().String()},
	} {
		anonTry, tokTry := 3*l.MaxUncredentialedConns, 3*l.MaxConnsPerCredential
		anon, err := holdIdle(c.addr, anonTry, "")
		if err != nil {
			return err
		}
		withTok, err := holdIdle(c.addr, tokTry, tok)
		if err != nil {
			return err
		}
		fmt.Printf("  %-16s without a token: %3d of %3d held (limit %d); with one token: %3d of %3d held (limit %d)\n",
			c.name, anon, anonTry, l.MaxUncredentialedConns, withTok, tokTry, l.MaxConnsPerCredential)
	}
	return nil
}

// holdIdle opens n connections one after another and holds them idle:
// without a token they send nothing; with one, each sends one request,
// reads its answer and keeps the connection. It reports how many are
// still open at the end (the rest were refused or closed by the server).
func holdIdle(addr string, n int, tok string) (int, error) {
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return 0, err
		}
		conns = append(conns, c)
		if tok == "" {
			continue
		}
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		fmt.Fprintf(c, "GET /bench.git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: b\r\nAuthorization: Basic %s\r\n\r\n",
			b64(tok+":"))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// Let the server finish refusing, then probe each connection: one
	// that is still open has nothing to read.
	time.Sleep(500 * time.Millisecond)
	open := 0
	buf := make([]byte, 1)
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		_, err := c.Read(buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			open++
		}
	}
	return open, nil
}

// selfCPU is the user and system time of this process so far, its
// children not included.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func medianF(fs []float64) float64 {
	ds := make([]time.Duration, len(fs))
	for i, f := range fs {
		ds[i] = time.Duration(f * 1e9)
	}
	return median(ds).Seconds()
}
