-- Files attached to an event (a map, the drill's handout): kept under the data directory as
-- attachments/events/<department>/<id> (so backups carry them), described here. The type is the
-- one read from the file's own bytes, never the name's or the browser's.
CREATE TABLE event_attachments (
    id              BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id BINARY(16)   NOT NULL,
    event_id        BINARY(16)   NOT NULL,
    file_name       VARCHAR(200) NOT NULL,
    content_type    VARCHAR(100) NOT NULL,
    size_bytes      INT UNSIGNED NOT NULL,
    sha256          BINARY(32)   NOT NULL,
    uploaded_by     BINARY(16)   NULL,
    created_at      DATETIME(6)  NOT NULL,
    UNIQUE KEY uq_event_attachments_org_id (organization_id, id),
    KEY ix_event_attachments_event (organization_id, event_id, created_at),
    CONSTRAINT fk_event_attachments_event FOREIGN KEY (organization_id, event_id)
        REFERENCES events (organization_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
