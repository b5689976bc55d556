-- pg2dolt demo data for PostgreSQL: organizations, users, repositories,
-- memberships, with foreign keys and values that exercise the converter
-- (tabs, newlines, backslashes, quotes, emoji, bytea, arrays, enums, jsonb,
-- time zones). Load into an empty database: psql -v ON_ERROR_STOP=1 -f demo/postgres.sql

CREATE TYPE membership_role AS ENUM ('owner', 'admin', 'member');

CREATE TABLE organizations (
    id          bigint PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    plan        varchar(20) NOT NULL,
    founded     date,
    created_at  timestamptz NOT NULL,
    settings    jsonb
);

CREATE TABLE users (
    id            integer PRIMARY KEY,
    login         varchar(40) NOT NULL UNIQUE,
    display_name  text,
    email         text NOT NULL,
    is_admin      boolean NOT NULL DEFAULT false,
    public_id     uuid NOT NULL,
    avatar        bytea,
    signed_up_at  timestamp NOT NULL,
    last_seen     time
);

CREATE TABLE repositories (
    id               bigint PRIMARY KEY,
    organization_id  bigint NOT NULL REFERENCES organizations (id),
    name             varchar(100) NOT NULL,
    description      text,
    topics           text[] NOT NULL DEFAULT '{}',
    stars            integer NOT NULL DEFAULT 0,
    size_mb          numeric(12,3),
    score            double precision,
    created_at       timestamptz NOT NULL,
    UNIQUE (organization_id, name)
);

CREATE TABLE memberships (
    organization_id  bigint NOT NULL REFERENCES organizations (id),
    user_id          integer NOT NULL REFERENCES users (id),
    role             membership_role NOT NULL,
    joined_on        date NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);

INSERT INTO organizations (id, name, plan, founded, created_at, settings)
SELECT g,
       CASE g WHEN 1 THEN 'Acme "Rockets" Ltd.' WHEN 2 THEN 'Ünïcødé Ørg 🚀' WHEN 3 THEN 'tab	and\backslash' ELSE 'org-' || g END,
       (ARRAY['free', 'team', 'enterprise'])[1 + g % 3],
       CASE WHEN g % 7 = 0 THEN NULL ELSE DATE '2001-01-01' + g * 37 END,
       TIMESTAMPTZ '2020-03-01 08:00:00.123456+02' + g * INTERVAL '1 day 3 hours',
       CASE WHEN g % 5 = 0 THEN NULL ELSE jsonb_build_object('seats', g * 10, 'sso', g % 2 = 0, 'tags', jsonb_build_array('a', 'b"c')) END
FROM generate_series(1, 60) AS g;

INSERT INTO users (id, login, display_name, email, is_admin, public_id, avatar, signed_up_at, last_seen)
SELECT g,
       CASE g WHEN 1 THEN 'Ada' WHEN 2 THEN 'ada' ELSE 'user' || g END,
       CASE g % 6
           WHEN 0 THEN NULL
           WHEN 1 THEN 'Line one' || chr(10) || 'line two'
           WHEN 2 THEN 'O''Brien \N not null'
           WHEN 3 THEN 'crlf' || chr(13) || chr(10) || 'end'
           WHEN 4 THEN 'emoji 😀 and ß'
           ELSE 'User ' || g
       END,
       'user' || g || '@example' || (g % 4) || '.com',
       g % 10 = 0,
       md5(g::text)::uuid,
       CASE WHEN g % 3 = 0 THEN NULL ELSE decode(lpad(to_hex(g * 7919), 8, '0') || '00ff0a09', 'hex') END,
       TIMESTAMP '2019-01-01 00:00:00' + g * INTERVAL '17 hours 3 minutes 1.5 seconds',
       CASE WHEN g % 4 = 0 THEN NULL ELSE TIME '00:00:00' + g * INTERVAL '7 minutes 0.25 seconds' END
FROM generate_series(1, 2000) AS g;

INSERT INTO repositories (id, organization_id, name, description, topics, stars, size_mb, score, created_at)
SELECT g,
       1 + g % 60,
       'repo-' || g,
       CASE g % 5 WHEN 0 THEN NULL WHEN 1 THEN '' WHEN 2 THEN 'Multi' || chr(10) || 'line	tabbed' ELSE 'Repository number ' || g END,
       CASE g % 4 WHEN 0 THEN '{}'::text[] WHEN 1 THEN ARRAY['rust', 'db'] WHEN 2 THEN ARRAY['quote"d', NULL, 'back\slash'] ELSE ARRAY['x'] END,
       g * 3 % 1000,
       CASE WHEN g % 9 = 0 THEN NULL ELSE round((g * 1.2345)::numeric, 3) END,
       CASE WHEN g % 8 = 0 THEN NULL ELSE g / 7.0::double precision END,
       TIMESTAMPTZ '2021-06-01 12:00:00-07' + g * INTERVAL '91 minutes'
FROM generate_series(1, 5000) AS g;

INSERT INTO memberships (organization_id, user_id, role, joined_on)
SELECT 1 + g % 60,
       1 + (g * 7) % 2000,
       (ARRAY['owner', 'admin', 'member'])[1 + g % 3]::membership_role,
       DATE '2022-01-01' + g % 700
FROM generate_series(1, 6000) AS g
ON CONFLICT DO NOTHING;
