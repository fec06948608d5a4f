-- First-boot setup: the wizard's progress (one row), and the stations and apparatus it can create.

-- The setup wizard keeps its progress here, so a restart (or a power cut) mid-way loses nothing.
-- `draft` is JSON: the answers given so far (the administrator's password only as its Argon2 hash,
-- the SMTP password only encrypted with the server's key). Nothing in the rest of the database is
-- created until the last step, in one transaction, which also sets `completed_at`: from then on
-- setup is locked for good and the draft is emptied.
CREATE TABLE setup_state (
    id                    TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    draft                 MEDIUMTEXT   NOT NULL,
    completed_at          DATETIME(6)  NULL,
    completed_org_id      BINARY(16)   NULL,
    updated_at            DATETIME(6)  NOT NULL,
    CONSTRAINT ck_setup_state_single CHECK (id = 1)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Stations, rooms and addresses. Events, shifts and facilities refer to them.
CREATE TABLE locations (
    id              BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id BINARY(16)   NOT NULL,
    name            VARCHAR(200) NOT NULL,
    station_number  VARCHAR(20)  NULL,
    address_line1   VARCHAR(200) NULL,
    address_line2   VARCHAR(200) NULL,
    city            VARCHAR(100) NULL,
    state           VARCHAR(64)  NULL,
    postal_code     VARCHAR(20)  NULL,
    building        VARCHAR(100) NULL,
    floor           VARCHAR(20)  NULL,
    room_number     VARCHAR(20)  NULL,
    capacity        INT UNSIGNED NULL,
    is_station      BOOLEAN      NOT NULL DEFAULT TRUE,
    active          BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at      DATETIME(6)  NOT NULL,
    updated_at      DATETIME(6)  NOT NULL,
    UNIQUE KEY uq_locations_org_name (organization_id, name),
    UNIQUE KEY uq_locations_org_id (organization_id, id),
    CONSTRAINT fk_locations_org FOREIGN KEY (organization_id) REFERENCES organizations (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Lightweight vehicle records (scheduling seats them; the apparatus module adds the rest).
CREATE TABLE basic_apparatus (
    id              BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id BINARY(16)   NOT NULL,
    unit_number     VARCHAR(20)  NOT NULL,
    name            VARCHAR(100) NULL,
    apparatus_type  VARCHAR(20)  NOT NULL,
    min_staffing    TINYINT UNSIGNED NOT NULL DEFAULT 1,
    -- JSON array of riding positions, e.g. ["Officer", "Driver", "Firefighter", "Firefighter"].
    positions       TEXT         NOT NULL,
    location_id     BINARY(16)   NULL,
    is_active       BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at      DATETIME(6)  NOT NULL,
    updated_at      DATETIME(6)  NOT NULL,
    UNIQUE KEY uq_basic_apparatus_org_unit (organization_id, unit_number),
    CONSTRAINT fk_basic_apparatus_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    -- A vehicle's station is in its own organization.
    CONSTRAINT fk_basic_apparatus_location FOREIGN KEY (organization_id, location_id)
        REFERENCES locations (organization_id, id),
    CONSTRAINT ck_basic_apparatus_type CHECK (apparatus_type IN ('engine', 'ladder', 'rescue',
        'ambulance', 'brush', 'tanker', 'battalion', 'utility', 'boat', 'other')),
    CONSTRAINT ck_basic_apparatus_staffing CHECK (min_staffing BETWEEN 1 AND 20)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
