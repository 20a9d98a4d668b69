package procs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ochinchina/supervisord/signals"
	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/supervisor/internal/config"
)

// Options are what every process of one supervisor shares.
type Options struct {
	Log         zerolog.Logger
	Console     *Console
	Reaper      *Reaper
	ChildLogDir string
	Identifier  string
	ServerURL   string
	// Env is added to every child's environment ([supervisord] environment).
	Env []string
	// Halt, once set, stops automatic restarts (the supervisor is shutting
	// down).
	Halt *atomic.Bool
}

// Process is one supervised process.
type Process struct {
	spec *config.Process
	opt  Options
	log  zerolog.Logger

	stdoutPath, stderrPath string

	mu         sync.Mutex
	state      State
	cmd        *exec.Cmd
	pid        int
	gen        int
	start      time.Time
	stop       time.Time
	exitStatus int
	spawnErr   string
	backoff    int
	timer      *time.Timer // startsecs, backoff delay or stop kill
	changed    chan struct{}
	stdin      io.WriteCloser
	stdoutLog  *fileLog
	stderrLog  *fileLog
	userStop   bool
	closed     bool
}

// New returns a STOPPED process for spec.
func New(spec *config.Process, opt Options) *Process {
	full := spec.Name
	if spec.Group != spec.Name {
		full = spec.Group + ":" + spec.Name
	}
	p := &Process{spec: spec, opt: opt, changed: make(chan struct{}),
		log: opt.Log.With().Str("program", full).Logger()}
	p.stdoutPath = p.logPath(spec.StdoutLogfile, "stdout")
	if !spec.RedirectStderr {
		p.stderrPath = p.logPath(spec.StderrLogfile, "stderr")
	}
	return p
}

func (p *Process) logPath(v, stream string) string {
	if v != "AUTO" {
		return v
	}
	return filepath.Join(p.opt.ChildLogDir, fmt.Sprintf("%s-%s---%s-%08x.log", p.spec.Name, stream, p.opt.Identifier, rand.Uint32()))
}

// CleanAutoLogs removes the AUTO log files an earlier supervisor with the
// same identifier left in dir, as Python supervisord does at start-up.
func CleanAutoLogs(dir, identifier string) int {
	matches, _ := filepath.Glob(filepath.Join(dir, "*---"+identifier+"-*.log*"))
	n := 0
	for _, m := range matches {
		if os.Remove(m) == nil {
			n++
		}
	}
	return n
}

// Spec is the configuration the process runs with.
func (p *Process) Spec() *config.Process { return p.spec }

// StdoutPath is the stdout log file ("" when none).
func (p *Process) StdoutPath() string { return p.stdoutPath }

// StderrPath is the stderr log file ("" when none or redirected).
func (p *Process) StderrPath() string { return p.stderrPath }

// State is the current state.
func (p *Process) State() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

// Info is a snapshot with the fields of Python's getProcessInfo.
type Info struct {
	Name          string `xmlrpc:"name"`
	Group         string `xmlrpc:"group"`
	Description   string `xmlrpc:"description"`
	Start         int    `xmlrpc:"start"`
	Stop          int    `xmlrpc:"stop"`
	Now           int    `xmlrpc:"now"`
	State         int    `xmlrpc:"state"`
	StateName     string `xmlrpc:"statename"`
	SpawnErr      string `xmlrpc:"spawnerr"`
	ExitStatus    int    `xmlrpc:"exitstatus"`
	Logfile       string `xmlrpc:"logfile"`
	StdoutLogfile string `xmlrpc:"stdout_logfile"`
	StderrLogfile string `xmlrpc:"stderr_logfile"`
	PID           int    `xmlrpc:"pid"`
}

// Info returns the current snapshot.
func (p *Process) Info() Info {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	in := Info{Name: p.spec.Name, Group: p.spec.Group, Now: int(now.Unix()), State: int(p.state),
		StateName: p.state.String(), SpawnErr: p.spawnErr, ExitStatus: p.exitStatus,
		Logfile: p.stdoutPath, StdoutLogfile: p.stdoutPath, StderrLogfile: p.stderrPath}
	if !p.start.IsZero() {
		in.Start = int(p.start.Unix())
	}
	if !p.stop.IsZero() {
		in.Stop = int(p.stop.Unix())
	}
	if p.state == Running || p.state == Starting || p.state == Stopping {
		in.PID = p.pid
	}
	in.Description = describe(p.state, p.pid, p.start, p.stop, now, p.spawnErr, p.spec.Name)
	return in
}

