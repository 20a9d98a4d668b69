package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/httpmw"
	"github.com/terok-ai/terok-in-docker/daemons/kit/paths"
	"github.com/terok-ai/terok-in-docker/daemons/kit/serve"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/internal/ccconf"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/internal/child"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/internal/config"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/internal/podconf"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/internal/preflight"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/internal/service"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/serviceapi"
)

// errHooksNotHonoured means Podman's effective configuration does not
// include terok's hooks directory.
var errHooksNotHonoured = errors.New("podman would not run terok's OCI hooks")

// plan is the outcome of preflight plus the configuration step.
type plan struct {
	Report    preflight.Report  `json:"preflight"`
	Changes   []podconf.Change  `json:"config"`
	Effective *ccconf.Effective `json:"effective,omitempty"`
	Files     podconf.Paths     `json:"-"`
}

// prepare runs preflight and the configuration step; write decides whether
// the files are written (serve) or only planned (check).
func prepare(cfg config.Config, sv seamValues, write bool) (plan, error) {
	var p plan
	env := preflight.DefaultEnv()
	env.HooksDir = cfg.HooksDir
	env.ProbeOverlay = preflight.ProbeOverlay
	env.ProbeUserns = preflight.ProbeUserns
	override := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	override(&env.SubuidFile, sv.subuid)
	override(&env.SubgidFile, sv.subgid)
	override(&env.TunDevice, sv.tun)
	override(&env.FuseDevice, sv.fuse)
	lp := env.LookPath
	env.LookPath = func(name string) (string, error) {
		if name == "podman" {
			return lp(cfg.Podman)
		}
		return lp(name)
	}
	home, _ := os.UserHomeDir()
	p.Files = podconf.UserPaths(home, os.Getenv("XDG_CONFIG_HOME"))
	gr, drv, err := podconf.Existing(p.Files, home, os.Getenv("XDG_DATA_HOME"))
	if err != nil {
		return p, err
	}
	env.GraphRoot, env.ExistingDrive = gr, drv
	p.Report = preflight.Run(env)
	p.Report.Checks = append(p.Report.Checks, socketDirCheck(cfg.PodmanSocket), socketDirCheck(cfg.ServiceSocket))
	if err := p.Report.Err(); err != nil {
		return p, err
	}
	d := p.Report.Decision
	p.Changes, err = podconf.Apply(p.Files, podconf.Want{
		CgroupManager: d.CgroupManager, EventsLogger: d.EventsLogger, Runtime: d.Runtime,
		HooksDir: cfg.HooksDir, StorageDriver: d.StorageDriver, MountProgram: d.MountProgram,
	}, !write)
	if err != nil {
		return p, err
	}
	eff, err := ccconf.Containers{}.Load()
	if err != nil {
		return p, err
	}
	p.Effective = &eff
	if write && cfg.HooksDir != "" && !slices.ContainsFunc(eff.HooksDirs, func(s string) bool { return filepath.Clean(s) == filepath.Clean(cfg.HooksDir) }) {
		return p, fmt.Errorf("%w: the merged containers.conf has hooks_dir %v, not %s; check CONTAINERS_CONF and the files in %s",
			errHooksNotHonoured, eff.HooksDirs, cfg.HooksDir, filepath.Dir(p.Files.ContainersConf))
	}
	return p, nil
}

