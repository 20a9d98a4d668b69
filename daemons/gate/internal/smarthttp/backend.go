package smarthttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/atomicfile"
)

// Service is a git transport service.
type Service string

// The two services of smart HTTP.
const (
	UploadPack  Service = "upload-pack"
	ReceivePack Service = "receive-pack"
)

// Run is one invocation of a service.
type Run struct {
	Dir       string    // bare repository
	Service   Service   // upload-pack or receive-pack
	Advertise bool      // --advertise-refs (info/refs)
	Protocol  string    // GIT_PROTOCOL, from the client's Git-Protocol header
	Env       []string  // extra environment
	Stdin     io.Reader // request body; nil for advertisements
	// PreReceive decides a push's ref updates (receive-pack only; nil
	// refuses every push).
	PreReceive PreReceiveFunc
}

// Backend runs git services with stateless RPC semantics, streaming stdin
// to the service and its output to stdout.
type Backend interface {
	Serve(ctx context.Context, run Run, stdout, stderr io.Writer) error
}

// GitBackend runs the git CLI.
type GitBackend struct {
	Git      string // git binary, "git" when empty
	HooksDir string // core.hooksPath for receive-pack
}

// NewGitBackend installs the pre-receive hook in hooksDir and returns a
// backend using it.
func NewGitBackend(git, hooksDir string) (*GitBackend, error) {
	if git == "" {
		git = "git"
	}
	if _, err := exec.LookPath(git); err != nil {
		return nil, fmt.Errorf("find git: %w; install git", err)
	}
	if err := os.MkdirAll(hooksDir, 0o750); err != nil {
		return nil, fmt.Errorf("create hooks dir: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(hooksDir, "pre-receive"), []byte(PreReceiveHook), 0o750); err != nil {
		return nil, fmt.Errorf("install pre-receive hook: %w", err)
	}
	return &GitBackend{Git: git, HooksDir: hooksDir}, nil
}

// Serve implements Backend.
func (b *GitBackend) Serve(ctx context.Context, run Run, stdout, stderr io.Writer) error {
	args := []string{"-c", "core.hooksPath=" + b.HooksDir}
	if run.Service == UploadPack {
		args = append(args, "-c", "uploadpack.allowFilter=true")
	} else {
		args = append(args, "-c", "receive.fsckObjects=true", "-c", "receive.advertisePushOptions=false")
	}
	args = append(args, string(run.Service), "--stateless-rpc")
	if run.Advertise {
		args = append(args, "--advertise-refs")
	}
	args = append(args, run.Dir)
	cmd := exec.CommandContext(ctx, b.Git, args...)
	// LC_ALL=C: the handler reads git's messages (see clientFault).
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_PROTOCOL="+run.Protocol, "LC_ALL=C")
	cmd.Env = append(cmd.Env, run.Env...)
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var hook *hookChannel
	if run.Service == ReceivePack && !run.Advertise {
		if err := checkHook(b.HooksDir); err != nil {
			return err
		}
		var err error
		if hook, err = openHookChannel(run.PreReceive); err != nil {
			return err
		}
		defer hook.close()
		cmd.ExtraFiles = []*os.File{hook.child}
	}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("stdout pipe: %w", err)
	}
	var in io.WriteCloser
	if run.Stdin != nil {
		if in, err = cmd.StdinPipe(); err != nil {
			return fmt.Errorf("stdin pipe: %w", err)
		}
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start git %s: %w", run.Service, err)
	}
	if hook != nil {
		hook.started()
	}
	// Feed stdin ourselves so a failing body (too large, cut off) closes
	// git's stdin and the error is ours to report.
	cerr := make(chan error, 1)
	if in != nil {
		go func() {
			_, err := io.Copy(in, run.Stdin)
			in.Close()
			cerr <- err
		}()
	} else {
		cerr <- nil
	}
	// Stream git's output in pipe-sized pieces; a client that went away
	// stops git.
	buf := make([]byte, 64<<10)
	var werr error
	for {
		n, rerr := out.Read(buf)
		if n > 0 && werr == nil {
			if _, werr = stdout.Write(buf[:n]); werr != nil {
				_ = cmd.Cancel()
			}
		}
		if rerr != nil {
			break
		}
	}
	waitErr := cmd.Wait()
	// A client that stalls mid-body must not hold the handler once git is
	// gone: returning lets the server close the body and end the copy.
	var copyErr error
	select {
	case copyErr = <-cerr:
	case <-time.After(2 * time.Second):
		copyErr = errors.New("request body still arriving after git finished")
	}
	switch {
	case waitErr != nil:
		return fmt.Errorf("git %s: %w", run.Service, waitErr)
	case werr != nil:
		return fmt.Errorf("send to client: %w", werr)
	case copyErr != nil && !isPipeErr(copyErr):
		return fmt.Errorf("read request body: %w", copyErr)
	}
	return nil
}

func isPipeErr(err error) bool {
	return err != nil && (errors.Is(err, syscall.EPIPE) || errors.Is(err, os.ErrClosed))
}
