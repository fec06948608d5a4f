-- Departure clearance (features.md §1.7): when a member leaves (dropped or retired) or an
-- officer starts one, everything the member holds becomes a line to resolve: returned, returned
-- damaged, written off (lost) or waived (theirs to keep). One open clearance per member: the
-- member's id sits in open_user_id while it is open (NULL once closed), unique per department.

CREATE TABLE departure_clearances (
    id              BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id BINARY(16)   NOT NULL,
    user_id         BINARY(16)   NOT NULL,
    open_user_id    BINARY(16)   NULL,
    status          VARCHAR(20)  NOT NULL,
    departure_type  VARCHAR(20)  NOT NULL,
    return_deadline DATE         NULL,
    initiated_by    BINARY(16)   NULL,
    initiated_at    DATETIME(6)  NOT NULL,
    completed_by    BINARY(16)   NULL,
    completed_at    DATETIME(6)  NULL,
    close_reason    VARCHAR(500) NULL,
    UNIQUE KEY uq_departure_clearances_open (organization_id, open_user_id),
    UNIQUE KEY uq_departure_clearances_org_id (organization_id, id),
    KEY ix_departure_clearances_user (organization_id, user_id, initiated_at),
    CONSTRAINT fk_departure_clearances_user FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id),
    CONSTRAINT ck_departure_clearances_status CHECK (status IN ('initiated', 'in_progress',
        'completed', 'closed_incomplete')),
    CONSTRAINT ck_departure_clearances_type CHECK (departure_type IN ('dropped_voluntary',
        'dropped_involuntary', 'retired', 'other'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE clearance_line_items (
    id               BINARY(16)    NOT NULL PRIMARY KEY,
    organization_id  BINARY(16)    NOT NULL,
    clearance_id     BINARY(16)    NOT NULL,
    source_type      VARCHAR(12)   NOT NULL,
    source_id        BINARY(16)    NOT NULL,
    item_id          BINARY(16)    NOT NULL,
    -- What the item was when the clearance began, kept even if the item changes later.
    item_name        VARCHAR(200)  NOT NULL,
    barcode          VARCHAR(100)  NOT NULL,
    serial_number    VARCHAR(100)  NULL,
    quantity         INT UNSIGNED  NOT NULL,
    replacement_cost DECIMAL(12,2) NULL,
    disposition      VARCHAR(20)   NOT NULL,
    resolved_at      DATETIME(6)   NULL,
    resolved_by      BINARY(16)    NULL,
    resolution_notes VARCHAR(1000) NULL,
    KEY ix_clearance_line_items_clearance (organization_id, clearance_id),
    CONSTRAINT fk_clearance_line_items_clearance FOREIGN KEY (organization_id, clearance_id)
        REFERENCES departure_clearances (organization_id, id),
    CONSTRAINT fk_clearance_line_items_item FOREIGN KEY (organization_id, item_id)
        REFERENCES inventory_items (organization_id, id),
    CONSTRAINT ck_clearance_line_items_source CHECK (source_type IN ('assignment', 'checkout',
        'issuance')),
    CONSTRAINT ck_clearance_line_items_disposition CHECK (disposition IN ('pending', 'returned',
        'returned_damaged', 'written_off', 'waived'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
