// Command listenbench measures what terok-web's listener limits
// (kit/listenlimit) cost and what they hold back, in one run: two
// terok-web servers in this process over the same fake daemons, one with
// its TCP listener behind the limits (the default configuration) and one
// with a plain http.Server (server.Deps.Unlimited), side by side:
//
//   - API latency: -clients concurrent keep-alive clients with the access
//     token (within the per-credential limit), -requests GETs each of
//     /api/v1/projects, -runs runs alternating between the two servers
//     (which goes first alternates too); p50 and p99 of each run and the
//     ratio of their medians;
//   - idle hostile connections: -hostile connections opened and held
//     idle without a credential, then as many with the token, each with
//     one answered request and kept alive; how many each server holds
//     (the limited one: its configured limits, not the descriptor limit).
//
// make bench runs it through scripts/bench/web-limits.sh.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/web/internal/benchload"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/listenlimit"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/config"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fakedaemons"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/projects"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/server"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/webproxy"
	"github.com/terok-ai/terok-in-docker/supervisor/supervisorapi"
)

const token = "bench-token-0123456789"

func main() {
	clients := flag.Int("clients", 16, "concurrent API clients (at most the per-credential limit, 32)")
	requests := flag.Int("requests", 200, "requests per client and run")
	runs := flag.Int("runs", 10, "runs on each server, alternating")
	hostile := flag.Int("hostile", 300, "idle hostile connections opened of each kind")
	flag.Parse()
	if err := run(*clients, *requests, *runs, *hostile); err != nil {
		fmt.Fprintln(os.Stderr, "listenbench:", err)
		os.Exit(1)
	}
}

// web is one terok-web in this process.
type web struct {
	name string
	addr string
	lim  *listenlimit.Server // nil for the unlimited one
	stop func()
}

