package mediasvc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serveWithTimeouts runs the API behind the real http.Server the binary
// uses, on a loopback port.
func serveWithTimeouts(t *testing.T, e *env, to Timeouts) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := e.srv.HTTPServer(to)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// closedWithin reports whether the server closes conn within d: an EOF,
// or a reset when the server closed with our bytes unread. Only our own
// read deadline passing means it kept the connection.
func closedWithin(conn net.Conn, d time.Duration) bool {
	conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, conn)
	return err == nil || errors.Is(err, syscall.ECONNRESET)
}

func TestSlowlorisHeadersCutOff(t *testing.T) {
	e := newEnv(t)
	addr := serveWithTimeouts(t, e, Timeouts{ReadHeader: 500 * time.Millisecond, BodyIdle: time.Second, WriteIdle: time.Second, Idle: time.Second})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	// Trickle a header line a byte at a time, never finishing the headers.
	go func() {
		for _, c := range []byte("GET /" + openChan + " HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") {
			if _, err := conn.Write([]byte{c}); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	if !closedWithin(conn, 5*time.Second) {
		t.Fatal("a client trickling headers kept its connection for 5 s")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("cut off after %v, want about the 500 ms header timeout", d)
	}
}

func TestStalledUploadCutOff(t *testing.T) {
	e := newEnv(t)
	addr := serveWithTimeouts(t, e, Timeouts{ReadHeader: time.Second, BodyIdle: 500 * time.Millisecond, WriteIdle: time.Second, Idle: time.Second})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := "--b\r\nContent-Disposition: form-data; name=\"content-type\"\r\n\r\ntext/plain\r\n--b\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n" + strings.Repeat("x", 100_000)
	fmt.Fprintf(conn, "POST /%s HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: %d\r\n\r\n%s",
		privateChan, cred(alice), len(body)+10_000_000, body)
	// ...and then nothing more: the server must give up on the body.
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Fatalf("stalled upload answered %d", resp.StatusCode)
		}
	} else if !closedWithin(conn, time.Second) {
		t.Fatalf("stalled upload kept the connection: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("stalled body cut off after %v, want about 500 ms", d)
	}
	deadline := time.Now().Add(3 * time.Second)
	for len(e.blobFiles())+len(tempFiles(e.root)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(e.blobFiles()); n != 0 {
		t.Fatalf("stalled upload left %d files", n)
	}
}

func TestClientDisconnectMidUpload(t *testing.T) {
	e := newEnv(t)
	addr := serveWithTimeouts(t, e, DefaultTimeouts())
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	body := "--b\r\nContent-Disposition: form-data; name=\"content-type\"\r\n\r\ntext/plain\r\n--b\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n" + strings.Repeat("x", 1<<20)
	fmt.Fprintf(conn, "POST /%s HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: %d\r\n\r\n%s",
		privateChan, cred(alice), len(body)+10_000_000, body)
	deadline := time.Now().Add(10 * time.Second)
	for len(tempFiles(e.root)) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if len(tempFiles(e.root)) == 0 {
		// Without a spooled part the test below would prove nothing.
		t.Fatal("the upload never reached the store: no temp file appeared")
	}
	conn.Close() // the phone lost its signal
	for len(e.blobFiles())+len(tempFiles(e.root)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(e.blobFiles()) + len(tempFiles(e.root)); n != 0 {
		t.Fatalf("a disconnected upload left %d files", n)
	}
	resp, b := e.do("GET", "/"+privateChan, alice, nil, nil)
	if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != "[]" {
		t.Fatalf("disconnected upload is listed: %s", b)
	}
	// The pending record is aborted just after the files are removed.
	pendingLeft := func() int {
		pending, err := e.srv.meta.Pending(t.Context(), time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return len(pending)
	}
	for pendingLeft() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := pendingLeft(); n != 0 {
		t.Fatalf("%d pending records left", n)
	}
}

func TestUploadSlotsFullIs503(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxConcurrentUploads = 1 })
	addr := serveWithTimeouts(t, e, DefaultTimeouts())
	// Hold the only slot with an upload that has not finished.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /%s HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n--b\r\n",
		privateChan, cred(alice))
	deadline := time.Now().Add(5 * time.Second)
	for len(e.srv.uploads) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	status, _ := e.upload("/"+privateChan, alice, []byte("x"), "text/plain")
	if status != http.StatusServiceUnavailable {
		t.Fatalf("upload with all slots busy: %d, want 503", status)
	}
}
