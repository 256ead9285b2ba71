-- Prosody (0.12+) configuration for the media server.
--
-- Copy this file to /etc/prosody/conf.d/mediaserver.cfg.lua (Debian's
-- prosody.cfg.lua includes conf.d/*.cfg.lua), replace example.com with your
-- domain and the secret with a long random one (openssl rand -hex 24), then
--   prosodyctl check config && systemctl reload prosody
--
-- The media server connects to Prosody's external component port (XEP-0114,
-- 5347), which Prosody opens on the loopback interface only: right when both
-- run on one host. If the media server runs elsewhere, set in the global
-- section of prosody.cfg.lua a private address only, and firewall the port:
--   component_interfaces = { "10.0.0.5" }
--
-- mediaserver.yaml then says:
--   xmpp:
--     component_jid: "media.example.com"
--     component_secret: (the secret below; better MEDIASERVER_XMPP_COMPONENT_SECRET)
--     server_addr: "127.0.0.1:5347"
--     channel_server: "channels.example.com"

-- The users' accounts. You have this host already; declaring it again here
-- is harmless (Prosody merges the declarations).
VirtualHost "example.com"

-- The media server itself: asks users to confirm requests (XEP-0070),
-- answers disco#info with the API endpoint (http.public_url), and is the
-- domain's XEP-0363 upload service (upload.enabled, on by default) that
-- Conversations, Dino, Gajim, Monal and Movim share files through.
-- Prosody lists a component that is a subdomain of the VirtualHost in the
-- host's disco#items by itself, which is how those clients find it: no
-- disco_items entry is needed. Do not also load mod_http_file_share (or
-- the older mod_http_upload) for this host: a client takes the first
-- upload service it finds (docs/operations.md).
Component "media.example.com"
	component_secret = "change-me-to-a-long-random-secret"

-- The channel server: a pubsub service holding each channel's posts node,
-- /user/alice@example.com/posts. The media component must be a pubsub admin
-- here, so it may read every node's affiliation list and configuration
-- (pubsub#owner); without that, private channels answer 503 and nothing is
-- ever granted by mistake.
--
-- Prosody's pubsub announces itself as pubsub/service, not pubsub/channels,
-- so the media server cannot discover it: set xmpp.channel_server as above.
-- Only admins may create nodes in Prosody's pubsub; add the account that
-- provisions channels to admins as well (e.g. "provisioner@example.com").
Component "channels.example.com" "pubsub"
	admins = { "media.example.com" }
