-- Failed sign-ins per account and client address: five from one address lock the account
-- for that address only; users.failed_logins / locked_until now count failures from every
-- address together, against a much higher threshold (see docs/ARCHITECTURE.md).
CREATE TABLE login_failures (
    user_id BIGINT NOT NULL REFERENCES users (id),
    client TEXT NOT NULL,
    failures BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, client)
);
