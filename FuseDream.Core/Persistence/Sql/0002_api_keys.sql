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

-- The outbox of webhook events: one row per event to deliver, written by the trigger below in
-- the same transaction as the status change, so no event is lost between the two. The API's
-- dispatcher hands each row to a Hangfire job (job_id) on the webhooks queue; attempts and the
-- last answer are the owner's delivery log.
create table fusedream.webhook_deliveries (
    id             uuid primary key,
    generation_id  uuid not null references fusedream.generations (id) on delete cascade,
    event          text not null check (event in ('start', 'progress', 'completed')),
    payload        jsonb not null,
    status         text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
    attempts       integer not null default 0,
    last_status    integer,
    last_error     text,
    job_id         text,
    dispatched_at  timestamptz,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now()
);
create index webhook_deliveries_generation on fusedream.webhook_deliveries (generation_id, created_at);
create index webhook_deliveries_undispatched on fusedream.webhook_deliveries (created_at) where job_id is null;

-- What a receiver learns of the generation at the event.
create function fusedream.webhook_payload(g fusedream.generations) returns jsonb
language sql stable as $$
    select jsonb_strip_nulls(jsonb_build_object(
        'id', g.id, 'status', g.status, 'prompt', g.prompt, 'model', g.model, 'seed', g.seed,
        'createdAt', g.created_at, 'startedAt', g.started_at, 'finishedAt', g.finished_at,
        'progress', case when g.phase is not null then jsonb_build_object('phase', g.phase, 'step', g.step, 'total', g.total, 'augClip', g.aug_clip) end,
        'score', g.score, 'error', g.error))
$$;

-- start: the first claim (queued → running, never started before); completed: any finish;
-- progress: a new progress write while running, folded into the one not yet dispatched.
create function fusedream.queue_webhook() returns trigger
language plpgsql as $$
declare
    ev text;
begin
    if new.webhook_url is null then
        return new;
    end if;
    if new.status = 'running' and old.status = 'queued' and old.started_at is null then
        ev := 'start';
    elsif new.status in ('succeeded', 'failed', 'canceled') and old.status not in ('succeeded', 'failed', 'canceled') then
        ev := 'completed';
    elsif new.status = 'running' and new.progress_at is not null and new.progress_at is distinct from old.progress_at then
        ev := 'progress';
    else
        return new;
    end if;
    if not (ev = any(new.webhook_events)) then
        return new;
    end if;
    if ev = 'progress' then
        update fusedream.webhook_deliveries set payload = fusedream.webhook_payload(new), updated_at = now()
        where generation_id = new.id and event = 'progress' and job_id is null;
        if found then
            return new;
        end if;
    end if;
    insert into fusedream.webhook_deliveries (id, generation_id, event, payload)
    values (gen_random_uuid(), new.id, ev, fusedream.webhook_payload(new));
    return new;
end
$$;

create trigger generations_webhooks after update on fusedream.generations
    for each row execute function fusedream.queue_webhook();
