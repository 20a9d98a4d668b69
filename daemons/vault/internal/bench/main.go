package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/fakeupstream"
	"github.com/terok-ai/terok-in-docker/daemons/vault/vaultapi"
)

func main() {
	bin := flag.String("bin", "bin/terok-vault", "terok-vault binary")
	rounds := flag.Int("rounds", 1000, "requests per path")
	events := flag.Int("events", 20, "events per streamed answer")
	flag.Parse()
	if err := run(*bin, *rounds, *events); err != nil {
		fmt.Fprintln(os.Stderr, "bench vault:", err)
		os.Exit(1)
	}
}

func run(bin string, rounds, events int) error {
	bin, _ = filepath.Abs(bin)
	work, err := os.MkdirTemp("", "tkvault-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	os.Chmod(work, 0o755) // the vault's user (nobody, when run as root) enters it
	ca, err := testkit.NewCA()
	if err != nil {
		return err
	}
	up, err := fakeupstream.StartProvider(ca)
	if err != nil {
		return err
	}
	defer up.Close()
	up.Release()
	caFile := filepath.Join(work, "ca.pem")
	os.WriteFile(caFile, ca.PEM, 0o644)
	provDir := filepath.Join(work, "config", "system", "vault", "providers")
	os.MkdirAll(provDir, 0o755)
	os.WriteFile(filepath.Join(provDir, "fake.provider"), []byte("upstream "+up.URL+
		"\ninject x-api-key\nphantom sk-fake-{base64url:40}\nroute POST /v1/messages\n"), 0o644)

	args := []string{"serve", "--listen", "127.0.0.1:0", "--test-ca-file", caFile}
	if os.Geteuid() == 0 {
		args = append(args, "--user", "nobody")
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "TEROK_RUN_DIR="+filepath.Join(work, "run"), "TEROK_CONFIG_DIR="+filepath.Join(work, "config"),
		"TEROK_STATE_DIR="+filepath.Join(work, "state"), "TEROK_LOG_LEVEL=warn")
	out := &testkit.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
	vc := vaultapi.New(filepath.Join(work, "run", "vault.sock"))
	broker := ""
	re := regexp.MustCompile(`credential broker on (127\.0\.0\.1:\d+)`)
	for i := 0; i < 200 && broker == ""; i++ { // bounded: 20 s
		time.Sleep(100 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := vc.Health(ctx)
		cancel()
		if m := re.FindStringSubmatch(out.String()); err == nil && m != nil {
			broker = "http://" + m[1]
		}
	}
	if broker == "" {
		return fmt.Errorf("the vault did not start:\n%s", out.String())
	}
	ctx := context.Background()
	if _, err := vc.SetSecret(ctx, "fake", "", "sk-bench-real-key"); err != nil {
		return err
	}
	ph, err := vc.MintPhantoms(ctx, "bench", "t1", []string{"fake"})
	if err != nil {
		return err
	}

	direct := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 4}}
	viaBroker := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	body := `{"stream":true}`
	q := fmt.Sprintf("?hold=0&n=%d", events)
	paths := []struct {
		name string
		c    *http.Client
		url  string
		key  string
	}{
		{"direct to the fake provider (TLS)", direct, up.URL + "/v1/messages" + q, "sk-bench-real-key"},
		{"through the broker (phantom)", viaBroker, broker + "/fake/v1/messages" + q, ph[0].Token},
	}
	first := make([][]time.Duration, len(paths))
	total := make([][]time.Duration, len(paths))
	for i := 0; i < rounds+50; i++ { // 50 warm-up rounds, not counted
		for j, p := range paths {
			fb, all, err := streamOnce(p.c, p.url, p.key, body)
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			if i >= 50 {
				first[j] = append(first[j], fb)
				total[j] = append(total[j], all)
			}
		}
	}
	fmt.Printf("streamed request: %d server-sent events, %d rounds per path, interleaved (after 50 warm-up rounds)\n", events+2, rounds)
	fmt.Printf("%-36s %12s %12s %12s %12s\n", "", "first p50", "first p99", "total p50", "total p99")
	for j, p := range paths {
		fmt.Printf("%-36s %12s %12s %12s %12s\n", p.name, pct(first[j], 50), pct(first[j], 99), pct(total[j], 50), pct(total[j], 99))
	}
	for _, m := range []struct {
		name string
		d    [][]time.Duration
		p    int
	}{{"first byte p50", first, 50}, {"first byte p99", first, 99}, {"total p50", total, 50}, {"total p99", total, 99}} {
		a, b := pct(m.d[0], m.p), pct(m.d[1], m.p)
		fmt.Printf("broker/direct %-15s %6.2fx   added %s\n", m.name, float64(b)/float64(a), (b - a).Round(time.Microsecond))
	}
	fmt.Printf("target: under 2ms added at p50 (first byte: %s added)\n", (pct(first[1], 50) - pct(first[0], 50)).Round(time.Microsecond))
	return nil
}

// streamOnce sends one streamed request and returns the time to the first
// line of the answer and to its end.
func streamOnce(c *http.Client, url, key, body string) (time.Duration, time.Duration, error) {
	start := time.Now()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("X-Api-Key", key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return 0, 0, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	rd := bufio.NewReader(resp.Body)
	if _, err := rd.ReadString('\n'); err != nil {
		return 0, 0, err
	}
	fb := time.Since(start)
	if _, err := io.Copy(io.Discard, rd); err != nil {
		return 0, 0, err
	}
	return fb, time.Since(start), nil
}

func pct(d []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return s[i].Round(time.Microsecond)
}
