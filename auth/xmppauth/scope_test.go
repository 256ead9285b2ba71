package xmppauth_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/xmppclient"
)

// onlyReads is a user's client that accepts questions about GET and
// ignores every other one, as a person who made only a read would.
func onlyReads(req auth.ConfirmRequest) xmppclient.Answer {
	if req.Method == http.MethodGet || req.Method == http.MethodHead {
		return xmppclient.Accept
	}
	return xmppclient.Ignore
}

// A confirmed read is no bearer token: through the confirmation cache and
// the real component, a user who accepts only reads confirms a GET, and a
// DELETE or an upload with the same auth value is then asked about (and,
// unanswered, denied).
func TestConfirmedReadDoesNotCoverWrites(t *testing.T) {
	t.Parallel() // mostly waiting for timeouts
	ctx := testContext(t)
	client, rec := newUser(t, stack.srv, "reader", xmppclient.Ignore)
	rec.decide = onlyReads
	cached := auth.NewConfirmCache(stack.short, time.Minute)
	channel := bare("scoped@localhost")
	ask := func(method, url string) error {
		return cached.Confirm(ctx, auth.ConfirmRequest{JID: client.JID(), TransactionID: "one-value", Method: method, URL: url, Channel: channel})
	}
	if err := ask(http.MethodGet, "https://m/scoped@localhost/item"); err != nil {
		t.Fatalf("GET: %v", err)
	}
	for _, tt := range []struct{ method, url string }{
		{http.MethodDelete, "https://m/scoped@localhost/item"},
		{http.MethodPost, "https://m/scoped@localhost"},
		{http.MethodPut, "https://m/scoped@localhost/avatar"},
	} {
		before := len(rec.Asked())
		if err := ask(tt.method, tt.url); !errors.Is(err, auth.ErrDenied) {
			t.Errorf("%s with the auth value of a confirmed GET: %v, want ErrDenied", tt.method, err)
		}
		if asked := rec.Asked()[before:]; len(asked) != 1 || asked[0].Method != tt.method || asked[0].URL != tt.url {
			t.Errorf("%s: the user was asked %+v, want exactly that request", tt.method, asked)
		}
	}
	// Another read of the same channel is covered.
	before := len(rec.Asked())
	if err := ask(http.MethodHead, "https://m/scoped@localhost/other"); err != nil || len(rec.Asked()) != before {
		t.Errorf("HEAD of the same channel: %v after %d more questions, want remembered", err, len(rec.Asked())-before)
	}
}

// A DELETE sent while a GET with the same auth value is still being asked
// about gets its own question: the user's accept of the GET (which echoes
// the GET's method and URL) does not answer it.
func TestAcceptOfOneQuestionAnswersOnlyIt(t *testing.T) {
	t.Parallel() // mostly waiting for timeouts
	ctx := testContext(t)
	client, rec := newUser(t, stack.srv, "racer", xmppclient.Ignore)
	deleteAsked := make(chan struct{})
	var once sync.Once
	rec.decide = func(req auth.ConfirmRequest) xmppclient.Answer {
		if req.Method == http.MethodDelete {
			once.Do(func() { close(deleteAsked) })
			return xmppclient.Ignore
		}
		// Answer the GET only once both questions are open.
		select {
		case <-deleteAsked:
		case <-time.After(5 * time.Second):
		}
		return xmppclient.Accept
	}
	cached := auth.NewConfirmCache(stack.short, time.Minute)
	channel := bare("raced@localhost")
	var wg sync.WaitGroup
	var getErr, delErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		getErr = cached.Confirm(ctx, auth.ConfirmRequest{JID: client.JID(), TransactionID: "same", Method: http.MethodGet, URL: "https://m/raced@localhost/i", Channel: channel})
	}()
	go func() {
		defer wg.Done()
		delErr = cached.Confirm(context.WithoutCancel(ctx), auth.ConfirmRequest{JID: client.JID(), TransactionID: "same", Method: http.MethodDelete, URL: "https://m/raced@localhost/i", Channel: channel})
	}()
	wg.Wait()
	if getErr != nil {
		t.Errorf("GET: %v", getErr)
	}
	if !errors.Is(delErr, auth.ErrDenied) {
		t.Errorf("DELETE asked while the GET was open: %v, want ErrDenied", delErr)
	}
}
