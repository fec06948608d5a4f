-- Scheduled jobs, in-app notifications, email (settings and outbox), password reset by email,
-- and announcements. Ids are UUIDv7 in BINARY(16); times are DATETIME(6) in UTC.

-- One row per run of a job for an organization. A scheduled run names its slot
-- (`scheduled_for`): the unique key makes a second server that fires for the same slot a no-op.
CREATE TABLE job_runs (
    id              BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id BINARY(16)   NOT NULL,
    job             VARCHAR(64)  NOT NULL,
    trigger_kind    VARCHAR(16)  NOT NULL,
    scheduled_for   DATETIME(6)  NULL,
    started_at      DATETIME(6)  NOT NULL,
    finished_at     DATETIME(6)  NULL,
    outcome         VARCHAR(16)  NOT NULL,
    items           INT UNSIGNED NOT NULL DEFAULT 0,
    error           TEXT         NULL,
    triggered_by    BINARY(16)   NULL,
    server          VARCHAR(100) NOT NULL,
    UNIQUE KEY uq_job_runs_slot (organization_id, job, scheduled_for),
    KEY ix_job_runs_job (organization_id, job, started_at),
    CONSTRAINT fk_job_runs_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT ck_job_runs_trigger CHECK (trigger_kind IN ('schedule', 'manual')),
    CONSTRAINT ck_job_runs_outcome CHECK (outcome IN ('running', 'succeeded', 'failed', 'skipped'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The in-app inbox. `dedupe_key` stamps a reminder so that it is never sent twice to the same
-- member, whatever restarts, re-runs or clock changes happen.
CREATE TABLE notification_logs (
    id              BINARY(16)    NOT NULL PRIMARY KEY,
    organization_id BINARY(16)    NOT NULL,
    recipient_id    BINARY(16)    NOT NULL,
    category        VARCHAR(32)   NOT NULL,
    subject         VARCHAR(200)  NOT NULL,
    message         TEXT          NOT NULL,
    action_url      VARCHAR(500)  NULL,
    dedupe_key      VARCHAR(191)  NULL,
    emailed         BOOLEAN       NOT NULL DEFAULT FALSE,
    created_at      DATETIME(6)   NOT NULL,
    read_at         DATETIME(6)   NULL,
    UNIQUE KEY uq_notification_logs_dedupe (organization_id, recipient_id, dedupe_key),
    KEY ix_notification_logs_inbox (recipient_id, read_at, created_at),
    KEY ix_notification_logs_org (organization_id, created_at),
    CONSTRAINT fk_notification_logs_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT fk_notification_logs_user FOREIGN KEY (recipient_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Email on/off per category: the organization's default (user_id = the nil id is not used; the
-- default lives in its own table) and each member's own choice, which wins.
CREATE TABLE notification_defaults (
    organization_id BINARY(16)  NOT NULL,
    category        VARCHAR(32) NOT NULL,
    email           BOOLEAN     NOT NULL,
    updated_at      DATETIME(6) NOT NULL,
    PRIMARY KEY (organization_id, category),
    CONSTRAINT fk_notification_defaults_org FOREIGN KEY (organization_id) REFERENCES organizations (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE notification_preferences (
    organization_id BINARY(16)  NOT NULL,
    user_id         BINARY(16)  NOT NULL,
    category        VARCHAR(32) NOT NULL,
    email           BOOLEAN     NOT NULL,
    updated_at      DATETIME(6) NOT NULL,
    PRIMARY KEY (user_id, category),
    KEY ix_notification_preferences_org (organization_id),
    CONSTRAINT fk_notification_preferences_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT fk_notification_preferences_user FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- SMTP settings per organization. The password is AES-256-GCM encrypted with the server's
-- encryption key (nonce || ciphertext) and never returned by the API.
CREATE TABLE email_settings (
    organization_id    BINARY(16)    NOT NULL PRIMARY KEY,
    enabled            BOOLEAN       NOT NULL DEFAULT TRUE,
    host               VARCHAR(253)  NOT NULL,
    port               INT UNSIGNED  NOT NULL,
    security           VARCHAR(16)   NOT NULL,
    username           VARCHAR(254)  NULL,
    password_encrypted VARBINARY(600) NULL,
    from_address       VARCHAR(254)  NOT NULL,
    from_name          VARCHAR(200)  NULL,
    give_up_hours      INT UNSIGNED  NOT NULL DEFAULT 72,
    updated_at         DATETIME(6)   NOT NULL,
    CONSTRAINT fk_email_settings_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT ck_email_settings_security CHECK (security IN ('starttls', 'tls', 'none'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every email goes out from here: kept until delivered or given up, retried with backoff.
-- Delivery for an organization holds a MariaDB named lock, so only one server sends at a time;
-- a row left `sending` by a server that died is picked up by the next lock holder.
CREATE TABLE email_outbox (
    id              BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id BINARY(16)   NOT NULL,
    notification_id BINARY(16)   NULL,
    to_address      VARCHAR(254) NOT NULL,
    to_name         VARCHAR(200) NULL,
    subject         VARCHAR(200) NOT NULL,
    body_text       MEDIUMTEXT   NOT NULL,
    body_html       MEDIUMTEXT   NOT NULL,
    status          VARCHAR(16)  NOT NULL,
    attempts        INT UNSIGNED NOT NULL DEFAULT 0,
    next_attempt_at DATETIME(6)  NOT NULL,
    last_error      TEXT         NULL,
    created_at      DATETIME(6)  NOT NULL,
    sent_at         DATETIME(6)  NULL,
    give_up_at      DATETIME(6)  NOT NULL,
    KEY ix_email_outbox_due (status, next_attempt_at),
    KEY ix_email_outbox_org (organization_id, status, created_at),
    CONSTRAINT fk_email_outbox_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT ck_email_outbox_status CHECK (status IN ('pending', 'sending', 'sent', 'failed'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Password reset by email: single use, stored hashed, 30 minutes.
CREATE TABLE password_reset_tokens (
    id              BINARY(16)  NOT NULL PRIMARY KEY,
    organization_id BINARY(16)  NOT NULL,
    user_id         BINARY(16)  NOT NULL,
    token_hash      CHAR(64)    NOT NULL,
    created_at      DATETIME(6) NOT NULL,
    expires_at      DATETIME(6) NOT NULL,
    used_at         DATETIME(6) NULL,
    requested_ip    VARCHAR(45) NULL,
    UNIQUE KEY uq_password_reset_tokens_hash (token_hash),
    KEY ix_password_reset_tokens_user (user_id, created_at),
    CONSTRAINT fk_password_reset_tokens_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT fk_password_reset_tokens_user FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Reset requests per client address, for the throttle (host-level like login_failures).
CREATE TABLE password_reset_requests (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    ip_address   VARCHAR(45) NOT NULL,
    requested_at DATETIME(6) NOT NULL,
    KEY ix_password_reset_requests_ip (ip_address, requested_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE announcements (
    id              BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id BINARY(16)   NOT NULL,
    title           VARCHAR(200) NOT NULL,
    body            TEXT         NOT NULL,
    audience        VARCHAR(16)  NOT NULL,
    created_by      BINARY(16)   NOT NULL,
    created_at      DATETIME(6)  NOT NULL,
    expires_at      DATETIME(6)  NULL,
    withdrawn_at    DATETIME(6)  NULL,
    KEY ix_announcements_org (organization_id, created_at),
    CONSTRAINT fk_announcements_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT fk_announcements_author FOREIGN KEY (created_by) REFERENCES users (id),
    CONSTRAINT ck_announcements_audience CHECK (audience IN ('all', 'roles'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE announcement_roles (
    announcement_id BINARY(16) NOT NULL,
    role_id         BINARY(16) NOT NULL,
    PRIMARY KEY (announcement_id, role_id),
    CONSTRAINT fk_announcement_roles_announcement FOREIGN KEY (announcement_id) REFERENCES announcements (id),
    CONSTRAINT fk_announcement_roles_role FOREIGN KEY (role_id) REFERENCES roles (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE announcement_dismissals (
    announcement_id BINARY(16)  NOT NULL,
    user_id         BINARY(16)  NOT NULL,
    dismissed_at    DATETIME(6) NOT NULL,
    PRIMARY KEY (announcement_id, user_id),
    CONSTRAINT fk_announcement_dismissals_announcement FOREIGN KEY (announcement_id) REFERENCES announcements (id),
    CONSTRAINT fk_announcement_dismissals_user FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Posting announcements is its own permission, held by the leadership and the secretary.
INSERT INTO permissions (name, module, description) VALUES
    ('announcements.manage', 'announcements', 'Post and withdraw announcements');

INSERT INTO role_permissions (organization_id, role_id, permission)
SELECT r.organization_id, r.id, 'announcements.manage'
  FROM roles r
 WHERE r.is_system AND r.slug IN ('it_administrator', 'chief', 'president', 'assistant_chief',
                                  'vice_president', 'secretary');
