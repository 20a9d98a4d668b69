// Command bench measures terok-shield against the subprocess baseline
// (`nft -f` run inside the namespace, as a shell-out implementation would):
// arm latency over 200 namespaces, live allow/deny latency, and the load
// time of a 10,000-entry allowlist; then lookups through a task's resolver
// against the same query sent straight to the same upstream, the
// answer-to-set update alone, and one task's lookups while another floods
// its resolver (with and without the resolver's limits). Run as root by
// scripts/bench/shield.sh;
// it prints each pair and its ratio. Every namespace it makes is named
// tks-bench-… and removed before it exits.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/audit"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/config"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/daemon"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/dnstest"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/iprange"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/netns"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/ruleset"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

// namespaces: 100 armed through the API, 100 by `nft -f`, 100 by a direct
// netlink load (the same layer as nft -f, without the daemon around it).
const namespaces = 300

func main() {
	if r := os.Getenv(floodEnv); r != "" {
		if err := flood(r); err != nil {
			fmt.Fprintf(os.Stderr, "flood: %v\n", err)
			os.Exit(1)
		}
		return
	}
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
	// The upstream of the task resolvers (section 4): our own DNS server
	// on loopback, so both columns ask the same server.
	upPC, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	up := dnstest.Start(upPC, 300)
	defer up.Close()
	cfg.Resolver = up.Addr
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- daemon.Run(ctx, cfg, benchLog()) }()
	defer func() { cancel(); <-done }()
	c := shieldapi.New(cfg.Socket)
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

	if err := benchDNS(ctx, c, up, tasks[2]); err != nil {
		return err
	}
	fmt.Println("one task's lookups while another task floods its resolver")
	if err := benchFlood(ctx, c, up, tasks[3], tasks[4], "bench003", "bench004",
		fmt.Sprintf("the default limits (%d a second, bursts of %d, %d at once)", cfg.ResolverRate, cfg.ResolverBurst, cfg.ResolverWorkers)); err != nil {
		return err
	}
	// The same with the limits out of the way: a second daemon (its own
	// socket and state) arms two namespaces that the baseline armed by
	// nft -f, so that no resolver of the first holds their address.
	cfg2 := cfg
	cfg2.Socket = filepath.Join(dir, "shield2.sock")
	cfg2.StateDir = filepath.Join(dir, "state2")
	cfg2.ConfigDir = filepath.Join(dir, "config2")
	cfg2.ResolverRate, cfg2.ResolverBurst, cfg2.ResolverWorkers = 100000, 100000, 64
	done2 := make(chan error, 1)
	ctx2, cancel2 := context.WithCancel(ctx)
	go func() { done2 <- daemon.Run(ctx2, cfg2, benchLog()) }()
	defer func() { cancel2(); <-done2 }()
	c2 := shieldapi.New(cfg2.Socket)
	for k := 0; ; k++ {
		if _, err := c2.List(ctx); err == nil {
			break
		}
		if k > 400 {
			return fmt.Errorf("second daemon did not come up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i, t := range tasks[150:152] {
		if _, err := c2.Arm(ctx, shieldapi.ArmRequest{ID: fmt.Sprintf("nolimit%d", i), PID: t.pid()}); err != nil {
			return err
		}
	}
	return benchFlood(ctx, c2, up, tasks[150], tasks[151], "nolimit0", "nolimit1", "no effective limits (100000 a second, 64 at once): what the limits buy")
}

// benchDNS measures lookups through a task's resolver against the same
// query sent straight to the same upstream, and the answer-to-set update
// on its own.
func benchDNS(ctx context.Context, c *shieldapi.Client, up *dnstest.Server, t *task) error {
	const n = 200
	for i := 0; i < n; i++ {
		up.Set(fmt.Sprintf("n%d.bench.test", i), fmt.Sprintf("192.0.2.%d", i+1))
	}
	up.Set("same.bench.test", "192.0.2.250")
	if err := sh("ip", "-n", t.name, "link", "set", "lo", "up"); err != nil {
		return err
	}
	if _, err := c.Allow(ctx, "bench002", "*.bench.test", ""); err != nil {
		return err
	}
	ask := func(server, name string) (time.Duration, error) {
		m := new(dns.Msg)
		m.SetQuestion(name+".", dns.TypeA)
		start := time.Now()
		r, _, err := (&dns.Client{Timeout: 5 * time.Second}).Exchange(m, server)
		d := time.Since(start)
		if err == nil && (r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1) {
			err = fmt.Errorf("%s at %s: rcode %s, %d answers", name, server, dns.RcodeToString[r.Rcode], len(r.Answer))
		}
		return d, err
	}
	var direct, fresh, cached []time.Duration
	for i := 0; i < n; i++ {
		d, err := ask(up.Addr, fmt.Sprintf("n%d.bench.test", i))
		if err != nil {
			return err
		}
		direct = append(direct, d)
	}
	ns, err := netns.Open(t.pid())
	if err != nil {
		return err
	}
	defer ns.Close()
	resolver := net.JoinHostPort(shieldapi.ResolverAddr, "53")
	// Every query from inside the task's namespace, on one thread there.
	err = ns.Do(func() error {
		for i := 0; i < n; i++ {
			// A new name with a new address: forwarded, and its address
			// added to dns4 before the answer comes back.
			d, err := ask(resolver, fmt.Sprintf("n%d.bench.test", i))
			if err != nil {
				return fmt.Errorf("fresh lookup %d: %w", i, err)
			}
			fresh = append(fresh, d)
			// The same name again: forwarded, its address already in the set.
			d, err = ask(resolver, "same.bench.test")
			if err != nil {
				return fmt.Errorf("cached lookup %d: %w", i, err)
			}
			cached = append(cached, d)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("lookups through the task resolver: %w", err)
	}
	if st, err := c.Status(ctx, "bench002"); err != nil || st.Answers < n {
		return fmt.Errorf("the task resolver's answers did not reach the set: %d of %d (%v)", st.Answers, n, err)
	}
	fmt.Printf("DNS lookups (%d each), the task resolver against the same query straight to the same upstream\n", n)
	dnsPair := func(what string, ours, base time.Duration) {
		fmt.Printf("%-28s task resolver %8s   direct %8s   added %8s   ratio %5.1fx\n", what, ms(ours), ms(base), ms(ours-base), float64(ours)/float64(base))
	}
	dnsPair("lookup, address in set p50", pct(cached, 0.5), pct(direct, 0.5))
	dnsPair("lookup, address in set p99", pct(cached, 0.99), pct(direct, 0.99))
	dnsPair("lookup, new address p50", pct(fresh, 0.5), pct(direct, 0.5))
	dnsPair("lookup, new address p99", pct(fresh, 0.99), pct(direct, 0.99))

	// The answer-to-set update alone: one address in one batch, on the
	// container's lasting netlink connection (as the daemon does).
	nft, err := ruleset.Open(ns.Fd())
	if err != nil {
		return err
	}
	defer ruleset.CloseConn(nft)
	var upd []time.Duration
	for i := 0; i < n; i++ {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0x99, 14: byte(i >> 8), 15: byte(i)})
		start := time.Now()
		if err := ruleset.UpdateAnswers(nft, nil, []iprange.Range{{Lo: a, Hi: a, Expires: time.Now().Add(time.Minute)}}); err != nil {
			return err
		}
		upd = append(upd, time.Since(start))
	}
	fmt.Printf("%-28s p50 %.1f µs   p99 %.1f µs\n", "answer-to-set update", float64(pct(upd, 0.5).Nanoseconds())/1000, float64(pct(upd, 0.99).Nanoseconds())/1000)

	// What a receipt costs: one audit record (a lookup with its answer,
	// an allowed connection), appended to the task's JSON-lines log.
	dir, err := os.MkdirTemp("", "tkshield-bench-audit-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	hub, err := audit.NewHub(dir)
	if err != nil {
		return err
	}
	var wr []time.Duration
	for i := 0; i < 1000; i++ {
		ev := shieldapi.Event{Container: "bench-receipts", Kind: shieldapi.EventLookup, Target: fmt.Sprintf("n%d.bench.test", i),
			Detail: fmt.Sprintf("A 192.0.2.%d", i%250)}
		if i%2 == 1 {
			ev = shieldapi.Event{Container: "bench-receipts", Kind: shieldapi.EventConnection, Dest: fmt.Sprintf("192.0.2.%d", i%250), Port: 443, Proto: "tcp"}
		}
		start := time.Now()
		if err := hub.Write(ev); err != nil {
			return err
		}
		wr = append(wr, time.Since(start))
	}
	fi, err := os.Stat(filepath.Join(dir, "bench-receipts.jsonl"))
	if err != nil {
		return err
	}
	us := func(d time.Duration) string { return fmt.Sprintf("%.1f µs", float64(d.Nanoseconds())/1000) }
	fmt.Printf("%-28s p50 %s   p99 %s   %d bytes a record\n", "receipt (audit record)", us(pct(wr, 0.5)), us(pct(wr, 0.99)), fi.Size()/1000)
	return nil
}

// benchFlood measures one task's lookups while another task floods its own
// resolver: the quiet column first, then the same lookups during the flood,
// side by side with the ratio (the target: p99 under flood within twice
// the quiet p99). The flooding task sends queries as fast as one sender
// can, without waiting for answers, for as long as the measured lookups
// take.
func benchFlood(ctx context.Context, c *shieldapi.Client, up *dnstest.Server, victim, flooder *task, vid, fid, what string) error {
	const n, rounds = 500, 4
	up.Set("quiet.flood.test", "192.0.2.251")
	up.Set("noise.flood.test", "192.0.2.252")
	ids := map[*task]string{victim: vid, flooder: fid}
	for _, t := range []*task{victim, flooder} {
		if err := sh("ip", "-n", t.name, "link", "set", "lo", "up"); err != nil {
			return err
		}
		if _, err := c.Allow(ctx, ids[t], "*.flood.test", ""); err != nil {
			return err
		}
	}
	resolver := net.JoinHostPort(shieldapi.ResolverAddr, "53")
	vns, err := netns.Open(victim.pid())
	if err != nil {
		return err
	}
	defer vns.Close()
	lookups := func() ([]time.Duration, error) {
		var ds []time.Duration
		err := vns.Do(func() error {
			m := new(dns.Msg)
			m.SetQuestion("quiet.flood.test.", dns.TypeA)
			cl := &dns.Client{Timeout: 5 * time.Second}
			for i := 0; i < n; i++ {
				// Paced well inside the quiet task's own limits (at most
				// ~400 a second): what is measured is the other task.
				time.Sleep(2 * time.Millisecond)
				start := time.Now()
				r, _, err := cl.Exchange(m, resolver)
				if err != nil {
					return err
				}
				if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
					return fmt.Errorf("quiet lookup: rcode %s", dns.RcodeToString[r.Rcode])
				}
				ds = append(ds, time.Since(start))
			}
			return nil
		})
		return ds, err
	}
	// Quiet and flooded rounds alternate, so that the machine's other load
	// falls on every column alike. The flooding task is a process of its
	// own (as a task is), inside its namespace: this program again, in
	// flood mode. The same flood sent to a port nobody listens on (the
	// kernel drops it; no shield involved) shows what the flood's own CPU
	// use costs the other task on this machine.
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	floodWhile := func(target string) ([]time.Duration, int, time.Duration, error) {
		fl := exec.Command("ip", "netns", "exec", flooder.name, exe)
		fl.Env = append(os.Environ(), floodEnv+"="+target)
		var flOut strings.Builder
		fl.Stdout, fl.Stderr = &flOut, &flOut
		stdin, err := fl.StdinPipe()
		if err != nil {
			return nil, 0, 0, err
		}
		if err := fl.Start(); err != nil {
			return nil, 0, 0, err
		}
		time.Sleep(300 * time.Millisecond) // the flood is under way
		start := time.Now()
		ds, err := lookups()
		took := time.Since(start)
		stdin.Close() // the flooder stops when its stdin closes
		if werr := fl.Wait(); werr != nil {
			return nil, 0, 0, fmt.Errorf("flooder: %v: %s", werr, flOut.String())
		}
		var k int
		fmt.Sscan(flOut.String(), &k)
		return ds, k, took, err
	}
	var quiet, flooded, elsewhere []time.Duration
	count := 0
	var took time.Duration
	for round := 0; round < rounds; round++ {
		q, err := lookups()
		if err != nil {
			return fmt.Errorf("lookups without a flood: %w", err)
		}
		quiet = append(quiet, q...)
		f, k, d, err := floodWhile(resolver)
		if err != nil {
			return fmt.Errorf("lookups during the flood: %w", err)
		}
		flooded, count, took = append(flooded, f...), count+k, took+d
		e, _, _, err := floodWhile("127.0.0.1:9")
		if err != nil {
			return fmt.Errorf("lookups during the flood of a closed port: %w", err)
		}
		elsewhere = append(elsewhere, e...)
	}
	st, err := c.Status(ctx, ids[flooder])
	if err != nil {
		return err
	}
	fmt.Printf("  with %s: %d rounds of %d lookups, quiet and flooded in turn;\n  the flood sent %d queries in %.1f s, %d of them dropped\n",
		what, rounds, n, count, took.Seconds(), st.DroppedLookups)
	floodPair := func(what string, p float64) {
		fl, q, e := pct(flooded, p), pct(quiet, p), pct(elsewhere, p)
		fmt.Printf("%-14s flood of its resolver %7s   quiet %7s   ratio %5.2fx (target <= 2x)   same flood at a closed port %7s (%5.2fx)\n",
			what, ms(fl), ms(q), float64(fl)/float64(q), ms(e), float64(e)/float64(q))
	}
	floodPair("lookup p50", 0.5)
	floodPair("lookup p99", 0.99)
	return nil
}

// floodEnv puts this program in flood mode (the flooding task of
// benchFlood): it sends the same allowed query to the resolver it names,
// as fast as it can without waiting for answers, until its stdin closes,
// then prints how many it sent.
const floodEnv = "TKSHIELD_BENCH_FLOOD"

func flood(resolver string) error {
	conn, err := net.Dial("udp", resolver)
	if err != nil {
		return err
	}
	defer conn.Close()
	m := new(dns.Msg)
	m.SetQuestion("noise.flood.test.", dns.TypeA)
	b, _ := m.Pack()
	var stop atomic.Bool
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); stop.Store(true) }()
	count := 0
	for !stop.Load() {
		for i := 0; i < 64; i++ {
			_, _ = conn.Write(b)
			count++
		}
	}
	fmt.Println(count)
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
