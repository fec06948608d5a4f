-- Elections (issue 22): elections with their positions and candidates, the roll of who may
-- vote on what (and whether they have), the ballots, and paper ballots entered in batches.
--
-- Secrecy by construction: `election_voters` says who voted, `ballots` what was voted, and
-- nothing joins the two. A ballot has a random (v4) id, no member, no time and no sequence
-- number; the roll row has no time either. Both are written in one transaction.

CREATE TABLE elections (
    id                          BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id             BINARY(16)   NOT NULL,
    title                       VARCHAR(200) NOT NULL,
    description                 TEXT         NULL,
    -- draft | nominations | open | closed | cancelled
    status                      VARCHAR(16)  NOT NULL DEFAULT 'draft',
    -- plurality | majority | supermajority | approval | ranked_choice
    voting_method               VARCHAR(20)  NOT NULL,
    supermajority_percent       TINYINT UNSIGNED NOT NULL DEFAULT 67,
    -- runoff | co_winners | chair_decides
    tie_policy                  VARCHAR(16)  NOT NULL DEFAULT 'runoff',
    -- JSON list of member statuses whose members are on the roll (["active"]).
    voter_statuses              VARCHAR(300) NOT NULL,
    -- Members whose membership tier is not voting-eligible are left off the roll.
    require_voting_tier         BOOLEAN      NOT NULL DEFAULT TRUE,
    results_visible_immediately BOOLEAN      NOT NULL DEFAULT FALSE,
    nomination_deadline         DATETIME(6)  NULL,
    -- Set: the lifecycle job opens (closes) the election at this moment.
    opens_at                    DATETIME(6)  NULL,
    closes_at                   DATETIME(6)  NULL,
    reminder_hours_before_close SMALLINT UNSIGNED NULL,
    parent_election_id          BINARY(16)   NULL,
    -- The head of the ballot chain and the ballots in it; never stamped with a time.
    chain_head                  CHAR(64)     NULL,
    ballot_count                INT UNSIGNED NOT NULL DEFAULT 0,
    opened_at                   DATETIME(6)  NULL,
    closed_at                   DATETIME(6)  NULL,
    cancelled_at                DATETIME(6)  NULL,
    cancellation_reason         VARCHAR(500) NULL,
    created_by                  BINARY(16)   NULL,
    created_at                  DATETIME(6)  NOT NULL,
    updated_at                  DATETIME(6)  NOT NULL,
    KEY ix_elections_org_status (organization_id, status),
    UNIQUE KEY uq_elections_org_id (organization_id, id),
    CONSTRAINT fk_elections_org FOREIGN KEY (organization_id) REFERENCES organizations (id),
    CONSTRAINT fk_elections_parent FOREIGN KEY (organization_id, parent_election_id)
        REFERENCES elections (organization_id, id),
    CONSTRAINT ck_elections_percent CHECK (supermajority_percent BETWEEN 51 AND 100),
    CONSTRAINT ck_elections_window CHECK (closes_at IS NULL OR opens_at IS NULL OR closes_at > opens_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE election_positions (
    id                   BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id      BINARY(16)   NOT NULL,
    election_id          BINARY(16)   NOT NULL,
    name                 VARCHAR(100) NOT NULL,
    -- How many are elected (approval and plurality may fill several seats).
    seats                TINYINT UNSIGNED NOT NULL DEFAULT 1,
    -- Set: only holders of this role vote on the position.
    voter_role_id        BINARY(16)   NULL,
    sort_order           SMALLINT     NOT NULL DEFAULT 0,
    -- A tie the chair broke after the close (tie policy chair_decides), and who did.
    decided_candidate_id BINARY(16)   NULL,
    decided_by           BINARY(16)   NULL,
    UNIQUE KEY uq_election_positions_name (election_id, name),
    UNIQUE KEY uq_election_positions_org_id (organization_id, id),
    CONSTRAINT fk_election_positions_election FOREIGN KEY (organization_id, election_id)
        REFERENCES elections (organization_id, id),
    CONSTRAINT fk_election_positions_role FOREIGN KEY (voter_role_id) REFERENCES roles (id),
    CONSTRAINT ck_election_positions_seats CHECK (seats BETWEEN 1 AND 20)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE candidates (
    id              BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id BINARY(16)   NOT NULL,
    election_id     BINARY(16)   NOT NULL,
    position_id     BINARY(16)   NOT NULL,
    -- A member, or (NULL) a named option such as "Admit" on a membership vote.
    user_id         BINARY(16)   NULL,
    name            VARCHAR(150) NOT NULL,
    statement       TEXT         NULL,
    nominated_by    BINARY(16)   NULL,
    -- pending (a nomination the nominee has not answered) | accepted | declined
    status          VARCHAR(12)  NOT NULL,
    display_order   SMALLINT     NOT NULL DEFAULT 0,
    created_at      DATETIME(6)  NOT NULL,
    UNIQUE KEY uq_candidates_member (position_id, user_id),
    UNIQUE KEY uq_candidates_org_id (organization_id, id),
    KEY ix_candidates_election (election_id),
    CONSTRAINT fk_candidates_position FOREIGN KEY (organization_id, position_id)
        REFERENCES election_positions (organization_id, id),
    CONSTRAINT fk_candidates_user FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The roll, frozen when voting opens (one row per member and position they may vote on), and
-- the participation record: `voted_by` says that (and how) they voted, never what or when.
CREATE TABLE election_voters (
    organization_id BINARY(16)  NOT NULL,
    election_id     BINARY(16)  NOT NULL,
    position_id     BINARY(16)  NOT NULL,
    user_id         BINARY(16)  NOT NULL,
    -- NULL: not yet | online | paper
    voted_by        VARCHAR(8)  NULL,
    -- Put on the roll by a secretary's override after it was frozen (audited with the reason).
    added_by_override BOOLEAN   NOT NULL DEFAULT FALSE,
    PRIMARY KEY (election_id, position_id, user_id),
    KEY ix_election_voters_user (organization_id, user_id),
    CONSTRAINT fk_election_voters_position FOREIGN KEY (organization_id, position_id)
        REFERENCES election_positions (organization_id, id),
    CONSTRAINT fk_election_voters_user FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- What was voted, hash-chained per election: chain_hash = SHA-256 over the previous hash and
-- the ballot; the genesis hash comes from the election's id. No member, no time, random ids;
-- a fork (two ballots claiming one predecessor) is refused by the unique key.
CREATE TABLE ballots (
    id              BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id BINARY(16)   NOT NULL,
    election_id     BINARY(16)   NOT NULL,
    position_id     BINARY(16)   NOT NULL,
    -- JSON list of candidate ids: the one choice, the approved ones, or the ranking in order.
    choices         VARCHAR(2000) NOT NULL,
    -- online | paper
    source          VARCHAR(8)   NOT NULL,
    prev_hash       CHAR(64)     NOT NULL,
    chain_hash      CHAR(64)     NOT NULL,
    UNIQUE KEY uq_ballots_chain (election_id, prev_hash),
    KEY ix_ballots_position (position_id),
    CONSTRAINT fk_ballots_position FOREIGN KEY (organization_id, position_id)
        REFERENCES election_positions (organization_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The receipts given with online ballots (SHA-256 of each code), kept apart from the ballots:
-- a receipt says that a ballot for its position was cast and is counted, never which ballot, so
-- a member made to show their receipt shows nothing of their vote. Each position holds as many
-- receipts as online ballots; the count checks it.
CREATE TABLE ballot_receipts (
    receipt_hash    CHAR(64)     NOT NULL PRIMARY KEY,
    organization_id BINARY(16)   NOT NULL,
    election_id     BINARY(16)   NOT NULL,
    position_id     BINARY(16)   NOT NULL,
    KEY ix_ballot_receipts_election (election_id, position_id),
    CONSTRAINT fk_ballot_receipts_position FOREIGN KEY (organization_id, position_id)
        REFERENCES election_positions (organization_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Paper ballots, entered by one officer and attested by another before they count. While a
-- batch waits its ballots are kept here; attested, they join the chain and leave the batch.
CREATE TABLE paper_ballot_batches (
    id              BINARY(16)   NOT NULL PRIMARY KEY,
    organization_id BINARY(16)   NOT NULL,
    election_id     BINARY(16)   NOT NULL,
    -- pending | confirmed | voided
    status          VARCHAR(12)  NOT NULL,
    -- JSON list of the members who handed in paper ballots.
    voter_ids       TEXT         NOT NULL,
    -- JSON list of {position_id, choices} while pending; NULL once decided.
    ballots         MEDIUMTEXT   NULL,
    ballot_count    INT UNSIGNED NOT NULL,
    recorded_by     BINARY(16)   NOT NULL,
    attested_by     BINARY(16)   NULL,
    note            VARCHAR(500) NULL,
    created_at      DATETIME(6)  NOT NULL,
    decided_at      DATETIME(6)  NULL,
    UNIQUE KEY uq_paper_ballot_batches_org_id (organization_id, id),
    KEY ix_paper_ballot_batches_election (election_id),
    CONSTRAINT fk_paper_ballot_batches_election FOREIGN KEY (organization_id, election_id)
        REFERENCES elections (organization_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
