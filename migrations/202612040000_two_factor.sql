-- Two-factor sign-in (TOTP, RFC 6238). A member's authenticator secret, encrypted with the
-- field-encryption key; it counts once confirmed with a code. The last accepted time step, so
-- that a code is accepted once. Recovery codes are stored hashed and used once. A challenge is
-- the short-lived, single-use link between a passed password and the code that completes the
-- sign-in. The department may require two-factor sign-in for members who manage settings or
-- members.
CREATE TABLE two_factor_secrets (
    user_id          BINARY(16)      NOT NULL PRIMARY KEY,
    organization_id  BINARY(16)      NOT NULL,
    secret_encrypted VARBINARY(512)  NOT NULL,
    confirmed_at     DATETIME(6)     NULL,
    last_used_step   BIGINT UNSIGNED NULL,
    created_at       DATETIME(6)     NOT NULL,
    KEY ix_two_factor_secrets_org (organization_id),
    CONSTRAINT fk_two_factor_secrets_user FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE two_factor_recovery_codes (
    id              BINARY(16)  NOT NULL PRIMARY KEY,
    organization_id BINARY(16)  NOT NULL,
    user_id         BINARY(16)  NOT NULL,
    code_hash       CHAR(64)    NOT NULL,
    used_at         DATETIME(6) NULL,
    created_at      DATETIME(6) NOT NULL,
    KEY ix_two_factor_recovery_codes_user (organization_id, user_id),
    CONSTRAINT fk_two_factor_recovery_codes_user FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE two_factor_challenges (
    token_hash      CHAR(64)    NOT NULL PRIMARY KEY,
    organization_id BINARY(16)  NOT NULL,
    user_id         BINARY(16)  NOT NULL,
    expires_at      DATETIME(6) NOT NULL,
    used_at         DATETIME(6) NULL,
    KEY ix_two_factor_challenges_user (organization_id, user_id),
    CONSTRAINT fk_two_factor_challenges_user FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

ALTER TABLE organizations
    ADD COLUMN require_two_factor BOOLEAN NOT NULL DEFAULT FALSE;
