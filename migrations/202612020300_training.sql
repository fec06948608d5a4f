-- Training and membership: categories (the ISO ones seeded), courses, records, requirements and
-- waivers (the compliance engine's inputs), self-reported training, structured programs with
-- phases and enrollment progress, shift completion reports, leaves of absence and membership
-- tiers. Every table carries organization_id; references to members, courses and the like go
-- through (organization_id, id), so a row can never point into another department.

ALTER TABLE users ADD UNIQUE KEY uq_users_org_id (organization_id, id);
ALTER TABLE roles ADD UNIQUE KEY uq_roles_org_id (organization_id, id);

-- Membership tiers by years of service (probationary → active → senior → life by default).
CREATE TABLE membership_tiers (
    id                BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id   BINARY(16)   NOT NULL,
    slug              VARCHAR(32)  NOT NULL,
    name              VARCHAR(100) NOT NULL,
    years_required    SMALLINT UNSIGNED NOT NULL,
    sort_order        SMALLINT     NOT NULL,
    training_exempt   BOOLEAN      NOT NULL DEFAULT FALSE,
    voting_eligible   BOOLEAN      NOT NULL DEFAULT TRUE,
    can_hold_office   BOOLEAN      NOT NULL DEFAULT TRUE,
    active            BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at        DATETIME(6)  NOT NULL,
    updated_at        DATETIME(6)  NOT NULL,
    UNIQUE KEY uq_membership_tiers_org_slug (organization_id, slug),
    UNIQUE KEY uq_membership_tiers_org_id (organization_id, id),
    CONSTRAINT fk_membership_tiers_org FOREIGN KEY (organization_id) REFERENCES organizations (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

ALTER TABLE users
    ADD COLUMN membership_tier_id BINARY(16) NULL AFTER status_change_reason,
    ADD CONSTRAINT fk_users_membership_tier FOREIGN KEY (organization_id, membership_tier_id)
        REFERENCES membership_tiers (organization_id, id);

CREATE TABLE training_categories (
    id              BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id BINARY(16)   NOT NULL,
    name            VARCHAR(100) NOT NULL,
    code            VARCHAR(32)  NOT NULL,
    -- The ISO (Verisk FSRS item 580) category whose hours this training counts toward.
    iso_category    VARCHAR(16)  NULL,
    color           VARCHAR(7)   NULL,
    active          BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at      DATETIME(6)  NOT NULL,
    updated_at      DATETIME(6)  NOT NULL,
    UNIQUE KEY uq_training_categories_org_code (organization_id, code),
    UNIQUE KEY uq_training_categories_org_name (organization_id, name),
    UNIQUE KEY uq_training_categories_org_id (organization_id, id),
    CONSTRAINT fk_training_categories_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT ck_training_categories_iso CHECK (iso_category IS NULL OR iso_category IN
        ('company', 'facility', 'officer', 'driver', 'hazmat', 'new_driver', 'recruit'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE training_courses (
    id                BINARY(16)    NOT NULL PRIMARY KEY,
    organization_id   BINARY(16)    NOT NULL,
    name              VARCHAR(200)  NOT NULL,
    code              VARCHAR(32)   NULL,
    category_id       BINARY(16)    NULL,
    training_type     VARCHAR(32)   NOT NULL,
    description       TEXT          NULL,
    duration_hours    DECIMAL(6,2)  NOT NULL,
    -- A completion stays valid this many months (NULL: it does not expire).
    expiration_months SMALLINT UNSIGNED NULL,
    issuing_agency    VARCHAR(200)  NULL,
    active            BOOLEAN       NOT NULL DEFAULT TRUE,
    created_at        DATETIME(6)   NOT NULL,
    updated_at        DATETIME(6)   NOT NULL,
    UNIQUE KEY uq_training_courses_org_name (organization_id, name),
    UNIQUE KEY uq_training_courses_org_code (organization_id, code),
    UNIQUE KEY uq_training_courses_org_id (organization_id, id),
    CONSTRAINT fk_training_courses_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT fk_training_courses_category FOREIGN KEY (organization_id, category_id)
        REFERENCES training_categories (organization_id, id),
    CONSTRAINT ck_training_courses_type CHECK (training_type IN ('certification', 'continuing_education',
        'skills_practice', 'orientation', 'refresher', 'specialty', 'drill', 'shift', 'call')),
    CONSTRAINT ck_training_courses_hours CHECK (duration_hours >= 0 AND duration_hours <= 1000),
    CONSTRAINT ck_training_courses_expiry CHECK (expiration_months IS NULL OR expiration_months BETWEEN 1 AND 600)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE training_records (
    id                    BINARY(16)    NOT NULL PRIMARY KEY,
    organization_id       BINARY(16)    NOT NULL,
    user_id               BINARY(16)    NOT NULL,
    course_id             BINARY(16)    NULL,
    category_id           BINARY(16)    NULL,
    course_name           VARCHAR(200)  NOT NULL,
    training_type         VARCHAR(32)   NOT NULL,
    completion_date       DATE          NOT NULL,
    expiration_date       DATE          NULL,
    hours_completed       DECIMAL(6,2)  NOT NULL,
    certification_number  VARCHAR(64)   NULL,
    issuing_agency        VARCHAR(200)  NULL,
    instructor            VARCHAR(200)  NULL,
    location_id           BINARY(16)    NULL,
    status                VARCHAR(16)   NOT NULL DEFAULT 'completed',
    rank_at_completion    VARCHAR(64)   NULL,
    station_at_completion VARCHAR(100)  NULL,
    notes                 TEXT          NULL,
    -- Recorded for a whole crew at once: the records of one session share this id.
    session_id            BINARY(16)    NULL,
    -- The self-reported training it was created from, when approved.
    submission_id         BINARY(16)    NULL,
    created_by            BINARY(16)    NULL,
    cancelled_at          DATETIME(6)   NULL,
    cancelled_by          BINARY(16)    NULL,
    cancel_reason         VARCHAR(500)  NULL,
    created_at            DATETIME(6)   NOT NULL,
    updated_at            DATETIME(6)   NOT NULL,
    KEY ix_training_records_member (organization_id, user_id, completion_date),
    KEY ix_training_records_date (organization_id, completion_date),
    KEY ix_training_records_expiry (organization_id, status, expiration_date),
    KEY ix_training_records_session (session_id),
    UNIQUE KEY uq_training_records_org_id (organization_id, id),
    CONSTRAINT fk_training_records_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT fk_training_records_user FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id),
    CONSTRAINT fk_training_records_course FOREIGN KEY (organization_id, course_id)
        REFERENCES training_courses (organization_id, id),
    CONSTRAINT fk_training_records_category FOREIGN KEY (organization_id, category_id)
        REFERENCES training_categories (organization_id, id),
    CONSTRAINT fk_training_records_location FOREIGN KEY (organization_id, location_id)
        REFERENCES locations (organization_id, id),
    CONSTRAINT ck_training_records_status CHECK (status IN ('completed', 'cancelled')),
    CONSTRAINT ck_training_records_type CHECK (training_type IN ('certification', 'continuing_education',
        'skills_practice', 'orientation', 'refresher', 'specialty', 'drill', 'shift', 'call')),
    CONSTRAINT ck_training_records_hours CHECK (hours_completed >= 0 AND hours_completed <= 1000),
    CONSTRAINT ck_training_records_expiry CHECK (expiration_date IS NULL OR expiration_date >= completion_date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Certification expiry notices: one row per record and tier, written in the same transaction as
-- the notice, so a tier is never sent twice (not after a restart either).
CREATE TABLE training_expiry_alerts (
    record_id       BINARY(16)  NOT NULL,
    tier            VARCHAR(8)  NOT NULL,
    organization_id BINARY(16)  NOT NULL,
    sent_at         DATETIME(6) NOT NULL,
    PRIMARY KEY (record_id, tier),
    CONSTRAINT fk_training_expiry_alerts_record FOREIGN KEY (organization_id, record_id)
        REFERENCES training_records (organization_id, id),
    CONSTRAINT ck_training_expiry_alerts_tier CHECK (tier IN ('90', '60', '30', '7', 'expired'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE training_requirements (
    id                    BINARY(16)    NOT NULL PRIMARY KEY,
    organization_id       BINARY(16)    NOT NULL,
    name                  VARCHAR(200)  NOT NULL,
    description           TEXT          NULL,
    requirement_type      VARCHAR(16)   NOT NULL,
    -- What counts: records of this category and/or training type (NULL: any).
    category_id           BINARY(16)    NULL,
    training_type         VARCHAR(32)   NULL,
    required_hours        DECIMAL(7,2)  NULL,
    -- shifts / calls: how many matching records.
    required_count        SMALLINT UNSIGNED NULL,
    period                VARCHAR(16)   NOT NULL,
    rolling_months        SMALLINT UNSIGNED NULL,
    -- NULL: the department's default (training settings).
    include_current_month BOOLEAN       NULL,
    applies_to            VARCHAR(8)    NOT NULL DEFAULT 'all',
    active                BOOLEAN       NOT NULL DEFAULT TRUE,
    created_at            DATETIME(6)   NOT NULL,
    updated_at            DATETIME(6)   NOT NULL,
    UNIQUE KEY uq_training_requirements_org_name (organization_id, name),
    UNIQUE KEY uq_training_requirements_org_id (organization_id, id),
    CONSTRAINT fk_training_requirements_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT fk_training_requirements_category FOREIGN KEY (organization_id, category_id)
        REFERENCES training_categories (organization_id, id),
    CONSTRAINT ck_training_requirements_type CHECK (requirement_type IN ('hours', 'courses', 'certification', 'shifts', 'calls')),
    CONSTRAINT ck_training_requirements_period CHECK (period IN ('annual', 'quarterly', 'monthly', 'rolling', 'one_time')),
    CONSTRAINT ck_training_requirements_rolling CHECK ((period = 'rolling') = (rolling_months IS NOT NULL)
        AND (rolling_months IS NULL OR rolling_months BETWEEN 1 AND 120)),
    CONSTRAINT ck_training_requirements_applies CHECK (applies_to IN ('all', 'roles', 'tiers')),
    CONSTRAINT ck_training_requirements_hours CHECK (required_hours IS NULL OR (required_hours >= 0 AND required_hours <= 10000))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- courses / certification requirements: the courses that satisfy it.
CREATE TABLE training_requirement_courses (
    requirement_id  BINARY(16) NOT NULL,
    course_id       BINARY(16) NOT NULL,
    organization_id BINARY(16) NOT NULL,
    PRIMARY KEY (requirement_id, course_id),
    CONSTRAINT fk_trc_requirement FOREIGN KEY (organization_id, requirement_id)
        REFERENCES training_requirements (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT fk_trc_course FOREIGN KEY (organization_id, course_id) REFERENCES training_courses (organization_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE training_requirement_roles (
    requirement_id  BINARY(16) NOT NULL,
    role_id         BINARY(16) NOT NULL,
    organization_id BINARY(16) NOT NULL,
    PRIMARY KEY (requirement_id, role_id),
    CONSTRAINT fk_trr_requirement FOREIGN KEY (organization_id, requirement_id)
        REFERENCES training_requirements (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT fk_trr_role FOREIGN KEY (organization_id, role_id) REFERENCES roles (organization_id, id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE training_requirement_tiers (
    requirement_id  BINARY(16) NOT NULL,
    tier_id         BINARY(16) NOT NULL,
    organization_id BINARY(16) NOT NULL,
    PRIMARY KEY (requirement_id, tier_id),
    CONSTRAINT fk_trt_requirement FOREIGN KEY (organization_id, requirement_id)
        REFERENCES training_requirements (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT fk_trt_tier FOREIGN KEY (organization_id, tier_id) REFERENCES membership_tiers (organization_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE member_leaves_of_absence (
    id                          BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id             BINARY(16)   NOT NULL,
    user_id                     BINARY(16)   NOT NULL,
    leave_type                  VARCHAR(32)  NOT NULL,
    reason                      VARCHAR(500) NULL,
    start_date                  DATE         NOT NULL,
    -- NULL: until further notice.
    end_date                    DATE         NULL,
    granted_by                  BINARY(16)   NULL,
    granted_at                  DATETIME(6)  NOT NULL,
    active                      BOOLEAN      NOT NULL DEFAULT TRUE,
    exempt_from_training_waiver BOOLEAN      NOT NULL DEFAULT FALSE,
    linked_training_waiver_id   BINARY(16)   NULL,
    created_at                  DATETIME(6)  NOT NULL,
    updated_at                  DATETIME(6)  NOT NULL,
    KEY ix_leaves_member (organization_id, user_id, start_date),
    UNIQUE KEY uq_leaves_org_id (organization_id, id),
    CONSTRAINT fk_leaves_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT fk_leaves_user FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id),
    CONSTRAINT ck_leaves_type CHECK (leave_type IN ('leave_of_absence', 'medical', 'military', 'personal',
        'administrative', 'parental', 'other')),
    CONSTRAINT ck_leaves_dates CHECK (end_date IS NULL OR end_date >= start_date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE training_waivers (
    id              BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id BINARY(16)   NOT NULL,
    user_id         BINARY(16)   NOT NULL,
    waiver_type     VARCHAR(32)  NOT NULL,
    reason          VARCHAR(500) NULL,
    start_date      DATE         NOT NULL,
    end_date        DATE         NULL,
    -- FALSE: only the requirements in training_waiver_requirements.
    all_requirements BOOLEAN     NOT NULL DEFAULT TRUE,
    -- The leave of absence that made it (kept in step with it).
    leave_id        BINARY(16)   NULL,
    granted_by      BINARY(16)   NULL,
    active          BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at      DATETIME(6)  NOT NULL,
    updated_at      DATETIME(6)  NOT NULL,
    KEY ix_training_waivers_member (organization_id, user_id, active),
    UNIQUE KEY uq_training_waivers_org_id (organization_id, id),
    CONSTRAINT fk_training_waivers_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT fk_training_waivers_user FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id),
    CONSTRAINT fk_training_waivers_leave FOREIGN KEY (organization_id, leave_id)
        REFERENCES member_leaves_of_absence (organization_id, id),
    CONSTRAINT ck_training_waivers_type CHECK (waiver_type IN ('leave_of_absence', 'medical', 'military', 'personal',
        'administrative', 'parental', 'new_member', 'other')),
    CONSTRAINT ck_training_waivers_dates CHECK (end_date IS NULL OR end_date >= start_date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

ALTER TABLE member_leaves_of_absence
    ADD CONSTRAINT fk_leaves_waiver FOREIGN KEY (organization_id, linked_training_waiver_id)
        REFERENCES training_waivers (organization_id, id);

CREATE TABLE training_waiver_requirements (
    waiver_id       BINARY(16) NOT NULL,
    requirement_id  BINARY(16) NOT NULL,
    organization_id BINARY(16) NOT NULL,
    PRIMARY KEY (waiver_id, requirement_id),
    CONSTRAINT fk_twr_waiver FOREIGN KEY (organization_id, waiver_id) REFERENCES training_waivers (organization_id, id),
    CONSTRAINT fk_twr_requirement FOREIGN KEY (organization_id, requirement_id)
        REFERENCES training_requirements (organization_id, id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per department: self-reporting rules and the compliance default.
CREATE TABLE training_settings (
    organization_id          BINARY(16)   NOT NULL PRIMARY KEY,
    require_approval         BOOLEAN      NOT NULL DEFAULT TRUE,
    -- Submissions of at most this many hours are approved at once (NULL: never).
    auto_approve_under_hours DECIMAL(6,2) NULL,
    max_hours_per_submission DECIMAL(6,2) NOT NULL DEFAULT 40,
    include_current_month    BOOLEAN      NOT NULL DEFAULT TRUE,
    updated_at               DATETIME(6)  NOT NULL,
    CONSTRAINT fk_training_settings_org FOREIGN KEY (organization_id) REFERENCES organizations (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE training_submissions (
    id                   BINARY(16)    NOT NULL PRIMARY KEY,
    organization_id      BINARY(16)    NOT NULL,
    user_id              BINARY(16)    NOT NULL,
    course_id            BINARY(16)    NULL,
    course_name          VARCHAR(200)  NOT NULL,
    category_id          BINARY(16)    NULL,
    training_type        VARCHAR(32)   NOT NULL,
    completion_date      DATE          NOT NULL,
    hours_completed      DECIMAL(6,2)  NOT NULL,
    certification_number VARCHAR(64)   NULL,
    issuing_agency       VARCHAR(200)  NULL,
    expiration_date      DATE          NULL,
    description          TEXT          NULL,
    status               VARCHAR(20)   NOT NULL,
    reviewed_by          BINARY(16)    NULL,
    reviewed_at          DATETIME(6)   NULL,
    reviewer_notes       VARCHAR(1000) NULL,
    training_record_id   BINARY(16)    NULL,
    created_at           DATETIME(6)   NOT NULL,
    updated_at           DATETIME(6)   NOT NULL,
    KEY ix_training_submissions_status (organization_id, status, created_at),
    KEY ix_training_submissions_member (organization_id, user_id, created_at),
    UNIQUE KEY uq_training_submissions_org_id (organization_id, id),
    CONSTRAINT fk_training_submissions_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT fk_training_submissions_user FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id),
    CONSTRAINT fk_training_submissions_course FOREIGN KEY (organization_id, course_id)
        REFERENCES training_courses (organization_id, id),
    CONSTRAINT fk_training_submissions_category FOREIGN KEY (organization_id, category_id)
        REFERENCES training_categories (organization_id, id),
    CONSTRAINT fk_training_submissions_record FOREIGN KEY (organization_id, training_record_id)
        REFERENCES training_records (organization_id, id),
    CONSTRAINT ck_training_submissions_status CHECK (status IN ('pending_review', 'approved', 'rejected',
        'revision_requested')),
    CONSTRAINT ck_training_submissions_hours CHECK (hours_completed > 0 AND hours_completed <= 1000)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE training_programs (
    id              BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id BINARY(16)   NOT NULL,
    name            VARCHAR(200) NOT NULL,
    description     TEXT         NULL,
    target_position VARCHAR(64)  NULL,
    structure_type  VARCHAR(16)  NOT NULL DEFAULT 'phases',
    time_limit_days SMALLINT UNSIGNED NULL,
    active          BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at      DATETIME(6)  NOT NULL,
    updated_at      DATETIME(6)  NOT NULL,
    UNIQUE KEY uq_training_programs_org_name (organization_id, name),
    UNIQUE KEY uq_training_programs_org_id (organization_id, id),
    CONSTRAINT fk_training_programs_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT ck_training_programs_structure CHECK (structure_type IN ('sequential', 'phases', 'flexible'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE program_phases (
    id                          BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id             BINARY(16)   NOT NULL,
    program_id                  BINARY(16)   NOT NULL,
    phase_number                SMALLINT UNSIGNED NOT NULL,
    name                        VARCHAR(200) NOT NULL,
    description                 TEXT         NULL,
    requires_manual_advancement BOOLEAN      NOT NULL DEFAULT FALSE,
    time_limit_days             SMALLINT UNSIGNED NULL,
    UNIQUE KEY uq_program_phases_number (program_id, phase_number),
    UNIQUE KEY uq_program_phases_org_id (organization_id, id),
    CONSTRAINT fk_program_phases_program FOREIGN KEY (organization_id, program_id)
        REFERENCES training_programs (organization_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The items of a program (each in a phase): a course to complete, hours, shifts or calls to
-- log, a skill an officer signs off.
CREATE TABLE program_requirements (
    id              BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id BINARY(16)   NOT NULL,
    program_id      BINARY(16)   NOT NULL,
    phase_id        BINARY(16)   NOT NULL,
    name            VARCHAR(200) NOT NULL,
    item_type       VARCHAR(16)  NOT NULL,
    course_id       BINARY(16)   NULL,
    target_value    DECIMAL(7,2) NOT NULL DEFAULT 1,
    is_required     BOOLEAN      NOT NULL DEFAULT TRUE,
    sort_order      SMALLINT     NOT NULL DEFAULT 0,
    UNIQUE KEY uq_program_requirements_org_id (organization_id, id),
    KEY ix_program_requirements_phase (phase_id, sort_order),
    CONSTRAINT fk_program_requirements_program FOREIGN KEY (organization_id, program_id)
        REFERENCES training_programs (organization_id, id),
    CONSTRAINT fk_program_requirements_phase FOREIGN KEY (organization_id, phase_id)
        REFERENCES program_phases (organization_id, id),
    CONSTRAINT fk_program_requirements_course FOREIGN KEY (organization_id, course_id)
        REFERENCES training_courses (organization_id, id),
    CONSTRAINT ck_program_requirements_type CHECK (item_type IN ('course', 'hours', 'shifts', 'calls', 'skill')),
    CONSTRAINT ck_program_requirements_target CHECK (target_value > 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE program_enrollments (
    id                     BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id        BINARY(16)   NOT NULL,
    program_id             BINARY(16)   NOT NULL,
    user_id                BINARY(16)   NOT NULL,
    status                 VARCHAR(16)  NOT NULL,
    enrolled_at            DATETIME(6)  NOT NULL,
    enrolled_by            BINARY(16)   NULL,
    target_completion_date DATE         NULL,
    current_phase_id       BINARY(16)   NULL,
    progress_percentage    DECIMAL(4,1) NOT NULL DEFAULT 0,
    completed_at           DATETIME(6)  NULL,
    withdrawn_at           DATETIME(6)  NULL,
    withdrawn_reason       VARCHAR(500) NULL,
    updated_at             DATETIME(6)  NOT NULL,
    UNIQUE KEY uq_program_enrollments_org_id (organization_id, id),
    KEY ix_program_enrollments_member (organization_id, user_id),
    CONSTRAINT fk_program_enrollments_program FOREIGN KEY (organization_id, program_id)
        REFERENCES training_programs (organization_id, id),
    CONSTRAINT fk_program_enrollments_user FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id),
    CONSTRAINT fk_program_enrollments_phase FOREIGN KEY (organization_id, current_phase_id)
        REFERENCES program_phases (organization_id, id),
    CONSTRAINT ck_program_enrollments_status CHECK (status IN ('active', 'completed', 'expired', 'on_hold',
        'withdrawn', 'failed'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE requirement_progress (
    id                     BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id        BINARY(16)   NOT NULL,
    enrollment_id          BINARY(16)   NOT NULL,
    program_requirement_id BINARY(16)   NOT NULL,
    status                 VARCHAR(16)  NOT NULL DEFAULT 'not_started',
    progress_value         DECIMAL(8,2) NOT NULL DEFAULT 0,
    verified_by            BINARY(16)   NULL,
    verified_at            DATETIME(6)  NULL,
    updated_at             DATETIME(6)  NOT NULL,
    UNIQUE KEY uq_requirement_progress_item (enrollment_id, program_requirement_id),
    UNIQUE KEY uq_requirement_progress_org_id (organization_id, id),
    CONSTRAINT fk_requirement_progress_enrollment FOREIGN KEY (organization_id, enrollment_id)
        REFERENCES program_enrollments (organization_id, id),
    CONSTRAINT fk_requirement_progress_item FOREIGN KEY (organization_id, program_requirement_id)
        REFERENCES program_requirements (organization_id, id),
    CONSTRAINT ck_requirement_progress_status CHECK (status IN ('not_started', 'in_progress', 'completed',
        'verified', 'waived'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every credit to a program item names its source once: feeding the same record or report
-- twice changes nothing.
CREATE TABLE requirement_progress_credits (
    progress_id     BINARY(16)   NOT NULL,
    source_type     VARCHAR(16)  NOT NULL,
    source_id       BINARY(16)   NOT NULL,
    organization_id BINARY(16)   NOT NULL,
    units           DECIMAL(8,2) NOT NULL,
    credited_at     DATETIME(6)  NOT NULL,
    PRIMARY KEY (progress_id, source_type, source_id),
    CONSTRAINT fk_requirement_progress_credits_progress FOREIGN KEY (organization_id, progress_id)
        REFERENCES requirement_progress (organization_id, id),
    CONSTRAINT ck_requirement_progress_credits_source CHECK (source_type IN ('training_record', 'shift_report',
        'officer_apply'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE shift_completion_reports (
    id                   BINARY(16)    NOT NULL PRIMARY KEY,
    organization_id      BINARY(16)    NOT NULL,
    trainee_id           BINARY(16)    NOT NULL,
    officer_id           BINARY(16)    NOT NULL,
    enrollment_id        BINARY(16)    NULL,
    -- The scheduled shift, once scheduling exists (no foreign key yet).
    shift_id             BINARY(16)    NULL,
    shift_date           DATE          NOT NULL,
    hours_on_shift       DECIMAL(5,2)  NOT NULL,
    calls_responded      SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    call_types           TEXT          NOT NULL,
    skills_observed      TEXT          NOT NULL,
    performance_rating   TINYINT UNSIGNED NULL,
    -- Encrypted (FieldCipher): the officer's narrative about the trainee.
    narrative            VARBINARY(8192) NULL,
    review_status        VARCHAR(16)   NOT NULL,
    reviewed_by          BINARY(16)    NULL,
    reviewed_at          DATETIME(6)   NULL,
    credited_at          DATETIME(6)   NULL,
    trainee_acknowledged_at DATETIME(6) NULL,
    created_at           DATETIME(6)   NOT NULL,
    updated_at           DATETIME(6)   NOT NULL,
    KEY ix_shift_reports_trainee (organization_id, trainee_id, shift_date),
    KEY ix_shift_reports_status (organization_id, review_status),
    UNIQUE KEY uq_shift_reports_org_id (organization_id, id),
    CONSTRAINT fk_shift_reports_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT fk_shift_reports_trainee FOREIGN KEY (organization_id, trainee_id) REFERENCES users (organization_id, id),
    CONSTRAINT fk_shift_reports_officer FOREIGN KEY (organization_id, officer_id) REFERENCES users (organization_id, id),
    CONSTRAINT fk_shift_reports_enrollment FOREIGN KEY (organization_id, enrollment_id)
        REFERENCES program_enrollments (organization_id, id),
    CONSTRAINT ck_shift_reports_status CHECK (review_status IN ('draft', 'pending_review', 'approved', 'flagged')),
    CONSTRAINT ck_shift_reports_hours CHECK (hours_on_shift > 0 AND hours_on_shift <= 72),
    CONSTRAINT ck_shift_reports_rating CHECK (performance_rating IS NULL OR performance_rating BETWEEN 1 AND 5),
    CONSTRAINT ck_shift_reports_json CHECK (JSON_VALID(call_types) AND JSON_VALID(skills_observed))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Existing departments get the seeded categories, tiers and settings (new ones get them when
-- they are created; see training::seed).
INSERT INTO training_categories (id, organization_id, name, code, iso_category, color, created_at, updated_at)
SELECT UNHEX(REPLACE(UUID(), '-', '')), o.id, c.name, c.code, c.iso, c.color, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6)
  FROM organizations o
  CROSS JOIN (
      SELECT 'Company training' AS name, 'company' AS code, 'company' AS iso, '#b71c1c' AS color
      UNION ALL SELECT 'Facility training', 'facility', 'facility', '#e65100'
      UNION ALL SELECT 'Officer training', 'officer', 'officer', '#1a237e'
      UNION ALL SELECT 'Driver/operator training', 'driver', 'driver', '#004d40'
      UNION ALL SELECT 'Hazardous materials', 'hazmat', 'hazmat', '#f9a825'
      UNION ALL SELECT 'New driver training', 'new_driver', 'new_driver', '#2e7d32'
      UNION ALL SELECT 'Recruit training', 'recruit', 'recruit', '#6a1b9a'
      UNION ALL SELECT 'EMS', 'ems', NULL, '#0277bd'
      UNION ALL SELECT 'Other', 'other', NULL, '#546e7a'
  ) c;

INSERT INTO membership_tiers (id, organization_id, slug, name, years_required, sort_order, training_exempt,
                              voting_eligible, can_hold_office, created_at, updated_at)
SELECT UNHEX(REPLACE(UUID(), '-', '')), o.id, t.slug, t.name, t.years, t.sort_order, t.exempt, t.vote, t.office,
       UTC_TIMESTAMP(6), UTC_TIMESTAMP(6)
  FROM organizations o
  CROSS JOIN (
      SELECT 'probationary' AS slug, 'Probationary' AS name, 0 AS years, 1 AS sort_order, FALSE AS exempt,
             FALSE AS vote, FALSE AS office
      UNION ALL SELECT 'active', 'Active', 1, 2, FALSE, TRUE, TRUE
      UNION ALL SELECT 'senior', 'Senior', 10, 3, FALSE, TRUE, TRUE
      UNION ALL SELECT 'life', 'Life', 20, 4, TRUE, TRUE, TRUE
  ) t;

INSERT INTO training_settings (organization_id, updated_at)
SELECT id, UTC_TIMESTAMP(6) FROM organizations;
