-- Foreign keys, after every table exists. pg2dolt loads with
-- FOREIGN_KEY_CHECKS=0 and then runs a no-op delete on every table below so
-- that Dolt resolves these keys.

ALTER TABLE repositories
    ADD CONSTRAINT repositories_organization_fk
    FOREIGN KEY (organization_id) REFERENCES organizations (id);

ALTER TABLE memberships
    ADD CONSTRAINT memberships_organization_fk
    FOREIGN KEY (organization_id) REFERENCES organizations (id);

ALTER TABLE memberships
    ADD CONSTRAINT memberships_user_fk
    FOREIGN KEY (user_id) REFERENCES users (id);
