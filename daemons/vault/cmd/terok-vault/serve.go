package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	kitcli "github.com/terok-ai/terok-in-docker/daemons/kit/cli"
	"github.com/terok-ai/terok-in-docker/daemons/kit/serve"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/config"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/phantoms"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/providers"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/seal"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/secrets"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/server"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/startup"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the vault in the foreground",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Usage: "JSON config file (optional)"},
			&cli.StringFlag{Name: "listen", Usage: "credential broker address host:port (default 127.0.0.1:9419, or $TEROK_VAULT_BIND:9419)"},
			&cli.StringFlag{Name: "socket", Usage: "admin API unix socket (default $TEROK_RUN_DIR/vault.sock)"},
			&cli.StringFlag{Name: "socket-mode", Usage: "mode of the socket file (default 0660)"},
			&cli.StringFlag{Name: "socket-group", Usage: "group given the socket: the one terok-web runs in ($TEROK_VAULT_SOCKET_GROUP)"},
			&cli.StringFlag{Name: "user", Usage: "started as root, run as this user after preparing (default $TEROK_VAULT_USER)"},
			&cli.StringFlag{Name: "config-dir", Usage: "key and providers directory (default $TEROK_CONFIG_DIR/system/vault)"},
			&cli.StringFlag{Name: "state-dir", Usage: "store, phantoms and audit directory (default $TEROK_STATE_DIR/system/vault)"},
			&cli.StringFlag{Name: "key-file", Usage: "a key you provide, e.g. a Docker secret (default $TEROK_VAULT_KEY_FILE, else generated into the config dir)"},
			&cli.StringFlag{Name: "secret-writers", Usage: "who may set secrets on the socket: socket (anyone who can open it) or root ($TEROK_VAULT_SECRET_WRITERS)"},
			&cli.StringFlag{Name: "test-ca-file", Usage: "FOR TESTS ONLY: also trust this CA for upstreams ($TEROK_VAULT_TEST_CA_FILE)"},
		},
		Action: func(c *cli.Context) error {
			cfg := config.Default()
			if p := c.String("config"); p != "" {
				if err := cfg.LoadFile(p); err != nil {
					return cli.Exit(err.Error(), kitcli.ExitUsage)
				}
			}
			if err := cfg.ApplyEnv(os.Getenv); err != nil {
				return cli.Exit(err.Error(), kitcli.ExitUsage)
			}
			for name, dst := range map[string]*string{"listen": &cfg.Listen, "socket": &cfg.Socket, "socket-group": &cfg.SocketGroup,
				"user": &cfg.User, "config-dir": &cfg.ConfigDir, "state-dir": &cfg.StateDir, "key-file": &cfg.KeyFile,
				"secret-writers": &cfg.SecretWriters, "test-ca-file": &cfg.TestCAFile} {
				if c.IsSet(name) {
					*dst = c.String(name)
				}
			}
			if c.IsSet("socket-mode") {
				m, err := config.ParseMode(c.String("socket-mode"))
				if err != nil {
					return kitcli.Usagef(c, "%v", err)
				}
				cfg.SocketMode = m
			}
			if err := cfg.Validate(); err != nil {
				return cli.Exit(err.Error(), kitcli.ExitUsage)
			}
			err := serve.Run(c.Context, "terok-vault", func(ctx context.Context, log zerolog.Logger) error {
				return run(ctx, log, cfg, c.App.Writer)
			})
			if unusable(err) {
				return cli.Exit(err.Error(), kitcli.ExitUsage)
			}
			return err
		},
	}
}

