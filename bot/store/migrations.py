"""Numbered schema migrations, applied in order inside one transaction each and recorded in `migrations`.

Never edit a migration that has shipped: add a new one.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "initial schema",
        """
        CREATE TABLE schools (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL
        );
        INSERT INTO schools (id, name) VALUES ('default', 'Our school');

        CREATE TABLE conversations (
            key TEXT PRIMARY KEY,
            school_id TEXT NOT NULL REFERENCES schools(id),
            user TEXT NOT NULL,
            state TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX conversations_updated ON conversations(updated_at);

        CREATE TABLE handled_turns (
            turn_id TEXT PRIMARY KEY,
            school_id TEXT NOT NULL,
            handled_at TEXT NOT NULL
        );

        CREATE TABLE staff (
            school_id TEXT NOT NULL REFERENCES schools(id),
            user TEXT NOT NULL,
            role TEXT NOT NULL,
            name TEXT NOT NULL,
            PRIMARY KEY (school_id, user)
        );

        CREATE TABLE reference_sequences (
            school_id TEXT NOT NULL,
            year INTEGER NOT NULL,
            last INTEGER NOT NULL,
            PRIMARY KEY (school_id, year)
        );

        CREATE TABLE cases (
            id TEXT PRIMARY KEY,
            school_id TEXT NOT NULL REFERENCES schools(id),
            reference TEXT NOT NULL,
            draft_id TEXT NOT NULL UNIQUE,
            status TEXT NOT NULL,
            urgent INTEGER NOT NULL,
            categories TEXT NOT NULL,
            reporter TEXT NOT NULL,
            answers TEXT NOT NULL,
            routed_to TEXT NOT NULL,
            excluded TEXT NOT NULL,
            content_version TEXT NOT NULL,
            outcome TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (school_id, reference)
        );
        CREATE INDEX cases_reporter ON cases(school_id, reporter);

        -- Who each case is routed to, for "my open cases" without scanning JSON.
        CREATE TABLE case_routes (
            case_id TEXT NOT NULL REFERENCES cases(id),
            school_id TEXT NOT NULL,
            user TEXT NOT NULL,
            PRIMARY KEY (case_id, user)
        );
        CREATE INDEX case_routes_user ON case_routes(school_id, user);

        -- Append-only: who did what to a case, and when.
        CREATE TABLE case_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            case_id TEXT NOT NULL,
            school_id TEXT NOT NULL,
            actor TEXT NOT NULL,
            kind TEXT NOT NULL,
            detail TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX case_events_case ON case_events(case_id, id);
        CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events
            BEGIN SELECT RAISE(ABORT, 'case events are append-only'); END;
        CREATE TRIGGER case_events_no_delete BEFORE DELETE ON case_events
            BEGIN SELECT RAISE(ABORT, 'case events are append-only'); END;

        CREATE TABLE evidence (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            case_id TEXT NOT NULL REFERENCES cases(id),
            school_id TEXT NOT NULL,
            name TEXT NOT NULL,
            ref TEXT NOT NULL,
            content_type TEXT,
            size INTEGER,
            sha256 TEXT,
            added_by TEXT NOT NULL,
            added_at TEXT NOT NULL
        );
        CREATE INDEX evidence_case ON evidence(case_id);

        CREATE TABLE outbox (
            id TEXT PRIMARY KEY,
            school_id TEXT NOT NULL,
            recipient TEXT NOT NULL,
            case_id TEXT,
            replies TEXT NOT NULL,
            created_at TEXT NOT NULL,
            delivered_at TEXT
        );
        CREATE INDEX outbox_pending ON outbox(school_id, recipient, delivered_at);

        CREATE TABLE reminders (
            id TEXT PRIMARY KEY,
            school_id TEXT NOT NULL,
            recipient TEXT NOT NULL,
            kind TEXT NOT NULL,
            due_at TEXT NOT NULL,
            detail TEXT NOT NULL,
            sent_at TEXT
        );
        CREATE INDEX reminders_due ON reminders(sent_at, due_at);

        CREATE TABLE privacy_checks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            school_id TEXT NOT NULL,
            user TEXT NOT NULL,
            platforms TEXT NOT NULL,
            done TEXT NOT NULL,
            skipped TEXT NOT NULL,
            completed_at TEXT NOT NULL
        );
        """,
    ),
    (
        2,
        "notification kinds and where case cards were posted",
        """
        ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'message';
        CREATE INDEX outbox_undelivered ON outbox(delivered_at, created_at);

        -- Where a case card was shown to someone, so it can be updated in place as the case changes.
        CREATE TABLE card_posts (
            school_id TEXT NOT NULL,
            reference TEXT NOT NULL,
            recipient TEXT NOT NULL,
            channel TEXT NOT NULL,
            message_id TEXT NOT NULL,
            PRIMARY KEY (school_id, reference, recipient, channel, message_id)
        );
        """,
    ),
    (
        3,
        "conversation references, to reach people proactively",
        """
        -- Where to reach someone on a platform that only allows messages into a conversation they have
        -- opened (Teams): the platform's conversation reference, kept when they first talk to the bot.
        CREATE TABLE conversation_refs (
            school_id TEXT NOT NULL,
            user TEXT NOT NULL,
            platform TEXT NOT NULL,
            reference TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (school_id, user)
        );
        CREATE INDEX conversation_refs_platform ON conversation_refs(school_id, platform);
        """,
    ),
    (
        4,
        "a hash chain over each case's events, so that the log is tamper-evident",
        """
        -- Each event stores the hash of the case's previous event and its own: SHA-256 over a canonical JSON
        -- of case_id, actor, kind, detail, at and prev_hash (see Store.event_hash). The store computes both
        -- in the same write transaction as the insert; `cases verify` recomputes the chain.
        -- Events written before this migration keep NULL hashes: SQL alone cannot compute SHA-256. They are
        -- sealed when the case gets its next event, whose prev_hash is then the hash those earlier events
        -- would have chained to; `cases verify` reports a case whose events are all older as not yet sealed.
        -- (Adding a column is not an UPDATE, so the append-only triggers of migration 1 still hold.)
        ALTER TABLE case_events ADD COLUMN prev_hash TEXT;
        ALTER TABLE case_events ADD COLUMN hash TEXT;
        -- The hash of each case's latest event, so that removing the last events is noticed too.
        ALTER TABLE cases ADD COLUMN events_head TEXT;
        """,
    ),
    (
        5,
        "reminders and escalation sent, each exactly once",
        """
        -- One row for each reminder or escalation the scheduler has sent about a case, by a key naming what it
        -- is about (the case, and for platform follow-ups the report event). It is inserted in the same write
        -- transaction as the notifications and the case event, so two server processes sharing the database
        -- never send one twice. (Stored reminders, such as privacy checks, are claimed by setting sent_at.)
        CREATE TABLE sent_reminders (
            key TEXT PRIMARY KEY,
            school_id TEXT NOT NULL,
            case_id TEXT,
            kind TEXT NOT NULL,
            sent_at TEXT NOT NULL
        );
        CREATE INDEX sent_reminders_case ON sent_reminders(case_id);
        """,
    ),
    (
        6,
        "retention: purging closed cases, leaving a tombstone",
        """
        -- A case being purged is marked first, inside the purge's own transaction; only then may its events be
        -- deleted. Only a closed case can be marked, and a marked case cannot be reopened.
        ALTER TABLE cases ADD COLUMN purging INTEGER NOT NULL DEFAULT 0;
        CREATE TRIGGER cases_purge_only_closed BEFORE UPDATE OF purging ON cases
            WHEN NEW.purging != 0 AND NEW.status != 'closed'
            BEGIN SELECT RAISE(ABORT, 'only a closed case can be purged'); END;
        CREATE TRIGGER cases_purging_stays_closed BEFORE UPDATE OF status ON cases
            WHEN OLD.purging != 0 AND NEW.status != 'closed'
            BEGIN SELECT RAISE(ABORT, 'a case being purged cannot be reopened'); END;

        -- What is left of a purged case: when and why it went, never what it said. Append-only.
        CREATE TABLE case_tombstones (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            school_id TEXT NOT NULL,
            reference TEXT NOT NULL,
            categories TEXT NOT NULL,
            created_at TEXT NOT NULL,
            closed_at TEXT,
            purged_at TEXT NOT NULL,
            purged_by TEXT NOT NULL,
            policy TEXT NOT NULL,
            events_removed INTEGER NOT NULL,
            last_event_hash TEXT,
            removed TEXT NOT NULL,
            UNIQUE (school_id, reference)
        );
        CREATE TRIGGER case_tombstones_no_update BEFORE UPDATE ON case_tombstones
            BEGIN SELECT RAISE(ABORT, 'tombstones are permanent'); END;
        CREATE TRIGGER case_tombstones_no_delete BEFORE DELETE ON case_tombstones
            BEGIN SELECT RAISE(ABORT, 'tombstones are permanent'); END;

        -- Events stay append-only: a DELETE aborts unless its case exists, is closed and is marked for purging.
        DROP TRIGGER IF EXISTS case_events_no_delete;
        CREATE TRIGGER case_events_no_delete BEFORE DELETE ON case_events
            WHEN NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = OLD.case_id AND c.purging != 0 AND c.status = 'closed')
            BEGIN SELECT RAISE(ABORT, 'case events are append-only'); END;

        -- A case row goes only in a purge that has already written its tombstone.
        CREATE TRIGGER cases_delete_only_by_purge BEFORE DELETE ON cases
            WHEN OLD.purging = 0 OR NOT EXISTS (
                SELECT 1 FROM case_tombstones t WHERE t.school_id = OLD.school_id AND t.reference = OLD.reference)
            BEGIN SELECT RAISE(ABORT, 'a case is deleted only by a purge that leaves a tombstone'); END;
        """,
    ),
    (
        7,
        "indexes for scale: open cases without reading a school's whole history",
        """
        -- A DSL's open cases, and the scheduler's look at every open case each half-minute, read all of the
        -- school's cases (through cases_reporter) to keep the few still open, then sorted them: 300 ms at
        -- 100,000 cases (bench/store_scale.py). This index holds only the open cases, in the order they are
        -- listed, so those reads cost the same however long the history. (Its WHERE matches the store's query
        -- text `status != 'closed'` exactly, which is what lets SQLite use a partial index.)
        CREATE INDEX cases_open ON cases(school_id, urgent DESC, created_at) WHERE status != 'closed';
        """,
    ),
    (
        8,
        "notifications leased to one sender at a time",
        """
        -- A sender leases the undelivered notifications it is about to push (Store.claim_notifications), so
        -- two processes pushing to one platform never send one twice, and a notification whose sender died
        -- mid-send is offered again once the lease has run out. Seconds since the epoch; NULL: never leased.
        ALTER TABLE outbox ADD COLUMN leased_until REAL;
        """,
    ),
    (
        9,
        "schools as tenants, and early warning across schools",
        """
        -- A deployment serves many schools (bot/schools.py), and above them an authority or trust: a school
        -- record of kind 'authority' holds its safeguarding team. The `default` school of migration 1 stays.
        ALTER TABLE schools ADD COLUMN kind TEXT NOT NULL DEFAULT 'school' CHECK (kind IN ('school', 'authority'));
        ALTER TABLE schools ADD COLUMN reference_prefix TEXT;
        ALTER TABLE schools ADD COLUMN content_dir TEXT;

        -- Where each school's staff talk to the bot: a Slack workspace (team id) or a Microsoft 365 tenant. A
        -- trust may share one workspace among several schools, so the key includes the school.
        CREATE TABLE school_workspaces (
            platform TEXT NOT NULL,
            workspace_id TEXT NOT NULL,
            school_id TEXT NOT NULL REFERENCES schools(id) ON DELETE CASCADE,
            PRIMARY KEY (platform, workspace_id, school_id)
        );
        CREATE INDEX school_workspaces_school ON school_workspaces(school_id);

        -- Early warning (bot/early_warning.py): the accounts each case named, normalised, and their naming
        -- pattern; nothing about the reporter or the case. Purged with the case. seen_at is in UTC, so that
        -- the text's order is the time's.
        CREATE TABLE account_sightings (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            school_id TEXT NOT NULL REFERENCES schools(id),
            case_id TEXT NOT NULL REFERENCES cases(id),
            account TEXT NOT NULL,
            pattern TEXT,
            platform TEXT,
            seen_at TEXT NOT NULL
        );
        CREATE INDEX account_sightings_seen ON account_sightings(seen_at);
        CREATE INDEX account_sightings_case ON account_sightings(case_id);

        -- Each early-warning alert sent, by key, so that it is sent once within its window whichever process
        -- saw the report that completed it (Store.claim_alert). sent_at in UTC.
        CREATE TABLE sent_alerts (
            key TEXT NOT NULL,
            sent_at TEXT NOT NULL,
            PRIMARY KEY (key, sent_at)
        );
        """,
    ),
    (
        10,
        "Slack installations for many workspaces",
        """
        -- Bolt's OAuth install flow, one row per workspace (or per Enterprise Grid organisation, team_id ''
        -- for an org-wide install). `data` is the installation as the caller encrypted it: the store never
        -- holds a token in clear.
        CREATE TABLE slack_installations (
            enterprise_id TEXT NOT NULL DEFAULT '',
            team_id TEXT NOT NULL DEFAULT '',
            data BLOB NOT NULL,
            installed_at TEXT NOT NULL,
            PRIMARY KEY (enterprise_id, team_id)
        );

        -- OAuth state parameters issued and not yet used; each is consumed once. Seconds since the epoch.
        CREATE TABLE oauth_states (
            state TEXT PRIMARY KEY,
            expires_at REAL NOT NULL
        );
        """,
    ),
    (
        11,
        "display names of the people the bot has talked to",
        """
        -- The name each platform gives a person (Teams' from.name, Slack's users.info), so that cards and alerts
        -- name people who are not in the staff directory instead of showing a platform id.
        CREATE TABLE people (
            school_id TEXT NOT NULL,
            user TEXT NOT NULL,
            display_name TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (school_id, user)
        );
        """,
    ),
    (
        12,
        "notifications sent about a report draft before its case existed",
        """
        -- The images guardrail alerts the DSLs before the report is sent, so its alert has no case id yet; it
        -- carries the report's draft id instead, so that a purge of that case removes it (by id, never by
        -- searching text for the reference: text that mentions a case belongs to whoever wrote it).
        ALTER TABLE outbox ADD COLUMN draft_id TEXT;
        CREATE INDEX outbox_draft ON outbox(draft_id) WHERE draft_id IS NOT NULL;
        """,
    ),
    (
        13,
        "the inbox: input kept before it is acknowledged",
        """
        -- The inbox (Store.keep_input): each request from Slack, as it arrived, written before Slack is told it
        -- arrived, and deleted once its turn is saved; one whose process died is processed again (at start, or
        -- by the next delivery round) once its lease (seconds since the epoch) runs out. It holds what people
        -- typed, for seconds: never logged, never kept after it is processed.
        CREATE TABLE inbox (
            id TEXT PRIMARY KEY,
            platform TEXT NOT NULL,
            body TEXT NOT NULL,
            content_type TEXT NOT NULL,
            received_at TEXT NOT NULL,
            leased_until REAL NOT NULL
        );
        CREATE INDEX inbox_waiting ON inbox(platform, leased_until);
        """,
    ),
    (
        14,
        "several roles per person in the staff directory",
        """
        -- Every role a person holds, as a JSON list (the head may also be the DSL); `role` keeps the main one.
        ALTER TABLE staff ADD COLUMN roles TEXT NOT NULL DEFAULT '[]';
        UPDATE staff SET roles = '["' || role || '"]';
        """,
    ),
    (
        15,
        "each school's nation",
        """
        -- The UK nation whose statutory guidance a school follows (bot/nations.py); existing schools are in England.
        ALTER TABLE schools ADD COLUMN nation TEXT NOT NULL DEFAULT 'england';
        """,
    ),
    (
        16,
        "notifications that can never be delivered, and people who cannot be reached",
        """
        -- Why the platform refused a notification for good (blocked, conversation gone, too big): it is no
        -- longer pushed, and the case's other handlers are told.
        ALTER TABLE outbox ADD COLUMN failure TEXT;
        -- Why someone cannot be reached where their reference points (they blocked the bot, the chat is gone):
        -- cleared when they next write to the bot.
        ALTER TABLE conversation_refs ADD COLUMN failure TEXT;
        """,
    ),
    (
        17,
        "Early warning looks sightings up by key; refusals counted per person, case and day",
        """
        -- Variants of one naming pattern share a key (bot/early_warning.py), so a new case finds the sightings it
        -- joins by index lookups. Sightings stored before this have no key: they match by account only.
        ALTER TABLE account_sightings ADD COLUMN pattern_key TEXT;
        CREATE INDEX account_sightings_account ON account_sightings(account, seen_at);
        CREATE INDEX account_sightings_pattern_key ON account_sightings(pattern_key, seen_at);

        -- Case actions refused, counted per person, case and UTC day: only the first of each day is an event in
        -- the case's record. case_id '' counts a person's tries of references that do not exist, so that a try
        -- costs the same whether or not the case exists. Purged with the case.
        CREATE TABLE access_refusals (
            school_id TEXT NOT NULL,
            case_id TEXT NOT NULL,
            actor TEXT NOT NULL,
            day TEXT NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (case_id, school_id, actor, day)
        );
        """,
    ),
    (
        18,
        "pruning handled turns and delivered notifications",
        """
        -- Pruning (bot/retention.py, `prune_expired`) reads turns and delivered notifications by time.
        CREATE INDEX handled_turns_at ON handled_turns(handled_at);
        CREATE INDEX outbox_delivered ON outbox(delivered_at) WHERE delivered_at IS NOT NULL;
        """,
    ),
    (
        19,
        "the purge's mark only after the tombstone, and for good",
        """
        -- The purge alone may mark a case for purging (which lets its events be deleted): only once the case's
        -- tombstone, which is permanent, has been written, and a mark is never taken off. Someone who marks a
        -- case to cut its log short leaves a tombstone for a case still there, for good.
        CREATE TRIGGER cases_purge_needs_tombstone BEFORE UPDATE OF purging ON cases
            WHEN NEW.purging != 0 AND OLD.purging = 0 AND NOT EXISTS (
                SELECT 1 FROM case_tombstones t WHERE t.school_id = NEW.school_id AND t.reference = NEW.reference)
            BEGIN SELECT RAISE(ABORT, 'a case is marked for purging only by the purge, after its tombstone'); END;
        CREATE TRIGGER cases_purging_is_one_way BEFORE UPDATE OF purging ON cases
            WHEN OLD.purging != 0 AND NEW.purging = 0
            BEGIN SELECT RAISE(ABORT, 'a case marked for purging stays marked'); END;
        """,
    ),
    (
        20,
        "the record key: events sealed with HMAC",
        """
        -- The record key (bot/store/record_key.py): events are sealed with HMAC-SHA256 under a key kept outside
        -- the database. `keyed` says which events are (0: SHA-256, written before the key). The one row of
        -- record_key holds the key's fingerprint and the last event id written before it (legacy_until), with
        -- an HMAC over both (seal) so that neither can be changed without the key.
        ALTER TABLE case_events ADD COLUMN keyed INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE record_key (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            fingerprint TEXT NOT NULL,
            legacy_until INTEGER NOT NULL,
            since TEXT NOT NULL,
            seal TEXT NOT NULL
        );
        CREATE TRIGGER record_key_no_update BEFORE UPDATE ON record_key
            BEGIN SELECT RAISE(ABORT, 'the record key is set once'); END;
        CREATE TRIGGER record_key_no_delete BEFORE DELETE ON record_key
            BEGIN SELECT RAISE(ABORT, 'the record key is set once'); END;
        """,
    ),
    (
        21,
        "the morning digest: who has turned it off, and which were sent",
        """
        -- The morning digest (bot/digest.py) goes to each case handler once per school day. Those who turned it
        -- off are listed here (no row: it is on). A digest sent is kept by recipient and day, so two processes
        -- never send one twice; it names no case.
        CREATE TABLE digest_opt_outs (
            school_id TEXT NOT NULL,
            recipient TEXT NOT NULL,
            since TEXT NOT NULL,
            PRIMARY KEY (school_id, recipient)
        );
        CREATE TABLE sent_digests (
            school_id TEXT NOT NULL,
            recipient TEXT NOT NULL,
            day TEXT NOT NULL,
            sent_at TEXT NOT NULL,
            PRIMARY KEY (school_id, day, recipient)
        );
        """,
    ),
]