func run(clients, requests, runs, hostile int) error {
	dir, err := os.MkdirTemp("", "listenbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	limited, err := start(filepath.Join(dir, "limited"), "with limits", false)
	if err != nil {
		return err
	}
	defer limited.stop()
	plain, err := start(filepath.Join(dir, "plain"), "without", true)
	if err != nil {
		return err
	}
	defer plain.stop()
	servers := []*web{plain, limited}

	def := config.DefaultListener()
	fmt.Printf("terok-web's TCP listener with and without kit/listenlimit (default limits: %d per credential, %d with credentials, %d without), same process, fake daemons\n",
		def.MaxConnsPerCredential, def.MaxCredentialedConns, def.MaxUncredentialedConns)
	fmt.Printf("API: GET /api/v1/projects, %d keep-alive clients with the token, %d requests each per run, %d runs each, alternating\n", clients, requests, runs)
	fmt.Printf("  %-4s %14s %14s   %14s %14s\n", "run", "without p50", "without p99", "with p50", "with p99")
	for _, s := range servers { // warm-up
		if _, err := measure(s.addr, clients, requests/4+1); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	var p50, p99 [2][]float64
	for r := 0; r < runs; r++ {
		// Which goes first alternates: the second of a pair meets what
		// the first left (garbage, warm caches).
		order := []int{0, 1}
		if r%2 == 1 {
			order = []int{1, 0}
		}
		for _, i := range order {
			s := servers[i]
			lat, err := measure(s.addr, clients, requests)
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			p50[i] = append(p50[i], pct(lat, 0.5))
			p99[i] = append(p99[i], pct(lat, 0.99))
		}
		fmt.Printf("  %-4d %11.3f ms %11.3f ms   %11.3f ms %11.3f ms\n", r+1, p50[0][r], p99[0][r], p50[1][r], p99[1][r])
	}
	fmt.Printf("  median of the runs: p50 %.3f → %.3f ms, ratio with/without %.2f; p99 %.3f → %.3f ms, ratio with/without %.2f\n",
		median(p50[0]), median(p50[1]), median(p50[1])/median(p50[0]), median(p99[0]), median(p99[1]), median(p99[1])/median(p99[0]))

	fmt.Printf("idle hostile connections: %d opened of each kind and held\n", hostile)
	fmt.Printf("  %-38s %10s %10s\n", "", "without", "with")
	var held [2][2]int
	for i, s := range servers {
		n, err := holdUncredentialed(s, hostile)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		held[i][0] = n
		if n, err = holdCredentialed(s, hostile); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		held[i][1] = n
	}
	fmt.Printf("  %-38s %10d %10d (limit %d)\n", "held without a credential", held[0][0], held[1][0], def.MaxUncredentialedConns)
	fmt.Printf("  %-38s %10d %10d (limit %d)\n", "held with one credential (the token)", held[0][1], held[1][1], def.MaxConnsPerCredential)
	return nil
}

// start runs a terok-web over fake daemons in dir.
func start(dir, name string, unlimited bool) (*web, error) {
	cfg := config.Default()
	cfg.Socket, cfg.StateDir, cfg.ConfigDir, cfg.RunDir = filepath.Join(dir, "web.sock"), filepath.Join(dir, "state"), filepath.Join(dir, "config"), dir
	cfg.Entry, cfg.Token = filepath.Join(dir, "terok-entry"), token
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(cfg.Entry, []byte("#!/bin/sh\n"), 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg.Listen = fmt.Sprintf("127.0.0.1:%d", port)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if _, err := projects.New(cfg.ConfigDir).Create(projects.Project{Name: "demo", Agent: projects.Agent{Command: "agent"}}); err != nil {
		return nil, err
	}
	uiPort, err := freePort()
	if err != nil {
		return nil, err
	}
	w := &web{name: name}
	addrs := make(chan string, 1)
	d := server.Deps{Gate: &fakedaemons.Gate{}, Podman: &fakedaemons.Podman{}, Shield: &fakedaemons.Shield{},
		Supervisor: &fakedaemons.Supervisor{Programs: []supervisorapi.ProcessInfo{{Name: "terok-gate", StateName: "RUNNING"}}},
		Problem:    func(context.Context, string) string { return "" },
		WebPorts:   [2]int{uiPort, uiPort},
		Unlimited:  unlimited,
		Listening:  func(l *listenlimit.Server, _ *webproxy.Publisher) { w.lim = l },
		Started:    func(_, tcp string) { addrs <- tcp },
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- server.Run(ctx, zerolog.Nop(), cfg, d) }()
	select {
	case w.addr = <-addrs:
	case err := <-errc:
		cancel()
		return nil, fmt.Errorf("terok-web %s ended at its start: %w", name, err)
	case <-time.After(time.Minute):
		cancel()
		return nil, errors.New("terok-web did not start")
	}
	w.stop = func() { cancel(); <-errc }
	return w, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// measure runs clients keep-alive clients of n GETs each; the latencies
// in ms.
func measure(addr string, clients, n int) ([]float64, error) {
	return benchload.GETs(context.Background(), "http://"+addr+"/api/v1/projects", token, clients, n, time.Minute)
}

// holdUncredentialed opens n connections that send nothing and reports
// how many the server still holds once it has accepted them all (a
// refused one reads its 429 and an end).
func holdUncredentialed(s *web, n int) (int, error) {
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			return 0, err
		}
		conns = append(conns, c)
	}
	// Once all are accepted, a connection the server closed reads its
	// answer and end within the bound; a held one times out.
	if s.lim != nil {
		for i := 0; i < 500 && s.lim.Stats().Accepted < uint64(n); i++ {
			time.Sleep(10 * time.Millisecond)
		}
	}
	time.Sleep(200 * time.Millisecond)
	var held int
	var mu sync.Mutex
	var wg sync.WaitGroup
	deadline := time.Now().Add(500 * time.Millisecond)
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetReadDeadline(deadline)
			if _, err := c.Read(make([]byte, 1)); isTimeout(err) {
				mu.Lock()
				held++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return held, nil
}

// holdCredentialed opens n connections with the token, each with one
// request, and reports how many were answered 200 and kept alive.
func holdCredentialed(s *web, n int) (int, error) {
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	held := 0
	for range n {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			return 0, err
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "GET /api/v1/projects HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n", token)
		_ = c.SetReadDeadline(time.Now().Add(time.Minute))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 && !resp.Close {
			held++
		}
	}
	return held, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func pct(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[int(float64(len(s)-1)*p)]
}

// median is the middle of the runs' values (a shared machine's pauses
// land in a run or two; the median leaves them out).
func median(v []float64) float64 { return pct(v, 0.5) }
