package mediaclient

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Post sends a form a plain net/http server reads with the standard
// library's multipart reader: the fields, the file part with its name and
// type, and a Content-Length that is exactly the body's length.
func TestPostSendsTheForm(t *testing.T) {
	file := bytes.Repeat([]byte("0123456789"), 100_000)
	type received struct {
		fields        map[string]string
		filename, typ string
		data          []byte
		declared      int64
		read          int64
		auth          string
	}
	got := make(chan received, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := received{fields: map[string]string{}, declared: r.ContentLength, auth: r.Header.Get("Authorization")}
		counted := &countingReader{r: r.Body}
		r.Body = io.NopCloser(counted)
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			b, _ := io.ReadAll(p)
			if p.FormName() == "data" {
				rec.filename, rec.typ, rec.data = p.FileName(), p.Header.Get("Content-Type"), b
			} else {
				rec.fields[p.FormName()] = string(b)
			}
		}
		io.Copy(io.Discard, counted)
		rec.read = counted.n
		got <- rec
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":"abc","mimeType":"text/plain","fileSize":1000000}`)
	}))
	defer srv.Close()

	var progress bytes.Buffer
	h := http.Header{}
	h.Set("Authorization", "Basic x")
	item, err := Post(context.Background(), srv.Client(), srv.URL+"/alice@example.com", h, Upload{
		Body: bytes.NewReader(file), Size: int64(len(file)), Filename: "notes.txt", ContentType: "text/plain",
		Title: "Notes", Progress: NewProgress(&progress, false, "notes.txt"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if item.ID != "abc" || item.FileSize != 1_000_000 || !strings.Contains(string(item.JSON), `"id":"abc"`) {
		t.Errorf("item %+v", item)
	}
	rec := <-got
	if !bytes.Equal(rec.data, file) || rec.filename != "notes.txt" || rec.typ != "text/plain" {
		t.Errorf("file part: %q, %q, %d bytes (equal: %v)", rec.filename, rec.typ, len(rec.data), bytes.Equal(rec.data, file))
	}
	if rec.fields["title"] != "Notes" || rec.fields["content-type"] != "text/plain" || rec.fields["filename"] != "notes.txt" {
		t.Errorf("fields %v", rec.fields)
	}
	if _, ok := rec.fields["description"]; ok {
		t.Errorf("an empty description was sent")
	}
	if rec.declared != rec.read {
		t.Errorf("Content-Length %d, body %d bytes", rec.declared, rec.read)
	}
	if rec.auth != "Basic x" {
		t.Errorf("Authorization %q", rec.auth)
	}
	if !strings.Contains(progress.String(), "notes.txt: 100%") {
		t.Errorf("progress %q", progress.String())
	}
}

// An error answer becomes an error carrying the status and the server's
// message.
func TestPostReportsRefusals(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		io.WriteString(w, `{"error":"file too large"}`)
	}))
	defer srv.Close()
	_, err := Post(context.Background(), srv.Client(), srv.URL+"/a@b", nil, Upload{
		Body: strings.NewReader("x"), Size: 1, Filename: "x", ContentType: "text/plain",
	})
	if err == nil || !strings.Contains(err.Error(), "413") || !strings.Contains(err.Error(), "file too large") {
		t.Fatalf("err = %v", err)
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}
