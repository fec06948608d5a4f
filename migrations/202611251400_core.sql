-- The platform core: organizations, members, roles and permissions, sessions,
-- the hash-chained audit log and security alerts.
-- Ids are UUIDv7 in BINARY(16); times are DATETIME(6) in UTC.

CREATE TABLE organizations (
    id                BINARY(16)   NOT NULL PRIMARY KEY,
    name              VARCHAR(200) NOT NULL,
    slug              VARCHAR(100) NOT NULL,
    organization_type VARCHAR(32)  NOT NULL DEFAULT 'fire_department',
    timezone          VARCHAR(64)  NOT NULL DEFAULT 'UTC',
    identifier_type   VARCHAR(32)  NULL,
    identifier        VARCHAR(50)  NULL,
    county            VARCHAR(100) NULL,
    address_line1     VARCHAR(200) NULL,
    address_line2     VARCHAR(200) NULL,
    city              VARCHAR(100) NULL,
    state             VARCHAR(64)  NULL,
    postal_code       VARCHAR(20)  NULL,
    phone             VARCHAR(32)  NULL,
    email             VARCHAR(254) NULL,
    settings          TEXT         NOT NULL,
    active            BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at        DATETIME(6)  NOT NULL,
    updated_at        DATETIME(6)  NOT NULL,
    UNIQUE KEY uq_organizations_slug (slug),
    CONSTRAINT ck_organizations_type CHECK (organization_type IN ('fire_department', 'ems_only', 'fire_ems_combined')),
    CONSTRAINT ck_organizations_identifier_type CHECK (identifier_type IS NULL OR identifier_type IN ('fdid', 'state_id', 'department_id'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE users (
    id                              BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id                 BINARY(16)   NOT NULL,
    username                        VARCHAR(64)  NOT NULL,
    email                           VARCHAR(254) NOT NULL,
    first_name                      VARCHAR(100) NOT NULL,
    last_name                       VARCHAR(100) NOT NULL,
    membership_number               VARCHAR(32)  NULL,
    `rank`                          VARCHAR(64)  NULL,
    station                         VARCHAR(100) NULL,
    phone                           VARCHAR(32)  NULL,
    hire_date                       DATE         NULL,
    emergency_contact_name          VARCHAR(200) NULL,
    emergency_contact_phone         VARCHAR(32)  NULL,
    emergency_contact_relationship  VARCHAR(64)  NULL,
    status                          VARCHAR(32)  NOT NULL DEFAULT 'active',
    status_changed_at               DATETIME(6)  NULL,
    status_change_reason            VARCHAR(500) NULL,
    password_hash                   VARCHAR(255) NULL,
    must_change_password            BOOLEAN      NOT NULL DEFAULT FALSE,
    password_changed_at             DATETIME(6)  NULL,
    failed_login_attempts           INT          NOT NULL DEFAULT 0,
    locked_until                    DATETIME(6)  NULL,
    last_login_at                   DATETIME(6)  NULL,
    created_at                      DATETIME(6)  NOT NULL,
    updated_at                      DATETIME(6)  NOT NULL,
    UNIQUE KEY uq_users_org_username (organization_id, username),
    UNIQUE KEY uq_users_org_email (organization_id, email),
    UNIQUE KEY uq_users_org_membership_number (organization_id, membership_number),
    KEY ix_users_username (username),
    KEY ix_users_email (email),
    KEY ix_users_org_status_name (organization_id, status, last_name, first_name),
    CONSTRAINT fk_users_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT ck_users_status CHECK (status IN ('active', 'probationary', 'inactive', 'suspended', 'leave',
        'retired', 'dropped_voluntary', 'dropped_involuntary', 'archived'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The permission catalogue is global (not tenant data); role_permissions refer to it.
CREATE TABLE permissions (
    name        VARCHAR(64)  NOT NULL PRIMARY KEY,
    module      VARCHAR(32)  NOT NULL,
    description VARCHAR(255) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT INTO permissions (name, module, description) VALUES
    ('members.view',       'members',    'See the member directory and profiles'),
    ('members.manage',     'members',    'Create and edit members, change status, import and export'),
    ('users.view_contact', 'members',    'See other members'' contact details'),
    ('roles.manage',       'roles',      'Create, edit and assign roles'),
    ('audit.view',         'audit',      'See the audit log and security alerts'),
    ('settings.manage',    'settings',   'Change organization settings'),
    ('training.view',      'training',   'See training records'),
    ('training.manage',    'training',   'Manage training'),
    ('events.view',        'events',     'See events'),
    ('events.manage',      'events',     'Manage events'),
    ('scheduling.view',    'scheduling', 'See schedules'),
    ('scheduling.manage',  'scheduling', 'Manage schedules'),
    ('inventory.view',     'inventory',  'See inventory'),
    ('inventory.manage',   'inventory',  'Manage inventory'),
    ('elections.view',     'elections',  'See elections'),
    ('elections.manage',   'elections',  'Manage elections'),
    ('minutes.view',       'minutes',    'See meeting minutes'),
    ('minutes.manage',     'minutes',    'Manage meeting minutes'),
    ('documents.view',     'documents',  'See documents'),
    ('documents.manage',   'documents',  'Manage documents'),
    ('forms.view',         'forms',      'See forms'),
    ('forms.manage',       'forms',      'Manage forms'),
    ('prospects.view',     'prospects',  'See prospective members'),
    ('prospects.manage',   'prospects',  'Manage prospective members'),
    ('facilities.view',    'facilities', 'See facilities'),
    ('facilities.manage',  'facilities', 'Manage facilities');

CREATE TABLE roles (
    id              BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id BINARY(16)   NOT NULL,
    name            VARCHAR(100) NOT NULL,
    slug            VARCHAR(100) NOT NULL,
    description     VARCHAR(500) NOT NULL DEFAULT '',
    is_system       BOOLEAN      NOT NULL DEFAULT FALSE,
    priority        INT          NOT NULL DEFAULT 0,
    created_at      DATETIME(6)  NOT NULL,
    updated_at      DATETIME(6)  NOT NULL,
    UNIQUE KEY uq_roles_org_slug (organization_id, slug),
    UNIQUE KEY uq_roles_org_name (organization_id, name),
    CONSTRAINT fk_roles_org FOREIGN KEY (organization_id) REFERENCES organizations (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE role_permissions (
    organization_id BINARY(16)  NOT NULL,
    role_id         BINARY(16)  NOT NULL,
    permission      VARCHAR(64) NOT NULL,
    PRIMARY KEY (role_id, permission),
    KEY ix_role_permissions_org_perm (organization_id, permission),
    CONSTRAINT fk_role_permissions_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT fk_role_permissions_role FOREIGN KEY (role_id) REFERENCES roles (id) ON DELETE CASCADE,
    CONSTRAINT fk_role_permissions_perm FOREIGN KEY (permission) REFERENCES permissions (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE user_roles (
    organization_id BINARY(16)  NOT NULL,
    user_id         BINARY(16)  NOT NULL,
    role_id         BINARY(16)  NOT NULL,
    assigned_at     DATETIME(6) NOT NULL,
    assigned_by     BINARY(16)  NULL,
    PRIMARY KEY (user_id, role_id),
    KEY ix_user_roles_role (role_id),
    CONSTRAINT fk_user_roles_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT fk_user_roles_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT fk_user_roles_role FOREIGN KEY (role_id) REFERENCES roles (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per issued refresh token. Tokens of one sign-in share a family_id (the session);
-- rotation marks the old row used; replaying a used token revokes the whole family.
CREATE TABLE refresh_tokens (
    id              BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id BINARY(16)   NOT NULL,
    user_id         BINARY(16)   NOT NULL,
    family_id       BINARY(16)   NOT NULL,
    token_hash      CHAR(64)     NOT NULL,
    created_at      DATETIME(6)  NOT NULL,
    expires_at      DATETIME(6)  NOT NULL,
    used_at         DATETIME(6)  NULL,
    revoked_at      DATETIME(6)  NULL,
    ip_address      VARCHAR(45)  NULL,
    user_agent      VARCHAR(255) NULL,
    UNIQUE KEY uq_refresh_tokens_hash (token_hash),
    KEY ix_refresh_tokens_family (family_id),
    KEY ix_refresh_tokens_user (user_id),
    KEY ix_refresh_tokens_expires (expires_at),
    CONSTRAINT fk_refresh_tokens_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT fk_refresh_tokens_user FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The audit chain: hash = SHA-256(previous_hash || canonical bytes of the entry).
CREATE TABLE audit_logs (
    id              BINARY(16)      NOT NULL PRIMARY KEY,
    organization_id BINARY(16)      NOT NULL,
    sequence        BIGINT UNSIGNED NOT NULL,
    occurred_at     DATETIME(6)     NOT NULL,
    actor_user_id   BINARY(16)      NULL,
    actor_label     VARCHAR(200)    NOT NULL,
    ip_address      VARCHAR(45)     NULL,
    action          VARCHAR(64)     NOT NULL,
    entity_type     VARCHAR(64)     NOT NULL,
    entity_id       VARCHAR(64)     NULL,
    severity        VARCHAR(16)     NOT NULL,
    changes         MEDIUMTEXT      NOT NULL,
    previous_hash   CHAR(64)        NOT NULL,
    hash            CHAR(64)        NOT NULL,
    UNIQUE KEY uq_audit_logs_org_sequence (organization_id, sequence),
    KEY ix_audit_logs_org_time (organization_id, occurred_at),
    KEY ix_audit_logs_org_actor (organization_id, actor_user_id),
    KEY ix_audit_logs_org_action (organization_id, action),
    CONSTRAINT fk_audit_logs_org FOREIGN KEY (organization_id) REFERENCES organizations (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The head of each organization's chain; appends lock this row (SELECT ... FOR UPDATE).
CREATE TABLE audit_chain_heads (
    organization_id BINARY(16)      NOT NULL PRIMARY KEY,
    last_sequence   BIGINT UNSIGNED NOT NULL,
    last_hash       CHAR(64)        NOT NULL,
    CONSTRAINT fk_audit_chain_heads_org FOREIGN KEY (organization_id) REFERENCES organizations (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TRIGGER audit_logs_no_update BEFORE UPDATE ON audit_logs FOR EACH ROW
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_logs is append-only: UPDATE refused';

CREATE TRIGGER audit_logs_no_delete BEFORE DELETE ON audit_logs FOR EACH ROW
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_logs is append-only: DELETE refused';

CREATE TABLE security_alerts (
    id               BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id  BINARY(16)   NOT NULL,
    alert_type       VARCHAR(64)  NOT NULL,
    severity         VARCHAR(16)  NOT NULL,
    message          VARCHAR(500) NOT NULL,
    user_id          BINARY(16)   NULL,
    ip_address       VARCHAR(45)  NULL,
    status           VARCHAR(16)  NOT NULL DEFAULT 'open',
    acknowledged_by  BINARY(16)   NULL,
    acknowledged_at  DATETIME(6)  NULL,
    resolved_by      BINARY(16)   NULL,
    resolved_at      DATETIME(6)  NULL,
    resolution_note  VARCHAR(1000) NULL,
    created_at       DATETIME(6)  NOT NULL,
    KEY ix_security_alerts_org_status (organization_id, status, created_at),
    CONSTRAINT fk_security_alerts_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT ck_security_alerts_status CHECK (status IN ('open', 'acknowledged', 'resolved'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Failed sign-ins per client address, for the per-IP throttle. Host-level, not tenant data:
-- a failed attempt may name no account at all.
CREATE TABLE login_failures (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    ip_address   VARCHAR(45) NOT NULL,
    attempted_at DATETIME(6) NOT NULL,
    KEY ix_login_failures_ip_time (ip_address, attempted_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE ip_blocks (
    ip_address    VARCHAR(45) NOT NULL PRIMARY KEY,
    blocked_until DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
