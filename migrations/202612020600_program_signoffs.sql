-- An officer's sign-off of a phase of a member's program enrollment: who, when, and whether it
-- was given with required items still open. A signed-off phase stays passed whatever happens to
-- the credit behind it; a phase without a sign-off is passed only while its items are done.
CREATE TABLE program_phase_signoffs (
    enrollment_id   BINARY(16)  NOT NULL,
    phase_id        BINARY(16)  NOT NULL,
    organization_id BINARY(16)  NOT NULL,
    signed_by       BINARY(16)  NOT NULL,
    signed_at       DATETIME(6) NOT NULL,
    forced          BOOLEAN     NOT NULL DEFAULT FALSE,
    PRIMARY KEY (enrollment_id, phase_id),
    CONSTRAINT fk_program_phase_signoffs_enrollment FOREIGN KEY (organization_id, enrollment_id)
        REFERENCES program_enrollments (organization_id, id),
    CONSTRAINT fk_program_phase_signoffs_phase FOREIGN KEY (organization_id, phase_id)
        REFERENCES program_phases (organization_id, id),
    CONSTRAINT fk_program_phase_signoffs_user FOREIGN KEY (organization_id, signed_by)
        REFERENCES users (organization_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
