package auth_test

import (
	"testing"

	"github.com/xmppmedia/mediaserver/auth"
)

func TestSourceOf(t *testing.T) {
	tests := []struct{ remote, want string }{
		{"192.0.2.7:4321", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:80", "192.0.2.7"},
		{"[2001:db8:1:2:aaaa::1]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff:ffff:ffff:ffff]:1", "2001:db8:1:2::/64"},
		{"[2001:db8:1:3::1]:443", "2001:db8:1:3::/64"},
		{"[fe80::1%eth0]:80", "fe80::/64"},
		{"not an address", "not an address"},
	}
	for _, tt := range tests {
		if got := auth.SourceOf(tt.remote); got != tt.want {
			t.Errorf("SourceOf(%q) = %q, want %q", tt.remote, got, tt.want)
		}
	}
}
