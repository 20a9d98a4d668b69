package child

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
)

// States of the supervised child.
const (
	Starting   = "starting"
	Ready      = "ready"
	Restarting = "restarting"
	Stopped    = "stopped"
)

// Options configure a Supervisor. Zero durations take the defaults.
type Options struct {
	Podman        string        // podman binary
	Socket        string        // path of podman.sock
	StartTimeout  time.Duration // until the first answered ping (default 60s)
	ProbeInterval time.Duration // watchdog period (default 5s)
	ProbeTimeout  time.Duration // one watchdog ping (default 5s)
	MaxFailures   int           // failed pings in a row before a restart (default 3)
	MinBackoff    time.Duration // first restart delay (default 500ms)
	MaxBackoff    time.Duration // longest restart delay (default 30s)
	StableAfter   time.Duration // a run this long resets the backoff (default 60s)
	StopGrace     time.Duration // SIGTERM to SIGKILL (default 10s)
	// MigrateTimeout bounds `podman system migrate`, run when rootless
	// Podman's pause process is gone (default 2m).
	MigrateTimeout time.Duration
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.StartTimeout, 60*time.Second)
	def(&o.ProbeInterval, 5*time.Second)
	def(&o.ProbeTimeout, 5*time.Second)
	def(&o.MinBackoff, 500*time.Millisecond)
	def(&o.MaxBackoff, 30*time.Second)
	def(&o.StableAfter, 60*time.Second)
	def(&o.StopGrace, 10*time.Second)
	def(&o.MigrateTimeout, 2*time.Minute)
	if o.MaxFailures <= 0 {
		o.MaxFailures = 3
	}
	if o.Podman == "" {
		o.Podman = "podman"
	}
}

// Snapshot is the supervisor's state at one moment.
type Snapshot struct {
	State         string
	PID           int
	Restarts      int
	PodmanVersion string
	APIVersion    string
	LastError     string
	// Migrations counts the `podman system migrate` runs that reset a
	// lost pause process.
	Migrations int
}

// Supervisor keeps one `podman system service` child answering.
type Supervisor struct {
	o   Options
	log zerolog.Logger
	api *podmanapi.Client

	mu   sync.Mutex
	snap Snapshot

	// lostPause is set by the output reader when Podman reports that its
	// pause process is gone (see lostPauseMarker).
	lostPause atomic.Bool
}

// New returns a supervisor; Run starts it.
func New(o Options, log zerolog.Logger) *Supervisor {
	o.defaults()
	return &Supervisor{o: o, log: log, api: podmanapi.New(o.Socket), snap: Snapshot{State: Starting}}
}

// Snapshot returns the current state.
func (s *Supervisor) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap
}

func (s *Supervisor) update(f func(*Snapshot)) {
	s.mu.Lock()
	f(&s.snap)
	s.mu.Unlock()
}

// Run keeps the child alive until ctx ends, then stops it and removes the
// socket. It returns an error only when the socket belongs to somebody
// else or the podman binary cannot be started at all.
func (s *Supervisor) Run(ctx context.Context) error {
	backoff := s.o.MinBackoff
	// migrated: a reset ran since the last time the API answered, so a
	// second one in a row would not help.
	migrated := false
	defer s.update(func(sn *Snapshot) { sn.State, sn.PID = Stopped, 0 })
	for first := true; ; first = false {
		if err := clearStale(s.o.Socket); err != nil {
			return err
		}
		started := time.Now()
		s.lostPause.Store(false)
		err := s.runOnce(ctx)
		answered := s.Snapshot().State == Ready // this run's API answered
		if ctx.Err() != nil {
			_ = clearStale(s.o.Socket)
			return nil
		}
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) && first {
			return err
		}
		if answered || time.Since(started) >= s.o.StableAfter {
			backoff = s.o.MinBackoff
			migrated = false
		}
		if s.lostPause.Load() && !migrated {
			// Rootless Podman's pause process died (killed, OOM): every
			// call fails until the user namespace is reset. Reset it once
			// and retry at once; the next failure backs off as usual.
			migrated = true
			s.migrate(ctx)
			backoff = 0
		}
		s.log.Warn().Err(err).Dur("backoff", backoff).Msg("podman system service ended; restarting")
		s.update(func(sn *Snapshot) {
			sn.State, sn.PID, sn.LastError = Restarting, 0, errString(err)
			sn.Restarts++
		})
		select {
		case <-ctx.Done():
			_ = clearStale(s.o.Socket)
			return nil
		case <-time.After(backoff):
		}
		backoff = min(max(backoff*2, s.o.MinBackoff), s.o.MaxBackoff)
	}
}

// lostPauseMarker is in the error rootless Podman prints when the pause
// process holding its user namespace is gone: "invalid internal status,
// try resetting the pause process with "podman system migrate"".
const lostPauseMarker = "podman system migrate"

// migrate runs `podman system migrate`, which stops the containers whose
// user namespace went with the pause process and starts a new one.
func (s *Supervisor) migrate(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, s.o.MigrateTimeout)
	defer cancel()
	s.log.Warn().Msg("rootless Podman's pause process is gone (killed or out of memory); running `podman system migrate` once to reset it")
	out, err := exec.CommandContext(ctx, s.o.Podman, "system", "migrate").CombinedOutput()
	s.update(func(sn *Snapshot) { sn.Migrations++ })
	if err != nil {
		s.log.Error().Err(err).Str("output", strings.TrimSpace(string(out))).Msg("podman system migrate failed; run it as the Podman user by hand")
		return
	}
	s.log.Info().Str("output", strings.TrimSpace(string(out))).Msg("podman system migrate done")
}

