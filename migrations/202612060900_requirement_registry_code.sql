-- A certification requirement may name the state or national registry code it stands for
-- (features.md §1.3 rule 13): a record meets it when its course's code is that code, or its
-- certification number holds it ("NREMT-123" for code NREMT).
ALTER TABLE training_requirements
    ADD COLUMN registry_code VARCHAR(64) NULL AFTER training_type;