func describe(s State, pid int, start, stop, now time.Time, spawnErr, name string) string {
	switch s {
	case Running:
		up := now.Sub(start) / time.Second
		h, m, sec := up/3600, (up/60)%60, up%60
		days := h / 24
		if days > 0 {
			unit := "days"
			if days == 1 {
				unit = "day"
			}
			return fmt.Sprintf("pid %d, uptime %d %s, %d:%02d:%02d", pid, days, unit, h%24, m, sec)
		}
		return fmt.Sprintf("pid %d, uptime %d:%02d:%02d", pid, h, m, sec)
	case Fatal, Backoff:
		if spawnErr == "" {
			return fmt.Sprintf("unknown error (try \"tail %s\")", name)
		}
		return spawnErr
	case Stopped, Exited:
		if start.IsZero() {
			return "Not started"
		}
		return stop.Local().Format("Jan 02 03:04 PM")
	}
	return ""
}

// setState changes state and wakes every waiter. Callers hold mu.
func (p *Process) setState(s State) {
	if p.state == s {
		return
	}
	p.log.Debug().Str("from", p.state.String()).Str("to", s.String()).Msg("state")
	if s == Backoff {
		p.backoff++
	}
	if s == Running {
		p.backoff = 0
	}
	p.state = s
	close(p.changed)
	p.changed = make(chan struct{})
}

// wait blocks until done returns true (checked under mu) or ctx ends.
func (p *Process) wait(ctx context.Context, done func() bool) error {
	for {
		p.mu.Lock()
		if done() {
			p.mu.Unlock()
			return nil
		}
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (p *Process) stopTimer() {
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
}

// Resolve finds the executable of the command as supervisord does: an
// absolute or relative path as written, otherwise searched on PATH.
func (p *Process) Resolve() (string, []string, error) {
	argv, err := config.SplitCommand(p.spec.Command)
	if err != nil || len(argv) == 0 {
		return "", nil, fmt.Errorf("%w: bad command %q", ErrNoFile, p.spec.Command)
	}
	name := argv[0]
	var path string
	if filepath.Base(name) != name {
		path = name
		if !filepath.IsAbs(path) && p.spec.Directory != "" {
			path = filepath.Join(p.spec.Directory, path)
		}
	} else {
		lp, err := exec.LookPath(name)
		if err != nil {
			if errors.Is(err, exec.ErrNotFound) {
				return "", nil, fmt.Errorf("%w: can't find command '%s'", ErrNoFile, name)
			}
			lp = name
		}
		path = lp
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", nil, fmt.Errorf("%w: can't find command '%s'", ErrNoFile, name)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return "", nil, fmt.Errorf("%w: command at %q is not executable", ErrNotExecutable, path)
	}
	return path, argv, nil
}

// Start starts a process that is not running. With wait it returns once
// the process reached RUNNING (startsecs) or failed.
func (p *Process) Start(ctx context.Context, wait bool) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return fmt.Errorf("%w: process removed", ErrFailed)
	}
	if p.state.IsRunning() || p.state == Stopping {
		p.mu.Unlock()
		return ErrAlreadyStarted
	}
	if _, _, err := p.Resolve(); err != nil {
		p.mu.Unlock()
		return err
	}
	p.backoff = 0
	p.userStop = false
	p.stopTimer()
	gen := p.spawnLocked()
	failed := p.state == Backoff && p.spawnErr != "" && p.cmd == nil
	startsecs := p.spec.Startsecs
	p.mu.Unlock()
	if failed {
		return fmt.Errorf("%w: %s", ErrSpawn, p.Info().SpawnErr)
	}
	if !wait || startsecs <= 0 {
		return nil
	}
	err := p.wait(ctx, func() bool { return p.gen != gen || p.state != Starting })
	if err != nil {
		return err
	}
	if p.State() != Running {
		return ErrAbnormal
	}
	return nil
}

// Autostart spawns a STOPPED process the way the supervisor's own start-up
// does: a command that cannot be run is a spawn error that goes through
// BACKOFF to FATAL (visible in status), not a refusal.
func (p *Process) Autostart() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.state != Stopped {
		return
	}
	p.backoff = 0
	p.userStop = false
	p.spawnLocked()
}

// spawnLocked starts the child and moves to STARTING (or RUNNING when
// startsecs is 0); a spawn failure moves to BACKOFF. Callers hold mu.
func (p *Process) spawnLocked() int {
	p.gen++
	gen := p.gen
	p.spawnErr = ""
	p.cmd = nil
	path, argv, err := p.Resolve()
	if err == nil {
		err = p.launch(path, argv)
	}
	if err != nil {
		p.spawnErr = spawnMessage(err)
		p.log.Warn().Err(err).Msg("spawn failed")
		p.start = time.Now()
		p.enterBackoff()
		return gen
	}
	p.setState(Starting)
	if p.spec.Startsecs <= 0 {
		p.setState(Running)
	} else {
		p.timer = time.AfterFunc(time.Duration(p.spec.Startsecs)*time.Second, func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.gen == gen && p.state == Starting {
				p.log.Info().Int("pid", p.pid).Msg("entered RUNNING state, process has stayed up for > than startsecs")
				p.setState(Running)
			}
		})
	}
	return gen
}