// podmanLevel is the level of one line of Podman's output: its logrus
// lines carry level=warning, level=error, …; anything else is info.
func podmanLevel(line string) zerolog.Level {
	i := strings.Index(line, "level=")
	if i < 0 {
		return zerolog.InfoLevel
	}
	lv := line[i+len("level="):]
	if j := strings.IndexAny(lv, " \t"); j >= 0 {
		lv = lv[:j]
	}
	switch strings.Trim(lv, `"`) {
	case "warning", "warn":
		return zerolog.WarnLevel
	case "error":
		return zerolog.ErrorLevel
	case "fatal", "panic":
		return zerolog.ErrorLevel
	case "debug", "trace":
		return zerolog.DebugLevel
	}
	return zerolog.InfoLevel
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// runOnce starts one child and returns when it has ended (died, been
// replaced for not answering, or been stopped because ctx ended). The
// snapshot's state is still Ready afterwards when its API answered.
func (s *Supervisor) runOnce(ctx context.Context) error {
	cmd := exec.Command(s.o.Podman, "system", "service", "--time=0", "unix://"+s.o.Socket)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// An *os.File, so that Wait returns when podman exits even though its
	// user-namespace child may still hold the pipe.
	pr, pw, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("pipe for podman's output: %w", err)
	}
	defer pr.Close()
	cmd.Stdout, cmd.Stderr = pw, pw
	err = cmd.Start()
	pw.Close()
	if err != nil {
		return fmt.Errorf("start %s system service: %w", s.o.Podman, err)
	}
	pid := cmd.Process.Pid
	clog := s.log.With().Str("from", "podman").Int("pid", pid).Logger()
	// The reader's verdict on the pause process must be in before Run
	// looks at it; a grandchild holding the pipe only delays it a second.
	readerDone := make(chan struct{})
	defer func() {
		select {
		case <-readerDone:
		case <-time.After(time.Second):
		}
	}()
	go func() {
		defer close(readerDone)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, lostPauseMarker) {
				s.lostPause.Store(true)
			}
			clog.WithLevel(podmanLevel(line)).Msg(line)
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	exited := make(chan error, 1)
	go func() {
		exited <- cmd.Wait()
	}()
	s.update(func(sn *Snapshot) { sn.State, sn.PID = Starting, pid })
	s.log.Info().Int("pid", pid).Str("socket", s.o.Socket).Msg("started podman system service")

	// Rootless podman re-executes itself inside its user namespace; the
	// API server is that grandchild, in the same process group (the pause
	// process and conmon start their own sessions, so containers live on).
	group := func(sig syscall.Signal) { _ = syscall.Kill(-pid, sig) }
	defer group(syscall.SIGKILL)
	stop := func(reason string, sig syscall.Signal) error {
		s.log.Info().Int("pid", pid).Str("reason", reason).Msg("stopping podman system service")
		group(sig)
		select {
		case <-exited:
		case <-time.After(s.o.StopGrace):
			group(syscall.SIGKILL)
			<-exited
		}
		return fmt.Errorf("podman system service (pid %d) %s", pid, reason)
	}

	// Readiness: a real ping. Its headers carry Podman's version; the
	// version query is not asked, as Podman answers it by running the
	// package manager for each component (dpkg-query --search on Debian),
	// which on a busy machine took over a minute, and a child killed for
	// it broke the requests it was already serving.
	deadline := time.Now().Add(s.o.StartTimeout)
	var ping podmanapi.Ping
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		p, err := s.api.Ping(pctx)
		cancel()
		if err == nil {
			ping = p
			break
		}
		select {
		case err := <-exited:
			return fmt.Errorf("podman system service (pid %d) exited before answering: %v", pid, err)
		case <-ctx.Done():
			return stop("stopped", syscall.SIGTERM)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return stop(fmt.Sprintf("did not answer GET /_ping within %s", s.o.StartTimeout), syscall.SIGKILL)
		}
	}
	s.update(func(sn *Snapshot) {
		sn.State, sn.PodmanVersion, sn.APIVersion = Ready, ping.LibpodAPIVersion, ping.APIVersion
	})
	s.log.Info().Int("pid", pid).Str("podman_version", ping.LibpodAPIVersion).Msg("podman API ready")

	// Watchdog.
	fails := 0
	tick := time.NewTicker(s.o.ProbeInterval)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			group(syscall.SIGKILL)
			return fmt.Errorf("podman system service (pid %d) exited: %v", pid, err)
		case <-ctx.Done():
			return stop("stopped", syscall.SIGTERM)
		case <-tick.C:
		}
		pctx, cancel := context.WithTimeout(ctx, s.o.ProbeTimeout)
		_, err := s.api.Ping(pctx)
		cancel()
		if ctx.Err() != nil {
			continue
		}
		if err == nil {
			fails = 0
			continue
		}
		fails++
		s.log.Warn().Err(err).Int("failures", fails).Msg("podman API did not answer")
		if fails >= s.o.MaxFailures {
			return stop(fmt.Sprintf("stopped answering (%d pings failed)", fails), syscall.SIGKILL)
		}
	}
}

// clearStale removes a Podman socket file nobody answers on; a live socket
// or a non-socket file is left alone and reported with the fix.
func clearStale(path string) error {
	if err := unixhttp.ClearStale(path); err != nil {
		return fmt.Errorf("%w; stop the other `podman system service`, move the file away or choose another --podman-socket", err)
	}
	return nil
}
