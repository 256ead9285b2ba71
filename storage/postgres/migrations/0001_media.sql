-- Media items and their stored previews. Identifiers compare bytewise
-- (COLLATE "C") so that the ID tie-break of a list is the same as SQLite's
-- whatever the database's locale. The partial indexes repeat the predicates
-- of the queries in storage/sqlstore.
CREATE TABLE media (
	entity      text COLLATE "C" NOT NULL,
	id          text COLLATE "C" NOT NULL,
	author      text        NOT NULL,
	file_name   text        NOT NULL,
	title       text        NOT NULL,
	description text        NOT NULL,
	mime_type   text        NOT NULL,
	extension   text        NOT NULL,
	sha1        text        NOT NULL,
	size        bigint      NOT NULL,
	width       integer     NOT NULL,
	height      integer     NOT NULL,
	length_ms   bigint      NOT NULL,
	uploaded    timestamptz NOT NULL,
	updated     timestamptz NOT NULL,
	avatar      boolean     NOT NULL,
	blob_key    text        NOT NULL,
	-- pending: begun but not committed; invisible to readers.
	pending     boolean     NOT NULL,
	begun       timestamptz NOT NULL,
	PRIMARY KEY (entity, id)
);

-- A channel's list, newest first.
CREATE INDEX media_list ON media (entity, updated DESC, id DESC) WHERE NOT pending AND NOT avatar;
-- At most one current avatar per channel.
CREATE UNIQUE INDEX media_avatar ON media (entity) WHERE avatar AND NOT pending;
-- Intents left behind by a crash.
CREATE INDEX media_pending ON media (begun) WHERE pending;

CREATE TABLE previews (
	entity    text COLLATE "C" NOT NULL,
	media_id  text COLLATE "C" NOT NULL,
	width     integer     NOT NULL,
	height    integer     NOT NULL,
	mime_type text        NOT NULL,
	size      bigint      NOT NULL,
	blob_key  text        NOT NULL,
	created   timestamptz NOT NULL,
	PRIMARY KEY (entity, media_id, width, height),
	FOREIGN KEY (entity, media_id) REFERENCES media (entity, id) ON DELETE CASCADE
);