// enterBackoff moves to BACKOFF and schedules a retry, or to FATAL when the
// retries are used up. Callers hold mu.
func (p *Process) enterBackoff() {
	p.setState(Backoff)
	if p.backoff > p.spec.Startretries {
		p.log.Warn().Msg("gave up: entered FATAL state, too many start retries too quickly")
		p.setState(Fatal)
		return
	}
	gen := p.gen
	p.timer = time.AfterFunc(time.Duration(p.backoff)*time.Second, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.gen == gen && p.state == Backoff && !p.closed && !p.halted() {
			p.spawnLocked()
		}
	})
}

func (p *Process) openLogs() {
	if p.stdoutLog == nil && p.stdoutPath != "" {
		p.stdoutLog = newFileLog(p.stdoutPath, p.spec.StdoutMaxbytes, p.spec.StdoutBackups)
	}
	if p.stderrLog == nil && p.stderrPath != "" {
		p.stderrLog = newFileLog(p.stderrPath, p.spec.StderrMaxbytes, p.spec.StderrBackups)
	}
}

// launch forks the child. Callers hold mu.
func (p *Process) launch(path string, argv []string) error {
	cmd := &exec.Cmd{Path: path, Args: argv, Dir: p.spec.Directory}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	env := append(os.Environ(), p.opt.Env...)
	env = append(env, "SUPERVISOR_ENABLED=1", "SUPERVISOR_PROCESS_NAME="+p.spec.Name, "SUPERVISOR_GROUP_NAME="+p.spec.Group)
	if p.opt.ServerURL != "" {
		env = append(env, "SUPERVISOR_SERVER_URL="+p.opt.ServerURL)
	}
	if p.spec.User != "" {
		id, err := config.LookupUser(p.spec.User)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrSpawn, err)
		}
		if uid := os.Getuid(); uid != 0 && uint32(uid) != id.UID {
			return fmt.Errorf("%w: can't drop privilege to %s as a non-root supervisor", ErrSpawn, p.spec.User)
		}
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: id.UID, Gid: id.GID, Groups: id.Groups}
		env = append(env, "HOME="+id.Home, "USER="+id.Name, "LOGNAME="+id.Name, "SHELL="+id.Shell)
	}
	cmd.Env = append(env, p.spec.Environment...)
	if cmd.Dir != "" {
		if st, err := os.Stat(cmd.Dir); err != nil || !st.IsDir() {
			if err == nil {
				err = fs.ErrInvalid // exists but is not a directory
			}
			return fmt.Errorf("%w: couldn't chdir to %s: %v", ErrSpawn, cmd.Dir, err)
		}
	}
	p.openLogs()
	outR, outW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSpawn, err)
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return fmt.Errorf("%w: %v", ErrSpawn, err)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, outW
	var errR, errW *os.File
	if !p.spec.RedirectStderr {
		if errR, errW, err = os.Pipe(); err != nil {
			outR.Close()
			outW.Close()
			inR.Close()
			inW.Close()
			return fmt.Errorf("%w: %v", ErrSpawn, err)
		}
		cmd.Stderr = errW
	}
	err = p.opt.Reaper.start(cmd, p.spec.Umask)
	outW.Close()
	inR.Close()
	if errW != nil {
		errW.Close()
	}
	if err != nil {
		outR.Close()
		inW.Close()
		if errR != nil {
			errR.Close()
		}
		return fmt.Errorf("%w: %v", ErrSpawn, err)
	}
	p.cmd, p.pid, p.stdin = cmd, cmd.Process.Pid, inW
	p.start = time.Now()
	p.log.Info().Int("pid", p.pid).Msg("spawned")
	go pump(outR, p.spec.Name, writerOf(p.stdoutLog), p.opt.Console, p.spec.StdoutPrefix)
	if errR != nil {
		go pump(errR, p.spec.Name, writerOf(p.stderrLog), p.opt.Console, p.spec.StdoutPrefix)
	}
	go p.reap(cmd, p.gen)
	return nil
}

// spawnMessage is err without our sentinel prefix, as Python words spawnerr.
func spawnMessage(err error) string {
	msg := err.Error()
	for _, s := range []error{ErrSpawn, ErrNoFile, ErrNotExecutable} {
		msg = strings.TrimPrefix(msg, s.Error()+": ")
	}
	return msg
}

func writerOf(l *fileLog) io.Writer {
	if l == nil {
		return nil
	}
	return l
}

