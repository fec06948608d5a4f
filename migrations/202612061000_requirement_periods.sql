-- Requirement periods features.md lists (§1.3): an annual requirement for one given year, a
-- year of the department's own (a fiscal year from July: start and end month and day), the
-- biannual frequency (no window: the valid certification decides), and a recency (only a
-- record completed within the last N days counts).
ALTER TABLE training_requirements
    ADD COLUMN year               SMALLINT UNSIGNED NULL AFTER rolling_months,
    ADD COLUMN period_start_month TINYINT UNSIGNED  NULL AFTER year,
    ADD COLUMN period_start_day   TINYINT UNSIGNED  NULL AFTER period_start_month,
    ADD COLUMN period_end_month   TINYINT UNSIGNED  NULL AFTER period_start_day,
    ADD COLUMN period_end_day     TINYINT UNSIGNED  NULL AFTER period_end_month,
    ADD COLUMN recency_days       SMALLINT UNSIGNED NULL AFTER period_end_day,
    ADD CONSTRAINT ck_training_requirements_year CHECK (year IS NULL OR year BETWEEN 2000 AND 2100),
    ADD CONSTRAINT ck_training_requirements_start CHECK ((period_start_month IS NULL) = (period_start_day IS NULL)),
    ADD CONSTRAINT ck_training_requirements_end CHECK ((period_end_month IS NULL) = (period_end_day IS NULL)),
    ADD CONSTRAINT ck_training_requirements_recency CHECK (recency_days IS NULL OR recency_days BETWEEN 1 AND 3650);

ALTER TABLE training_requirements DROP CONSTRAINT ck_training_requirements_period;
ALTER TABLE training_requirements
    ADD CONSTRAINT ck_training_requirements_period
        CHECK (period IN ('annual', 'quarterly', 'monthly', 'rolling', 'one_time', 'biannual'));
