package ctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/terok-ai/terok-in-docker/daemons/kit/paths"
	"github.com/terok-ai/terok-in-docker/supervisor/internal/xmlrpc"
)

// Env is what Main needs from the process around it.
type Env struct {
	Argv0          string
	Environ        []string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Signals delivers Ctrl-C and SIGTERM (see Controller.Signals).
	Signals <-chan os.Signal

	// search replaces the config search path in tests.
	search []string
}

// lookup returns the variable key of Environ (of the process when Environ
// is nil), or "".
func (e Env) lookup(key string) string {
	if e.Environ == nil {
		return os.Getenv(key)
	}
	v := ""
	for _, kv := range e.Environ {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

const usageDoc = `supervisorctl -- control the programs run by terok-supervisord (or any
supervisord speaking XML-RPC API 3.0) from the command line.

Usage: %s [options] [action [arguments]]

Options:
-c/--configuration FILENAME -- configuration file path (searches if not given)
-h/--help -- print usage message and exit
-i/--interactive -- start an interactive shell after executing commands
-s/--serverurl URL -- URL on which supervisord server is listening
     (unix:///path/to.sock or http://host:port; default: [supervisorctl]
     serverurl of the -c config, else unix://$TEROK_RUN_DIR/supervisor.sock,
     else serverurl of the first config file found)
-u/--username USERNAME -- username to use for authentication with server
-p/--password PASSWORD -- password to use for authentication with server
-r/--history-file -- accepted for compatibility; no history is kept

action [arguments] -- see below

Actions are commands like "tail" or "stop".  If no action is given, a
minimal shell reads one action per line from standard input.  Use the
action "help" to find out about available actions.
`

// Main runs supervisorctl with args (without the program name) and returns
// the exit status.
func Main(ctx context.Context, args []string, env Env) int {
	prog := env.Argv0
	usage := func(err error) int {
		msg := strings.TrimPrefix(err.Error(), ErrUsage.Error()+": ")
		fmt.Fprintf(env.Stderr, "Error: %s\nFor help, use %s -h\n", msg, prog)
		return ExitInvalidArgs
	}
	opts, err := ParseArgs(args)
	if err != nil {
		return usage(err)
	}
	if opts.Help {
		io.WriteString(env.Stdout, strings.ReplaceAll(usageDoc, "%s", prog)+"\n")
		return ExitSuccess
	}
	cfgPath, runDir := opts.ConfigFile, ""
	if cfgPath == "" {
		runDir = env.lookup(paths.EnvRunDir)
	}
	if cfgPath == "" && runDir == "" {
		self := prog
		if !strings.Contains(self, "/") {
			if p, err := exec.LookPath(self); err == nil {
				self = p
			}
		}
		search := env.search
		if search == nil {
			search = searchPaths(self)
		}
		cfgPath = firstExisting(search)
	}
	// Where the server is: -s, else the serverurl of the -c config, else
	// $TEROK_RUN_DIR/supervisor.sock (no config file is read then), else
	// the serverurl of the first config file found, else the run
	// directory's default socket. See docs/supervisorctl.md.
	serverURL := "unix://" + paths.Socket("", paths.Supervisor)
	if runDir != "" {
		serverURL = "unix://" + filepath.Join(runDir, paths.Supervisor+".sock")
	}
	prompt := "supervisor"
	var user, pass *string
	if cfgPath != "" {
		cfg, err := ReadClientConfig(cfgPath, env.Environ)
		if err != nil {
			if errors.Is(err, ErrUsage) {
				return usage(err)
			}
			return usage(fmt.Errorf("%w: %v", ErrUsage, err))
		}
		serverURL, prompt, user, pass = cfg.ServerURL, cfg.Prompt, cfg.Username, cfg.Password
	}
	if opts.ServerURL != "" {
		serverURL = opts.ServerURL
	}
	if opts.Username != nil {
		user = opts.Username
	}
	if opts.Password != nil {
		pass = opts.Password
	}
	newCaller := func(u string) (Caller, error) {
		if !strings.HasPrefix(u, "unix://") && !strings.HasPrefix(u, "http://") {
			//lint:ignore ST1005 the message is Python supervisorctl's, word for word
			return nil, fmt.Errorf("Unknown protocol for serverurl %s", u)
		}
		var un, pw string
		if user != nil && pass != nil {
			un, pw = *user, *pass
		}
		return xmlrpc.NewClient(u, un, pw)
	}
	c := NewController(ctx, serverURL, user, pass, newCaller, env.Stdin, env.Stdout, env.Stderr)
	c.Prompt = prompt
	c.Signals = env.Signals
	if len(opts.Args) > 0 {
		c.OneCmd(strings.Join(opts.Args, " "))
		return c.ExitStatus()
	}
	c.Loop()
	return ExitSuccess
}