// reap waits for the child and applies Python's finish() transitions.
func (p *Process) reap(cmd *exec.Cmd, gen int) {
	cmd.Wait()
	p.opt.Reaper.forget(cmd.Process.Pid)
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	es := ws.ExitStatus()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stdin != nil {
		p.stdin.Close()
		p.stdin = nil
	}
	if gen != p.gen {
		return
	}
	p.stopTimer()
	now := time.Now()
	p.stop = now
	p.exitStatus = es
	tooQuickly := now.Sub(p.start) < time.Duration(p.spec.Startsecs)*time.Second
	expected := false
	for _, c := range p.spec.Exitcodes {
		if c == es && ws.Exited() {
			expected = true
		}
	}
	p.log.Info().Int("pid", p.pid).Str("status", cmd.ProcessState.String()).Bool("expected", expected).Msg("exited")
	switch {
	case p.state == Stopping || p.userStop:
		p.setState(Stopped)
	case p.state == Starting && tooQuickly:
		p.exitStatus = 0
		p.spawnErr = "Exited too quickly (process log may have details)"
		if p.closed {
			p.setState(Stopped)
			return
		}
		p.enterBackoff()
	default:
		p.setState(Exited)
		if p.closed || p.halted() {
			return
		}
		if p.spec.Autorestart == "true" || (p.spec.Autorestart == "unexpected" && !expected) {
			p.spawnLocked()
		}
	}
}

func (p *Process) halted() bool { return p.opt.Halt != nil && p.opt.Halt.Load() }

// Stop stops a running process: stopsignal, then SIGKILL after
// stopwaitsecs. With wait it returns when the process is STOPPED.
func (p *Process) Stop(ctx context.Context, wait bool) error {
	p.mu.Lock()
	switch p.state {
	case Backoff:
		p.stopTimer()
		p.userStop = true
		p.setState(Stopped)
		p.mu.Unlock()
		return nil
	case Running, Starting:
	case Stopping:
	default:
		p.mu.Unlock()
		return ErrNotRunning
	}
	gen := p.gen
	if p.state != Stopping {
		p.userStop = true
		p.stopTimer()
		p.log.Info().Str("signal", p.spec.Stopsignal.String()).Msg("stopping")
		p.setState(Stopping)
		p.kill(p.spec.Stopsignal, p.spec.Stopasgroup)
		p.timer = time.AfterFunc(time.Duration(p.spec.Stopwaitsecs)*time.Second, func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.gen == gen && p.state == Stopping {
				p.log.Warn().Int("stopwaitsecs", p.spec.Stopwaitsecs).Msg("still running after stopwaitsecs, sending SIGKILL")
				p.kill(syscall.SIGKILL, p.spec.Killasgroup)
			}
		})
	}
	p.mu.Unlock()
	if !wait {
		return nil
	}
	return p.wait(ctx, func() bool { return p.gen != gen || p.state != Stopping })
}

// kill signals the child, or its process group. Callers hold mu.
func (p *Process) kill(sig syscall.Signal, group bool) error {
	if p.cmd == nil || p.cmd.Process == nil {
		return ErrNotRunning
	}
	return signals.Kill(p.cmd.Process, sig, group)
}

// Signal sends sig to a running process.
func (p *Process) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !(p.state == Running || p.state == Starting || p.state == Stopping) {
		return ErrNotRunning
	}
	if err := p.kill(sig, false); err != nil {
		return fmt.Errorf("%w: %v", ErrFailed, err)
	}
	return nil
}

// WriteStdin sends data to the process's stdin.
func (p *Process) WriteStdin(data string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !(p.state == Running || p.state == Starting) {
		return ErrNotRunning
	}
	if p.stdin == nil {
		return ErrNoFile
	}
	if _, err := io.WriteString(p.stdin, data); err != nil {
		return fmt.Errorf("%w: %v", ErrNotRunning, err)
	}
	return nil
}

// ClearLogs truncates the log files and removes their backups.
func (p *Process) ClearLogs() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range []struct {
		path string
		log  *fileLog
	}{{p.stdoutPath, p.stdoutLog}, {p.stderrPath, p.stderrLog}} {
		var err error
		switch {
		case l.log != nil:
			err = l.log.ClearAllLogFile()
		case l.path != "":
			err = truncate(l.path)
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrFailed, err)
		}
	}
	return nil
}

func truncate(path string) error {
	matches, _ := filepath.Glob(path + ".[0-9]*")
	for _, m := range matches {
		os.Remove(m)
	}
	if err := os.Truncate(path, 0); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Close marks the process removed and closes its log files. The process
// must be stopped.
func (p *Process) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.stopTimer()
	if p.stdoutLog != nil {
		p.stdoutLog.Close()
	}
	if p.stderrLog != nil {
		p.stderrLog.Close()
	}
}
