-- Invitations share the password-reset table and its single-use code: a row is either a reset
-- (30 minutes, asked for by the member) or an invitation (7 days, sent or printed by an
-- officer). Revoking an invitation spends it (used_at) and says so (revoked_at).
ALTER TABLE password_reset_tokens
    ADD COLUMN purpose    VARCHAR(16) NOT NULL DEFAULT 'reset' AFTER user_id,
    ADD COLUMN delivery   VARCHAR(16) NULL AFTER purpose,
    ADD COLUMN created_by BINARY(16)  NULL AFTER delivery,
    ADD COLUMN revoked_at DATETIME(6) NULL AFTER used_at,
    ADD KEY ix_password_reset_tokens_org_user_open (organization_id, user_id, used_at),
    ADD CONSTRAINT ck_password_reset_tokens_purpose CHECK (purpose IN ('reset', 'invitation')),
    ADD CONSTRAINT ck_password_reset_tokens_delivery
        CHECK (delivery IS NULL OR delivery IN ('email', 'printed'));
