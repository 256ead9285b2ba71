package xmppauth_test

import (
	"strings"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth/xmppauth"
)

func TestConfigValidate(t *testing.T) {
	good := xmppauth.Config{ComponentJID: "media.example.com", Secret: "s", ServerAddr: "127.0.0.1:5347"}
	tests := []struct {
		name   string
		change func(*xmppauth.Config)
		want   string // "" for valid
	}{
		{"minimal", func(*xmppauth.Config) {}, ""},
		{"everything", func(c *xmppauth.Config) {
			c.ChannelServer, c.PublicURL, c.ReplyTimeout = "channels.example.com", "https://media.example.com", 5*time.Second
		}, ""},
		{"no component JID", func(c *xmppauth.Config) { c.ComponentJID = "" }, "component_jid"},
		{"component JID with localpart", func(c *xmppauth.Config) { c.ComponentJID = "a@media.example.com" }, "bare domain"},
		{"component JID with resource", func(c *xmppauth.Config) { c.ComponentJID = "media.example.com/x" }, "bare domain"},
		{"no secret", func(c *xmppauth.Config) { c.Secret = "" }, "component_secret"},
		{"server address without port", func(c *xmppauth.Config) { c.ServerAddr = "localhost" }, "server_addr"},
		{"bad channel server", func(c *xmppauth.Config) { c.ChannelServer = "@@" }, "channel_server"},
		{"relative public URL", func(c *xmppauth.Config) { c.PublicURL = "/media" }, "public_url"},
		{"ftp public URL", func(c *xmppauth.Config) { c.PublicURL = "ftp://media.example.com" }, "public_url"},
		// The same rule as mediasvc's and the clients' (xmppwire.CheckEndpoint):
		// paths are appended to it, so a query would end up in the middle.
		{"public URL with a query", func(c *xmppauth.Config) { c.PublicURL = "https://media.example.com/?a=b" }, "public_url"},
		{"negative timeout", func(c *xmppauth.Config) { c.ReplyTimeout = -time.Second }, "reply_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.change(&cfg)
			err := cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate = %v, want nil", err)
				}
				if _, err := xmppauth.New(cfg, nil); err != nil {
					t.Errorf("New = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v, want an error about %s", err, tt.want)
			}
			if _, err := xmppauth.New(cfg, nil); err == nil {
				t.Error("New accepted an invalid config")
			}
		})
	}
}
