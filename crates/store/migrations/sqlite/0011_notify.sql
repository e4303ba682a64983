-- Notifications, supervision and announcements.
--
-- `notifications` is the outbox: a change that needs someone writes one row here in its own
-- transaction (with a `notify.dispatch` job), and the job turns it into inbox entries and
-- deliveries by the recipient rules. Nothing is sent from a request.
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event TEXT NOT NULL,
    object_kind TEXT NOT NULL,
    object_id BIGINT NOT NULL,
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    actor_id BIGINT REFERENCES users (id),
    user_id BIGINT REFERENCES users (id),
    args TEXT NOT NULL,
    urgent SMALLINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    dispatched_at BIGINT
);
CREATE INDEX notifications_object ON notifications (object_kind, object_id);

-- The in-app inbox. Identical unread events on one object within the grouping window
-- bump `count` and `updated_at` instead of adding a row.
CREATE TABLE inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    notification_id BIGINT NOT NULL REFERENCES notifications (id),
    event TEXT NOT NULL,
    object_kind TEXT NOT NULL,
    object_id BIGINT NOT NULL,
    args TEXT NOT NULL,
    urgent SMALLINT NOT NULL DEFAULT 0,
    count BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    read_at BIGINT
);
CREATE INDEX inbox_user ON inbox (user_id, read_at, id);
CREATE INDEX inbox_group ON inbox (user_id, event, object_kind, object_id, read_at);

-- An org's delivery channels (WeCom, DingTalk, Feishu robots, a webhook, a mailbox).
-- The secret is written, never read back to a page or the API.
CREATE TABLE channels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    kind TEXT NOT NULL CHECK (kind IN ('email', 'wecom', 'dingtalk', 'feishu', 'webhook')),
    name TEXT NOT NULL,
    target TEXT NOT NULL,
    secret TEXT,
    events TEXT NOT NULL,
    enabled SMALLINT NOT NULL DEFAULT 1,
    created_by BIGINT REFERENCES users (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    last_ok_at BIGINT,
    last_error TEXT,
    last_error_at BIGINT,
    failures BIGINT NOT NULL DEFAULT 0,
    removed_at BIGINT
);
CREATE INDEX channels_org ON channels (org_id);

-- What a user wants: an email address, quiet hours (minutes of the day, local time; a
-- start after the end spans midnight) and per event whether it goes by email and whether
-- low-priority ones wait for the daily digest.
CREATE TABLE notification_prefs (
    user_id BIGINT PRIMARY KEY REFERENCES users (id),
    email TEXT,
    quiet_start BIGINT,
    quiet_end BIGINT,
    events TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One message to one channel or one user's mailbox. States: pending (a deliver job is
-- queued), held (waiting for the digest), sent, dead (out of attempts).
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id BIGINT NOT NULL REFERENCES notifications (id),
    channel_id BIGINT REFERENCES channels (id),
    user_id BIGINT REFERENCES users (id),
    state TEXT NOT NULL CHECK (state IN ('pending', 'held', 'sent', 'dead', 'digested')),
    attempts BIGINT NOT NULL DEFAULT 0,
    last_status BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX deliveries_notification ON deliveries (notification_id);
CREATE INDEX deliveries_held ON deliveries (state, user_id);
CREATE INDEX deliveries_channel ON deliveries (channel_id, id);

-- Every attempt of a delivery: when, whether it worked, the answer's status, the error.
CREATE TABLE delivery_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id BIGINT NOT NULL REFERENCES deliveries (id),
    at BIGINT NOT NULL,
    ok SMALLINT NOT NULL,
    status BIGINT,
    error TEXT,
    node TEXT NOT NULL
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, id);

-- Supervision items: a rung of the ladder (reminder, notice, warning, interview,
-- accountability) issued by the bureau or a centre to a school, with a document, a
-- required response by `deadline`, and a state: open, responded, accepted, returned,
-- escalated (overdue: a new item on the next rung replaced it).
CREATE TABLE supervision_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    number TEXT NOT NULL UNIQUE,
    school_id BIGINT NOT NULL REFERENCES orgs (id),
    issuer_org_id BIGINT NOT NULL REFERENCES orgs (id),
    rung TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    hazard_id BIGINT REFERENCES hazards (id),
    deadline TEXT NOT NULL,
    state TEXT NOT NULL,
    circular SMALLINT NOT NULL DEFAULT 0,
    escalated_from BIGINT REFERENCES supervision_items (id),
    issued_by BIGINT REFERENCES users (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX supervision_school ON supervision_items (school_id, id);
CREATE INDEX supervision_due ON supervision_items (state, deadline);

CREATE TABLE supervision_counters (
    issuer_org_id BIGINT NOT NULL,
    year BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (issuer_org_id, year)
);

-- What happened to an item (issue, respond, accept, return, escalate), append-only.
CREATE TABLE supervision_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id BIGINT NOT NULL REFERENCES supervision_items (id),
    at BIGINT NOT NULL,
    actor_id BIGINT REFERENCES users (id),
    actor_login TEXT NOT NULL,
    action TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    note TEXT NOT NULL
);
CREATE INDEX supervision_events_item ON supervision_events (item_id, id);
CREATE TRIGGER supervision_events_no_update BEFORE UPDATE ON supervision_events
BEGIN
    SELECT RAISE(ABORT, 'supervision_events is append-only');
END;
CREATE TRIGGER supervision_events_no_delete BEFORE DELETE ON supervision_events
BEGIN
    SELECT RAISE(ABORT, 'supervision_events is append-only');
END;

CREATE TABLE supervision_attachments (
    event_id BIGINT NOT NULL REFERENCES supervision_events (id),
    attachment_id BIGINT NOT NULL REFERENCES attachments (id),
    PRIMARY KEY (event_id, attachment_id)
);
CREATE INDEX supervision_attachments_attachment ON supervision_attachments (attachment_id);

-- The editable document templates, per issuing org and rung ({{placeholders}}).
CREATE TABLE supervision_templates (
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    rung TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_by BIGINT REFERENCES users (id),
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, rung)
);

-- Announcements from the bureau or a centre, and each recipient's acknowledgement.
CREATE TABLE announcements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    roles TEXT NOT NULL,
    supervision_id BIGINT REFERENCES supervision_items (id),
    created_by BIGINT REFERENCES users (id),
    created_at BIGINT NOT NULL
);
CREATE TABLE announcement_recipients (
    announcement_id BIGINT NOT NULL REFERENCES announcements (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    read_at BIGINT,
    PRIMARY KEY (announcement_id, user_id)
);
CREATE INDEX announcement_recipients_user ON announcement_recipients (user_id, announcement_id);
