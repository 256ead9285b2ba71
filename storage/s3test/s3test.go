// Package s3test starts a real S3 server for tests: the Versity S3 Gateway
// (versitygw) serving a temporary directory on a free 127.0.0.1 port.
//
// The gateway binary is found on PATH or in $(go env GOPATH)/bin; install it
// with
//
//	go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
//
// A test that cannot find or start it fails: it is a real dependency, not
// an optional one.
package s3test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/xmppmedia/mediaserver/internal/ports"
	"github.com/xmppmedia/mediaserver/storage/s3store"
)

const (
	accessKey = "s3test-access"
	secretKey = "s3test-secret-0123456789"
	// Bucket is the bucket Start creates.
	Bucket = "media"
	// readyTimeout bounds how long a start may take before the test fails.
	readyTimeout = 20 * time.Second
)

// Server is a running versitygw. Stop may be called from any goroutine.
type Server struct {
	// Config reaches Bucket on this server with short timeouts suited to
	// tests. Copy it and change Prefix or Bucket as needed.
	Config s3store.Config

	t    testing.TB
	bin  string
	dir  string // holds root/ (the served directory) and the log
	addr string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has exited
	buckets atomic.Int64
}

// Start starts a gateway with one empty bucket and returns a Config for it.
// The gateway stops when the test ends.
func Start(t testing.TB) s3store.Config {
	t.Helper()
	return StartServer(t).Config
}

// StartServer is Start for tests that also need to stop and restart the
// server, or to look at what it holds.
func StartServer(t testing.TB) *Server {
	t.Helper()
	bin, err := findBinary()
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "root", Bucket), 0o755); err != nil {
		t.Fatalf("s3test: create bucket directory: %v", err)
	}
	s := &Server{t: t, bin: bin, dir: dir}
	t.Cleanup(s.Stop)

	// The port is free when chosen but could be taken before the gateway
	// binds it; try a few.
	for attempt := 1; ; attempt++ {
		free, err := ports.Free(1)
		if err != nil {
			t.Fatalf("s3test: %v", err)
		}
		s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(free[0]))
		err = s.start()
		if err == nil {
			break
		}
		if attempt == 3 {
			t.Fatalf("s3test: %v", err)
		}
	}
	s.Config = s3store.Config{
		Bucket:          Bucket,
		Region:          "us-east-1",
		Endpoint:        "http://" + s.addr,
		PathStyle:       true,
		AccessKeyID:     accessKey,
		SecretAccessKey: secretKey,
		RequestTimeout:  5 * time.Second,
		MaxAttempts:     3,
	}
	return s
}

// NewBucket creates another empty bucket on the server and returns a Config
// for it: cheaper than a server per test.
func (s *Server) NewBucket(t testing.TB) s3store.Config {
	t.Helper()
	name := fmt.Sprintf("bucket-%d", s.buckets.Add(1))
	if _, err := s.client().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("s3test: create bucket %s: %v", name, err)
	}
	cfg := s.Config
	cfg.Bucket = name
	return cfg
}

// Stop kills the gateway at once, as an outage would: requests in flight
// fail and new connections are refused. Stopping a stopped server does
// nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

// Restart starts the gateway again on the same address and directory,
// stopping it first if it runs, and waits until it answers. It fails the
// test if the gateway does not come back, so call it from the test's own
// goroutine.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
	if err := s.startLocked(); err != nil {
		s.t.Fatalf("s3test: restart: %v", err)
	}
}

// Objects lists the keys of all objects in bucket (under any prefix), as
// any S3 client would see them.
func (s *Server) Objects(t testing.TB, bucket string) []string {
	t.Helper()
	var keys []string
	pages := s3.NewListObjectsV2Paginator(s.client(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			t.Fatalf("s3test: list objects in %s: %v", bucket, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// Uploads lists the keys of unfinished multipart uploads in bucket: parts
// uploaded but neither completed nor aborted.
func (s *Server) Uploads(t testing.TB, bucket string) []string {
	t.Helper()
	var keys []string
	pages := s3.NewListMultipartUploadsPaginator(s.client(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			t.Fatalf("s3test: list multipart uploads in %s: %v", bucket, err)
		}
		for _, u := range page.Uploads {
			keys = append(keys, aws.ToString(u.Key))
		}
	}
	return keys
}

// client is a plain S3 client for the server, independent of s3store so
// that tests check the store against what S3 itself reports.
func (s *Server) client() *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://" + s.addr),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
	})
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.startLocked()
}

func (s *Server) startLocked() error {
	logPath := filepath.Join(s.dir, "versitygw.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open gateway log: %w", err)
	}
	defer logFile.Close() // the child has its own copy
	cmd := exec.Command(s.bin,
		"--access", accessKey, "--secret", secretKey,
		"--port", s.addr, "--quiet",
		"posix", filepath.Join(s.dir, "root"))
	// Only what we pass: the gateway reads many VGW_* variables.
	cmd.Env = []string{"HOME=" + s.dir}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited

	if err := waitReady(s.addr, exited); err != nil {
		s.stopLocked()
		return fmt.Errorf("gateway on %s: %w; log:\n%s", s.addr, err, tail(logPath))
	}
	return nil
}

func (s *Server) stopLocked() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd, s.exited = nil, nil
}

// waitReady polls until the gateway answers HTTP (any status: unsigned
// requests are refused with 403) or exits.
func waitReady(addr string, exited <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(readyTimeout)
	for {
		resp, err := client.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-exited:
			return errors.New("exited before answering")
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not answering after %v: %w", readyTimeout, err)
		}
	}
}

func findBinary() (string, error) {
	if path, err := exec.LookPath("versitygw"); err == nil {
		return path, nil
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			path := filepath.Join(dir, "bin", "versitygw")
			if info, err := os.Stat(path); err == nil && !info.IsDir() {
				return path, nil
			}
		}
	}
	return "", errors.New("versitygw not found on PATH or in $(go env GOPATH)/bin; " +
		"install it: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0")
}

// tail is the end of a log file, for failure messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}
