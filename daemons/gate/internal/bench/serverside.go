package main

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
)

// countWriter counts bytes written.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// serverSide measures producing the pack of a full clone on the server:
// `git upload-pack --stateless-rpc` (what the gate runs) against go-git's
// own upload-pack server, both writing to a counter. This is the measured
// basis of the gate's design choice.
func serverSide(src string) error {
	r, err := gogit.PlainOpen(src)
	if err != nil {
		return err
	}
	head, err := r.Reference(plumbing.NewBranchReferenceName("main"), true)
	if err != nil {
		return err
	}
	want := head.Hash()

	// git upload-pack, protocol v0 stateless request: want, flush, done.
	req := fmt.Sprintf("%04xwant %s ofs-delta no-progress\n0000%04xdone\n", len("want ")+40+len(" ofs-delta no-progress\n")+4, want, len("done\n")+4)
	start := time.Now()
	cmd := exec.Command("git", "upload-pack", "--stateless-rpc", src)
	cmd.Stdin = strings.NewReader(req)
	var gitOut countWriter
	cmd.Stdout = &gitOut
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("git upload-pack: %w", err)
	}
	gitTime := time.Since(start)

	// go-git's server.
	start = time.Now()
	ep, err := transport.NewEndpoint(src)
	if err != nil {
		return err
	}
	sess, err := server.DefaultServer.NewUploadPackSession(ep, nil)
	if err != nil {
		return err
	}
	defer sess.Close()
	if _, err := sess.AdvertisedReferences(); err != nil {
		return err
	}
	upr := packp.NewUploadPackRequest()
	upr.Wants = []plumbing.Hash{want}
	resp, err := sess.UploadPack(context.Background(), upr)
	if err != nil {
		return fmt.Errorf("go-git upload-pack: %w", err)
	}
	var ggOut countWriter
	if _, err := io.Copy(&ggOut, resp); err != nil {
		return fmt.Errorf("go-git pack: %w", err)
	}
	resp.Close()
	ggTime := time.Since(start)

	mb := func(n int64, d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }
	fmt.Printf("server side, full-clone pack: git upload-pack %.2fs (%.1f MB, %.0f MB/s); go-git server %.2fs (%.1f MB, %.0f MB/s); ratio go-git / git %.1f\n",
		gitTime.Seconds(), float64(gitOut.n)/1e6, mb(gitOut.n, gitTime), ggTime.Seconds(), float64(ggOut.n)/1e6, mb(ggOut.n, ggTime), ggTime.Seconds()/gitTime.Seconds())
	return nil
}
