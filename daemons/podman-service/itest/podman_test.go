package itest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/serviceapi"
)

// TestServiceLifecycle runs the service as tkpodman and drives Podman's API
// through podmanapi the way terok-web does: import an offline image, run a
// task container with env, labels, annotations, mounts, a volume and
// ulimits, read its demultiplexed log, and clean up; plus bad input.
func TestServiceLifecycle(t *testing.T) {
	for _, tr := range tiers {
		t.Run(tr.name, func(t *testing.T) { testServiceLifecycle(t, tr) })
	}
}

func testServiceLifecycle(t *testing.T, tr tier) {
	e := newEnv(t, tr)
	s := e.start()
	ctx := ctxT(t, 4*time.Minute)

	ping, err := s.api.Ping(ctx)
	if err != nil || ping.LibpodAPIVersion == "" {
		t.Fatalf("ping: %+v %v", ping, err)
	}
	v, err := s.api.Version(ctx)
	if err != nil || !strings.HasPrefix(v.Version, tr.major) {
		t.Fatalf("version: %+v %v", v, err)
	}
	info, err := s.api.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Host.Security.Rootless || info.Host.CgroupManager != "cgroupfs" || info.Host.EventLogger != "file" {
		t.Fatalf("podman does not run with the generated settings: %+v", info.Host)
	}
	h, err := s.status.Health(ctx)
	if err != nil || h.Status != "ok" || h.Details["podman_version"] != v.Version || h.Details["api_answers"] != true {
		t.Fatalf("health: %+v %v", h, err)
	}
	st, err := s.status.Status(ctx)
	if err != nil || st.State != "ready" || st.ChildPID == 0 || st.StorageDriver == "" || st.Runtime != info.Host.OCIRuntime.Name || st.HooksDir != e.hooks {
		t.Fatalf("status: %+v %v", st, err)
	}
	t.Logf("%s: podman %s, runtime %s, storage %s, cgroups %s", tr.name, v.Version, st.Runtime, st.StorageDriver, info.Host.CgroupVersion)

	// The generated containers.conf keeps what the user set.
	cc, err := os.ReadFile(filepath.Join(e.home, ".config", "containers", "containers.conf"))
	if err != nil || !strings.Contains(string(cc), "hooks_dir = [\""+e.hooks+"\"]") {
		t.Fatalf("containers.conf: %v\n%s", err, cc)
	}

	// Offline image: a busybox root filesystem through the CLI (the API's
	// images/import underneath).
	tarball := busyboxTar(t, e.base)
	os.Chmod(tarball, 0o644)
	const img = "localhost/tkpodman-busybox:test"
	out, err := e.command(binary(t), "import-image", img, tarball).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), img+" ") {
		t.Fatalf("import-image: %v\n%s", err, out)
	}
	if ok, err := s.api.ImageExists(ctx, img); !ok || err != nil {
		t.Fatalf("image exists: %v %v", ok, err)
	}
	imgs, err := s.api.ListImages(ctx)
	if err != nil || !hasTag(imgs, img) {
		t.Fatalf("list images: %+v %v", imgs, err)
	}

	// A task container with everything the web passes.
	data := filepath.Join(e.base, "data")
	os.Mkdir(data, 0o755)
	os.WriteFile(filepath.Join(data, "f"), []byte("from-the-host\n"), 0o644)
	spec := podmanapi.CreateSpec{
		Name:        "tkpodman-task",
		Image:       img,
		Command:     []string{"sh", "-c", "echo out-$FOO; echo err-line >&2; cat /data/f; echo vol > /vol/x && cat /vol/x; ulimit -n; exit 3"},
		Env:         map[string]string{"FOO": "bar"},
		Labels:      map[string]string{"tkpodman.test": "1"},
		Annotations: map[string]string{"tkpodman.annotation": "yes"},
		Mounts:      []podmanapi.Mount{{Destination: "/data", Type: "bind", Source: data, Options: []string{"rbind", "ro"}}},
		Volumes:     []podmanapi.Volume{{Name: "tkpodman-vol", Dest: "/vol"}},
		NetNS:       &podmanapi.Namespace{Mode: tr.network},
		Ulimits:     []podmanapi.Ulimit{{Type: "nofile", Hard: 1000, Soft: 1000}},
	}
	cr, err := s.api.CreateContainer(ctx, spec)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := s.api.StartContainer(ctx, cr.ID); err != nil {
		t.Fatalf("start: %v\n%s", err, s.logs())
	}
	code, err := s.api.WaitContainer(ctx, cr.ID)
	if err != nil || code != 3 {
		t.Fatalf("wait: %d %v", code, err)
	}
	var so, se bytes.Buffer
	if err := s.api.ContainerLogs(ctx, cr.ID, podmanapi.LogOptions{}, &so, &se); err != nil {
		t.Fatalf("logs: %v", err)
	}
	if want := "out-bar\nfrom-the-host\nvol\n1000\n"; so.String() != want || se.String() != "err-line\n" {
		t.Fatalf("logs: stdout %q (want %q), stderr %q", so.String(), want, se.String())
	}
	ins, err := s.api.InspectContainer(ctx, cr.ID)
	if err != nil || ins.State.ExitCode != 3 || ins.Config.Annotations["tkpodman.annotation"] != "yes" || ins.Config.Labels["tkpodman.test"] != "1" {
		t.Fatalf("inspect: %+v %v", ins, err)
	}
	list, err := s.api.ListContainers(ctx, podmanapi.ListOptions{All: true, Labels: []string{"tkpodman.test=1"}})
	if err != nil || len(list) != 1 || list[0].ID != cr.ID || list[0].ExitCode != 3 {
		t.Fatalf("list: %+v %v", list, err)
	}
	if err := s.api.RemoveContainer(ctx, cr.ID, podmanapi.RemoveOptions{Volumes: true}); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if ok, err := s.api.ContainerExists(ctx, cr.ID); ok || err != nil {
		t.Fatalf("exists after remove: %v %v", ok, err)
	}

	// Follow a running container's log until it exits, and reach a
	// published port from the host.
	hostPort := freePort(t)
	cr3, err := s.api.CreateContainer(ctx, podmanapi.CreateSpec{
		Image:       img,
		Command:     []string{"sh", "-c", "echo first; echo served | nc -l -p 7860; echo second >&2"},
		NetNS:       &podmanapi.Namespace{Mode: tr.network},
		PortMapping: []podmanapi.PortMapping{{HostIP: "127.0.0.1", ContainerPort: 7860, HostPort: hostPort, Protocol: "tcp"}},
	})
	if err != nil {
		t.Fatalf("create with port: %v", err)
	}
	if err := s.api.StartContainer(ctx, cr3.ID); err != nil {
		t.Fatal(err)
	}
	if got := readPort(t, hostPort); got != "served\n" {
		t.Fatalf("published port answered %q", got)
	}
	so.Reset()
	se.Reset()
	if err := s.api.ContainerLogs(ctx, cr3.ID, podmanapi.LogOptions{Follow: true}, &so, &se); err != nil {
		t.Fatalf("follow logs: %v", err)
	}
	if so.String() != "first\n" || se.String() != "second\n" {
		t.Fatalf("followed logs: %q / %q", so.String(), se.String())
	}
	if err := s.api.RemoveContainer(ctx, cr3.ID, podmanapi.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}

	// Kill and stop a long-running container.
	cr2, err := s.api.CreateContainer(ctx, podmanapi.CreateSpec{Image: img, Command: []string{"sleep", "300"}, NetNS: &podmanapi.Namespace{Mode: "none"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.api.StartContainer(ctx, cr2.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.api.KillContainer(ctx, cr2.ID, "SIGKILL"); err != nil {
		t.Fatalf("kill: %v", err)
	}
	if code, err := s.api.WaitContainer(ctx, cr2.ID); err != nil || code != 137 {
		t.Fatalf("wait after kill: %d %v", code, err)
	}
	if err := s.api.KillContainer(ctx, cr2.ID, "SIGKILL"); !errors.Is(err, podmanapi.ErrConflict) {
		t.Fatalf("kill a stopped container: want ErrConflict, got %v", err)
	}
	if err := s.api.StartContainer(ctx, cr2.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.api.StopContainer(ctx, cr2.ID, 1); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if ins, err := s.api.InspectContainer(ctx, cr2.ID); err != nil || ins.State.Running {
		t.Fatalf("still running after stop: %+v %v", ins.State, err)
	}
	if err := s.api.RemoveContainer(ctx, cr2.ID, podmanapi.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}

	// Bad input: an unknown image, an unknown container, a tarball that is
	// no root filesystem; each a clear error, and the service keeps running.
	_, err = s.api.CreateContainer(ctx, podmanapi.CreateSpec{Image: "localhost/tkpodman-no-such-image:none"})
	if err == nil || !strings.Contains(err.Error(), "tkpodman-no-such-image") {
		t.Fatalf("unknown image: %v", err)
	}
	if _, err := s.api.InspectContainer(ctx, "tkpodman-no-such-container"); !errors.Is(err, podmanapi.ErrNotFound) {
		t.Fatalf("unknown container: want ErrNotFound, got %v", err)
	}
	if err := s.api.RemoveImage(ctx, "localhost/tkpodman-no-such-image:none", false); !errors.Is(err, podmanapi.ErrNotFound) {
		t.Fatalf("remove unknown image: want ErrNotFound, got %v", err)
	}
	notRootfs := filepath.Join(e.base, "notes.tar")
	writeTar(t, notRootfs, map[string]string{"notes/readme.txt": "hello"})
	out, err = e.command(binary(t), "import-image", "localhost/tkpodman-notes:test", notRootfs).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "not a root filesystem") || !strings.Contains(string(out), "tar -C ROOTFS -c .") {
		t.Fatalf("non-rootfs tarball: %v\n%s", err, out)
	}
	garbage := filepath.Join(e.base, "garbage.tar")
	os.WriteFile(garbage, bytes.Repeat([]byte("not a tar "), 100), 0o644)
	out, err = e.command(binary(t), "import-image", "localhost/tkpodman-garbage:test", garbage).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "not a tar archive") {
		t.Fatalf("garbage tarball: %v\n%s", err, out)
	}
	if ok, _ := s.api.ImageExists(ctx, "localhost/tkpodman-notes:test"); ok {
		t.Fatal("a non-rootfs tarball was imported")
	}
	// The service stays up after bad input. Its health pings Podman with a
	// 3 s bound, which a machine busy with a whole test run can miss once:
	// asked a few times (bounded), one ok answer is what counts.
	for i := range 10 {
		if h, err = s.status.Health(ctx); err == nil && h.Status == "ok" {
			break
		}
		t.Logf("health after bad input, try %d: %+v %v", i+1, h, err)
		time.Sleep(2 * time.Second)
	}
	if err != nil || h.Status != "ok" {
		t.Fatalf("service unhealthy after bad input: %+v %v", h, err)
	}
	if err := s.api.RemoveImage(ctx, img, true); err != nil {
		t.Fatalf("remove image: %v", err)
	}
	if ok, err := s.api.ImageExists(ctx, img); ok || err != nil {
		t.Fatalf("image still there: %v %v", ok, err)
	}
}

// TestHooksDirHonoured proves the generated hooks_dir reaches Podman: a
// hook there, armed by an annotation, fails and so the container must not
// start; without the annotation it starts.
func TestHooksDirHonoured(t *testing.T) {
	for _, tr := range tiers {
		t.Run(tr.name, func(t *testing.T) { testHooksDirHonoured(t, tr) })
	}
}

func testHooksDirHonoured(t *testing.T, tr tier) {
	e := newEnv(t, tr)
	hook := `{"version":"1.0.0","hook":{"path":"/bin/false"},"when":{"annotations":{"^tkpodman\\.arm$":"^fail$"}},"stages":["createRuntime"]}`
	if err := os.WriteFile(filepath.Join(e.hooks, "tkpodman-fail.json"), []byte(hook), 0o644); err != nil {
		t.Fatal(err)
	}
	s := e.start()
	ctx := ctxT(t, 2*time.Minute)
	tarball := busyboxTar(t, e.base)
	f, err := os.Open(tarball)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const img = "localhost/tkpodman-hook:test"
	if _, err := s.api.ImportImage(ctx, img, f); err != nil {
		t.Fatal(err)
	}
	armed, err := s.api.CreateContainer(ctx, podmanapi.CreateSpec{Image: img, Command: []string{"true"},
		Annotations: map[string]string{"tkpodman.arm": "fail"}, NetNS: &podmanapi.Namespace{Mode: "none"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.api.StartContainer(ctx, armed.ID); err == nil {
		t.Fatal("a container whose hook fails started: hooks_dir is not honoured")
	}
	plain, err := s.api.CreateContainer(ctx, podmanapi.CreateSpec{Image: img, Command: []string{"true"}, NetNS: &podmanapi.Namespace{Mode: "none"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.api.StartContainer(ctx, plain.ID); err != nil {
		t.Fatalf("unarmed container: %v", err)
	}
	if code, err := s.api.WaitContainer(ctx, plain.ID); err != nil || code != 0 {
		t.Fatalf("unarmed container: %d %v", code, err)
	}
	for _, id := range []string{armed.ID, plain.ID} {
		_ = s.api.RemoveContainer(ctx, id, podmanapi.RemoveOptions{Force: true})
	}
}

// TestChildReplaced kills the `podman system service` child, then freezes
// the next one, and expects each replaced and the API answering again.
func TestChildReplaced(t *testing.T) {
	for _, tr := range tiers {
		t.Run(tr.name, func(t *testing.T) { testChildReplaced(t, tr) })
	}
}

func testChildReplaced(t *testing.T, tr tier) {
	e := newEnv(t, tr)
	cfg := filepath.Join(e.base, "ps.toml")
	os.WriteFile(cfg, []byte("probe_interval = \"1s\"\n"), 0o644)
	s := e.start("--config", cfg)
	ctx := ctxT(t, 3*time.Minute)
	first, err := s.status.Status(ctx)
	if err != nil || first.ChildPID == 0 {
		t.Fatal(first, err)
	}
	replaced := func(old int, what string) serviceapi.Status {
		deadline := time.Now().Add(90 * time.Second)
		for time.Now().Before(deadline) {
			st, err := s.status.Status(ctx)
			if err == nil && st.State == "ready" && st.ChildPID != 0 && st.ChildPID != old && st.APIAnswers {
				if _, err := s.api.Ping(ctx); err == nil {
					return st
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("child %d not replaced after %s\n%s", old, what, s.logs())
		return serviceapi.Status{}
	}
	if err := syscall.Kill(first.ChildPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	second := replaced(first.ChildPID, "SIGKILL")
	if second.Restarts < 1 {
		t.Fatalf("restarts not counted: %+v", second)
	}
	if err := syscall.Kill(second.ChildPID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	third := replaced(second.ChildPID, "SIGSTOP (hang)")
	if third.Restarts < 2 || !strings.Contains(s.logs(), "stopped answering") {
		t.Fatalf("hang not detected as such: %+v", third)
	}
}