// socketDirCheck makes sure the socket's directory exists and the user
// can create files in it.
func socketDirCheck(sock string) preflight.Check {
	dir := filepath.Dir(sock)
	c := preflight.Check{Name: "socket-dir " + filepath.Base(sock), Status: preflight.OK, Detail: dir + " writable"}
	fix := fmt.Sprintf("give uid %d a writable directory: set TEROK_RUN_DIR (or --socket/--podman-socket) to e.g. $XDG_RUNTIME_DIR/terok, or as root: install -d -o %d %s", os.Getuid(), os.Getuid(), dir)
	if err := paths.CheckSocketDir(dir); err != nil {
		// /tmp/terok-<uid> made by someone else: Podman's socket would be
		// theirs to catch.
		c.Status, c.Detail, c.Fix = preflight.Fail, err.Error(), "set TEROK_RUN_DIR (or XDG_RUNTIME_DIR) to a private directory of your own"
		return c
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		c.Status, c.Detail, c.Fix = preflight.Fail, fmt.Sprintf("cannot create socket directory %s: %v", dir, errors.Unwrap(err)), fix
		return c
	}
	f, err := os.CreateTemp(dir, ".podman-service-probe-")
	if err != nil {
		c.Status, c.Detail, c.Fix = preflight.Fail, fmt.Sprintf("cannot create files in socket directory %s: %v", dir, errors.Unwrap(err)), fix
		return c
	}
	f.Close()
	os.Remove(f.Name())
	return c
}

func serveService(ctx context.Context, log zerolog.Logger, cfg config.Config, sv seamValues) error {
	p, err := prepare(cfg, sv, true)
	for _, c := range p.Report.Checks {
		if c.Status == preflight.Warn {
			log.Warn().Str("check", c.Name).Str("fix", c.Fix).Msg(c.Detail)
		}
	}
	if c, ok := p.Report.Blocked(); ok && err != nil {
		return serveBlocked(ctx, log, cfg, c)
	}
	if err != nil {
		return err
	}
	for _, ch := range p.Changes {
		ev := log.Info().Str("file", ch.File).Str("key", ch.Key).Str("value", ch.Value)
		switch {
		case ch.Kept:
			ev.Msg("kept the user's setting")
		case ch.Previous != "":
			ev.Str("previous", ch.Previous).Msg("podman setting (replaces the value podman-service wrote before)")
		default:
			ev.Msg("podman setting")
		}
	}
	sup := child.New(child.Options{Podman: cfg.Podman, Socket: cfg.PodmanSocket, StartTimeout: cfg.StartTimeout, ProbeInterval: cfg.ProbeInterval},
		log.With().Str("part", "child").Logger())
	h := service.New(sup, podmanapi.New(cfg.PodmanSocket), cfg.HooksDir)
	// Podman's child and the service socket stop together: the child
	// giving up ends the daemon.
	return serveSocket(ctx, log, cfg, h, sup.Run)
}

// serveSocket answers h on the service socket, with kit's access log and
// recovery, beside loops (Podman's child), until ctx ends or one of them
// stops.
func serveSocket(ctx context.Context, log zerolog.Logger, cfg config.Config, h http.Handler, loops ...func(context.Context) error) error {
	ln, err := unixhttp.Listen(cfg.ServiceSocket, 0o660)
	if err != nil {
		return err
	}
	log.Info().Str("socket", cfg.ServiceSocket).Msg("listening")
	g := serve.NewGroup(ctx, 5*time.Second)
	for _, l := range loops {
		g.Go(l)
	}
	g.Serve("service socket", unixhttp.NewServer(h, log, unixhttp.WithPeerCred(),
		unixhttp.WithMiddleware(httpmw.Middleware(log.With().Str("listener", "socket").Logger()))), ln)
	return g.Wait()
}

// serveBlocked runs podman-service without Podman: the machine cannot
// create user namespaces, so no rootless container could run. It says so
// at once (an error line in the log, docker logs in the image) and in its
// health answer (degraded, the problem with the fix), which terok health,
// terok-web's daemon list and the image's health check show, until it is
// stopped; a restart cannot help, the container's options must change.
func serveBlocked(ctx context.Context, log zerolog.Logger, cfg config.Config, c preflight.Check) error {
	problem := c.Detail + " — fix: " + c.Fix
	log.Error().Str("check", c.Name).Str("fix", c.Fix).Msg(c.Detail)
	h := service.New(blockedSource{}, podmanapi.New(cfg.PodmanSocket), cfg.HooksDir)
	h.Block(problem)
	return serveSocket(ctx, log, cfg, h)
}

