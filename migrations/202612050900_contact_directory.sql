-- The contact directory: members see each other's email and phone unless the department keeps
-- them to officers (organizations.settings.contact_directory), and a member may keep their own
-- phone number to officers.
ALTER TABLE users
    ADD COLUMN hide_phone BOOLEAN NOT NULL DEFAULT FALSE AFTER phone;
