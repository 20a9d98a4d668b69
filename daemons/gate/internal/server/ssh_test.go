package server_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// sshGitServer is a minimal ssh server on loopback that runs the real
// git-upload-pack / git-receive-pack for exec requests of one key.
type sshGitServer struct {
	addr    string
	hostPub ssh.PublicKey
	ln      net.Listener
}

func startSSHGit(t *testing.T, gr *gitRunner, clientPub ssh.PublicKey) *sshGitServer {
	t.Helper()
	_, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if bytes.Equal(k.Marshal(), clientPub.Marshal()) {
			return nil, nil
		}
		return nil, errUnknownKey
	}}
	cfg.AddHostKey(hostSigner)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveSSH(c, cfg, gr)
		}
	}()
	return &sshGitServer{addr: ln.Addr().String(), hostPub: hostSigner.PublicKey(), ln: ln}
}

var errUnknownKey = os.ErrPermission

func serveSSH(c net.Conn, cfg *ssh.ServerConfig, gr *gitRunner) {
	sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		c.Close()
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "session only")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go func() {
			defer ch.Close()
			for req := range creqs {
				if req.Type != "exec" || len(req.Payload) < 4 {
					req.Reply(false, nil)
					continue
				}
				cmdline := string(req.Payload[4:])
				svc, path, ok := strings.Cut(cmdline, " ")
				path = strings.Trim(path, "'")
				if !ok || (svc != "git-upload-pack" && svc != "git-receive-pack") {
					req.Reply(false, nil)
					continue
				}
				req.Reply(true, nil)
				cmd := exec.Command("git", strings.TrimPrefix(svc, "git-"), path)
				cmd.Env = gitEnv(gr.home)
				cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
				code := uint32(0)
				if err := cmd.Run(); err != nil {
					code = 1
				}
				var st [4]byte
				binary.BigEndian.PutUint32(st[:], code)
				ch.SendRequest("exit-status", false, st[:])
				return
			}
		}()
	}
}

// TestMirrorOverSSH mirrors and promotes through an ssh upstream with the
// key and known_hosts from the gate's state dir.
func TestMirrorOverSSH(t *testing.T) {
	gr := newGit(t)
	root := tempDir(t)
	g := startGate(t, root)
	upBare, upWork := upstream(t, gr)

	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	clientPub, _ := ssh.NewPublicKey(pub)
	srv := startSSHGit(t, gr, clientPub)
	url := "ssh://git@" + srv.addr + upBare

	// Without a key the gate says where to put one.
	_, _, err := g.api.EnsureRepo(g.ctx(), gateapi.EnsureRepoRequest{Name: "s", Upstream: url})
	wantErr(t, "ssh mirror without key", err, unixhttp.ErrUnavailable,
		"upstream failed: ssh upstream "+url+" needs a private key id_ed25519 or id_rsa in "+filepath.Join(root, "ssh"))
	sshDir := filepath.Join(root, "ssh")
	os.MkdirAll(sshDir, 0o700)
	block, err := ssh.MarshalPrivateKey(priv, "gate test")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(sshDir, "id_ed25519"), pem.EncodeToMemory(block), 0o600)
	// Without the host key it refuses to connect (fail closed).
	_, _, err = g.api.EnsureRepo(g.ctx(), gateapi.EnsureRepoRequest{Name: "s", Upstream: url})
	wantErr(t, "ssh mirror without known_hosts", err, unixhttp.ErrUnavailable,
		"upstream failed: ssh upstream needs the host key in "+filepath.Join(root, "ssh", "known_hosts"))
	// A wrong host key is refused too.
	_, otherPub, _ := ed25519.GenerateKey(rand.Reader)
	wrong, _ := ssh.NewPublicKey(otherPub.Public().(ed25519.PublicKey))
	os.WriteFile(filepath.Join(sshDir, "known_hosts"), []byte(knownhosts.Line([]string{knownhosts.Normalize(srv.addr)}, wrong)+"\n"), 0o600)
	_, _, err = g.api.EnsureRepo(g.ctx(), gateapi.EnsureRepoRequest{Name: "s", Upstream: url})
	wantErr(t, "ssh mirror with a wrong host key", err, unixhttp.ErrUnavailable, "key mismatch")
	os.WriteFile(filepath.Join(sshDir, "known_hosts"), []byte(knownhosts.Line([]string{knownhosts.Normalize(srv.addr)}, srv.hostPub)+"\n"), 0o600)
	if _, _, err = g.api.EnsureRepo(g.ctx(), gateapi.EnsureRepoRequest{Name: "s", Upstream: url}); err != nil {
		t.Fatalf("ssh mirror: %v", err)
	}
	tok := g.mint("s", "t")
	clone := filepath.Join(tempDir(t), "c")
	gr.run("", "clone", "-q", g.url(tok, "s"), clone)
	if got, want := gr.run(clone, "rev-parse", "HEAD"), gr.run(upWork, "rev-parse", "HEAD"); got != want {
		t.Fatalf("ssh mirror HEAD %s want %s", got, want)
	}
	gr.run(clone, "checkout", "-q", "-b", "over-ssh")
	feat := gr.commit(clone, "s", "s\n", "ssh work")
	gr.run(clone, "push", "-q", "origin", "over-ssh")
	if _, err := g.api.Promote(g.ctx(), "s", gateapi.PromoteRequest{Branch: "over-ssh"}); err != nil {
		t.Fatalf("promote over ssh: %v", err)
	}
	if got := gr.run("", "--git-dir", upBare, "rev-parse", "refs/heads/over-ssh"); got != feat {
		t.Fatalf("upstream over-ssh %s want %s", got, feat)
	}
}
