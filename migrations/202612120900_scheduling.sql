-- Scheduling (issue 21): shift templates and the patterns that generate shifts from them, the
-- shifts with their seats, who sits in each seat, swaps between members and time off.

-- Shifts name their vehicle by the department's own key.
ALTER TABLE basic_apparatus ADD UNIQUE KEY uq_basic_apparatus_org_id (organization_id, id);

CREATE TABLE shift_templates (
    id                     BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id        BINARY(16)   NOT NULL,
    name                   VARCHAR(100) NOT NULL,
    -- Wall-clock start in the department's time zone; a 24-hour shift ends at the same time.
    start_time             TIME         NOT NULL,
    duration_minutes       SMALLINT UNSIGNED NOT NULL,
    apparatus_id           BINARY(16)   NULL,
    location_id            BINARY(16)   NULL,
    -- JSON array of seats: [{"name": "Driver", "required": true, "course_id": "…" | null}].
    positions              TEXT         NOT NULL,
    min_staffing           TINYINT UNSIGNED NOT NULL DEFAULT 1,
    open_to_all_members    BOOLEAN      NOT NULL DEFAULT TRUE,
    -- How long before a shift an understaffed one is reported to the officers.
    staffing_warning_hours SMALLINT UNSIGNED NOT NULL DEFAULT 48,
    is_active              BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at             DATETIME(6)  NOT NULL,
    updated_at             DATETIME(6)  NOT NULL,
    UNIQUE KEY uq_shift_templates_name (organization_id, name),
    UNIQUE KEY uq_shift_templates_org_id (organization_id, id),
    CONSTRAINT fk_shift_templates_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT fk_shift_templates_apparatus FOREIGN KEY (organization_id, apparatus_id)
        REFERENCES basic_apparatus (organization_id, id),
    CONSTRAINT fk_shift_templates_location FOREIGN KEY (organization_id, location_id)
        REFERENCES locations (organization_id, id),
    CONSTRAINT ck_shift_templates_duration CHECK (duration_minutes BETWEEN 30 AND 2880),
    CONSTRAINT ck_shift_templates_staffing CHECK (min_staffing <= 20),
    CONSTRAINT ck_shift_templates_warning CHECK (staffing_warning_hours <= 720)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE shift_patterns (
    id              BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id BINARY(16)   NOT NULL,
    name            VARCHAR(100) NOT NULL,
    template_id     BINARY(16)   NOT NULL,
    pattern_type    VARCHAR(12)  NOT NULL,
    -- weekly: the days, 0 = Sunday, e.g. "1,3,5".
    weekdays        VARCHAR(20)  NULL,
    -- platoon/custom: the day-by-day sequence of platoon letters ('-' for no shift), repeated
    -- from start_date, e.g. "ABC" for 24/48; and the preset it came from, if any.
    sequence        VARCHAR(64)  NULL,
    preset          VARCHAR(16)  NULL,
    start_date      DATE         NOT NULL,
    end_date        DATE         NULL,
    is_active       BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at      DATETIME(6)  NOT NULL,
    updated_at      DATETIME(6)  NOT NULL,
    UNIQUE KEY uq_shift_patterns_name (organization_id, name),
    UNIQUE KEY uq_shift_patterns_org_id (organization_id, id),
    CONSTRAINT fk_shift_patterns_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT fk_shift_patterns_template FOREIGN KEY (organization_id, template_id)
        REFERENCES shift_templates (organization_id, id),
    CONSTRAINT ck_shift_patterns_type CHECK (pattern_type IN ('daily', 'weekly', 'platoon',
        'custom')),
    CONSTRAINT ck_shift_patterns_dates CHECK (end_date IS NULL OR end_date >= start_date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Who rides with a platoon: generation seats them on their platoon's shifts.
CREATE TABLE shift_pattern_members (
    organization_id BINARY(16)   NOT NULL,
    pattern_id      BINARY(16)   NOT NULL,
    user_id         BINARY(16)   NOT NULL,
    platoon         CHAR(1)      NOT NULL,
    -- The seat they take by preference (its name); NULL: the first free one they may take.
    position        VARCHAR(50)  NULL,
    PRIMARY KEY (pattern_id, user_id),
    CONSTRAINT fk_shift_pattern_members_pattern FOREIGN KEY (organization_id, pattern_id)
        REFERENCES shift_patterns (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT fk_shift_pattern_members_user FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id),
    CONSTRAINT ck_shift_pattern_members_platoon CHECK (platoon BETWEEN 'A' AND 'D')
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE shifts (
    id                     BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id        BINARY(16)   NOT NULL,
    title                  VARCHAR(100) NOT NULL,
    -- The department's calendar day the shift starts on.
    shift_date             DATE         NOT NULL,
    starts_at              DATETIME(6)  NOT NULL,
    ends_at                DATETIME(6)  NOT NULL,
    template_id            BINARY(16)   NULL,
    pattern_id             BINARY(16)   NULL,
    platoon                CHAR(1)      NULL,
    apparatus_id           BINARY(16)   NULL,
    location_id            BINARY(16)   NULL,
    shift_officer_id       BINARY(16)   NULL,
    -- The seats, as on the template when the shift was made.
    positions              TEXT         NOT NULL,
    min_staffing           TINYINT UNSIGNED NOT NULL DEFAULT 1,
    open_to_all_members    BOOLEAN      NOT NULL DEFAULT TRUE,
    staffing_warning_hours SMALLINT UNSIGNED NOT NULL DEFAULT 48,
    staffing_warned_at     DATETIME(6)  NULL,
    notes                  VARCHAR(2000) NULL,
    status                 VARCHAR(12)  NOT NULL DEFAULT 'scheduled',
    cancellation_reason    VARCHAR(500) NULL,
    call_count             SMALLINT UNSIGNED NULL,
    finalized_at           DATETIME(6)  NULL,
    finalized_by           BINARY(16)   NULL,
    created_by             BINARY(16)   NULL,
    created_at             DATETIME(6)  NOT NULL,
    updated_at             DATETIME(6)  NOT NULL,
    UNIQUE KEY uq_shifts_org_id (organization_id, id),
    -- Generating a range twice makes each shift once.
    UNIQUE KEY uq_shifts_pattern_start (organization_id, pattern_id, starts_at),
    KEY ix_shifts_time (organization_id, starts_at),
    CONSTRAINT fk_shifts_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT fk_shifts_template FOREIGN KEY (organization_id, template_id)
        REFERENCES shift_templates (organization_id, id),
    CONSTRAINT fk_shifts_pattern FOREIGN KEY (organization_id, pattern_id)
        REFERENCES shift_patterns (organization_id, id),
    CONSTRAINT fk_shifts_apparatus FOREIGN KEY (organization_id, apparatus_id)
        REFERENCES basic_apparatus (organization_id, id),
    CONSTRAINT fk_shifts_location FOREIGN KEY (organization_id, location_id)
        REFERENCES locations (organization_id, id),
    CONSTRAINT fk_shifts_officer FOREIGN KEY (organization_id, shift_officer_id)
        REFERENCES users (organization_id, id),
    CONSTRAINT ck_shifts_status CHECK (status IN ('scheduled', 'cancelled')),
    CONSTRAINT ck_shifts_span CHECK (ends_at > starts_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE shift_assignments (
    id               BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id  BINARY(16)   NOT NULL,
    shift_id         BINARY(16)   NOT NULL,
    user_id          BINARY(16)   NOT NULL,
    -- The seat's index in the shift's positions, and its name then.
    seat             TINYINT UNSIGNED NOT NULL,
    position         VARCHAR(50)  NOT NULL,
    status           VARCHAR(12)  NOT NULL,
    assigned_by      BINARY(16)   NULL,
    confirmed_at     DATETIME(6)  NULL,
    reminder_sent_at DATETIME(6)  NULL,
    attended         BOOLEAN      NULL,
    created_at       DATETIME(6)  NOT NULL,
    updated_at       DATETIME(6)  NOT NULL,
    -- A seat holds one member, and a member one seat, while the assignment stands.
    live_seat        TINYINT UNSIGNED AS (IF(status IN ('assigned', 'pending', 'confirmed'),
                                             seat, NULL)) VIRTUAL,
    live_user        BINARY(16)   AS (IF(status IN ('assigned', 'pending', 'confirmed'),
                                         user_id, NULL)) VIRTUAL,
    UNIQUE KEY uq_shift_assignments_seat (shift_id, live_seat),
    UNIQUE KEY uq_shift_assignments_user (shift_id, live_user),
    UNIQUE KEY uq_shift_assignments_org_id (organization_id, id),
    KEY ix_shift_assignments_member (organization_id, user_id, status),
    CONSTRAINT fk_shift_assignments_shift FOREIGN KEY (organization_id, shift_id)
        REFERENCES shifts (organization_id, id),
    CONSTRAINT fk_shift_assignments_user FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id),
    CONSTRAINT ck_shift_assignments_status CHECK (status IN ('assigned', 'pending',
        'confirmed', 'declined', 'cancelled', 'no_show'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The training records a closed-out shift gave its members (a shift, and a call per call),
-- voided when the shift is reopened.
CREATE TABLE shift_credits (
    organization_id    BINARY(16) NOT NULL,
    shift_id           BINARY(16) NOT NULL,
    user_id            BINARY(16) NOT NULL,
    training_record_id BINARY(16) NOT NULL PRIMARY KEY,
    KEY ix_shift_credits_shift (organization_id, shift_id),
    CONSTRAINT fk_shift_credits_shift FOREIGN KEY (organization_id, shift_id)
        REFERENCES shifts (organization_id, id),
    CONSTRAINT fk_shift_credits_user FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id),
    CONSTRAINT fk_shift_credits_record FOREIGN KEY (organization_id, training_record_id)
        REFERENCES training_records (organization_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE swap_requests (
    id                   BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id      BINARY(16)   NOT NULL,
    requested_by         BINARY(16)   NOT NULL,
    -- The requester's seat, and either the other member's seat to trade it for, or the member
    -- who takes it over.
    assignment_id        BINARY(16)   NOT NULL,
    other_assignment_id  BINARY(16)   NULL,
    target_user_id       BINARY(16)   NOT NULL,
    reason               VARCHAR(500) NULL,
    status               VARCHAR(12)  NOT NULL DEFAULT 'pending',
    reviewed_by          BINARY(16)   NULL,
    reviewed_at          DATETIME(6)  NULL,
    reviewer_notes       VARCHAR(500) NULL,
    created_at           DATETIME(6)  NOT NULL,
    updated_at           DATETIME(6)  NOT NULL,
    UNIQUE KEY uq_swap_requests_org_id (organization_id, id),
    KEY ix_swap_requests_status (organization_id, status, created_at),
    CONSTRAINT fk_swap_requests_requester FOREIGN KEY (organization_id, requested_by)
        REFERENCES users (organization_id, id),
    CONSTRAINT fk_swap_requests_target FOREIGN KEY (organization_id, target_user_id)
        REFERENCES users (organization_id, id),
    CONSTRAINT fk_swap_requests_assignment FOREIGN KEY (organization_id, assignment_id)
        REFERENCES shift_assignments (organization_id, id),
    CONSTRAINT fk_swap_requests_other FOREIGN KEY (organization_id, other_assignment_id)
        REFERENCES shift_assignments (organization_id, id),
    CONSTRAINT ck_swap_requests_status CHECK (status IN ('pending', 'approved', 'denied',
        'cancelled'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE time_off_requests (
    id              BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id BINARY(16)   NOT NULL,
    user_id         BINARY(16)   NOT NULL,
    start_date      DATE         NOT NULL,
    end_date        DATE         NOT NULL,
    reason          VARCHAR(500) NULL,
    status          VARCHAR(12)  NOT NULL DEFAULT 'pending',
    reviewed_by     BINARY(16)   NULL,
    reviewed_at     DATETIME(6)  NULL,
    reviewer_notes  VARCHAR(500) NULL,
    created_at      DATETIME(6)  NOT NULL,
    updated_at      DATETIME(6)  NOT NULL,
    UNIQUE KEY uq_time_off_org_id (organization_id, id),
    KEY ix_time_off_member (organization_id, user_id, start_date),
    CONSTRAINT fk_time_off_user FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id),
    CONSTRAINT ck_time_off_status CHECK (status IN ('pending', 'approved', 'denied',
        'cancelled')),
    CONSTRAINT ck_time_off_dates CHECK (end_date >= start_date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
