package configs

import (
	"strings"
	"testing"
)

// The upload.* keys load onto httpupload.Config, and a component JID from
// which no default upload domain follows is refused before serve would.
func TestUploadKeys(t *testing.T) {
	cfg, err := Load("", []string{
		"MEDIASERVER_UPLOAD_DOMAINS=example.org, example.net",
		"MEDIASERVER_UPLOAD_MAX_FILE_SIZE=1000",
		"MEDIASERVER_UPLOAD_QUOTA_USER_DAILY_BYTES=5000",
		"MEDIASERVER_UPLOAD_EXPIRE_AFTER=720h",
		"MEDIASERVER_XMPP_COMPONENT_SECRET=s",
	})
	if err != nil {
		t.Fatal(err)
	}
	u := cfg.Upload
	if !u.Enabled || len(u.Domains) != 2 || u.Domains[1] != "example.net" || u.MaxFileSize != 1000 ||
		u.Quota.UserDailyBytes != 5000 || u.ExpireAfter.Hours() != 720 {
		t.Fatalf("upload config %+v", u)
	}
	for _, tc := range []struct {
		env  []string
		want string // "" for valid
	}{
		{[]string{"MEDIASERVER_XMPP_COMPONENT_JID=media"}, "upload.domains"},
		{[]string{"MEDIASERVER_XMPP_COMPONENT_JID=media", "MEDIASERVER_UPLOAD_DOMAINS=example.org"}, ""},
		{[]string{"MEDIASERVER_XMPP_COMPONENT_JID=media", "MEDIASERVER_UPLOAD_ENABLED=false"}, ""},
		{[]string{"MEDIASERVER_UPLOAD_SLOT_TTL=0s"}, "upload.slot_ttl"},
		{[]string{"MEDIASERVER_UPLOAD_SECRET=short"}, "upload.secret"},
	} {
		_, err := Load("", append(tc.env, "MEDIASERVER_XMPP_COMPONENT_SECRET=s"))
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%v: %v, want %q", tc.env, err, tc.want)
		}
	}
}
