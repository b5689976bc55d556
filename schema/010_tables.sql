-- pg2dolt demo schema: the target tables, written by hand on purpose.
-- Postgres types carry no lengths or collations, so every VARCHAR length and
-- the case-sensitive collation (utf8mb4_bin, like Postgres) is a decision.
-- Foreign keys come in 020_foreign_keys.sql, after the tables.

CREATE TABLE organizations (
    id          BIGINT        NOT NULL,
    name        VARCHAR(100)  NOT NULL,
    -- quoted: PLAN is a keyword in Dolt's parser (not in MySQL's)
    `plan`      VARCHAR(20)   NOT NULL,
    founded     DATE          NULL,
    created_at  DATETIME(6)   NOT NULL,
    settings    JSON          NULL,
    PRIMARY KEY (id),
    UNIQUE KEY organizations_name (name)
) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE users (
    id            INT           NOT NULL,
    login         VARCHAR(40)   NOT NULL,
    display_name  VARCHAR(200)  NULL,
    email         VARCHAR(320)  NOT NULL,
    -- computed by the target; pg2dolt skips generated columns
    email_domain  VARCHAR(320)  AS (SUBSTRING_INDEX(email, '@', -1)) STORED,
    is_admin      TINYINT(1)    NOT NULL DEFAULT 0,
    public_id     CHAR(36)      NOT NULL,
    avatar        BLOB          NULL,
    signed_up_at  DATETIME(6)   NOT NULL,
    last_seen     TIME(6)       NULL,
    PRIMARY KEY (id),
    UNIQUE KEY users_login (login)
) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE repositories (
    id               BIGINT         NOT NULL,
    organization_id  BIGINT         NOT NULL,
    name             VARCHAR(100)   NOT NULL,
    description      TEXT           NULL,
    topics           JSON           NOT NULL,
    stars            INT            NOT NULL DEFAULT 0,
    size_mb          DECIMAL(12,3)  NULL,
    score            DOUBLE         NULL,
    created_at       DATETIME(6)    NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY repositories_org_name (organization_id, name)
) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE memberships (
    organization_id  BIGINT                            NOT NULL,
    user_id          INT                               NOT NULL,
    role             ENUM('owner', 'admin', 'member')  NOT NULL,
    joined_on        DATE                              NOT NULL,
    PRIMARY KEY (organization_id, user_id),
    KEY memberships_user (user_id)
) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
