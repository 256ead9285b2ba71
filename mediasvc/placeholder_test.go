package mediasvc

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
)

// TestUploadCarriesPlaceholder: an image's JSON carries its placeholder
// (the ThumbHash the previews' decode yields, in every response that shows
// the item), a file that is not an image has no placeholder key.
func TestUploadCarriesPlaceholder(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name      string
		data      []byte
		mime      string
		landscape bool
	}{
		{"landscape JPEG", jpegImage(t, 400, 300), "image/jpeg", true},
		{"portrait PNG with alpha", pngImage(t, 120, 200, true), "image/png", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := e.mustUpload(privateChan, bob, tc.data, tc.mime)
			hash, err := base64.StdEncoding.DecodeString(m.Placeholder)
			if err != nil || len(hash) < 5 || len(hash) > 40 {
				t.Fatalf("placeholder %q: %d bytes, %v", m.Placeholder, len(hash), err)
			}
			// The format's header says the picture's orientation.
			if got := hash[4]&0x80 != 0; got != tc.landscape {
				t.Errorf("placeholder says landscape=%v", got)
			}
			_, want, err := e.srv.images.PreviewsAndPlaceholder(context.Background(), bytes.NewReader(tc.data), int64(len(tc.data)), e.srv.upload)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(hash, want) {
				t.Errorf("placeholder %x, the transform gives %x", hash, want)
			}
			resp, body := e.do("GET", "/"+privateChan+"/"+m.ID+"/metadata", carol, nil, nil)
			var meta mediaJSON
			if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &meta) != nil || meta.Placeholder != m.Placeholder {
				t.Errorf("metadata: %d %s", resp.StatusCode, body)
			}
			resp, body = e.do("GET", "/"+privateChan, carol, nil, nil)
			var list []mediaJSON
			if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list) == 0 || list[0].Placeholder != m.Placeholder {
				t.Errorf("list: %d %s", resp.StatusCode, body)
			}
		})
	}

	status, m := e.upload("/"+privateChan, bob, []byte("just text\n"), "text/plain")
	if status != http.StatusCreated {
		t.Fatalf("text upload: %d", status)
	}
	_, body := e.do("GET", "/"+privateChan+"/"+m.ID+"/metadata", carol, nil, nil)
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw["placeholder"]; ok {
		t.Errorf("a text file's JSON has a placeholder: %s", body)
	}
}
