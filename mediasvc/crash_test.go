package mediasvc

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The crash tests run a real server in a child process (this test binary
// re-executed) and kill it at a chosen moment of an upload; then a fresh
// server on the same directory must show no half item and clean up.

const crashEnvVar = "MEDIASVC_CRASH_CHILD"

func TestMain(m *testing.M) {
	if stage := os.Getenv(crashEnvVar); stage != "" {
		crashChild(stage, os.Getenv("MEDIASVC_CRASH_DIR"))
		return
	}
	os.Exit(m.Run())
}

// crashChild serves on a free port, prints its address, and, for stage
// "after-blob", exits the moment an upload's blob is durable but before
// its metadata is committed.
func crashChild(stage, dir string) {
	t := &testing.T{}
	e := &env{t: t, root: filepath.Join(dir, "media"), dbPath: filepath.Join(dir, "media.db")}
	e.channels, e.confirm = newFixtureAuth()
	srv := e.newServer(DefaultConfig())
	srv.slots = crashSlots(srv.meta.Metadata) // xep0363_crash_test.go
	if stage == "after-blob" {
		srv.hookBlobWritten = func() { os.Exit(3) }
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.Exit(2)
	}
	fmt.Println(ln.Addr().String())
	http.Serve(ln, srv.Handler())
}

func startCrashChild(t *testing.T, stage, dir string) (*exec.Cmd, string) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnvVar+"="+stage, "MEDIASVC_CRASH_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("child did not start: %v", err)
	}
	return cmd, "http://" + strings.TrimSpace(addr)
}

func tempFiles(root string) []string {
	var out []string
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasPrefix(info.Name(), ".tmp-") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestCrashMidUpload(t *testing.T) {
	dir := t.TempDir()
	cmd, base := startCrashChild(t, "serve", dir)

	pr, pw := io.Pipe()
	body, ct := multipartBody(t, part{name: "content-type", value: "application/octet-stream"}, part{name: "data", file: make([]byte, 8<<20)})
	go func() {
		io.CopyN(pw, body, 2<<20) // part of the body, then the server dies
	}()
	req, _ := http.NewRequest("POST", base+"/"+privateChan, pr)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Basic "+cred(alice))
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("upload answered %d", resp.StatusCode)
		}
		done <- err
	}()
	root := filepath.Join(dir, "media")
	deadline := time.Now().Add(20 * time.Second)
	for len(tempFiles(root)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the upload never reached the blob store")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	pw.CloseWithError(io.ErrClosedPipe)
	if err := <-done; err == nil || strings.Contains(err.Error(), "answered 201") {
		t.Fatalf("client got %v for an upload cut by a crash", err)
	}
	if len(tempFiles(root)) == 0 {
		t.Fatal("expected the crash to leave a temporary file")
	}
	assertRecovered(t, dir, 1)
}

func TestCrashBetweenBlobAndCommit(t *testing.T) {
	dir := t.TempDir()
	_, base := startCrashChild(t, "after-blob", dir)
	body, ct := multipartBody(t, part{name: "content-type", value: "text/plain"}, part{name: "data", file: []byte("durable blob, no record")})
	req, _ := http.NewRequest("POST", base+"/"+privateChan, body)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Basic "+cred(alice))
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("upload answered %d though the server died before committing", resp.StatusCode)
	}
	assertRecovered(t, dir, 0)
}

// assertRecovered opens a fresh server on dir: before recovery nothing is
// listed; recovery removes temporary files and the uncommitted upload and
// its blob; afterwards uploads work.
func assertRecovered(t *testing.T, dir string, wantTemp int) {
	t.Helper()
	e := &env{t: t, root: filepath.Join(dir, "media"), dbPath: filepath.Join(dir, "media.db")}
	e.channels, e.confirm = newFixtureAuth()
	cfg := DefaultConfig()
	cfg.AbandonAfter = 0 // a single server: every pending upload is abandoned
	srv := e.newServer(cfg)
	items, err := srv.meta.List(context.Background(), privateChan, pageAll)
	if err != nil || len(items) != 0 {
		t.Fatalf("after the crash %d items are listed (%v)", len(items), err)
	}
	st, err := srv.Recover(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Uploads != 1 || st.TempFiles < wantTemp {
		t.Fatalf("Recover = %+v, want 1 upload and >= %d temp files", st, wantTemp)
	}
	if files := e.blobFiles(); len(files) != 0 {
		t.Fatalf("files left after recovery: %v", files)
	}
	if pending, _ := srv.meta.Pending(context.Background(), time.Now().Add(time.Hour)); len(pending) != 0 {
		t.Fatalf("%d pending uploads left", len(pending))
	}
	e.srv = srv
	e.http = httptestServer(t, srv)
	e.mustUpload(privateChan, alice, []byte("after recovery"), "text/plain")
}
