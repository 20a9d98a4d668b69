package repos

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// gitCmd prepares the git CLI in the bare repository dir. The process
// group is killed when ctx ends, so a cancelled request stops git.
func gitCmd(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "git", append([]string{"--git-dir", dir, "-c", "core.quotePath=false"}, args...)...)
	// Answers must not depend on the gate user's git configuration
	// (diff.noprefix, diff.external, ...).
	cmd.Env = append(cmd.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_OPTIONAL_LOCKS=0",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// runGit runs git in dir and returns its standard output; a failure
// carries git's own message.
func runGit(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := gitCmd(ctx, dir, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("git %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// readGit runs git in dir and returns at most limit bytes of its output,
// and whether there was more (git is then stopped).
func readGit(ctx context.Context, dir string, limit int, args ...string) ([]byte, bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := gitCmd(ctx, dir, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, false, fmt.Errorf("git %s: %w", args[0], err)
	}
	if err := cmd.Start(); err != nil {
		return nil, false, fmt.Errorf("start git %s: %w", args[0], err)
	}
	b, rerr := io.ReadAll(io.LimitReader(out, int64(limit)+1))
	more := len(b) > limit
	if more {
		b = b[:limit]
		cancel()
	}
	werr := cmd.Wait()
	switch {
	case more:
		return b, true, nil
	case rerr != nil:
		return nil, false, fmt.Errorf("read git %s: %w", args[0], rerr)
	case werr != nil:
		return nil, false, fmt.Errorf("git %s: %w: %s", args[0], werr, strings.TrimSpace(stderr.String()))
	}
	return b, false, nil
}
