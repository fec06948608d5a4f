-- A member exempted from training requirements by an officer, with the reason (features.md
-- §1.3: `compliance_exempt`), beside the exemption a membership tier gives.
ALTER TABLE users
    ADD COLUMN compliance_exempt        BOOLEAN      NOT NULL DEFAULT FALSE,
    ADD COLUMN compliance_exempt_reason VARCHAR(200) NULL;
