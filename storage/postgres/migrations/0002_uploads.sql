-- XEP-0363 uploads: quotas sum an author's items of the service's entity,
-- expiry walks them oldest first, and secrets shared by every server of
-- one database (the key that signs upload URLs) live in their own table.
CREATE INDEX media_author ON media (entity, author, uploaded);
CREATE INDEX media_uploaded ON media (entity, uploaded) WHERE NOT pending;

CREATE TABLE secrets (
	name  text COLLATE "C" NOT NULL PRIMARY KEY,
	value text NOT NULL
);
