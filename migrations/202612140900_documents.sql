-- Documents (reference/features.md §1.9): the department's library. Folders with a visibility
-- (the system folders, folders officers add, one private folder per member), documents with
-- versions whose bytes live under <data_dir>/documents/<department>/<version id>.

CREATE TABLE document_folders (
    id              BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id BINARY(16)   NOT NULL,
    name            VARCHAR(120) NOT NULL,
    description     VARCHAR(500) NULL,
    -- One of the system folders (minutes, sops, policies, forms, reports, training, general);
    -- NULL for a folder officers added or a member's own.
    system_key      VARCHAR(20)  NULL,
    -- everyone | leadership | owner | roles
    visibility      VARCHAR(16)  NOT NULL,
    -- The member whose own folder this is.
    owner_user_id   BINARY(16)   NULL,
    -- The name, unique among the department's shared folders (members' own folders all share
    -- one name).
    shared_name     VARCHAR(120) AS (IF(owner_user_id IS NULL, name, NULL)) PERSISTENT,
    created_by      BINARY(16)   NULL,
    created_at      DATETIME(6)  NOT NULL,
    updated_at      DATETIME(6)  NOT NULL,
    UNIQUE KEY uq_document_folders_system (organization_id, system_key),
    UNIQUE KEY uq_document_folders_owner (organization_id, owner_user_id),
    UNIQUE KEY uq_document_folders_name (organization_id, shared_name),
    CONSTRAINT fk_document_folders_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT fk_document_folders_owner FOREIGN KEY (owner_user_id) REFERENCES users (id),
    CONSTRAINT fk_document_folders_created_by FOREIGN KEY (created_by) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The roles that see a folder whose visibility is `roles`.
CREATE TABLE document_folder_roles (
    folder_id       BINARY(16) NOT NULL,
    role_id         BINARY(16) NOT NULL,
    organization_id BINARY(16) NOT NULL,
    PRIMARY KEY (folder_id, role_id),
    KEY ix_document_folder_roles_role (role_id),
    CONSTRAINT fk_document_folder_roles_folder FOREIGN KEY (folder_id) REFERENCES document_folders (id),
    CONSTRAINT fk_document_folder_roles_role FOREIGN KEY (role_id) REFERENCES roles (id) ON DELETE CASCADE,
    CONSTRAINT fk_document_folder_roles_org FOREIGN KEY (organization_id) REFERENCES organizations (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE documents (
    id              BINARY(16)    NOT NULL PRIMARY KEY,
    organization_id BINARY(16)    NOT NULL,
    folder_id       BINARY(16)    NOT NULL,
    name            VARCHAR(200)  NOT NULL,
    description     VARCHAR(1000) NULL,
    -- Lower-case tags joined by commas ("sop,ladders"), for FIND_IN_SET.
    tags            VARCHAR(500)  NOT NULL DEFAULT '',
    -- active | archived
    status          VARCHAR(16)   NOT NULL,
    -- uploaded | generated (made by Logbook, e.g. published minutes)
    document_type   VARCHAR(16)   NOT NULL,
    -- What the document belongs to, when another module made or attached it.
    source_type     VARCHAR(40)   NULL,
    source_id       BINARY(16)    NULL,
    current_version INT UNSIGNED  NOT NULL,
    created_by      BINARY(16)    NULL,
    created_at      DATETIME(6)   NOT NULL,
    updated_at      DATETIME(6)   NOT NULL,
    archived_at     DATETIME(6)   NULL,
    archived_by     BINARY(16)    NULL,
    KEY ix_documents_folder (organization_id, folder_id, status, name),
    KEY ix_documents_name (organization_id, status, name),
    KEY ix_documents_source (organization_id, source_type, source_id),
    CONSTRAINT fk_documents_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT fk_documents_folder FOREIGN KEY (folder_id) REFERENCES document_folders (id),
    CONSTRAINT fk_documents_created_by FOREIGN KEY (created_by) REFERENCES users (id),
    CONSTRAINT fk_documents_archived_by FOREIGN KEY (archived_by) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Each upload of a document; the newest is the document's `current_version`.
CREATE TABLE document_versions (
    id              BINARY(16)      NOT NULL PRIMARY KEY,
    organization_id BINARY(16)      NOT NULL,
    document_id     BINARY(16)      NOT NULL,
    version         INT UNSIGNED    NOT NULL,
    file_name       VARCHAR(150)    NOT NULL,
    -- Read from the file's bytes.
    content_type    VARCHAR(120)    NOT NULL,
    size_bytes      BIGINT UNSIGNED NOT NULL,
    sha256          BINARY(32)      NOT NULL,
    note            VARCHAR(300)    NULL,
    uploaded_by     BINARY(16)      NULL,
    created_at      DATETIME(6)     NOT NULL,
    UNIQUE KEY uq_document_versions (document_id, version),
    KEY ix_document_versions_org (organization_id),
    CONSTRAINT fk_document_versions_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT fk_document_versions_document FOREIGN KEY (document_id) REFERENCES documents (id),
    CONSTRAINT fk_document_versions_uploaded_by FOREIGN KEY (uploaded_by) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