// blockedSource is the snapshot of a podman-service that runs no Podman.
type blockedSource struct{}

func (blockedSource) Snapshot() child.Snapshot { return child.Snapshot{State: service.Blocked} }

// checkOnlyUserns runs the userns check alone (the image's entrypoint
// asks it before the banner, as the user podman): its line, and
// preflight.ErrFailed when it failed.
func checkOnlyUserns(w io.Writer, asJSON bool) error {
	env := preflight.DefaultEnv()
	env.ProbeUserns = preflight.ProbeUserns
	c := preflight.CheckUserns(env)
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(c); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(w, "%s\t%s\t%s\n", c.Name, c.Status, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(w, "\t\tfix: %s\n", c.Fix)
		}
	}
	if c.Status == preflight.Fail {
		return preflight.ErrFailed
	}
	return nil
}

func check(w io.Writer, cfg config.Config, sv seamValues, asJSON bool) error {
	p, err := prepare(cfg, sv, false)
	if asJSON {
		out := struct {
			plan
			HooksDir string `json:"hooks_dir"`
			Error    string `json:"error,omitempty"`
		}{plan: p, HooksDir: cfg.HooksDir}
		if err != nil {
			out.Error = err.Error()
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if e := enc.Encode(out); e != nil {
			return e
		}
		if err != nil {
			return preflight.ErrFailed
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tSTATUS\tDETAIL")
	for _, c := range p.Report.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, c.Status, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(tw, "\t\tfix: %s\n", c.Fix)
		}
	}
	if len(p.Changes) > 0 {
		fmt.Fprintln(tw, "\nSETTING\tSOURCE\tVALUE")
		for _, ch := range p.Changes {
			src := "podman-service writes"
			if ch.Kept {
				src = "user's (kept)"
			} else if ch.Previous != "" {
				src = "podman-service updates (was " + ch.Previous + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s  (%s)\n", ch.Key, src, ch.Value, ch.File)
		}
	}
	if p.Effective != nil {
		fmt.Fprintf(tw, "\nhooks_dir now in effect\t%v\t(serve makes it %s)\n", p.Effective.HooksDirs, cfg.HooksDir)
	}
	if e := tw.Flush(); e != nil {
		return e
	}
	return err
}

func status(ctx context.Context, w io.Writer, cfg config.Config, asJSON bool) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := serviceapi.New(cfg.ServiceSocket).Status(ctx)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	rows := [][2]string{
		{"state", st.State}, {"podman socket", st.PodmanSocket}, {"service socket", cfg.ServiceSocket},
		{"child pid", fmt.Sprint(st.ChildPID)}, {"restarts", fmt.Sprint(st.Restarts)}, {"pause resets", fmt.Sprint(st.PauseResets)},
		{"api answers", fmt.Sprint(st.APIAnswers)}, {"podman version", st.PodmanVersion},
		{"storage driver", st.StorageDriver}, {"runtime", st.Runtime}, {"cgroup manager", st.CgroupManager},
		{"hooks dir", st.HooksDir}, {"containers", fmt.Sprint(st.Containers)}, {"images", fmt.Sprint(st.Images)},
	}
	if st.LastError != "" {
		rows = append(rows, [2]string{"last error", st.LastError})
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
	}
	return tw.Flush()
}

func importImage(ctx context.Context, w io.Writer, cfg config.Config, name, tarball string) error {
	f, err := os.Open(tarball)
	if err != nil {
		return fmt.Errorf("import-image: %w", err)
	}
	defer f.Close()
	if err := podmanapi.CheckRootfs(f); err != nil {
		return fmt.Errorf("import-image %s: %w", tarball, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("import-image: rewind %s: %w", tarball, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	id, err := podmanapi.New(cfg.PodmanSocket).ImportImage(ctx, name, f)
	if err != nil {
		return fmt.Errorf("import-image: %w", err)
	}
	fmt.Fprintf(w, "%s %s\n", name, id)
	return nil
}
