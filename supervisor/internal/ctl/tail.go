package ctl

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

func (c *Controller) doTail(arg string) error {
	if ok, err := c.upcheck(); !ok {
		return err
	}
	args := strings.Fields(arg)
	if len(args) < 1 {
		return c.usageError("tail", "too few arguments", ExitGeneric)
	}
	if len(args) > 3 {
		return c.usageError("tail", "too many arguments", ExitGeneric)
	}
	modifier := ""
	if strings.HasPrefix(args[0], "-") {
		modifier, args = args[0], args[1:]
	}
	var name, channel string
	switch {
	case len(args) == 1:
		name, channel = args[0], "stdout"
	case len(args) > 1:
		name, channel = args[0], strings.ToLower(args[len(args)-1])
		if channel != "stderr" && channel != "stdout" {
			c.output("Error: bad channel " + pyRepr(channel))
			c.exit = ExitGeneric
			return nil
		}
	default:
		c.output("Error: tail requires process name")
		c.exit = ExitGeneric
		return nil
	}
	bytes := defaultTailBytes
	if modifier != "" {
		what := modifier[1:]
		if what == "f" {
			return c.tailf("/logtail/" + name + "/" + channel)
		}
		n, err := strconv.Atoi(strings.TrimSpace(what))
		if err != nil {
			c.output("Error: bad argument " + modifier)
			c.exit = ExitGeneric
			return nil
		}
		bytes = n
	}
	method := "supervisor.readProcessStdoutLog"
	if channel == "stderr" {
		method = "supervisor.readProcessStderrLog"
	}
	v, err := c.call(method, name, -bytes, 0)
	return c.printLog(name, true, v, err)
}

// printLog prints the answer v of a log read, or for its error err the
// line Python's client prints for name: "no log file", "unknown error
// reading log" and, for a process log, "no such process name". Other
// errors are returned.
// noLogYet is how terok-supervisord's NO_FILE fault for a log that does
// not exist yet begins (server.NoLogYet).
const noLogYet = "no log yet: "

func (c *Controller) printLog(name string, process bool, v any, err error) error {
	if err == nil {
		c.output(pyStr(v))
		return nil
	}
	c.exit = ExitGeneric
	code, text, ok := faultCode(err)
	switch {
	case ok && code == faultNoFile && strings.HasPrefix(text, "NO_FILE: "+noLogYet):
		// Only terok-supervisord says why (Python's creates every log
		// file up front, so its answer for a never-started program is an
		// empty log).
		c.output(errorLine(name, strings.TrimPrefix(text, "NO_FILE: ")))
	case ok && code == faultNoFile:
		c.output(errorLine(name, "no log file"))
	case ok && code == faultFailed:
		c.output(errorLine(name, "unknown error reading log"))
	case ok && code == faultBadName && process:
		c.output(errorLine(name, "no such process name"))
	default:
		return err
	}
	return nil
}

func (c *Controller) doMaintail(arg string) error {
	if ok, err := c.upcheck(); !ok {
		return err
	}
	args := strings.Fields(arg)
	bytes := defaultTailBytes
	switch {
	case len(args) > 1:
		return c.usageError("maintail", "too many arguments", ExitGeneric)
	case len(args) == 1:
		if !strings.HasPrefix(args[0], "-") {
			c.output("Error: bad argument " + args[0])
			c.exit = ExitGeneric
			return nil
		}
		what := args[0][1:]
		if what == "f" {
			return c.tailf("/mainlogtail")
		}
		n, err := strconv.Atoi(strings.TrimSpace(what))
		if err != nil {
			c.output("Error: bad argument " + args[0])
			c.exit = ExitGeneric
			return nil
		}
		bytes = n
	}
	v, err := c.call("supervisor.readLog", -bytes, 0)
	return c.printLog("supervisord", false, v, err)
}

// tailf follows path (/logtail/<name>/<channel> or /mainlogtail) until the
// server ends the stream or the context is cancelled (Ctrl-C). Stream
// errors go to errOut as "<url> <problem>" and leave the status alone, as
// with Python's client.
func (c *Controller) tailf(path string) error {
	c.output(pressCtrlC)
	err := c.stream(c.ctx, path, c.out)
	if c.ctx.Err() != nil {
		c.output("")
		return nil
	}
	if err != nil {
		fmt.Fprintf(c.errOut, "%s%s %v\n", c.ServerURL, path, err)
	}
	return nil
}

