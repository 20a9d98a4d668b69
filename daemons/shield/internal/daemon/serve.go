package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/httpmw"
	"github.com/terok-ai/terok-in-docker/daemons/kit/serve"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/config"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/profile"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/resolve"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/taskdns"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/trust"
)

// Run serves the shield API on cfg.Socket until ctx ends. It re-arms the
// containers a previous run left, then re-resolves domains by TTL.
func Run(ctx context.Context, cfg config.Config, log zerolog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	eps, _ := cfg.ParseEndpoints()
	cdns, _ := cfg.ParseContainerDNS()
	hostSide, _ := cfg.ParseHostSide()
	denyNames, _ := cfg.ParseDenyNames()
	mode, _ := cfg.Mode()
	gid, _ := cfg.GID()
	// The config directory is made (root's, 0700) if missing, so that
	// nobody else can make it first and fill it with profiles.
	if err := trust.MkdirAll(cfg.ConfigDir, 0o700); err != nil {
		return fmt.Errorf("config directory: %w", err)
	}
	var res *resolve.Resolver
	server := cfg.Resolver
	if server == "" {
		s, err := resolve.FromResolvConf("/etc/resolv.conf")
		if err != nil {
			log.Warn().Err(err).Msg("no resolver: allowlisted domains will not resolve")
		}
		server = s
	}
	if server != "" {
		res = &resolve.Resolver{Server: server, Timeout: 2 * time.Second, MinTTL: time.Duration(cfg.MinTTLSeconds) * time.Second}
	}
	if cfg.TaskResolver && server == "" {
		// Still armed and still refusing unlisted names; allowed names
		// answer SERVFAIL until the daemon has an upstream.
		log.Warn().Msg("no upstream for the task resolvers: allowed names will not resolve; pass --resolver IP:PORT")
	}
	m, err := New(Options{TaskResolver: cfg.TaskResolver, Upstream: server, Receipts: cfg.Receipts, StateDir: cfg.StateDir, Profiles: profile.Store{Dir: cfg.ProfileDir(), Lenient: cfg.LenientProfiles},
		Resolver: res, Endpoints: eps, LogGroup: cfg.LogGroup, Grace: time.Duration(cfg.GraceSeconds) * time.Second,
		ResolverLimits: taskdns.Limits{Rate: cfg.ResolverRate, Burst: cfg.ResolverBurst, Workers: cfg.ResolverWorkers},
		HostSide:       hostSide, ContainerDNS: cdns, DenyNames: denyNames,
		Log: log.With().Str("part", "manager").Logger()})
	if err != nil {
		return err
	}
	defer m.Close()
	if err := m.Restore(ctx); err != nil {
		return fmt.Errorf("restore container state: %w", err)
	}
	ln, err := unixhttp.Listen(cfg.Socket, mode)
	if err != nil {
		return err
	}
	if gid >= 0 {
		if err := os.Chown(cfg.Socket, -1, gid); err != nil {
			ln.Close()
			return fmt.Errorf("give socket %s to group %s: %w", cfg.Socket, cfg.SocketGroup, err)
		}
		// The hook (running as the rootless user) must traverse the
		// directory: add search permission for all, and leave every other
		// bit as its owner set it (the image's /run/terok is root:podman
		// 01775, say).
		if fi, err := os.Stat(filepath.Dir(cfg.Socket)); err == nil && fi.Mode().Perm()&0o001 == 0 {
			_ = os.Chmod(filepath.Dir(cfg.Socket), fi.Mode()&(os.ModePerm|os.ModeSticky|os.ModeSetgid)|0o011)
		}
	}
	log.Info().Str("socket", cfg.Socket).Str("resolver", server).Msg("listening")
	g := serve.NewGroup(ctx, 3*time.Second)
	g.Serve("socket", unixhttp.NewServer(Handler(m), log, unixhttp.WithPeerCred(),
		unixhttp.WithMiddleware(httpmw.Middleware(log.With().Str("listener", "socket").Logger()))), ln)
	g.Go(func(ctx context.Context) error {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				m.Refresh(ctx)
			}
		}
	})
	return g.Wait()
}
