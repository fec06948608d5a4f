-- Inventory (features.md §1.7): categories, items (one of a kind, or a pool counted in
-- units), who holds what (assignments, checkouts, issuances from a pool), allowances per
-- category, and maintenance with the next due date.

CREATE TABLE inventory_categories (
    id                       BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id          BINARY(16)   NOT NULL,
    name                     VARCHAR(100) NOT NULL,
    item_type                VARCHAR(20)  NOT NULL,
    requires_serial_number   BOOLEAN      NOT NULL DEFAULT FALSE,
    requires_maintenance     BOOLEAN      NOT NULL DEFAULT FALSE,
    nfpa_tracking_enabled    BOOLEAN      NOT NULL DEFAULT FALSE,
    -- The inspection or test cycle of the category's items (NULL: none), e.g. 365 days for the
    -- NFPA 1851 advanced inspection; an item may set its own.
    inspection_interval_days SMALLINT UNSIGNED NULL,
    -- Items are retired this many years after they were made (NFPA: PPE 10, SCBA cylinders 15).
    retire_after_years       TINYINT UNSIGNED NULL,
    active                   BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at               DATETIME(6)  NOT NULL,
    updated_at               DATETIME(6)  NOT NULL,
    UNIQUE KEY uq_inventory_categories_org_name (organization_id, name),
    UNIQUE KEY uq_inventory_categories_org_id (organization_id, id),
    CONSTRAINT fk_inventory_categories_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT ck_inventory_categories_type CHECK (item_type IN ('uniform', 'ppe', 'tool',
        'equipment', 'vehicle', 'electronics', 'consumable', 'medical', 'other')),
    CONSTRAINT ck_inventory_categories_interval CHECK (inspection_interval_days IS NULL
        OR inspection_interval_days BETWEEN 1 AND 3660),
    CONSTRAINT ck_inventory_categories_retire CHECK (retire_after_years IS NULL
        OR retire_after_years BETWEEN 1 AND 50)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The last item number given per department: items are INV-000001, INV-000002, … in each.
CREATE TABLE inventory_counters (
    organization_id BINARY(16)   NOT NULL PRIMARY KEY,
    last_number     INT UNSIGNED NOT NULL,
    CONSTRAINT fk_inventory_counters_org FOREIGN KEY (organization_id) REFERENCES organizations (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE inventory_items (
    id                       BINARY(16)    NOT NULL PRIMARY KEY,
    organization_id          BINARY(16)    NOT NULL,
    item_number              INT UNSIGNED  NOT NULL,
    category_id              BINARY(16)    NULL,
    name                     VARCHAR(200)  NOT NULL,
    description              TEXT          NULL,
    manufacturer             VARCHAR(100)  NULL,
    model                    VARCHAR(100)  NULL,
    serial_number            VARCHAR(100)  NULL,
    asset_tag                VARCHAR(100)  NULL,
    barcode                  VARCHAR(100)  NOT NULL,
    manufactured_date        DATE          NULL,
    purchase_date            DATE          NULL,
    purchase_price           DECIMAL(12,2) NULL,
    replacement_cost         DECIMAL(12,2) NULL,
    size                     VARCHAR(50)   NULL,
    color                    VARCHAR(50)   NULL,
    location_id              BINARY(16)    NULL,
    storage_area             VARCHAR(200)  NULL,
    `condition`              VARCHAR(20)   NOT NULL,
    status                   VARCHAR(20)   NOT NULL,
    tracking_type            VARCHAR(10)   NOT NULL,
    -- A pool's units on hand in all (individual items: 1) and how many are out with members.
    quantity                 INT UNSIGNED  NOT NULL DEFAULT 1,
    quantity_issued          INT UNSIGNED  NOT NULL DEFAULT 0,
    reorder_point            INT UNSIGNED  NULL,
    inspection_interval_days SMALLINT UNSIGNED NULL,
    next_inspection_due      DATE          NULL,
    -- Who holds it now (an assignment or a checkout), for lists; the open row says how.
    holder_id                BINARY(16)    NULL,
    notes                    TEXT          NULL,
    created_at               DATETIME(6)   NOT NULL,
    updated_at               DATETIME(6)   NOT NULL,
    UNIQUE KEY uq_inventory_items_org_number (organization_id, item_number),
    UNIQUE KEY uq_inventory_items_org_barcode (organization_id, barcode),
    UNIQUE KEY uq_inventory_items_org_serial (organization_id, serial_number),
    UNIQUE KEY uq_inventory_items_org_tag (organization_id, asset_tag),
    UNIQUE KEY uq_inventory_items_org_id (organization_id, id),
    KEY ix_inventory_items_org_status (organization_id, status),
    KEY ix_inventory_items_org_due (organization_id, next_inspection_due),
    KEY ix_inventory_items_org_holder (organization_id, holder_id),
    CONSTRAINT fk_inventory_items_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT fk_inventory_items_category FOREIGN KEY (organization_id, category_id)
        REFERENCES inventory_categories (organization_id, id),
    CONSTRAINT fk_inventory_items_location FOREIGN KEY (organization_id, location_id)
        REFERENCES locations (organization_id, id),
    CONSTRAINT fk_inventory_items_holder FOREIGN KEY (organization_id, holder_id)
        REFERENCES users (organization_id, id),
    CONSTRAINT ck_inventory_items_condition CHECK (`condition` IN ('excellent', 'good', 'fair',
        'poor', 'damaged', 'out_of_service', 'retired')),
    CONSTRAINT ck_inventory_items_status CHECK (status IN ('available', 'assigned', 'checked_out',
        'in_maintenance', 'lost', 'stolen', 'retired')),
    CONSTRAINT ck_inventory_items_tracking CHECK (tracking_type IN ('individual', 'pool')),
    -- A pool never goes below zero; one of a kind is one.
    CONSTRAINT ck_inventory_items_stock CHECK (quantity_issued <= quantity),
    CONSTRAINT ck_inventory_items_single CHECK (tracking_type = 'pool' OR quantity = 1),
    CONSTRAINT ck_inventory_items_money CHECK ((purchase_price IS NULL OR purchase_price >= 0)
        AND (replacement_cost IS NULL OR replacement_cost >= 0))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every move of an item locks its row first and checks its status there, so an item is never
-- in two hands (no generated columns: backups restore every column as it was dumped).

-- An individual item given to a member to keep (permanent) or for a while (temporary).
CREATE TABLE item_assignments (
    id                   BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id      BINARY(16)   NOT NULL,
    item_id              BINARY(16)   NOT NULL,
    user_id              BINARY(16)   NOT NULL,
    assignment_type      VARCHAR(10)  NOT NULL,
    assigned_at          DATETIME(6)  NOT NULL,
    assigned_by          BINARY(16)   NULL,
    expected_return_date DATE         NULL,
    returned_at          DATETIME(6)  NULL,
    returned_by          BINARY(16)   NULL,
    return_condition     VARCHAR(20)  NULL,
    notes                VARCHAR(500) NULL,
    KEY ix_item_assignments_item (organization_id, item_id, assigned_at),
    KEY ix_item_assignments_user (organization_id, user_id, assigned_at),
    CONSTRAINT fk_item_assignments_item FOREIGN KEY (organization_id, item_id)
        REFERENCES inventory_items (organization_id, id),
    CONSTRAINT fk_item_assignments_user FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id),
    CONSTRAINT ck_item_assignments_type CHECK (assignment_type IN ('permanent', 'temporary'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- An individual item out for a while, due back at expected_return_at.
CREATE TABLE inventory_checkouts (
    id                 BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id    BINARY(16)   NOT NULL,
    item_id            BINARY(16)   NOT NULL,
    user_id            BINARY(16)   NOT NULL,
    checked_out_at     DATETIME(6)  NOT NULL,
    checked_out_by     BINARY(16)   NULL,
    expected_return_at DATETIME(6)  NOT NULL,
    checkout_condition VARCHAR(20)  NOT NULL,
    checked_in_at      DATETIME(6)  NULL,
    checked_in_by      BINARY(16)   NULL,
    return_condition   VARCHAR(20)  NULL,
    damage_notes       VARCHAR(1000) NULL,
    notes              VARCHAR(500) NULL,
    KEY ix_inventory_checkouts_item (organization_id, item_id, checked_out_at),
    KEY ix_inventory_checkouts_user (organization_id, user_id, checked_out_at),
    KEY ix_inventory_checkouts_due (organization_id, checked_in_at, expected_return_at),
    CONSTRAINT fk_inventory_checkouts_item FOREIGN KEY (organization_id, item_id)
        REFERENCES inventory_items (organization_id, id),
    CONSTRAINT fk_inventory_checkouts_user FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id),
    CONSTRAINT ck_inventory_checkouts_due CHECK (expected_return_at > checked_out_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Units of a pool item (gloves, hoods, shirts) given to a member; returned whole.
CREATE TABLE item_issuances (
    id               BINARY(16)    NOT NULL PRIMARY KEY,
    organization_id  BINARY(16)    NOT NULL,
    item_id          BINARY(16)    NOT NULL,
    user_id          BINARY(16)    NOT NULL,
    quantity         INT UNSIGNED  NOT NULL,
    issued_at        DATETIME(6)   NOT NULL,
    issued_by        BINARY(16)    NULL,
    unit_cost        DECIMAL(12,2) NULL,
    -- Set when an officer issued past the member's allowance: why.
    override_reason  VARCHAR(500)  NULL,
    returned_at      DATETIME(6)   NULL,
    returned_by      BINARY(16)    NULL,
    return_condition VARCHAR(20)   NULL,
    KEY ix_item_issuances_item (organization_id, item_id, issued_at),
    KEY ix_item_issuances_user (organization_id, user_id, issued_at),
    CONSTRAINT fk_item_issuances_item FOREIGN KEY (organization_id, item_id)
        REFERENCES inventory_items (organization_id, id),
    CONSTRAINT fk_item_issuances_user FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id),
    CONSTRAINT ck_item_issuances_quantity CHECK (quantity > 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- How many units of a category's pool items a member may hold: per calendar year (annual) or
-- in all (career). No allowance: no limit.
CREATE TABLE issuance_allowances (
    id              BINARY(16)    NOT NULL PRIMARY KEY,
    organization_id BINARY(16)    NOT NULL,
    category_id     BINARY(16)    NOT NULL,
    max_quantity    INT UNSIGNED  NOT NULL,
    period_type     VARCHAR(10)   NOT NULL,
    created_at      DATETIME(6)   NOT NULL,
    updated_at      DATETIME(6)   NOT NULL,
    UNIQUE KEY uq_issuance_allowances_category (organization_id, category_id),
    CONSTRAINT fk_issuance_allowances_category FOREIGN KEY (organization_id, category_id)
        REFERENCES inventory_categories (organization_id, id),
    CONSTRAINT ck_issuance_allowances_period CHECK (period_type IN ('annual', 'career'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Inspections, tests and repairs of an item; an inspection or test sets the next due date.
CREATE TABLE maintenance_records (
    id               BINARY(16)    NOT NULL PRIMARY KEY,
    organization_id  BINARY(16)    NOT NULL,
    item_id          BINARY(16)    NOT NULL,
    maintenance_type VARCHAR(30)   NOT NULL,
    performed_on     DATE          NOT NULL,
    passed           BOOLEAN       NULL,
    condition_after  VARCHAR(20)   NULL,
    performed_by     VARCHAR(200)  NULL,
    vendor_name      VARCHAR(200)  NULL,
    cost             DECIMAL(10,2) NULL,
    next_due_date    DATE          NULL,
    notes            TEXT          NULL,
    recorded_by      BINARY(16)    NULL,
    created_at       DATETIME(6)   NOT NULL,
    KEY ix_maintenance_records_item (organization_id, item_id, performed_on),
    CONSTRAINT fk_maintenance_records_item FOREIGN KEY (organization_id, item_id)
        REFERENCES inventory_items (organization_id, id),
    CONSTRAINT ck_maintenance_records_type CHECK (maintenance_type IN ('inspection', 'repair',
        'cleaning', 'testing', 'calibration', 'replacement', 'preventive', 'routine_inspection',
        'advanced_inspection', 'flow_test', 'hydrostatic_test', 'service_test',
        'decontamination')),
    CONSTRAINT ck_maintenance_records_cost CHECK (cost IS NULL OR cost >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
