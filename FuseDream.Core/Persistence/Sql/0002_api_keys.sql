-- API keys, the owner of each generation, and signed webhooks.
--
-- A key is `fd_<id>_<secret>`: the id is public (it names the key in logs, lists and the
-- generations it owns); only the SHA-256 of the secret is stored, so this table never holds
-- a usable key. The webhook secret signs deliveries and must be readable to do so.
create table fusedream.api_keys (
    id              text primary key,
    name            text not null,
    secret_sha256   bytea not null check (length(secret_sha256) = 32),
    scopes          text[] not null check (scopes <@ array['generate', 'read', 'admin']::text[] and cardinality(scopes) > 0),
    webhook_secret  text not null,
    created_at      timestamptz not null default now(),
    expires_at      timestamptz,
    revoked_at      timestamptz
);

-- Null: submitted without a key (the command line's `submit`, rows from before keys).
alter table fusedream.generations add column owner_key_id text references fusedream.api_keys (id);
create index generations_owner_seq on fusedream.generations (owner_key_id, seq);

-- Idempotency keys are scoped per API key: the same Idempotency-Key from two keys is two generations.
alter table fusedream.generations drop constraint generations_idempotency_key_key;
create unique index generations_owner_idempotency_key
    on fusedream.generations (coalesce(owner_key_id, ''), idempotency_key) where idempotency_key is not null;

-- A generation's webhook: where to deliver and which events.
alter table fusedream.generations add column webhook_url text;
alter table fusedream.generations add column webhook_events text[];

-- One row per delivery of one event; attempts and the last answer, for the owner to read.
create table fusedream.webhook_deliveries (
    id             uuid primary key,
    generation_id  uuid not null references fusedream.generations (id) on delete cascade,
    event          text not null check (event in ('start', 'progress', 'completed')),
    status         text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
    attempts       integer not null default 0,
    last_status    integer,
    last_error     text,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now()
);
create index webhook_deliveries_generation on fusedream.webhook_deliveries (generation_id, created_at);
