-- Events (features.md §1.5): drills, meetings and the rest, one row per occurrence (a series'
-- occurrences share series_id, the first occurrence's id); who answers and who came
-- (event_attendees); reusable defaults (event_templates); and a member's calendar feed.
-- Times are UTC; the department's zone turns them into its days and hours.

CREATE TABLE event_templates (
    id                  BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id     BINARY(16)   NOT NULL,
    name                VARCHAR(200) NOT NULL,
    title               VARCHAR(200) NOT NULL,
    event_type          VARCHAR(24)  NOT NULL,
    description         TEXT         NULL,
    duration_minutes    SMALLINT UNSIGNED NOT NULL,
    location_id         BINARY(16)   NULL,
    course_id           BINARY(16)   NULL,
    requires_rsvp       BOOLEAN      NOT NULL,
    is_mandatory        BOOLEAN      NOT NULL,
    max_attendees       INT UNSIGNED NULL,
    reminder_hours      SMALLINT UNSIGNED NULL,
    reminder_target     VARCHAR(8)   NOT NULL,
    check_in_window     VARCHAR(10)  NOT NULL,
    created_at          DATETIME(6)  NOT NULL,
    updated_at          DATETIME(6)  NOT NULL,
    UNIQUE KEY uq_event_templates_org_name (organization_id, name),
    UNIQUE KEY uq_event_templates_org_id (organization_id, id),
    CONSTRAINT fk_event_templates_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT fk_event_templates_location FOREIGN KEY (organization_id, location_id)
        REFERENCES locations (organization_id, id),
    CONSTRAINT fk_event_templates_course FOREIGN KEY (organization_id, course_id)
        REFERENCES training_courses (organization_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE events (
    id                  BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id     BINARY(16)   NOT NULL,
    title               VARCHAR(200) NOT NULL,
    event_type          VARCHAR(24)  NOT NULL,
    description         TEXT         NULL,
    location_id         BINARY(16)   NULL,
    -- Somewhere that is not one of the department's locations ("Town hall").
    location_text       VARCHAR(200) NULL,
    starts_at           DATETIME(6)  NOT NULL,
    ends_at             DATETIME(6)  NOT NULL,
    requires_rsvp       BOOLEAN      NOT NULL,
    rsvp_deadline       DATETIME(6)  NULL,
    -- Going answers beyond this wait on a list, promoted in turn when a place frees.
    max_attendees       INT UNSIGNED NULL,
    is_mandatory        BOOLEAN      NOT NULL,
    -- Hours before the start; NULL: no reminder. Sent once (reminder_sent_at).
    reminder_hours      SMALLINT UNSIGNED NULL,
    reminder_target     VARCHAR(8)   NOT NULL,
    reminder_sent_at    DATETIME(6)  NULL,
    check_in_window     VARCHAR(10)  NOT NULL,
    -- The secret in the event's QR code: self check-in needs it (proof of being there).
    check_in_code       CHAR(22)     NOT NULL,
    -- A training event credits those present with this course when finalized.
    course_id           BINARY(16)   NULL,
    series_id           BINARY(16)   NULL,
    -- The series' rule in words, for the page ("Monthly on the 2nd Tuesday until …").
    recurrence          VARCHAR(200) NULL,
    template_id         BINARY(16)   NULL,
    is_draft            BOOLEAN      NOT NULL,
    cancelled_at        DATETIME(6)  NULL,
    cancellation_reason VARCHAR(500) NULL,
    finalized_at        DATETIME(6)  NULL,
    finalized_by        BINARY(16)   NULL,
    created_by          BINARY(16)   NULL,
    created_at          DATETIME(6)  NOT NULL,
    updated_at          DATETIME(6)  NOT NULL,
    UNIQUE KEY uq_events_org_id (organization_id, id),
    UNIQUE KEY uq_events_code (check_in_code),
    KEY ix_events_org_start (organization_id, starts_at),
    KEY ix_events_org_series (organization_id, series_id, starts_at),
    KEY ix_events_reminders (reminder_sent_at, starts_at),
    KEY ix_events_location (organization_id, location_id, starts_at),
    CONSTRAINT fk_events_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT fk_events_location FOREIGN KEY (organization_id, location_id)
        REFERENCES locations (organization_id, id),
    CONSTRAINT fk_events_course FOREIGN KEY (organization_id, course_id)
        REFERENCES training_courses (organization_id, id),
    CONSTRAINT fk_events_template FOREIGN KEY (organization_id, template_id)
        REFERENCES event_templates (organization_id, id),
    CONSTRAINT ck_events_type CHECK (event_type IN ('business_meeting', 'public_education',
        'training', 'social', 'fundraiser', 'ceremony', 'recruitment', 'other')),
    CONSTRAINT ck_events_target CHECK (reminder_target IN ('going', 'all', 'none')),
    CONSTRAINT ck_events_window CHECK (check_in_window IN ('flexible', 'strict', 'window')),
    CONSTRAINT ck_events_times CHECK (ends_at > starts_at),
    CONSTRAINT ck_events_cancel CHECK (cancelled_at IS NULL OR cancellation_reason IS NOT NULL)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per member and event: the answer, and the attendance. An officer's fix keeps who and
-- why; a finalized training event's record is named here, so finalizing twice makes nothing twice.
CREATE TABLE event_attendees (
    id                  BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id     BINARY(16)   NOT NULL,
    event_id            BINARY(16)   NOT NULL,
    user_id             BINARY(16)   NOT NULL,
    -- NULL: no answer (checked in by an officer without one).
    rsvp_status         VARCHAR(12)  NULL,
    responded_at        DATETIME(6)  NULL,
    checked_in_at       DATETIME(6)  NULL,
    checked_out_at      DATETIME(6)  NULL,
    checked_in_by       BINARY(16)   NULL,
    override_by         BINARY(16)   NULL,
    override_reason     VARCHAR(500) NULL,
    override_at         DATETIME(6)  NULL,
    training_record_id  BINARY(16)   NULL,
    created_at          DATETIME(6)  NOT NULL,
    updated_at          DATETIME(6)  NOT NULL,
    UNIQUE KEY uq_event_attendees_member (event_id, user_id),
    UNIQUE KEY uq_event_attendees_org_id (organization_id, id),
    KEY ix_event_attendees_user (organization_id, user_id),
    KEY ix_event_attendees_wait (event_id, rsvp_status, responded_at),
    CONSTRAINT fk_event_attendees_event FOREIGN KEY (organization_id, event_id)
        REFERENCES events (organization_id, id),
    CONSTRAINT fk_event_attendees_user FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id),
    CONSTRAINT fk_event_attendees_record FOREIGN KEY (organization_id, training_record_id)
        REFERENCES training_records (organization_id, id),
    CONSTRAINT ck_event_attendees_rsvp CHECK (rsvp_status IS NULL OR rsvp_status IN ('going',
        'not_going', 'maybe', 'waitlisted')),
    CONSTRAINT ck_event_attendees_out CHECK (checked_out_at IS NULL OR
        (checked_in_at IS NOT NULL AND checked_out_at >= checked_in_at))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A member's calendar feed: only the SHA-256 of the secret in the URL is kept; a new link
-- replaces the old (which stops working), revoking deletes the row.
CREATE TABLE calendar_feeds (
    user_id         BINARY(16)  NOT NULL PRIMARY KEY,
    organization_id BINARY(16)  NOT NULL,
    token_hash      BINARY(32)  NOT NULL,
    created_at      DATETIME(6) NOT NULL,
    last_used_at    DATETIME(6) NULL,
    UNIQUE KEY uq_calendar_feeds_token (token_hash),
    CONSTRAINT fk_calendar_feeds_user FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