// stream copies the body of GET path on the server to w, flushing as it
// arrives.
func (c *Controller) stream(ctx context.Context, path string, w io.Writer) error {
	hc, base, err := httpFor(c.ServerURL)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return err
	}
	if c.Password != nil && *c.Password != "" {
		user := "None"
		if c.Username != nil {
			user = *c.Username
		}
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+*c.Password)))
	}
	resp, err := hc.Do(req)
	if err != nil {
		//lint:ignore ST1005 the message is Python supervisorctl's, word for word
		return fmt.Errorf("Cannot connect, error: %s", describeError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		//lint:ignore ST1005 the message is Python supervisorctl's, word for word
		return fmt.Errorf("Cannot read, status code %d", resp.StatusCode)
	}
	buf := make([]byte, 32*1024)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// httpFor returns an HTTP client and base URL for a unix:// or http://
// server URL.
func httpFor(serverURL string) (*http.Client, string, error) {
	if sock, ok := strings.CutPrefix(serverURL, "unix://"); ok {
		return &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", sock)
			},
			DisableCompression: true,
		}}, "http://localhost", nil
	}
	if strings.HasPrefix(serverURL, "http://") {
		return &http.Client{Transport: &http.Transport{DisableCompression: true}}, strings.TrimRight(serverURL, "/"), nil
	}
	//lint:ignore ST1005 the message is Python supervisorctl's, word for word
	return nil, "", fmt.Errorf("Unknown protocol for serverurl %s", serverURL)
}

// doFg attaches to a running process: its stdout and stderr stream to our
// stdout, each line typed is sent to its stdin, Ctrl-C or end of input
// detaches.
func (c *Controller) doFg(arg string) error {
	if ok, err := c.upcheck(); !ok {
		return err
	}
	names := strings.Fields(arg)
	if len(names) == 0 {
		c.output("ERROR: no process name supplied")
		c.exit = ExitGeneric
		c.usageHelp("fg")
		return nil
	}
	if len(names) > 1 {
		c.output("ERROR: too many process names supplied")
		c.exit = ExitGeneric
		return nil
	}
	name := names[0]
	running := func() (bool, error) {
		v, err := c.call("supervisor.getProcessInfo", name)
		if err != nil {
			return false, err
		}
		m, _ := v.(map[string]any)
		return num(m, "state") == stateRunning, nil
	}
	ok, err := running()
	if err != nil {
		if code, _, isFault := faultCode(err); isFault && code == faultBadName {
			c.output("ERROR: bad process name supplied")
			c.exit = ExitGeneric
			return nil
		}
		c.output("ERROR: " + describeError(err))
		return nil
	}
	if !ok {
		c.output("ERROR: process not running")
		c.exit = ExitGeneric
		return nil
	}
	c.output(pressCtrlC)
	ctx, cancel := context.WithCancel(c.ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	var mu sync.Mutex
	w := lockedWriter{mu: &mu, w: c.out}
	for _, ch := range []string{"stdout", "stderr"} {
		wg.Add(1)
		go func(ch string) {
			defer wg.Done()
			_ = c.stream(ctx, "/logtail/"+name+"/"+ch, w)
		}(ch)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		for {
			l, ok := c.readLine(ctx)
			if !ok {
				return
			}
			select {
			case lines <- l:
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			c.output("Exiting foreground")
			return nil
		case l, open := <-lines:
			if !open {
				c.output("Exiting foreground")
				return nil
			}
			if _, err := c.call("supervisor.sendProcessStdin", name, l); err != nil {
				if code, _, isFault := faultCode(err); isFault && code == faultNotRunning {
					c.output("Process got killed")
				} else {
					c.output("ERROR: " + describeError(err))
				}
				c.output("Exiting foreground")
				return nil
			}
			if ok, err := running(); err != nil || !ok {
				c.output("Process got killed")
				c.output("Exiting foreground")
				return nil
			}
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