// unusable reports errors of a configuration or state the vault refuses
// to start with (exit 2): the message names the file and the fix.
func unusable(err error) bool {
	for _, e := range []error{config.ErrInvalid, startup.ErrUser, startup.ErrUnsafeDir, seal.ErrBadKeyFile,
		secrets.ErrWrongKey, secrets.ErrCorrupt, phantoms.ErrCorrupt, providers.ErrInvalid, providers.ErrUntrusted} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// run prepares as root what needs root (directories, a root-only key
// file, listeners, the socket's owner), drops to the vault's user, then
// opens the key and the state and serves until ctx ends.
func run(ctx context.Context, log zerolog.Logger, cfg config.Config, banner io.Writer) error {
	id, err := startup.Resolve(cfg.User)
	if err != nil {
		return err
	}
	sockGID := -1
	if cfg.SocketGroup != "" {
		if sockGID, err = startup.GroupID(cfg.SocketGroup); err != nil {
			return err
		}
	}
	for _, d := range []string{cfg.ConfigDir, cfg.StateDir} {
		changed, err := startup.EnsureDir(d, id)
		if err != nil {
			return err
		}
		for _, ch := range changed {
			log.Info().Msg(ch)
		}
	}
	// The directories are opened now and used only through these handles,
	// so the vault needs no right to their parents once root is gone (in
	// the image they sit below /home/podman, 0700).
	var dirs server.Dirs
	if dirs.Config, err = startup.OpenDir(cfg.ConfigDir, id); err != nil {
		return err
	}
	defer dirs.Config.Close()
	if dirs.State, err = startup.OpenDir(cfg.StateDir, id); err != nil {
		return err
	}
	defer dirs.State.Close()
	var testCA []byte
	if cfg.TestCAFile != "" {
		if testCA, err = os.ReadFile(cfg.TestCAFile); err != nil {
			return fmt.Errorf("%w: test CA file: %v", config.ErrInvalid, err)
		}
	}
	var master []byte
	var notes []string
	keyNote := "given in " + cfg.KeyFile
	if cfg.KeyFile != "" {
		var warn string
		if master, warn, err = seal.ReadGiven(cfg.KeyFile); err != nil {
			return err
		}
		if warn != "" {
			notes = append(notes, "warning: "+warn)
		}
		if startup.SameFilesystem(cfg.KeyFile, cfg.StateDir) {
			notes = append(notes, "warning: the key file "+cfg.KeyFile+" sits on the same filesystem as the encrypted store "+cfg.StateDir+"; a copy of that one filesystem reads every secret")
		}
	}
	brokerLn, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen for the broker on %s: %w; choose another with --listen or %s", cfg.Listen, err, config.EnvBind)
	}
	adminLn, err := unixhttp.Listen(cfg.Socket, os.FileMode(cfg.SocketMode))
	if err != nil {
		brokerLn.Close()
		return err
	}
	closeAll := func() { brokerLn.Close(); adminLn.Close() }
	if err := ownSocket(cfg.Socket, id, sockGID); err != nil {
		closeAll()
		return err
	}
	if err := startup.Drop(id); err != nil {
		closeAll()
		return err
	}
	if master == nil {
		var created bool
		if master, created, err = seal.LoadOrCreate(dirs.Config, filepath.Base(cfg.KeyPath())); err != nil {
			closeAll()
			return err
		}
		keyNote = "kept in " + cfg.KeyPath()
		if created {
			keyNote = "generated now into " + cfg.KeyPath()
		}
		notes = append(notes, "warning: the key is kept in the config volume ("+cfg.KeyPath()+"); whoever copies it and the state volume reads every secret: give the vault its key from elsewhere with "+config.EnvKeyFile+" (a Docker secret)")
	}
	key, err := seal.New(master)
	clear(master)
	if err != nil {
		closeAll()
		return err
	}
	srv, err := server.New(cfg, key, dirs, testCA, log)
	if err != nil {
		closeAll()
		if errors.Is(err, secrets.ErrWrongKey) {
			return fmt.Errorf("the key in %s does not open the store: %w", cfg.KeyPath(), err)
		}
		return err
	}
	srv.KeyNote = keyNote
	for _, n := range notes {
		log.Warn().Msg(strings.TrimPrefix(n, "warning: "))
	}
	printBanner(banner, cfg, srv, brokerLn.Addr(), keyNote, key.ID(), notes, id)
	log.Info().Str("listen", brokerLn.Addr().String()).Str("socket", cfg.Socket).Str("state", cfg.StateDir).
		Str("user", id.Name).Msg("terok-vault serving")
	return srv.Serve(ctx, brokerLn, adminLn)
}

// ownSocket gives the socket to the vault's user and the group that may
// call it (as root), or to that group alone (as a member of it).
func ownSocket(path string, id startup.Identity, gid int) error {
	switch {
	case os.Geteuid() == 0:
		if gid < 0 {
			gid = id.GID
		}
		if err := os.Chown(path, id.UID, gid); err != nil {
			return fmt.Errorf("chown %s: %w", path, err)
		}
	case gid >= 0:
		if err := os.Chown(path, -1, gid); err != nil {
			return fmt.Errorf("give %s to group %d: %w (the vault's user must be a member, or start it as root)", path, gid, err)
		}
	}
	return nil
}

func printBanner(w io.Writer, cfg config.Config, srv *server.Server, addr net.Addr, keyNote, keyID string, notes []string, id startup.Identity) {
	port := config.DefaultPort
	if ta, ok := addr.(*net.TCPAddr); ok {
		port = fmt.Sprint(ta.Port)
	}
	fmt.Fprintf(w, "terok-vault: credential broker on %s (a task's base URL: http://<host as the task sees it>:%s/<provider>)\n", addr, port)
	fmt.Fprintf(w, "terok-vault: admin API on %s, running as %s\n", cfg.Socket, id.Name)
	fmt.Fprintf(w, "terok-vault: key %s (id %s)\n", keyNote, keyID)
	fmt.Fprintf(w, "terok-vault: providers: %s\n", strings.Join(srv.Providers().Names(), ", "))
	for _, n := range notes {
		fmt.Fprintf(w, "terok-vault: %s\n", n)
	}
}
