package ports

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"
)

func TestWait(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// A port nobody listens on: one taken and released.
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := gone.Addr().String()
	gone.Close()

	ctx := context.Background()
	if err := Wait(ctx, nil, ln.Addr().String()); err != nil {
		t.Errorf("open port: %v", err)
	}

	exited := make(chan struct{})
	close(exited)
	if err := Wait(ctx, exited, ln.Addr().String(), closedAddr); !errors.Is(err, ErrExited) {
		t.Errorf("process gone, port closed: %v, want ErrExited", err)
	}

	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := Wait(short, nil, closedAddr); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("port never opens: %v, want the context's deadline", err)
	}

	// A port that opens later is waited for.
	later, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := later.Addr().String()
	later.Close()
	opened := make(chan net.Listener, 1)
	go func() {
		time.Sleep(100 * time.Millisecond)
		ln2, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("listen again on %s: %v", addr, err)
		}
		opened <- ln2
	}()
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := Wait(wctx, nil, addr); err != nil {
		t.Errorf("port opened after 100 ms: %v", err)
	}
	if ln2 := <-opened; ln2 != nil {
		ln2.Close()
	}
}

func TestFree(t *testing.T) {
	got, err := Free(3)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range got {
		if p <= 0 || seen[p] {
			t.Fatalf("ports %v: want 3 distinct", got)
		}
		seen[p] = true
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("port %d is not free: %v", p, err)
		}
		ln.Close()
	}
}
