-- Media items and their stored previews. Times are Unix microseconds (UTC);
-- booleans are 0/1. The partial indexes repeat the predicates of the
-- queries in storage/sqlstore literally, so SQLite's planner uses them.
CREATE TABLE media (
	entity      TEXT    NOT NULL,
	id          TEXT    NOT NULL,
	author      TEXT    NOT NULL,
	file_name   TEXT    NOT NULL,
	title       TEXT    NOT NULL,
	description TEXT    NOT NULL,
	mime_type   TEXT    NOT NULL,
	extension   TEXT    NOT NULL,
	sha1        TEXT    NOT NULL,
	size        INTEGER NOT NULL,
	width       INTEGER NOT NULL,
	height      INTEGER NOT NULL,
	length_ms   INTEGER NOT NULL,
	uploaded    INTEGER NOT NULL,
	updated     INTEGER NOT NULL,
	avatar      INTEGER NOT NULL CHECK (avatar IN (0, 1)),
	blob_key    TEXT    NOT NULL,
	-- pending: begun but not committed; invisible to readers.
	pending     INTEGER NOT NULL CHECK (pending IN (0, 1)),
	begun       INTEGER NOT NULL,
	PRIMARY KEY (entity, id)
) STRICT;

-- A channel's list, newest first.
CREATE INDEX media_list ON media (entity, updated DESC, id DESC) WHERE NOT pending AND NOT avatar;
-- At most one current avatar per channel.
CREATE UNIQUE INDEX media_avatar ON media (entity) WHERE avatar AND NOT pending;
-- Intents left behind by a crash.
CREATE INDEX media_pending ON media (begun) WHERE pending;

CREATE TABLE previews (
	entity    TEXT    NOT NULL,
	media_id  TEXT    NOT NULL,
	width     INTEGER NOT NULL,
	height    INTEGER NOT NULL,
	mime_type TEXT    NOT NULL,
	size      INTEGER NOT NULL,
	blob_key  TEXT    NOT NULL,
	created   INTEGER NOT NULL,
	PRIMARY KEY (entity, media_id, width, height),
	FOREIGN KEY (entity, media_id) REFERENCES media (entity, id) ON DELETE CASCADE
) STRICT;
