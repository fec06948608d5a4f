-- Minutes and meetings (reference/features.md §1.9): the secretary's legal record. A meeting's
-- minutes are written from a template's sections, go draft → submitted → approved | rejected,
-- and are locked once approved; motions and action items belong to them, and so does the
-- meeting's attendance (present / excused), which feeds voting eligibility.

CREATE TABLE minute_templates (
    id              BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id BINARY(16)   NOT NULL,
    name            VARCHAR(120) NOT NULL,
    -- business | special | committee | board | annual | other
    meeting_type    VARCHAR(16)  NOT NULL,
    is_default      BOOLEAN      NOT NULL DEFAULT FALSE,
    -- JSON array of section titles, in order.
    sections        TEXT         NOT NULL,
    created_at      DATETIME(6)  NOT NULL,
    updated_at      DATETIME(6)  NOT NULL,
    UNIQUE KEY uq_minute_templates_name (organization_id, name),
    UNIQUE KEY uq_minute_templates_org_id (organization_id, id),
    CONSTRAINT fk_minute_templates_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT ck_minute_templates_type CHECK (meeting_type IN ('business', 'special',
        'committee', 'board', 'annual', 'other'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE meeting_minutes (
    id                    BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id       BINARY(16)   NOT NULL,
    title                 VARCHAR(200) NOT NULL,
    meeting_type          VARCHAR(16)  NOT NULL,
    meeting_date          DATE         NOT NULL,
    location              VARCHAR(200) NULL,
    presiding             VARCHAR(120) NULL,
    -- Local times of the department ("19:02").
    called_to_order_at    TIME         NULL,
    adjourned_at          TIME         NULL,
    quorum_met            BOOLEAN      NULL,
    template_id           BINARY(16)   NULL,
    -- The business-meeting event whose check-ins are this meeting's attendance.
    event_id              BINARY(16)   NULL,
    -- draft | submitted | approved | rejected
    status                VARCHAR(16)  NOT NULL,
    -- Bumped by every change to the minutes' content: an edit made from an older copy is refused.
    revision              INT UNSIGNED NOT NULL DEFAULT 1,
    submitted_by          BINARY(16)   NULL,
    submitted_at          DATETIME(6)  NULL,
    approved_by           BINARY(16)   NULL,
    approved_at           DATETIME(6)  NULL,
    rejected_by           BINARY(16)   NULL,
    rejected_at           DATETIME(6)  NULL,
    rejection_reason      VARCHAR(1000) NULL,
    published_document_id BINARY(16)   NULL,
    created_by            BINARY(16)   NULL,
    created_at            DATETIME(6)  NOT NULL,
    updated_at            DATETIME(6)  NOT NULL,
    UNIQUE KEY uq_meeting_minutes_org_id (organization_id, id),
    -- One set of minutes per event.
    UNIQUE KEY uq_meeting_minutes_event (organization_id, event_id),
    KEY ix_meeting_minutes_date (organization_id, meeting_date),
    CONSTRAINT fk_meeting_minutes_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT fk_meeting_minutes_template FOREIGN KEY (organization_id, template_id)
        REFERENCES minute_templates (organization_id, id),
    CONSTRAINT fk_meeting_minutes_event FOREIGN KEY (organization_id, event_id)
        REFERENCES events (organization_id, id),
    CONSTRAINT fk_meeting_minutes_document FOREIGN KEY (published_document_id)
        REFERENCES documents (id),
    CONSTRAINT ck_meeting_minutes_type CHECK (meeting_type IN ('business', 'special',
        'committee', 'board', 'annual', 'other')),
    CONSTRAINT ck_meeting_minutes_status CHECK (status IN ('draft', 'submitted', 'approved',
        'rejected'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE minute_sections (
    id              BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id BINARY(16)   NOT NULL,
    minutes_id      BINARY(16)   NOT NULL,
    sort_order      SMALLINT     NOT NULL,
    title           VARCHAR(120) NOT NULL,
    body            TEXT         NOT NULL,
    KEY ix_minute_sections_minutes (organization_id, minutes_id, sort_order),
    CONSTRAINT fk_minute_sections_minutes FOREIGN KEY (organization_id, minutes_id)
        REFERENCES meeting_minutes (organization_id, id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE meeting_motions (
    id              BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id BINARY(16)   NOT NULL,
    minutes_id      BINARY(16)   NOT NULL,
    sort_order      SMALLINT     NOT NULL,
    motion_text     VARCHAR(2000) NOT NULL,
    moved_by        BINARY(16)   NULL,
    seconded_by     BINARY(16)   NULL,
    -- passed | failed | tabled | withdrawn
    result          VARCHAR(12)  NOT NULL,
    votes_for       SMALLINT UNSIGNED NULL,
    votes_against   SMALLINT UNSIGNED NULL,
    votes_abstain   SMALLINT UNSIGNED NULL,
    created_at      DATETIME(6)  NOT NULL,
    KEY ix_meeting_motions_minutes (organization_id, minutes_id, sort_order),
    CONSTRAINT fk_meeting_motions_minutes FOREIGN KEY (organization_id, minutes_id)
        REFERENCES meeting_minutes (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT fk_meeting_motions_moved FOREIGN KEY (organization_id, moved_by)
        REFERENCES users (organization_id, id),
    CONSTRAINT fk_meeting_motions_seconded FOREIGN KEY (organization_id, seconded_by)
        REFERENCES users (organization_id, id),
    CONSTRAINT ck_meeting_motions_result CHECK (result IN ('passed', 'failed', 'tabled',
        'withdrawn'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE minutes_action_items (
    id              BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id BINARY(16)   NOT NULL,
    minutes_id      BINARY(16)   NOT NULL,
    description     VARCHAR(1000) NOT NULL,
    assignee_id     BINARY(16)   NOT NULL,
    due_date        DATE         NULL,
    -- low | medium | high | urgent
    priority        VARCHAR(8)   NOT NULL,
    -- pending | in_progress | completed | cancelled
    status          VARCHAR(12)  NOT NULL,
    completed_at    DATETIME(6)  NULL,
    created_by      BINARY(16)   NULL,
    created_at      DATETIME(6)  NOT NULL,
    updated_at      DATETIME(6)  NOT NULL,
    UNIQUE KEY uq_minutes_action_items_org_id (organization_id, id),
    KEY ix_minutes_action_items_minutes (organization_id, minutes_id),
    KEY ix_minutes_action_items_due (organization_id, status, due_date),
    KEY ix_minutes_action_items_assignee (organization_id, assignee_id, status),
    CONSTRAINT fk_minutes_action_items_minutes FOREIGN KEY (organization_id, minutes_id)
        REFERENCES meeting_minutes (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT fk_minutes_action_items_assignee FOREIGN KEY (organization_id, assignee_id)
        REFERENCES users (organization_id, id),
    CONSTRAINT ck_minutes_action_items_priority CHECK (priority IN ('low', 'medium', 'high',
        'urgent')),
    CONSTRAINT ck_minutes_action_items_status CHECK (status IN ('pending', 'in_progress',
        'completed', 'cancelled'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The meeting's attendance: a member present or excused. Absent is no row. A meeting linked to
-- an event reads `present` from the event's check-ins until its minutes are approved, when they
-- are written here, so approved minutes keep the attendance they were approved with.
CREATE TABLE meeting_attendance (
    organization_id BINARY(16)   NOT NULL,
    minutes_id      BINARY(16)   NOT NULL,
    user_id         BINARY(16)   NOT NULL,
    -- present | excused
    attendance      VARCHAR(8)   NOT NULL,
    excuse          VARCHAR(300) NULL,
    PRIMARY KEY (minutes_id, user_id),
    KEY ix_meeting_attendance_member (organization_id, user_id),
    CONSTRAINT fk_meeting_attendance_minutes FOREIGN KEY (organization_id, minutes_id)
        REFERENCES meeting_minutes (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT fk_meeting_attendance_user FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id),
    CONSTRAINT ck_meeting_attendance CHECK (attendance IN ('present', 'excused'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A tier may require meeting attendance to vote: at least `voting_min_attendance_pct` percent of
-- the meetings in the last `voting_attendance_months` months.
ALTER TABLE membership_tiers
    ADD COLUMN voting_min_attendance_pct TINYINT UNSIGNED NULL AFTER voting_eligible,
    ADD COLUMN voting_attendance_months  TINYINT UNSIGNED NOT NULL DEFAULT 12
        AFTER voting_min_attendance_pct,
    ADD CONSTRAINT ck_membership_tiers_attendance CHECK (voting_min_attendance_pct IS NULL OR
        voting_min_attendance_pct BETWEEN 1 AND 100),
    ADD CONSTRAINT ck_membership_tiers_attendance_months CHECK (voting_attendance_months
        BETWEEN 1 AND 60);

-- A generated document's readable content (published minutes), shown on its page.
ALTER TABLE documents ADD COLUMN content_html MEDIUMTEXT NULL AFTER source_id;
