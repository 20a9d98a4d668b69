// Command bench measures terok-shield against the subprocess baseline
// (`nft -f` run inside the namespace, as a shell-out implementation would):
// arm latency over 200 namespaces, live allow/deny latency, and the load
// time of a 10,000-entry allowlist. Run as root by scripts/bench/shield.sh;
// it prints each pair and its ratio. Every namespace it makes is named
// tks-bench-… and removed before it exits.
package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/config"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/daemon"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/iprange"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/netns"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/ruleset"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

// namespaces: 100 armed through the API, 100 by `nft -f`, 100 by a direct
// netlink load (the same layer as nft -f, without the daemon around it).
const namespaces = 300

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

type task struct {
	name string
	cmd  *exec.Cmd
}

func (t *task) pid() int { return t.cmd.Process.Pid }

func sh(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func pct(ds []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p * float64(len(s)-1))
	return s[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func pair(what string, ours, base time.Duration) {
	fmt.Printf("%-28s ours %10s   nft subprocess %10s   ratio %5.1fx\n", what, ms(ours), ms(base), float64(base)/float64(ours))
}

func run() error {
	dir, err := os.MkdirTemp("", "tkshield-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var tasks []*task
	var once sync.Once
	cleanup := func() {
		failed := 0
		for _, t := range tasks {
			_ = t.cmd.Process.Kill()
			_ = t.cmd.Wait()
			if err := delNetns(t.name); err != nil {
				failed++
				fmt.Fprintf(os.Stderr, "bench: cleanup: %v\n", err)
			}
		}
		if failed > 0 {
			fmt.Fprintf(os.Stderr, "bench: %d namespaces could not be removed\n", failed)
		}
	}
	defer once.Do(cleanup)
	// An interrupt or a closed pipe still removes every namespace.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGPIPE, syscall.SIGHUP)
	go func() {
		<-sigs
		once.Do(cleanup)
		os.RemoveAll(dir)
		os.Exit(1)
	}()
	for i := 0; i < namespaces; i++ {
		t := &task{name: fmt.Sprintf("tks-bench-%d-%d", os.Getpid(), i)}
		if err := sh("ip", "netns", "add", t.name); err != nil {
			return err
		}
		t.cmd = exec.Command("ip", "netns", "exec", t.name, "sleep", "600")
		if err := t.cmd.Start(); err != nil {
			_ = sh("ip", "netns", "del", t.name)
			return err
		}
		tasks = append(tasks, t)
	}
	// Wait until every sleep has entered its namespace.
	self, _ := netns.SelfInode()
	for _, t := range tasks {
		for k := 0; ; k++ {
			ns, err := netns.Open(t.pid())
			if err == nil {
				in := ns.Inode
				ns.Close()
				comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", t.pid()))
				if in != self && strings.TrimSpace(string(comm)) == "sleep" {
					break
				}
			}
			if k > 500 {
				return fmt.Errorf("%s never entered its namespace", t.name)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	// The daemon, in-process, on a temp socket: the same path the hook takes.
	cfg := config.Default()
	cfg.Socket = filepath.Join(dir, "shield.sock")
	cfg.StateDir = filepath.Join(dir, "state")
	cfg.ConfigDir = filepath.Join(dir, "config")
	cfg.Resolver = "127.0.0.1:9"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- daemon.Run(ctx, cfg, benchLog()) }()
	defer func() { cancel(); <-done }()
	c := shieldapi.NewClient(cfg.Socket)
	for k := 0; ; k++ {
		if _, err := c.List(ctx); err == nil {
			break
		}
		if k > 400 {
			return fmt.Errorf("daemon did not come up")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// A typical project allowlist: 64 addresses and networks.
	var allow []string
	for i := 0; i < 48; i++ {
		allow = append(allow, fmt.Sprintf("203.0.113.%d", i*5))
	}
	for i := 0; i < 16; i++ {
		allow = append(allow, fmt.Sprintf("198.51.%d.0/24", 100+i*8))
	}

	// 1. Arm: ours through the socket API for the first half of the
	// namespaces, the baseline `nft -f` for the second half with the same
	// ruleset (read back from the first armed namespace).
	half := 100
	var armOurs, armNft, armDirect []time.Duration
	for i, t := range tasks[:half] {
		start := time.Now()
		if _, err := c.Arm(ctx, shieldapi.ArmRequest{ID: fmt.Sprintf("bench%03d", i), PID: t.pid(), Allow: allow}); err != nil {
			return fmt.Errorf("arm %s: %w", t.name, err)
		}
		armOurs = append(armOurs, time.Since(start))
	}
	rules, err := c.Rules(ctx, "bench000")
	if err != nil {
		return err
	}
	file := filepath.Join(dir, "ruleset.nft")
	// Fresh namespaces: a plain create on both sides.
	text := rules.Text
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		return err
	}
	for _, t := range tasks[half : 2*half] {
		start := time.Now()
		if err := sh("nsenter", "-t", fmt.Sprint(t.pid()), "-n", "nft", "-f", file); err != nil {
			return fmt.Errorf("baseline arm: %w", err)
		}
		armNft = append(armNft, time.Since(start))
	}
	var spec64 []iprange.Range
	for _, a := range allow {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			p = netip.PrefixFrom(netip.MustParseAddr(a), 32)
		}
		spec64 = append(spec64, iprange.FromPrefix(p, time.Time{}))
	}
	eps, _ := cfg.ParseEndpoints()
	direct := ruleset.Spec{Mode: ruleset.ModeUp, Endpoints: eps, Allow: iprange.Merge(spec64), LogGroup: cfg.LogGroup}
	for _, t := range tasks[2*half:] {
		start := time.Now()
		ns, err := netns.Open(t.pid())
		if err != nil {
			return err
		}
		nft, err := ruleset.Open(ns.Fd())
		if err != nil {
			return err
		}
		err = ruleset.Load(nft, direct)
		armDirect = append(armDirect, time.Since(start))
		_ = ruleset.CloseConn(nft)
		ns.Close()
		if err != nil {
			return err
		}
	}
	fmt.Printf("arm, %d fresh namespaces per column, %d-entry allowlist\n", half, len(allow))
	fmt.Println("  full hook path = socket API + netns + netlink batch + NFLOG bind + fsynced state + audit record")
	pair("arm p50 (full hook path)", pct(armOurs, 0.5), pct(armNft, 0.5))
	pair("arm p99 (full hook path)", pct(armOurs, 0.99), pct(armNft, 0.99))
	pair("arm p50 (netlink only)", pct(armDirect, 0.5), pct(armNft, 0.5))
	pair("arm p99 (netlink only)", pct(armDirect, 0.99), pct(armNft, 0.99))

	// 2. Live allow/deny on one armed container vs `nft add/delete element`.
	var allowOurs, denyOurs, allowNft, denyNft []time.Duration
	pid := fmt.Sprint(tasks[half].pid())
	for i := 0; i < 100; i++ {
		ip := fmt.Sprintf("192.0.2.%d", i+1)
		start := time.Now()
		if _, err := c.Allow(ctx, "bench001", ip, ""); err != nil {
			return err
		}
		allowOurs = append(allowOurs, time.Since(start))
		start = time.Now()
		if _, err := c.Deny(ctx, "bench001", ip); err != nil {
			return err
		}
		denyOurs = append(denyOurs, time.Since(start))
		start = time.Now()
		if err := sh("nsenter", "-t", pid, "-n", "nft", "add", "element", "inet", "terok_shield", "allow4", "{ "+ip+" }"); err != nil {
			return err
		}
		allowNft = append(allowNft, time.Since(start))
		start = time.Now()
		if err := sh("nsenter", "-t", pid, "-n", "nft", "add", "element", "inet", "terok_shield", "deny4", "{ "+ip+" }"); err != nil {
			return err
		}
		denyNft = append(denyNft, time.Since(start))
	}
	fmt.Println("live changes (100 each, one running container; ours through the socket API)")
	pair("allow p50", pct(allowOurs, 0.5), pct(allowNft, 0.5))
	pair("allow p99", pct(allowOurs, 0.99), pct(allowNft, 0.99))
	pair("deny p50", pct(denyOurs, 0.5), pct(denyNft, 0.5))
	pair("deny p99", pct(denyOurs, 0.99), pct(denyNft, 0.99))

	// 3. A 10,000-entry allowlist: netlink batch vs nft -f, 5 rounds each.
	var big []iprange.Range
	var elems []string
	for i := 0; len(big) < 10000; i += 2 {
		a := netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)})
		big = append(big, iprange.Range{Lo: a, Hi: a})
		elems = append(elems, a.String())
	}
	spec := ruleset.Spec{Mode: ruleset.ModeUp, Allow: big, LogGroup: cfg.LogGroup}
	bigFile := filepath.Join(dir, "big.nft")
	// These namespaces are armed already: both sides replace the table.
	bigText := "table inet terok_shield {}\ndelete table inet terok_shield\n" + text + "add element inet terok_shield allow4 { " + strings.Join(elems, ", ") + " }\n"
	if err := os.WriteFile(bigFile, []byte(bigText), 0o644); err != nil {
		return err
	}
	var bigOurs, bigNft []time.Duration
	for i := 0; i < 5; i++ {
		ns, err := netns.OpenPath("/run/netns/" + tasks[half+10+i].name)
		if err != nil {
			return err
		}
		nft, err := ruleset.Open(ns.Fd())
		if err != nil {
			return err
		}
		start := time.Now()
		err = ruleset.Load(nft, spec)
		bigOurs = append(bigOurs, time.Since(start))
		_ = ruleset.CloseConn(nft)
		ns.Close()
		if err != nil {
			return err
		}
		start = time.Now()
		if err := sh("nsenter", "-t", fmt.Sprint(tasks[half+20+i].pid()), "-n", "nft", "-f", bigFile); err != nil {
			return err
		}
		bigNft = append(bigNft, time.Since(start))
	}
	fmt.Println("10,000-entry allowlist, whole table in one batch (5 rounds)")
	pair("10k load p50", pct(bigOurs, 0.5), pct(bigNft, 0.5))
	return nil
}

// benchLog is silent unless TKSHIELD_BENCH_DEBUG=1 (then the per-arm
// breakdown goes to stderr).
func benchLog() zerolog.Logger {
	if os.Getenv("TKSHIELD_BENCH_DEBUG") == "1" {
		return zerolog.New(os.Stderr).Level(zerolog.DebugLevel)
	}
	return zerolog.Nop()
}

// delNetns removes a namespace, retrying briefly: a concurrent mount
// operation elsewhere on the machine can make one attempt fail.
func delNetns(name string) error {
	var err error
	for i := 0; i < 5; i++ {
		if err = sh("ip", "netns", "del", name); err == nil {
			return nil
		}
		if _, serr := os.Stat("/run/netns/" + name); os.IsNotExist(serr) {
			return nil
		}
		time.Sleep(time.Duration(i+1) * 50 * time.Millisecond)
	}
	return err
}
