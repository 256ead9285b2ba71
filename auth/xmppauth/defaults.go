package xmppauth

// DefaultConfig matches the xmpp.* defaults of CONFIG.md. It has no
// secret: one must be given (Validate says so).
func DefaultConfig() Config {
	return Config{
		ComponentJID: "media.localhost",
		ServerAddr:   "127.0.0.1:5347",
		ReplyTimeout: DefaultReplyTimeout,
		KeepAlive:    DefaultKeepAlive,
	}
}
